"""A registered picture squeezed whole between bars (16:9 temp in a 4:3 pillarbox) is found
by unsqueezing the picture inside the bars to the registered aspect (issue 18). The
randomised sweep missed a pillarboxed chessboard and brick wall: their repeats defeat the
free squeeze's one-to-one pairs, and the free squeeze is not tried on many-to-many texture
pairs. The bars fix the squeeze, so the match is an ordinary similarity.
Real bytes: clips and a ProRes programme made with ffmpeg at test time, sampled as the
register detector samples them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from detectors.fingerprint import extract
from detectors.fingerprint import features as feat
from detectors.fingerprint import matcher as m
from fixtures.gen_register import synth_image
from scanner.cli import main
from tests.helpers import encode_frames, pan_zoom, register_clips, register_scan
from tests.test_register_textures import FPS, H264, PRORES, SIZE, _board, _runs

pytestmark = pytest.mark.tool("ffmpeg")

INSERT = range(50, 110)  # the squeezed chessboard's frames in the programme
PILLAR = (80, 0, 560, 360)  # a 4:3 box in the 640x360 frame


def _pillarboxed(rgb: np.ndarray, subtitled: bool = False) -> np.ndarray:
    """``rgb`` squeezed into the pillarbox; ``subtitled``: with two lines of subtitles over
    the picture (which move its PDQ out of reach, so local features must find it)."""
    x0, y0, x1, y1 = PILLAR
    out = np.zeros_like(rgb)
    out[y0:y1, x0:x1] = cv2.resize(rgb, (x1 - x0, y1 - y0), interpolation=cv2.INTER_AREA)
    for text, y in (("- Leave before the tide.", 290), ("- Go. I'll catch up.", 325))[
            :2 if subtitled else 0]:
        for colour, thick in (((0, 0, 0), 6), ((255, 255, 255), 2)):
            cv2.putText(out, text, (110, y), cv2.FONT_HERSHEY_SIMPLEX, 0.9, colour, thick,
                        cv2.LINE_AA)
    return out


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[tuple[m.Register, int, Path, Path]]:
    """A register of a chessboard zoom and two other 16:9 clips; a programme of unrelated
    footage with 60 frames of the chessboard squeezed into a 4:3 pillarbox under subtitles,
    and one with
    another picture pillarboxed the same way."""
    tmp = tmp_path_factory.mktemp("bars")
    board = pan_zoom(_board(), 100, SIZE, 5, zoom=((0.7, 0.8), (0.55, 0.65)))
    db = tmp / "reg.db"
    clips = [("board", board)] + [
        (f"other{s}", pan_zoom(synth_image(s, 960, 540), 60, SIZE, s)) for s in (701, 702)]
    ids = register_clips(db, clips, FPS, H264)
    other = pan_zoom(synth_image(710, 960, 540), 160, SIZE, 9)
    frames = [_pillarboxed(board[k - INSERT.start + 20], True) if k in INSERT else f
              for k, f in enumerate(other)]
    prog = encode_frames(tmp / "prog.mov", frames, FPS, PRORES)
    unrelated = pan_zoom(synth_image(720, 960, 540), 60, SIZE, 11)
    neg = encode_frames(tmp / "neg.mov", [_pillarboxed(f) for f in unrelated], FPS, PRORES)
    reg = m.Register(str(db))
    try:
        yield reg, ids["board"], prog, neg
    finally:
        reg.close()


def test_a_chessboard_squeezed_into_a_pillarbox_is_found_with_frame_accurate_edges(
        setup: tuple[m.Register, int, Path, Path]) -> None:
    reg, board, prog, _neg = setup
    (run,) = _runs(reg, prog)
    assert run.entry.id == board and run.method == "local", run
    region = run.detail["region"]
    assert region["between_bars"] is True and abs(region["squeeze"] - 0.75) < 0.03, region
    # placed within the bars: the box of the pillarbox, as fractions of the frame
    x0, _y0, x1, _y1 = PILLAR
    assert region["x"] >= x0 / SIZE[0] - 0.02 and region["x"] + region["width"] <= \
        x1 / SIZE[0] + 0.02, region
    reg.refine(run, str(prog), 1.0 / extract.SCAN_RATE)
    assert abs(run.start_frame - INSERT.start) <= 1, run.start_frame
    assert abs(run.end_frame - (INSERT.stop - 1)) <= 1, run.end_frame


def test_without_unsqueezing_the_pillarboxed_chessboard_is_missed(
        setup: tuple[m.Register, int, Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """The premise: as it is in the frame, no rule finds it."""
    reg, _board_id, prog, _neg = setup
    monkeypatch.setattr(m, "UNSQUEEZE_ASPECTS", 0)
    assert _runs(reg, prog) == []


def test_another_picture_pillarboxed_is_not_matched(
        setup: tuple[m.Register, int, Path, Path]) -> None:
    reg, _board_id, _prog, neg = setup
    assert _runs(reg, neg) == []


def test_only_frames_with_bars_are_unsqueezed_for_entries_the_frame_came_near(
        setup: tuple[m.Register, int, Path, Path]) -> None:
    """A frame without bars is matched as it is, and a frame whose picture between the bars
    already has a registered aspect is not stretched. Nor is one whose query as it was
    came near no entry: the stretch is a second query, and a letterboxed programme would
    pay it on every check (against 10,000 entries: 2.4 -> 4.8 s a minute)."""
    reg, board_id, _prog, _neg = setup
    index = reg.features()
    assert index.aspects == [round(SIZE[0] / SIZE[1], 2)]
    board = pan_zoom(_board(), 1, SIZE, 5, zoom=((0.7, 0.8), (0.55, 0.65)))[0]
    squeezed = cv2.resize(board, (480, 360), interpolation=cv2.INTER_AREA)
    assert m._unsqueezed(index, squeezed, [board_id]) == []  # no bars to say so
    boxed = np.zeros((480, 640, 3), np.uint8)  # 16:9 between bars in a 4:3 frame
    boxed[60:420] = board
    assert m._unsqueezed(index, boxed, [board_id]) == []
    assert m._unsqueezed(index, _pillarboxed(board), []) == []
    (found,) = m._unsqueezed(index, _pillarboxed(board), [board_id])[:1]
    assert abs((found.squeeze or 0) - 0.75) < 0.03, found
    # the chessboard squeezed leaves its entry a lead in the query as it is
    leads: set[int] = set()
    assert index.query(feat.extract(_pillarboxed(board), feat.QUERY_SIDE,
                                    feat.QUERY_FEATURES), leads=leads) == []
    assert board_id in leads


def test_a_still_squeezed_between_bars_says_so(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Stills too: a registered 16:9 chessboard still squeezed into a 4:3 pillarbox of a
    subtitled frame grab. The finding says where, and that the bars set the squeeze."""
    db = tmp_path / "reg.db"
    still = pan_zoom(_board(), 1, (1280, 720), 5, zoom=((0.7, 0.8), (0.55, 0.65)))[0]
    Image.fromarray(still).save(tmp_path / "temp_board.png")
    res = CliRunner().invoke(main, ["register", "add", str(tmp_path / "temp_board.png"),
                                    "--register", str(db), "--tool", "Midjourney"])
    assert res.exit_code == 0, res.output
    grab = _pillarboxed(cv2.resize(still, SIZE, interpolation=cv2.INTER_AREA), True)
    grab = cv2.resize(grab, (1920, 1080), interpolation=cv2.INTER_CUBIC)
    Image.fromarray(grab).save(tmp_path / "grab.jpg", quality=85)
    (f,) = register_scan(db, tmp_path / "grab.jpg").findings
    assert f.rule == "register.local" and f.evidence["between_bars"] is True, f
    assert abs(f.evidence["squeeze"] - 0.75) < 0.03, f.evidence
    region = f.evidence["region"]
    assert region["x"] >= 240 - 20 and region["x"] + region["width"] <= 1680 + 20, region
    assert (f"placed squeezed between the frame's bars: {f.evidence['squeeze']:.2f} "
            "horizontal to vertical scale") in f.message, f.message
    # the premise: as it is in the grab, no rule finds it
    monkeypatch.setattr(m, "UNSQUEEZE_ASPECTS", 0)
    assert not register_scan(db, tmp_path / "grab.jpg").findings


def test_the_aspects_tried_first_are_those_of_the_most_registered_frames() -> None:
    """Three 3:2 stills and one 16:9 clip of eight frames: a pillarboxed frame is stretched
    to 16:9 first, as squeezes between bars are done to video."""
    def frame(w: int, h: int) -> feat.Features:
        return feat.extract(synth_image(w + h, w, h), feat.REGISTER_SIDE,
                            feat.REGISTER_FEATURES)
    stills = [(k, frame(600, 400)) for k in range(3)]
    clip = [(9, frame(640, 360))] * 8
    index = feat.FeatureIndex(stills + clip)
    assert index.aspects == [1.78, 1.5]
    assert index.aspect[9] == 640 / 360 and index.aspect[0] == 1.5
