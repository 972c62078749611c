"""The registered audio landmarks as sorted arrays in memory: the look-up without SQLite.

Why: the look-up's rows are mostly chance collisions, and their number grows with the
register (each registered second is stored at 11 speeds and 4 grid phases over a 24-bit
hash). Read through SQLite's covering index each row costs about 4 microseconds in
``fetchall`` alone: 4.1 s of a 10.9 s scan of a 5 min programme against an hour of
registered sound. Here the look-up is a binary search per distinct query hash and one gather
of the matching rows. The register keeps these arrays, sorted by hash, in its
``audio_pack`` table (``store.RegisterStore.audio_index``), so opening it reads them whole
instead of fetching every row.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

PART_ROWS = 1 << 22  # rows per stored part (SQLite blobs stay well under their 1 GB limit)
# A larger pack is not read: each scanning process would hold it (14 bytes a row, ~100 MB
# per registered hour of sound), and spawned workers hold one each. 150 million rows is
# about 2 GB, 22 hours of registered sound; past it scans look up through SQLite and say so.
MAX_ROWS = 150_000_000
_DTYPES = ("<u4", "<i4", "<i4", "<i2")  # hash, entry, frame, speed (per mille)
HASH_BYTES = np.dtype(_DTYPES[0]).itemsize  # a stored row's bytes in the hashes column


@dataclass(frozen=True)
class LandmarkIndex:
    """Every registered landmark: ``hashes`` sorted, and the entry, anchor frame and
    speed of each row."""

    hashes: np.ndarray
    entries: np.ndarray
    frames: np.ndarray
    speeds: np.ndarray

    @classmethod
    def build(cls, hashes: np.ndarray, entries: np.ndarray, frames: np.ndarray,
              speeds: np.ndarray) -> LandmarkIndex:
        """Rows in any order, sorted by hash (stable: already sorted runs merge in one
        pass)."""
        cols = [np.asarray(a).astype(d[1:], copy=False)
                for a, d in zip((hashes, entries, frames, speeds), _DTYPES, strict=True)]
        order = np.argsort(cols[0], kind="stable")
        return cls(*(c[order] for c in cols))

    @classmethod
    def empty(cls) -> LandmarkIndex:
        return cls(*(np.zeros(0, d[1:]) for d in _DTYPES))

    def __len__(self) -> int:
        return len(self.hashes)

    def without(self, entries: set[int]) -> LandmarkIndex:
        """This index less the rows of ``entries`` (removed from the register)."""
        if not entries or not len(self):
            return self
        keep = ~np.isin(self.entries, np.fromiter(entries, np.int64, len(entries)))
        return LandmarkIndex(*(a[keep] for a in self.columns()))

    @classmethod
    def union(cls, indexes: list[LandmarkIndex]) -> LandmarkIndex:
        """The rows of all ``indexes`` in one (sorted or not)."""
        return cls.build(*(np.concatenate(col) for col in
                           zip(*(i.columns() for i in indexes), strict=True)))

    def columns(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        return self.hashes, self.entries, self.frames, self.speeds

    def hits(self, hashes: np.ndarray, payload: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(payload of the query hash, entry, registered frame, speed) for every
        registered row whose hash is one of ``hashes``: what ``RegisterStore.audio_hits``
        returns (its rows may come in another order, its columns at the stored widths)."""
        z = np.zeros(0, np.int64)
        if not len(hashes) or not len(self):
            return z, z, z, z
        q = np.asarray(hashes, np.int64)
        ok = (q >= 0) & (q <= np.iinfo(np.uint32).max)  # no stored hash lies outside
        q, pay = q[ok].astype(np.uint32), np.asarray(payload, np.int64)[ok]
        uniq, inverse = np.unique(q, return_inverse=True)
        lo = np.searchsorted(self.hashes, uniq, "left")
        count = np.searchsorted(self.hashes, uniq, "right") - lo
        per_query = count[inverse]
        total = int(per_query.sum())
        if not total:
            return z, z, z, z
        # row k of the output: query which[k], the stored row of its hash's first + its rank
        which = np.repeat(np.arange(len(q)), per_query)
        first = np.cumsum(per_query) - per_query
        rows = np.repeat(lo[inverse] - first, per_query) + np.arange(total)
        # stored widths (int32, int32, int16): widening millions of rows costs more than
        # the gather, and ``audio_match.segments`` reads any integer width
        return pay[which], self.entries[rows], self.frames[rows], self.speeds[rows]

    # -- storage --------------------------------------------------------------------------
    def parts(self) -> Iterator[tuple[bytes, ...]]:
        """The columns' little-endian bytes, ``PART_ROWS`` rows at a time."""
        for start in range(0, len(self), PART_ROWS):
            yield tuple(np.ascontiguousarray(a[start:start + PART_ROWS], d).tobytes()
                        for a, d in zip(self.columns(), _DTYPES, strict=True))

    @classmethod
    def from_parts(cls, parts: Iterable[tuple[object, ...]], rows: int
                   ) -> LandmarkIndex | None:
        """The index ``parts`` stored, ``rows`` in all, or None where a part is not four
        blobs of whole values agreeing in length, the parts hold another number of rows, or
        the hashes are not sorted (a damaged pack is not trusted: the caller reads the table
        instead). Each part is copied into place as it is read, so the pack is held once
        and not twice while it is read (2 GB at ``MAX_ROWS``)."""
        cols = [np.empty(rows, d[1:]) for d in _DTYPES]
        at = 0
        for part in parts:
            if len(part) != len(_DTYPES):
                return None
            arrays = []
            for blob, d in zip(part, _DTYPES, strict=True):
                if not isinstance(blob, bytes) or len(blob) % np.dtype(d).itemsize:
                    return None
                arrays.append(np.frombuffer(blob, d))
            n = len(arrays[0])
            if any(len(a) != n for a in arrays) or at + n > rows:
                return None
            for col, a in zip(cols, arrays, strict=True):
                col[at:at + n] = a
            at += n
        out = cls(*cols)
        if at != rows or (rows > 1 and bool((out.hashes[1:] < out.hashes[:-1]).any())):
            return None
        return out
