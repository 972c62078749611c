"""The H.264 SPS reader (``detectors/watermark/h264.py``) against real x264 encodes: the size a
decoder produces, whatever the profile, chroma format, cropping or field coding; and the box
walk trusts an MP4's sample entry only when every SPS agrees with it."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from detectors.watermark import h264, headers

pytestmark = pytest.mark.tool("ffmpeg")


def _encode(path: Path, w: int, h: int, *args: str) -> Path:
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
                    f"testsrc2=size={w}x{h}:rate=25:duration=0.2", "-c:v", "libx264",
                    "-preset", "ultrafast", *args, str(path)], check=True)
    return path


def _tracks(path: Path) -> list[tuple[int, int, int, bool]] | None:
    fd = os.open(path, os.O_RDONLY)
    try:
        return headers._Walk(fd, os.fstat(fd).st_size).picture_tracks()
    finally:
        os.close(fd)


@pytest.mark.parametrize(("w", "h", "args"), [
    (1920, 1080, ("-profile:v", "baseline", "-pix_fmt", "yuv420p")),  # cropped to 1080
    (2750, 1834, ("-profile:v", "main", "-pix_fmt", "yuv420p")),  # odd crop both ways
    (1024, 576, ("-profile:v", "high", "-pix_fmt", "yuv420p")),
    (720, 1280, ("-pix_fmt", "yuv422p")),  # High 4:2:2
    (512, 512, ("-pix_fmt", "yuv444p")),  # High 4:4:4: chroma_format_idc 3
    (720, 480, ("-pix_fmt", "yuv420p", "-flags", "+ildct+ilme")),  # field coded (tt)
    (640, 360, ("-pix_fmt", "gray",)),  # monochrome
])
def test_sps_gives_the_decoded_size(tmp_path: Path, w: int, h: int, args: tuple[str, ...]) -> None:
    path = _encode(tmp_path / "clip.mp4", w, h, *args)
    assert _tracks(path) == [(w, h, 5, True)]


def test_an_in_band_sps_of_another_size_is_found_in_a_sample() -> None:
    """A stream's own SPS replaces avcC's in the decoder: the walk reads the first sample's."""
    sps = bytes.fromhex("6764000aacd94141fb0110000003001000000303c0f1224c80")  # 320x240
    sample = len(sps).to_bytes(4, "big") + sps + (3).to_bytes(4, "big") + b"\x65\x88\x84"
    [found] = h264.stream_sps(sample, 4)
    assert h264.sps_size(found) == (320, 240)


def test_a_forged_sample_entry_is_not_confirmed(tmp_path: Path) -> None:
    """The sample entry says 4096x2160, the SPS 320x256: not confirmed (a decoder decides)."""
    path = _encode(tmp_path / "clip.mp4", 320, 256, "-pix_fmt", "yuv420p")
    data = bytearray(path.read_bytes())
    entry = data.find(b"stsd") + 12  # the first sample entry (after version and count)
    assert data[entry + 4:entry + 8] == b"avc1"
    data[entry + 32:entry + 36] = (4096).to_bytes(2, "big") + (2160).to_bytes(2, "big")
    path.write_bytes(bytes(data))
    assert _tracks(path) == [(4096, 2160, 5, False)]


@pytest.mark.parametrize("junk", [b"", b"\x67", b"\x67\x64\x00", b"\x68\x00\x00",
                                  bytes.fromhex("6764000aacd94141")])
def test_damaged_sps_is_refused(junk: bytes) -> None:
    with pytest.raises(ValueError):
        h264.sps_size(junk)


@pytest.mark.parametrize("profile", [134, 135, 139, 144])
def test_profiles_decoders_read_differently_give_no_size(profile: int) -> None:
    """The spec and FFmpeg disagree on which of these carry chroma format and scaling lists,
    so the fields after them are read differently: no size, the decoder decides."""
    sps = bytearray(bytes.fromhex("6764000aacd94141fb0110000003001000000303c0f1224c80"))
    sps[1] = profile
    with pytest.raises(ValueError):
        h264.sps_size(bytes(sps))
