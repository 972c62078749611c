"""ID3 reader (v2.2, v2.3, v2.4 and v1): text, TXXX, COMM/USLT, URL, GEOB and PRIV frames.

Frames are walked by header and only the ones that can carry a declaration are read: pictures
(APIC/PIC) and other binary frames are skipped by offset, so a tag with a 5 MB cover costs a few
header reads. Tag-level unsynchronisation (rare, v2.3) forces reading the whole tag, bounded.
Compressed frames are inflated with a hard bound; encrypted frames are noted, not read.

Used by MP3 (``mp3.py``), for ``id3 `` chunks in WAV and for the ID3 tag some writers put in
front of FLAC.
"""

from __future__ import annotations

import struct

from detectors.formats.native import (
    INFLATE_LIMIT,
    Collector,
    FormatError,
    Source,
    hexoff,
    inflate,
    latin1,
)

MAX_FRAMES = 10_000
MAX_LIST = 1000  # values in one v2.4 text frame
GEOB_HEAD = 4096
V22_IDS = {
    "TT1": "TIT1", "TT2": "TIT2", "TT3": "TIT3", "TP1": "TPE1", "TP2": "TPE2", "TP3": "TPE3",
    "TP4": "TPE4", "TAL": "TALB", "TCO": "TCON", "TCM": "TCOM", "TCR": "TCOP", "TEN": "TENC",
    "TSS": "TSSE", "TYE": "TYER", "TXX": "TXXX", "COM": "COMM", "ULT": "USLT", "WXX": "WXXX",
    "GEO": "GEOB", "WAS": "WOAS", "WAR": "WOAR", "WAF": "WOAF", "WCM": "WCOM", "WCP": "WCOP",
    "WPB": "WPUB", "PIC": "APIC", "TOA": "TOPE", "TOT": "TOAL", "TPB": "TPUB",
}
_SKIP = {"APIC", "MCDI", "SYLT", "ETCO", "MLLT", "SYTC", "RVA2", "EQU2", "RVAD", "EQUA",
         "RVRB", "POPM", "PCNT", "AENC", "ENCR", "GRID", "SIGN", "SEEK", "ASPI", "RBUF",
         "LINK", "POSS", "OWNE", "COMR", "CHAP", "CTOC", "UFID"}


def _syncsafe(b: bytes) -> int:
    return (b[0] << 21) | (b[1] << 14) | (b[2] << 7) | b[3]


def _unsync(data: bytes) -> bytes:
    return data.replace(b"\xff\x00", b"\xff")


def _decode(enc: int, data: bytes) -> str:
    if enc == 0:
        return latin1(data)
    if enc == 1:
        if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
            return data.decode("utf-16", "replace")
        return data.decode("utf-16-le", "replace")
    if enc == 2:
        return data.decode("utf-16-be", "replace")
    return data.decode("utf-8", "replace")


def _split_term(enc: int, data: bytes) -> tuple[bytes, bytes]:
    """Split at the first terminator of encoding ``enc`` (2-byte aligned for UTF-16)."""
    if enc in (1, 2):
        i = data.find(b"\x00\x00")
        while i >= 0 and i % 2:  # straddles two characters: look further (C-speed search)
            i = data.find(b"\x00\x00", i + 1)
        if i < 0:
            return data, b""
        return data[:i], data[i + 2:]
    head, _, tail = data.partition(b"\x00")
    return head, tail


def _values(enc: int, data: bytes) -> str:
    """A text frame's value; v2.4 lists (terminator-separated) are joined with ' / '."""
    parts = [_decode(enc, part) for part in _split_all(enc, data)]
    return " / ".join(p for p in parts if p) if len(parts) > 1 else parts[0]


def _split_all(enc: int, data: bytes) -> list[bytes]:
    """Split at every terminator, at most ``MAX_LIST`` times (the rest stays in the last part):
    linear time and bounded memory even for a frame of 16 MiB of NULs."""
    if enc not in (1, 2):
        return data.split(b"\x00", MAX_LIST)
    parts: list[bytes] = []
    start = 0
    while len(parts) < MAX_LIST:
        i = data.find(b"\x00\x00", start)
        while i >= 0 and (i - start) % 2:
            i = data.find(b"\x00\x00", i + 1)
        if i < 0:
            break
        parts.append(data[start:i])
        start = i + 2
    parts.append(data[start:])
    return parts


def parse_id3v2(src: Source, at: int, where: str, out: Collector, limit: int | None = None) -> int:
    """Parse the ID3v2 tag at ``at``; returns the offset just after it (``at`` if none)."""
    try:
        return _parse(src, at, where, out, limit)
    except FormatError as exc:
        out.problem(f"ID3 in {where or 'file'}: {exc}")
        return at


def _parse(src: Source, at: int, where: str, out: Collector, limit: int | None) -> int:
    hdr = src.read(at, 10)
    if len(hdr) < 10 or hdr[:3] != b"ID3":
        return at
    major, _rev, flags = hdr[3], hdr[4], hdr[5]
    if major not in (2, 3, 4) or any(b & 0x80 for b in hdr[6:10]):
        out.note(f"ID3 in {where}: unsupported version 2.{major} or bad size")
        return at
    size = _syncsafe(hdr[6:10])
    end = at + 10 + size + (10 if major == 4 and flags & 0x10 else 0)
    body_end = at + 10 + size
    if body_end > (limit if limit is not None else src.size):
        raise FormatError(f"tag at {hexoff(at)} claims {size} bytes, past the end of its container")
    tag = f"ID3v2.{major} tag at {hexoff(at)}" + (f" in {where}" if where else "")
    if major == 2 and flags & 0x40:
        out.note(f"{tag}: compressed v2.2 tag not read")
        return end
    if flags & 0x80 and major < 4:
        body = _unsync(src.exact(at + 10, size, "ID3 tag"))
        frames = Source.from_bytes(body)
        _frames(frames, 0, len(body), major, tag, out, flags)
    else:
        _frames(src, at + 10, body_end, major, tag, out, flags)
    return end


def _frames(src: Source, start: int, end: int, major: int, tag: str, out: Collector,
            tag_flags: int) -> None:
    p = start
    if tag_flags & 0x40 and major >= 3:  # extended header
        raw = src.exact(p, 4, "extended header size")
        ext = _syncsafe(raw) if major == 4 else struct.unpack(">I", raw)[0] + 4
        p += ext
    hsize = 6 if major == 2 else 10
    for _ in range(MAX_FRAMES):
        if p + hsize > end:
            return
        fh = src.exact(p, hsize, "frame header")
        if fh[0] == 0:  # padding
            return
        if major == 2:
            fid = fh[:3].decode("latin-1")
            fsize = int.from_bytes(fh[3:6], "big")
            fflags = 0
        else:
            fid = fh[:4].decode("latin-1")
            raw = fh[4:8]
            if major == 4 and not any(b & 0x80 for b in raw):
                fsize = _syncsafe(raw)
            else:
                fsize = struct.unpack(">I", raw)[0]  # v2.3, or iTunes' non-syncsafe v2.4
            fflags = struct.unpack(">H", fh[8:10])[0]
        if not all(c.isdigit() or "A" <= c <= "Z" for c in fid):
            out.note(f"{tag}: invalid frame id {fid!r} at {hexoff(p)}; rest of tag not read")
            return
        data_at = p + hsize
        if data_at + fsize > end:
            raise FormatError(f"frame {fid} at {hexoff(p)} runs past the end of the tag")
        name = V22_IDS.get(fid, fid) if major == 2 else fid
        _frame(src, name, data_at, fsize, fflags, major, f"{tag} frame {fid} at {hexoff(p)}", out)
        p = data_at + fsize
    out.note(f"{tag}: more than {MAX_FRAMES} frames; rest not read")


def _frame(src: Source, fid: str, at: int, size: int, flags: int, major: int, where: str,
           out: Collector) -> None:
    if fid in _SKIP or not size:
        return
    wanted = fid[0] in "TW" or fid in ("COMM", "USLT", "GEOB", "PRIV")
    if not wanted:
        return
    if major == 4:
        compressed, encrypted, unsync, dli = flags & 0x08, flags & 0x04, flags & 0x02, flags & 0x01
        grouping = flags & 0x40
    elif major == 3:
        compressed, encrypted, unsync, dli = flags & 0x80, flags & 0x40, 0, 0
        grouping = flags & 0x20
    else:
        compressed = encrypted = unsync = dli = grouping = 0
    if encrypted:
        out.note(f"{where}: encrypted frame not read")
        return
    cap = GEOB_HEAD if fid in ("GEOB", "PRIV") and not compressed else size
    if cap > INFLATE_LIMIT:
        out.problem(f"{where}: {size} bytes, over the {INFLATE_LIMIT}-byte limit")
        return
    data = src.exact(at, min(cap, size), "frame")
    if grouping:
        data = data[1:]
    if major == 3 and compressed:
        data = data[4:]
    elif dli:
        data = data[4:]
    if unsync:
        data = _unsync(data)
    if compressed:
        data, complete = inflate(data, out=out)
        if not complete:
            out.problem(f"{where}: compressed frame is corrupt or too large")
    if not data:
        return
    enc = data[0]
    if fid == "TXXX" or fid == "WXXX":
        desc, value = _split_term(enc, data[1:])
        text_value = _values(enc, value) if fid == "TXXX" else latin1(value).rstrip("\x00")
        out.add(f"id3:{fid}:{_decode(enc, desc)}", text_value, where)
    elif fid in ("COMM", "USLT"):
        desc, value = _split_term(enc, data[4:])
        d = _decode(enc, desc)
        out.add(f"id3:{fid}:{d}" if d else f"id3:{fid}", _values(enc, value), where)
    elif fid == "GEOB":
        mime, rest = _split_term(0, data[1:])
        fname, rest = _split_term(enc, rest)
        desc, _payload = _split_term(enc, rest)
        mime_s = latin1(mime)
        if "c2pa" in mime_s.lower():
            out.facts["id3.c2pa"] = True
        out.add(f"id3:GEOB:{_decode(enc, desc)}",
                f"{mime_s}; {_decode(enc, fname)}; {size} bytes", where)
    elif fid == "PRIV":
        owner, _ = _split_term(0, data)
        out.add(f"id3:PRIV:{latin1(owner)}", f"{size} bytes", where)
    elif fid[0] == "T":
        out.add(f"id3:{fid}", _values(enc, data[1:]), where)
    elif fid[0] == "W":
        out.add(f"id3:{fid}", latin1(data).rstrip("\x00"), where)


def tag_end(head: bytes, at: int = 0) -> int | None:
    """Offset just past an ID3v2 tag starting at ``at`` (syncsafe size, optional footer), from
    its 10-byte header alone; None when there is no well-formed header."""
    hdr = head[at:at + 10]
    if len(hdr) < 10 or hdr[:3] != b"ID3" or any(b & 0x80 for b in hdr[6:10]):
        return None
    return at + 10 + _syncsafe(hdr[6:10]) + (10 if hdr[5] & 0x10 else 0)
