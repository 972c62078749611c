"""A video run resting on one sampled frame farther than ``PDQ_SINGLE_FRAME`` is kept when the
frames around that sample match its entry too (``Register._confirm``), and dropped when they do
not: a 1 s insert sampled at 1 fps has one sample, and a slight reframe puts it at 25-40 bits
(the sweep benchmark missed such inserts, ``bench.register_sweep``). Real bytes: a ProRes
programme made with ffmpeg at test time, sampled as the register detector samples it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from detectors.fingerprint import extract
from detectors.fingerprint import matcher as m
from detectors.fingerprint import video as video_fp
from detectors.fingerprint.store import RegisterStore
from fixtures.gen_register import synth_image
from tests.helpers import encode_frames, pan_zoom

pytestmark = pytest.mark.tool("ffmpeg")

SIZE = (960, 540)
PRORES = ["-c:v", "prores", "-profile:v", "0", "-pix_fmt", "yuv422p10le"]  # prores_aw: fast
SHIFT = 15  # px: a reframe that moves the picture's PDQ 25-40 bits from the registered one


@pytest.fixture(scope="module")
def register(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[m.Register, int]]:
    db = tmp_path_factory.mktemp("confirm") / "reg.db"
    with RegisterStore(str(db), readonly=False, create=True) as store:
        eid = store.add(sha256="still", media_type="image/png", path="still.png", size=0,
                        tool="test", note="", added="test", verdict="clean", evidence=[],
                        fp=extract.fingerprint_image(synth_image(611, 640, 360)))
    reg = m.Register(str(db))
    try:
        yield reg, eid
    finally:
        reg.close()


def _reframed() -> np.ndarray:
    big = cv2.resize(synth_image(611, 640, 360), SIZE, interpolation=cv2.INTER_LINEAR)
    shift = np.float32([[1, 0, SHIFT], [0, 1, 0]])
    return cv2.warpAffine(big, shift, SIZE, borderMode=cv2.BORDER_REFLECT)


def _programme(path: Path, shown: range) -> Path:
    """4 s at 25 fps of unrelated moving footage, the reframed still on the ``shown`` frames."""
    other = pan_zoom(synth_image(612, 960, 540), 100, SIZE, 3)
    still = _reframed()
    return encode_frames(path, [still if k in shown else f for k, f in enumerate(other)], 25,
                         PRORES)


def _scan(reg: m.Register, prog: Path, with_path: bool) -> list[m.RangeMatch]:
    frames = video_fp.sample(str(prog), rate=extract.SCAN_RATE, max_side=extract.FRAME_SIDE)
    runs, _stats = reg.match_frames(frames, path=str(prog) if with_path else None)
    return runs


def test_the_lone_sample_is_past_the_single_frame_bound(register: tuple[m.Register, int],
                                                        tmp_path: Path) -> None:
    """The premise of the two tests below: the one sample in the insert (frame 75) matches
    within PDQ_RADIUS but not within PDQ_SINGLE_FRAME."""
    reg, eid = register
    prog = _programme(tmp_path / "p.mov", range(55, 80))
    (fr,) = [f for f in video_fp.frames_between(str(prog), 3.0, 3.0, extract.FRAME_SIDE)]
    words = reg.pdq_index.words[np.nonzero(reg.pdq_entry == eid)[0]]
    d = int(m.distances(words, extract.query_hash(fr.rgb).hash).min())
    assert m.PDQ_SINGLE_FRAME < d <= m.PDQ_RADIUS


def test_a_one_second_insert_is_kept_when_its_neighbours_match(
        register: tuple[m.Register, int], tmp_path: Path) -> None:
    reg, eid = register
    prog = _programme(tmp_path / "p.mov", range(55, 80))  # 2.2-3.16 s: one sample, at 3.0
    assert _scan(reg, prog, with_path=False) == []  # one sample alone is not enough
    (run,) = _scan(reg, prog, with_path=True)
    assert run.entry.id == eid and run.samples == 1 and run.start == pytest.approx(3.0)
    # frames 62-79 lie within half a second (and half a frame) of the sample and show the
    # picture: 17 besides the sample
    assert m.CONFIRM_FRAMES <= int(run.detail["confirmed_by_frames"]) <= 17
    reg.refine(run, str(prog), 1.0)
    assert (run.start_frame, run.end_frame) == (55, 79)


def test_a_lone_matching_frame_is_still_dropped(register: tuple[m.Register, int],
                                                tmp_path: Path) -> None:
    """The sampled frame alone shows the picture (a flash frame, or a chance near-hit): its
    neighbours do not match, so nothing is reported."""
    reg, _eid = register
    prog = _programme(tmp_path / "p.mov", range(75, 76))
    assert _scan(reg, prog, with_path=True) == []
