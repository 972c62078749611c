"""GIF block walker: comment extensions (A1111 writes its parameters there) and XMP application
extensions. GIF has no chunk sizes to seek by, so image data is skipped sub-block by sub-block;
the walk stops at ``SCAN_LIMIT`` bytes (extensions come before the frames in what Pillow and
ExifTool write) and says so in a note rather than reading a huge animation whole."""

from __future__ import annotations

from detectors.formats import c2pa_locate as c2pa
from detectors.formats.native import Collector, FormatError, Source, hexoff, text
from detectors.formats.registry import Format
from detectors.formats.xmp import parse_xmp

MAX_BLOCKS = 200_000
# Blocks and sub-blocks walked in one file (each costs ~1 us; real GIFs use 255-byte sub-blocks,
# ~130 000 in SCAN_LIMIT): past it the walk stops with the same note as past SCAN_LIMIT.
MAX_SUB_BLOCKS = 400_000
SCAN_LIMIT = 32 * 1024 * 1024
_BUF = 256 * 1024


class _Stop(Exception):
    """The scan limit was reached."""


class _Reader:
    """Sequential reads through a window, so sub-block walking is not one read per byte."""

    def __init__(self, src: Source, pos: int) -> None:
        self.src, self.pos = src, pos
        self.buf = b""
        self.buf_at = pos
        self.blocks_left = MAX_SUB_BLOCKS  # for the whole file: 2-byte sub-blocks cost time

    def take(self, n: int) -> bytes:
        if self.pos + n > SCAN_LIMIT:
            raise _Stop
        rel = self.pos - self.buf_at
        if rel + n > len(self.buf):
            self.buf = self.src.read(self.pos, max(n, _BUF))
            self.buf_at = self.pos
            rel = 0
        data = self.buf[rel:rel + n]
        if len(data) < n:
            raise FormatError(f"truncated at {hexoff(self.pos)}")
        self.pos += n
        return data

    def seek(self, pos: int) -> None:
        self.pos = pos
        self.buf, self.buf_at = b"", pos

    def sub_blocks(self, keep: bool, limit: int = 16 * 1024 * 1024) -> bytes:
        out = bytearray()
        while self.blocks_left > 0:
            self.blocks_left -= 1
            n = self.take(1)[0]
            if n == 0:
                return bytes(out)
            data = self.take(n)
            if keep and len(out) < limit:
                out += data
        raise _Stop


def read_gif(src: Source, out: Collector) -> None:
    try:
        _walk(src, out)
    except _Stop:
        out.note(f"GIF: blocks after the first {SCAN_LIMIT // 2**20} MiB or "
                 f"{MAX_SUB_BLOCKS} blocks not walked")
    except FormatError as exc:
        out.problem(f"GIF: {exc}")


def _walk(src: Source, out: Collector) -> None:
    head = src.exact(0, 13, "GIF header")
    if head[:6] not in (b"GIF87a", b"GIF89a"):
        raise FormatError("no GIF signature")
    r = _Reader(src, 13)
    if head[10] & 0x80:
        r.take(3 * (2 << (head[10] & 7)))
    for _ in range(MAX_BLOCKS):
        r.blocks_left -= 1
        if r.blocks_left < 0:
            raise _Stop
        at = r.pos
        kind = r.take(1)[0]
        if kind == 0x3B:  # trailer
            return
        if kind == 0x21:
            label = r.take(1)[0]
            if label == 0xFE:
                out.add("gif:comment", text(r.sub_blocks(True)), f"GIF comment extension at {hexoff(at)}")
            elif label == 0xFF:
                ident = r.take(r.take(1)[0])
                if ident[:11] == b"XMP DataXMP":
                    parse_xmp(_raw_xmp(r), f"GIF XMP application extension at {hexoff(at)}", out)
                else:
                    r.sub_blocks(False)
            else:
                r.sub_blocks(False)
        elif kind == 0x2C:
            desc = r.take(9)
            if desc[8] & 0x80:
                r.take(3 * (2 << (desc[8] & 7)))
            r.take(1)  # LZW minimum code size
            r.sub_blocks(False)
        else:
            raise FormatError(f"unknown block 0x{kind:02x} at {hexoff(at)}")
    raise FormatError(f"more than {MAX_BLOCKS} blocks")


_TRAILER = bytes([1]) + bytes(range(255, -1, -1)) + b"\x00"


def _raw_xmp(r: _Reader, limit: int = 16 * 1024 * 1024) -> bytes:
    """XMP in GIF is stored raw (not in sub-blocks), followed by a 258-byte "magic trailer"
    that makes naive sub-block readers land on the terminator. Read up to the trailer,
    searching window by window (a byte-by-byte scan of 16 MiB without a trailer took 20 s)."""
    start = at = r.pos
    pieces: list[bytes] = []
    size = 0
    tail = b""
    while True:
        if at >= SCAN_LIMIT:
            raise _Stop
        window = r.src.read(at, min(_BUF, SCAN_LIMIT - at))
        if not window:
            raise FormatError("XMP application extension without its trailer")
        probe = tail + window
        i = probe.find(_TRAILER)
        if i >= 0:
            end = at - len(tail) + i  # where the trailer starts
            if end - start > limit:
                break
            r.seek(end + len(_TRAILER))
            return (b"".join(pieces) + window)[:end - start]
        pieces.append(window)
        size += len(window)
        if size > limit + len(_TRAILER):
            break
        tail = probe[-(len(_TRAILER) - 1):]
        at += len(window)
    raise FormatError("XMP application extension without its trailer")


# --- C2PA carriers ----------------------------------------------------------------------------

C2PA_APP = b"C2PA_GIF"
XMP_APP = b"XMP Data"


def _gif_blocks(src: Source, pos: int) -> int:
    """Skip a chain of data sub-blocks; returns the position after its terminator."""
    while True:
        src.tick()
        n = src.exact(pos, 1, "GIF sub-block")[0]
        pos += 1 + n
        if n == 0:
            return pos


def c2pa_carriers(src: Source) -> tuple[str, str]:
    """Where c2pa-rs reads GIF: a ``C2PA_GIF`` or ``XMP DataXMP`` application extension anywhere
    before the trailer."""
    head = src.exact(0, 13, "GIF header")
    if head[:6] not in (b"GIF87a", b"GIF89a"):
        raise FormatError("no GIF signature")
    pos = 13 + (3 << ((head[10] & 7) + 1) if head[10] & 0x80 else 0)
    while True:
        src.tick()
        kind = src.exact(pos, 1, "GIF block")[0]
        if kind == 0x3B:
            return c2pa.ABSENT, "GIF: all blocks to the trailer, no C2PA_GIF"
        if kind == 0x21:
            label = src.exact(pos + 1, 1, "GIF extension")[0]
            pos += 2
            if label != 0xFF:
                pos = _gif_blocks(src, pos)
                continue
            n = src.exact(pos, 1, "GIF application extension")[0]
            app = src.exact(pos + 1, n, "GIF application identifier")
            if app[:8] == C2PA_APP:
                return c2pa.PRESENT, f"GIF C2PA_GIF extension at {pos - 2:#x}"
            data_at = pos + 1 + n
            pos = _gif_blocks(src, data_at)
            if app[:8] == XMP_APP and c2pa.remote(src.value(data_at, pos - data_at, "GIF XMP")):
                return c2pa.MAYBE, "GIF XMP names a provenance (remote manifest)"
        elif kind == 0x2C:
            flags = src.exact(pos + 9, 1, "GIF image descriptor")[0]
            pos += 10 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)
            pos = _gif_blocks(src, pos + 1)  # after the LZW minimum code size
        else:
            raise FormatError(f"GIF block {kind:#x} at {pos:#x}")


FORMATS = [Format(
    id="gif", label="GIF", kinds={"image/gif": "image"}, priority=30,
    accept=lambda head: "image/gif" if head[:6] in (b"GIF87a", b"GIF89a") else None,
    extensions={".gif": ("image/gif",)}, read=read_gif, c2pa=c2pa_carriers,
    raster=frozenset({"image/gif"}),
)]
