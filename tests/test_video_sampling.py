"""The sampler of the register reads only the packets it needs from intra-only video (and
jumps by the container's index): it must still hand over exactly the frames a full decode
would, in every container, or a temp shot could fall between what was looked at."""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from detectors.fingerprint import extract, pdq
from detectors.fingerprint import video as video_fp


def _numbered_frames(n: int, w: int = 256, h: int = 144) -> bytes:
    """Frames whose content says their number (a bar whose position moves each frame)."""
    out = bytearray()
    for k in range(n):
        f = np.full((h, w, 3), 40, np.uint8)
        f[:, (k * 3) % w: (k * 3) % w + 3] = 250
        f[: h // 2, :, 1] = (k * 7) % 256
        out += f.tobytes()
    return bytes(out)


@pytest.mark.tool("ffmpeg")
@pytest.mark.parametrize(("ext", "codec"), [
    ("mov", ["-c:v", "prores", "-profile:v", "0", "-pix_fmt", "yuv422p10le"]),
    ("mov", ["-c:v", "mjpeg"]),
    ("mxf", ["-c:v", "jpeg2000", "-pix_fmt", "yuv422p"]),
    ("mxf", ["-c:v", "dnxhd", "-profile:v", "dnxhr_lb", "-pix_fmt", "yuv422p"]),
    ("avi", ["-c:v", "mjpeg"]),
    ("mkv", ["-c:v", "mjpeg"]),
    ("mkv", ["-c:v", "ffv1"]),
])
def test_intra_sampling_equals_a_full_decode(tmp_path: Path, ext: str, codec: list[str]
                                             ) -> None:
    n = 250  # 10 s at 25 fps
    path = tmp_path / f"clip.{ext}"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s",
                    "256x144", "-r", "25", "-i", "-", *codec, str(path)],
                   input=_numbered_frames(n), check=True)
    assert video_fp.info(str(path)).intra_only or codec[1] == "ffv1"
    for rate in (1.0, 3.0):
        fast = list(video_fp.sample(str(path), rate=rate, cuts=False))
        full = list(video_fp.sample(str(path), rate=rate, cuts=False, fast=False))
        assert [f.index for f in fast] == [f.index for f in full]
        assert len(fast) >= int(n / 25 * rate)
        for a, b in zip(fast, full, strict=True):
            assert np.array_equal(a.rgb, b.rgb), (ext, codec, a.index)


class _Packet:
    def __init__(self, k: int) -> None:
        self.pts, self.size, self.k = k, 1, k

    def decode(self) -> list[int]:
        return [self.k]


class _LyingIndex:
    """A container whose index lands ``lie`` frames after where a seek asks (a broken
    index): the sampler must notice and read in order instead of skipping pictures."""

    def __init__(self, n: int, lie: int) -> None:
        self.n, self.lie, self.pos = n, lie, 0
        self.seeks = 0
        self.format = type("F", (), {"name": "mov,mp4"})()

    def reopen(self) -> None:
        self.pos = 0

    def seek(self, pts: int, **_: object) -> None:
        self.seeks += 1
        self.pos = min(self.n, pts + self.lie)

    def demux(self, _s: object) -> object:
        while self.pos < self.n:
            self.pos += 1
            yield _Packet(self.pos - 1)


def _fake_reader(c: _LyingIndex) -> video_fp._Reader:
    r = video_fp._Reader.__new__(video_fp._Reader)
    r.c = c  # type: ignore[assignment]
    r.s = type("S", (), {"codec_context": type("C", (), {"flush_buffers": lambda self: None})()})()
    r.fps, r.tb, r.t0 = 25.0, 1 / 25, 0.0
    r.reopen = c.reopen  # type: ignore[method-assign]
    return r


@pytest.mark.parametrize("lie", [0, 3, 40])
def test_a_seek_that_overshoots_falls_back_to_reading_in_order(lie: int) -> None:
    c = _LyingIndex(250, lie)
    want = [0.0]
    got = []
    for k in video_fp._intra_frames(_fake_reader(c), lambda: want[0]):
        got.append(k)
        want[0] = k / 25 + 1.0
    assert got == list(range(0, 250, 25))  # every wanted frame, none later than asked
    assert c.seeks >= 1


@pytest.mark.tool("ffmpeg")
def test_jpeg2000_is_decoded_at_the_coarsest_level_still_large_enough(tmp_path: Path) -> None:
    """A JPEG 2000 master is decoded at half size when 512 px are hashed (1080p: 177 ms a
    frame in full, 65 ms at half size): the sampled frames are the same size as from a full
    decode and hash (PDQ, what the register matches) within a few bits of them."""
    path = tmp_path / "j2k.mxf"
    rng = np.random.default_rng(3)
    base = rng.integers(0, 255, (72, 128, 3)).astype(np.uint8)
    frames = bytearray()
    for k in range(13):  # 0.52 s at 25 fps (MXF's rates) of 1024x576 detail, moving
        f = np.kron(np.roll(base, k, axis=1), np.ones((8, 8, 1), np.uint8))
        frames += np.ascontiguousarray(f).tobytes()
    subprocess.run(["ffmpeg", "-v", "error", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s",
                    "1024x576", "-r", "25", "-i", "-", "-c:v", "jpeg2000", "-pix_fmt",
                    "yuv422p", str(path)], input=bytes(frames), check=True)
    r = video_fp._Reader(str(path))
    try:
        r.reduce(512)
        assert r.lowres == 1
        first = next(r.c.decode(r.s))
        assert (first.width, first.height) == (512, 288)
    finally:
        r.close()
    fast = list(video_fp.sample(str(path), rate=2.0, cuts=False))
    full = list(video_fp.sample(str(path), rate=2.0, cuts=False, fast=False))
    assert [f.index for f in fast] == [f.index for f in full] and len(fast) == 2
    for a, b in zip(fast, full, strict=True):
        assert a.rgb.shape == b.rgb.shape == (288, 512, 3)
        ha, hb = extract.query_hash(a.rgb), extract.query_hash(b.rgb)
        assert ha.quality >= 50 and pdq.hamming(ha.hash, hb.hash) <= 16
    # refinement windows (256 px) go one level further down
    window = list(video_fp.frames_between(str(path), 0.0, 0.08, max_side=256))
    assert [f.index for f in window] == [0, 1, 2] and window[0].rgb.shape == (144, 256, 3)


@pytest.mark.tool("ffmpeg")
def test_registration_samples_the_clips_last_frame(tmp_path: Path) -> None:
    """A registered clip keeps a hash of its final frame: an insert cut from the clip's tail
    ends on frames up to a sampling step past the last regular sample otherwise."""
    n = 99  # 3.96 s at 25 fps: samples at 2 fps land on frames 0, 13, ... 88, not on 98
    path = tmp_path / "clip.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s",
                    "256x144", "-r", "25", "-i", "-", "-c:v", "libx264", "-preset",
                    "veryfast", "-pix_fmt", "yuv420p", str(path)],
                   input=_numbered_frames(n), check=True)
    plain = list(video_fp.sample(str(path), rate=2.0, cuts=False, fast=False))
    tail = list(video_fp.sample(str(path), rate=2.0, cuts=False, fast=False, last=True))
    assert plain[-1].index < n - 1
    assert [f.index for f in tail] == [f.index for f in plain] + [n - 1]
    assert tail[-1].t == pytest.approx((n - 1) / 25)
    times = {t for t, *_rest in extract.fingerprint_video(str(path)).pdq}
    assert max(times) == pytest.approx((n - 1) / 25, abs=1e-3)


@pytest.mark.tool("ffmpeg")
def test_intra_samples_flag_the_first_sample_of_each_shot(tmp_path: Path) -> None:
    """Intra-only sampling decodes nothing between samples, so it cannot see cuts; a sample
    whose colours differ from the one before as a cut's do is flagged instead (the matcher
    checks those frames for partial use at once), and a fast pan within a shot is not."""
    from fixtures.gen_register import synth_image  # noqa: PLC0415
    from tests.helpers import pan_zoom  # noqa: PLC0415

    shots = [pan_zoom(synth_image(seed, 960, 540), n, (320, 180), seed, pan=(0.0, 1.0))
             for seed, n in ((731, 55), (732, 60), (733, 35))]  # cuts at 2.2 s and 4.6 s
    raw = b"".join(np.ascontiguousarray(f).tobytes() for shot in shots for f in shot)
    path = tmp_path / "shots.mov"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s",
                    "320x180", "-r", "25", "-i", "-", "-c:v", "prores", "-profile:v", "0",
                    "-pix_fmt", "yuv422p10le", str(path)], input=raw, check=True)
    frames = list(video_fp.sample(str(path), rate=1.0))
    assert [f.t for f in frames] == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    assert [f.t for f in frames if f.cut] == [3.0, 5.0]
    # the pans move the picture between samples as much as a cut would change it: the
    # thumbnail test of long-GOP streams would flag samples within a shot
    import cv2  # noqa: PLC0415

    thumbs = [cv2.resize(cv2.cvtColor(f.rgb, cv2.COLOR_RGB2GRAY), (32, 32),
                         interpolation=cv2.INTER_AREA).astype(np.int16) for f in frames]
    within = [float(np.abs(a - b).mean()) for k, (a, b) in enumerate(zip(thumbs, thumbs[1:],
                                                                      strict=False))
              if k + 1 not in (3, 5)]
    assert max(within) > video_fp.CUT_THRESHOLD, within


@pytest.mark.tool("ffmpeg")
def test_prefetched_frames_are_the_samplers_in_order(tmp_path: Path) -> None:
    """Decoding ahead on a thread hands over exactly the frames, times and pixels the
    sampler gives, cut flags included (a long-GOP clip with cuts, as a scan samples it)."""
    path = tmp_path / "clip.mp4"
    raw = _numbered_frames(150)
    cut = 90 * 256 * 144 * 3  # at 3.6 s: flagged at the cut check after it, 3.84 s
    raw = raw[:cut] + bytes(255 - b for b in raw[cut:])
    subprocess.run(["ffmpeg", "-v", "error", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s",
                    "256x144", "-r", "25", "-i", "-", "-c:v", "libx264", "-preset",
                    "veryfast", "-pix_fmt", "yuv420p", str(path)], input=raw, check=True)
    plain = list(video_fp.sample(str(path), rate=2.0))
    ahead = list(video_fp.prefetched(video_fp.sample(str(path), rate=2.0), ahead=2))
    assert [(f.t, f.index, f.cut) for f in ahead] == [(f.t, f.index, f.cut) for f in plain]
    assert any(f.cut for f in plain) and len(plain) >= 12
    assert all(np.array_equal(a.rgb, b.rgb) for a, b in zip(ahead, plain, strict=True))


def test_prefetched_raises_the_decoders_error_after_the_frames_before_it() -> None:
    """An error met while decoding ahead reaches the caller as itself, after every frame
    decoded before it: a scan reports the file as failed, never as clean."""
    def frames() -> Iterator[video_fp.Frame]:
        for k in range(5):
            yield video_fp.Frame(float(k), np.zeros((2, 2, 3), np.uint8), False, k)
        raise video_fp.VideoError("decode failed after 00:00:04")

    got: list[int] = []
    with pytest.raises(video_fp.VideoError, match="decode failed after 00:00:04"):
        for f in video_fp.prefetched(frames(), ahead=2):
            got.append(f.index)
    assert got == [0, 1, 2, 3, 4]


def test_a_caller_that_stops_early_stops_and_closes_the_decoder() -> None:
    """A scan that stops reading (an error of its own, a timeout) leaves no thread decoding
    behind it, and the sampler is closed, which closes the file."""
    closed = threading.Event()
    made: list[int] = []

    def frames() -> Iterator[video_fp.Frame]:
        try:
            for k in range(10_000):
                made.append(k)
                yield video_fp.Frame(float(k), np.zeros((2, 2, 3), np.uint8), False, k)
        finally:
            closed.set()

    it = video_fp.prefetched(frames(), ahead=3)
    assert [next(it).index for _ in range(4)] == [0, 1, 2, 3]
    it.close()
    assert closed.is_set()
    assert not any(t.name == "video-decode" for t in threading.enumerate())
    assert len(made) <= 4 + 3 + 2  # what was asked for, the queue, one in hand


def _h264(path: Path, n: int, keyframes: list[str]) -> Path:
    """Numbered frames as H.264 with B-frames, keyframes only where given (seconds)."""
    subprocess.run(["ffmpeg", "-v", "error", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s",
                    "256x144", "-r", "25", "-i", "-", "-c:v", "libx264", "-preset",
                    "veryfast", "-pix_fmt", "yuv420p", "-g", "1000", "-sc_threshold", "0",
                    "-force_key_frames", ",".join(keyframes), str(path)],
                   input=_numbered_frames(n), check=True)
    return path


@pytest.mark.tool("ffmpeg")
@pytest.mark.parametrize(("name", "codec"), [
    ("gop25.mp4", ["-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-g",
                   "1000", "-sc_threshold", "0", "-force_key_frames",
                   ",".join(str(k) for k in range(10))]),
    # XDCAM-like: MPEG-2 with a 12-frame GOP in MXF, whose index FFmpeg does not list
    ("xdcam.mxf", ["-c:v", "mpeg2video", "-g", "12", "-bf", "2", "-q:v", "3"]),
])
def test_long_gop_with_a_keyframe_every_second_is_sampled_from_its_keyframes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, codec: list[str]) -> None:
    """Keyframes a second apart or closer (broadcast and mezzanine long-GOP): each is a
    whole picture, decoded alone, at least one a second; they are exactly the frames a full
    decode gives at those points, and nothing else of the stream is decoded."""
    path = tmp_path / name
    subprocess.run(["ffmpeg", "-v", "error", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s",
                    "256x144", "-r", "25", "-i", "-", *codec, str(path)],
                   input=_numbered_frames(250), check=True)
    whole: list[bool] = []
    pictures = video_fp._keyframe_pictures

    def spy(r: video_fp._Reader, step: float) -> Iterator[object]:
        yield from pictures(r, step)
        whole.append(True)  # reached only when no check stepped back

    monkeypatch.setattr(video_fp, "_keyframe_pictures", spy)
    got = list(video_fp.sample(str(path), rate=1.0, cuts=False))
    assert whole == [True]
    index = [f.index for f in got]
    assert index[0] == 0 and index[-1] >= 225 and max(np.diff(index)) <= 25
    full = {f.index: f for f in video_fp.sample(str(path), rate=25.0, cuts=False,
                                                   fast=False)}
    assert all(np.array_equal(f.rgb, full[f.index].rgb) for f in got)
    if name.endswith(".mp4"):
        assert index == [25 * k for k in range(10)]


@pytest.mark.tool("ffmpeg")
def test_keyframes_further_apart_than_the_index_said_go_on_the_usual_way(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where the keyframes stop coming every second (here 4 s without one, which the index
    is made to hide), sampling goes on decoding the stream as usual from its last sample:
    no second is skipped, none sampled twice."""
    path = _h264(tmp_path / "gap.mp4", 250, ["0", "1", "2", "3", "4", "8", "9"])
    r = video_fp._Reader(str(path))
    try:
        assert not video_fp._keyframes_cover(r, 1.0)  # the index shows the gap
    finally:
        r.close()
    monkeypatch.setattr(video_fp, "_keyframes_cover", lambda r, step: True)
    got = list(video_fp.sample(str(path), rate=1.0, cuts=False))
    times = [f.t for f in got]
    assert times[:5] == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert all(0 < b - a <= 1.0 + 1e-9 for a, b in zip(times, times[1:], strict=False))
    assert times[-1] >= 9.0
    full = {f.index: f for f in video_fp.sample(str(path), rate=25.0, cuts=False,
                                                   fast=False)}
    assert all(np.array_equal(f.rgb, full[f.index].rgb) for f in got)


def _which(rgb: np.ndarray, raw: np.ndarray) -> int:
    """The number of the source frame a decoded picture is closest to."""
    return int(np.abs(raw.astype(np.int16) - rgb.astype(np.int16)).mean(axis=(1, 2, 3))
               .argmin())


@pytest.mark.tool("ffmpeg")
def test_frames_stamped_with_decode_times_are_timed_by_presentation(tmp_path: Path) -> None:
    """H.264 with B-frames written into MXF by FFmpeg carries decode times as presentation
    times (and keeps them when copied into MP4): each frame must still get its own number,
    every frame once, in a full decode, a sampled one and a boundary window."""
    n = 100
    data = _numbered_frames(n)
    raw = np.frombuffer(data, np.uint8).reshape(n, 144, 256, 3)
    mxf = tmp_path / "avc.mxf"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s",
                    "256x144", "-r", "25", "-i", "-", "-c:v", "libx264", "-preset",
                    "veryfast", "-bf", "2", "-g", "25", "-pix_fmt", "yuv420p", str(mxf)],
                   input=data, check=True)
    mp4 = tmp_path / "avc.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(mxf), "-c", "copy", str(mp4)],
                   check=True)
    for path in (mxf, mp4):
        r = video_fp._Reader(str(path))
        try:
            assert r.stamped_in_decode_order(), path
        finally:
            r.close()
        full = list(video_fp.sample(str(path), rate=25.0, cuts=False, fast=False))
        assert [f.index for f in full] == list(range(n)), path
        assert all(_which(f.rgb, raw) == f.index for f in full), path
        fast = list(video_fp.sample(str(path), rate=1.0, cuts=False))
        assert [f.index for f in fast] == [0, 25, 50, 75], path
        assert all(_which(f.rgb, raw) == f.index for f in fast), path
        window = list(video_fp.frames_between(str(path), 2.2, 2.6))
        assert [f.index for f in window] == list(range(55, 66)), path
        assert all(_which(f.rgb, raw) == f.index for f in window), path
    # a container that gives presentation times apart is read as it is
    plain = _h264(tmp_path / "plain.mp4", 50, ["0"])
    r = video_fp._Reader(str(plain))
    try:
        assert not r.stamped_in_decode_order()
    finally:
        r.close()
