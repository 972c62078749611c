"""Video frame sampling for fingerprinting: a steady rate plus scene cuts, with timestamps.

Why both: a steady ~1 fps gives every shot a hashed frame and bounds the work on a long
program; a cut check on small thumbnails at a higher rate catches short inserts (a still held
for two seconds, a re-cut clip) right at their first frame so their timecode is exact.
Frames come out downscaled (longest side ``max_side``): PDQ and ORB work on small images, and
a 1080p or 4K master costs no more memory than a 720p one.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np

CUT_RATE = 4.0  # thumbnails per second for the cut check
CUT_THRESHOLD = 28.0  # mean absolute difference (0-255) between 32x32 grey thumbnails


class VideoError(Exception):
    """The video could not be opened or decoded."""


@dataclass
class Frame:
    t: float  # seconds from the start
    rgb: np.ndarray  # HxWx3 uint8, downscaled
    cut: bool  # sampled because a cut was detected


@dataclass
class VideoInfo:
    fps: float
    frames: int
    width: int
    height: int

    @property
    def duration(self) -> float:
        return self.frames / self.fps if self.fps > 0 else 0.0


def timecode(seconds: float) -> str:
    """HH:MM:SS.mmm (wall-clock time from the start of the file)."""
    ms = int(round(max(seconds, 0.0) * 1000))
    h, rem = divmod(ms, 3_600_000)
    m, rem = divmod(rem, 60_000)
    s, ms = divmod(rem, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}.{ms:03d}"


def _open(path: str) -> cv2.VideoCapture:
    cap = cv2.VideoCapture(path, cv2.CAP_FFMPEG)
    if not cap.isOpened():
        raise VideoError("OpenCV/FFmpeg cannot open this video")
    return cap


def info(path: str) -> VideoInfo:
    cap = _open(path)
    try:
        return VideoInfo(float(cap.get(cv2.CAP_PROP_FPS) or 0.0),
                         int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0),
                         int(cap.get(cv2.CAP_PROP_FRAME_WIDTH) or 0),
                         int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT) or 0))
    finally:
        cap.release()


def _shrink(bgr: np.ndarray, max_side: int) -> np.ndarray:
    h, w = bgr.shape[:2]
    scale = max_side / max(h, w)
    if scale < 1.0:
        bgr = cv2.resize(bgr, (max(1, round(w * scale)), max(1, round(h * scale))),
                         interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def sample(path: str, rate: float = 1.0, max_side: int = 512, cuts: bool = True,
           max_seconds: float | None = None) -> Iterator[Frame]:
    """Frames at ``rate`` per second, plus the first frame after each detected cut."""
    cap = _open(path)
    try:
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        if not (fps > 0 and math.isfinite(fps)):
            fps = 25.0  # unknown rate: timestamps from the decoder below still hold
        step = 1.0 / rate
        cut_step = 1.0 / CUT_RATE
        next_t, next_cut_t = 0.0, 0.0
        prev_thumb: np.ndarray | None = None
        last_emit = -1e9
        index = -1
        while True:
            if not cap.grab():
                break
            index += 1
            pos = cap.get(cv2.CAP_PROP_POS_MSEC)
            t = pos / 1000.0 if pos and pos > 0 else index / fps
            if max_seconds is not None and t > max_seconds:
                break
            want = t + 1e-6 >= next_t
            check = cuts and t + 1e-6 >= next_cut_t
            if not (want or check):
                continue
            ok, bgr = cap.retrieve()
            if not ok or bgr is None:
                raise VideoError(f"decode failed at {timecode(t)}")
            is_cut = False
            if check:
                next_cut_t = t + cut_step
                thumb = cv2.resize(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY), (32, 32),
                                   interpolation=cv2.INTER_AREA).astype(np.int16)
                if prev_thumb is not None:
                    is_cut = float(np.abs(thumb - prev_thumb).mean()) > CUT_THRESHOLD
                prev_thumb = thumb
            if want or (is_cut and t - last_emit > cut_step):
                if want:
                    next_t += step * max(1, math.floor((t - next_t) / step) + 1)
                last_emit = t
                yield Frame(t, _shrink(bgr, max_side), is_cut and not want)
    finally:
        cap.release()
