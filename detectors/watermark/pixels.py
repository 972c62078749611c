"""Reading pixels for the decoder: still images (header first, so files over the limit are never
read; OpenCV as Stability's ``detect.py`` reads them, Pillow as fallback) and a handful of video
frames spread over a clip (OpenCV/FFmpeg), each added to an ``Analysis``. Every limit and
shortfall is said in a coverage note or raised as ``Incomplete``."""

from __future__ import annotations

import io
import os
import time
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


def read_image(ctx: AssetContext, analysis: Analysis,
               cfg: dict[str, Any]) -> tuple[str, list[int]]:
    """Decode one still into ``analysis``, after the header has passed ``gate``."""
    max_pixels = cfg["max_pixels"]
    limit = max_pixels * 8 + 16 * 1024 * 1024  # 16-bit RGBA uncompressed, plus headers
    try:
        size = headers.image_size(ctx)  # the header decides before the pixels
    except headers.TooLarge:
        size = None
        if cfg.get("any_size", False):
            ctx.note(f"pixel watermark not checked: declared size is above the {max_pixels}-"
                     "pixel limit (and Pillow's decompression-bomb limit)")
            return "not checked", []
        raise NotApplicable(f"pixel watermark not checked: declared size is above Pillow's "
                            "decompression-bomb limit, larger than any marking generator "
                            f"writes ({sizes.TABLE_NAME}), and resizing destroys the "
                            "mark") from None
    if size is not None:
        width, height, nframes = size
        skip = gate(width, height, "image", cfg)
        if skip:
            ctx.note(skip)
            return "not checked", []
        if nframes > 1:
            ctx.note(f"pixel watermark: first of {nframes} frames only")
    if ctx.asset.size > limit:
        ctx.note(f"pixel watermark not checked: file larger than {limit} bytes "
                 f"(max_pixels {max_pixels})")
        return "not checked", []
    data = _read_all(ctx, limit)
    try:
        bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
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
    if bgr.dtype != np.uint8:  # OpenCV keeps some TIFF/EXR depths even with IMREAD_COLOR
        bgr = cv2.convertScaleAbs(bgr, alpha=255.0 / 65535.0 if bgr.dtype == np.uint16
                                  else 255.0)
    height, width = bgr.shape[:2]
    skip = gate(width, height, "image", cfg)  # again: no header told us, or it lied
    if skip:
        ctx.note(skip)
        return "not checked", []
    analysis.add(bgr, progressive=True)
    return f"pixels {width}×{height}", [0]


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
    """Sample frames into ``analysis`` after the header has passed ``gate``; stop once the
    frames read are clearly null (``Analysis.clearly_null``)."""
    header = headers.video_size(ctx)  # MP4/MOV: box headers only, nothing decoded
    if header is not None:
        skip = gate(header[0], header[1], "video", cfg)
        if skip:
            ctx.note(skip)
            return "not checked", [], ""
    deadline = time.monotonic() + cfg["video_seconds"]
    with ctx.open() as fh:
        proc = f"/proc/self/fd/{fh.fileno()}"
        # Open the very file we hold (no path swap between walk and read) where /proc exists.
        source = proc if os.path.exists(proc) else ctx.asset.fs_path
        cap = cv2.VideoCapture(source, cv2.CAP_FFMPEG)
        try:
            if not cap.isOpened():
                raise NotApplicable("OpenCV/FFmpeg could not open a video stream")
            width = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))
            height = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
            count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
            skip = gate(width, height, "video", cfg)  # OpenCV's header read, no frame yet
            if skip:
                ctx.note(skip)
                return "not checked", [], ""
            wanted = positions(count, cfg["video_frames"])
            used, failed = _sample(cap, wanted, count, analysis, ctx, cfg, deadline)
        finally:
            cap.release()
    if not used:
        raise Incomplete("no video frame could be decoded for the watermark check")
    shortfall = ""
    if failed:
        ctx.note(f"pixel watermark: {failed} sampled frame(s) could not be decoded")
        # A frame count estimated from the duration can overshoot by a frame or two; more
        # than half of the sample missing is a file we could not read.
        if failed > len(used):
            shortfall = (f"only {len(used)} of {len(used) + failed} sampled video frames "
                         "could be decoded")
    return f"frames {width}×{height} at {used} of {count}", used, shortfall


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
