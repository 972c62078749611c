"""The registered audio landmarks as sorted arrays in memory: the look-up without SQLite.

Why: the look-up's rows are mostly chance collisions, and their number grows with the
register (each registered second is stored at 11 speeds and 4 grid phases over a 24-bit
hash). Read through SQLite's covering index each row costs about 4 microseconds in
``fetchall`` alone: 4.1 s of a 10.9 s scan of a 5 min programme against an hour of
registered sound. Here the look-up is a binary search per distinct query hash and one gather
of the matching rows. The register keeps these arrays, sorted by hash, in its
``audio_pack`` table (``store.RegisterStore.audio_index``), so opening it reads them whole
instead of fetching every row.

The pack is also written to a file beside the register (``write_pieces``) that scans map
instead of reading (``open_file``): the operating system then holds it once for every
scanning process on the machine, pages it in as the look-ups touch it and can drop it
again, so neither ``MAX_ROWS`` nor the number of workers bounds it. It is brought up to
date a piece at a time (``stored_pieces``, ``merged``), never whole in memory.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

PART_ROWS = 1 << 22  # rows per stored part (SQLite blobs stay well under their 1 GB limit)
# Without its file a larger pack is not read: each scanning process would hold it (14 bytes
# a row, ~100 MB per registered hour of sound), and spawned workers hold one each. 150
# million rows is about 2 GB, 22 hours of registered sound; past it such scans look up
# through SQLite and say so.
MAX_ROWS = 150_000_000
_DTYPES = ("<u4", "<i4", "<i4", "<i2")  # hash, entry, frame, speed (per mille)
HASH_BYTES = np.dtype(_DTYPES[0]).itemsize  # a stored row's bytes in the hashes column
ROW_BYTES = sum(np.dtype(d).itemsize for d in _DTYPES)  # a row's bytes in all columns

# The pack file: a header, then the four columns (``_DTYPES``), each from a multiple of
# ``_ALIGN`` bytes. The header names the register's pack it holds (its stamp and id, see
# ``store.RegisterStore``), so a file left from another pack, or another register, is never
# used for this one.
_MAGIC = b"DSLMPACK"
_VERSION = 1
_HEADER = struct.Struct("<8sIIQqqq16s")  # magic, version, pad, rows, stamp (3), pack id
_ALIGN = 4096
_CHECK_ROWS = 1 << 24  # rows per step of the order check (64 MB of hashes)


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
        for piece in self.pieces():
            yield tuple(np.ascontiguousarray(a, d).tobytes()
                        for a, d in zip(piece.columns(), _DTYPES, strict=True))

    def pieces(self, rows: int | None = None) -> Iterator[LandmarkIndex]:
        """This index in order, ``rows`` (``PART_ROWS``) rows at a time (views)."""
        step = rows or PART_ROWS
        for start in range(0, len(self), step):
            yield LandmarkIndex(*(a[start:start + step] for a in self.columns()))

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
        try:
            for piece in stored_pieces(parts):
                n = len(piece)
                if at + n > rows:
                    return None
                for col, a in zip(cols, piece.columns(), strict=True):
                    col[at:at + n] = a
                at += n
        except DamagedPack:
            return None
        return cls(*cols) if at == rows else None

    # -- the pack file ---------------------------------------------------------------------
    def write_file(self, path: str, stamp: tuple[int, int, int], ident: bytes) -> None:
        """Write this index to ``path`` for ``open_file`` (``write_pieces``)."""
        write_pieces(path, len(self), [self], stamp, ident)

    @classmethod
    def open_file(cls, path: str, stamp: tuple[int, int, int], ident: bytes
                  ) -> LandmarkIndex | None:
        """The index the file at ``path`` holds, its columns mapped read-only, or None
        where there is no such file or it is not the pack ``stamp`` and ``ident`` name: a
        header of another pack or version, a size that is not the header's rows (a copy cut
        short), or hashes out of order (a damaged file is not trusted: the caller reads the
        register instead)."""
        try:
            with open(path, "rb") as fh:
                # header, size and columns from this one open file: a pack renamed over it
                # meanwhile (the next ``register add``) is not mapped with this one's layout
                head = fh.read(_HEADER.size)
                size = os.fstat(fh.fileno()).st_size
                if len(head) != _HEADER.size:
                    return None
                magic, version, _pad, rows, *rest = _HEADER.unpack(head)
                if (magic, version, rows, tuple(rest[:3]), rest[3]) != (
                        _MAGIC, _VERSION, stamp[0], tuple(stamp), ident):
                    return None
                layout = _layout(rows)
                if size != layout[-1][0] + rows * np.dtype(layout[-1][1]).itemsize:
                    return None
                if not rows:
                    return cls.empty()
                cols = [np.memmap(fh, d, "r", offset=start, shape=(rows,))
                        for start, d in layout]
        except (OSError, ValueError):
            return None
        out = cls(*cols)
        return out if out.ordered() else None

    def ordered(self) -> bool:
        """Whether the hashes are sorted (checked in steps: a mapped pack is not read into
        memory whole)."""
        h = self.hashes
        for at in range(0, max(len(h) - 1, 0), _CHECK_ROWS):
            step = h[at:at + _CHECK_ROWS + 1]
            if bool((step[1:] < step[:-1]).any()):
                return False
        return True


class DamagedPack(ValueError):
    """Stored landmarks that are not a pack: blobs of the wrong shape, hashes out of order,
    or another number of rows than the pack should hold."""


def stored_pieces(parts: Iterable[tuple[object, ...]]) -> Iterator[LandmarkIndex]:
    """The pieces that stored ``parts`` (``LandmarkIndex.parts``) hold, one part at a time,
    each checked as it comes: four blobs of whole values agreeing in length, hashes in
    order within and across parts (``DamagedPack`` otherwise)."""
    last = -1
    for part in parts:
        if len(part) != len(_DTYPES):
            raise DamagedPack("a stored part is not four columns")
        arrays = []
        for blob, d in zip(part, _DTYPES, strict=True):
            if not isinstance(blob, bytes) or len(blob) % np.dtype(d).itemsize:
                raise DamagedPack("a stored column is not whole values")
            arrays.append(np.frombuffer(blob, d))
        if any(len(a) != len(arrays[0]) for a in arrays):
            raise DamagedPack("a stored part's columns differ in length")
        piece = LandmarkIndex(*arrays)
        if len(piece):
            if int(piece.hashes[0]) < last or not piece.ordered():
                raise DamagedPack("stored hashes out of order")
            last = int(piece.hashes[-1])
            yield piece


def merged(base: Iterable[LandmarkIndex], added: LandmarkIndex, removed: set[int]
           ) -> Iterator[LandmarkIndex]:
    """The pieces of ``base`` (in hash order) with the rows of ``added`` (sorted) among
    them and the rows of the ``removed`` entries left out, in hash order: a pack brought up
    to date one stored piece at a time, never whole in memory."""
    at = 0
    for piece in base:
        if not len(piece):
            continue
        upto = int(np.searchsorted(added.hashes, piece.hashes[-1], "right"))
        out = piece
        if upto > at:
            out = LandmarkIndex.union([piece, LandmarkIndex(*(c[at:upto]
                                                              for c in added.columns()))])
            at = upto
        out = out.without(removed)
        if len(out):
            yield out
    if at < len(added):
        rest = LandmarkIndex(*(c[at:] for c in added.columns())).without(removed)
        if len(rest):
            yield rest


def write_pieces(path: str, rows: int, pieces: Iterable[LandmarkIndex],
                 stamp: tuple[int, int, int], ident: bytes) -> None:
    """Write an index of ``rows`` rows, given as ``pieces`` that follow each other in hash
    order, to ``path`` for ``LandmarkIndex.open_file``, one piece at a time (an index
    merged from sorted runs need never be in memory whole). The file is written to a
    temporary name beside ``path``, flushed to disk and renamed over it, so a reader sees
    the old file or the whole new one (a process that mapped the old one keeps it until it
    ends). Pieces of another number of rows in all raise ``DamagedPack``, as does a piece
    out of order from ``stored_pieces``: no file is left then."""
    tmp = f"{path}.{os.getpid()}{_TMP_SUFFIX}"
    layout = _layout(rows)
    try:
        with open(tmp, "wb") as fh:
            fh.write(_HEADER.pack(_MAGIC, _VERSION, 0, rows, *stamp, ident))
            fh.truncate(layout[-1][0] + rows * np.dtype(layout[-1][1]).itemsize)
            at = 0
            for piece in pieces:
                n = len(piece)
                if at + n > rows:
                    raise DamagedPack(f"landmark pieces hold more than {rows} rows")
                for col, (start, d) in zip(piece.columns(), layout, strict=True):
                    size = np.dtype(d).itemsize
                    for k in range(0, n, PART_ROWS):
                        fh.seek(start + (at + k) * size)
                        fh.write(np.ascontiguousarray(col[k:k + PART_ROWS], d).tobytes())
                at += n
            if at != rows:
                raise DamagedPack(f"landmark pieces hold {at} rows, not {rows}")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


_TMP_SUFFIX = ".tmp"  # ``write_pieces`` writes to ``<path>.<pid>.tmp`` first


def unfinished_files(path: str) -> list[str]:
    """The temporary files of writes to ``path`` that never finished (a writer killed
    mid-write: up to the pack's size each). Only a writer holding the register's write lock
    may remove them: no other write can be under way then."""
    folder, name = os.path.split(path)
    try:
        names = os.listdir(folder or ".")
    except OSError:
        return []
    return [os.path.join(folder, n) for n in names
            if n.startswith(name + ".") and n.endswith(_TMP_SUFFIX)
            and n[len(name) + 1:-len(_TMP_SUFFIX)].isdigit()]


def _layout(rows: int) -> list[tuple[int, str]]:
    """(byte offset, dtype) of each column in a pack file of ``rows`` rows."""
    out, at = [], _HEADER.size
    for d in _DTYPES:
        at = -(-at // _ALIGN) * _ALIGN
        out.append((at, d))
        at += rows * np.dtype(d).itemsize
    return out
