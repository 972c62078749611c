"""Archives: ZIP, TAR, and TAR (or one file) compressed with gzip, bzip2, xz or zstd. How each is
recognised, and a bounded, streaming walk over its members.

VFX turnovers and dialogue packages ship as archives, so a delivery of archives must be looked
inside, never passed as "not a media file". Nothing in an archive is trusted: sizes are counted
as bytes come out of the decompressor (never taken from headers), and member count, per-member
and total size, expansion ratio and nesting depth are limited (``Limits``). What cannot be read
is said, never skipped quietly: an encrypted member, an unsupported compression method or
archive format (7-Zip, RAR) is a ``problem`` the scan reports as "could not be checked".

Extractors disagree on the edges of a format, and a member one of them writes out is a member
we check: an entry is read as a file unless no extractor would write its bytes (a ZIP entry
flagged as a symlink, a TAR entry of a type nobody knows: both are extracted as regular files by
common tools), every entry with a duplicated name is read from its own bytes, and an archive
must be whole: bytes no member accounts for (a second archive in front of a ZIP or after a
TAR's end, a TAR header that does not check out, a truncated stream) are an error.

Member names are reported as stored; they are never used as file system paths (whoever
extracts a member names the copy itself), so ``../`` or absolute names cannot escape anywhere.
"""

from __future__ import annotations

import bz2
import contextlib
import gzip
import io
import lzma
import os
import stat
import struct
import tarfile
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, BinaryIO

from detectors.formats.registry import Format

ARCHIVE = "archive"  # the asset kind of every format here

ZIP = "application/zip"
TAR = "application/x-tar"
GZIP = "application/gzip"
BZIP2 = "application/x-bzip2"
XZ = "application/x-xz"
ZSTD = "application/zstd"
SEVEN_ZIP = "application/x-7z-compressed"
RAR = "application/vnd.rar"
COMPRESSED = (GZIP, BZIP2, XZ, ZSTD)
UNSUPPORTED = {SEVEN_ZIP: "7-Zip", RAR: "RAR"}

# ZIP methods Python's zipfile decompresses: stored, deflate, bzip2, LZMA.
ZIP_METHODS = {0: "stored", 8: "deflate", 12: "bzip2", 14: "LZMA"}
CHUNK = 1024 * 1024
# A ZIP local file header: signature, version, flags, method, time, date, CRC-32, compressed
# size, size, name length, extra field length (APPNOTE 4.3.7).
LOCAL_HEADER = struct.Struct("<4s5H3L2H")
ZIP_END = b"PK\x05\x06"  # end of central directory record (22 bytes + comment)
DESCRIPTOR_MAX = 24  # a data descriptor: signature, CRC-32, ZIP64 sizes
SPAN_MARKERS = (b"PK\x07\x08", b"PK00")  # a split/spanned archive's 4-byte first marker


@dataclass(frozen=True)
class Limits:
    """Bounds on what one archive (with every archive nested in it) may make us read. A member
    over a bound is reported as not checked; an archive over a bound stops with an error."""

    max_members: int = 100_000  # entries, across nesting
    max_member_bytes: int = 16 * 2**30  # uncompressed bytes of one member
    max_total_bytes: int = 256 * 2**30  # uncompressed bytes of everything, across nesting
    max_ratio: float = 1000.0  # uncompressed / compressed, checked once past ``ratio_floor``
    ratio_floor: int = 64 * 2**20
    max_depth: int = 3  # archives inside archives inside archives


class ArchiveError(Exception):
    """The archive as a whole cannot be (fully) read: damaged, unsupported, over a limit."""


class MemberError(Exception):
    """One member cannot be read (encrypted, unsupported method, over a limit, damaged)."""


@dataclass
class Budget:
    """What an archive and its nested archives have used of the ``Limits`` so far."""

    limits: Limits = field(default_factory=Limits)
    members: int = 0
    total: int = 0

    def count_member(self) -> None:
        self.members += 1
        if self.members > self.limits.max_members:
            raise ArchiveError(f"more than {self.limits.max_members:,} members (with nested "
                               "archives): stopped")


@dataclass
class Member:
    """One entry. ``type`` is ``file``, ``dir``, ``link`` or ``special``; ``problem`` says why a
    file cannot be read; ``compressed`` is its compressed size when the format says (ZIP);
    ``note`` says how an entry stored as something else came to be read as a file."""

    name: str
    type: str
    size: int | None = None
    compressed: int | None = None
    problem: str | None = None
    opener: Callable[[], io.RawIOBase] | None = None
    note: str | None = None

    def open(self) -> io.RawIOBase:
        if self.opener is None:
            raise MemberError(self.problem or f"{self.name}: no data")
        return self.opener()


def _zip(head: bytes) -> str | None:
    return ZIP if head[:4] in (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08") else None


def _tar(head: bytes) -> str | None:
    return TAR if head[257:262] == b"ustar" else None


def _compressed(head: bytes) -> str | None:
    if head[:2] == b"\x1f\x8b":
        return GZIP
    if head[:3] == b"BZh" and head[3:4].isdigit() and head[4:10] == b"1AY&SY":
        return BZIP2
    if head[:6] == b"\xfd7zXZ\x00":
        return XZ
    if head[:4] == b"\x28\xb5\x2f\xfd":
        return ZSTD
    return None


def _unsupported(head: bytes) -> str | None:
    if head[:6] == b"7z\xbc\xaf\x27\x1c":
        return SEVEN_ZIP
    if head[:7] == b"Rar!\x1a\x07\x00" or head[:8] == b"Rar!\x1a\x07\x01\x00":
        return RAR
    return None


FORMATS = [
    Format(id="zip", label="ZIP archive", kinds={ZIP: ARCHIVE}, accept=_zip, priority=60,
           extensions={".zip": (ZIP,)}),
    Format(id="tar", label="TAR archive", kinds={TAR: ARCHIVE}, accept=_tar, priority=61,
           extensions={".tar": (TAR,)}),
    Format(id="compressed", label="compressed file (gzip, bzip2, xz, zstd)",
           kinds={t: ARCHIVE for t in COMPRESSED}, accept=_compressed, priority=62,
           labels={GZIP: "gzip", BZIP2: "bzip2", XZ: "xz", ZSTD: "zstd"},
           extensions={".gz": (GZIP,), ".tgz": (GZIP,), ".bz2": (BZIP2,), ".tbz2": (BZIP2,),
                       ".xz": (XZ,), ".txz": (XZ,), ".zst": (ZSTD,), ".tzst": (ZSTD,)}),
    Format(id="archive-other", label="archive we cannot open",
           kinds={SEVEN_ZIP: ARCHIVE, RAR: ARCHIVE}, accept=_unsupported, priority=63,
           labels={SEVEN_ZIP: "7-Zip archive", RAR: "RAR archive"},
           extensions={".7z": (SEVEN_ZIP,), ".rar": (RAR,)}),
]


# ---- reading -----------------------------------------------------------------------------------

class Counted(io.RawIOBase):
    """A member's bytes, counted against the budget as they are read: headers may lie, the
    decompressor's output does not."""

    def __init__(self, inner: IO[bytes] | io.RawIOBase, member: Member, budget: Budget,
                 raw_pos: Callable[[], int] | None = None) -> None:
        self.inner, self.member, self.budget = inner, member, budget
        self.raw_pos = raw_pos  # compressed bytes consumed so far (streams: whole-archive ratio)
        self.done = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buf: memoryview) -> int:  # type: ignore[override]
        data = self.inner.read(len(buf))
        n = len(data)
        buf[:n] = data
        self.done += n
        self.budget.total += n
        lim = self.budget.limits
        if self.done > lim.max_member_bytes:
            raise MemberError(f"larger than the {lim.max_member_bytes:,}-byte member limit: "
                              "not checked")
        if self.budget.total > lim.max_total_bytes:
            raise ArchiveError(f"more than {lim.max_total_bytes:,} bytes uncompressed (with "
                               "nested archives): stopped")
        if self.member.compressed is not None and self.done > lim.ratio_floor and \
                self.done > lim.max_ratio * max(self.member.compressed, 1):
            raise MemberError(f"expands more than {lim.max_ratio:g}x ({self.done:,} bytes "
                              f"from {self.member.compressed:,}): not checked (a zip bomb?)")
        if self.raw_pos is not None and self.budget.total > lim.ratio_floor:
            used = max(self.raw_pos(), 1)
            if self.budget.total > lim.max_ratio * used:
                raise ArchiveError(f"expands more than {lim.max_ratio:g}x "
                                   f"({self.budget.total:,} bytes from {used:,}): stopped "
                                   "(a decompression bomb?)")
        return n


@contextlib.contextmanager
def open_members(path: str | BinaryIO, media_type: str, budget: Budget,
                 name: str = "") -> Iterator[Iterable[Member]]:
    """The entries of the archive at ``path`` (``media_type`` as sniffed), in stored order.

    For a ZIP the entries come as a list and each stays readable until the context ends (so
    a caller may take sidecars first); for streams (TAR, compressed files) they come one by
    one and a member's data is readable only until the next is asked for. ``name`` is the
    archive's own file name (the member name of a single compressed file). Iterating may
    raise ``ArchiveError``, and so may leaving the context: bytes of a ZIP that no member
    covers are found on opening but reported once its members are checked (what they hold is
    known then; the archive is an error either way), as a TAR's bad end is found after its
    last member."""
    if media_type in UNSUPPORTED:
        raise ArchiveError(f"{UNSUPPORTED[media_type]} archives cannot be looked inside: "
                           "extract them and scan the contents")
    if media_type == ZIP:
        with _open_zip(path) as zf:
            members = _zip_members(zf, budget)
            uncovered = _check_layout(zf)
            yield members
        if uncovered:
            raise ArchiveError(uncovered)
        return
    if media_type != TAR and media_type not in COMPRESSED:
        raise ArchiveError(f"not an archive type we read ({media_type})")
    if not isinstance(path, str):  # an open binary file (the fuzz harness)
        yield _stream_members(path, media_type, budget, name)
        return
    with open(path, "rb") as raw:
        yield _stream_members(raw, media_type, budget, name)


def _stream_members(raw: BinaryIO, media_type: str, budget: Budget,
                    name: str) -> Iterator[Member]:
    if media_type == TAR:
        yield from _tar_members(raw, budget, raw.tell)
        return
    stream = _decompressor(media_type, raw)
    try:
        head = _read_exact(stream, 512)
    except (OSError, EOFError, lzma.LZMAError, ValueError) as exc:
        raise ArchiveError(f"cannot decompress: {exc}") from None
    joined = _Prefixed(head, stream)
    if _tar(head):
        yield from _tar_members(joined, budget, raw.tell)  # type: ignore[arg-type]
        return
    member = Member(_single_name(name, media_type), "file")
    budget.count_member()
    member.opener = lambda: _TarData(Counted(joined, member, budget, raw.tell))
    yield member


def _single_name(name: str, media_type: str) -> str:
    stem, ext = os.path.splitext(os.path.basename(name))
    return {".tgz": stem + ".tar", ".tbz2": stem + ".tar", ".txz": stem + ".tar",
            ".tzst": stem + ".tar"}.get(ext.lower(), stem if ext else name + ".out")


def _decompressor(media_type: str, raw: BinaryIO) -> BinaryIO:
    if media_type == GZIP:
        return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    if media_type == BZIP2:
        return bz2.BZ2File(raw, "rb")  # type: ignore[return-value]
    if media_type == XZ:
        return lzma.LZMAFile(raw, "rb")  # type: ignore[return-value]
    try:
        import zstandard
    except ImportError:
        raise ArchiveError("zstd support (the zstandard package) is not installed") from None
    reader: BinaryIO = zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True)
    return reader


def _decompressed(stream: BinaryIO, n: int) -> bytes:
    """Up to ``n`` bytes from a decompressor. Each library has its own error types for damaged
    input (zlib.error, lzma.LZMAError, zstandard.ZstdError, EOFError, OSError...): all mean the
    stream cannot be read past here, which is an archive error, never a crash."""
    try:
        return stream.read(n) or b""
    except (ArchiveError, MemberError):
        raise
    except Exception as exc:  # noqa: BLE001 - see above
        raise ArchiveError(f"cannot decompress: {type(exc).__name__}: {exc}") from None


def _read_exact(fh: BinaryIO, n: int) -> bytes:
    out = b""
    while len(out) < n:
        data = _decompressed(fh, n - len(out))
        if not data:
            break
        out += data
    return out


class _Prefixed(io.RawIOBase):
    """Bytes already read (to recognise a tar inside a compressed stream), then the rest."""

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        self.head, self.rest = head, rest

    def readable(self) -> bool:
        return True

    def readinto(self, buf: memoryview) -> int:  # type: ignore[override]
        if self.head:
            n = min(len(buf), len(self.head))
            buf[:n] = self.head[:n]
            self.head = self.head[n:]
            return n
        data = _decompressed(self.rest, len(buf))
        buf[:len(data)] = data
        return len(data)


def _is_dir(info: zipfile.ZipInfo) -> bool:
    return info.filename.endswith("/")  # ZipInfo.is_dir() fails on an empty name


@contextlib.contextmanager
def _open_zip(path: str | BinaryIO) -> Iterator[zipfile.ZipFile]:
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError) as exc:
        raise ArchiveError(f"damaged ZIP: {exc}") from None
    with zf:
        yield zf


def _zip_members(zf: zipfile.ZipFile, budget: Budget) -> list[Member]:
    infos = zf.infolist()
    if len(infos) + budget.members > budget.limits.max_members:
        raise ArchiveError(f"{len(infos):,} members: over the limit of "
                           f"{budget.limits.max_members:,}")
    out = []
    for info in infos:
        budget.count_member()
        if _is_dir(info):
            out.append(Member(info.filename, "dir"))
            continue
        member = Member(info.filename, "file", info.file_size, info.compress_size)
        mode = info.external_attr >> 16
        if mode and stat.S_ISLNK(mode):
            # Only the mode says "symlink"; Python's extractall, 7-Zip on Windows and others
            # write such an entry as a regular file holding its bytes, so they are checked.
            member.note = ("stored as a symbolic link: its bytes are checked as a file "
                           "(extractors without link support write them out as one)")
        if info.flag_bits & 0x1:
            member.problem = "encrypted: cannot be checked"
        elif info.compress_type not in ZIP_METHODS:
            member.problem = (f"compression method {info.compress_type} is not supported: "
                              "cannot be checked")
        else:
            member.opener = _zip_opener(zf, info, member, budget)
        out.append(member)
    return out


def _zip_opener(zf: zipfile.ZipFile, info: zipfile.ZipInfo, member: Member,
                budget: Budget) -> Callable[[], io.RawIOBase]:
    def opener() -> io.RawIOBase:
        try:
            inner = zf.open(info)
        except (zipfile.BadZipFile, NotImplementedError, RuntimeError, OSError) as exc:
            raise MemberError(f"cannot open: {exc}") from None
        return Counted(inner, member, budget)
    return opener


def _check_layout(zf: zipfile.ZipFile) -> str | None:
    """Every byte of a ZIP must belong to a member (local header, data, data descriptor), to
    the central directory or to the end records. Extractors find members differently (most by
    the central directory at the end, streaming ones by walking local headers from the start),
    so bytes none of ours covers (a whole other ZIP in front, data appended after the end
    record, a gap between members) may be members to another tool: they are reported, never
    passed over. Members whose data overlap are how the densest zip bombs work: real
    archivers never write them, and nothing is read (``ArchiveError``). Returns what is not
    covered, or None."""
    fp = zf.fp
    start_dir = getattr(zf, "start_dir", None)  # where zipfile found the central directory
    if fp is None or not isinstance(start_dir, int):
        raise ArchiveError("damaged ZIP: its layout cannot be checked")
    try:
        size = fp.seek(0, os.SEEK_END)
        spans = sorted(_zip_span(fp, info) for info in zf.infolist())
        fp.seek(0)
        pos = 4 if fp.read(4) in SPAN_MARKERS else 0
        fp.seek(max(size - 22 - 0xFFFF, 0))
        tail = fp.read()
    except (OSError, ValueError, struct.error) as exc:
        raise ArchiveError(f"damaged ZIP: {exc}") from None
    uncovered, slack = 0, 0  # slack: a data descriptor may follow the member before
    for start, end, descriptor in [*spans, (start_dir, start_dir, 0)]:
        if start < pos:
            raise ArchiveError("members overlap in the file (a zip bomb or a damaged archive)")
        if start - pos > slack:
            uncovered += start - pos
        pos, slack = end, descriptor
    at = tail.rfind(ZIP_END)  # the end record zipfile read (it searches the same way)
    after = len(tail) - (at + 22 + int.from_bytes(tail[at + 20:at + 22], "little")) \
        if at >= 0 and len(tail) >= at + 22 else 0
    problems = []
    if uncovered:
        problems.append(f"{uncovered:,} bytes not covered by any member (another archive "
                        "in front, or data between members): not checked")
    if after > 0:
        problems.append(f"data after the end of the archive: {after:,} bytes not checked")
    return "; ".join(problems) or None


def _zip_span(fp: IO[bytes], info: zipfile.ZipInfo) -> tuple[int, int, int]:
    """Where a member lies: start of its local header, end of its data, and how long a data
    descriptor after it may be. The local header says how long its name and extra field are;
    when the sizes are not deferred to a descriptor it must agree with the central directory
    (a streaming extractor goes by the local header)."""
    if info.header_offset < 0:
        raise ArchiveError(f"damaged ZIP: {info.filename!r} lies outside the file")
    fp.seek(info.header_offset)
    head = fp.read(LOCAL_HEADER.size)
    if len(head) < LOCAL_HEADER.size or head[:4] != b"PK\x03\x04":
        raise ArchiveError(f"damaged ZIP: no local header for {info.filename!r}")
    _, _, flags, _, _, _, _, csize, usize, nlen, elen = LOCAL_HEADER.unpack(head)
    deferred = bool(flags & 0x08)
    if not deferred and 0xFFFFFFFF not in (csize, usize) and \
            (csize, usize) != (info.compress_size, info.file_size):
        raise ArchiveError(f"damaged ZIP: the local header of {info.filename!r} and the "
                           "central directory give different sizes (extractors would "
                           "disagree on its content)")
    end = info.header_offset + LOCAL_HEADER.size + nlen + elen + info.compress_size
    return info.header_offset, end, DESCRIPTOR_MAX if deferred else 0


def _tar_members(fh: BinaryIO, budget: Budget, raw_pos: Callable[[], int]) -> Iterator[Member]:
    tap = _Tap(fh)
    try:
        tf = tarfile.open(fileobj=tap, mode="r|")
    except (tarfile.TarError, OSError, EOFError, ValueError, lzma.LZMAError) as exc:
        raise ArchiveError(f"damaged TAR: {exc}") from None
    with tf:
        while True:
            try:
                info = tf.next()
            except (tarfile.TarError, OSError, EOFError, ValueError, lzma.LZMAError) as exc:
                raise ArchiveError(f"damaged or truncated TAR after {budget.members} "
                                   f"member(s): {exc}") from None
            if info is None:
                _check_tar_end(tap, tf.offset, budget, raw_pos)
                return
            budget.count_member()
            if info.isdir():
                yield Member(info.name, "dir")
            elif info.issym() or info.islnk():
                yield Member(info.name, "link", 0)
            elif info.isdev():  # character or block device, FIFO: no data of their own
                yield Member(info.name, "special", 0)
            else:
                member = Member(info.name, "file", info.size)
                if not info.isreg():
                    # GNU tar (and tarfile) extract an entry of a type they do not know as a
                    # regular file with its data: so it is read as one.
                    kind = info.type.decode("latin-1")
                    member.note = (f"TAR entry type {kind!r} is not a known type: read as a "
                                   "regular file (GNU tar extracts it as one)")
                member.opener = _tar_opener(tf, info, member, budget, raw_pos)
                yield member


class _Tap(io.RawIOBase):
    """A TAR stream as tarfile reads it, the last bytes handed over kept. tarfile takes a
    header it cannot read (bad checksum, cut short) after the first as the end of the archive,
    without a word; the bytes where it stopped are looked at again (``_check_tar_end``)."""

    KEEP = 8 * tarfile.RECORDSIZE  # tarfile reads ahead at most one record past a header

    def __init__(self, inner: BinaryIO | io.RawIOBase) -> None:
        self.inner = inner
        self.pos = 0  # bytes handed over
        self.kept = bytearray()  # the last of them, ending at ``pos``

    def readable(self) -> bool:
        return True

    def readinto(self, buf: memoryview) -> int:  # type: ignore[override]
        data = self.inner.read(len(buf)) or b""
        n = len(data)
        buf[:n] = data
        self.pos += n
        self.kept += data
        if len(self.kept) > 2 * self.KEEP:
            del self.kept[:-self.KEEP]
        return n

    def since(self, offset: int) -> bytes | None:
        """The bytes handed over from ``offset`` on (b"" past the end), None if no longer
        kept."""
        first = self.pos - len(self.kept)
        if offset < first:
            return None
        return bytes(self.kept[offset - first:])


def _check_tar_end(tap: _Tap, offset: int, budget: Budget, raw_pos: Callable[[], int]) -> None:
    """Where tarfile stopped (``offset``) must be the end of the archive: a zero block, then
    nothing but zeros. GNU tar reports a header that does not check out ("Skipping to next
    header") and a stream that ends early, and reads what follows; another archive appended
    after the end is extracted by ``tar -i`` and others. So anything else is an error naming
    the bytes that were not checked."""
    head = tap.since(offset)
    if head is None:
        raise ArchiveError("the end of the TAR could not be checked")
    if offset > tap.pos:
        raise ArchiveError(f"truncated TAR: it ends {offset - tap.pos:,} bytes into the "
                           "data of its last member")
    marker = Member("(end of archive)", "file")  # the rest is counted against the limits
    rest = Counted(tap, marker, budget, raw_pos)
    block = head[:tarfile.BLOCKSIZE]
    while len(block) < tarfile.BLOCKSIZE:
        more = _more(rest, tarfile.BLOCKSIZE - len(block))
        if not more:
            break
        block += more
    if not block:
        raise ArchiveError("truncated TAR: it ends without the end-of-archive marker")
    after = head[len(block):]
    if block.count(0) != len(block):
        raise ArchiveError(f"damaged or truncated TAR: the header at byte {offset:,} (after "
                           f"{budget.members} member(s)) is not valid: "
                           f"{_count_rest(len(block) + len(after), rest):,} bytes not checked")
    for chunk in _chunks(after, rest):
        data = chunk.lstrip(b"\0")
        if data:
            raise ArchiveError("data after the end of the archive: "
                               f"{_count_rest(len(data), rest):,} bytes not checked")


def _chunks(kept: bytes, rest: Counted) -> Iterator[bytes]:
    if kept:
        yield kept
    while chunk := _more(rest, CHUNK):
        yield chunk


def _more(rest: Counted, n: int) -> bytes:
    try:
        return rest.read(n) or b""
    except MemberError as exc:
        raise ArchiveError(f"after the end of the TAR: {exc}") from None


def _count_rest(seen: int, rest: Counted) -> int:
    """``seen`` bytes and all that is left after them (read through, within the limits)."""
    n = seen
    try:
        while chunk := _more(rest, CHUNK):
            n += len(chunk)
    except ArchiveError:
        pass  # the count is then a lower bound; the archive is an error anyway
    return n


def _tar_opener(tf: tarfile.TarFile, info: tarfile.TarInfo, member: Member, budget: Budget,
                raw_pos: Callable[[], int]) -> Callable[[], io.RawIOBase]:
    def opener() -> io.RawIOBase:
        inner = tf.extractfile(info)
        if inner is None:
            raise MemberError("no data")
        return _TarData(Counted(inner, member, budget, raw_pos))
    return opener


class _TarData(io.RawIOBase):
    """A tar member's data: a stream that ends early is a damaged archive, not a short file."""

    def __init__(self, inner: Counted) -> None:
        self.inner = inner

    def readable(self) -> bool:
        return True

    def readinto(self, buf: memoryview) -> int:  # type: ignore[override]
        try:
            return self.inner.readinto(buf)
        except (tarfile.TarError, EOFError, lzma.LZMAError) as exc:
            raise MemberError(f"damaged or truncated: {exc}") from None
