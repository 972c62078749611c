"""Picture sizes from headers alone, so the size rule (``sizes``) decides before any pixel is
decoded: PNG/JPEG through the formats' own header parsers, other stills through Pillow's lazy
``open`` on the file (it parses the header and seeks to TIFF directories; pixels load only on
``load()``), and MP4/MOV video through a bounded walk of the ``moov`` box headers (``tkhd``
is display geometry; the coded size the decoder returns is in the ``stsd`` sample entry).

A video format this walk does not know (Matroska, AVI, MXF...) is sized by OpenCV's header read
in ``pixels.read_video``, still before any frame is read."""

from __future__ import annotations

import os
import struct
import warnings

from detectors.api import AssetContext, Incomplete
from detectors.formats import registry

# ISO BMFF brands whose media types this walk reads (others fall back to OpenCV's probe).
BMFF_VIDEO = frozenset({"video/mp4", "video/quicktime", "video/x-m4v", "video/3gpp",
                        "video/3gpp2"})
MAX_BOXES = 4096
VIDEO_HANDLER = b"vide"
# VisualSampleEntry (ISO/IEC 14496-12 §12.1.3): after the 8-byte box header, 6 reserved bytes,
# data_reference_index (2), pre_defined/reserved (16), then width and height (2 each).
_ENTRY_WH = 8 + 6 + 2 + 16


class TooLarge(Exception):
    """The header declares more pixels than Pillow agrees to open (its bomb limit)."""


def image_size(ctx: AssetContext) -> tuple[int, int, int] | None:
    """(width, height, frames) of a still from its header, or None when no header parser
    knows the format (the caller decodes, then applies the same rules). Raises ``TooLarge``
    past Pillow's bomb limit and ``Incomplete`` on a header Pillow chokes on."""
    media_type = ctx.asset.media_type
    quick = registry.dimensions(media_type, ctx.head)
    if quick is not None:
        return quick
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings(), ctx.open() as fh:
            warnings.simplefilter("ignore")  # decompression-bomb warnings: we bound it ourselves
            with Image.open(fh) as im:
                return im.size[0], im.size[1], int(getattr(im, "n_frames", 1) or 1)
    except Image.DecompressionBombError as exc:
        raise TooLarge(str(exc)) from exc
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError):
        return None
    except (IndexError, TypeError, struct.error) as exc:
        # Pillow's GIF/TIFF header code on damaged files (found by fuzzing)
        raise Incomplete(f"image header unreadable: {type(exc).__name__}: {exc}") from exc


def video_size(ctx: AssetContext) -> tuple[int, int, int] | None:
    """(width, height, samples) of the first video track of an MP4/MOV from its box headers
    (a few dozen small reads wherever ``moov`` sits), or None: not BMFF, no video track, or a
    layout this walk does not follow."""
    if ctx.asset.media_type not in BMFF_VIDEO:
        return None
    try:
        with ctx.open() as fh:
            return _Walk(fh.fileno(), os.fstat(fh.fileno()).st_size).video()
    except (OSError, _Malformed):
        return None


class _Malformed(Exception):
    pass


class _Walk:
    def __init__(self, fd: int, size: int) -> None:
        self.fd, self.size, self.count = fd, size, 0

    def read(self, offset: int, n: int) -> bytes:
        data = os.pread(self.fd, n, offset)
        if len(data) < n:
            raise _Malformed("short read")
        return data

    def children(self, start: int, end: int) -> list[tuple[bytes, int, int]]:
        """(type, body start, body end) of each box in [start, end)."""
        out = []
        p = start
        while p + 8 <= end:
            self.count += 1
            if self.count > MAX_BOXES:
                raise _Malformed("too many boxes")
            size, kind = struct.unpack(">I4s", self.read(p, 8))
            body = p + 8
            if size == 1:
                (size,) = struct.unpack(">Q", self.read(p + 8, 8))
                body = p + 16
            elif size == 0:
                size = end - p
            if size < body - p or p + size > end:
                raise _Malformed("box overruns its parent")
            out.append((kind, body, p + size))
            p += size
        return out

    def child(self, start: int, end: int, kind: bytes) -> tuple[int, int] | None:
        for k, b, e in self.children(start, end):
            if k == kind:
                return b, e
        return None

    def video(self) -> tuple[int, int, int] | None:
        moov = self.child(0, self.size, b"moov")
        if moov is None:
            return None
        for kind, start, end in self.children(*moov):
            if kind != b"trak":
                continue
            mdia = self.child(start, end, b"mdia")
            hdlr = mdia and self.child(*mdia, b"hdlr")
            if not mdia or not hdlr or self.read(hdlr[0] + 8, 4) != VIDEO_HANDLER:
                continue
            minf = self.child(*mdia, b"minf")
            stbl = minf and self.child(*minf, b"stbl")
            stsd = stbl and self.child(*stbl, b"stsd")
            if not stbl or not stsd or stsd[1] - stsd[0] < 8 + _ENTRY_WH + 4:
                continue
            width, height = struct.unpack(">HH", self.read(stsd[0] + 8 + _ENTRY_WH, 4))
            stsz = self.child(*stbl, b"stsz")
            count = 0
            if stsz and stsz[1] - stsz[0] >= 12:
                (count,) = struct.unpack(">I", self.read(stsz[0] + 8, 4))
            if width and height:
                return width, height, count
        return None

