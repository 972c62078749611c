"""Vorbis comments from FLAC (metadata blocks) and Ogg (Vorbis, Opus, FLAC-in-Ogg, Theora,
Speex header packets) → ``vorbis:<key>`` fields (key lower-cased).

Only metadata is read: FLAC blocks are walked by header (pictures skipped by offset) and the
audio frames after the last block are never touched; in Ogg, pages are read only until every
logical stream has delivered its comment header (which by spec precedes any audio data).
"""

from __future__ import annotations

import struct

from detectors.formats.id3 import parse_id3v2
from detectors.formats.native import Collector, FormatError, Source, hexoff, utf8

MAX_BLOCKS = 1024
MAX_COMMENTS = 100_000
MAX_PACKET = 16 * 1024 * 1024
MAX_PAGES = 4096
MAX_STREAMS = 256  # chained/multiplexed Ogg has a handful
_SKIP_KEYS = {"metadata_block_picture", "coverart"}


def parse_comments(data: bytes, where: str, out: Collector) -> None:
    """A Vorbis comment structure: vendor string, then ``KEY=value`` entries (little-endian)."""
    try:
        (vlen,) = struct.unpack_from("<I", data, 0)
        p = 4 + vlen
        (count,) = struct.unpack_from("<I", data, p)
        p += 4
    except struct.error:
        out.problem(f"{where}: truncated Vorbis comment header")
        return
    if p > len(data) or count > MAX_COMMENTS:
        out.problem(f"{where}: Vorbis comment header is inconsistent")
        return
    for i in range(count):
        if p + 4 > len(data):
            out.problem(f"{where}: Vorbis comment list truncated at entry {i}")
            return
        (n,) = struct.unpack_from("<I", data, p)
        p += 4
        if p + n > len(data):
            out.problem(f"{where}: Vorbis comment entry {i} runs past its block")
            return
        entry = utf8(data[p:p + n])
        p += n
        key, sep, value = entry.partition("=")
        if not sep or key.lower() in _SKIP_KEYS:
            continue
        out.add(f"vorbis:{key.lower()}", value, f"{where} entry {i} '{key}'")


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


class _Stream:
    def __init__(self) -> None:
        self.packets = 0
        self.buf = bytearray()
        self.codec = ""
        self.done = False


def read_ogg(src: Source, out: Collector) -> None:
    try:
        _ogg(src, out)
    except FormatError as exc:
        out.problem(f"Ogg: {exc}")


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
