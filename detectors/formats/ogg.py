"""Ogg (Vorbis, Opus, FLAC-in-Ogg, Theora, Speex): recognition and the page walk — pages are read
only until every logical stream has delivered its comment header (which by spec precedes any
audio data). c2pa-rs does not read Ogg."""

from __future__ import annotations

import struct

from detectors.formats.native import Collector, FormatError, Source, hexoff
from detectors.formats.registry import Format
from detectors.formats.vorbis import parse_comments

MAX_PACKET = 16 * 1024 * 1024
MAX_PAGES = 4096
MAX_STREAMS = 256  # chained/multiplexed Ogg has a handful


def read_ogg(src: Source, out: Collector) -> None:
    try:
        _ogg(src, out)
    except FormatError as exc:
        out.problem(f"Ogg: {exc}")


class _Stream:
    def __init__(self) -> None:
        self.packets = 0
        self.buf = bytearray()
        self.codec = ""
        self.done = False


def _ogg(src: Source, out: Collector) -> None:
    streams: dict[int, _Stream] = {}
    pos = 0
    open_streams = 0  # not yet done (all(...) over the streams on every page was quadratic)
    for _ in range(MAX_PAGES):
        hdr = src.read(pos, 27)
        if len(hdr) < 27:
            if any(not s.done for s in streams.values()):
                out.note("Ogg: file ends before every stream's comment header")
            return
        if hdr[:4] != b"OggS":
            raise FormatError(f"lost page sync at {hexoff(pos)}")
        htype = hdr[5]
        serial = struct.unpack_from("<I", hdr, 14)[0]
        nseg = hdr[26]
        table = src.exact(pos + 27, nseg, "segment table")
        body_at = pos + 27 + nseg
        body_len = sum(table)
        if htype & 0x02 and serial not in streams:
            if len(streams) >= MAX_STREAMS:
                raise FormatError(f"more than {MAX_STREAMS} logical streams")
            streams[serial] = _Stream()
            open_streams += 1
        stream = streams.get(serial)
        if stream is None:  # a non-BOS page of an unknown stream: headers are over
            return
        if not stream.done:
            body = src.exact(body_at, body_len, "page body")
            off = 0
            for seg in table:
                stream.buf += body[off:off + seg]
                off += seg
                if len(stream.buf) > MAX_PACKET:
                    out.problem(f"Ogg: header packet of stream {serial} over {MAX_PACKET} bytes")
                    stream.done = True
                    break
                if seg < 255:
                    _packet(stream, bytes(stream.buf), serial, pos, out)
                    stream.buf.clear()
                    if stream.done:
                        break
            if stream.done:
                open_streams -= 1
        pos = body_at + body_len
        if streams and not open_streams and not (htype & 0x02):
            return
    out.note(f"Ogg: stopped after {MAX_PAGES} pages")


def _packet(stream: _Stream, pkt: bytes, serial: int, page: int, out: Collector) -> None:
    index = stream.packets
    stream.packets += 1
    where = f"Ogg stream {serial:#x} header packet {index} (page at {hexoff(page)})"
    if index == 0:
        for magic, codec in ((b"\x01vorbis", "vorbis"), (b"OpusHead", "opus"),
                             (b"\x7fFLAC", "flac"), (b"\x80theora", "theora"),
                             (b"Speex   ", "speex")):
            if pkt.startswith(magic):
                stream.codec = codec
                return
        stream.done = True  # unknown codec: no comment header we know of
        return
    codec = stream.codec
    if codec == "vorbis" and pkt.startswith(b"\x03vorbis"):
        parse_comments(pkt[7:], where, out)
    elif codec == "opus" and pkt.startswith(b"OpusTags"):
        parse_comments(pkt[8:], where, out)
    elif codec == "theora" and pkt.startswith(b"\x81theora"):
        parse_comments(pkt[7:], where, out)
    elif codec == "speex" and index == 1:
        parse_comments(pkt, where, out)
    elif codec == "flac" and pkt and pkt[0] & 0x7F == 4:
        parse_comments(pkt[4:], where, out)
    elif codec == "flac" and index < 16:
        return
    stream.done = True


def accept(head: bytes) -> str | None:
    if not head.startswith(b"OggS"):
        return None
    return "video/ogg" if b"\x80theora" in head[:4096] else "audio/ogg"


FORMATS = [Format(
    id="ogg", label="Ogg", kinds={"audio/ogg": "audio", "video/ogg": "video"}, priority=80,
    accept=accept, extensions={".ogg": ("audio/ogg", "video/ogg"), ".opus": ("audio/ogg",)},
    read=read_ogg,
)]
