"""Picture-in-picture: a registered temp clip scaled to 40 % and placed over other footage is
found with its time range (frame-accurate) and its window's region; an unrelated registered
clip and an unrelated programme are not matched. Media are made with ffmpeg at test time."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from detectors.fingerprint import extract
from fixtures.gen_register import synth_image
from scanner.cli import main
from tests.helpers import encode_frames, pan_zoom, register_scan

pytestmark = pytest.mark.tool("ffmpeg")

FPS = 25
SIZE = (640, 360)
PIP = (352, 24, 256, 144)  # x, y, width, height of the 40 % window in the programme
PIP_FIRST, PIP_LAST = 50, 124  # frames of the programme showing it (2 s filler before)


def _zoom(still: np.ndarray, seconds: float, seed: int) -> list[np.ndarray]:
    """A slow pan/zoom over a still: the look of a generated temp clip."""
    return pan_zoom(still, int(seconds * FPS), SIZE, seed, ((0.85, 0.95), (0.75, 0.85)),
                    (0.3, 0.4))


def _encode(path: Path, frames: Iterable[np.ndarray], codec: list[str]) -> None:
    encode_frames(path, frames, FPS, codec)


H264 = ["-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-pix_fmt", "yuv420p"]


def _pip(clip: list[np.ndarray], bg: list[np.ndarray], border: bool) -> list[np.ndarray]:
    x, y, w, h = PIP
    out = []
    for f, b in zip(clip, bg, strict=False):
        o = b.copy()
        o[y:y + h, x:x + w] = cv2.resize(f, (w, h), interpolation=cv2.INTER_AREA)
        if border:
            cv2.rectangle(o, (x - 2, y - 2), (x + w + 1, y + h + 1), (255, 255, 255), 2)
        out.append(o)
    return out


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("pip")
    temp = _zoom(synth_image(301, 960, 540), 3.5, 1)
    other = _zoom(synth_image(302, 960, 540), 3.5, 2)
    _encode(d / "temp_clip.mp4", temp, H264)
    _encode(d / "other_temp.mp4", other, H264)
    db = d / "reg.db"
    res = CliRunner().invoke(main, ["register", "add", str(d / "temp_clip.mp4"),
                                    str(d / "other_temp.mp4"), "--register", str(db)])
    assert res.exit_code == 0, res.output

    # the shots around the insert, the same in every programme (made once)
    before = _zoom(synth_image(310, 960, 540), 2.0, 3)
    bg = _zoom(synth_image(311, 960, 540), 3.0, 4)
    after = _zoom(synth_image(312, 960, 540), 2.0, 5)

    def programme(name: str, inset: bool, border: bool) -> Path:
        middle = _pip(temp[:75], bg, border) if inset else bg
        path = d / name
        _encode(path, [*before, *middle, *after], H264 + ["-g", "25"])
        return path

    return {"db": db, "pip": programme("pip.mp4", True, True),
            "pip_borderless": programme("pip_borderless.mp4", True, False),
            "plain": programme("plain.mp4", False, False)}


@pytest.mark.parametrize("name", ["pip", "pip_borderless"])
def test_picture_in_picture_is_found_with_its_range_and_region(media: dict[str, Path],
                                                               name: str) -> None:
    res = register_scan(media["db"], media[name])
    assert res.verdict == "ai"
    (f,) = res.findings  # the temp clip only: the unrelated registered clip is not matched
    ev = f.evidence
    assert ev["entry"]["path"].endswith("temp_clip.mp4")
    d = ev["deliverable_range"]
    px = ev["region"]["pixels"]
    x, y, w, h = PIP
    # framed or not, the window's outline is found (a borderless inset's sides are the step
    # between inset and footage): PDQ of the window, frame-accurate in and out
    assert f.rule == "register.video.pdq"
    assert ev["found_in"] == "picture-in-picture window"
    assert abs(d["start_frame"] - PIP_FIRST) <= 1 and abs(d["end_frame"] - PIP_LAST) <= 1
    assert abs(px["x"] - x) <= 6 and abs(px["y"] - y) <= 6
    assert abs(px["width"] - w) <= 12 and abs(px["height"] - h) <= 12
    assert ev["thumbnails"]["deliverable"].startswith("data:image/jpeg;base64,")
    assert ev["confidence"] >= 0.5


def test_unrelated_programme_is_not_matched(media: dict[str, Path]) -> None:
    assert register_scan(media["db"], media["plain"]).findings == ()


def test_window_finder_ignores_texture_and_finds_the_window() -> None:
    rng = np.random.default_rng(7)
    gravel = rng.integers(0, 255, (288, 512), np.uint8)
    gravel = cv2.cvtColor(cv2.GaussianBlur(gravel, (3, 3), 0), cv2.COLOR_GRAY2RGB)
    assert extract.windows(gravel) == []
    framed = gravel.copy()
    framed[20:120, 290:490] = 128  # a flat inset with a 1 px white border
    cv2.rectangle(framed, (289, 19), (490, 120), (255, 255, 255), 1)
    ((x0, y0, x1, y1),) = extract.windows(framed)
    assert 290 <= x0 <= 292 and 20 <= y0 <= 22 and 488 <= x1 <= 490 and 118 <= y1 <= 120


def _at_luma(rgb: np.ndarray, luma: float) -> np.ndarray:
    """``rgb`` (float) with every pixel's grey level moved to ``luma``: hue without steps."""
    grey = rgb @ np.array([0.299, 0.587, 0.114])
    return np.clip(rgb + (luma - grey)[..., None], 0, 255).astype(np.uint8)


def test_window_finder_sees_an_inset_that_differs_from_its_ground_in_hue_only() -> None:
    """A borderless inset meets the footage around it in colour as often as in brightness:
    the sweep's red retina over beige footage had grey steps under the threshold along a
    third of one side. Here the grey level is the same on both sides of every edge."""
    rng = np.random.default_rng(8)
    ground = cv2.GaussianBlur(rng.uniform(0, 255, (288, 512, 3)), (0, 0), 9)
    ground = ground * [0.5, 0.9, 0.6] + [20.0, 10.0, 60.0]  # greens and blues
    inset = cv2.resize(synth_image(31, 320, 180), (200, 100)).astype(np.float64)
    inset = inset * [0.4, 0.2, 0.2] + [150.0, 40.0, 30.0]  # reds
    frame = ground.copy()
    frame[40:140, 260:460] = inset
    frame = _at_luma(frame, 120.0)
    grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY).astype(np.int16)
    # the premise: no grey step anywhere near the finder's 24
    assert max(int(np.abs(np.diff(grey, axis=a)).max()) for a in (0, 1)) < 8
    ((x0, y0, x1, y1),) = extract.windows(frame)
    assert abs(x0 - 260) <= 3 and abs(y0 - 40) <= 3 and abs(x1 - 460) <= 3 and abs(y1 - 140) <= 3
    # a colourful texture alone has no window
    colour_gravel = cv2.GaussianBlur(rng.integers(0, 255, (288, 512, 3), np.uint8), (3, 3), 0)
    assert extract.windows(colour_gravel) == []


def test_window_finder_sees_a_borderless_inset_whose_sides_come_and_go() -> None:
    """A borderless inset's side is only the step between inset and footage: where the two
    agree for a stretch it is gone, and in a 1080p frame scaled to the finder's 512 px an
    edge that falls between pixels is split over two rows. A side set along most of its
    length, in pieces, still counts; an opening with a line a tenth of the frame long (the
    finder's first form) kept almost nothing of it."""
    big_w, big_h, s = 1920, 1080, 512 / 1920
    ground = cv2.resize(synth_image(41, 480, 270), (big_w, big_h), interpolation=cv2.INTER_CUBIC)
    x, y, w, h = 301, 203, 701, 394  # 80.3, 54.1, 186.9 x 105.1 at 512 px: between pixels
    frame = ground.copy()
    frame[y:y + h, x:x + w] = cv2.resize(synth_image(42, 640, 360), (w, h),
                                         interpolation=cv2.INTER_AREA)
    # along every side, five short stretches where the inset's edge takes the footage's
    # colours (mirrored across the side): no step there
    band, gap = 24, 0.025
    for k in (0.1, 0.28, 0.46, 0.64, 0.82):
        a, b = x + int(k * w), x + int((k + gap) * w)
        frame[y:y + band, a:b] = ground[y - band:y, a:b][::-1]
        frame[y + h - band:y + h, a:b] = ground[y + h:y + h + band, a:b][::-1]
        a, b = y + int(k * h), y + int((k + gap) * h)
        frame[a:b, x:x + band] = ground[a:b, x - band:x][:, ::-1]
        frame[a:b, x + w - band:x + w] = ground[a:b, x + w:x + w + band][:, ::-1]
    small = cv2.resize(frame, (512, 288), interpolation=cv2.INTER_AREA)
    # the premise: the pixel-to-pixel colour steps of 24 along the top side, opened with a
    # line 51 px long, keep under half of it
    x0, x1, top = round(x * s), round((x + w) * s), round(y * s)
    steps = (np.abs(np.diff(small.astype(np.int16), axis=0)).max(axis=2) >= 24).astype(np.uint8)
    opened = cv2.morphologyEx(steps, cv2.MORPH_OPEN, np.ones((1, 51), np.uint8))
    assert opened[top - 3:top + 2, x0:x1].max(axis=0).mean() < 0.5
    boxes = extract.windows(small)
    assert boxes, "no window found"
    bx0, by0, bx1, by1 = boxes[0]
    assert abs(bx0 - x * s) <= 3 and abs(by0 - y * s) <= 3
    assert abs(bx1 - (x + w) * s) <= 3 and abs(by1 - (y + h) * s) <= 3
