"""AIFF / AIFF-C: the IFF chunk walk and its text chunks (``NAME``, ``AUTH``, ``(c) ``, ``ANNO``,
``COMT`` comment records, ``APPL`` application text) and embedded ``ID3 `` tags.

Why native: stems and printmasters are delivered as AIFF as often as WAV, and a generator's
text written by ffmpeg (``-metadata comment=…`` becomes ``ANNO``), libsndfile (``APPL`` 'm3ga'
software string) or a tagger (``ID3 ``) must be read without ExifTool. The sound data (``SSND``)
is skipped by seeking: a walk reads chunk headers and metadata chunks only. Text is UTF-8 when
it decodes as such, else Mac OS Roman (the spec's encoding, as ExifTool reads it).

Keys (the chunk id, trailing spaces dropped): ``aiff:NAME``, ``aiff:AUTH``, ``aiff:(c)``,
``aiff:ANNO``, ``aiff:COMT`` (one field per comment record), ``aiff:APPL:<signature>``; ``ID3 ``
frames give the usual ``id3:`` keys.
"""

from __future__ import annotations

import struct

from detectors.formats.id3 import parse_id3v2
from detectors.formats.native import Collector, FormatError, Source, hexoff
from detectors.formats.registry import Format

MAX_CHUNKS = 100_000
TEXT_LIMIT = 16 * 1024 * 1024
TEXT_CHUNKS = {b"NAME", b"AUTH", b"(c) ", b"ANNO"}
MAX_COMMENTS = 10_000


def decode(data: bytes) -> str:
    """UTF-8 when valid (what current writers use), else Mac OS Roman (the AIFF spec's)."""
    data = data.rstrip(b"\x00")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("mac_roman")


def _printable(data: bytes) -> bool:
    return bool(data) and all(b >= 0x20 or b in (9, 10, 13) for b in data.rstrip(b"\x00"))


def _walk(src: Source, out: Collector) -> None:
    hdr = src.exact(0, 12, "FORM header")
    magic, size, form = struct.unpack(">4sI4s", hdr)
    if magic != b"FORM" or form not in (b"AIFF", b"AIFC"):
        raise FormatError(f"not an AIFF file ({hdr[:4]!r} … {hdr[8:12]!r})")
    end = 8 + size
    if end > src.size:
        out.problem(f"AIFF: the FORM claims {size} bytes but the file ends at {src.size}")
        end = src.size
    elif src.size - end > 1 and src.read(end, 64).strip(b"\x00"):
        out.note(f"AIFF: {src.size - end} bytes after the FORM not read")
    pos = 12
    count = 0
    while pos + 8 <= end:
        count += 1
        if count > MAX_CHUNKS:
            raise FormatError(f"more than {MAX_CHUNKS} chunks")
        cid, csize = struct.unpack(">4sI", src.exact(pos, 8, "chunk header"))
        if not all(0x20 <= b <= 0x7E for b in cid):
            raise FormatError(f"invalid chunk id {cid!r} at {hexoff(pos)}")
        data_at = pos + 8
        if data_at + csize > end:
            raise FormatError(f"chunk {cid.decode('latin-1')!r} at {hexoff(pos)} runs past the "
                              f"end of the FORM ({data_at + csize} > {end})")
        _chunk(src, out, cid, data_at, csize,
               f"AIFF chunk '{cid.decode('latin-1')}' at {hexoff(pos)}")
        pos = data_at + csize + (csize & 1)
    if end - pos >= 8:
        out.note("AIFF: trailing bytes in the FORM")


def _chunk(src: Source, out: Collector, cid: bytes, at: int, size: int, where: str) -> None:
    name = cid.decode("latin-1").rstrip(" ")
    if cid in TEXT_CHUNKS:
        out.add(f"aiff:{name}", decode(_value(src, at, size, where)), where)
    elif cid == b"COMT":
        _comments(_value(src, at, size, where), where, out)
    elif cid == b"APPL" and size >= 4:
        sig = src.exact(at, 4, "APPL signature")
        if not _printable(sig):
            return
        body = _value(src, at + 4, size - 4, where)
        if _printable(body):
            out.add(f"aiff:APPL:{sig.decode('latin-1').rstrip(' ')}", decode(body), where)
    elif cid in (b"ID3 ", b"id3 "):
        parse_id3v2(src, at, where, out, limit=at + size)


def _value(src: Source, at: int, size: int, where: str) -> bytes:
    if size > TEXT_LIMIT:
        raise FormatError(f"{where}: {size} bytes, over the {TEXT_LIMIT}-byte text limit")
    return src.exact(at, size, where)


def _comments(data: bytes, where: str, out: Collector) -> None:
    """``COMT``: a count, then (timestamp u32, marker id i16, count u16, text, pad) records."""
    if len(data) < 2:
        out.note(f"{where}: empty comments chunk")
        return
    n = struct.unpack_from(">H", data)[0]
    pos = 2
    for i in range(min(n, MAX_COMMENTS)):
        if pos + 8 > len(data):
            out.problem(f"{where}: comment {i + 1} of {n} truncated")
            return
        _stamp, marker, count = struct.unpack_from(">IhH", data, pos)
        pos += 8
        if pos + count > len(data):
            out.problem(f"{where}: comment {i + 1} of {n} runs past the chunk")
            return
        text = decode(data[pos:pos + count])
        at = f"{where} comment {i + 1}" + (f" (marker {marker})" if marker else "")
        out.add("aiff:COMT", text, at)
        pos += count + (count & 1)


def read_aiff(src: Source, out: Collector) -> None:
    try:
        _walk(src, out)
    except FormatError as exc:
        out.problem(f"AIFF: {exc}")


def accept(head: bytes) -> str | None:
    return "audio/aiff" if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC") else None


FORMATS = [Format(
    id="aiff", label="AIFF", priority=90, accept=accept, kinds={"audio/aiff": "audio"},
    extensions={".aif": ("audio/aiff",), ".aiff": ("audio/aiff",), ".aifc": ("audio/aiff",)},
    read=read_aiff,
)]
