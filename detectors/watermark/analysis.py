"""Analysis of decoded block votes (pure: arrays in, matches out; used by the detector and the
bench): per payload and variant, the matching bits, the consistency z and its ratio to the
null spread, and the band."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

from detectors.lazy import lazy
from detectors.watermark import dwtdct
from detectors.watermark.payloads import BANDS, Payload

if TYPE_CHECKING:
    import numpy as np
else:
    np = lazy("numpy")

# Least consistency z, and least z relative to the spread of z over NULL_PATTERNS
# payload-balanced random words on the same pixels, for any band (see the package docstring).
Z_MIN = 6.0
R_MIN = 6.0
NULL_PATTERNS = 256


def null_patterns(payload: np.ndarray, count: int = NULL_PATTERNS) -> np.ndarray:
    """Seeded random words that each take half of the payload's 1-positions and half of its
    0-positions: a mark adds nothing to their z, the picture's structure adds to theirs what it
    adds to the payload's. Their spread is the empirical null for ``Match.ratio``."""
    return _null_patterns(payload.astype(np.uint8).tobytes(), count)


@cache
def _null_patterns(key: bytes, count: int) -> np.ndarray:
    payload = np.frombuffer(key, np.uint8).astype(bool)
    rng = np.random.default_rng(7919 + payload.size)
    ones, zeros = np.flatnonzero(payload), np.flatnonzero(~payload)
    out = np.zeros((count, payload.size), dtype=bool)
    for row in out:
        row[rng.choice(ones, ones.size // 2, replace=False)] = True
        row[rng.choice(zeros, zeros.size // 2, replace=False)] = True
    out.flags.writeable = False
    return out


@dataclass
class Match:
    """One payload tested in one variant (channel order × U centring) over pooled frames."""

    payload: Payload
    order: str
    domain: str
    tally: dwtdct.Tally

    @property
    def decoded(self) -> np.ndarray:
        return self.tally.bits()

    @property
    def matched(self) -> int:
        return int((self.decoded == self.payload.bits).sum())

    @property
    def z(self) -> float:
        return self.tally.zscore(self.payload.bits)

    @property
    def null_sd(self) -> float:
        """Spread of z over payload-balanced random words on these same votes: ~1 when blocks
        vote independently, larger when the picture's structure lines up with the bit layout."""
        return float(self.tally.zscores(null_patterns(self.payload.bits)).std())

    @property
    def ratio(self) -> float:
        """z over the null spread, floored at 1 (the spread of independent votes): a strong mark
        makes every balanced word score alike, which would otherwise shrink the spread to 0."""
        return self.z / max(self.null_sd, 1.0)

    @property
    def band(self) -> str | None:
        if self.z < Z_MIN or self.ratio < R_MIN:
            return None
        return self.payload.band(self.matched)

    def rank(self) -> tuple[int, int, float]:
        band = self.band
        return (len(BANDS) - BANDS.index(band) if band else 0, self.matched, self.z)


class Analysis:
    """Pooled block votes of one file's frames, for every payload and variant."""

    def __init__(self, payloads: Iterable[Payload]) -> None:
        self.payloads = tuple(payloads)
        self.variants = sorted({(order, domain) for p in self.payloads for domain in p.domains
                                for order in dwtdct.ORDERS},
                               key=lambda v: (dwtdct.DOMAINS.index(v[1]), v[0]))
        self.matches = [Match(p, order, domain, dwtdct.Tally.empty(p.length))
                        for p in self.payloads for domain in p.domains for order in dwtdct.ORDERS]
        self.frames = 0
        self.blocks = 0
        self.pixels = 0

    def add(self, image: np.ndarray) -> None:
        """Add one 8-bit BGR frame (at least 65,536 pixels)."""
        for order, domain in self.variants:
            votes = dwtdct.block_votes(image, order, domain)
            for m in self.matches:
                if m.order == order and m.domain == domain:
                    m.tally += dwtdct.tally(votes, m.payload.length)
        self.frames += 1
        self.blocks += int(votes.size)
        self.pixels += int(image.shape[0] * image.shape[1])

    def best(self) -> list[Match]:
        """Best variant per payload, in payload-table order."""
        out = []
        for p in self.payloads:
            out.append(max((m for m in self.matches if m.payload is p), key=Match.rank))
        return out


def analyse(image: np.ndarray, payloads: Iterable[Payload]) -> Analysis:
    a = Analysis(payloads)
    a.add(image)
    return a
