"""RIFF walker for WAV/BWF/RF64/BW64, AVI and WebP: ``LIST/INFO``, ``bext`` (BWF, coding history
included), ``iXML`` and ``axml`` (XML: leaf elements become fields, XMP in ``axml`` is parsed as
XMP), XMP (``_PMX`` in WAV, ``XMP `` in WebP), WebP ``EXIF``, embedded ``id3 `` chunks.

Essence chunks (``data``, ``movi``, ``VP8 ``/``VP8L``/``ANMF``, ``idx1``) are skipped by seeking,
so a ``LIST`` after a multi-gigabyte ``data`` chunk costs one header read. RF64/BW64 (EBU Tech
3306, ITU-R BS.2088) carry their 64-bit sizes in ``ds64``: the form's size, the ``data`` size and
a table for any other chunk over 4 GiB; they are applied wherever a 32-bit size says -1. AVI
``AVIX`` continuation RIFFs are walked too. Chunk counts and LIST nesting are bounded (a
nested-LIST bomb stops at ``MAX_DEPTH``).

Keys: ``riff:INFO:<fourcc>``, ``riff:bext:<field>``, ``riff:iXML`` (the whole document, as
before) and ``riff:iXML:<path>`` per text element (``riff:iXML:PROJECT``,
``riff:iXML:TRACK_LIST/TRACK/NAME``; attributes as ``<path>@<name>``), ``riff:axml:<path>`` for
non-XMP ``axml`` (EBU Core / ADM; namespace prefixes dropped).
"""

from __future__ import annotations

import struct
import xml.etree.ElementTree as ET

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from detectors.formats import c2pa_locate as c2pa
from detectors.formats.exif import parse_tiff
from detectors.formats.native import Collector, FormatError, Source, hexoff, text
from detectors.formats.registry import Format
from detectors.formats.xmp import MAX_PACKET, parse_xmp
from detectors.formats.xmp import _prescreen as xml_prescreen

MAX_CHUNKS = 100_000
MAX_DEPTH = 3
TEXT_LIMIT = 16 * 1024 * 1024
SKIP = {b"data", b"VP8 ", b"VP8L", b"ALPH", b"ANMF", b"idx1", b"JUNK", b"junk", b"ICCP",
        b"fmt ", b"fact", b"PAD ", b"FLLR"}
SKIP_LISTS = {b"movi", b"rec "}
BEXT_TEXT = (("Description", 0, 256), ("Originator", 256, 32),
             ("OriginatorReference", 288, 32), ("OriginationDate", 320, 10),
             ("OriginationTime", 330, 8))
BEXT_CODING_HISTORY = 602  # v0-v2 alike: v1's UMID and v2's loudness fields sit before it
# XML chunks (iXML, axml): elements turned into fields, and how deep a path may go.
XML_MAX_ELEMENTS = 20_000
XML_MAX_DEPTH = 16
MAX_DS64_TABLE = 1024
UNKNOWN_SIZE = 0xFFFFFFFF  # an RF64/BW64 32-bit size that ds64 replaces


def _valid_id(cid: bytes) -> bool:
    return len(cid) == 4 and all(0x20 <= b <= 0x7E for b in cid)


class _Riff:
    def __init__(self, src: Source, out: Collector) -> None:
        self.src, self.out = src, out
        self.count = 0
        self.ds64: dict[str, int] = {}
        self.form = b""

    def walk(self) -> None:
        pos = 0
        first = True
        while pos + 12 <= self.src.size:
            self.count += 1  # 5 million empty 'AVIX' forms took 30 s before this bound
            if self.count > MAX_CHUNKS:
                raise FormatError(f"more than {MAX_CHUNKS} chunks")
            hdr = self.src.read(pos, 12)
            rid, size, form = hdr[:4], struct.unpack("<I", hdr[4:8])[0], hdr[8:12]
            if rid not in (b"RIFF", b"RF64", b"BW64"):
                if first:
                    raise FormatError(f"not a RIFF file ({rid!r})")
                if hdr.strip(b"\x00"):
                    self.out.note(f"RIFF: {self.src.size - pos} bytes of non-RIFF data after "
                                  f"{hexoff(pos)} not read")
                return
            if first:
                self.form = form
            first = False
            end = pos + 8 + size
            if rid != b"RIFF":
                self.read_ds64(pos + 12, rid)
                if size == UNKNOWN_SIZE:
                    if "riff" not in self.ds64:
                        raise FormatError(f"{rid.decode('latin-1')} form size is -1 but there "
                                          "is no ds64 chunk giving the 64-bit size")
                    end = pos + 8 + self.ds64["riff"]
                    if self.ds64["riff"] < 4:  # never filled in (a recorder that stopped)
                        self.out.note(f"RIFF: ds64 gives no {rid.decode('latin-1')} form size; "
                                      "chunks read to the end of the file")
                        end = self.src.size
            self.chunks(pos + 12, min(end, self.src.size), 0, f"RIFF {form.decode('latin-1')}")
            if end > self.src.size:
                self.out.problem(f"RIFF: the {form.decode('latin-1')} form claims "
                                 f"{end - pos} bytes but the file ends at {self.src.size}")
                return
            pos = end + (end & 1 if end < self.src.size else 0)

    def chunks(self, start: int, end: int, depth: int, parent: str) -> None:
        p = start
        while p + 8 <= end:
            self.count += 1
            if self.count > MAX_CHUNKS:
                raise FormatError(f"more than {MAX_CHUNKS} chunks")
            hdr = self.src.exact(p, 8, "chunk header")
            cid, csize = hdr[:4], struct.unpack("<I", hdr[4:8])[0]
            if not _valid_id(cid):
                if p > start and _valid_id(self.src.read(p - 1, 4)):
                    p -= 1  # writer forgot the pad byte of the previous chunk
                    continue
                raise FormatError(f"invalid chunk id {cid!r} at {hexoff(p)} in {parent}")
            if csize == UNKNOWN_SIZE and self.ds64:
                csize = self.ds64.get("data" if cid == b"data" else f"table:{cid.hex()}", csize)
            data_at = p + 8
            cend = data_at + csize
            if cend > self.src.size:
                raise FormatError(f"chunk {cid.decode('latin-1')!r} at {hexoff(p)} runs past "
                                  f"the end of the file ({cend} > {self.src.size})")
            where = f"RIFF chunk '{cid.decode('latin-1')}' at {hexoff(p)}"
            self.chunk(cid, data_at, csize, depth, where)
            p = cend + (csize & 1)
        if p < end and end - p >= 8:
            self.out.note(f"RIFF: trailing bytes in {parent}")

    def chunk(self, cid: bytes, at: int, size: int, depth: int, where: str) -> None:
        src, out = self.src, self.out
        if cid in SKIP:
            return
        if cid == b"LIST":
            ltype = src.exact(at, 4, "LIST type") if size >= 4 else b""
            if ltype == b"INFO":
                self.info(at + 4, at + size, where)
            elif ltype in SKIP_LISTS or not ltype:
                return
            elif depth >= MAX_DEPTH:
                out.note(f"RIFF: LIST '{ltype.decode('latin-1')}' nested deeper than "
                         f"{MAX_DEPTH} at {where} not read")
            else:
                self.chunks(at + 4, at + size, depth + 1, f"LIST {ltype.decode('latin-1')}")
        elif cid == b"ds64":
            return  # read before the walk (read_ds64)
        elif cid == b"bext":
            self.bext(at, size, where)
        elif cid == b"iXML":
            doc = self._text(at, size, where)
            out.add("riff:iXML", doc, where)
            xml_fields(doc.encode("utf-8"), "riff:iXML", where, out)
        elif cid == b"axml":
            self.axml(at, size, where)
        elif cid in (b"_PMX", b"XMP "):
            parse_xmp(src.exact(at, size, "XMP chunk"), where, out)
        elif cid == b"EXIF":
            skip = 6 if src.read(at, 6) == b"Exif\x00\x00" else 0
            parse_tiff(src, at + skip, size - skip, where, out)
        elif cid in (b"id3 ", b"ID3 ", b"id3\x20"):
            from detectors.formats.id3 import parse_id3v2
            parse_id3v2(src, at, where, out, limit=at + size)
        elif cid == b"C2PA":
            out.facts["riff.c2pa"] = True

    def read_ds64(self, at: int, rid: bytes) -> None:
        """The ``ds64`` chunk of an RF64/BW64 form (its first chunk): 64-bit sizes of the form,
        of ``data`` and of any other chunk listed in its table (EBU Tech 3306 §3)."""
        hdr = self.src.read(at, 8)
        if len(hdr) < 8 or hdr[:4] != b"ds64":
            if rid == b"RF64":
                raise FormatError("RF64 form without a ds64 chunk first")
            return  # BW64 under 4 GiB may carry real 32-bit sizes and no ds64
        size = struct.unpack("<I", hdr[4:8])[0]
        if size < 24:
            raise FormatError(f"ds64 chunk of {size} bytes (needs at least 24)")
        body = self.src.exact(at + 8, min(size, 28), "ds64 chunk")
        riff, data, _samples = struct.unpack_from("<QQQ", body)
        self.ds64 = {"riff": riff, "data": data}
        count = struct.unpack_from("<I", body, 24)[0] if len(body) >= 28 else 0
        if count > MAX_DS64_TABLE or 28 + 12 * count > size:
            raise FormatError(f"ds64 table of {count} entries does not fit its chunk")
        table = self.src.exact(at + 8 + 28, 12 * count, "ds64 table") if count else b""
        for i in range(count):
            cid, csize = struct.unpack_from("<4sQ", table, 12 * i)
            self.ds64[f"table:{cid.hex()}"] = csize

    def axml(self, at: int, size: int, where: str) -> None:
        """``axml`` (EBU Tech 3285 s5): XML, often an XMP packet or EBU Core / ADM."""
        if size > MAX_PACKET:
            self.out.problem(f"{where}: {size} bytes, over the {MAX_PACKET}-byte XML limit")
            return
        data = self.src.exact(at, size, where)
        head = data[:4096]
        if b"xmpmeta" in head or b"rdf:RDF" in head:
            parse_xmp(data, where, self.out)
        else:
            xml_fields(data, "riff:axml", where, self.out)

    def _text(self, at: int, size: int, where: str) -> str:
        if size > TEXT_LIMIT:
            self.out.problem(f"{where}: {size} bytes, over the {TEXT_LIMIT}-byte text limit")
            size = TEXT_LIMIT
        return text(self.src.exact(at, size, where)).rstrip("\x00")

    def info(self, start: int, end: int, where: str) -> None:
        p = start
        while p + 8 <= end:
            self.count += 1
            if self.count > MAX_CHUNKS:
                raise FormatError(f"more than {MAX_CHUNKS} chunks")
            hdr = self.src.exact(p, 8, "INFO item header")
            cid, csize = hdr[:4], struct.unpack("<I", hdr[4:8])[0]
            if not _valid_id(cid) or p + 8 + csize > end:
                self.out.note(f"RIFF: malformed INFO item at {hexoff(p)} in {where}")
                return
            if cid == b"LIST":
                self.out.note(f"RIFF: nested LIST inside INFO at {hexoff(p)} ignored")
            else:
                name = cid.decode("latin-1")
                self.out.add(f"riff:INFO:{name}", self._text(p + 8, csize, where),
                             f"RIFF LIST/INFO item '{name}' at {hexoff(p)}")
            p += 8 + csize + (csize & 1)

    def bext(self, at: int, size: int, where: str) -> None:
        data = self.src.exact(at, min(size, BEXT_CODING_HISTORY), "bext chunk")
        for name, off, length in BEXT_TEXT:
            value = text(data[off:off + length]).split("\x00", 1)[0].strip()
            if value:
                self.out.add(f"riff:bext:{name}", value, f"{where} field {name}")
        if size > BEXT_CODING_HISTORY:
            hist = self._text(at + BEXT_CODING_HISTORY, size - BEXT_CODING_HISTORY, where)
            if hist.strip("\x00 \r\n"):
                self.out.add("riff:bext:CodingHistory", hist, f"{where} field CodingHistory")


def _local(tag: str) -> str:
    return tag.rpartition("}")[2] if tag.startswith("{") else tag


def xml_fields(data: bytes, prefix: str, where: str, out: Collector) -> None:
    """Every element of an XML document that holds text becomes ``<prefix>:<path>`` (the
    element names below the root, namespaces dropped: ``PROJECT``, ``TRACK_LIST/TRACK/NAME``),
    every attribute ``<prefix>:<path>@<name>`` (ADM's ``audioProgramme@audioProgrammeName``).
    Parsed with defusedxml (no DTD, entities or external references) under the XMP reader's
    size prescreen, with bounded elements and depth; a document that cannot be parsed is a
    note (its whole text stays available where the caller keeps it)."""
    start, end = data.find(b"<"), data.rfind(b">")
    if start < 0 or end < start:
        if data.strip(b"\x00 \t\r\n"):
            out.note(f"{where}: not XML")
        return
    data = data[start:end + 1]
    refused = xml_prescreen(data)
    if refused:
        out.problem(f"{where}: XML not parsed: {refused}")
        return
    try:
        root = SafeET.fromstring(data, forbid_dtd=True, forbid_entities=True,
                                 forbid_external=True)
    except DefusedXmlException as exc:
        out.problem(f"{where}: XML refused: {type(exc).__name__} (DTD/entities not allowed)")
        return
    except (ET.ParseError, LookupError, ValueError) as exc:
        out.note(f"{where}: not well-formed XML ({str(exc)[:200]}); read as text only")
        return
    count = 0
    stack: list[tuple[ET.Element, str, int]] = [(child, "", 1) for child in reversed(root)]
    while stack:
        el, parent, depth = stack.pop()
        if not isinstance(el.tag, str):
            continue
        count += 1
        if count > XML_MAX_ELEMENTS:
            out.problem(f"{where}: more than {XML_MAX_ELEMENTS} XML elements; the rest not read")
            return
        path = f"{parent}/{_local(el.tag)}" if parent else _local(el.tag)
        value = (el.text or "").strip()
        if value:
            out.add(f"{prefix}:{path}", value, f"{where} element {path}")
        for name, attr in el.attrib.items():  # ADM keeps its names in attributes
            if attr.strip():
                out.add(f"{prefix}:{path}@{_local(name)}", attr.strip(),
                        f"{where} element {path} attribute {_local(name)}")
        if depth >= XML_MAX_DEPTH:
            if len(el):
                out.note(f"{where}: XML nested deeper than {XML_MAX_DEPTH} at {path}; not read")
            continue
        stack.extend((child, path, depth + 1) for child in reversed(el))


def read_riff(src: Source, out: Collector) -> None:
    try:
        _Riff(src, out).walk()
    except FormatError as exc:
        out.problem(f"RIFF: {exc}")


# --- C2PA carriers ----------------------------------------------------------------------------

C2PA_CHUNK = b"C2PA"
XMP_CHUNK = b"XMP "


def c2pa_carriers(src: Source) -> tuple[str, str]:
    """Where c2pa-rs reads RIFF (WAV, WebP, AVI): a ``C2PA`` / ``XMP `` chunk among the RIFF's
    children (also after ``data``/``movi``).

    RF64/BW64 are refused by c2pa-rs ("invalid header: expected RIFF"), so for them this walk
    is the answer (raised as :class:`~detectors.formats.c2pa_locate.Unbound`): no ``C2PA``
    chunk means no store; a ``C2PA`` chunk is handed over by position, for the detector to
    read the store on its own. A form c2pa-rs would not find either way (broken ds64, sizes
    past the end) is doubt."""
    rid, size = struct.unpack("<4sI", src.exact(0, 8, "RIFF header"))
    if rid in (b"RF64", b"BW64"):
        return _c2pa_rf64(src, rid, size)
    if rid != b"RIFF":
        raise FormatError(f"{rid!r} container (c2pa-rs reads RIFF only)")
    end = 8 + size
    if end > src.size or size < 4:
        raise FormatError("RIFF size past the end of the file")
    pos = 12
    while pos < end:
        src.tick()
        cid, n = struct.unpack("<4sI", src.exact(pos, 8, "RIFF chunk header"))
        data_end = pos + 8 + n
        if data_end > end:
            raise FormatError(f"RIFF chunk at {pos:#x} runs past its parent")
        if cid == C2PA_CHUNK:
            return c2pa.PRESENT, f"RIFF C2PA chunk at {pos:#x}"
        if cid == XMP_CHUNK and c2pa.remote(src.value(pos + 8, n, "RIFF XMP chunk")):
            return c2pa.MAYBE, f"RIFF XMP chunk at {pos:#x} names a provenance (remote manifest)"
        pos = data_end + (n & 1)
    return c2pa.ABSENT, "RIFF: all chunks walked, no C2PA chunk"


def _c2pa_rf64(src: Source, rid: bytes, size: int) -> tuple[str, str]:
    """The top-level chunks of an RF64/BW64 form, 64-bit sizes from ``ds64`` (header reads
    only: a multi-GiB ``data`` chunk is stepped over)."""
    name = rid.decode("latin-1")
    walker = _Riff(src, Collector())
    walker.read_ds64(12, rid)
    if size == UNKNOWN_SIZE:
        if "riff" not in walker.ds64:
            raise FormatError(f"{name} size -1 without a ds64 chunk")
        size = walker.ds64["riff"] if walker.ds64["riff"] >= 4 else src.size - 8
    end = 8 + size
    if end > src.size or size < 4:
        raise FormatError(f"{name} size past the end of the file")
    if src.read(8, 4) != b"WAVE":
        raise FormatError(f"{name} form is not WAVE")
    pos = 12
    while pos + 8 <= end:
        src.tick()
        cid, n = struct.unpack("<4sI", src.exact(pos, 8, f"{name} chunk header"))
        if n == UNKNOWN_SIZE:
            key = "data" if cid == b"data" else f"table:{cid.hex()}"
            if key not in walker.ds64:
                raise FormatError(f"{name} chunk {cid!r} at {pos:#x} has size -1 and no ds64 "
                                  "entry")
            n = walker.ds64[key]
        data_end = pos + 8 + n
        if data_end > end:
            raise FormatError(f"{name} chunk {cid!r} at {pos:#x} runs past its form")
        if cid == C2PA_CHUNK:
            raise c2pa.Unbound(f"{name} C2PA chunk at {pos:#x} ({n} bytes); c2pa-rs does not "
                               f"read {name}", span=(pos + 8, n), fmt="audio/wav", chunk_at=pos)
        if cid == XMP_CHUNK and c2pa.remote(src.value(pos + 8, n, f"{name} XMP chunk")):
            raise c2pa.Unbound(f"{name} XMP chunk at {pos:#x} names a provenance (remote "
                               "manifest)", remote=True)
        pos = data_end + (n & 1)
    raise c2pa.Unbound(f"{name}: all chunks walked (64-bit sizes from ds64), no C2PA chunk")


FORMS = {b"WEBP": "image/webp", b"WAVE": "audio/wav", b"AVI ": "video/x-msvideo"}


def accept(head: bytes) -> str | None:
    """RIFF and its 64-bit forms (RF64/BW64 carry WAVE only)."""
    if head[:4] not in (b"RIFF", b"RF64", b"BW64"):
        return None
    if head[:4] != b"RIFF":
        return "audio/wav" if head[8:12] == b"WAVE" else "application/x-riff"
    return FORMS.get(head[8:12], "application/x-riff")


FORMATS = [Format(
    id="riff", label="RIFF", priority=40, accept=accept,
    kinds={"image/webp": "image", "audio/wav": "audio", "video/x-msvideo": "video",
           "application/x-riff": "other"},
    labels={"image/webp": "WebP", "audio/wav": "WAV", "video/x-msvideo": "AVI"},
    extensions={".webp": ("image/webp",), ".wav": ("audio/wav",), ".bwf": ("audio/wav",),
                ".avi": ("video/x-msvideo",)},
    read=read_riff, c2pa=c2pa_carriers, raster=frozenset({"image/webp"}),
)]
