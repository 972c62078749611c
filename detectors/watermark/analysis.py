"""Analysis of decoded block votes (pure: arrays in, matches out; used by the detector and the
bench): per payload and variant, the matching bits, the consistency z and its ratio to the
null spread, and the band."""

from __future__ import annotations

import math
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

# Early stopping ("clearly null"). ``Tally.zscore`` is the normal approximation of a binomial
# two-proportion test: its standard error is 1 and, with the evidence spread evenly, it grows
# as sqrt(blocks). Votes seen so far are clearly null when even a mark two standard errors
# stronger than what they show could not reach the Z_MIN every band needs once the unseen
# part were pooled in: sqrt(total / seen) * (z + STOP_SIGMAS) < Z_MIN. Used for a variant after
# a quarter, a half and three quarters of a still's block rows (``GROUPS``, interleaved so each
# part spreads over the whole picture), and for a clip after each sampled frame.
STOP_SIGMAS = 2.0
GROUPS = 4


def clearly_null(z: float, seen: float, total: float) -> bool:
    """True when a z from ``seen`` of ``total`` equal parts (frames) cannot reach ``Z_MIN``
    however the rest turn out, short of a mark more than ``STOP_SIGMAS`` standard errors
    stronger than the one seen (see ``STOP_SIGMAS``)."""
    return math.sqrt(total / seen) * (z + STOP_SIGMAS) < Z_MIN


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
    """Pooled block votes of one file's frames, for every payload and variant (one colour
    conversion per channel order serves both U centrings). A still added with
    ``progressive`` is read in ``GROUPS`` interleaved parts of its block rows, and a variant whose votes are clearly null after a part is not read
    further (``dropped``; it takes no part in ``best``). Votes are bit-identical to a whole
    read (``dwtdct.group_votes``), so a variant that is read to the end scores the same."""

    def __init__(self, payloads: Iterable[Payload]) -> None:
        self.payloads = tuple(payloads)
        self.variants = sorted({(order, domain) for p in self.payloads for domain in p.domains
                                for order in dwtdct.ORDERS},
                               key=lambda v: (dwtdct.DOMAINS.index(v[1]), v[0]))
        self.matches = [Match(p, order, domain, dwtdct.Tally.empty(p.length))
                        for p in self.payloads for domain in p.domains for order in dwtdct.ORDERS]
        self.dropped: dict[tuple[str, str], float] = {}  # variant -> share of blocks read
        self.frames = 0
        self.blocks = 0
        self.pixels = 0

    def _of(self, order: str, domain: str) -> list[Match]:
        return [m for m in self.matches if m.order == order and m.domain == domain]

    def add(self, image: np.ndarray, progressive: bool = False) -> None:
        """Add one 8-bit BGR frame (at least 65,536 pixels); ``progressive`` for a still
        read alone (see the class docstring)."""
        if progressive and self.frames:
            raise ValueError("a progressive read takes one frame")
        groups = GROUPS if progressive else 1
        total = (image.shape[0] // 8) * (image.shape[1] // 4 * 4 // 8)
        seen = 0
        for group in range(groups):
            bands, numbers = ((image, None) if groups == 1
                              else dwtdct.group_bands(image, group, groups))
            for order in dwtdct.ORDERS:
                domains = [d for o, d in self.variants
                           if o == order and (o, d) not in self.dropped]
                if not domains:
                    continue
                u = dwtdct.u_plane(bands, order)  # one conversion for both centrings
                for domain in domains:
                    votes = dwtdct.plane_votes(u, domain)
                    for m in self._of(order, domain):
                        m.tally += dwtdct.tally(votes, m.payload.length, numbers)
            seen += total if numbers is None else int(numbers.size)
            if group < groups - 1 and 0 < seen < total:
                for order, domain in self.variants:
                    if (order, domain) not in self.dropped and all(
                            clearly_null(m.z, seen, total) for m in self._of(order, domain)):
                        self.dropped[(order, domain)] = seen / total
        self.frames += 1
        self.blocks += total
        self.pixels += int(image.shape[0] * image.shape[1])

    @property
    def done(self) -> list[Match]:
        """The matches read to the end (dropped variants left out)."""
        return [m for m in self.matches if (m.order, m.domain) not in self.dropped]

    def clearly_null(self, total_frames: int) -> bool:
        """True when the frames pooled so far are clearly null for every payload and variant
        (``clearly_null``), so the other ``total_frames - frames`` need not be read."""
        return self.frames > 0 and all(clearly_null(m.z, self.frames, total_frames)
                                       for m in self.done)

    def best(self) -> list[Match]:
        """Best variant read to the end per payload, in payload-table order (None-free: a
        payload whose every variant was dropped is represented by its best dropped one,
        which cannot band)."""
        out = []
        for p in self.payloads:
            pool = [m for m in self.done if m.payload is p] or [
                m for m in self.matches if m.payload is p]
            out.append(max(pool, key=Match.rank))
        return out


def analyse(image: np.ndarray, payloads: Iterable[Payload], progressive: bool = True) -> Analysis:
    """One still image, read as the detector reads it (``progressive``: clearly null variants
    are not read to the end; False reads every variant in full)."""
    a = Analysis(payloads)
    a.add(image, progressive)
    return a
