"""Can this file hold a C2PA store? A cheap, bounded answer from the container's structure.

Why: almost no file in a delivery is signed, yet asking c2pa-python costs a Reader call per
file (~0.15-0.6 ms) and an import per process (~0.1 s). The C2PA detector asks this module first
and skips the Reader only on :data:`ABSENT`: the structure was walked to its end and holds none
of the places c2pa-rs (0.91) reads a manifest store or an XMP ``dcterms:provenance`` (remote
manifest) from. Everything else is :data:`MAYBE` or :data:`PRESENT` and the Reader decides:
an unknown container, a truncated or odd structure (the Reader must get the chance to report
it as an error), an exhausted budget, a read error. Never skip on doubt.

Where c2pa-rs looks, per container (mirrored below, checked against the real Reader in
``tests/test_c2pa_locate.py``):
- JPEG: APP11 JUMBF segments and APP1 XMP before the first SOS (img-parts treats everything
  after SOS as entropy data, so a segment there is never read).
- PNG: a ``caBX`` chunk anywhere before IEND (also after IDAT); iTXt ``XML:com.adobe.xmp``.
- RIFF (WAV, WebP, AVI): a ``C2PA`` / ``XMP `` chunk among the RIFF's children (also after
  ``data``/``movi``). RF64/BW64 are not read by c2pa-rs: maybe.
- ISO BMFF (MP4, MOV, M4A, HEIF, AVIF): a top-level ``uuid`` box (C2PA or XMP user type),
  wherever it sits (moov first or last, 64-bit sizes, sparse multi-GiB files: only box headers
  are read). Container boxes c2pa-rs parses are walked too, so its parse errors still surface.
- TIFF/DNG: tag 0xCD41 (C2PA) or 0x02BC (XMP) in any IFD of the chain or a SubIFD.
- GIF: a ``C2PA_GIF`` or ``XMP DataXMP`` application extension anywhere before the trailer.
- MP3 and FLAC: a GEOB/PRIV frame in the ID3v2 tag at the start of the file (the only tag
  c2pa-rs reads); a FLAC without one holds no C2PA for c2pa-rs.
- SVG, PDF and everything else: maybe (c2pa-rs parses those whole; its verdict is needed).
Sidecar ``.c2pa`` files are the detector's business (it always reads them).
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

ABSENT = "absent"  # structure fully walked: no store, no remote reference
PRESENT = "present"  # a C2PA carrier was found
MAYBE = "maybe"  # could not rule it out

BUDGET = 64 * 1024 * 1024  # bytes read past the pipeline's head
MAX_UNITS = 200_000  # chunks, boxes, segments, IFD entries, GIF blocks
VALUE_LIMIT = 16 * 1024 * 1024  # largest XMP packet or ID3 tag searched for a remote reference
MAX_DEPTH = 32
MAX_IFDS = 1024
_MIN_WINDOW = 4096
_MAX_WINDOW = 1024 * 1024

# Carriers (c2pa-rs asset handlers): the data this module is about.
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_C2PA = b"caBX"
PNG_XMP_KEY = b"XML:com.adobe.xmp\x00"
RIFF_C2PA = b"C2PA"
RIFF_XMP = b"XMP "
BMFF_C2PA_UUID = bytes.fromhex("d8fec3d61b0e483c92975828877ec481")
BMFF_XMP_UUID = bytes.fromhex("be7acfcb97a942e89c71999491e3afac")
# Boxes c2pa-rs descends into (``meta`` as a FullBox), so that their damage is seen here too.
BMFF_CONTAINERS = frozenset({b"moov", b"trak", b"mdia", b"minf", b"stbl", b"moof", b"traf",
                             b"edts", b"udta", b"dinf", b"tref", b"treg", b"mvex", b"mfra",
                             b"meta", b"schi"})
BMFF_FULL_BOXES = frozenset({b"meta"})
TIFF_C2PA_TAG = 0xCD41
TIFF_XMP_TAG = 0x02BC
TIFF_SUBIFDS_TAG = 0x014A
TIFF_TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8,
                   13: 4, 16: 8, 17: 8, 18: 8}
GIF_C2PA_APP = b"C2PA_GIF"
GIF_XMP_APP = b"XMP Data"
JPEG_APP11 = 0xEB
JPEG_APP1 = 0xE1
JPEG_SOS = 0xDA
JPEG_EOI = 0xD9
JPEG_NO_LENGTH = frozenset({0x01, *range(0xD0, 0xD9)})  # TEM, RST0-7, SOI
JPEG_C2PA_LABEL = b"c2pa"  # JUMBF description type at bytes 24..28 of the APP11 payload
# In an ID3v2 tag: the GEOB frame (GEO in v2.2) that carries a store, the PRIV "XMP" frame,
# and the store's MIME types; frame IDs stay readable under unsynchronisation and compression.
ID3_NEEDLES = (b"GEO", b"PRIV", b"XMP", b"c2pa")
ID3_C2PA_MIMES = (b"application/c2pa", b"application/x-c2pa-manifest-store")
# XMP dcterms:provenance (a remote manifest URL), in UTF-8 and UTF-16 packets.
REMOTE_NEEDLES = (b"provenance", "provenance".encode("utf-16-le"),
                  "provenance".encode("utf-16-be"))


@dataclass(frozen=True)
class Located:
    state: str  # ABSENT | PRESENT | MAYBE
    why: str  # what was found, or why it could not be ruled out
    bytes_read: int = 0  # read from the file beyond the head


class _Doubt(Exception):
    """The structure could not be walked to its end: the Reader must decide."""


class _File:
    """Bounded random access: the pipeline's head for free, then windows of the file that grow
    while reads are sequential (dense chunks) and shrink after a jump (skipped essence)."""

    def __init__(self, size: int, head: bytes, opener: Callable[[], Any] | None) -> None:
        self.size = size
        self.head = head
        self._opener = opener
        self._fh: Any = None
        self._buf = b""
        self._at = 0
        self._window = _MIN_WINDOW
        self.bytes_read = 0
        self.units = 0

    def tick(self, n: int = 1) -> None:
        self.units += n
        if self.units > MAX_UNITS:
            raise _Doubt(f"more than {MAX_UNITS} structure units")

    def get(self, off: int, n: int) -> bytes:
        """Up to ``n`` bytes at ``off`` (short only at the end of the file)."""
        n = min(n, self.size - off)
        if n <= 0 or off < 0:
            return b""
        if off + n <= len(self.head):
            return self.head[off:off + n]
        rel = off - self._at
        if 0 <= rel and rel + n <= len(self._buf):
            return self._buf[rel:rel + n]
        near = 0 <= rel <= len(self._buf) + self._window
        self._window = min(self._window * 2, _MAX_WINDOW) if near else _MIN_WINDOW
        want = min(max(n, self._window), self.size - off)
        if self.bytes_read + want > BUDGET:
            raise _Doubt(f"read budget of {BUDGET} bytes exhausted")
        if self._fh is None:
            if self._opener is None:
                raise _Doubt(f"read past the data at {off:#x}")
            self._fh = self._opener()
            if os.fstat(self._fh.fileno()).st_size != self.size:
                raise _Doubt("the file changed size since it was listed")
        self._buf = os.pread(self._fh.fileno(), want, off)
        self._at = off
        self.bytes_read += len(self._buf)
        return self._buf[:n]

    def exact(self, off: int, n: int, what: str) -> bytes:
        data = self.get(off, n)
        if len(data) != n:
            raise _Doubt(f"{what} truncated at {off:#x}")
        return data

    def value(self, off: int, n: int, what: str) -> bytes:
        """A metadata value searched for a remote reference (bounded)."""
        if n > VALUE_LIMIT:
            raise _Doubt(f"{what} of {n} bytes at {off:#x} is over the search limit")
        return self.exact(off, n, what)

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


Result = tuple[str, str]


def _remote(data: bytes) -> bool:
    return any(needle in data for needle in REMOTE_NEEDLES)


# ------------------------------------------------------------------------------------------
# Walkers: each returns (state, why) or raises _Doubt.


def _jpeg(f: _File) -> Result:
    if f.get(0, 3) != b"\xff\xd8\xff":
        raise _Doubt("no JPEG SOI marker")
    pos, segments = 2, 0
    while True:
        f.tick()
        if f.exact(pos, 1, "JPEG marker")[0] != 0xFF:
            raise _Doubt(f"bytes between JPEG segments at {pos:#x}")
        marker = 0xFF
        while marker == 0xFF:  # fill bytes
            pos += 1
            marker = f.exact(pos, 1, "JPEG marker")[0]
        pos += 1
        if marker == JPEG_EOI:
            if not segments:
                raise _Doubt("JPEG without segments")
            return ABSENT, f"JPEG: {segments} segments to EOI, no APP11"
        segments += 1
        if marker in JPEG_NO_LENGTH:
            continue
        if marker == 0x00:
            raise _Doubt(f"JPEG marker 0x00 at {pos - 1:#x}")
        length = int.from_bytes(f.exact(pos, 2, "JPEG segment length"), "big")
        end = pos + length
        if length < 2 or end > f.size:
            raise _Doubt(f"JPEG segment at {pos - 2:#x} truncated or malformed")
        if marker == JPEG_APP11:
            label = f.get(pos + 2 + 24, 4) if length - 2 > 28 else b""
            state = PRESENT if label == JPEG_C2PA_LABEL else MAYBE
            return state, f"JPEG APP11 (JUMBF) segment at {pos - 2:#x}"
        if marker == JPEG_APP1 and _remote(f.exact(pos + 2, length - 2, "JPEG APP1")):
            return MAYBE, f"JPEG APP1 at {pos - 2:#x} names a provenance (remote manifest)"
        pos = end
        if marker == JPEG_SOS:
            if pos >= f.size:
                raise _Doubt("JPEG ends right after SOS")
            return ABSENT, f"JPEG: {segments} segments to SOS, no APP11"


def _png(f: _File) -> Result:
    if f.get(0, 8) != PNG_SIGNATURE:
        raise _Doubt("no PNG signature")
    pos = 8
    while True:
        f.tick()
        length, ctype = struct.unpack(">I4s", f.exact(pos, 8, "PNG chunk header"))
        end = pos + 12 + length
        if not ctype.isalpha() or end > f.size:
            raise _Doubt(f"PNG chunk at {pos:#x} truncated or malformed")
        if ctype == PNG_C2PA:
            return PRESENT, f"PNG caBX chunk at {pos:#x}"
        if ctype == b"iTXt" and f.get(pos + 8, len(PNG_XMP_KEY)) == PNG_XMP_KEY:
            data = f.value(pos + 8, length, "PNG iTXt XMP")
            if data[len(PNG_XMP_KEY):len(PNG_XMP_KEY) + 1] != b"\x00":
                return MAYBE, f"PNG compressed XMP at {pos:#x}"
            if _remote(data):
                return MAYBE, f"PNG XMP at {pos:#x} names a provenance (remote manifest)"
        if ctype == b"IEND":
            return ABSENT, "PNG: all chunks to IEND, no caBX"
        pos = end


def _riff(f: _File) -> Result:
    form, size = struct.unpack("<4sI", f.exact(0, 8, "RIFF header"))
    if form != b"RIFF":
        raise _Doubt(f"{form!r} container (c2pa-rs reads RIFF only)")
    end = 8 + size
    if end > f.size or size < 4:
        raise _Doubt("RIFF size past the end of the file")
    pos = 12
    while pos < end:
        f.tick()
        cid, n = struct.unpack("<4sI", f.exact(pos, 8, "RIFF chunk header"))
        data_end = pos + 8 + n
        if data_end > end:
            raise _Doubt(f"RIFF chunk at {pos:#x} runs past its parent")
        if cid == RIFF_C2PA:
            return PRESENT, f"RIFF C2PA chunk at {pos:#x}"
        if cid == RIFF_XMP and _remote(f.value(pos + 8, n, "RIFF XMP chunk")):
            return MAYBE, f"RIFF XMP chunk at {pos:#x} names a provenance (remote manifest)"
        pos = data_end + (n & 1)
    return ABSENT, "RIFF: all chunks walked, no C2PA chunk"


def _bmff(f: _File) -> Result:
    return _boxes(f, 0, f.size, 0) or (ABSENT, "BMFF: all top-level boxes walked, no C2PA uuid")


def _boxes(f: _File, start: int, end: int, depth: int) -> Result | None:
    pos = start
    while pos < end:
        f.tick()
        size, btype = struct.unpack(">I4s", f.exact(pos, 8, "BMFF box header"))
        hlen = 8
        if size == 1:
            size = int.from_bytes(f.exact(pos + 8, 8, "BMFF large size"), "big")
            hlen = 16
        elif size == 0 and depth == 0 and btype != b"uuid":
            return None  # runs to the end of the file; c2pa-rs stops here too
        if size < hlen:
            raise _Doubt(f"BMFF box {btype!r} at {pos:#x} has size {size}")
        box_end = pos + size
        if depth and box_end > end:
            # A child overrunning its parent (e.g. a QuickTime ``meta`` read as a FullBox):
            # c2pa-rs resumes after the parent, and reads C2PA only from top-level boxes.
            return None
        if box_end > f.size:
            raise _Doubt(f"BMFF box {btype!r} at {pos:#x} runs past the end of the file")
        if btype == b"uuid":
            if size < hlen + 16:
                raise _Doubt(f"BMFF uuid box at {pos:#x} too small")
            user = f.exact(pos + hlen, 16, "BMFF uuid")
            if user == BMFF_C2PA_UUID:
                return PRESENT, f"BMFF C2PA uuid box at {pos:#x}"
            if user == BMFF_XMP_UUID and _remote(
                    f.value(pos + hlen + 16, size - hlen - 16, "BMFF XMP box")):
                return MAYBE, f"BMFF XMP box at {pos:#x} names a provenance (remote manifest)"
        elif btype in BMFF_CONTAINERS:
            if depth >= MAX_DEPTH:
                raise _Doubt(f"BMFF nesting deeper than {MAX_DEPTH}")
            inner = pos + hlen + (4 if btype in BMFF_FULL_BOXES else 0)
            found = _boxes(f, inner, box_end, depth + 1)
            if found:
                return found
        pos = box_end
    return None


def _tiff(f: _File) -> Result:
    head = f.exact(0, 8, "TIFF header")
    order = {b"II": "<", b"MM": ">"}.get(head[:2])
    if order is None:
        raise _Doubt("no TIFF byte order")
    magic = struct.unpack(order + "H", head[2:4])[0]
    if magic == 42:
        big, first = False, struct.unpack(order + "I", head[4:8])[0]
    elif magic == 43:
        big = True
        first = struct.unpack(order + "Q", f.exact(8, 8, "BigTIFF header"))[0]
    else:
        raise _Doubt(f"TIFF magic {magic}")
    if not first:
        raise _Doubt("TIFF without an IFD")
    count_fmt, count_len = ("Q", 8) if big else ("H", 2)
    entry_fmt, entry_len, inline = ("HHQ8s", 20, 8) if big else ("HHI4s", 12, 4)
    offset_fmt = "Q" if big else "I"
    queue, seen = [first], set()
    while queue:
        ifd = queue.pop()
        if ifd in seen or len(seen) >= MAX_IFDS:
            raise _Doubt(f"TIFF IFD loop or over {MAX_IFDS} IFDs")
        seen.add(ifd)
        count = struct.unpack(order + count_fmt, f.exact(ifd, count_len, "TIFF IFD"))[0]
        f.tick(count + 1)
        table = f.exact(ifd + count_len, count * entry_len + inline, "TIFF IFD entries")
        for i in range(count):
            tag, typ, n, raw = struct.unpack(order + entry_fmt,
                                             table[i * entry_len:(i + 1) * entry_len])
            if tag == TIFF_C2PA_TAG:
                return PRESENT, f"TIFF C2PA tag in the IFD at {ifd:#x}"
            width = TIFF_TYPE_SIZES.get(typ)
            if width is None:
                raise _Doubt(f"TIFF tag {tag:#x} of unknown type {typ}")
            nbytes = width * n
            at = ifd + count_len + i * entry_len + entry_len - inline
            if nbytes > inline:
                at = struct.unpack(order + offset_fmt, raw)[0]
                if at + nbytes > f.size:
                    raise _Doubt(f"TIFF tag {tag:#x} value past the end of the file")
            if tag == TIFF_XMP_TAG and _remote(f.value(at, nbytes, "TIFF XMP")):
                return MAYBE, "TIFF XMP names a provenance (remote manifest)"
            if tag == TIFF_SUBIFDS_TAG and width in (4, 8):
                data = f.exact(at, nbytes, "TIFF SubIFDs")
                queue.extend(struct.unpack(order + ("I" if width == 4 else "Q") * n, data))
        nxt = struct.unpack(order + offset_fmt, table[count * entry_len:])[0]
        if nxt:
            queue.append(nxt)
    return ABSENT, f"TIFF: {len(seen)} IFDs walked, no C2PA tag"


def _gif_blocks(f: _File, pos: int) -> int:
    """Skip a chain of data sub-blocks; returns the position after its terminator."""
    while True:
        f.tick()
        n = f.exact(pos, 1, "GIF sub-block")[0]
        pos += 1 + n
        if n == 0:
            return pos


def _gif(f: _File) -> Result:
    head = f.exact(0, 13, "GIF header")
    if head[:6] not in (b"GIF87a", b"GIF89a"):
        raise _Doubt("no GIF signature")
    pos = 13 + (3 << ((head[10] & 7) + 1) if head[10] & 0x80 else 0)
    while True:
        f.tick()
        kind = f.exact(pos, 1, "GIF block")[0]
        if kind == 0x3B:
            return ABSENT, "GIF: all blocks to the trailer, no C2PA_GIF"
        if kind == 0x21:
            label = f.exact(pos + 1, 1, "GIF extension")[0]
            pos += 2
            if label != 0xFF:
                pos = _gif_blocks(f, pos)
                continue
            n = f.exact(pos, 1, "GIF application extension")[0]
            app = f.exact(pos + 1, n, "GIF application identifier")
            if app[:8] == GIF_C2PA_APP:
                return PRESENT, f"GIF C2PA_GIF extension at {pos - 2:#x}"
            data_at = pos + 1 + n
            pos = _gif_blocks(f, data_at)
            if app[:8] == GIF_XMP_APP and _remote(f.value(data_at, pos - data_at, "GIF XMP")):
                return MAYBE, "GIF XMP names a provenance (remote manifest)"
        elif kind == 0x2C:
            flags = f.exact(pos + 9, 1, "GIF image descriptor")[0]
            pos += 10 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)
            pos = _gif_blocks(f, pos + 1)  # after the LZW minimum code size
        else:
            raise _Doubt(f"GIF block {kind:#x} at {pos:#x}")


def _id3(f: _File, flac: bool = False) -> Result:
    head = f.get(0, 10)
    if head[:3] != b"ID3":
        return ABSENT, "no ID3v2 tag at the start (the only place c2pa-rs reads)"
    if len(head) < 10 or head[3] not in (2, 3, 4) or any(b & 0x80 for b in head[6:10]):
        raise _Doubt("malformed ID3v2 header")
    size = head[6] << 21 | head[7] << 14 | head[8] << 7 | head[9]  # syncsafe
    tag = f.value(10, size, "ID3v2 tag")
    if any(mime in tag for mime in ID3_C2PA_MIMES):
        return PRESENT, "ID3v2 tag with a C2PA GEOB frame"
    for needle in (*ID3_NEEDLES, *REMOTE_NEEDLES):
        if needle in tag:
            return MAYBE, f"ID3v2 tag holds {needle!r} (GEOB/PRIV frames are read by c2pa-rs)"
    if flac and f.get(10 + size, 4) != b"fLaC":
        raise _Doubt("no fLaC stream after the ID3v2 tag")
    return ABSENT, "ID3v2 tag without GEOB/PRIV/XMP frames"


def _heif(f: _File) -> Result:
    """HEIF/AVIF: c2pa-rs also parses the item tables (``meta``/``iloc``) and reports a damaged
    one as unreadable C2PA; walking top-level boxes cannot promise that, so let the Reader judge
    (found by fuzzing: a truncated ``iloc`` the locator called absent)."""
    found = _bmff(f)
    return found if found[0] == PRESENT else (MAYBE, "HEIF/AVIF item tables: the Reader decides")


def _flac(f: _File) -> Result:
    if f.get(0, 4) == b"fLaC":
        return ABSENT, "FLAC without a leading ID3v2 tag (the only place c2pa-rs reads)"
    return _id3(f, flac=True)


# Sniffed media type → walker of the container c2pa-rs reads it as. Absent here = maybe.
WALKERS: dict[str, Callable[[_File], Result]] = {
    "image/jpeg": _jpeg,
    "image/png": _png,
    "image/webp": _riff, "audio/wav": _riff, "video/x-msvideo": _riff,
    "video/mp4": _bmff, "video/quicktime": _bmff, "audio/mp4": _bmff,
    "image/heic": _heif, "image/heif": _heif, "image/avif": _heif,
    "image/tiff": _tiff,
    "image/gif": _gif,
    "audio/mpeg": _id3,
    "audio/flac": _flac,
}


def locate(media_type: str, size: int, head: bytes,
           opener: Callable[[], Any] | None = None) -> Located:
    """Whether a file of ``media_type`` (sniffed from content) can hold a C2PA store or a remote
    manifest reference. ``head`` is the start of the file, ``opener`` opens it read-only for
    reads beyond it. Never raises for a malformed or unreadable file: that is :data:`MAYBE`."""
    walker = WALKERS.get(media_type)
    if walker is None:
        return Located(MAYBE, f"no structure walker for {media_type}")
    f = _File(size, head, opener)
    try:
        state, why = walker(f)
    except _Doubt as exc:
        state, why = MAYBE, str(exc)
    except OSError as exc:
        state, why = MAYBE, f"read error: {exc}"
    finally:
        f.close()
    return Located(state, why, f.bytes_read)


def locate_bytes(media_type: str, data: bytes) -> Located:
    """:func:`locate` on bytes in memory (tests, tools)."""
    return locate(media_type, len(data), data)
