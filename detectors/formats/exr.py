"""OpenEXR: the header attribute list of every part (name, type, size, value), read natively.

Why: EXR is the VFX interchange format; compositors, renderers and AI tools (OpenImageIO, Nuke,
ComfyUI savers) put their text in header attributes (``comments``, ``owner``, ``software``,
``capDate``, or any custom ``string`` attribute). The header is a few KB at the start of the
file; the pixel data after it is never read, and a large ``preview`` attribute is stepped
over by its size.

Fail closed on a cut file: after the header(s) come the chunk offset tables (8 bytes per chunk;
the count is the ``chunkCount`` attribute, or for a single-part scanline or tiled image follows
from ``dataWindow``, ``compression`` and ``tiles``). The tables must fit in the file, every
offset must point past them and inside the file, and the chunk the largest offset points at
must end inside the file; otherwise the file is *truncated* (a problem, never clean). Only the
tables and that one chunk header are read (bounded by ``MAX_TABLE``).

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
TILED = 0x200  # single-part: a tiled image
NONIMAGE = 0x800  # deep data
MAX_PARTS = 10_000
MAX_ATTRIBUTES = 10_000  # per header
VALUE_LIMIT = 16 * 1024 * 1024
LONG_TEXT = 32  # a custom-typed attribute is read as text from this length on
CUSTOM_LIMIT = 1024 * 1024  # custom-typed values read to test for text
MAX_TABLE = 16 * 1024 * 1024  # bytes of chunk offset tables read (2 M chunks)
TABLE_PIECE = 64 * 1024
# Scanlines per chunk of each compression (OpenEXR ImfCompression.h); another compression's
# chunk count is unknown here, and its tables are not checked.
LINES_PER_CHUNK = {0: 1, 1: 1, 2: 1, 3: 16, 4: 32, 5: 16, 6: 32, 7: 32, 8: 32, 9: 256}
# The attributes that say where the chunks are (read whatever their size is).
LAYOUT = {"chunkCount": "int", "compression": "compression", "dataWindow": "box2i",
          "tiles": "tiledesc", "type": "string"}
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


def _header(src: Source, pos: int, part: int, names: int, out: Collector,
            layout: dict[str, object]) -> int:
    """One header's attributes from ``pos`` (those that place the chunks into ``layout``);
    returns the offset after its terminating NUL."""
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
        if LAYOUT.get(name) == atype and size <= 64:
            layout[name] = _layout_value(atype, src.exact(value_at, size, where))
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


def _layout_value(atype: str, raw: bytes) -> object:
    if atype == "int" and len(raw) == 4:
        return struct.unpack("<i", raw)[0]
    if atype == "compression" and len(raw) == 1:
        return raw[0]
    if atype == "box2i" and len(raw) == 16:
        return struct.unpack("<4i", raw)
    if atype == "tiledesc" and len(raw) == 9:
        return struct.unpack("<IIB", raw)
    if atype == "string":
        return raw.decode("latin-1")
    return None


def read_exr(src: Source, out: Collector) -> None:
    try:
        head = src.exact(0, 8, "EXR magic and version")
        if head[:4] != MAGIC:
            raise FormatError("not an OpenEXR file")
        flags = struct.unpack_from("<I", head, 4)[0]
        names = 255 if flags & LONG_NAMES else 31
        out.facts["exr.version"] = flags & 0xFF
        pos = 8
        layouts: list[dict[str, object]] = []
        if not flags & MULTIPART:
            layouts.append({})
            pos = _header(src, pos, 0, names, out, layouts[0])
        else:
            for part in range(1, MAX_PARTS + 2):
                if part > MAX_PARTS:
                    raise FormatError(f"more than {MAX_PARTS} parts")
                if src.exact(pos, 1, "multi-part header list") == b"\x00":
                    pos += 1  # the empty header that ends the list
                    break
                layouts.append({})
                pos = _header(src, pos, part, names, out, layouts[-1])
        _check_chunks(src, pos, flags, layouts, out)
    except FormatError as exc:
        out.problem(f"OpenEXR: {exc}")


def _kind(flags: int, layout: dict[str, object]) -> str:
    """``scanlineimage``, ``tiledimage``, ``deepscanline`` or ``deeptile``."""
    kind = layout.get("type")
    if isinstance(kind, str) and kind:
        return kind
    if flags & NONIMAGE:
        return "deeptile" if flags & TILED else "deepscanline"
    return "tiledimage" if flags & TILED else "scanlineimage"


def _chunk_count(flags: int, layout: dict[str, object]) -> int | str:
    """The number of chunks of one part, or why it is not known here."""
    count = layout.get("chunkCount")
    if isinstance(count, int):
        if count < 0:
            raise FormatError(f"chunkCount {count} is negative")
        return count
    kind = _kind(flags, layout)
    window = layout.get("dataWindow")
    if not isinstance(window, tuple):
        return "no dataWindow"
    xmin, ymin, xmax, ymax = window
    width, height = xmax - xmin + 1, ymax - ymin + 1
    if width <= 0 or height <= 0:
        raise FormatError(f"dataWindow {window} is empty")
    if kind == "scanlineimage":
        compression = layout.get("compression")
        lines = LINES_PER_CHUNK.get(compression) if isinstance(compression, int) else None
        if lines is None:
            return f"compression {compression} is not known here"
        return -(-height // lines)
    if kind == "tiledimage":
        tiles = layout.get("tiles")
        if not isinstance(tiles, tuple):
            raise FormatError("tiled image without a tiles attribute")
        return _tile_count(width, height, *tiles)
    return f"{kind} without chunkCount"


def _tile_count(width: int, height: int, tile_w: int, tile_h: int, mode: int) -> int | str:
    """Tiles of every level (OpenEXR ImfTiledMisc: ONE_LEVEL, MIPMAP or RIPMAP levels, each
    level's size rounded down or up)."""
    if tile_w <= 0 or tile_h <= 0:
        raise FormatError(f"tile size {tile_w}x{tile_h} is empty")
    levels, up = mode & 0x0F, (mode >> 4) & 0x0F

    def log2(n: int) -> int:
        return (n - 1).bit_length() if up else n.bit_length() - 1

    def size(n: int, level: int) -> int:
        return max(1, (n + (1 << level) - 1) >> level if up else n >> level)

    def tiles(w: int, h: int) -> int:
        return -(-w // tile_w) * -(-h // tile_h)

    if levels == 0:
        return tiles(width, height)
    if levels == 1:
        return sum(tiles(size(width, lv), size(height, lv))
                   for lv in range(log2(max(width, height)) + 1))
    if levels == 2:
        return sum(tiles(size(width, lx), size(height, ly))
                   for lx in range(log2(width) + 1) for ly in range(log2(height) + 1))
    return f"tile level mode {levels} is not known here"


def _check_chunks(src: Source, pos: int, flags: int, layouts: list[dict[str, object]],
                  out: Collector) -> None:
    """The chunk offset tables from ``pos`` (one per part, in part order) fit in the file, and
    every chunk they point at starts past them, inside the file; the last chunk in the file
    ends inside it. A truncated file fails one of these."""
    counts: list[int] = []
    for i, layout in enumerate(layouts):
        count = _chunk_count(flags, layout)
        if isinstance(count, str):
            out.note(f"OpenEXR: chunk offset table not checked ({count}"
                     f"{f', part {i + 1}' if len(layouts) > 1 else ''})")
            return
        counts.append(count)
    total = sum(counts)
    table_end = pos + 8 * total
    if 8 * total > MAX_TABLE:
        raise FormatError(f"offset tables of {total} chunks are over the {MAX_TABLE}-byte "
                          "limit; not checked")
    if table_end > src.size:
        raise FormatError(f"truncated: header says {table_end - pos} bytes of chunk offset "
                          f"table at {hexoff(pos)}, file has {src.size}")
    last, chunk = 0, -1
    for start in range(pos, table_end, TABLE_PIECE):
        piece = src.exact(start, min(TABLE_PIECE, table_end - start), "EXR chunk offset table")
        for j, (offset,) in enumerate(struct.iter_unpack("<Q", piece)):
            if offset < table_end or offset >= src.size:
                index = (start - pos) // 8 + j
                if offset == 0:
                    raise FormatError(f"truncated: chunk {index} has no offset (the file was "
                                      "not finished)")
                raise FormatError(f"truncated: chunk {index} at {hexoff(offset)} is outside "
                                  f"the file ({src.size} bytes, tables end at "
                                  f"{hexoff(table_end)})")
            if offset > last:
                last, chunk = offset, (start - pos) // 8 + j
    if chunk < 0:
        return
    _check_last_chunk(src, last, chunk, flags, layouts)


def _check_last_chunk(src: Source, at: int, index: int, flags: int,
                      layouts: list[dict[str, object]]) -> None:
    p = at
    layout = layouts[0]
    if flags & MULTIPART:
        part = struct.unpack("<i", src.exact(p, 4, "EXR chunk part number"))[0]
        if not 0 <= part < len(layouts):
            raise FormatError(f"chunk {index} at {hexoff(at)} names part {part} of "
                              f"{len(layouts)}")
        layout = layouts[part]
        p += 4
    kind = _kind(flags, layout)
    coords = 16 if kind in ("tiledimage", "deeptile") else 4
    if kind.startswith("deep"):
        sizes = struct.unpack("<qqq", src.exact(p + coords, 24, "EXR deep chunk sizes"))
        if min(sizes) < 0:
            raise FormatError(f"chunk {index} at {hexoff(at)} has a negative size")
        end = p + coords + 24 + sizes[0] + sizes[1]
    else:
        size = struct.unpack("<i", src.exact(p + coords, 4, "EXR chunk size"))[0]
        if size < 0:
            raise FormatError(f"chunk {index} at {hexoff(at)} has a negative size")
        end = p + coords + 4 + size
    if end > src.size:
        raise FormatError(f"truncated: header says {end} bytes (chunk {index} at "
                          f"{hexoff(at)} ends there), file has {src.size}")


FORMATS = [Format(
    id="exr", label="OpenEXR", priority=94, kinds={"image/x-exr": "image"},
    accept=lambda head: "image/x-exr" if head[:4] == MAGIC else None,
    extensions={".exr": ("image/x-exr",)}, read=read_exr,
)]
