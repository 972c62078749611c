"""Frame-accurate in and out points of register matches in video (issue 18), on real bytes
made with ffmpeg at test time: refinement walks past one sampling step, tolerates a shot whose
PDQ swings between neighbouring frames (fine periodic texture), tests local-feature runs at the
size the scan matched them, and near misses get a second look at the frames around them."""

from __future__ import annotations

import random
from collections.abc import Iterable
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw

from bench.bench_register import _ken_burns
from detectors.fingerprint import extract
from detectors.fingerprint import matcher as m
from detectors.fingerprint import video as video_fp
from detectors.fingerprint.store import RegisterStore
from detectors.fingerprint.video import Frame
from fixtures.gen_register import synth_clip_frames, synth_image
from tests.conftest import FIXTURES
from tests.helpers import encode_frames, pan_zoom

pytestmark = pytest.mark.tool("ffmpeg")

NTSC_FILM = 24000 / 1001


def _zoom(still: np.ndarray, n: int, size: tuple[int, int], seed: int) -> list[np.ndarray]:
    return pan_zoom(still, n, size, seed)  # the bench's zoom ranges: the picture steps


def _encode(path: Path, frames: Iterable[np.ndarray], fps: float, codec: list[str]) -> Path:
    return encode_frames(path, frames, fps, codec)


H264 = ["-c:v", "libx264", "-preset", "veryfast", "-crf", "18", "-pix_fmt", "yuv420p"]
PRORES = ["-c:v", "prores", "-profile:v", "0", "-pix_fmt", "yuv422p10le",  # prores_aw: fast
          "-timecode", "01:00:00:00"]


def _register(db: Path, clip: Path) -> int:
    with RegisterStore(str(db), readonly=False, create=True) as store:
        return store.add(sha256=clip.name, media_type="video/mp4", path=str(clip), size=0,
                         tool="test", note="", added="test", verdict="clean", evidence=[],
                         fp=extract.fingerprint_video(str(clip)))


def _run(reg: m.Register, eid: int, method: str, t: float) -> m.RangeMatch:
    """A run resting on one sample at ``t``, as match_frames leaves it before refinement."""
    return m.RangeMatch(reg.entries[eid], method, t, t, ref_start=None, ref_end=None,
                        samples=1)


def test_refinement_walks_past_one_sampling_step(tmp_path: Path) -> None:
    """The neighbouring sample can show the entry without having matched it (a local-feature
    check runs every 2 s): the in and out points lie more than one step from the run's ends.
    Before, refinement decoded one step either side and stopped at its edge (25+ frames off)."""
    size = (320, 180)
    clip = _zoom(synth_image(401, 960, 540), 100, size, 1)
    db = tmp_path / "reg.db"
    eid = _register(db, _encode(tmp_path / "temp.mp4", clip, 25, H264))
    before = _zoom(synth_image(402, 960, 540), 40, size, 2)
    after = _zoom(synth_image(403, 960, 540), 40, size, 3)
    prog = _encode(tmp_path / "prog.mov", before + clip[:90] + after, 25, PRORES)  # 40-129
    reg = m.Register(str(db))
    try:
        run = _run(reg, eid, "pdq", 3.4)  # frame 85: 1.8 s after the in point, 1.8 before out
        reg.refine(run, str(prog), 1.0)
        assert (run.start_frame, run.end_frame) == (40, 129)
    finally:
        reg.close()


def _titled(rgb: np.ndarray) -> np.ndarray:
    im = Image.fromarray(rgb)
    d = ImageDraw.Draw(im)
    w, h = im.size
    d.rectangle([w * 0.1, h * 0.74, w * 0.9, h * 0.9], fill=(10, 10, 10))
    d.text((w * 0.15, h * 0.78), "EPISODE 3  -  THE CROSSING", fill=(255, 255, 255),
           font_size=int(h * 0.06))
    return np.asarray(im)


def test_local_feature_run_is_refined_at_the_size_it_was_found(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A titled-over insert is found by local features on 512 px samples. Refinement tested
    1024 px frames against the entry's features alone: ~3 times the keypoints, no other entry
    for the ratio test, and on the benchmark's brick wall RANSAC's inlier share fell under
    0.25 (156 of 744) on the very frame the scan had matched (171 of 466 at 512 px), so the
    range shrank to the sample (+25 / -49 frames). Synthetic pictures pass at either size,
    so the size refinement decodes at is checked as well as the range."""
    sides: list[int] = []
    between = video_fp.frames_between

    def spy(path: str, start: float, end: float, max_side: int = 256) -> Iterable[Frame]:
        sides.append(max_side)
        return between(path, start, end, max_side)

    monkeypatch.setattr(video_fp, "frames_between", spy)
    size = (768, 432)  # wider than the sampled frames (512), so the two sizes differ
    clip = _zoom(synth_image(411, 1152, 648), 40, size, 4)
    db = tmp_path / "reg.db"
    eid = _register(db, _encode(tmp_path / "temp.mp4", clip, 25, H264))
    before = _zoom(synth_image(412, 1152, 648), 10, size, 5)
    after = _zoom(synth_image(413, 1152, 648), 10, size, 6)
    titled = [_titled(f) for f in clip[:35]]
    prog = _encode(tmp_path / "prog.mov", before + titled + after, 25, PRORES)  # 10-44
    reg = m.Register(str(db))
    try:
        run = _run(reg, eid, "local", 1.0)  # frame 25, the one sample local features matched
        reg.refine(run, str(prog), 1.0)
        assert abs(run.start_frame - 10) <= 1 and abs(run.end_frame - 44) <= 1, (
            run.start_frame, run.end_frame)
        assert set(sides) == {extract.FRAME_SIDE}  # the sampled frames' size
    finally:
        reg.close()


def test_local_run_in_a_region_is_refined_on_the_regions_hash(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A picture-in-picture insert found by local features: a small inset's ORB inliers swing
    around the floor from frame to frame, and the walk stopped up to 64 frames short of the
    in point (``bench.register_sweep``). The region the features placed the picture in is
    hashed first, so the range is exact even where ORB finds nothing at all (here: on no
    frame, the check is stubbed to fail)."""
    size = (768, 432)
    clip = _zoom(synth_image(421, 1152, 648), 60, size, 7)
    db = tmp_path / "reg.db"
    eid = _register(db, _encode(tmp_path / "temp.mp4", clip, 25, H264))
    bg = _zoom(synth_image(422, 1152, 648), 80, size, 8)
    iw, ih = int(size[0] * 0.35), int(size[1] * 0.35)
    x0, y0 = 420, 60
    inset = []
    for f, b in zip(clip[:50], bg[10:60], strict=True):
        o = b.copy()
        o[y0:y0 + ih, x0:x0 + iw] = cv2.resize(f, (iw, ih), interpolation=cv2.INTER_AREA)
        inset.append(o)
    prog = _encode(tmp_path / "prog.mov", bg[:10] + inset + bg[60:80], 25, PRORES)  # 10-59
    monkeypatch.setattr(m.feat.FeatureIndex, "query", lambda self, feats: [])
    reg = m.Register(str(db))
    try:
        region = {"x": x0 / size[0], "y": y0 / size[1], "width": iw / size[0],
                  "height": ih / size[1]}
        run = _run(reg, eid, "local", 1.4)  # frame 35
        run.detail["region"] = region
        reg.refine(run, str(prog), 1.0)
        assert (run.start_frame, run.end_frame) == (10, 59)
        bare = _run(reg, eid, "local", 1.4)  # no region: nothing but ORB to go by
        reg.refine(bare, str(prog), 1.0)
        assert (bare.start_frame, bare.end_frame) == (35, 35)
    finally:
        reg.close()


def test_a_reframed_pan_is_refined_to_its_cut_past_the_registered_features(
        tmp_path: Path) -> None:
    """A 20 % reframe of a fast pan: the registered clip keeps local features at a few frames
    only, and a reframe stops matching them some frames before the insert's cut (on the
    sweep's pictures, up to 21 frames). The frames up to the cut show the picture of the
    last frame that did match, so the out point is the cut (``matcher._Bridge``), and not a
    frame past it: the next shot is another picture."""
    wide = synth_image(451, 960 + 100 * 32, 540)  # the pan moves 32 px a frame
    clip = [np.ascontiguousarray(cv2.resize(wide[:, k * 32:k * 32 + 960], (768, 432),
                                            interpolation=cv2.INTER_AREA)) for k in range(100)]
    db = tmp_path / "reg.db"
    eid = _register(db, _encode(tmp_path / "temp.mp4", clip, 25, H264))

    def reframe(f: np.ndarray) -> np.ndarray:  # the middle-left 80 %, scaled back
        return cv2.resize(f[43:43 + 345, 51:51 + 614], (768, 432), interpolation=cv2.INTER_LINEAR)

    before = _zoom(synth_image(452, 1152, 648), 25, (768, 432), 10)
    after = _zoom(synth_image(453, 1152, 648), 25, (768, 432), 11)
    prog = _encode(tmp_path / "prog.mov", before + [reframe(f) for f in clip[40:75]] + after,
                   25, ["-c:v", "prores", "-profile:v", "0", "-pix_fmt", "yuv422p10le"])
    reg = m.Register(str(db))
    try:
        run = _run(reg, eid, "local", 35 / 25)  # programme frame 35: clip frame 50 (2.0 s)
        test = reg.frame_test(run)
        (last,) = video_fp.frames_between(str(prog), 59 / 25, 59 / 25, extract.FRAME_SIDE)
        assert not test(last.rgb)  # the register's own test: out of the features' reach
        reg.refine(run, str(prog), 1.0)
        assert (run.start_frame, run.end_frame) == (25, 59)
    finally:
        reg.close()


def test_a_dissolve_bounds_the_walk(tmp_path: Path) -> None:
    """A registered still dissolves in from one clip over 4 frames and out into another over
    24. The last frame the register verifies in a dissolve is a mix of the still and the
    next shot, and the next shot's frames match its half of it: before, the bridge carried
    both walks on to the neighbouring shots' own cuts (frames 26-140). Each edge now lies
    in its dissolve, give or take a frame."""
    size = (320, 240)
    still = np.asarray(Image.open(FIXTURES / "register" / "temp_concept.png")
                       .convert("RGB").resize(size)).astype(np.float64)
    a = synth_clip_frames(92, 2.02, 25, size)  # 50 frames, a cut at 25
    b = synth_clip_frames(93, 4.02, 25, size)  # 100 frames, a cut at 50
    frames = [f.astype(np.float64) for f in a]
    frames += [(1 - k / 5) * a[-1] + k / 5 * still for k in range(1, 5)]  # 50-53
    frames += [still] * 50  # 54-103
    frames += [(1 - k / 25) * still + k / 25 * b[k - 1] for k in range(1, 25)]  # 104-127
    frames += [f.astype(np.float64) for f in b[24:]]
    prog = _encode(tmp_path / "prog.mov", (np.clip(f, 0, 255).astype(np.uint8)
                                           for f in frames), 25, PRORES)
    db = tmp_path / "reg.db"
    with RegisterStore(str(db), readonly=False, create=True) as store:
        eid = store.add(sha256="still", media_type="image/png", path="still.png", size=0,
                        tool="test", note="", added="test", verdict="clean", evidence=[],
                        fp=extract.fingerprint_image(still.astype(np.uint8)))
    reg = m.Register(str(db))
    try:
        runs, _stats = reg.match_frames(video_fp.sample(str(prog), rate=1.0,
                                                        max_side=extract.FRAME_SIDE),
                                        local_every=2.0, path=str(prog))
        (run,) = runs
        assert run.entry.id == eid
        reg.refine(run, str(prog), 1.0)
        assert 49 <= run.start_frame <= 54 and 103 <= run.end_frame <= 128, (
            run.start_frame, run.end_frame)
    finally:
        reg.close()


def _chessboard_insert(tmp_path: Path) -> tuple[Path, Path, int]:
    """A mirrored chessboard zoom cut into a 23.976 programme off the whole second (frames
    50-120): its PDQ moves 40-80 bits between neighbouring frames."""
    size = (640, 360)
    yy, xx = np.indices((400, 400))
    board = cv2.cvtColor(((yy // 25 + xx // 25) % 2 * 255).astype(np.uint8),
                         cv2.COLOR_GRAY2RGB)
    clip = _zoom(board, 84, size, 7)
    db = tmp_path / "reg.db"
    eid = _register(db, _encode(tmp_path / "temp.mp4", clip, NTSC_FILM, H264))
    before = _zoom(synth_image(421, 960, 540), 50, size, 1)
    after = _zoom(synth_image(422, 960, 540), 48, size, 2)
    flipped = [np.ascontiguousarray(f[:, ::-1]) for f in clip[:71]]
    return db, _encode(tmp_path / "prog.mov", before + flipped + after, NTSC_FILM, PRORES), eid


def test_texture_shot_is_found_by_a_second_look_and_refined_across_its_swings(
        tmp_path: Path) -> None:
    """Registered clips keep 2 hashes a second; 1 fps samples of the conformed programme land
    two frames off them (44-88 bits) and the shot was missed. A near miss (<= 72) now gets
    the frames around it hashed, one of which is the registered frame. Refinement then walks
    over 3 frames in a row that fail the entry test (76-82 bits) inside the shot, where it
    stopped after two before (in point 24 frames late)."""
    db, prog, eid = _chessboard_insert(tmp_path)
    reg = m.Register(str(db))
    try:
        frames = video_fp.sample(str(prog), rate=extract.SCAN_RATE, max_side=extract.FRAME_SIDE)
        runs, stats = reg.match_frames(frames, local_every=2.0, path=str(prog))
        assert stats["second_look"] >= 1
        (run,) = runs
        assert run.entry.id == eid and run.method == "pdq"
        reg.refine(run, str(prog), 1.0 / extract.SCAN_RATE)
        assert abs(run.start_frame - 50) <= 1 and abs(run.end_frame - 120) <= 1, (
            run.start_frame, run.end_frame)
    finally:
        reg.close()


class _FlagBridge:
    """A bridge whose answer is written in the frame (blue of its first pixel), given that
    the test has passed some frame before: the rule of ``_extent`` without the pictures."""

    def __init__(self) -> None:
        self.anchored = False

    def start(self, rgb: np.ndarray) -> None:
        pass

    def verified(self, rgb: np.ndarray, at: int = 0) -> None:
        self.anchored = True

    def same(self, rgb: np.ndarray, at: int = 0) -> bool:
        return self.anchored and bool(rgb[0, 0, 2] != rgb[0, 0, 0])


@pytest.mark.parametrize("bridged", [False, True])
def test_skipping_frames_while_they_match_gives_the_frame_by_frame_answer(
        bridged: bool) -> None:
    """``_extent`` tests only every REFINE_GAP + 1-th frame while they match: the same extent
    as testing every frame under the rule (gap of failing frames, hard cuts; with a bridge,
    a failing frame also matches if it shows the last passing frame's picture and no cut
    lies between them)."""

    def reference(seq: list[tuple[bool, bool, bool]]) -> int | None:
        last, gap, crossed, anchored, clean = None, 0, False, False, True
        for i, (ok, cut, same) in enumerate(seq):
            clean = clean and not cut
            if ok:
                anchored, clean = True, True
            if ok or (bridged and anchored and clean and same):
                last, gap, crossed = i, 0, False
                continue
            gap += 1
            crossed = crossed or cut
            if gap > m.REFINE_GAP or (crossed and gap > 1):
                break
        return last

    rng = random.Random(18)
    for _ in range(3000):
        p, q = rng.random(), rng.random()
        seq = [(rng.random() < p, i > 0 and rng.random() < 0.1, rng.random() < q)
               for i in range(rng.randint(1, 40))]
        frames, level = [], 0
        for i, (ok, cut, same) in enumerate(seq):
            level = (200 - level) if cut else level  # a hard cut: the picture changes
            rgb = np.full((8, 8, 3), level, np.uint8)
            rgb[0, 0, 1] = level + 1 if ok else level  # whether it shows the entry
            rgb[0, 0, 2] = level + 1 if same else level  # whether the bridge would pass it
            frames.append(Frame(i / 25, rgb, False, i))
        last, first = m._extent(iter(frames), lambda rgb: bool(rgb[0, 0, 1] != rgb[0, 0, 0]),
                                _FlagBridge() if bridged else None)  # type: ignore[arg-type]
        assert (None if last is None else last.index) == reference(seq), seq
        assert first is frames[0]


def _pan(seed: int, steps: int, dx: int, width: int = 960) -> list[np.ndarray]:
    """Frames of a steady pan across a wide picture, ``dx`` pixels a frame, at the size the
    scan samples (512 px): neighbouring frames never differ by a hard cut."""
    wide = synth_image(seed, width + steps * dx, 540)
    return [np.ascontiguousarray(cv2.resize(wide[:, k * dx:k * dx + width], (512, 288),
                                            interpolation=cv2.INTER_AREA))
            for k in range(steps)]


def test_the_bridge_starts_only_from_a_frame_the_register_verified() -> None:
    """The register's test passes the first frame only; the pan then moves 24 px a frame.
    The bridge carries the stretch while a frame still shares enough of the first frame's
    picture, and no further: it never bridges from a frame it let through itself, which
    would walk a pan (or a dissolve) a frame at a time into anything."""
    rgbs = _pan(431, 50, 24)
    frames = [Frame(k / 25, rgb, False, k) for k, rgb in enumerate(rgbs)]
    assert max(float(np.abs(m._thumb(a) - m._thumb(b)).mean())
               for a, b in zip(rgbs, rgbs[1:], strict=False)) <= m.REFINE_CUT  # no cut

    def first(rgb: np.ndarray) -> bool:
        return rgb is rgbs[0]

    assert m._extent(iter(frames), first)[0] is frames[0]  # the test alone: the sample
    last, _start = m._extent(iter(frames), first, m._Bridge(None))
    assert last is not None and 10 <= last.index <= 35  # 40-75 % of the first frame's width
    bridge = m._Bridge(None)
    bridge.verified(rgbs[0])
    assert bridge.same(rgbs[last.index]) and not bridge.same(rgbs[-1])


def test_the_dissolve_guard_does_not_stop_a_slow_zoom() -> None:
    """The bridge refuses a frame as past a mix only when it also shares no local features
    with the run's best sample. Over a slow pan and zoom the anchor often lies near the line
    from the sample to the frame (the thumbnail test fires on 25 of these 52 frames, and
    alone it cut the walk short), but a frame a second or two on still shows the sample's
    picture: the walk goes to the shot's end, as it does with no reference at all."""
    rgbs = [np.ascontiguousarray(cv2.resize(f, (512, 288), interpolation=cv2.INTER_AREA))
            for f in _ken_burns(synth_image(512, 1280, 720), 6.0, 25, (1280, 720), 512)[:60]]
    thumbs = [m._thumb(r) for r in rgbs]
    assert sum(m._blend_of(thumbs[0], thumbs[7], t) for t in thumbs[8:]) >= 20
    frames = [Frame(k / 25, rgb, False, k) for k, rgb in enumerate(rgbs)]

    def first_eight(rgb: np.ndarray) -> bool:
        return any(rgb is r for r in rgbs[:8])

    last, _start = m._extent(iter(frames), first_eight, m._Bridge(None, lambda: rgbs[0]))
    assert last is frames[-1]


def test_the_bridge_compares_the_runs_region_only() -> None:
    """A picture-in-picture window (the run's region) closes while the background shot goes
    on, with no hard cut: the window's own frames bridge, the background after it does not,
    though the whole frames would."""
    bg = _pan(441, 40, 4)
    inset = _pan(442, 40, 6)
    x0, y0, w, h = 300, 40, 180, 101
    rgbs = []
    for k in range(40):
        f = bg[k].copy()
        if k < 20:
            f[y0:y0 + h, x0:x0 + w] = cv2.resize(inset[k], (w, h), interpolation=cv2.INTER_AREA)
        rgbs.append(f)
    frames = [Frame(k / 25, rgb, False, k) for k, rgb in enumerate(rgbs)]
    assert float(np.abs(m._thumb(rgbs[20]) - m._thumb(rgbs[19])).mean()) <= m.REFINE_CUT
    region = {"x": x0 / 512, "y": y0 / 288, "width": w / 512, "height": h / 288}

    def first(rgb: np.ndarray) -> bool:
        return rgb is rgbs[0]

    last, _start = m._extent(iter(frames), first, m._Bridge(region))
    assert last is frames[19]
    whole, _start = m._extent(iter(frames), first, m._Bridge(None))
    assert whole is not None and whole.index > 19  # the background alone carries it on
