"""Local-feature checks of video frames run on a worker thread (``Register.match_frames``):
the runs, regions and counts are those of checking each frame in turn, and a check that fails
fails the scan instead of vanishing on its thread."""

from __future__ import annotations

from collections.abc import Iterator

import cv2
import numpy as np
import pytest

from detectors.fingerprint import extract
from detectors.fingerprint import matcher as m
from detectors.fingerprint.store import RegisterStore
from detectors.fingerprint.video import Frame
from fixtures.gen_register import synth_image

SIZE = (960, 540)


def _rotated_inset(bg: np.ndarray, still: np.ndarray, angle: float) -> np.ndarray:
    """``still`` at 45 % of the frame height, turned by ``angle`` degrees, over ``bg``: no
    axis-aligned window for PDQ to hash, only local features find it."""
    h = int(SIZE[1] * 0.45)
    w = int(h * still.shape[1] / still.shape[0])
    small = cv2.resize(still, (w, h), interpolation=cv2.INTER_AREA)
    rot = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    rot[:, 2] += (SIZE[0] * 0.55, SIZE[1] * 0.3)
    warped = cv2.warpAffine(small, rot, SIZE, flags=cv2.INTER_AREA)
    mask = cv2.warpAffine(np.full((h, w), 255, np.uint8), rot, SIZE) > 127
    out = bg.copy()
    out[mask] = warped[mask]
    return out


@pytest.fixture(scope="module")
def register(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[m.Register, int]]:
    db = tmp_path_factory.mktemp("local-thread") / "reg.db"
    still = synth_image(611, 640, 400)
    with RegisterStore(str(db), readonly=False, create=True) as store:
        eid = store.add(sha256="still", media_type="image/png", path="still.png", size=0,
                        tool="test", note="", added="test", verdict="clean", evidence=[],
                        fp=extract.fingerprint_image(still))
        for k in range(3):  # unrelated entries: the check has more than one to choose from
            store.add(sha256=f"other{k}", media_type="image/png", path=f"o{k}.png", size=0,
                      tool="test", note="", added="test", verdict="clean", evidence=[],
                      fp=extract.fingerprint_image(synth_image(620 + k, 640, 400)))
    reg = m.Register(str(db))
    try:
        yield reg, eid
    finally:
        reg.close()


def _frames() -> list[Frame]:
    """12 s at 2 samples a second: unrelated footage, the turned inset from 4 s to 8 s
    (slowly turning), unrelated footage again; a cut at each change."""
    still = synth_image(611, 640, 400)
    bg = cv2.resize(synth_image(612, 640, 360), SIZE, interpolation=cv2.INTER_AREA)
    after = cv2.resize(synth_image(613, 640, 360), SIZE, interpolation=cv2.INTER_AREA)
    out = []
    for i in range(24):
        t = i / 2
        rgb = (bg if t < 4 else _rotated_inset(bg, still, 12 + 2 * (t - 4)) if t < 8
               else after)
        out.append(Frame(t, np.ascontiguousarray(rgb), cut=t in (4.0, 8.0), index=i * 12))
    return out


def _summary(runs: list[m.RangeMatch]) -> list[tuple[int, str, float, float, object]]:
    return [(r.entry.id, r.method, r.start, r.end, r.detail.get("region")) for r in runs]


def test_threaded_checks_give_the_in_turn_answer(register: tuple[m.Register, int],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    reg, eid = register
    frames = _frames()
    runs, stats = reg.match_frames(iter(frames), local_every=1.0)
    # one check outstanding at a time: each frame's check ends before the next frame is read
    monkeypatch.setattr(m, "LOCAL_PENDING", 1)
    runs1, stats1 = reg.match_frames(iter(frames), local_every=1.0)
    assert _summary(runs) == _summary(runs1)
    timing = {"window_us"}  # time spent, not what was done
    assert {k: v for k, v in stats.items() if k not in timing} == {
        k: v for k, v in stats1.items() if k not in timing}
    (run,) = runs
    assert run.entry.id == eid and run.method == "local"
    assert "texture" not in run.detail  # one-to-one pairs: not a repeated pattern's match
    assert 4.0 <= run.start and run.end < 8.0
    region = run.detail["region"]
    assert region["x"] >= 0.4, region  # the inset's side of the frame (shares of the width)
    # whole PDQ and windows match no sample; one check a second (the cuts fall on seconds)
    assert stats["window_checked"] == 24 and stats["local_checked"] == 12


def test_a_failing_check_fails_the_scan(register: tuple[m.Register, int],
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    reg, _eid = register

    def broken(*args: object) -> list[object]:
        raise cv2.error("out of memory in a local-feature check")

    monkeypatch.setattr(m, "_local_check", broken)
    with pytest.raises(cv2.error, match="local-feature check"):
        reg.match_frames(iter(_frames()), local_every=1.0)


def test_no_checks_without_local_every(register: tuple[m.Register, int],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    reg, _eid = register

    def counted(*args: object) -> list[object]:
        raise AssertionError("a local check ran with local_every=0")

    monkeypatch.setattr(m, "_local_check", counted)
    runs, stats = reg.match_frames(iter(_frames()), local_every=0.0)
    assert stats["local_checked"] == 0 and runs == []
