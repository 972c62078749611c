"""Fail-open bypasses of the watermark detector's size gate and decode, one regression test
each: a marked picture dressed so that the header the gate reads says a size no marking
generator writes (or so that the decode reads something other than the marked pixels) must be
flagged ``ai``, or the file reported as an error, never clean. Every file is built at test time
from the committed fixtures (``fixtures/watermark``), and scanned through the real pipeline."""

from __future__ import annotations

import struct
import subprocess
import zlib
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from detectors.model import FAILED, AssetResult
from tests.test_watermark import FIX, coverage, scan

MARKED_PNG = FIX / "sdxl_sgm_512.png"
MARKED_CLIP = FIX / "svd_h264.mp4"
CLEAN_PNG = FIX / "clean_512.png"


def _flagged(result: AssetResult) -> None:
    """The marked picture was decoded and found (SDXL/SVD payload, an ``ai`` band)."""
    assert result.verdict == "ai", coverage(result)
    assert result.findings[0].evidence["payload"] == "sdxl"


def _error(result: AssetResult, needle: str) -> None:
    status, notes = coverage(result)
    assert result.verdict == "error" and status == FAILED, (status, notes)
    assert any(needle in n for n in notes), notes


def _chunk(ctype: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + ctype + body + struct.pack(">I", zlib.crc32(ctype + body))


def _marked_jpeg(tmp_path: Path) -> bytes:
    path = tmp_path / "m95.jpg"  # q95 4:4:4 keeps the mark (package docstring's survival table)
    Image.open(MARKED_PNG).convert("RGB").save(path, quality=95, subsampling=0)
    return path.read_bytes()


def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args], check=True, timeout=120)


@pytest.mark.parametrize("marker", [b"\xff\x01", b"\xff\xd0"], ids=["TEM", "RST0"])
def test_a1_jpeg_parameterless_marker_has_no_length(tmp_path: Path, marker: bytes) -> None:
    """TEM (FF01) and RST (FFD0-7) carry no length: read one and the walk lands in an APP1
    payload, on a planted 8000×8000 SOF, while OpenCV decodes the marked 512×512 picture."""
    src = _marked_jpeg(tmp_path)
    sof = (b"\xff\xc0\x00\x11\x08" + struct.pack(">HH", 8000, 8000)
           + b"\x03\x01\x11\x00\x02\x11\x01\x03\x11\x01")
    payload = bytearray(65533)
    land = 2 + 2 + 0xFFE1  # where a 2-byte "length" read after the marker sends the walk
    payload[land - 8:land - 8 + len(sof)] = sof
    path = tmp_path / "tem.jpg"
    path.write_bytes(b"\xff\xd8" + marker + b"\xff\xe1" + struct.pack(">H", 65535)
                     + bytes(payload) + src[2:])
    _flagged(scan(path))


def test_a1_low_jpeg_with_two_sof_is_an_error(tmp_path: Path) -> None:
    """A fake SOF before the real one: no decoder reads the file (libjpeg: two SOF markers),
    so its header size decides nothing: an unreadable header, not a skip."""
    src = _marked_jpeg(tmp_path)
    sof = (b"\xff\xc0\x00\x11\x08" + struct.pack(">HH", 8000, 8000)
           + b"\x03\x01\x11\x00\x02\x11\x01\x03\x11\x01")
    path = tmp_path / "two_sof.jpg"
    path.write_bytes(b"\xff\xd8" + sof + src[2:])
    _error(scan(path), "second SOF marker")


def test_a2_png_with_two_ihdr_is_an_error(tmp_path: Path) -> None:
    """A fake 8000×8000 IHDR before the real one: Pillow takes the last, so the header size
    is not the picture's: an unreadable header, never "too large"."""
    data = MARKED_PNG.read_bytes()
    body = bytearray(data[16:29])
    body[0:8] = struct.pack(">II", 8000, 8000)
    path = tmp_path / "two_ihdr.png"
    path.write_bytes(data[:8] + _chunk(b"IHDR", bytes(body)) + data[8:])
    _error(scan(path), "second IHDR chunk")


def test_a3_mp4_stsd_size_is_not_trusted(tmp_path: Path) -> None:
    """The avc1 sample entry says 4096×2160, the H.264 SPS 320×256: the decoder's size rules."""
    data = bytearray(MARKED_CLIP.read_bytes())
    entry = data.find(b"stsd") + 4 + 8
    assert data[entry + 4:entry + 8] == b"avc1"
    at = entry + 8 + 6 + 2 + 16
    data[at:at + 4] = struct.pack(">HH", 4096, 2160)
    path = tmp_path / "stsd_4k.mp4"
    path.write_bytes(bytes(data))
    _flagged(scan(path))


@pytest.mark.tool("ffmpeg")
def test_a4_second_video_track_is_not_left_unchecked(tmp_path: Path) -> None:
    """A 2560×1440 first track (outside the table) and the marked clip as the second: only
    the first is decoded, so the second must make the scan incomplete, named."""
    big = tmp_path / "big.mp4"
    _ffmpeg("-f", "lavfi", "-i", "testsrc=size=2560x1440:rate=8", "-frames:v", "2",
            "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(big))
    path = tmp_path / "two_tracks.mp4"
    _ffmpeg("-i", str(big), "-i", str(MARKED_CLIP), "-map", "0:v", "-map", "1:v", "-c", "copy",
            str(path))
    _error(scan(path), "video stream #1 (320×256) not checked")
    # the marked clip first: found, and the 4K second track is outside the table (no error)
    path = tmp_path / "marked_first.mp4"
    _ffmpeg("-i", str(MARKED_CLIP), "-i", str(big), "-map", "0:v", "-map", "1:v", "-c", "copy",
            str(path))
    _flagged(scan(path))


@pytest.mark.tool("ffmpeg")
def test_a4_second_video_stream_of_an_avi_is_not_left_unchecked(tmp_path: Path) -> None:
    """The same in an AVI, whose stream headers are counted without a second decoder
    library: two 'vids' streams go to FFmpeg's stream list, one to OpenCV alone."""
    path = tmp_path / "two.avi"
    _ffmpeg("-f", "lavfi", "-i", "testsrc=size=2560x1440:rate=8", "-i", str(MARKED_CLIP),
            "-map", "0:v", "-map", "1:v", "-frames:v", "2", "-c:v", "ffv1", str(path))
    _error(scan(path), "video stream #1 (320×256) not checked")
    one = tmp_path / "one.avi"
    _ffmpeg("-i", str(MARKED_CLIP), "-c:v", "ffv1", str(one))
    _flagged(scan(one))


@pytest.mark.tool("ffmpeg")
def test_a4_second_video_track_of_a_matroska_file_is_not_left_unchecked(tmp_path: Path) -> None:
    """And in Matroska, whose Tracks element is read from the head (an audio track beside
    them is not a picture track)."""
    path = tmp_path / "two.mkv"
    _ffmpeg("-f", "lavfi", "-i", "testsrc=size=2560x1440:rate=8", "-i", str(MARKED_CLIP),
            "-f", "lavfi", "-i", "sine=duration=1", "-map", "0:v", "-map", "1:v", "-map",
            "2:a", "-frames:v", "2", "-c:v", "ffv1", str(path))
    _error(scan(path), "video stream #1 (320×256) not checked")
    one = tmp_path / "one.mkv"
    _ffmpeg("-i", str(MARKED_CLIP), "-f", "lavfi", "-i", "sine=duration=1", "-c:v", "ffv1",
            "-shortest", str(one))
    _flagged(scan(one))


@pytest.mark.tool("ffmpeg")
def test_a5_mp4_rotation_metadata_is_not_applied(tmp_path: Path) -> None:
    path = tmp_path / "rot90.mp4"
    _ffmpeg("-i", str(MARKED_CLIP), "-c", "copy", "-metadata:s:v:0", "rotate=90", str(path))
    _flagged(scan(path))


@pytest.mark.parametrize("ext", ["png", "jpg"])
def test_a5_exif_orientation_is_not_applied(tmp_path: Path, ext: str) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° CW to display
    path = tmp_path / f"exif6.{ext}"
    extra: dict[str, Any] = {"quality": 95, "subsampling": 0} if ext == "jpg" else {}
    Image.open(MARKED_PNG).convert("RGB").save(path, exif=exif.tobytes(), **extra)
    _flagged(scan(path))


def test_a6_tiff_marked_second_page_behind_a_large_first(tmp_path: Path) -> None:
    path = tmp_path / "pages.tif"
    Image.new("RGB", (4000, 3000), (90, 120, 150)).save(
        path, save_all=True, append_images=[Image.open(MARKED_PNG).convert("RGB")],
        compression="tiff_lzw")
    result = scan(path)
    _flagged(result)
    assert any(n.startswith("frame 1 of 2: pixel watermark not checked: 4000×3000")
               for n in coverage(result)[1])
    _flagged(scan(path, any_size=True))  # and with any_size, not the first page only


def _animation(tmp_path: Path, fmt: str) -> Path:
    path = tmp_path / f"anim.{fmt}"
    first = Image.open(CLEAN_PNG).convert("RGB")
    marked = Image.open(MARKED_PNG).convert("RGB")
    extra: dict[str, Any] = {"lossless": True} if fmt == "webp" else {}
    first.save(path, save_all=True, append_images=[marked], duration=100, **extra)
    return path


@pytest.mark.parametrize("fmt", ["png", "webp"])
def test_a7_animation_marked_later_frame(tmp_path: Path, fmt: str) -> None:
    _flagged(scan(_animation(tmp_path, fmt)))


def test_a7_apng_actl_beyond_the_head(tmp_path: Path) -> None:
    """A 70 kB text chunk between IHDR and acTL: the header walk leaves the 64 KiB head before
    IDAT, so it cannot call the file a still; Pillow counts the frames."""
    data = _animation(tmp_path, "png").read_bytes()
    path = tmp_path / "anim_far.png"
    path.write_bytes(data[:33] + _chunk(b"tEXt", b"Comment\x00" + b"x" * 70000) + data[33:])
    _flagged(scan(path))


def test_a7_frames_past_the_bound_are_an_error(tmp_path: Path) -> None:
    path = _animation(tmp_path, "png")
    result = scan(path, image_frames=1)
    _error(result, "1 of 2 frames not checked for a pixel watermark (image_frames = 1)")


def test_single_frame_still_is_read_once_as_before() -> None:
    """A still takes the one-decode path: no per-frame read, the same coverage note."""
    result = scan(MARKED_PNG)
    _flagged(result)
    assert coverage(result)[1][0].startswith("pixel watermark decode: pixels 512×512")
