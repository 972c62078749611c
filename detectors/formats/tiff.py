"""TIFF (and DNG): recognition, the IFD walk (``exif.parse_tiff``, the same reader EXIF blocks in
JPEG/PNG/WebP use) and the C2PA carriers (tag 0xCD41, XMP naming a remote manifest)."""

from __future__ import annotations

import struct

from detectors.formats import c2pa_locate as c2pa
from detectors.formats.exif import parse_tiff
from detectors.formats.native import Collector, FormatError, Source
from detectors.formats.registry import Format

C2PA_TAG = 0xCD41
XMP_TAG = 0x02BC
SUBIFDS_TAG = 0x014A
TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8,
              13: 4, 16: 8, 17: 8, 18: 8}
MAX_IFDS = 1024
MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")


def read_tiff(src: Source, out: Collector) -> None:
    parse_tiff(src, 0, src.size, "TIFF file", out)


def c2pa_carriers(src: Source) -> tuple[str, str]:
    """Where c2pa-rs reads TIFF/DNG: tag 0xCD41 (C2PA) or 0x02BC (XMP) in any IFD of the chain
    or a SubIFD."""
    head = src.exact(0, 8, "TIFF header")
    order = {b"II": "<", b"MM": ">"}.get(head[:2])
    if order is None:
        raise FormatError("no TIFF byte order")
    magic = struct.unpack(order + "H", head[2:4])[0]
    if magic == 42:
        big, first = False, struct.unpack(order + "I", head[4:8])[0]
    elif magic == 43:
        big = True
        first = struct.unpack(order + "Q", src.exact(8, 8, "BigTIFF header"))[0]
    else:
        raise FormatError(f"TIFF magic {magic}")
    if not first:
        raise FormatError("TIFF without an IFD")
    count_fmt, count_len = ("Q", 8) if big else ("H", 2)
    entry_fmt, entry_len, inline = ("HHQ8s", 20, 8) if big else ("HHI4s", 12, 4)
    offset_fmt = "Q" if big else "I"
    queue: list[int] = [first]
    seen: set[int] = set()
    while queue:
        ifd = queue.pop()
        if ifd in seen or len(seen) >= MAX_IFDS:
            raise FormatError(f"TIFF IFD loop or over {MAX_IFDS} IFDs")
        seen.add(ifd)
        count = struct.unpack(order + count_fmt, src.exact(ifd, count_len, "TIFF IFD"))[0]
        src.tick(count + 1)
        table = src.exact(ifd + count_len, count * entry_len + inline, "TIFF IFD entries")
        for i in range(count):
            tag, typ, n, raw = struct.unpack(order + entry_fmt,
                                             table[i * entry_len:(i + 1) * entry_len])
            if tag == C2PA_TAG:
                return c2pa.PRESENT, f"TIFF C2PA tag in the IFD at {ifd:#x}"
            width = TYPE_SIZES.get(typ)
            if width is None:
                raise FormatError(f"TIFF tag {tag:#x} of unknown type {typ}")
            nbytes = width * n
            at = ifd + count_len + i * entry_len + entry_len - inline
            if nbytes > inline:
                at = struct.unpack(order + offset_fmt, raw)[0]
                if at + nbytes > src.size:
                    raise FormatError(f"TIFF tag {tag:#x} value past the end of the file")
            if tag == XMP_TAG and c2pa.remote(src.value(at, nbytes, "TIFF XMP")):
                return c2pa.MAYBE, "TIFF XMP names a provenance (remote manifest)"
            if tag == SUBIFDS_TAG and width in (4, 8):
                data = src.exact(at, nbytes, "TIFF SubIFDs")
                queue.extend(struct.unpack(order + ("I" if width == 4 else "Q") * n, data))
        nxt = struct.unpack(order + offset_fmt, table[count * entry_len:])[0]
        if nxt:
            queue.append(nxt)
    return c2pa.ABSENT, f"TIFF: {len(seen)} IFDs walked, no C2PA tag"


FORMATS = [Format(
    id="tiff", label="TIFF", kinds={"image/tiff": "image"}, priority=50,
    accept=lambda head: "image/tiff" if head[:4] in MAGIC else None,
    extensions={".tif": ("image/tiff",), ".tiff": ("image/tiff",), ".dng": ("image/tiff",)},
    read=read_tiff, c2pa=c2pa_carriers,
)]
