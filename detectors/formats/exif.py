"""TIFF/EXIF IFD reader for the few tags that carry tool names, prompts and declarations.

Used for JPEG APP1, WebP/PNG ``EXIF``/``eXIf`` chunks, HEIF Exif items and whole TIFF files.
Only the IFD tables and the values of the tags below are read (never strips/tiles); offsets are
checked against the TIFF's extent, IFD chains are bounded and loop-checked. BigTIFF is accepted.

``UserComment`` follows EXIF's 8-byte character code: ``ASCII``, ``UNICODE`` (UTF-16 - the byte
order is guessed from the text because piexif/A1111 always write big-endian even in
little-endian EXIF), ``JIS`` or undefined (zeros).
"""

from __future__ import annotations

import struct

from detectors.formats.native import INFLATE_LIMIT, Collector, FormatError, Source, text

# Tags emitted as fields: tag → ExifTool-style name. IFD0 (and later IFDs) and ExifIFD.
IFD0_TAGS: dict[int, str] = {
    0x010D: "DocumentName",
    0x010E: "ImageDescription",
    0x010F: "Make",
    0x0110: "Model",
    0x0131: "Software",
    0x013B: "Artist",
    0x8298: "Copyright",
    0x9C9B: "XPTitle",
    0x9C9C: "XPComment",
    0x9C9D: "XPAuthor",
    0x9C9E: "XPKeywords",
    0x9C9F: "XPSubject",
}
EXIF_TAGS: dict[int, str] = {
    0x9286: "UserComment",
    0x927C: "MakerNote",
    0xA420: "ImageUniqueID",
}
# Writers put tags in odd IFDs (Fooocus via Pillow: UserComment/MakerNote in IFD0), so every
# IFD is searched for every tag of interest.
TAGS: dict[int, str] = {**IFD0_TAGS, **EXIF_TAGS}
XMP_TAG = 0x02BC
EXIF_IFD = 0x8769

MAX_IFDS = 16
MAX_ENTRIES = 4096
MAKERNOTE_TEXT_LIMIT = 64 * 1024
# Bytes of tag values one TIFF structure may make us read: thousands of entries in 16 IFDs
# may all point at the same large string (and each copy would become a field).
VALUE_BUDGET = 32 * 1024 * 1024

_TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8,
               13: 4, 16: 8, 17: 8, 18: 8}


def decode_user_comment(raw: bytes, big_endian: bool) -> str:
    """Decode an EXIF UserComment (8-byte character code + data)."""
    code, data = raw[:8], raw[8:]
    if code.startswith(b"UNICODE"):
        return _utf16(data, big_endian).rstrip("\x00")
    if code.startswith(b"ASCII"):
        return text(data).rstrip("\x00 ")
    if code.startswith(b"JIS"):
        try:
            return data.decode("shift_jis").rstrip("\x00")
        except UnicodeDecodeError:
            return text(data).rstrip("\x00")
    if code == b"\x00" * 8:
        return text(data).rstrip("\x00 ")
    return text(raw).rstrip("\x00 ")  # no character code: writers that skip it


def _utf16(data: bytes, big_endian: bool) -> str:
    if data[:2] in (b"\xfe\xff", b"\xff\xfe"):
        return data.decode("utf-16", "replace")
    sample = data[:512]
    even = sample[0::2].count(0)
    odd = sample[1::2].count(0)
    if even > odd:
        big_endian = True  # zeros first: ASCII-range text in UTF-16BE
    elif odd > even:
        big_endian = False
    if len(data) % 2:
        data = data[:-1]
    return data.decode("utf-16-be" if big_endian else "utf-16-le", "replace")


def _looks_text(raw: bytes) -> bool:
    if not raw:
        return False
    body = raw.rstrip(b"\x00")
    if not body:
        return False
    printable = sum(1 for b in body[:256] if 32 <= b < 127 or b in (9, 10, 13) or b >= 0x80)
    return printable >= 0.95 * min(len(body), 256) and b"\x00" not in body


def parse_tiff(src: Source, base: int, length: int, where: str, out: Collector) -> None:
    """Read the IFDs of the TIFF structure at ``src[base:base+length]``.

    ``where`` names the container for locations ("JPEG APP1 at 0x2"). Problems (truncation,
    loops, bad offsets) go to ``out.problems``; what was read before stays in ``out.fields``.
    """
    try:
        _parse(src, base, length, where, out)
    except FormatError as exc:
        out.problem(f"EXIF in {where}: {exc}")


def _parse(src: Source, base: int, length: int, where: str, out: Collector) -> None:
    head = src.exact(base, 16 if length >= 16 else 8, "TIFF header")
    order = head[:2]
    if order == b"II":
        e = "<"
    elif order == b"MM":
        e = ">"
    else:
        raise FormatError(f"not a TIFF header ({order!r})")
    magic = struct.unpack(e + "H", head[2:4])[0]
    big = magic == 43
    if magic not in (42, 43):
        raise FormatError(f"bad TIFF magic {magic}")
    if big:
        if len(head) < 16:
            raise FormatError(f"BigTIFF header truncated ({length} bytes)")
        first = struct.unpack(e + "Q", head[8:16])[0]
    else:
        first = struct.unpack(e + "I", head[4:8])[0]
    reader = _IfdReader(src, base, length, e, big, where, out)
    seen: set[int] = set()
    offset = first
    index = 0
    exif_offsets: list[int] = []
    while offset and index < MAX_IFDS:
        if offset in seen:
            raise FormatError(f"IFD loop at offset {offset}")
        seen.add(offset)
        name = f"IFD{index}"
        offset, pointers = reader.ifd(offset, name, TAGS, want_exif=True)
        exif_offsets.extend(pointers)
        index += 1
    if offset and index >= MAX_IFDS:
        out.note(f"EXIF in {where}: stopped after {MAX_IFDS} IFDs")
    for ptr in exif_offsets[:4]:
        if ptr in seen:
            continue
        seen.add(ptr)
        reader.ifd(ptr, "ExifIFD", TAGS, want_exif=False)


class _IfdReader:
    def __init__(self, src: Source, base: int, length: int, e: str, big: bool, where: str,
                 out: Collector) -> None:
        self.src, self.base, self.length, self.e, self.big = src, base, length, e, big
        self.where, self.out = where, out
        self.values_left = VALUE_BUDGET

    def _at(self, offset: int, n: int, what: str) -> bytes:
        if offset < 0 or offset + n > self.length:
            raise FormatError(f"{what} at offset {offset} (+{n}) lies outside the TIFF data")
        return self.src.exact(self.base + offset, n, what)

    def ifd(self, offset: int, name: str, tags: dict[int, str],
            want_exif: bool) -> tuple[int, list[int]]:
        e, big = self.e, self.big
        count_size, entry_size, next_size = (8, 20, 8) if big else (2, 12, 4)
        raw_count = self._at(offset, count_size, f"{name} entry count")
        count = struct.unpack(e + ("Q" if big else "H"), raw_count)[0]
        if count > MAX_ENTRIES:
            raise FormatError(f"{name} claims {count} entries")
        table = self._at(offset + count_size, count * entry_size + next_size, f"{name} table")
        pointers: list[int] = []
        for i in range(count):
            entry = table[i * entry_size:(i + 1) * entry_size]
            if big:
                tag, typ, n = struct.unpack(e + "HHQ", entry[:12])
                inline = entry[12:20]
            else:
                tag, typ, n = struct.unpack(e + "HHI", entry[:8])
                inline = entry[8:12]
            if want_exif and tag == EXIF_IFD:
                pointers.append(self._scalar(typ, inline))
                continue
            if tag == XMP_TAG and want_exif:
                raw = self._value(typ, n, inline, f"{name} XMP")
                if raw is not None:
                    from detectors.formats.xmp import parse_xmp
                    parse_xmp(raw, f"TIFF tag 0x02BC in {self.where}", self.out)
                continue
            label = tags.get(tag)
            if label is None:
                continue
            if label == "MakerNote" and n > MAKERNOTE_TEXT_LIMIT:
                continue
            raw = self._value(typ, n, inline, f"{name} {label}")
            if raw is None:
                continue
            value = self._decode(label, typ, raw)
            if value is None:
                continue
            self.out.add(f"exif:{label}", value,
                         f"EXIF {name} tag 0x{tag:04X} {label} in {self.where}")
        next_raw = table[count * entry_size:count * entry_size + next_size]
        nxt = struct.unpack(e + ("Q" if big else "I"), next_raw)[0] if len(next_raw) == next_size else 0
        return nxt, pointers

    def _scalar(self, typ: int, inline: bytes) -> int:
        if typ == 3:
            return struct.unpack(self.e + "H", inline[:2])[0]
        if typ in (16, 18) and self.big:
            return struct.unpack(self.e + "Q", inline[:8])[0]
        return struct.unpack(self.e + "I", inline[:4])[0]

    def _value(self, typ: int, n: int, inline: bytes, what: str) -> bytes | None:
        size = _TYPE_SIZES.get(typ)
        if size is None:
            return None
        total = size * n
        if total > INFLATE_LIMIT:
            self.out.problem(f"EXIF in {self.where}: {what} is {total} bytes, over the limit")
            return None
        if total <= len(inline):
            return inline[:total]
        offset = struct.unpack(self.e + ("Q" if self.big else "I"),
                               inline[:8] if self.big else inline[:4])[0]
        if total > self.values_left:
            raise FormatError(f"tag values add up to more than {VALUE_BUDGET} bytes")
        self.values_left -= total
        return self._at(offset, total, what)

    def _decode(self, label: str, typ: int, raw: bytes) -> str | None:
        if label == "UserComment":
            return decode_user_comment(raw, self.e == ">")
        if label.startswith("XP"):
            return raw.decode("utf-16-le", "replace").rstrip("\x00")
        if label == "MakerNote":
            return text(raw).rstrip("\x00") if _looks_text(raw) else None
        if typ in (2, 7, 1):
            value = text(raw)
            return value.rstrip("\x00") if typ != 2 else value.split("\x00", 1)[0]
        return None
