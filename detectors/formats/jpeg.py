"""JPEG marker walker: APP1 EXIF, APP1 XMP (standard and extended), COM, APP11 presence.

Stops at SOS: metadata segments precede the entropy-coded data, which is never read.
Extended XMP (``http://ns.adobe.com/xmp/extension/``) is reassembled per GUID and bounded.
"""

from __future__ import annotations

import struct

from detectors.formats.exif import parse_tiff
from detectors.formats.native import Collector, FormatError, Source, hexoff, text
from detectors.formats.xmp import MAX_PACKET, parse_xmp

EXIF_ID = b"Exif\x00"
XMP_ID = b"http://ns.adobe.com/xap/1.0/\x00"
XMP_EXT_ID = b"http://ns.adobe.com/xmp/extension/\x00"
MAX_SEGMENTS = 4096


def read_jpeg(src: Source, out: Collector) -> None:
    try:
        _walk(src, out)
    except FormatError as exc:
        out.problem(f"JPEG: {exc}")


def _walk(src: Source, out: Collector) -> None:
    if src.read(0, 2) != b"\xff\xd8":
        raise FormatError("no SOI marker")
    pos = 2
    extended: dict[bytes, dict[int, bytes]] = {}
    ext_sizes: dict[bytes, int] = {}
    for _ in range(MAX_SEGMENTS):
        marker = src.read(pos, 2)
        if len(marker) < 2:
            raise FormatError(f"file ends at {hexoff(pos)} before the image data")
        if marker[0] != 0xFF:
            raise FormatError(f"expected a marker at {hexoff(pos)}, found {marker.hex()}")
        code = marker[1]
        if code == 0xFF:  # fill byte
            pos += 1
            continue
        if code in (0xD8, 0x01) or 0xD0 <= code <= 0xD7:
            pos += 2
            continue
        if code in (0xDA, 0xD9):  # SOS / EOI: metadata is over
            break
        seg_len = struct.unpack(">H", src.exact(pos + 2, 2, "segment length"))[0]
        if seg_len < 2:
            raise FormatError(f"segment FF{code:02X} at {hexoff(pos)} has length {seg_len}")
        body_at = pos + 4
        body_len = seg_len - 2
        if body_at + body_len > src.size:
            raise FormatError(f"segment FF{code:02X} at {hexoff(pos)} runs past the end")
        where = f"JPEG {_name(code)} at {hexoff(pos)}"
        if code == 0xE1:
            ident = src.read(body_at, min(body_len, 35))
            if ident.startswith(EXIF_ID):
                parse_tiff(src, body_at + 6, body_len - 6, where, out)
            elif ident.startswith(XMP_ID):
                body = src.exact(body_at, body_len, "XMP segment")
                parse_xmp(body[len(XMP_ID):], where, out)
            elif ident.startswith(XMP_EXT_ID):
                body = src.exact(body_at, body_len, "extended XMP segment")
                _extended_part(body[len(XMP_EXT_ID):], extended, ext_sizes, where, out)
        elif code == 0xFE:
            body = src.exact(body_at, body_len, "COM segment")
            out.add("jpeg:COM", text(body).rstrip("\x00"), where)
        elif code == 0xEB:
            if src.read(body_at, 2) == b"JP":
                out.facts["jpeg.app11_jumbf"] = True
        pos = body_at + body_len
    else:
        raise FormatError(f"more than {MAX_SEGMENTS} segments")
    for guid, parts in extended.items():
        data = b"".join(parts[k] for k in sorted(parts))
        if len(data) != ext_sizes[guid]:
            out.note(f"extended XMP {guid.decode('latin-1')} incomplete "
                     f"({len(data)} of {ext_sizes[guid]} bytes)")
        parse_xmp(data, f"JPEG extended XMP {guid.decode('latin-1')}", out)


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
