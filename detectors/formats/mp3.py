"""MP3 (MPEG audio): recognition, the tag walk (leading ID3v2 tags, an appended ID3v2 with a
``3DI`` footer, ID3v1) and the C2PA carriers (GEOB/PRIV frames in the leading ID3v2 tag)."""

from __future__ import annotations

from detectors.formats import c2pa_locate as c2pa
from detectors.formats.id3 import _syncsafe, parse_id3v2
from detectors.formats.native import Collector, FormatError, Source, hexoff, latin1
from detectors.formats.registry import Format

# In an ID3v2 tag: the GEOB frame (GEO in v2.2) that carries a store, the PRIV "XMP" frame,
# and the store's MIME types; frame IDs stay readable under unsynchronisation and compression.
NEEDLES = (b"GEO", b"PRIV", b"XMP", b"c2pa")
C2PA_MIMES = (b"application/c2pa", b"application/x-c2pa-manifest-store")


def read_id3v1(src: Source, out: Collector) -> None:
    if src.size < 128:
        return
    tag = src.read(src.size - 128, 128)
    if tag[:3] != b"TAG":
        return
    where = f"ID3v1 tag at {hexoff(src.size - 128)}"
    for name, off, length in (("title", 3, 30), ("artist", 33, 30), ("album", 63, 30),
                              ("comment", 97, 30)):
        value = latin1(tag[off:off + length]).split("\x00", 1)[0].strip()
        if value:
            out.add(f"id3v1:{name}", value, where)


def read_mp3(src: Source, out: Collector) -> None:
    """MPEG audio: leading ID3v2 tag(s), an appended ID3v2 (``3DI`` footer) and ID3v1."""
    pos = 0
    for _ in range(4):  # some writers leave several tags back to back
        nxt = parse_id3v2(src, pos, "", out)
        if nxt == pos:
            break
        pos = nxt
    tail = src.size - (128 if src.size >= 128 and src.read(src.size - 128, 3) == b"TAG" else 0)
    footer = src.read(tail - 10, 10) if tail >= 10 else b""
    if footer[:3] == b"3DI" and not any(b & 0x80 for b in footer[6:10]):
        start = tail - 10 - _syncsafe(footer[6:10]) - 10
        if start > pos:
            parse_id3v2(src, start, "appended", out)
    try:
        read_id3v1(src, out)
    except FormatError as exc:
        out.problem(f"ID3v1: {exc}")


def c2pa_carriers(src: Source, flac: bool = False) -> tuple[str, str]:
    """Where c2pa-rs reads MP3 (and FLAC): a GEOB/PRIV frame in the ID3v2 tag at the start of
    the file, the only tag it reads."""
    head = src.read(0, 10)
    if head[:3] != b"ID3":
        return c2pa.ABSENT, "no ID3v2 tag at the start (the only place c2pa-rs reads)"
    if len(head) < 10 or head[3] not in (2, 3, 4) or any(b & 0x80 for b in head[6:10]):
        # (c2pa-rs reads such a header anyway and allocates what it then claims: not handed to it)
        raise c2pa.Damaged("malformed ID3v2 header")
    size = head[6] << 21 | head[7] << 14 | head[8] << 7 | head[9]  # syncsafe
    if 10 + size > src.size:
        # c2pa-rs reads the frames of a truncated tag by their own sizes and allocates what a
        # damaged frame header claims (gigabytes; found by fuzzing): not handed to it
        raise c2pa.Damaged(f"ID3v2 tag claims {size} bytes, past the end of the file "
                           f"({src.size} bytes)")
    tag = src.value(10, size, "ID3v2 tag")
    if any(mime in tag for mime in C2PA_MIMES):
        return c2pa.PRESENT, "ID3v2 tag with a C2PA GEOB frame"
    for needle in (*NEEDLES, *c2pa.REMOTE_NEEDLES):
        if needle in tag:
            return c2pa.MAYBE, f"ID3v2 tag holds {needle!r} (GEOB/PRIV frames are read by c2pa-rs)"
    if flac and src.read(10 + size, 4) != b"fLaC":
        raise FormatError("no fLaC stream after the ID3v2 tag")
    return c2pa.ABSENT, "ID3v2 tag without GEOB/PRIV/XMP frames"


def sync(head: bytes) -> bool:
    """An MPEG-1/2 layer I-III frame header: 11 set sync bits, valid version/layer/bitrate."""
    if len(head) < 4 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0:
        return False
    version = (head[1] >> 3) & 3
    layer = (head[1] >> 1) & 3
    bitrate = head[2] >> 4
    rate = (head[2] >> 2) & 3
    return version != 1 and layer != 0 and bitrate not in (0, 15) and rate != 3


def accept(head: bytes) -> str | None:
    """An ID3v2 tag (what follows it is judged by the sniffer first) or an MPEG audio frame."""
    return "audio/mpeg" if head.startswith(b"ID3") or sync(head) else None


FORMATS = [Format(
    id="mp3", label="MP3", kinds={"audio/mpeg": "audio"}, priority=70, accept=accept,
    extensions={".mp3": ("audio/mpeg",)}, read=read_mp3, c2pa=c2pa_carriers,
)]
