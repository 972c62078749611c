"""Reading pixels for the decoder: still images (header first, so files over the limit are never
read; OpenCV as Stability's ``detect.py`` reads them, Pillow as fallback) and a handful of video
frames spread over a clip (OpenCV/FFmpeg), each added to an ``Analysis``. Every limit and
shortfall is said in a coverage note or raised as ``Incomplete``."""

from __future__ import annotations

import io
import os
import time
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from detectors.api import AssetContext, Incomplete, NotApplicable
from detectors.formats import registry
from detectors.lazy import lazy
from detectors.watermark import dwtdct, headers, sizes
from detectors.watermark.analysis import Analysis

if TYPE_CHECKING:
    import cv2
    import numpy as np
else:
    cv2 = lazy("cv2")
    np = lazy("numpy")


def _bgr_from_pillow(data: bytes) -> np.ndarray:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        rgb = np.asarray(im.convert("RGB"))
    return np.ascontiguousarray(rgb[:, :, ::-1])


def gate(width: int, height: int, kind: str, cfg: dict[str, Any]) -> str | None:
    """The size rules, on header dimensions: ``NotApplicable`` below the decoder's minimum or
    outside every size a marking generator writes (``sizes``; off with ``any_size``), else
    the "not checked" note when above ``max_pixels`` (a limit of this run), else None."""
    what = "frames are" if kind == "video" else "is"
    if 0 < width * height < dwtdct.MIN_PIXELS:
        raise NotApplicable(f"{width}×{height} {what} below the decoder's 256×256 minimum")
    if not cfg.get("any_size", False):
        reason = sizes.outside_reason(width, height, kind)
        if reason is not None:
            raise NotApplicable(reason)
    if width * height > cfg["max_pixels"]:
        return (f"pixel watermark not checked: {width}×{height} {what} above the "
                f"{cfg['max_pixels']}-pixel limit")
    return None


@dataclass
class Picture:
    """One picture decoded into its own ``Analysis``: a still, or one frame/page of a
    multi-frame still (pages are different pictures: pooling their votes would dilute a mark
    on one of them)."""

    analysis: Analysis
    where: str
    frames: list[int]


def read_image(ctx: AssetContext, payloads: tuple[Any, ...],
               cfg: dict[str, Any]) -> tuple[list[Picture], str]:
    """Decode a still (each admitted frame/page of a multi-frame one, ``read_frames``), after
    the header has passed ``gate``; (pictures, shortfall: what was not checked, "" if none)."""
    max_pixels = cfg["max_pixels"]
    limit = max_pixels * 8 + 16 * 1024 * 1024  # 16-bit RGBA uncompressed, plus headers
    try:
        size = headers.image_size(ctx)  # the header decides before the pixels
    except headers.TooLarge:
        size = None
        if cfg.get("any_size", False):
            ctx.note(f"pixel watermark not checked: declared size is above the {max_pixels}-"
                     "pixel limit (and Pillow's decompression-bomb limit)")
            return [], ""
        raise NotApplicable(f"pixel watermark not checked: declared size is above Pillow's "
                            "decompression-bomb limit, larger than any marking generator "
                            f"writes ({sizes.TABLE_NAME}), and resizing destroys the "
                            "mark") from None
    if size is not None:
        width, height, nframes = size
        if nframes > 1:
            return read_frames(ctx, payloads, cfg, nframes)
        skip = gate(width, height, "image", cfg)
        if skip:
            ctx.note(skip)
            return [], ""
    if ctx.asset.size > limit:
        ctx.note(f"pixel watermark not checked: file larger than {limit} bytes "
                 f"(max_pixels {max_pixels})")
        return [], ""
    data = _read_all(ctx, limit)
    try:
        # the stored pixels: turning the picture as EXIF Orientation says moves the mark
        bgr = cv2.imdecode(np.frombuffer(data, np.uint8),
                           cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
    except cv2.error:  # e.g. OpenCV's own pixel-count guard on a format Pillow cannot size
        bgr = None
    if bgr is None:
        # (a raster format both readers handle in every variant that matters: failing on
        # one is a damaged file; TIFF is not one: 64-bit samples, raw DNG data and exotic
        # compressions are valid TIFFs neither reader decodes)
        if size is None and not registry.is_raster(ctx.asset.media_type):
            raise NotApplicable(f"no pixel decoder for this {ctx.asset.media_type} "
                                "(neither OpenCV nor Pillow reads it)")
        if size is None:  # a format both readers handle, so the file is damaged
            raise Incomplete(f"cannot decode pixels: unreadable {ctx.asset.media_type} header")
        try:
            bgr = _bgr_from_pillow(data)
        except Exception as exc:  # noqa: BLE001 - reported as an incomplete read
            raise Incomplete(f"cannot decode pixels: {exc}") from exc
    bgr = _uint8(bgr)
    height, width = bgr.shape[:2]
    skip = gate(width, height, "image", cfg)  # again: no header told us, or it lied
    if skip:
        ctx.note(skip)
        return [], ""
    analysis = Analysis(payloads)
    analysis.add(bgr, progressive=True)
    return [Picture(analysis, f"pixels {width}×{height}", [0])], ""


def _uint8(bgr: np.ndarray) -> np.ndarray:
    if bgr.dtype != np.uint8:  # OpenCV keeps some TIFF/EXR depths even with IMREAD_COLOR
        bgr = cv2.convertScaleAbs(bgr, alpha=255.0 / 65535.0 if bgr.dtype == np.uint16
                                  else 255.0)
    return bgr


def read_frames(ctx: AssetContext, payloads: tuple[Any, ...], cfg: dict[str, Any],
                nframes: int) -> tuple[list[Picture], str]:
    """Every frame/page of a multi-frame still (animated PNG/WebP/GIF, multi-page TIFF) that
    passes ``gate`` on its own size, each its own picture, up to ``image_frames`` of them:
    a mark on a later frame or page is as good as one on the first. Pillow: ``seek`` reads a
    TIFF page's directory only, so pages outside the size table cost no decode; the frames of
    an animation share the canvas (``headers.CANVAS``), so one gate decides them all. Frames
    past the bound, or that fail to decode, are the shortfall (an incomplete scan)."""
    from PIL import Image

    bound = cfg["image_frames"]
    canvas = ctx.asset.media_type in headers.CANVAS
    pictures: list[Picture] = []
    outside: list[str] = []  # frames no marking generator writes (NotApplicable)
    limited: list[str] = []  # frames over this run's max_pixels (a "not checked" note)
    failed: list[str] = []
    over = 0
    with warnings.catch_warnings(), ctx.open() as fh:
        warnings.simplefilter("ignore")  # decompression-bomb warnings: gate bounds the size
        try:
            im = Image.open(fh)
        except Exception as exc:  # noqa: BLE001 - the header read just opened it
            raise Incomplete(f"cannot decode pixels: {exc}") from exc
        with im:
            for i in range(nframes):
                if canvas and (outside or limited):
                    break  # the canvas was skipped: so is every frame
                if canvas and len(pictures) + len(failed) >= bound:
                    over = nframes - i  # (an animation's frames all pass the canvas gate)
                    break
                where = f"frame {i + 1} of {nframes}"
                try:
                    im.seek(i)
                    width, height = im.size
                    skip = gate(width, height, "image", cfg)
                except NotApplicable as exc:
                    outside.append(str(exc) if canvas else f"{where}: {exc}")
                    continue
                except Exception as exc:  # noqa: BLE001 - reported as a frame not read
                    failed.append(f"{i + 1} ({type(exc).__name__}: {exc})")
                    continue
                if skip:
                    limited.append(skip if canvas else f"{where}: {skip}")
                    continue
                if len(pictures) + len(failed) >= bound:
                    over += 1
                    continue
                try:
                    rgb = np.asarray(im.convert("RGB"))
                except Exception as exc:  # noqa: BLE001 - reported as a frame not read
                    failed.append(f"{i + 1} ({type(exc).__name__}: {exc})")
                    continue
                analysis = Analysis(payloads)
                analysis.add(np.ascontiguousarray(rgb[:, :, ::-1]), progressive=True)
                pictures.append(Picture(analysis, f"{where}: pixels {width}×{height}", [i]))
    if outside and not (pictures or limited or failed or over):
        raise NotApplicable("; ".join(outside))
    for note in outside + limited:
        ctx.note(note)
    shortfall = []
    if over:
        shortfall.append(f"{over} of {nframes} frames not checked for a pixel watermark "
                         f"(image_frames = {bound})")
    if failed:
        shortfall.append(f"frame(s) {', '.join(failed)} of {nframes} could not be decoded")
    return pictures, "; ".join(shortfall)


def _read_all(ctx: AssetContext, limit: int) -> bytes:
    with ctx.open() as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:  # grew since the walk
        raise Incomplete(f"file grew past {limit} bytes while being read")
    return data

# Clips up to this many frames (12 s at 25 fps) are read front to back (``grab`` decodes
# without converting; only sampled frames are converted): every seek decodes again from the
# previous keyframe, which in a short H.264 clip is often its only one (bench: six seeks in a
# 3 s clip with one keyframe took 9-18 s, bench/results/watermark.md).
SEQUENTIAL_FRAMES = 300


def positions(count: int, wanted: int) -> list[int]:
    """Frame numbers sampled from a clip of ``count`` frames (0: unknown): ``wanted`` spread
    evenly (the middle of each of ``wanted`` equal parts), or all of a short clip."""
    if count >= wanted:
        return [int((i + 0.5) * count / wanted) for i in range(wanted)]
    return list(range(count if count > 0 else wanted))


def read_video(ctx: AssetContext, analysis: Analysis,
               cfg: dict[str, Any]) -> tuple[str, list[int], str]:
    """Sample frames of the first video stream into ``analysis``; stop once the frames read
    are clearly null (``Analysis.clearly_null``). The size rule runs on the size the decoder
    reports (FFmpeg after reading the codec headers, ``headers.video_streams``, then OpenCV's
    own), never on the container's word alone. Other video streams are not decoded: one that
    may carry a mark (``gate`` admits it, or its size is unknown) makes the scan incomplete,
    naming it, whatever the first stream shows."""
    deadline = time.monotonic() + cfg["video_seconds"]
    with ctx.open() as fh:
        proc = f"/proc/self/fd/{fh.fileno()}"
        # Open the very file we hold (no path swap between walk and read) where /proc exists.
        source = proc if os.path.exists(proc) else ctx.asset.fs_path
        unchecked = _other_streams(ctx, source, cfg)
        if unchecked.first is not None:  # decoder's size: may rule the stream out undecoded
            skip = _gate_video(*unchecked.first, cfg, unchecked.names)
            if skip:
                ctx.note(skip)
                return "not checked", [], ""
        cap = cv2.VideoCapture(source, cv2.CAP_FFMPEG)
        try:
            if not cap.isOpened():
                if unchecked.names and unchecked.listed:  # FFmpeg itself found streams
                    raise Incomplete(f"OpenCV/FFmpeg could not open a video stream; "
                                     f"{unchecked.text()}")
                raise NotApplicable("OpenCV/FFmpeg could not open a video stream")
            # Stored pixels: a player's turn by the rotation metadata moves the mark.
            cap.set(cv2.CAP_PROP_ORIENTATION_AUTO, 0)
            width = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))
            height = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
            count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
            skip = _gate_video(width, height, cfg, unchecked.names)  # no frame read yet
            if skip:
                ctx.note(skip)
                return "not checked", [], ""
            wanted = positions(count, cfg["video_frames"])
            used, failed = _sample(cap, wanted, count, analysis, ctx, cfg, deadline)
        finally:
            cap.release()
    if not used:
        raise Incomplete("no video frame could be decoded for the watermark check"
                         + (f"; {unchecked.text()}" if unchecked.names else ""))
    shortfalls = []
    if failed:
        ctx.note(f"pixel watermark: {failed} sampled frame(s) could not be decoded")
        # A frame count estimated from the duration can overshoot by a frame or two; more
        # than half of the sample missing is a file we could not read.
        if failed > len(used):
            shortfalls.append(f"only {len(used)} of {len(used) + failed} sampled video frames "
                              "could be decoded")
    if unchecked.names:
        shortfalls.append(unchecked.text())
    return f"frames {width}×{height} at {used} of {count}", used, "; ".join(shortfalls)


@dataclass
class _Streams:
    """The first video stream's decoded size (None: unknown) and the other streams that may
    carry a mark but are not decoded."""

    first: tuple[int, int] | None
    names: list[str]
    listed: bool = True  # False: FFmpeg could not list them (nor, usually, OpenCV open it)

    def text(self) -> str:
        return (f"{', '.join(self.names)} not checked for a pixel watermark (only the first "
                "video stream is decoded)")


def _other_streams(ctx: AssetContext, source: str, cfg: dict[str, Any]) -> _Streams:
    """The video streams besides the one OpenCV decodes. An MP4/MOV whose box walk finds one
    video track has none (OpenCV's own size then gates it: no second decoder library is
    loaded, ~20 MB per worker); otherwise FFmpeg lists them (``headers.video_streams``, its
    size of the first decided before OpenCV opens it); when FFmpeg cannot list them, more
    than one track in the box walk (or a container it cannot walk) leaves the others
    unknown, so unchecked."""
    tracks = headers.video_tracks(ctx)
    if tracks is not None and len(tracks) <= 1:  # none: OpenCV finds nothing to open either
        return _Streams(None, [])
    try:
        streams = headers.video_streams(source)
    except (OSError, ValueError) as exc:
        if tracks is not None and len(tracks) <= 1:
            return _Streams(None, [])
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return _Streams(None, [f"other video streams (not listed: {why})"], listed=False)
    first = (streams[0].width, streams[0].height) if streams else None
    if first is not None and not all(first):
        first = None
    return _Streams(first, [s.name() for s in streams[1:] if _may_carry(s, cfg)])


def _may_carry(stream: headers.Stream, cfg: dict[str, Any]) -> bool:
    """Whether an undecoded stream could hold a mark: its size is unknown or ``gate`` admits
    it (above ``max_pixels`` included: not decoded is not checked)."""
    if not (stream.width and stream.height):
        return True
    try:
        gate(stream.width, stream.height, "video", cfg)
    except NotApplicable:
        return False
    return True


def _gate_video(width: int, height: int, cfg: dict[str, Any], unchecked: list[str]) -> str | None:
    """``gate`` for the decoded stream; while other streams stay unchecked, its "not
    applicable" or "not checked" is an incomplete scan instead (the file is not clean)."""
    try:
        skip = gate(width, height, "video", cfg)
    except NotApplicable as exc:
        if unchecked:
            raise Incomplete(f"{exc}; {_Streams(None, unchecked).text()}") from None
        raise
    if skip and unchecked:
        raise Incomplete(f"{skip}; {_Streams(None, unchecked).text()}")
    return skip


def _sample(cap: Any, wanted: list[int], count: int, analysis: Analysis, ctx: AssetContext,
            cfg: dict[str, Any], deadline: float) -> tuple[list[int], int]:
    """Read the ``wanted`` frames (front to back for short clips, else by seeking) into
    ``analysis``; (frames used, frames that failed)."""
    sequential = count <= 0 or wanted[-1] < SEQUENTIAL_FRAMES
    used: list[int] = []
    failed = 0
    at = 0  # next frame a sequential read returns
    for pos in wanted:
        if time.monotonic() > deadline:
            ctx.note(f"pixel watermark: time budget of {cfg['video_seconds']} s "
                     f"reached after {len(used)} frame(s)")
            break
        if analysis.clearly_null(len(wanted)):
            ctx.note(f"pixel watermark: stopped after {len(used)} of {len(wanted)} sampled "
                     "frames, their votes clearly null (no payload could reach a band)")
            break
        ok = True
        if sequential:
            while ok and at < pos:
                ok = cap.grab()
                at += 1
        elif count >= len(wanted):
            cap.set(cv2.CAP_PROP_POS_FRAMES, pos)
        frame = None
        if ok:
            ok, frame = cap.read()
            at += 1
        if not ok or frame is None:
            if not sequential:
                failed += 1
                continue
            if count > 0:  # the stream ended before its declared length
                failed = len(wanted) - len(used)
            break
        if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
            failed += 1
            continue
        if frame.shape[0] * frame.shape[1] < dwtdct.MIN_PIXELS:
            raise NotApplicable("frames are below the decoder's 256×256 minimum")
        analysis.add(frame)
        used.append(pos)
    return used, failed
