"""FLAC: recognition, the metadata-block walk (Vorbis comments; pictures skipped by offset, the
audio frames after the last block never touched; an ID3v2 tag in front read too) and the C2PA
carriers (only a leading ID3v2 tag)."""

from __future__ import annotations

from detectors.formats import c2pa_locate as c2pa
from detectors.formats import mp3
from detectors.formats.id3 import parse_id3v2
from detectors.formats.native import Collector, FormatError, Source, hexoff
from detectors.formats.registry import Format
from detectors.formats.vorbis import parse_comments

MAX_BLOCKS = 1024


def read_flac(src: Source, out: Collector) -> None:
    try:
        _flac(src, out)
    except FormatError as exc:
        out.problem(f"FLAC: {exc}")


def _flac(src: Source, out: Collector) -> None:
    pos = 0
    for _ in range(4):  # c2pa-rs and some taggers put ID3v2 in front of fLaC
        nxt = parse_id3v2(src, pos, "FLAC prefix", out)
        if nxt == pos:
            break
        pos = nxt
    if src.read(pos, 4) != b"fLaC":
        raise FormatError(f"no fLaC marker at {hexoff(pos)}")
    pos += 4
    for _ in range(MAX_BLOCKS):
        hdr = src.exact(pos, 4, "metadata block header")
        last, btype = hdr[0] & 0x80, hdr[0] & 0x7F
        length = int.from_bytes(hdr[1:4], "big")
        at = pos + 4
        if at + length > src.size:
            raise FormatError(f"metadata block {btype} at {hexoff(pos)} runs past the end")
        if btype == 4:
            parse_comments(src.exact(at, length, "VORBIS_COMMENT block"),
                           f"FLAC VORBIS_COMMENT block at {hexoff(pos)}", out)
        elif btype == 127:
            raise FormatError(f"invalid metadata block type at {hexoff(pos)}")
        pos = at + length
        if last:
            return
    raise FormatError(f"more than {MAX_BLOCKS} metadata blocks")


def c2pa_carriers(src: Source) -> tuple[str, str]:
    """c2pa-rs reads FLAC only through a leading ID3v2 tag: without one it holds no C2PA."""
    if src.read(0, 4) == b"fLaC":
        return c2pa.ABSENT, "FLAC without a leading ID3v2 tag (the only place c2pa-rs reads)"
    return mp3.c2pa_carriers(src, flac=True)


FORMATS = [Format(
    id="flac", label="FLAC", kinds={"audio/flac": "audio"}, priority=75,
    accept=lambda head: "audio/flac" if head.startswith(b"fLaC") else None,
    extensions={".flac": ("audio/flac",)}, read=read_flac, c2pa=c2pa_carriers,
)]
