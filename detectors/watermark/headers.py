"""Picture sizes from headers alone, so the size rule (``sizes``) decides before any pixel is
decoded: PNG/JPEG through the formats' own header parsers (strict here: a header that
contradicts itself is an unreadable header, never a size), other stills through Pillow's lazy
``open`` on the file (it parses the header and seeks to TIFF directories; pixels load only on
``load()``).

Video is sized by the decoder, never by the container alone: the ``stsd`` sample entry of an
MP4/MOV (a bounded walk of the ``moov`` box headers) is whatever the muxer, or a forger, wrote
there, while the decoder returns the size in the codec's own headers (the H.264 SPS). The walk
counts an MP4/MOV's picture tracks, and ``confirmed_video_size`` gives a one-track file's size
only where its SPS (``h264``) says the same as the entry; otherwise OpenCV's header read, or
FFmpeg's stream list (``video_streams``, PyAV) for other containers and several tracks,
sizes the streams before any frame is read."""

from __future__ import annotations

import os
import struct
import warnings
from dataclasses import dataclass

from detectors.api import AssetContext, Incomplete
from detectors.formats import jpeg, png, registry
from detectors.formats.native import FormatError
from detectors.watermark import h264

# ISO BMFF brands whose media types this walk reads (others fall back to OpenCV's probe).
BMFF_VIDEO = frozenset({"video/mp4", "video/quicktime", "video/x-m4v", "video/3gpp",
                        "video/3gpp2"})
MAX_BOXES = 4096
VIDEO_HANDLER = b"vide"
# Track handlers that never hold pictures (sound, text, subtitles, timecode, metadata, hint,
# closed captions): every other track counts as one a decoder might show.
# FFmpeg's MOV demuxer forces a stream type from these handlers only; for any other it goes
# by the sample entry's code, so an 'avc1' entry under a 'meta' handler is a video stream.
NOT_PICTURE = frozenset({b"soun", b"subp", b"clcp"})
# Sample entry codes that are never pictures (timecode, timed text, captions, metadata).
NOT_PICTURE_ENTRIES = frozenset({b"tmcd", b"tx3g", b"text", b"c608", b"c708", b"wvtt",
                                 b"stpp", b"mebx", b"mett", b"metx", b"rtp ", b"mp4a"})
# Boxes an 'avc1' entry may carry for its size to be confirmed (anything else, e.g. a box
# where FFmpeg reads a QuickTime palette header, leaves the size to the decoder).
AVC1_CHILDREN = frozenset({b"avcC", b"btrt", b"pasp", b"colr"})
# Header parsers that refuse a self-contradicting header (two SOF / two IHDR), which the
# registry's lenient ``dimensions`` turns into "no size".
STRICT = {"image/jpeg": jpeg.header_size, "image/png": png.header_size}
# Formats whose every frame is the header's canvas (animations are composited onto it), so the
# first frame's size is every frame's; pages of other multi-frame files (TIFF, MPO) differ.
CANVAS = frozenset({"image/png", "image/gif", "image/webp"})
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
    strict = STRICT.get(media_type)
    try:
        quick = (strict(ctx.head) if strict is not None
                 else registry.dimensions(media_type, ctx.head))
    except FormatError as exc:
        raise Incomplete(f"image header unreadable: {exc}") from exc
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


@dataclass(frozen=True)
class Stream:
    """One video stream as FFmpeg's decoder sizes it (0 × 0: it could not tell)."""

    index: int
    width: int
    height: int
    attached_pic: bool  # a cover picture muxed as a one-frame stream

    def name(self) -> str:
        size = f"{self.width}×{self.height}" if self.width and self.height else "size unknown"
        what = "attached picture" if self.attached_pic else "video stream"
        return f"{what} #{self.index} ({size})"


def video_streams(source: str) -> list[Stream]:
    """Every video stream of the file at ``source``, in stream order (OpenCV decodes the first),
    sized by FFmpeg after it has read the codec headers (PyAV: ``avformat_find_stream_info``;
    no frame reaches Python). Raises ``OSError``/``ValueError`` when FFmpeg cannot open it."""
    import av

    try:
        with av.open(source) as container:
            return [Stream(s.index, int(s.codec_context.width or 0),
                           int(s.codec_context.height or 0),
                           bool(s.disposition & av.stream.Disposition.attached_pic))
                    for s in container.streams.video]
    except av.FFmpegError as exc:  # (its text names the path: /proc/self/fd/N, not stable)
        raise ValueError(f"FFmpeg (PyAV) cannot open it: {exc.strerror}") from exc


def confirmed_video_size(ctx: AssetContext) -> tuple[int, int] | None:
    """The picture size of an MP4/MOV with one track that may hold pictures, when that
    track's H.264 SPS confirms its sample entry (``_Walk.picture_tracks``): the size the
    decoder will use, read from the boxes (a few small reads, no decoder loaded). None: not
    BMFF, more or other tracks, another codec, or no agreement: only a decoder can tell."""
    if ctx.asset.media_type not in BMFF_VIDEO:
        return None
    try:
        with ctx.open() as fh:
            tracks = _Walk(fh.fileno(), os.fstat(fh.fileno()).st_size).picture_tracks()
    except (OSError, _Malformed, struct.error):
        return None
    if not tracks or len(tracks) != 1 or not tracks[0][3]:
        return None
    return tracks[0][0], tracks[0][1]


def video_tracks(ctx: AssetContext) -> list[tuple[int, int, int]] | None:
    """(width, height, samples) of every track of an MP4/MOV that may hold pictures, from its
    box headers, or None when the walk cannot tell (another container: FFmpeg lists those,
    whose demuxers resync past what a strict walk would stop at; or a layout it does not
    follow)."""
    if ctx.asset.media_type not in BMFF_VIDEO:
        return None
    try:
        with ctx.open() as fh:
            return _Walk(fh.fileno(), os.fstat(fh.fileno()).st_size).tracks()
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

    def tracks(self) -> list[tuple[int, int, int]] | None:
        found = self.picture_tracks()
        return None if found is None else [t[:3] for t in found]

    def picture_tracks(self) -> list[tuple[int, int, int, bool]] | None:
        """(width, height, samples, sps_confirmed) of every track that may hold pictures:
        'vide' tracks, and any of a handler that is not known to hold none (0 × 0: unknown).
        ``sps_confirmed``: an 'avc1' entry whose SPS (in avcC and in the first sample, when it
        carries one) gives the same size as the entry: the size the decoder will use."""
        moov = self.child(0, self.size, b"moov")
        if moov is None:
            return None
        fragmented = self.child(*moov, b"mvex") is not None
        out: list[tuple[int, int, int, bool]] = []
        for kind, start, end in self.children(*moov):
            if kind != b"trak":
                continue
            mdia = self.child(start, end, b"mdia")
            if mdia is None:
                out.append((0, 0, 0, False))
                continue
            hdlr = self.child(*mdia, b"hdlr")
            handler = self.read(hdlr[0] + 8, 4) if hdlr and hdlr[1] - hdlr[0] >= 12 else b""
            if handler in NOT_PICTURE:
                continue
            minf = self.child(*mdia, b"minf")
            stbl = minf and self.child(*minf, b"stbl")
            stsd = stbl and self.child(*stbl, b"stsd")
            if handler != VIDEO_HANDLER or not stbl or not stsd or \
                    stsd[1] - stsd[0] < 8 + _ENTRY_WH + 4:
                entry = self.read(stsd[0] + 12, 4) if stsd and stsd[1] - stsd[0] >= 16 \
                    else b""
                if entry not in NOT_PICTURE_ENTRIES:  # 'auxv', 'pict', unknown: may be
                    out.append((0, 0, 0, False))
                continue
            width, height = struct.unpack(">HH", self.read(stsd[0] + 8 + _ENTRY_WH, 4))
            stsz = self.child(*stbl, b"stsz")
            count = 0
            if stsz and stsz[1] - stsz[0] >= 12:
                (count,) = struct.unpack(">I", self.read(stsz[0] + 8, 4))
            if not (width and height):
                out.append((0, 0, count, False))
                continue
            # fragmented: the samples (and their SPS) are in the fragments, not checked here
            confirmed = not fragmented and self._sps_agrees(stsd, stbl, stsz, (width, height))
            out.append((width, height, count, confirmed))
        return out

    def _sps_agrees(self, stsd: tuple[int, int], stbl: tuple[int, int],
                    stsz: tuple[int, int] | None, size: tuple[int, int]) -> bool:
        """Whether the H.264 decoder will size the track's pictures as its sample entry
        says: a single 'avc1' entry, every SPS of its avcC and of its first sample agreeing
        (an in-band SPS replaces avcC's). Anything else, or anything unreadable: False."""
        (entries,) = struct.unpack(">I", self.read(stsd[0] + 4, 4))
        entry = stsd[0] + 8
        esize, etype = struct.unpack(">I4s", self.read(entry, 8))
        if entries != 1 or etype != b"avc1" or esize < 8 + 78 or entry + esize > stsd[1]:
            return False
        depth, table = struct.unpack(">Hh", self.read(entry + 8 + 74, 4))
        if depth != 0x18 or table != -1:  # ISO 14496-15: no palette, nothing read before
            return False
        kids = self.children(entry + 8 + 78, entry + esize)
        if not kids or any(k not in AVC1_CHILDREN for k, _, _ in kids) or \
                [k for k, _, _ in kids].count(b"avcC") != 1:
            return False
        avcc = next((b, e) for k, b, e in kids if k == b"avcC")
        if avcc[1] - avcc[0] > 65536:
            return False
        try:
            sets, length_size = h264.avcc_sps(self.read(avcc[0], avcc[1] - avcc[0]))
            sets += h264.stream_sps(self._first_sample(stbl, stsz), length_size)
            return bool(sets) and all(h264.sps_size(nal) == size for nal in sets)
        except ValueError:
            return False

    def _first_sample(self, stbl: tuple[int, int], stsz: tuple[int, int] | None) -> bytes:
        """The track's first sample (its first 1 MiB): where a stream's own SPS would be."""
        if stsz is None or stsz[1] - stsz[0] < 12:
            raise ValueError("no sample sizes")
        fixed, count = struct.unpack(">II", self.read(stsz[0] + 4, 8))
        if count == 0:
            raise ValueError("no samples in the track itself")
        first = fixed or struct.unpack(">I", self.read(stsz[0] + 12, 4))[0]
        stco = self.child(*stbl, b"stco")
        co64 = None if stco else self.child(*stbl, b"co64")
        if stco and stco[1] - stco[0] >= 12:
            (offset,) = struct.unpack(">I", self.read(stco[0] + 8, 4))
        elif co64 and co64[1] - co64[0] >= 16:
            (offset,) = struct.unpack(">Q", self.read(co64[0] + 8, 8))
        else:
            raise ValueError("no chunk offsets")
        n = min(first, 1 << 20)
        if offset + n > self.size:
            raise ValueError("first sample past the end of the file")
        return self.read(offset, n)

