"""JPEG: recognition, the marker walk, and what reads it — APP1 EXIF, APP1 XMP (standard and
extended), COM; the C2PA carriers (APP11 JUMBF, APP1 XMP naming a remote manifest); the
dimensions from the SOF header.

Stops at SOS: metadata segments precede the entropy-coded data, which is never read (c2pa-rs
treats everything after SOS as entropy data too). Extended XMP
(``http://ns.adobe.com/xmp/extension/``) is reassembled per GUID and bounded. The metadata
reader and the C2PA visitor walk the same segments (``segments``).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

from detectors.formats import c2pa_locate as c2pa
from detectors.formats.exif import parse_tiff
from detectors.formats.native import Collector, FormatError, Source, hexoff, text
from detectors.formats.registry import Format
from detectors.formats.xmp import MAX_PACKET, parse_xmp

EXIF_ID = b"Exif\x00"
XMP_ID = b"http://ns.adobe.com/xap/1.0/\x00"
XMP_EXT_ID = b"http://ns.adobe.com/xmp/extension/\x00"
SOS, EOI, APP1, APP11, COM = 0xDA, 0xD9, 0xE1, 0xEB, 0xFE
NO_LENGTH = frozenset({0x01, *range(0xD0, 0xD9)})  # TEM, RST0-7, SOI
JUMBF_C2PA = b"c2pa"  # JUMBF description type at bytes 24..28 of an APP11 payload
_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def read_jpeg(src: Source, out: Collector) -> None:
    try:
        _walk(src, out)
    except FormatError as exc:
        out.problem(f"JPEG: {exc}")


def segments(src: Source) -> Iterator[tuple[int, int, int, int]]:
    """(offset, marker code, body offset, body length) of every marker from SOI through the
    first SOS or EOI (those included, then the walk ends); ``FormatError`` where the file
    stops being a marker sequence."""
    if src.read(0, 2) != b"\xff\xd8":
        raise FormatError("no SOI marker")
    pos = 2
    while True:
        src.tick(what="segments")
        marker = src.read(pos, 2)
        if len(marker) < 2:
            raise FormatError(f"file ends at {hexoff(pos)} before the image data")
        if marker[0] != 0xFF:
            raise FormatError(f"expected a marker at {hexoff(pos)}, found {marker.hex()}")
        code = 0xFF
        while code == 0xFF:  # fill bytes
            pos += 1
            code = src.exact(pos, 1, "marker")[0]
        at = pos - 1
        pos += 1
        if code == EOI:
            yield at, code, pos, 0
            return
        if code in NO_LENGTH:
            yield at, code, pos, 0
            continue
        if code == 0x00:
            raise FormatError(f"marker 0x00 at {hexoff(at)}")
        seg_len = struct.unpack(">H", src.exact(pos, 2, "segment length"))[0]
        body_at, body_len = pos + 2, seg_len - 2
        if seg_len < 2:
            raise FormatError(f"segment FF{code:02X} at {hexoff(at)} has length {seg_len}")
        if body_at + body_len > src.size:
            raise FormatError(f"segment FF{code:02X} at {hexoff(at)} runs past the end")
        yield at, code, body_at, body_len
        if code == SOS:
            return
        pos = body_at + body_len


def _walk(src: Source, out: Collector) -> None:
    extended: dict[bytes, dict[int, bytes]] = {}
    ext_sizes: dict[bytes, int] = {}
    for at, code, body_at, body_len in segments(src):
        if code in (SOS, EOI):  # metadata is over
            break
        where = f"JPEG {_name(code)} at {hexoff(at)}"
        if code == APP1:
            ident = src.read(body_at, min(body_len, 35))
            if ident.startswith(EXIF_ID):
                parse_tiff(src, body_at + 6, body_len - 6, where, out)
            elif ident.startswith(XMP_ID):
                body = src.exact(body_at, body_len, "XMP segment")
                parse_xmp(body[len(XMP_ID):], where, out)
            elif ident.startswith(XMP_EXT_ID):
                body = src.exact(body_at, body_len, "extended XMP segment")
                _extended_part(body[len(XMP_EXT_ID):], extended, ext_sizes, where, out)
        elif code == COM:
            body = src.exact(body_at, body_len, "COM segment")
            out.add("jpeg:COM", text(body).rstrip("\x00"), where)
        elif code == APP11:
            if src.read(body_at, 2) == b"JP":
                out.facts["jpeg.app11_jumbf"] = True
    for guid, parts in extended.items():
        data = b"".join(parts[k] for k in sorted(parts))
        if len(data) != ext_sizes[guid]:
            out.note(f"extended XMP {guid.decode('latin-1')} incomplete "
                     f"({len(data)} of {ext_sizes[guid]} bytes)")
        parse_xmp(data, f"JPEG extended XMP {guid.decode('latin-1')}", out)


def c2pa_carriers(src: Source) -> tuple[str, str]:
    """Where c2pa-rs reads JPEG: APP11 JUMBF segments and APP1 XMP before the first SOS
    (img-parts treats everything after SOS as entropy data, so a segment there is never read)."""
    count = 0
    for at, code, body_at, body_len in segments(src):
        if code == EOI:
            if not count:
                raise FormatError("JPEG without segments")
            return c2pa.ABSENT, f"JPEG: {count} segments to EOI, no APP11"
        count += 1
        if code == APP11:
            label = src.read(body_at + 24, 4) if body_len > 28 else b""
            state = c2pa.PRESENT if label == JUMBF_C2PA else c2pa.MAYBE
            return state, f"JPEG APP11 (JUMBF) segment at {at:#x}"
        if code == APP1 and c2pa.remote(src.exact(body_at, body_len, "JPEG APP1")):
            return c2pa.MAYBE, f"JPEG APP1 at {at:#x} names a provenance (remote manifest)"
        if code == SOS:
            if body_at + body_len >= src.size:
                raise FormatError("JPEG ends right after SOS")
            return c2pa.ABSENT, f"JPEG: {count} segments to SOS, no APP11"
    raise FormatError("JPEG walk ended without SOS or EOI")


def header_size(head: bytes) -> tuple[int, int, int] | None:
    """(width, height, 1) from the SOF segment in the head, or None (no SOF before the head
    ends or the walk loses the marker sequence: ask a decoder). Walks the markers as
    ``segments`` does (``NO_LENGTH``: TEM and RST carry no length, so a length read after one
    would land wherever a forger planted a fake SOF) up to SOS; ``FormatError`` on a second
    SOF, which decoders refuse (libjpeg: "two SOF markers"), so its size decides nothing."""
    if not head.startswith(b"\xff\xd8"):
        return None
    size: tuple[int, int, int] | None = None
    sof_at = -1
    pos = 2
    while pos + 4 <= len(head) and head[pos] == 0xFF:
        marker = head[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in NO_LENGTH:
            pos += 2
            continue
        if marker in (SOS, EOI) or marker == 0x00:
            break
        seg_len = int.from_bytes(head[pos + 2:pos + 4], "big")
        if seg_len < 2:
            return None
        if marker in _SOF:
            if sof_at >= 0:
                raise FormatError(f"second SOF marker at {hexoff(pos)} (first at "
                                  f"{hexoff(sof_at)})")
            if pos + 9 > len(head):
                return None
            sof_at = pos
            height = int.from_bytes(head[pos + 5:pos + 7], "big")
            width = int.from_bytes(head[pos + 7:pos + 9], "big")
            size = (width, height, 1) if width and height else None
        pos += 2 + seg_len
    return size


def dimensions(head: bytes) -> tuple[int, int, int] | None:
    """(width, height, 1) from the SOF header (``header_size``), or None, also where the
    header contradicts itself (two SOF markers): a size no decoder agrees with is no size."""
    try:
        return header_size(head)
    except FormatError:
        return None


def _extended_part(body: bytes, extended: dict[bytes, dict[int, bytes]], sizes: dict[bytes, int],
                   where: str, out: Collector) -> None:
    if len(body) < 40:
        out.note(f"{where}: extended XMP segment too short")
        return
    guid = body[:32]
    full, offset = struct.unpack(">II", body[32:40])
    if full > MAX_PACKET:
        out.problem(f"{where}: extended XMP of {full} bytes is over the {MAX_PACKET}-byte limit")
        return
    sizes[guid] = full
    parts = extended.setdefault(guid, {})
    if offset + len(body) - 40 <= full:
        parts[offset] = body[40:]


def _name(code: int) -> str:
    if 0xE0 <= code <= 0xEF:
        return f"APP{code - 0xE0}"
    return {0xFE: "COM"}.get(code, f"FF{code:02X}")


FORMATS = [Format(
    id="jpeg", label="JPEG", kinds={"image/jpeg": "image"}, priority=10,
    accept=lambda head: "image/jpeg" if head.startswith(b"\xff\xd8\xff") else None,
    extensions={".jpg": ("image/jpeg",), ".jpeg": ("image/jpeg",), ".jpe": ("image/jpeg",)},
    read=read_jpeg, c2pa=c2pa_carriers, dimensions=dimensions,
    raster=frozenset({"image/jpeg"}),
)]
