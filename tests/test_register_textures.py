"""Periodic textures in the temp-AI register (issue 18): a registered chessboard zoom is found
under a title although its PDQ swings 60-90 bits between frames and its one-to-one ORB pairs
agree on no transform (every corner's nearest registered descriptor is any of its repeats).
Frames whose descriptors mostly repeat a visual word are matched again many-to-many
(``features._texture_match``). Real bytes: clips and a ProRes programme made with ffmpeg at
test time, sampled as the register detector samples them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from detectors.fingerprint import extract, vocabulary
from detectors.fingerprint import features as feat
from detectors.fingerprint import matcher as m
from detectors.fingerprint import video as video_fp
from fixtures.gen_register import synth_image
from tests.helpers import (
    encode_frames,
    jpeg_query_features,
    pan_zoom,
    register_clips,
    register_scan,
)

pytestmark = pytest.mark.tool("ffmpeg")

SIZE = (640, 360)
FPS = 25.0
H264 = ["-c:v", "libx264", "-preset", "veryfast", "-crf", "18", "-pix_fmt", "yuv420p"]
PRORES = ["-c:v", "prores", "-profile:v", "0", "-pix_fmt", "yuv422p10le"]  # prores_aw: fast
INSERT = range(60, 130)  # the chessboard's frames in the programme


def _board() -> np.ndarray:
    """A chessboard of 8 x 8 squares, upscaled soft as a zoomed temp frame is."""
    yy, xx = np.indices((200, 200))
    board = ((yy // 25 + xx // 25) % 2 * 255).astype(np.uint8)
    big = cv2.resize(board, (1600, 1600), interpolation=cv2.INTER_CUBIC)
    return cv2.cvtColor(cv2.GaussianBlur(big, (0, 0), 6), cv2.COLOR_GRAY2RGB)


def _titled(rgb: np.ndarray) -> np.ndarray:
    out = rgb.copy()
    for text, y in (("- We have to leave before the tide turns.", 290),
                    ("- Then go. I'll catch up.", 325)):
        cv2.putText(out, text, (60, y), cv2.FONT_HERSHEY_SIMPLEX, 0.9, (0, 0, 0), 6,
                    cv2.LINE_AA)
        cv2.putText(out, text, (60, y), cv2.FONT_HERSHEY_SIMPLEX, 0.9, (255, 255, 255), 2,
                    cv2.LINE_AA)
    cv2.circle(out, (600, 36), 22, (220, 30, 30), -1)
    return out


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[tuple[m.Register, int, Path, Path]]:
    """A register of the chessboard zoom and two other clips; a programme of unrelated
    footage with 70 frames of the chessboard under subtitles and a logo."""
    tmp = tmp_path_factory.mktemp("textures")
    board = pan_zoom(_board(), 100, SIZE, 5, zoom=((0.7, 0.8), (0.55, 0.65)))
    db = tmp / "reg.db"
    clips = [("board", board)] + [
        (f"other{s}", pan_zoom(synth_image(s, 960, 540), 60, SIZE, s)) for s in (701, 702)]
    ids = register_clips(db, clips, FPS, H264)
    other = pan_zoom(synth_image(710, 960, 540), 170, SIZE, 9)
    frames = [_titled(board[k - INSERT.start + 20]) if k in INSERT else f
              for k, f in enumerate(other)]
    prog = encode_frames(tmp / "prog.mov", frames, FPS, PRORES)
    reg = m.Register(str(db))
    try:
        yield reg, ids["board"], prog, db
    finally:
        reg.close()


def _runs(reg: m.Register, prog: Path) -> list[m.RangeMatch]:
    frames = video_fp.sample(str(prog), rate=extract.SCAN_RATE, max_side=extract.FRAME_SIDE)
    runs, _stats = reg.match_frames(frames, local_every=2.0, path=str(prog))
    return runs


def test_only_the_periodic_texture_is_flagged(setup: tuple[m.Register, int, Path, Path]) -> None:
    reg, board, _prog, _db = setup
    index = reg.features()
    flagged = {index.items[r][0] for r in index.textures}
    assert flagged == {board}


def test_a_chessboard_under_a_title_is_found_by_its_repeats(
        setup: tuple[m.Register, int, Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    reg, board, prog, db = setup
    (run,) = _runs(reg, prog)
    assert run.entry.id == board and run.method == "local" and run.detail["texture"] is True
    reg.refine(run, str(prog), 1.0 / extract.SCAN_RATE)
    assert abs(run.start_frame - INSERT.start) <= 1, run.start_frame
    assert abs(run.end_frame - (INSERT.stop - 1)) <= 1, run.end_frame
    # without the many-to-many pass nothing is found: the premise
    monkeypatch.setattr(feat, "TEXTURE_WORD_SHARE", 1.01)
    fresh = m.Register(str(db))
    try:
        assert _runs(fresh, prog) == []
    finally:
        fresh.close()


def _pattern(name: str) -> np.ndarray:
    """Another repeated pattern, softened like the board: stripes, a brick bond, a dot grid."""
    yy, xx = np.indices((1600, 1600))
    if name == "stripes":
        g = (xx // 100 % 2) * 255
    elif name == "bricks":
        g = np.where((yy % 100 < 12) | ((xx + (yy // 100 % 2) * 100) % 200 < 12), 230, 90)
    else:
        g = np.where((yy % 100 - 50) ** 2 + (xx % 100 - 50) ** 2 < 900, 255, 0)
    return cv2.cvtColor(cv2.GaussianBlur(g.astype(np.uint8), (0, 0), 4), cv2.COLOR_GRAY2RGB)


@pytest.mark.parametrize("pattern", ["stripes", "bricks", "dots"])
def test_other_periodic_patterns_do_not_match_the_chessboard(
        setup: tuple[m.Register, int, Path, Path], tmp_path: Path, pattern: str) -> None:
    """Footage of other repeated patterns (stripes, a brick bond, a dot grid) shares corners
    with a chessboard but no transform of its grid."""
    reg, _board_id, _prog, _db = setup
    clip = encode_frames(tmp_path / "neg.mov", pan_zoom(_pattern(pattern), 100, SIZE, 3,
                                                        zoom=((0.7, 0.8), (0.55, 0.65))),
                         FPS, PRORES)
    assert _runs(reg, clip) == []


def test_a_flat_frame_is_no_texture() -> None:
    """A soft bar on a plain ground has a few edge points whose words repeat as a texture's
    do (natural crops like it: 3 of 7,332 frames of a 10,000-entry register); too few points
    to be one, and too few for the inliers a texture match asks for."""
    im = np.full((360, 480, 3), 235, np.uint8)
    cv2.fillPoly(im, [np.array([[120, 80], [200, 50], [330, 330], [250, 360]], np.int32)],
                 (60, 30, 20))
    f = feat.extract(cv2.GaussianBlur(im, (0, 0), 4), feat.REGISTER_SIDE,
                     feat.REGISTER_FEATURES)
    words = vocabulary.load().words(f.descriptors)
    assert feat.MIN_INLIERS <= len(words) < feat.TEXTURE_MIN_DESCRIPTORS
    assert 1 - len(np.unique(words)) / len(words) >= feat.TEXTURE_WORD_SHARE  # the premise
    assert feat.FeatureIndex([(1, f)]).textures == set()


def _inset(board: np.ndarray, frac: float) -> feat.Features:
    """The board scaled to ``frac`` of a 1280 px wide picture's width, as a JPEG."""
    canvas = synth_image(720, 1280, 720).copy()
    w = int(1280 * frac)
    h = int(w * board.shape[0] / board.shape[1])
    canvas[300:300 + h, 500:500 + w] = cv2.resize(board, (w, h), interpolation=cv2.INTER_AREA)
    return jpeg_query_features(canvas, 90)


def test_a_texture_is_not_claimed_squeezed_under_a_fifth_of_the_picture(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Squeezed small, a repeated pattern lands on any dense patch: the negative set's one
    chance texture match put a whole chessboard on 40 x 23 px of a screenshot's text. A
    texture match must span a fifth of the picture's width or height; at a sixth the true
    inset is given up (73 distinct inliers, above the floor), at a quarter it is found."""
    frame = pan_zoom(_board(), 2, SIZE, 5, zoom=((0.7, 0.8), (0.7, 0.8)))[0]
    reg = feat.extract(frame, feat.REGISTER_SIDE, feat.REGISTER_FEATURES)
    small, quarter = _inset(frame, 0.16), _inset(frame, 0.25)
    assert feat._texture_match(1, reg, small) is None
    found = feat._texture_match(1, reg, quarter)
    assert found is not None and found.inliers >= feat.TEXTURE_MIN_INLIERS
    x0, y0, x1, y1 = found.region
    assert abs(x0 - 500) < 8 and abs(x1 - 820) < 8 and abs(y0 - 300) < 8, found.region
    monkeypatch.setattr(feat, "TEXTURE_MIN_SPAN", 0.0)  # the premise: the span rule refused it
    unbound = feat._texture_match(1, reg, small)
    assert unbound is not None and unbound.inliers >= feat.TEXTURE_MIN_INLIERS


def test_a_texture_finding_says_what_matched_and_still_fails_the_run(
        setup: tuple[m.Register, int, Path, Path]) -> None:
    """Through the detector: the finding is ``ai`` (a delivery holding the registered pattern
    fails, as any other match), its evidence and message say that a repeated pattern matched,
    so the person checking it compares by eye."""
    _reg, board, prog, db = setup
    res = register_scan(db, prog)
    assert res.verdict == "ai"
    (f,) = [f for f in res.findings if f.rule == "register.video.local"]
    assert f.evidence["entry"]["id"] == board and f.evidence["texture"] is True
    assert "repeated pattern" in f.message
    assert f.evidence["deliverable_range"]["start_frame"] == INSERT.start


def test_each_texture_frame_of_an_entry_is_tried_until_one_matches() -> None:
    """A clip's frames need not show one pattern: here the entry's first frame is a dot
    grid, its second the chessboard the query shows. Trying only an entry's first listed
    frame missed a subtitled chessboard in the sweep (52 inliers there, 109 on the next)."""
    first = feat.extract(pan_zoom(_pattern("dots"), 2, SIZE, 3, zoom=((0.7, 0.8), (0.7, 0.8)))[0],
                         feat.REGISTER_SIDE, feat.REGISTER_FEATURES)
    board = pan_zoom(_board(), 100, SIZE, 5, zoom=((0.7, 0.8), (0.55, 0.65)))
    second = feat.extract(board[0], feat.REGISTER_SIDE, feat.REGISTER_FEATURES)
    index = feat.FeatureIndex([(1, first), (1, second)])
    assert index.textures == {0, 1}
    query = feat.extract(_titled(board[50]), feat.QUERY_SIDE, feat.QUERY_FEATURES)
    assert feat._texture_match(1, first, query) is None  # the first frame alone: no match
    (found,) = index.query(query)
    assert found.ref == 1 and found.texture and found.inliers >= feat.TEXTURE_MIN_INLIERS


HD = (1920, 1080)


def _hd_inset(path: Path, frames: list[np.ndarray], frac: float) -> Path:
    """One second of 1080p footage with ``frames`` softly inset at ``frac`` of its height (no
    straight window sides), top right: the sweep's borderless picture-in-picture."""
    bg = pan_zoom(synth_image(710, 2400, 1350), len(frames), HD, 9)
    h = int(HD[1] * frac)
    w = h * 16 // 9
    x, y = HD[0] - w - 150, 120
    alpha = np.zeros((h, w), np.float32)
    alpha[12:-12, 12:-12] = 1
    alpha = cv2.GaussianBlur(alpha, (0, 0), 6)[..., None]
    out = []
    for f, b in zip(frames, bg, strict=True):
        o = b.copy()
        inset = cv2.resize(f, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32)
        o[y:y + h, x:x + w] = (alpha * inset + (1 - alpha) * o[y:y + h, x:x + w]).astype(
            np.uint8)
        out.append(o)
    return encode_frames(path, out, FPS, PRORES)


def test_a_small_chessboard_inset_is_found_in_a_closer_look(
        setup: tuple[m.Register, int, Path, Path], tmp_path: Path) -> None:
    """A chessboard inset at 35 % of a 1080p frame's height: in the 512 px sample its repeats
    give 40-60 distinct inliers, under the floor of 60, and in the sharper crop of that
    region 130-170. A brick bond in the same place, claimed as the board, is refused there."""
    reg, board_id, _prog, _db = setup
    board = pan_zoom(_board(), 100, SIZE, 5, zoom=((0.7, 0.8), (0.55, 0.65)))
    prog = _hd_inset(tmp_path / "inset.mov", board[20:45], 0.35)
    index = reg.features()
    (fr,) = list(video_fp.frames_between(str(prog), 0.0, 0.0, extract.FRAME_SIDE))
    near: list[feat.LocalMatch] = []
    assert index.query(feat.extract(fr.rgb, feat.QUERY_SIDE, feat.QUERY_FEATURES), near) == []
    assert {lm.ref for lm in near} == {board_id} and all(lm.texture for lm in near)
    assert all(feat.TEXTURE_NEAR_INLIERS <= lm.inliers < feat.TEXTURE_MIN_INLIERS
               for lm in near)
    check = m._local_check(index, fr, str(prog))
    assert check.zoomed and [(lm.ref, lm.texture) for lm in check.found] == [(board_id, True)]
    assert check.found[0].inliers >= 2 * feat.TEXTURE_MIN_INLIERS
    (run,) = _runs(reg, prog)
    assert run.entry.id == board_id and run.detail["texture"] is True
    assert str(run.detail["closer_look"]).startswith("1920x1080 decode")

    bricks = _hd_inset(tmp_path / "bricks.mov", pan_zoom(
        _pattern("bricks"), 25, SIZE, 3, zoom=((0.7, 0.8), (0.55, 0.65))), 0.35)
    (bf,) = list(video_fp.frames_between(str(bricks), 0.0, 0.0, extract.FRAME_SIDE))
    assert m._zoomed(index, bf, str(bricks), near[0].region, [board_id]).found == []
    assert _runs(reg, bricks) == []
