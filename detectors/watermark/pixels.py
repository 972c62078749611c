"""Reading pixels for the decoder: still images (header first, so files over the limit are never
read; OpenCV as Stability's ``detect.py`` reads them, Pillow as fallback) and a handful of video
frames spread over a clip (OpenCV/FFmpeg), each added to an ``Analysis``. Every limit and
shortfall is said in a coverage note or raised as ``Incomplete``."""

from __future__ import annotations

import io
import os
import struct
import time
import warnings
from typing import TYPE_CHECKING, Any

from detectors.api import AssetContext, Incomplete, NotApplicable
from detectors.formats import registry
from detectors.lazy import lazy
from detectors.watermark import dwtdct
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


class _TooLarge(Exception):
    """The header declares more pixels than Pillow agrees to open (its bomb limit)."""


def _image_size(media_type: str, data: bytes) -> tuple[int, int, int] | None:
    """(width, height, frames) from the header (no pixel decode), or None when Pillow does not
    know the format. Raises ``_TooLarge`` past Pillow's bomb limit. The format's own header
    parser first (microseconds: most images in a delivery are PNG or JPEG), Pillow next."""
    quick = registry.dimensions(media_type, data)
    if quick is not None:
        return quick
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # decompression-bomb warnings: we bound it ourselves
            with Image.open(io.BytesIO(data)) as im:
                return im.size[0], im.size[1], int(getattr(im, "n_frames", 1) or 1)
    except Image.DecompressionBombError as exc:
        raise _TooLarge(str(exc)) from exc
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError):
        return None
    except (IndexError, TypeError, struct.error) as exc:
        # Pillow's GIF/TIFF header code on damaged files (found by fuzzing)
        raise Incomplete(f"image header unreadable: {type(exc).__name__}: {exc}") from exc


def read_image(ctx: AssetContext, analysis: Analysis,
               cfg: dict[str, Any]) -> tuple[str, list[int]]:
    max_pixels = cfg["max_pixels"]
    limit = max_pixels * 8 + 16 * 1024 * 1024  # 16-bit RGBA uncompressed, plus headers
    if ctx.asset.size > limit:
        ctx.note(f"pixel watermark not checked: file larger than {limit} bytes "
                 f"(max_pixels {max_pixels})")
        return "not checked", []
    data: bytes | None = None
    try:
        media_type = ctx.asset.media_type
        size = _image_size(media_type, ctx.head)  # the header decides before the pixels
        if size is None:
            data = _read_all(ctx, limit)
            size = _image_size(media_type, data)
    except _TooLarge:
        ctx.note(f"pixel watermark not checked: declared size is above the {max_pixels}-pixel "
                 "limit (and Pillow's decompression-bomb limit)")
        return "not checked", []
    if size is not None:
        width, height, nframes = size
        if width * height > max_pixels:
            ctx.note(f"pixel watermark not checked: {width}×{height} is above the "
                     f"{max_pixels}-pixel limit")
            return "not checked", []
        if width * height < dwtdct.MIN_PIXELS:
            raise NotApplicable(f"{width}×{height} is below the decoder's 256×256 minimum")
        if nframes > 1:
            ctx.note(f"pixel watermark: first of {nframes} frames only")
    if data is None:
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
    if width * height < dwtdct.MIN_PIXELS:
        raise NotApplicable(f"{width}×{height} is below the decoder's 256×256 minimum")
    if width * height > max_pixels:
        ctx.note(f"pixel watermark not checked: {width}×{height} is above the "
                 f"{max_pixels}-pixel limit")
        return "not checked", []
    analysis.add(bgr)
    return f"pixels {width}×{height}", [0]

def _read_all(ctx: AssetContext, limit: int) -> bytes:
    with ctx.open() as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:  # grew since the walk
        raise Incomplete(f"file grew past {limit} bytes while being read")
    return data

def read_video(ctx: AssetContext, analysis: Analysis,
               cfg: dict[str, Any]) -> tuple[str, list[int], str]:
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
            if 0 < width * height < dwtdct.MIN_PIXELS:
                raise NotApplicable(f"{width}×{height} frames are below the decoder's "
                                    "256×256 minimum")
            if width * height > cfg["max_pixels"]:
                ctx.note(f"pixel watermark not checked: {width}×{height} frames are above "
                         f"the {cfg['max_pixels']}-pixel limit")
                return "not checked", [], ""
            wanted = cfg["video_frames"]
            seek = count >= wanted
            if seek:  # spread over the clip
                positions = [int((i + 0.5) * count / wanted) for i in range(wanted)]
            else:  # short clip, or length unknown (count 0): read from the start
                positions = list(range(count if count > 0 else wanted))
            used: list[int] = []
            failed = 0
            for pos in positions:
                if time.monotonic() > deadline:
                    ctx.note(f"pixel watermark: time budget of {cfg['video_seconds']} s "
                             f"reached after {len(used)} frame(s)")
                    break
                if seek:
                    cap.set(cv2.CAP_PROP_POS_FRAMES, pos)
                ok, frame = cap.read()
                if not ok or frame is None:
                    if seek:
                        failed += 1
                        continue
                    if count > 0:  # the stream ended before its declared length
                        failed = len(positions) - len(used)
                    break
                if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
                    failed += 1
                    continue
                if frame.shape[0] * frame.shape[1] < dwtdct.MIN_PIXELS:
                    raise NotApplicable("frames are below the decoder's 256×256 minimum")
                analysis.add(frame)
                used.append(pos)
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
