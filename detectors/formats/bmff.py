"""ISO BMFF / QuickTime box walker (MP4, MOV, M4A, HEIC, AVIF): item lists, ``mdta`` keyed
metadata, QuickTime user data, XMP (``uuid`` BE7ACFCB-97A9-42E8-9C71-999491E3AFAC and
``udta/XMP_``) and HEIF ``Exif``/XMP items.

Only box headers and the metadata boxes are read: ``mdat`` and the sample tables are skipped by
offset, so ``moov`` at the end of a 50 GB file is reached with a handful of reads. 64-bit
(``largesize``) and to-end-of-file (size 0) boxes are accepted; depth and box counts are bounded.

Keys: ``bmff:ilst:<fourcc>`` (``©too``, ``©cmt``; freeform ``----`` items use their ``name``),
``bmff:mdta:<key>`` (``com.apple.quicktime.description``, ffmpeg ``use_metadata_tags`` keys such
as ``prompt``; Topaz Video AI's ``videoai``), ``bmff:udta:<fourcc>`` for every text-bearing atom
directly in ``udta``: QuickTime ``©xxx`` text, 3GPP asset boxes (``titl``, ``dscp``, ``cprt``,
``perf``, ``auth``, ``gnre``, ``albm``, ``kywd``, ``loci`` name/notes, ``rtng``, ``clsf``: what
ffmpeg writes into 3GP and partly MOV), and any other atom whose payload is plain text or an
item-list ``data`` box (``name``, vendor atoms such as ``AIGC``).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

from detectors.formats import c2pa_locate as c2pa
from detectors.formats.exif import parse_tiff
from detectors.formats.native import Collector, FormatError, Source, hexoff, latin1, text
from detectors.formats.registry import Format
from detectors.formats.xmp import MAX_PACKET, parse_xmp

XMP_UUID = bytes.fromhex("be7acfcb97a942e89c71999491e3afac")
C2PA_UUID = bytes.fromhex("d8fec3d61b0e483c92975828877ec481")
MAX_BOXES = 100_000
MAX_DEPTH = 12
VALUE_LIMIT = 16 * 1024 * 1024
MAX_ITEMS = 10_000
# 3GPP TS 26.244 asset information boxes (FullBox, language, string) in udta.
THREEGPP = {b"titl", b"dscp", b"cprt", b"perf", b"auth", b"gnre", b"albm", b"kywd", b"loci",
            b"rtng", b"clsf"}
# udta atoms known to hold binary data (never judged as text even when it looks printable).
UDTA_BINARY = {b"hnti", b"hinf", b"chpl", b"Xtra", b"thmb", b"yrrc", b"free", b"skip",
               b"AllF", b"SelO", b"WLOC", b"LOOP", b"ptv ", b"tagc", b"GPMF", b"uuid"}
# HEIF Exif/XMP item bytes read per file (each item is at most MAX_PACKET).
ITEMS_BUDGET = 2 * MAX_PACKET


def _name(btype: bytes) -> str:
    return latin1(btype)


class _Bmff:
    def __init__(self, src: Source, out: Collector) -> None:
        self.src, self.out = src, out
        self.count = 0

    def boxes(self, start: int, end: int, parent: str) -> Iterator[tuple[bytes, int, int, int]]:
        """(type, header offset, body offset, body end) for each child box in [start, end)."""
        p = start
        while p + 8 <= end:
            self.count += 1
            if self.count > MAX_BOXES:
                raise FormatError(f"more than {MAX_BOXES} boxes")
            hdr = self.src.exact(p, 8, "box header")
            size, btype = struct.unpack(">I4s", hdr)
            body = p + 8
            if size == 1:
                size = struct.unpack(">Q", self.src.exact(p + 8, 8, "64-bit box size"))[0]
                body = p + 16
            elif size == 0:
                size = end - p
            if size < body - p:
                raise FormatError(f"box {_name(btype)!r} at {hexoff(p)} in {parent} has "
                                  f"invalid size {size}")
            box_end = p + size
            if box_end > end:
                raise FormatError(f"box {_name(btype)!r} at {hexoff(p)} runs past the end of "
                                  f"{parent} ({box_end} > {end})")
            if btype == b"uuid":
                usertype = self.src.exact(body, 16, "uuid")
                self.uuid(usertype, body + 16, box_end, p)
            else:
                yield btype, p, body, box_end
            p = box_end
        if p < end and end - p >= 1 and parent == "file":
            self.out.note(f"BMFF: {end - p} trailing bytes after the last box")

    def uuid(self, usertype: bytes, body: int, end: int, at: int) -> None:
        if usertype == XMP_UUID:
            if end - body > MAX_PACKET:
                self.out.problem(f"XMP uuid box at {hexoff(at)} is over {MAX_PACKET} bytes")
                return
            parse_xmp(self.src.exact(body, end - body, "XMP uuid box"),
                      f"BMFF uuid XMP box at {hexoff(at)}", self.out)
        elif usertype == C2PA_UUID:
            self.out.facts["bmff.c2pa"] = True

    def walk(self) -> None:
        for btype, at, body, end in self.boxes(0, self.src.size, "file"):
            if btype == b"moov":
                self.container(body, end, "moov", 1)
            elif btype == b"meta":
                self.meta(body, end, at, "meta", 1)

    def container(self, start: int, end: int, path: str, depth: int) -> None:
        if depth > MAX_DEPTH:
            self.out.note(f"BMFF: {path} nested deeper than {MAX_DEPTH}; not read")
            return
        for btype, at, body, bend in self.boxes(start, end, path):
            child = f"{path}/{_name(btype)}"
            if btype in (b"udta", b"trak"):
                self.container(body, bend, child, depth + 1)
            elif btype == b"meta":
                self.meta(body, bend, at, child, depth + 1)
            elif btype == b"XMP_" and path.endswith("udta"):
                if bend - body > MAX_PACKET:
                    self.out.problem(f"{child} at {hexoff(at)} is over {MAX_PACKET} bytes")
                    continue
                parse_xmp(self.src.exact(body, bend - body, "XMP_ atom"),
                          f"BMFF {child} at {hexoff(at)}", self.out)
            elif path.endswith("udta") and btype[:1] == b"\xa9":
                self.qt_text(btype, body, bend, at, child)
            elif path.endswith("udta") and btype in THREEGPP:
                self.asset_info(btype, body, bend, at, child)
            elif path.endswith("udta") and btype not in UDTA_BINARY:
                self.udta_other(btype, body, bend, at, child)

    def qt_text(self, btype: bytes, body: int, end: int, at: int, path: str) -> None:
        """QuickTime user-data text atom: (16-bit length, 16-bit language, text)*, or a
        ``data`` box as in item lists."""
        if end - body > VALUE_LIMIT:
            self.out.problem(f"{path} at {hexoff(at)} is over {VALUE_LIMIT} bytes")
            return
        data = self.src.exact(body, end - body, path)
        key = f"bmff:udta:{_name(btype)}"
        where = f"BMFF {path} at {hexoff(at)}"
        if data[4:8] == b"data":
            for value in self._data_values(data):
                self.out.add(key, value, where)
            return
        p = 0
        while p + 4 <= len(data):
            n = struct.unpack_from(">H", data, p)[0]
            if p + 4 + n > len(data):
                break
            self.out.add(key, text(data[p + 4:p + 4 + n]).rstrip("\x00"), where)
            p += 4 + n

    def _udta_value(self, body: int, end: int, at: int, path: str) -> bytes | None:
        if end - body > VALUE_LIMIT:
            self.out.problem(f"{path} at {hexoff(at)} is over {VALUE_LIMIT} bytes")
            return None
        return self.src.exact(body, end - body, path)

    def asset_info(self, btype: bytes, body: int, end: int, at: int, path: str) -> None:
        """3GPP asset box: FullBox header, then (language, string) or the box's own layout."""
        data = self._udta_value(body, end, at, path)
        if data is None or len(data) < 6:
            return
        key = f"bmff:udta:{_name(btype)}"
        where = f"BMFF {path} at {hexoff(at)}"
        values: list[str] = []
        if btype == b"kywd":
            count, p = data[6] if len(data) > 6 else 0, 7
            for _ in range(count):
                if p >= len(data):
                    break
                n = data[p]
                values.append(_string(data[p + 1:p + 1 + n]))
                p += 1 + n
        elif btype == b"loci":
            name, rest = _cstring(data[6:])
            values.append(name)
            if len(rest) > 13:  # role, longitude, latitude, altitude; then body and notes
                _body, rest = _cstring(rest[13:])
                values.append(_cstring(rest)[0])
        else:
            values.append(_cstring(data[{b"rtng": 14, b"clsf": 12}.get(btype, 6):])[0])
        for value in values:
            if value:
                self.out.add(key, value, where)

    def udta_other(self, btype: bytes, body: int, end: int, at: int, path: str) -> None:
        """Any other udta atom: an item-list ``data`` box, or plain text (``name``, vendor
        atoms); binary payloads are left alone."""
        if end - body > VALUE_LIMIT:
            self.out.note(f"{path} at {hexoff(at)}: {end - body} bytes, not read")
            return
        data = self.src.exact(body, end - body, path)
        key = f"bmff:udta:{_name(btype)}"
        where = f"BMFF {path} at {hexoff(at)}"
        if data[4:8] == b"data":
            for value in self._data_values(data):
                self.out.add(key, value, where)
            return
        raw = data.rstrip(b"\x00")
        if raw and b"\x00" not in raw and all(b >= 0x20 or b in (9, 10, 13) for b in raw):
            self.out.add(key, text(raw), where)

    def _data_values(self, data: bytes) -> list[str]:
        """Text values of the ``data`` boxes inside an item (types 1 UTF-8, 2 UTF-16, 0 raw)."""
        values = []
        p = 0
        while p + 16 <= len(data):
            size, btype = struct.unpack_from(">I4s", data, p)
            if size < 16 or p + size > len(data):
                break
            if btype == b"data":
                kind = struct.unpack_from(">I", data, p + 8)[0] & 0xFFFFFF
                raw = data[p + 16:p + size]
                if kind == 1:
                    values.append(raw.decode("utf-8", "replace"))
                elif kind == 2:
                    values.append(raw.decode("utf-16-be", "replace"))
                elif kind == 0 and raw and all(32 <= b < 127 or b in (9, 10, 13) for b in raw[:64]):
                    values.append(text(raw))
            p += size
        return values

    def meta(self, body: int, end: int, at: int, path: str, depth: int) -> None:
        # ISO 'meta' is a FullBox; QuickTime's is not. Tell by where 'hdlr' sits.
        peek = self.src.read(body, 12)
        start = body if peek[4:8] == b"hdlr" else body + 4
        handler = b""
        keys: list[str] = []
        items: list[tuple[bytes, int, int, int]] = []
        heif: dict[str, tuple[int, int]] = {}
        for btype, bat, bbody, bend in self.boxes(start, end, path):
            if btype == b"hdlr":
                handler = self.src.exact(bbody + 8, 4, "hdlr")
            elif btype == b"keys":
                keys = self.keys(bbody, bend, f"{path}/keys")
            elif btype == b"ilst":
                items.extend(self.boxes(bbody, bend, f"{path}/ilst"))
            elif btype in (b"iinf", b"iloc", b"idat"):
                heif[btype.decode()] = (bbody, bend)
            elif btype == b"xml ":
                if bend - bbody - 4 > MAX_PACKET:
                    self.out.problem(f"{path}/xml at {hexoff(bat)} is over {MAX_PACKET} bytes")
                    continue
                raw = self.src.exact(bbody + 4, bend - bbody - 4, "xml box")
                if b"xmpmeta" in raw[:4096] or b"rdf:RDF" in raw[:4096]:
                    parse_xmp(raw, f"BMFF {path}/xml at {hexoff(bat)}", self.out)
        mdta = handler == b"mdta" or bool(keys)
        for itype, iat, ibody, iend in items:
            self.item(itype, iat, ibody, iend, keys if mdta else None, f"{path}/ilst")
        if "iinf" in heif and "iloc" in heif:
            self.heif_items(heif, path)

    def keys(self, body: int, end: int, path: str) -> list[str]:
        data = self.src.exact(body, end - body, path)
        if len(data) < 8:
            return []
        count = struct.unpack_from(">I", data, 4)[0]
        out, p = [], 8
        for _ in range(min(count, MAX_ITEMS)):
            if p + 8 > len(data):
                break
            size = struct.unpack_from(">I", data, p)[0]
            if size < 8 or p + size > len(data):
                break
            out.append(text(data[p + 8:p + size]))
            p += size
        return out

    def item(self, itype: bytes, at: int, body: int, end: int, keys: list[str] | None,
             path: str) -> None:
        if itype == b"covr":
            return
        if end - body > VALUE_LIMIT:
            self.out.problem(f"{path} item at {hexoff(at)} is over {VALUE_LIMIT} bytes")
            return
        data = self.src.exact(body, end - body, "ilst item")
        where = f"BMFF {path} item at {hexoff(at)}"
        if keys is not None:
            index = struct.unpack(">I", itype)[0]
            if not 1 <= index <= len(keys):
                self.out.note(f"{where}: key index {index} not in the keys box")
                return
            name = keys[index - 1]
            key = f"bmff:mdta:{name}"
            where = f"BMFF {path} item '{name}' (mdta key {index}) at {hexoff(at)}"
        elif itype == b"----":
            mean = name = ""
            p = 0
            while p + 12 <= len(data):
                size, btype = struct.unpack_from(">I4s", data, p)
                if size < 12 or p + size > len(data):
                    break
                if btype == b"mean":
                    mean = text(data[p + 12:p + size])
                elif btype == b"name":
                    name = text(data[p + 12:p + size])
                p += size
            key = f"bmff:ilst:{name or '----'}"
            where = f"BMFF {path} freeform item '{mean}:{name}' at {hexoff(at)}"
        else:
            key = f"bmff:ilst:{_name(itype)}"
            where = f"BMFF {path}/{_name(itype)} at {hexoff(at)}"
        for value in self._data_values(data):
            self.out.add(key, value, where)

    def heif_items(self, boxes: dict[str, tuple[int, int]], path: str) -> None:
        """HEIF/AVIF: Exif and XMP are items; iinf names them, iloc says where their bytes are."""
        ib, ie = boxes["iinf"]
        wanted: dict[int, str] = {}
        version = self.src.exact(ib, 1, "iinf")[0]
        start = ib + (6 if version == 0 else 8)
        for btype, at, body, end in self.boxes(start, ie, f"{path}/iinf"):
            if btype != b"infe" or len(wanted) > MAX_ITEMS:
                continue
            data = self.src.exact(body, min(end - body, 512), "infe")
            v = data[0] if data else 2
            if v < 2:
                continue
            if len(data) < (12 if v == 2 else 14):  # could have named an Exif/XMP item
                self.out.problem(f"HEIF: truncated infe box at {hexoff(at)}")
                continue
            if v == 2:
                item_id = struct.unpack_from(">H", data, 4)[0]
                p = 8
            else:
                item_id = struct.unpack_from(">I", data, 4)[0]
                p = 10
            itype = data[p:p + 4]
            rest = data[p + 4:]
            _item_name, _, rest = rest.partition(b"\x00")
            if itype == b"Exif":
                wanted[item_id] = "Exif"
            elif itype == b"mime":
                ctype = rest.partition(b"\x00")[0]
                if ctype == b"application/rdf+xml":
                    wanted[item_id] = "XMP"
        if not wanted:
            return
        read: set[tuple[tuple[int, int], ...]] = set()
        left = ITEMS_BUDGET
        for item_id, extents in self.iloc(boxes).items():
            kind = wanted.get(item_id)
            if kind is None:
                continue
            total = sum(n for _, n in extents)
            if total > MAX_PACKET:
                self.out.problem(f"HEIF {kind} item {item_id} is over {MAX_PACKET} bytes")
                continue
            key = tuple(extents)
            if key in read:  # thousands of items may share one extent: read it once
                continue
            read.add(key)
            if total > left:
                self.out.problem(f"HEIF metadata items add up to more than {ITEMS_BUDGET} "
                                 f"bytes; item {item_id} and later not read")
                break
            left -= total
            data = b"".join(self.src.exact(o, n, f"HEIF {kind} item") for o, n in extents)
            where = f"HEIF {kind} item {item_id}"
            if kind == "XMP":
                parse_xmp(data, where, self.out)
            elif len(data) >= 4:
                skip = 4 + struct.unpack_from(">I", data, 0)[0]
                if data[skip:skip + 6] == b"Exif\x00\x00":
                    skip += 6
                parse_tiff(Source.from_bytes(data), skip, len(data) - skip, where, self.out)

    def iloc(self, boxes: dict[str, tuple[int, int]]) -> dict[int, list[tuple[int, int]]]:
        lb, le = boxes["iloc"]
        data = self.src.exact(lb, le - lb, "iloc")
        idat_start = boxes.get("idat", (0, 0))[0]
        if len(data) < 8:
            raise FormatError("iloc box truncated")
        version = data[0]
        off_size, len_size = data[4] >> 4, data[4] & 15
        base_size, idx_size = data[5] >> 4, (data[5] & 15 if version in (1, 2) else 0)
        p = 6

        def num(size: int) -> int:
            nonlocal p
            if size == 0:
                return 0
            if p + size > len(data):
                raise FormatError("iloc box truncated")
            value = int.from_bytes(data[p:p + size], "big")
            p += size
            return value

        count = num(2 if version < 2 else 4)
        out: dict[int, list[tuple[int, int]]] = {}
        for _ in range(min(count, MAX_ITEMS)):
            item_id = num(2 if version < 2 else 4)
            method = num(2) & 15 if version in (1, 2) else 0
            num(2)  # data_reference_index
            base = num(base_size)
            n_ext = num(2)
            extents = []
            for _ in range(min(n_ext, 64)):
                num(idx_size)
                offset = num(off_size)
                length = num(len_size)
                if method == 1:
                    extents.append((idat_start + base + offset, length))
                elif method == 0:
                    extents.append((base + offset, length))
            if extents:
                out[item_id] = extents
        return out


def _string(raw: bytes) -> str:
    """A 3GPP string: UTF-16 with its BOM, else UTF-8."""
    if raw[:2] in (b"\xfe\xff", b"\xff\xfe"):
        return raw.decode("utf-16", "replace").rstrip("\x00")
    return raw.decode("utf-8", "replace").rstrip("\x00")


def _cstring(data: bytes) -> tuple[str, bytes]:
    """(NUL-terminated string, rest); UTF-16 strings end at a double NUL."""
    if data[:2] in (b"\xfe\xff", b"\xff\xfe"):
        for i in range(2, len(data) - 1, 2):
            if data[i:i + 2] == b"\x00\x00":
                return _string(data[:i]), data[i + 2:]
        return _string(data), b""
    raw, _, rest = data.partition(b"\x00")
    return _string(raw), rest


def read_bmff(src: Source, out: Collector) -> None:
    try:
        _Bmff(src, out).walk()
    except FormatError as exc:
        out.problem(f"BMFF: {exc}")


# --- C2PA carriers ----------------------------------------------------------------------------

C2PA_UUID = bytes.fromhex("d8fec3d61b0e483c92975828877ec481")
# Boxes c2pa-rs descends into (``meta`` as a FullBox), so that their damage is seen here too.
C2PA_CONTAINERS = frozenset({b"moov", b"trak", b"mdia", b"minf", b"stbl", b"moof", b"traf",
                             b"edts", b"udta", b"dinf", b"tref", b"treg", b"mvex", b"mfra",
                             b"meta", b"schi"})
C2PA_FULL_BOXES = frozenset({b"meta"})


def c2pa_carriers(src: Source) -> tuple[str, str]:
    """Where c2pa-rs reads ISO BMFF (MP4, MOV, M4A): a top-level ``uuid`` box (C2PA or XMP user
    type), wherever it sits (moov first or last, 64-bit sizes, sparse multi-GiB files: only box
    headers are read). Container boxes c2pa-rs parses are walked too, so its parse errors
    still surface."""
    return _boxes(src, 0, src.size, 0) or (c2pa.ABSENT, "BMFF: all top-level boxes walked, no C2PA uuid")


def _boxes(src: Source, start: int, end: int, depth: int) -> tuple[str, str] | None:
    pos = start
    while pos < end:
        src.tick()
        size, btype = struct.unpack(">I4s", src.exact(pos, 8, "BMFF box header"))
        hlen = 8
        if size == 1:
            size = int.from_bytes(src.exact(pos + 8, 8, "BMFF large size"), "big")
            hlen = 16
        elif size == 0 and depth == 0 and btype != b"uuid":
            return None  # runs to the end of the file; c2pa-rs stops here too
        if size < hlen:
            raise FormatError(f"BMFF box {btype!r} at {pos:#x} has size {size}")
        box_end = pos + size
        if depth and box_end > end:
            # A child overrunning its parent (e.g. a QuickTime ``meta`` read as a FullBox):
            # c2pa-rs resumes after the parent, and reads C2PA only from top-level boxes.
            return None
        if box_end > src.size:
            raise FormatError(f"BMFF box {btype!r} at {pos:#x} runs past the end of the file")
        if btype == b"uuid":
            if size < hlen + 16:
                raise FormatError(f"BMFF uuid box at {pos:#x} too small")
            user = src.exact(pos + hlen, 16, "BMFF uuid")
            if user == C2PA_UUID:
                return c2pa.PRESENT, f"BMFF C2PA uuid box at {pos:#x}"
            if user == XMP_UUID and c2pa.remote(
                    src.value(pos + hlen + 16, size - hlen - 16, "BMFF XMP box")):
                return c2pa.MAYBE, f"BMFF XMP box at {pos:#x} names a provenance (remote manifest)"
        elif btype in C2PA_CONTAINERS:
            if depth >= c2pa.MAX_DEPTH:
                raise FormatError(f"BMFF nesting deeper than {c2pa.MAX_DEPTH}")
            inner = pos + hlen + (4 if btype in C2PA_FULL_BOXES else 0)
            found = _boxes(src, inner, box_end, depth + 1)
            if found:
                return found
        pos = box_end
    return None


def c2pa_heif(src: Source) -> tuple[str, str]:
    """HEIF/AVIF: c2pa-rs also parses the item tables (``meta``/``iloc``) and reports a damaged
    one as unreadable C2PA; walking top-level boxes cannot promise that, so let the Reader judge
    (found by fuzzing: a truncated ``iloc`` the locator called absent)."""
    found = c2pa_carriers(src)
    return found if found[0] == c2pa.PRESENT else (c2pa.MAYBE, "HEIF/AVIF item tables: the Reader decides")


# --- recognition ------------------------------------------------------------------------------

# Major/compatible brands -> media type; anything else with ``ftyp`` is MP4.
BRANDS: dict[bytes, str] = {
    b"heic": "image/heic", b"heix": "image/heic", b"heim": "image/heic", b"heis": "image/heic",
    b"hevc": "image/heic", b"hevx": "image/heic", b"mif1": "image/heif", b"msf1": "image/heif",
    b"avif": "image/avif", b"avis": "image/avif", b"M4A ": "audio/mp4", b"M4B ": "audio/mp4",
    b"M4P ": "audio/mp4", b"F4A ": "audio/mp4", b"qt  ": "video/quicktime",
    b"crx ": "image/x-canon-cr3", b"jp2 ": "image/jp2", b"jxl ": "image/jxl",
}
# QuickTime files that start without ``ftyp``.
QT_TOP = {b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot", b"uuid"}
KINDS = {"video/mp4": "video", "video/quicktime": "video", "audio/mp4": "audio",
         "image/heic": "image", "image/heif": "image", "image/avif": "image",
         "image/x-canon-cr3": "image", "image/jp2": "image", "image/jxl": "image"}


def accept(head: bytes) -> str | None:
    if len(head) < 12:
        return None
    if head[4:8] != b"ftyp":
        return "video/quicktime" if head[4:8] in QT_TOP else None
    size = int.from_bytes(head[0:4], "big")
    brands = [head[8:12]]
    end = min(max(size, 16), len(head))
    brands += [head[i:i + 4] for i in range(16, end - 3, 4)]
    return next((BRANDS[b] for b in brands if b in BRANDS), "video/mp4")


FORMATS = [
    Format(id="bmff", label="ISO BMFF", priority=60, accept=accept,
           kinds={t: KINDS[t] for t in ("video/mp4", "video/quicktime", "audio/mp4")},
           labels={"video/mp4": "MP4", "video/quicktime": "QuickTime", "audio/mp4": "M4A"},
           extensions={".mp4": ("video/mp4",), ".m4v": ("video/mp4",),
                       ".mov": ("video/quicktime", "video/mp4"), ".m4a": ("audio/mp4",)},
           read=read_bmff, c2pa=c2pa_carriers),
    # HEIF/AVIF: c2pa-rs also parses the item tables; the Reader decides unless a store shows.
    Format(id="bmff", label="HEIF", priority=60, accept=accept,
           kinds={t: "image" for t in ("image/heic", "image/heif", "image/avif")},
           labels={"image/avif": "AVIF"},
           extensions={".heic": ("image/heic", "image/heif"),
                       ".heif": ("image/heif", "image/heic"), ".avif": ("image/avif",)},
           read=read_bmff, c2pa=c2pa_heif),
    # Read by the deep tier only.
    Format(id="bmff", label="ISO BMFF image", priority=60, accept=accept,
           kinds={t: "image" for t in ("image/x-canon-cr3", "image/jp2", "image/jxl")},
           labels={"image/x-canon-cr3": "CR3", "image/jp2": "JPEG 2000", "image/jxl": "JPEG XL"},
           extensions={".jp2": ("image/jp2",), ".jxl": ("image/jxl",)}),
]
