"""Shared vocabularies: the digital-source-type table and the vendor table (data files in
``detectors/data``), loaded once, used by the C2PA and the metadata detectors alike."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

_DST_PREFIXES = (
    "http://cv.iptc.org/newscodes/digitalsourcetype/",
    "https://cv.iptc.org/newscodes/digitalsourcetype/",
    "http://c2pa.org/digitalsourcetype/",
    "https://c2pa.org/digitalsourcetype/",
    "digsrctype:",
    "c2pa.",
)


def _load(name: str) -> dict[str, Any]:
    return tomllib.loads(resources.files("detectors.data").joinpath(name).read_text("utf-8"))


@dataclass(frozen=True)
class SourceType:
    term: str
    verdict: str  # "ai" | "review" | "none"
    label: str
    raw: str


@cache
def _dst_table() -> tuple[str, dict[str, tuple[str, str, str]]]:
    data = _load("digital_source_types.toml")
    terms = {k.lower(): (k, v["verdict"], v["label"]) for k, v in data["terms"].items()}
    return data["version"], terms


def judge_source_type(value: object) -> SourceType | None:
    """Judge a digitalSourceType value by the term at the end of the URI.

    Accepts http/https IPTC and C2PA URIs, QCodes (``digsrctype:x``), the old ``c2pa.x`` form,
    bare aliases, stray whitespace and schema.org's ``XDigitalSource`` spelling. Returns None
    for values that are not a known term (the caller may still report them as unknown).
    """
    if not isinstance(value, str):
        return None
    raw = value
    v = value.strip()
    low = v.lower()
    for prefix in _DST_PREFIXES:
        if low.startswith(prefix):
            v = v[len(prefix):]
            break
    else:
        if "/" in v:
            v = v.rstrip("/").rsplit("/", 1)[-1]
    v = v.strip()
    if v.lower().endswith("digitalsource") and len(v) > len("digitalsource"):
        v = v[: -len("digitalsource")]  # schema.org TrainedAlgorithmicMediaDigitalSource
    _, terms = _dst_table()
    hit = terms.get(v.lower())
    if hit is None:
        return None
    return SourceType(hit[0], hit[1], hit[2], raw)


def dst_version() -> str:
    return _dst_table()[0]


def dst_terms() -> list[tuple[str, str, str]]:
    """(term, verdict, label) of every digital source type in the table."""
    return sorted(_dst_table()[1].values())


@dataclass(frozen=True)
class Vendor:
    id: str
    vendor: str
    verdict: str
    confidence: str
    reference: str
    patterns: dict[str, tuple[re.Pattern[str], ...]]


@cache
def _vendor_table() -> tuple[str, tuple[Vendor, ...]]:
    data = _load("vendors.toml")
    out = []
    for v in data["vendor"]:
        pats = {cls: tuple(re.compile(p) for p in pl) for cls, pl in v.get("match", {}).items()}
        out.append(Vendor(v["id"], v["vendor"], v["verdict"], v.get("confidence", ""),
                          v.get("reference", ""), pats))
    return data["version"], tuple(out)


def vendors() -> tuple[Vendor, ...]:
    return _vendor_table()[1]


def vendor_version() -> str:
    return _vendor_table()[0]


def match_vendor(field_class: str, value: object) -> Vendor | None:
    """The first vendor whose ``field_class`` patterns match ``value`` (bounded input)."""
    if not isinstance(value, str) or not value:
        return None
    text = value.strip()[:512]
    for vendor in vendors():
        for pat in vendor.patterns.get(field_class, ()):
            if pat.search(text):
                return vendor
    return None
