"""A registered clip keeps local features over its whole length: the frames kept for them are
spread out when the clip is longer than ``VIDEO_FEATURE_MAX`` of them at the usual spacing.
Before, the first ``VIDEO_FEATURE_MAX`` alone were kept, and a reframe or an inset of a long
previs clip's later part had nothing to be found by. Real bytes: an H.264 clip made with
ffmpeg at test time and fingerprinted as ``register add`` does."""

from __future__ import annotations

from pathlib import Path

import pytest

from detectors.fingerprint import extract
from fixtures.gen_register import synth_image
from tests.helpers import encode_frames, pan_zoom

pytestmark = pytest.mark.tool("ffmpeg")

H264 = ["-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-pix_fmt", "yuv420p"]


def test_a_long_clip_keeps_feature_frames_to_its_end(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    seconds, cap = 12, 4  # the cap made small so that a short clip counts as long
    monkeypatch.setattr(extract, "VIDEO_FEATURE_MAX", cap)
    clip = encode_frames(tmp_path / "previs.mp4",
                         pan_zoom(synth_image(801, 960, 540), seconds * 25, (480, 270), 3),
                         25, H264)
    ts = [t for t, _f in extract.fingerprint_video(str(clip)).features]
    every = seconds / cap  # 3 s, not VIDEO_FEATURE_EVERY
    assert len(ts) <= cap + 1
    assert all(b - a >= every - 1e-6 for a, b in zip(ts, ts[1:], strict=False))
    assert ts[0] == 0.0 and ts[-1] >= seconds - every - 0.5  # the last stretch is covered


def test_a_short_clip_keeps_feature_frames_at_the_set_spacing(tmp_path: Path) -> None:
    seconds = 2 * extract.VIDEO_FEATURE_EVERY * 2  # well under the cap
    clip = encode_frames(tmp_path / "temp.mp4",
                         pan_zoom(synth_image(802, 960, 540), int(seconds * 25), (480, 270), 4),
                         25, H264)
    ts = [t for t, _f in extract.fingerprint_video(str(clip)).features]
    assert ts == pytest.approx([k * extract.VIDEO_FEATURE_EVERY for k in range(4)], abs=0.05)
