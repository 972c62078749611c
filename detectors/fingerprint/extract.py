"""Decode media and compute the fingerprints that go into the register (and that a scan
computes on deliverables): PDQ per still or sampled frame, ORB features of stills, audio
landmarks of audio files and of video soundtracks.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import cv2
import numpy as np
from PIL import Image

from detectors.api import open_readonly
from detectors.fingerprint import audio as audio_fp
from detectors.fingerprint import features as feat
from detectors.fingerprint import pdq
from detectors.fingerprint import video as video_fp

MAX_PIXELS = 100_000_000  # refuse to decode larger images (decompression bombs)
HASH_PIXELS = 16_000_000  # larger images are reduced while decoding (bounded memory)
REGISTER_RATE = 2.0  # frames per second sampled from registered video
SCAN_RATE = 1.0  # ... and from deliverables
FRAME_SIDE = 512


class MediaError(Exception):
    """The file could not be decoded into pixels or samples."""


@dataclass
class Fingerprint:
    kind: str
    width: int | None = None
    height: int | None = None
    duration: float | None = None
    pdq: list[tuple[float | None, int, int, bytes]] = field(default_factory=list)
    features: list[tuple[float | None, feat.Features]] = field(default_factory=list)
    audio: audio_fp.Landmarks | None = None
    notes: list[str] = field(default_factory=list)


def load_rgb(path: str) -> np.ndarray:
    """First frame of an image as HxWx3 uint8 RGB, refusing decompression bombs."""
    with open_readonly(path) as fh, warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            im: Image.Image = Image.open(fh)
            w, h = im.size
            if w * h > MAX_PIXELS:
                raise MediaError(f"image too large to fingerprint ({w}x{h})")
            if w * h > HASH_PIXELS:
                # JPEG decodes at 1/2, 1/4, 1/8 directly; others are reduced after loading
                im.draft("RGB", (w // 2, h // 2))
            im.load()
            factor = 1
            while (im.width // factor) * (im.height // factor) > HASH_PIXELS:
                factor += 1
            if factor > 1:
                im = im.reduce(factor)
            if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
                im = im.convert("RGBA")
                bg = Image.new("RGBA", im.size, (255, 255, 255, 255))
                im = Image.alpha_composite(bg, im)
            rgb = np.asarray(im.convert("RGB"))
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombWarning,
                Image.DecompressionBombError) as exc:
            raise MediaError(f"cannot decode image: {exc}") from exc
    return rgb


def fingerprint_image(rgb: np.ndarray) -> Fingerprint:
    res = pdq.pdq_dihedral_pixels(rgb)
    fp = Fingerprint("image", width=int(rgb.shape[1]), height=int(rgb.shape[0]))
    fp.pdq = [(None, v, res.quality, h) for v, h in enumerate(res.hashes)]
    if res.quality < 50:
        fp.notes.append(f"low PDQ quality {res.quality} (flat image): whole-image matches "
                        "are unreliable")
    fp.features = [(None, feat.extract(rgb, feat.REGISTER_SIDE, feat.REGISTER_FEATURES))]
    return fp


def fingerprint_video(path: str) -> Fingerprint:
    vi = video_fp.info(path)
    fp = Fingerprint("video", width=vi.width, height=vi.height)
    last_t = 0.0
    for frame in video_fp.sample(path, rate=REGISTER_RATE, max_side=FRAME_SIDE):
        res = pdq.pdq_dihedral_pixels(frame.rgb)
        last_t = frame.t
        if res.quality < 50:
            continue  # flat frames (black, fades) match everything
        fp.pdq.extend((round(frame.t, 3), v, res.quality, h) for v, h in enumerate(res.hashes))
    fp.duration = max(vi.duration, last_t)
    if not fp.pdq:
        fp.notes.append("no frame with enough detail to hash")
    if audio_fp.has_audio_stream(path):
        fp.audio = audio_fp.fingerprint(path, is_wav=False, shifts=audio_fp.REGISTER_SHIFTS)
    return fp


def fingerprint_audio(path: str, is_wav: bool) -> Fingerprint:
    lm = audio_fp.fingerprint(path, is_wav=is_wav, shifts=audio_fp.REGISTER_SHIFTS)
    fp = Fingerprint("audio", duration=lm.duration, audio=lm)
    if len(lm.hashes) < 50:
        fp.notes.append(f"only {len(lm.hashes)} landmarks (silent or very short audio)")
    return fp


def is_wav(media_type: str) -> bool:
    return media_type == "audio/wav"


def fingerprint_file(path: str, kind: str, media_type: str) -> Fingerprint:
    """Fingerprint a file of sniffed ``kind`` (image/video/audio) for the register."""
    try:
        if kind == "image":
            return fingerprint_image(load_rgb(path))
        if kind == "video":
            return fingerprint_video(path)
        if kind == "audio":
            return fingerprint_audio(path, is_wav(media_type))
    except (video_fp.VideoError, audio_fp.DecodeError, cv2.error) as exc:
        raise MediaError(str(exc)) from exc
    raise MediaError(f"cannot fingerprint kind {kind!r}")
