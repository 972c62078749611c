"""OpenEXR: the header attribute list of every part (name, type, size, value), read natively.

Why: EXR is the VFX interchange format; compositors, renderers and AI tools (OpenImageIO, Nuke,
ComfyUI savers) put their text in header attributes (``comments``, ``owner``, ``software``,
``capDate``, or any custom ``string`` attribute). The header is a few KB at the start of the
file; the offset tables and pixel data after it are never read, and a large ``preview``
attribute is stepped over by its size.

What is covered: every attribute of type ``string`` or ``stringvector`` (one field per item),
and an attribute of any other (custom) type whose value is plain text of at least
``LONG_TEXT`` characters; in single-part, tiled, deep and multi-part files (one header per
part). Binary attribute types (numbers, boxes, channel lists, previews...) are not fields.
ExifTool reads EXR too (deep tier, ``--deep``).

Keys: ``exr:<attribute>`` as written in the file (``exr:comments``, ``exr:Software``); the
location names the part.
"""

from __future__ import annotations

import struct

from detectors.formats.native import Collector, FormatError, Source, hexoff, text
from detectors.formats.registry import Format

MAGIC = b"\x76\x2f\x31\x01"
MULTIPART = 0x1000
LONG_NAMES = 0x400
MAX_PARTS = 10_000
MAX_ATTRIBUTES = 10_000  # per header
VALUE_LIMIT = 16 * 1024 * 1024
LONG_TEXT = 32  # a custom-typed attribute is read as text from this length on
CUSTOM_LIMIT = 1024 * 1024  # custom-typed values read to test for text
# OpenEXR's own attribute types that are never text.
BINARY_TYPES = frozenset({
    "box2i", "box2f", "box2d", "chlist", "chromaticities", "compression", "double", "envmap",
    "float", "floatvector", "int", "keycode", "lineOrder", "m33f", "m33d", "m44f", "m44d",
    "preview", "rational", "tiledesc", "timecode", "v2i", "v2f", "v2d", "v3i", "v3f", "v3d",
    "deepImageState", "bytes",
})


def _name(src: Source, pos: int, limit: int, what: str) -> tuple[str, int]:
    """A NUL-terminated name at ``pos`` (at most ``limit`` characters); (name, next offset)."""
    raw = src.read(pos, limit + 1)
    end = raw.find(b"\x00")
    if end < 0:
        if len(raw) <= limit:
            raise FormatError(f"{what} at {hexoff(pos)} truncated (file ends at {src.size})")
        raise FormatError(f"{what} at {hexoff(pos)} longer than {limit} characters")
    return raw[:end].decode("latin-1"), pos + end + 1


def _header(src: Source, pos: int, part: int, names: int, out: Collector) -> int:
    """One header's attributes from ``pos``; returns the offset after its terminating NUL."""
    where_part = f"part {part}" if part else "header"
    for _ in range(MAX_ATTRIBUTES + 1):
        src.tick(what="EXR attributes")
        name, p = _name(src, pos, names, "attribute name")
        if not name:
            return p
        atype, p = _name(src, p, names, f"type of attribute '{name}'")
        size = struct.unpack("<i", src.exact(p, 4, f"size of attribute '{name}'"))[0]
        value_at = p + 4
        if size < 0 or value_at + size > src.size:
            raise FormatError(f"attribute '{name}' at {hexoff(pos)} claims {size} bytes, past "
                              f"the end of the file")
        where = f"EXR {where_part} attribute '{name}' ({atype}) at {hexoff(pos)}"
        if atype == "string":
            value = src.value(value_at, size, where, VALUE_LIMIT)
            out.add(f"exr:{name}", text(value).rstrip("\x00"), where)
        elif atype == "stringvector":
            _strings(src.value(value_at, size, where, VALUE_LIMIT), name, where, out)
        elif atype not in BINARY_TYPES and LONG_TEXT <= size <= CUSTOM_LIMIT:
            raw = src.exact(value_at, size, where).rstrip(b"\x00")
            if raw and all(b >= 0x20 or b in (9, 10, 13) for b in raw):
                out.add(f"exr:{name}", text(raw), where)
        pos = value_at + size
    raise FormatError(f"more than {MAX_ATTRIBUTES} attributes in one header")


def _strings(data: bytes, name: str, where: str, out: Collector) -> None:
    p = 0
    while p + 4 <= len(data):
        n = struct.unpack_from("<i", data, p)[0]
        if n < 0 or p + 4 + n > len(data):
            out.problem(f"{where}: malformed string vector")
            return
        value = text(data[p + 4:p + 4 + n])
        if value:
            out.add(f"exr:{name}", value, where)
        p += 4 + n


def read_exr(src: Source, out: Collector) -> None:
    try:
        head = src.exact(0, 8, "EXR magic and version")
        if head[:4] != MAGIC:
            raise FormatError("not an OpenEXR file")
        flags = struct.unpack_from("<I", head, 4)[0]
        names = 255 if flags & LONG_NAMES else 31
        out.facts["exr.version"] = flags & 0xFF
        pos = 8
        if not flags & MULTIPART:
            _header(src, pos, 0, names, out)
            return
        for part in range(1, MAX_PARTS + 1):
            if src.exact(pos, 1, "multi-part header list") == b"\x00":
                return  # the empty header that ends the list
            pos = _header(src, pos, part, names, out)
        raise FormatError(f"more than {MAX_PARTS} parts")
    except FormatError as exc:
        out.problem(f"OpenEXR: {exc}")


FORMATS = [Format(
    id="exr", label="OpenEXR", priority=94, kinds={"image/x-exr": "image"},
    accept=lambda head: "image/x-exr" if head[:4] == MAGIC else None,
    extensions={".exr": ("image/x-exr",)}, read=read_exr,
)]
