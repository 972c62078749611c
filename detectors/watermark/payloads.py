"""The payload table (``detectors/data/watermark_payloads.toml``): what each marking generator
embeds, and the matching-bit thresholds of each band, checked at load against their binomial
derivation (see the package docstring)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from importlib import resources
from math import comb
from typing import TYPE_CHECKING, Any

from detectors.lazy import lazy
from detectors.model import AI, REVIEW
from detectors.watermark import dwtdct

if TYPE_CHECKING:
    import numpy as np
else:
    np = lazy("numpy")

DATA = resources.files("detectors.data").joinpath("watermark_payloads.toml")

BANDS = ("very_likely", "likely", "review")
BAND_VERDICT = {"very_likely": AI, "likely": AI, "review": REVIEW}
BAND_RULE = {"very_likely": "very_likely", "likely": "likely", "review": "partial"}
BAND_TEXT = {"very_likely": "very likely watermarked", "likely": "likely watermarked",
             "review": "partial match, cannot determine"}


# ---- thresholds ---------------------------------------------------------------------------

def binomial_tail(n: int, t: int) -> float:
    """P(X ≥ t) for X ~ Bin(n, 1/2): the chance that an unmarked (coin-flip) decode matches
    ``t`` or more bits of an ``n``-bit payload."""
    if t <= 0:
        return 1.0
    if t > n:
        return 0.0
    return sum(comb(n, k) for k in range(t, n + 1)) / 2 ** n


def derive_threshold(n: int, target: float) -> int:
    """Least t with ``binomial_tail(n, t) <= target``: the n-bit threshold as strict by chance
    as a given 48-bit one."""
    for t in range(n + 1):
        if binomial_tail(n, t) <= target:
            return t
    return n + 1


@dataclass(frozen=True)
class Payload:
    name: str
    generator: str
    mode: str  # "bytes" | "bits"
    value: str
    bits: np.ndarray = field(repr=False)
    thresholds: dict[str, int] = field(default_factory=dict)
    domains: tuple[str, ...] = ("uint8",)

    @property
    def length(self) -> int:
        return int(self.bits.size)

    def band(self, matched: int) -> str | None:
        for band in BANDS:
            if matched >= self.thresholds[band]:
                return band
        return None


def _bits_of(entry: dict[str, Any]) -> np.ndarray:
    if entry["mode"] == "bytes":
        return np.unpackbits(np.frombuffer(entry["value"].encode("ascii"), np.uint8)).astype(bool)
    if entry["mode"] == "bits" and set(entry["value"]) <= {"0", "1"}:
        return np.array([c == "1" for c in entry["value"]], dtype=bool)
    raise ValueError(f"watermark payload {entry.get('name')!r}: bad mode/value")


def load_payloads(path: Any = DATA) -> tuple[Payload, ...]:
    """Read the payload table and check every threshold against ``derive_threshold``."""
    with path.open("rb") as fh:
        data = tomllib.load(fh)
    scheme = data["scheme"]
    ref_n = int(scheme["reference_bits"])
    ref = scheme["reference_thresholds"]
    targets = {"very_likely": binomial_tail(ref_n, ref["very_likely"]),
               "likely": binomial_tail(ref_n, ref["likely"]),
               "review": binomial_tail(ref_n, scheme["reference_review"])}
    out = []
    for entry in data["payload"]:
        bits = _bits_of(entry)
        if bits.size != entry["bits"]:
            raise ValueError(f"watermark payload {entry['name']}: {bits.size} bits, "
                             f"table says {entry['bits']}")
        thresholds = {band: int(entry["thresholds"][band]) for band in BANDS}
        for band, target in targets.items():
            want = derive_threshold(bits.size, target)
            if thresholds[band] != want:
                raise ValueError(f"watermark payload {entry['name']}: {band} threshold "
                                 f"{thresholds[band]}, binomial derivation gives {want}")
        domains = tuple(entry.get("domains", ["uint8"]))
        if not set(domains) <= set(dwtdct.DOMAINS):
            raise ValueError(f"watermark payload {entry['name']}: unknown domain in {domains}")
        out.append(Payload(entry["name"], entry["generator"], entry["mode"], entry["value"],
                           bits, thresholds, domains))
    return tuple(out)
