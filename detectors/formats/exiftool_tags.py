"""ExifTool's JSON output (``-j -a -G3:1:4 -u``) as canonical ``Field`` records, so that one rule
covers the native tier and the deep tier alike: ``exiftool:<Group>:<Tag>`` for tags without a
mapping, the canonical keys (``xmp:…``, ``exif:…``, ``png:text:…``, ``id3:…``) for those
``detectors/data/exiftool_map.toml`` maps. Pure data in, data out: the process that produces
the JSON is ``exiftool.py``'s driver.
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from detectors.model import Field

_DOC = re.compile(r"^(?:Main|Doc\d+(?:-\d+)*)$")
_COPY = re.compile(r"^Copy\d+$")


@dataclass(frozen=True)
class _Map:
    skip_groups: frozenset[str]
    skip_keys: frozenset[str]
    groups: dict[str, list[dict[str, Any]]]  # family-1 group -> [[map]] entries, in order
    xmp: dict[str, dict[str, Any]]


@cache
def _mapping() -> _Map:
    data = tomllib.loads(resources.files("detectors.data").joinpath("exiftool_map.toml")
                         .read_text("utf-8"))
    ids = data.get("ids", {})
    groups: dict[str, list[dict[str, Any]]] = {}
    for spec in data.get("map", []):
        spec = dict(spec)
        spec["ids"] = ids.get(spec["ids"], {}) if isinstance(spec.get("ids"), str) else {}
        spec["exclude"] = frozenset(spec.get("exclude", ()))
        for name in spec["groups"]:
            groups.setdefault(name, []).append(spec)
    return _Map(frozenset(data.get("skip_groups", [])), frozenset(data.get("skip_keys", [])),
                groups, data.get("xmp", {}))


def split_key(key: str) -> tuple[str, str, str, str]:
    """Split a ``-G3:1:4`` key into (document, family-1 group, copy, tag); parts may be ''."""
    parts = key.split(":")
    tag = parts.pop()
    doc = parts.pop(0) if parts and _DOC.match(parts[0]) else ""
    copy = parts.pop() if parts and _COPY.match(parts[-1]) else ""
    return doc, ":".join(parts), copy, tag


def _lcfirst(s: str) -> str:
    """Undo ExifTool's ucfirst, but leave acronyms (``AIGC``, ``URL``) alone."""
    if len(s) > 1 and s[1].isupper():
        return s
    return s[:1].lower() + s[1:]


def _default_id(tag: str, rule: str) -> str | None:
    if rule == "keep":
        return tag
    if rule == "lcfirst":
        return _lcfirst(tag)
    if rule == "lower":
        return tag.lower()
    return None


def _canonical(group: str, tag: str, value: str, m: _Map) -> tuple[str, str] | None:
    """(canonical key, value) for a mapped tag, or None when no rule maps it."""
    if group.startswith("XMP-"):
        ns = m.xmp.get(group[4:])
        if ns is None:  # a namespace the native XMP reader knows by this prefix: tag as is
            known = group[4:] in _xmp_prefixes().values()
            return (f"xmp:{group[4:]}:{tag}", value) if known else None
        local = ns.get("names", {}).get(tag)
        if local is None:
            local = _lcfirst(tag) if ns.get("case") == "lower" else tag
        return f"xmp:{_xmp_prefix(ns)}:{local}", value
    for spec in m.groups.get(group, ()):
        if tag in spec["exclude"] or tag.startswith(tuple(spec.get("exclude_prefixes", ()))):
            continue
        ident = spec["ids"].get(tag)
        for pattern, template in spec.get("id_patterns", ()):
            if ident is None and (pm := re.match(pattern, tag)):
                ident = pm.expand(template)
        if ident is None:
            ident = _default_id(tag, spec.get("default", "none"))
        if ident is None:
            continue
        if tag in spec.get("described_tags", ()):
            mm = re.match(spec["described_pattern"], value, re.S)
            if mm:
                return spec["described_key"].format(id=ident, desc=mm.group(1)), mm.group(2)
            return spec["undescribed_key"].format(id=ident), value
        return spec["key"].format(id=ident), value
    return None


def _xmp_prefix(ns: dict[str, Any]) -> str:
    override = _xmp_prefixes().get(ns["uri"])
    return override or ns["prefix"]


@cache
def _xmp_prefixes() -> dict[str, str]:
    """URI -> canonical prefix from the native XMP reader, when it exists (one source of truth)."""
    try:
        from detectors.formats import xmp
    except ImportError:
        return {}
    table = getattr(xmp, "NAMESPACES", None)
    if not isinstance(table, dict):
        return {}
    out: dict[str, str] = {}
    for k, v in table.items():
        if isinstance(k, str) and isinstance(v, str):
            if "://" in k or k.startswith("urn:"):
                out[k] = v
            elif "://" in v or v.startswith("urn:"):
                out[v] = k
    return out


def _values(value: Any) -> list[str]:
    if isinstance(value, list):
        return [v for item in value for v in _values(item)]
    if isinstance(value, dict):
        return [json.dumps(value, ensure_ascii=False, sort_keys=True)]
    if isinstance(value, bool):
        return ["true" if value else "false"]
    if value is None:
        return [""]
    return [str(value)]


def exiftool_fields(tags: dict[str, Any]) -> list[Field]:
    """Normalised Fields for one file's ExifTool JSON (from ``ExifToolDriver.read``).

    Mapped tags get the canonical key the native readers use; the rest become
    ``exiftool:<Group>:<Tag>``. Every duplicate (``CopyN``, ``DocN``) is its own Field; list
    values give one Field per item. Bookkeeping groups (System, Composite...) are skipped.
    """
    m = _mapping()
    fields: list[Field] = []
    for key, raw in tags.items():
        if key in m.skip_keys:
            continue
        doc, group, _copy, tag = split_key(key)
        if group in m.skip_groups or (not group and key == "SourceFile"):
            continue
        location = f"ExifTool {key}"
        for value in _values(raw):
            mapped = _canonical(group, tag, value, m)
            if mapped is None:
                fkey = f"exiftool:{group}:{tag}" if group else f"exiftool:{tag}"
                fields.append(Field(fkey, value, location, reader="exiftool"))
            else:
                fields.append(Field(mapped[0], mapped[1], location, reader="exiftool"))
    return fields


__all__ = ["exiftool_fields", "split_key"]

