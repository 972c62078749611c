"""PNG: recognition, the chunk walk, and what reads it — text chunks wherever they sit (before
*or after* IDAT), eXIf, XMP; the C2PA carriers (``caBX``, XMP ``dcterms:provenance``); the
dimensions from IHDR.

Why not Pillow: ``Image.info`` only has chunks before IDAT, and ``.text``/``getexif()`` decode the
whole image to reach the rest (~95 ms at 12 MP). Here IDAT is skipped by seeking over it: only
chunk headers and metadata chunks are read. zTXt/iTXt are inflated with a hard output bound.
The metadata reader and the C2PA visitor walk the same chunks (``chunks``).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

from detectors.formats import c2pa_locate as c2pa
from detectors.formats.exif import parse_tiff
from detectors.formats.native import (
    INFLATE_LIMIT,
    INFLATE_TOTAL,
    Collector,
    FormatError,
    Source,
    hexoff,
    inflate,
    latin1,
    text,
    utf8,
)
from detectors.formats.registry import Format
from detectors.formats.xmp import parse_xmp

SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Real PNGs have a few thousand chunks (APNG: two per frame); headers past the first 64 KiB
# come through the reader's window; the walk stops past Source.max_units (200 000) chunks.
MAX_IDAT_SPANS = 200_000
C2PA_CHUNK = b"caBX"
XMP_KEY = b"XML:com.adobe.xmp\x00"
TEXT_CHUNKS = (b"tEXt", b"zTXt", b"iTXt")
XMP_KEYWORD = "XML:com.adobe.xmp"


def read_png(src: Source, out: Collector, stealth: bool = True) -> None:
    """Walk every chunk up to IEND; fields go to ``out``; IHDR/IDAT facts to ``out.facts``."""
    try:
        _walk(src, out)
    except FormatError as exc:
        out.problem(f"PNG: {exc}")
    if stealth and "png.ihdr" in out.facts:
        from detectors.formats.stealth import read_stealth
        read_stealth(src, out)


def chunks(src: Source) -> Iterator[tuple[int, bytes, int, int]]:
    """(offset, type, data offset, length) of every chunk from the signature through IEND;
    ``FormatError`` where the file stops being a well-formed chunk sequence."""
    if src.read(0, 8) != SIGNATURE:
        raise FormatError("no PNG signature")
    pos = 8
    while True:
        src.tick(what="chunks")
        header = src.read(pos, 8)
        if len(header) < 8:
            raise FormatError(f"truncated before IEND (file ends at {src.size}; "
                              f"chunks after offset {hexoff(pos)} are missing)")
        length, ctype = struct.unpack(">I4s", header)
        if length > 0x7FFFFFFF:
            raise FormatError(f"chunk {ctype!r} at {hexoff(pos)} has invalid length {length}")
        data_at = pos + 8
        end = data_at + length + 4
        if end > src.size:
            raise FormatError(f"chunk {ctype!r} at {hexoff(pos)} runs past the end of the file")
        if not ctype.isalpha():
            raise FormatError(f"chunk type {ctype!r} at {hexoff(pos)} is not a chunk type")
        yield pos, ctype, data_at, length
        if ctype == b"IEND":
            return
        pos = end


def _walk(src: Source, out: Collector) -> None:
    seen_idat = False
    idat: list[tuple[int, int]] = []
    out.facts["png.idat"] = idat
    for pos, ctype, data_at, length in chunks(src):
        if ctype == b"IDAT":
            seen_idat = True
            if len(idat) < MAX_IDAT_SPANS:
                idat.append((data_at, length))
        elif ctype == b"IHDR" and length >= 13:
            w, h, depth, color, _c, _f, interlace = struct.unpack(
                ">IIBBBBB", src.exact(data_at, 13, "IHDR"))
            out.facts["png.ihdr"] = {"width": w, "height": h, "depth": depth, "color": color,
                                     "interlace": interlace}
        elif ctype in TEXT_CHUNKS:
            _text_chunk(src, ctype, data_at, length, pos, seen_idat, out)
        elif ctype == b"eXIf":
            skip = 6 if src.read(data_at, 6) == b"Exif\x00\x00" else 0
            parse_tiff(src, data_at + skip, length - skip,
                       f"PNG eXIf chunk at {hexoff(pos)}{_after(seen_idat)}", out)


def c2pa_carriers(src: Source) -> tuple[str, str]:
    """Where c2pa-rs reads PNG: a ``caBX`` chunk anywhere before IEND (after IDAT too), and
    iTXt ``XML:com.adobe.xmp`` naming a remote manifest."""
    for pos, ctype, data_at, length in chunks(src):
        if ctype == C2PA_CHUNK:
            return c2pa.PRESENT, f"PNG caBX chunk at {pos:#x}"
        if ctype == b"iTXt" and src.read(data_at, len(XMP_KEY)) == XMP_KEY:
            data = src.value(data_at, length, "PNG iTXt XMP")
            if data[len(XMP_KEY):len(XMP_KEY) + 1] != b"\x00":
                return c2pa.MAYBE, f"PNG compressed XMP at {pos:#x}"
            if c2pa.remote(data):
                return c2pa.MAYBE, f"PNG XMP at {pos:#x} names a provenance (remote manifest)"
    return c2pa.ABSENT, "PNG: all chunks to IEND, no caBX"


def header_size(head: bytes) -> tuple[int, int, int] | None:
    """(width, height, 1) of a still PNG from IHDR, after walking the chunk headers in the
    head up to the first IDAT; None when a decoder must tell: an APNG (``acTL``, whose
    frames Pillow counts), or a walk that leaves the head before IDAT (an ``acTL`` or another
    IHDR may follow). ``FormatError`` on a second IHDR: Pillow takes the last one before
    IDAT, libpng refuses the file, so no IHDR is "the" size (a fake first IHDR of 8000×8000
    would otherwise hide a decodable 512×512 picture)."""
    if not head.startswith(SIGNATURE) or head[12:16] != b"IHDR":
        return None
    size: tuple[int, int, int] | None = None
    animated = False
    pos = 8
    while pos + 8 <= len(head):
        length, ctype = struct.unpack(">I4s", head[pos:pos + 8])
        if ctype in (b"IDAT", b"IEND"):
            return None if animated else size
        if ctype == b"IHDR":
            if size is not None:
                raise FormatError(f"second IHDR chunk at {hexoff(pos)}")
            if length < 13 or pos + 16 > len(head):
                return None
            size = (int.from_bytes(head[pos + 8:pos + 12], "big"),
                    int.from_bytes(head[pos + 12:pos + 16], "big"), 1)
        elif ctype == b"acTL":
            animated = True
        pos += 12 + length
    return None


def dimensions(head: bytes) -> tuple[int, int, int] | None:
    """(width, height, 1) of a still PNG (``header_size``), or None: an APNG, a header past
    the head, or one that contradicts itself (two IHDR chunks): ask a decoder."""
    try:
        return header_size(head)
    except FormatError:
        return None


def _after(seen_idat: bool) -> str:
    return " (after IDAT)" if seen_idat else ""


def _text_chunk(src: Source, ctype: bytes, data_at: int, length: int, pos: int, seen_idat: bool,
                out: Collector) -> None:
    data = src.exact(data_at, length, f"{ctype.decode()} chunk")
    name = ctype.decode()
    keyword_raw, sep, rest = data.partition(b"\x00")
    keyword = latin1(keyword_raw)
    where = f"PNG {name} chunk '{keyword}' at {hexoff(pos)}{_after(seen_idat)}"
    if not sep or not keyword:
        out.note(f"malformed {name} chunk at {hexoff(pos)} (no keyword)")
        return
    if ctype == b"tEXt":
        value = text(rest)
    elif ctype == b"zTXt":
        if not rest:
            out.note(f"empty {where}")
            return
        raw, complete = inflate(rest[1:], out=out)
        if not complete:
            out.problem(f"{where}: compressed text is corrupt or inflates past "
                        f"{INFLATE_LIMIT} bytes (or the file's {INFLATE_TOTAL}-byte total); "
                        f"read only the first {len(raw)} bytes")
        value = text(raw)
    else:  # iTXt
        if len(rest) < 2:
            out.note(f"malformed {where}")
            return
        compressed = rest[0] == 1
        lang, _, rest2 = rest[2:].partition(b"\x00")
        _translated, _, body = rest2.partition(b"\x00")
        if compressed:
            body, complete = inflate(body, out=out)
            if not complete:
                out.problem(f"{where}: compressed text is corrupt or inflates past "
                            f"{INFLATE_LIMIT} bytes (or the file's {INFLATE_TOTAL}-byte "
                            f"total); read only the first {len(body)} bytes")
        value = utf8(body)
    if keyword == XMP_KEYWORD:
        parse_xmp(value.encode("utf-8"), where, out)
        return
    if keyword.lower().startswith("raw profile type "):
        _raw_profile(keyword[17:].lower(), value, where, out)
        return
    out.add(f"png:text:{keyword}", value, where)


def _raw_profile(kind: str, value: str, where: str, out: Collector) -> None:
    """ImageMagick's hex-encoded profiles (``Raw profile type exif`` / ``xmp``)."""
    parts = value.strip().split("\n", 2)
    if len(parts) < 3:
        return
    try:
        raw = bytes.fromhex("".join(parts[2].split()))
    except ValueError:
        out.note(f"{where}: raw profile is not hex")
        return
    if kind == "xmp":
        parse_xmp(raw, where, out)
    elif kind in ("exif", "app1"):
        skip = 6 if raw.startswith(b"Exif\x00\x00") else 0
        parse_tiff(Source.from_bytes(raw), skip, len(raw) - skip, where, out)


FORMATS = [Format(
    id="png", label="PNG", kinds={"image/png": "image"}, priority=20,
    accept=lambda head: "image/png" if head.startswith(SIGNATURE) else None,
    extensions={".png": ("image/png",)}, read=read_png, c2pa=c2pa_carriers,
    dimensions=dimensions, raster=frozenset({"image/png"}),
)]
