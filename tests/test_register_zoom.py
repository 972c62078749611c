"""A closer look: a small borderless inset in a 1080p programme gives ORB too few inliers in
the 512 px sample (a near miss), and a captioned inset's window comes near its entry's PDQ
without matching; both are matched in a sharper crop of their region
(``matcher.ZOOM_DECODE``). Only the entries that led there count. Media are made at test
time: a 1280x720 temp clip, 36 registered stills (so the scan verifies a short list, as past
32 registered frames), and 1 s programmes made with ffmpeg."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from detectors.fingerprint import extract
from detectors.fingerprint import features as feat
from detectors.fingerprint import matcher as m
from detectors.fingerprint import video as video_fp
from fixtures.gen_register import synth_image
from scanner.cli import main
from tests.helpers import encode_frames, pan_zoom, register_scan

pytestmark = pytest.mark.tool("ffmpeg")

FPS = 25
HD = (1920, 1080)
H264 = ["-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-pix_fmt", "yuv420p"]
PRORES = ["-c:v", "prores", "-profile:v", "0", "-pix_fmt", "yuv422p10le"]
INSET_H = int(HD[1] * 0.28)  # 302 px: about 80 px tall in the 512 px sample
INSET_W = INSET_H * 16 // 9
INSET_X, INSET_Y = HD[0] - INSET_W - 120, 100
FEATHER = 12  # px: a soft edge, so no window has straight sides and only ORB can find it


def _clip(seed: int, n: int, size: tuple[int, int], pan: int) -> list[np.ndarray]:
    return pan_zoom(synth_image(seed, size[0] * 5 // 4, size[1] * 5 // 4), n, size, pan,
                    ((0.85, 0.95), (0.75, 0.85)), (0.3, 0.4))


def _programme(path: Path, temp: list[np.ndarray] | None) -> Path:
    """One second of 1080p footage, with ``temp`` softly inset at the top right."""
    bg = _clip(777, FPS, HD, 9)
    alpha = np.zeros((INSET_H, INSET_W), np.float32)
    alpha[FEATHER:-FEATHER, FEATHER:-FEATHER] = 1
    alpha = cv2.GaussianBlur(alpha, (0, 0), FEATHER / 2)[..., None]
    frames = []
    for k, b in enumerate(bg):
        o = b.copy()
        if temp is not None:
            inset = cv2.resize(temp[10 + k], (INSET_W, INSET_H),
                               interpolation=cv2.INTER_AREA).astype(np.float32)
            under = o[INSET_Y:INSET_Y + INSET_H, INSET_X:INSET_X + INSET_W]
            o[INSET_Y:INSET_Y + INSET_H, INSET_X:INSET_X + INSET_W] = (
                alpha * inset + (1 - alpha) * under).astype(np.uint8)
        frames.append(o)
    encode_frames(path, frames, FPS, PRORES)
    return path


def _captioned(path: Path, temp: list[np.ndarray]) -> Path:
    """One second of 1080p footage with ``temp`` inset at a quarter of its height in a white
    frame, a caption burned across it: the window is found, but the caption moves its PDQ
    42-46 bits from the registered frames' (a window matches at 32)."""
    bg = _clip(777, FPS, HD, 9)
    h = HD[1] // 4
    w = h * 16 // 9
    x, y = HD[0] - w - 120, 100
    frames = []
    for k, b in enumerate(bg):
        inset = cv2.resize(temp[10 + k], (w, h), interpolation=cv2.INTER_AREA)
        cv2.putText(inset, "TEMP PREVIS", (10, h // 2), cv2.FONT_HERSHEY_SIMPLEX, h / 110,
                    (255, 255, 255), h // 25, cv2.LINE_AA)
        o = b.copy()
        o[y - 6:y + h + 6, x - 6:x + w + 6] = 255
        o[y:y + h, x:x + w] = inset
        frames.append(o)
    encode_frames(path, frames, FPS, PRORES)
    return path


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("zoom")
    temp = _clip(301, 50, (1280, 720), 1)
    encode_frames(d / "temp.mp4", temp, FPS, H264)
    stills = []
    for k in range(36):
        p = d / f"still{k}.png"
        cv2.imwrite(str(p), synth_image(1000 + k, 640, 360)[:, :, ::-1])
        stills.append(str(p))
    db = d / "reg.db"
    res = CliRunner().invoke(main, ["register", "add", str(d / "temp.mp4"), *stills,
                                    "--register", str(db)])
    assert res.exit_code == 0, res.output
    return {"db": db, "inset": _programme(d / "inset.mov", temp),
            "plain": _programme(d / "plain.mov", None),
            "captioned": _captioned(d / "captioned.mov", temp)}


def _first_sample(path: Path) -> video_fp.Frame:
    (fr,) = list(video_fp.frames_between(str(path), 0.0, 0.0, extract.FRAME_SIDE))
    return fr


def _temp_entry(reg: m.Register) -> int:
    (eid,) = {e.id for e in reg.entries.values() if e.path.endswith("temp.mp4")}
    return eid


def test_the_sample_is_a_near_miss_and_the_closer_look_finds_the_inset(
        media: dict[str, Path]) -> None:
    reg = m.Register(str(media["db"]))
    try:
        index, eid = reg.features(), _temp_entry(reg)
        assert index.inverted is not None  # a short list is verified, at its floor of 20
        fr = _first_sample(media["inset"])
        near: list[feat.LocalMatch] = []
        q = feat.extract(fr.rgb, feat.QUERY_SIDE, feat.QUERY_FEATURES)
        assert index.query(q, near) == []
        assert [lm.ref for lm in near] == [eid]
        assert feat.MIN_INLIERS <= near[0].inliers < feat.MIN_INLIERS_SHORTLIST

        assert m._local_check(index, fr, None).found == []  # no file: no closer look
        check = m._local_check(index, fr, str(media["inset"]))
        assert check.zoomed and [lm.ref for lm in check.found] == [eid]
        found = check.found[0]
        assert found.inliers >= 5 * feat.MIN_INLIERS_SHORTLIST
        assert check.closer_look.startswith("1920x1080 decode, region at ")
        # placed in the sample's pixels, on the inset
        h, w = fr.rgb.shape[:2]
        sx, sy = w / HD[0], h / HD[1]
        truth = (INSET_X * sx, INSET_Y * sy, (INSET_X + INSET_W) * sx,
                 (INSET_Y + INSET_H) * sy)
        assert _iou(found.region, truth) > 0.75
        assert found.coverage == pytest.approx(
            (found.region[2] - found.region[0]) * (found.region[3] - found.region[1])
            / (w * h), abs=1e-3)
    finally:
        reg.close()


def test_only_the_near_miss_entry_counts_in_the_closer_look(media: dict[str, Path]) -> None:
    reg = m.Register(str(media["db"]))
    try:
        index, eid = reg.features(), _temp_entry(reg)
        fr = _first_sample(media["inset"])
        near: list[feat.LocalMatch] = []
        index.query(feat.extract(fr.rgb, feat.QUERY_SIDE, feat.QUERY_FEATURES), near)
        other = next(e.id for e in reg.entries.values() if e.id != eid)
        # the same region, claimed for another entry: the crop shows the temp clip, not it
        check = m._zoomed(index, fr, str(media["inset"]), near[0].region, [other])
        assert check.zoomed and check.found == []
    finally:
        reg.close()


def test_a_one_second_inset_is_found_only_by_the_closer_look(
        media: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    res = register_scan(media["db"], media["inset"])
    assert res.verdict == "ai"
    (f,) = res.findings
    assert f.rule == "register.video.local"
    assert "counted in a closer look at the region (1920x1080 decode" in f.message
    assert str(f.evidence["closer_look"]).startswith("1920x1080 decode")
    assert f.evidence["inliers"] >= 5 * feat.MIN_INLIERS_SHORTLIST
    # one sample (t = 0): the out point is the walk's, at the closer look's size
    span = f.evidence["deliverable_range"]
    assert (span["start_frame"], span["end_frame"]) == (0, FPS - 1)

    assert register_scan(media["db"], media["plain"]).verdict == "clean"
    # without the closer look the sample's near miss is all there is
    monkeypatch.setattr(m, "_zoomed", lambda *a: m.LocalCheck([], True))
    assert register_scan(media["db"], media["inset"]).verdict == "clean"


def _iou(a: Any, b: Any) -> float:
    x0, y0 = max(a[0], b[0]), max(a[1], b[1])
    x1, y1 = min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, x1 - x0) * max(0.0, y1 - y0)
    area = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / area


def test_a_window_whose_hash_came_near_is_looked_at_closer(
        media: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """A framed inset with a caption: its window's PDQ comes within the second-look radius
    of the temp clip but not within 32, ORB in the 512 px sample finds no candidate, and the
    window's region in a sharper decode matches (a brick wall inset in a white frame in
    ``bench.register_sweep``'s seed 21: PDQ 48-64 at every frame, 216-231 inliers)."""
    reg = m.Register(str(media["db"]))
    try:
        index, eid = reg.features(), _temp_entry(reg)
        fr = _first_sample(media["captioned"])
        hits, near_windows = reg._windows(fr)
        assert hits == [] and list(near_windows.values()) == [[eid]]
        near: list[feat.LocalMatch] = []
        q = feat.extract(fr.rgb, feat.QUERY_SIDE, feat.QUERY_FEATURES)
        assert index.query(q, near) == [] and near == []
        check = m._local_check(index, fr, str(media["captioned"]), sorted(near_windows.items()))
        assert check.zoomed and [lm.ref for lm in check.found] == [eid]
        assert check.found[0].inliers >= 5 * feat.MIN_INLIERS_SHORTLIST
    finally:
        reg.close()

    res = register_scan(media["db"], media["captioned"])
    (f,) = res.findings
    assert f.rule == "register.video.local" and res.verdict == "ai"
    assert "counted in a closer look at the region" in f.message
    span = f.evidence["deliverable_range"]
    assert (span["start_frame"], span["end_frame"]) == (0, FPS - 1)
    monkeypatch.setattr(m, "_zoomed", lambda *a: m.LocalCheck([], True))
    assert register_scan(media["db"], media["captioned"]).verdict == "clean"
