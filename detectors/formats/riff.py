"""RIFF walker for WAV/BWF/RF64, AVI and WebP: ``LIST/INFO``, ``bext``, ``iXML``, XMP (``_PMX`` in
WAV, ``XMP `` in WebP), WebP ``EXIF``, embedded ``id3 `` chunks.

Essence chunks (``data``, ``movi``, ``VP8 ``/``VP8L``/``ANMF``, ``idx1``) are skipped by seeking,
so a ``LIST`` after a multi-gigabyte ``data`` chunk costs one header read. RF64/BW64 64-bit sizes
come from ``ds64``; AVI ``AVIX`` continuation RIFFs are walked too. Chunk counts and LIST nesting
are bounded (a nested-LIST bomb stops at ``MAX_DEPTH``).
"""

from __future__ import annotations

import struct

from detectors.formats import c2pa_locate as c2pa
from detectors.formats.exif import parse_tiff
from detectors.formats.native import Collector, FormatError, Source, hexoff, text
from detectors.formats.registry import Format
from detectors.formats.xmp import parse_xmp

MAX_CHUNKS = 100_000
MAX_DEPTH = 3
TEXT_LIMIT = 16 * 1024 * 1024
SKIP = {b"data", b"VP8 ", b"VP8L", b"ALPH", b"ANMF", b"idx1", b"JUNK", b"junk", b"ICCP",
        b"fmt ", b"fact", b"PAD ", b"FLLR"}
SKIP_LISTS = {b"movi", b"rec "}
BEXT_TEXT = (("Description", 0, 256), ("Originator", 256, 32),
             ("OriginatorReference", 288, 32), ("OriginationDate", 320, 10),
             ("OriginationTime", 330, 8))
BEXT_CODING_HISTORY = 602


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
            if rid != b"RIFF" and size == 0xFFFFFFFF:
                end = self.src.size  # refined by ds64 below
            self.chunks(pos + 12, min(end, self.src.size), 0, f"RIFF {form.decode('latin-1')}")
            if "riff" in self.ds64 and rid != b"RIFF":
                end = pos + 8 + self.ds64["riff"]
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
            if csize == 0xFFFFFFFF and cid == b"data" and "data" in self.ds64:
                csize = self.ds64["data"]
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
        elif cid == b"ds64" and size >= 16:
            riff, data = struct.unpack("<QQ", src.exact(at, 16, "ds64"))
            self.ds64 = {"riff": riff, "data": data}
        elif cid == b"bext":
            self.bext(at, size, where)
        elif cid == b"iXML":
            out.add("riff:iXML", self._text(at, size, where), where)
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
    children (also after ``data``/``movi``). RF64/BW64 are not read by c2pa-rs: doubt."""
    form, size = struct.unpack("<4sI", src.exact(0, 8, "RIFF header"))
    if form != b"RIFF":
        raise FormatError(f"{form!r} container (c2pa-rs reads RIFF only)")
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
