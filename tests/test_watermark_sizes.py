"""Where the watermark detector decodes: the size table (``detectors/data/watermark_sizes.toml``)
admits every size a marking generator writes and every committed marked fixture, camera-size
stills and 4K/2.7K clips are skipped on header dimensions alone (the pixel decoders are booby-
trapped to prove it), and the early stops (clearly null variants of a still, clearly null first
frames of a clip) give the same verdicts as reading everything."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from PIL import Image

from detectors.api import AssetContext, Options, Shared
from detectors.model import APPLIED, NOT_APPLICABLE, Asset
from detectors.watermark import Analysis, WatermarkDetector, analyse, dwtdct, load_payloads
from detectors.watermark import sizes as wm_sizes
from detectors.watermark.headers import video_tracks
from tests.test_watermark import CONTROLS, FIX, MANIFEST, MARKED, coverage, scan

PAYLOADS = load_payloads()
IMAGE_NOTE = ("pixel watermark not checked: {w}×{h} image ({mp} MP) is larger than any marking "
              "generator writes (at most 3082 px a side and 9.5 MP, crops included; "
              "detectors/data/watermark_sizes.toml), and resizing destroys the mark")
VIDEO_NOTE = ("pixel watermark not checked: {w}×{h} frames ({mp} MP) are larger than any "
              "marking generator writes (at most 2048 px a side and 4.2 MP, crops included; "
              "detectors/data/watermark_sizes.toml), and resizing destroys the mark")

# Sizes the generators' reference code writes by default or documents (see the table's sources).
SDXL_RATIOS = [(704, 1408), (704, 1344), (768, 1344), (768, 1280), (832, 1216), (832, 1152),
               (896, 1152), (896, 1088), (960, 1088), (960, 1024), (1024, 1024), (1024, 960),
               (1088, 960), (1088, 896), (1152, 896), (1152, 832), (1216, 832), (1280, 768),
               (1344, 768), (1344, 704), (1408, 704), (1472, 704), (1536, 640), (1600, 640),
               (1664, 576), (1728, 576)]
NATIVE_STILLS = SDXL_RATIOS + [
    (512, 512), (768, 768),  # SD 1.x / 2.x txt2img
    (1544, 1030), (1544, 1544), (2312, 2312),  # default txt2img grids (3x2 of 512, 3x3)
    (2048, 2048), (3072, 3072),  # SD 2.x x4 upscaler of 512 and 768 outputs
    (1360, 768), (1920, 1088), (1024, 1024),  # FLUX.1 default and common sizes
    (1024, 576), (576, 1024), (576, 576),  # SVD / SV3D frames as stills
]
NATIVE_FRAMES = [(1024, 576), (576, 1024), (576, 576), (1360, 768), (1024, 1024), (512, 512)]


class Trap(AssertionError):
    pass


def _trap(*_: Any, **__: Any) -> Any:
    raise Trap("a pixel decoder was called")


def _arm(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every way the detector could decode pixels raises: OpenCV image and video decoders,
    Pillow's pixel load, the whole-file read and the block votes."""
    from detectors.watermark import pixels

    monkeypatch.setattr(cv2, "imdecode", _trap)
    monkeypatch.setattr(cv2, "VideoCapture", _trap)
    monkeypatch.setattr(Image.Image, "load", _trap)
    monkeypatch.setattr(pixels, "_read_all", _trap)
    monkeypatch.setattr(dwtdct, "block_votes", _trap)


@pytest.fixture
def no_decode(monkeypatch: pytest.MonkeyPatch) -> None:
    _arm(monkeypatch)


def _jpeg(path: Path, w: int, h: int) -> Path:
    img = np.full((h, w, 3), (90, 120, 150), np.uint8)
    img[::97] = 200  # a little structure; content is irrelevant here
    assert cv2.imwrite(str(path), img, [cv2.IMWRITE_JPEG_QUALITY, 80])
    return path


def _clip(path: Path, w: int, h: int, frames: int = 3) -> Path:
    """A real MPEG-4 clip written by OpenCV's FFmpeg (no external program)."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 24, (w, h))
    assert writer.isOpened()
    rng = np.random.default_rng(3)
    base = rng.integers(0, 256, (h // 8, w // 8, 3), dtype=np.uint8)
    frame = cv2.resize(base, (w, h), interpolation=cv2.INTER_NEAREST)
    for _ in range(frames):
        writer.write(frame)
    writer.release()
    return path


# ---- the table -------------------------------------------------------------------------------

def test_table_names_a_public_source_for_every_entry() -> None:
    table = wm_sizes.load_sizes()
    assert {e.name for e in table} >= {"sd1", "sd2", "sd-grid", "sd2-x4-upscaler", "sdxl",
                                       "svd", "flux1"}
    for e in table:
        assert e.source.startswith("https://github.com/") and e.why and e.native
    covered = {p for e in table for p in e.payloads}
    assert covered == {p.name for p in PAYLOADS}


@pytest.mark.parametrize(("w", "h"), NATIVE_STILLS)
def test_native_sizes_and_their_bottom_right_crops_are_admitted(w: int, h: int) -> None:
    for cw, ch in ((w, h), (h, w), (w, h - 64), (w - 64, h), (w - 3, h - 5), (w, 256)):
        assert wm_sizes.admitting(cw, ch, "image"), (cw, ch)


@pytest.mark.parametrize(("w", "h"), NATIVE_FRAMES)
def test_native_frame_sizes_are_admitted_for_video(w: int, h: int) -> None:
    assert wm_sizes.admitting(w, h, "video")
    assert wm_sizes.admitting(w - 8, h - 30, "video")


@pytest.mark.parametrize(("w", "h", "kind"), [
    (6000, 4000, "image"), (4000, 6000, "image"), (4000, 3000, "image"), (8192, 5464, "image"),
    (3840, 2160, "image"), (3840, 2160, "video"), (2750, 1834, "video"), (4096, 2160, "video"),
    (1920, 2200, "video"), (3100, 3100, "image")])
def test_camera_and_uhd_sizes_are_outside(w: int, h: int, kind: str) -> None:
    assert not wm_sizes.admitting(w, h, kind)
    assert wm_sizes.outside_reason(w, h, kind) is not None


def test_every_committed_marked_fixture_fits_the_table() -> None:
    for name in MARKED:
        path = FIX / name
        if path.suffix in (".mkv", ".mp4"):
            cap = cv2.VideoCapture(str(path))
            w, h = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
            cap.release()
            assert wm_sizes.admitting(w, h, "video"), name
        else:
            with Image.open(path) as im:
                assert wm_sizes.admitting(*im.size, "image"), name


# ---- skipped before any decode ----------------------------------------------------------------

def test_camera_size_jpeg_is_skipped_without_decoding(tmp_path: Path, no_decode: None) -> None:
    path = _jpeg(tmp_path / "A001_C003.jpg", 6000, 4000)
    result = scan(path)
    status, notes = coverage(result)
    assert result.findings == () and status == NOT_APPLICABLE
    assert notes == [IMAGE_NOTE.format(w=6000, h=4000, mp="24.0")]


def test_12mp_tiff_is_skipped_on_its_header(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "still.tif"
    Image.new("RGB", (4000, 3000), (10, 20, 30)).save(path, compression="tiff_lzw")
    _arm(monkeypatch)  # after writing: saving needs Pillow's load
    status, notes = coverage(scan(path))
    assert status == NOT_APPLICABLE
    assert notes == [IMAGE_NOTE.format(w=4000, h=3000, mp="12.0")]


def _h264(path: Path, w: int, h: int) -> Path:
    """A real H.264 MP4 (x264 through the ffmpeg CLI, as cameras and NLEs write them)."""
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
                    f"testsrc2=size={w}x{h}:rate=24:duration=0.25", "-c:v", "libx264",
                    "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(path)], check=True)
    return path


@pytest.mark.tool("ffmpeg")
@pytest.mark.parametrize(("w", "h"), [(3840, 2160), (2750, 1834)])
def test_uhd_and_2k7_clips_are_skipped_on_box_headers(tmp_path: Path, w: int, h: int,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """An H.264 clip whose SPS confirms its sample entry's size is ruled out from the boxes
    alone: no decoder opened, no frame decoded."""
    path = _h264(tmp_path / f"clip_{w}x{h}.mp4", w, h)
    for name in ("VideoCapture", "imdecode"):
        monkeypatch.setattr(cv2, name, _trap)
    monkeypatch.setattr(dwtdct, "block_votes", _trap)
    start = time.monotonic()
    result = scan(path)
    assert time.monotonic() - start < 30  # hang guard only
    status, notes = coverage(result)
    assert status == NOT_APPLICABLE and result.findings == ()
    assert notes == [VIDEO_NOTE.format(w=w, h=h, mp=f"{w * h / 1e6:.1f}")]


def test_a_clip_of_another_codec_is_sized_by_its_decoder(tmp_path: Path) -> None:
    """MPEG-4 Part 2 (no SPS read here): the sample entry's size is only the muxer's word, so
    OpenCV's decoder sizes the stream before it is ruled out."""
    path = _clip(tmp_path / "clip_3840x2160.mp4", 3840, 2160)
    status, notes = coverage(scan(path))
    assert status == NOT_APPLICABLE
    assert notes == [VIDEO_NOTE.format(w=3840, h=2160, mp="8.3")]


def test_precheck_reads_headers_only_and_reads_is_declared(tmp_path: Path,
                                                            no_decode: None) -> None:
    assert WatermarkDetector.reads == "pixels"
    det = WatermarkDetector()
    path = _jpeg(tmp_path / "plate.jpg", 6000, 4000)
    st = path.stat()
    asset = Asset(str(path), st.st_size, st.st_mtime_ns, "image", "image/jpeg")
    ctx = AssetContext(asset, Shared(Options()))
    assert det.precheck(asset, ctx) == IMAGE_NOTE.format(w=6000, h=4000, mp="24.0")
    small = _jpeg(tmp_path / "gen.jpg", 1024, 1024)
    st = small.stat()
    asset = Asset(str(small), st.st_size, st.st_mtime_ns, "image", "image/jpeg")
    assert det.precheck(asset, AssetContext(asset, Shared(Options()))) is None


def test_mp4_box_walk_gives_the_coded_size(tmp_path: Path) -> None:
    for path, want in ((FIX / "svd_h264.mp4", (320, 256, 6)),
                       (_clip(tmp_path / "c.mp4", 1024, 576, 4), (1024, 576, 4))):
        st = path.stat()
        asset = Asset(str(path), st.st_size, st.st_mtime_ns, "video", "video/mp4")
        assert video_tracks(AssetContext(asset, Shared(Options()))) == [want]


def test_any_size_decodes_outside_the_table(tmp_path: Path) -> None:
    path = _jpeg(tmp_path / "pano.jpg", 4000, 256)
    status, notes = coverage(scan(path))
    assert status == NOT_APPLICABLE and "larger than any marking generator" in notes[0]
    status, notes = coverage(scan(path, any_size=True))
    assert status == APPLIED and notes[0].startswith("pixel watermark decode: pixels 4000×256")


def test_bottom_crop_of_a_marked_fixture_is_still_found(tmp_path: Path) -> None:
    img = cv2.imread(str(FIX / "sdxl_sgm_512.png"))
    target = tmp_path / "cropped.png"
    cv2.imwrite(str(target), img[:-64])
    (f,) = scan(target).findings
    assert f.evidence["payload"] == "sdxl"


# ---- early stops change no verdict ------------------------------------------------------------

def _verdict(a: Analysis) -> tuple[str, str] | None:
    banded = [m for m in a.best() if m.band]
    if not banded:
        return None
    best = max(banded, key=lambda m: m.rank())
    return best.payload.name, str(best.band)


@pytest.mark.parametrize("name", sorted(n for n in MANIFEST if not n.endswith((".mkv", ".mp4"))
                                        and n != "small_200.png"))
def test_progressive_read_gives_the_full_read_verdict(name: str) -> None:
    img = cv2.imread(str(FIX / name), cv2.IMREAD_COLOR)
    full, early = analyse(img, PAYLOADS, False), analyse(img, PAYLOADS)
    assert _verdict(early) == _verdict(full)
    if MANIFEST[name]["expect"]:
        ((payload, order),) = MANIFEST[name]["expect"].items()
        assert _verdict(early) is not None and _verdict(early)[0] == payload
        # the winning variant is read to the end, so its numbers are the full read's
        hit = next(m for m in early.best() if m.payload.name == payload)
        twin = next(m for m in full.matches if (m.payload, m.order, m.domain)
                    == (hit.payload, hit.order, hit.domain))
        assert (hit.matched, hit.z) == (twin.matched, twin.z) and hit.order == order
    else:
        assert _verdict(early) is None


def test_progressive_read_stops_clearly_null_variants_on_clean_pictures() -> None:
    rng = np.random.default_rng(11)
    img = cv2.GaussianBlur(rng.integers(0, 256, (1024, 1024, 3), dtype=np.uint8), (0, 0), 2)
    a = analyse(img, PAYLOADS)
    assert a.dropped and all(share < 1 for share in a.dropped.values())
    assert _verdict(a) is None


def test_grouped_votes_are_bit_identical_to_whole_reads() -> None:
    for name in ("sdxl_odd_517x389.png", "flux1_512.png", "sd1_grey_384.png"):
        img = cv2.imread(str(FIX / name), cv2.IMREAD_COLOR)
        for order in dwtdct.ORDERS:
            for domain in dwtdct.DOMAINS:
                whole = dwtdct.block_votes(img, order, domain)
                got = np.full(whole.size, 9, np.uint8)
                for g in range(4):
                    votes, numbers = dwtdct.group_votes(img, order, domain, g, 4)
                    got[numbers] = votes
                assert (got == whole).all(), (name, order, domain)


def _all_frames(path: Path) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    return frames


@pytest.mark.parametrize("name", ["svd_ffv1.mkv", "svd_h264.mp4", "clean_ffv1.mkv"])
def test_video_early_stop_gives_the_all_frames_verdict(name: str) -> None:
    full = Analysis(PAYLOADS)
    for frame in _all_frames(FIX / name):
        full.add(frame)
    result = scan(FIX / name)
    got = ((result.findings[0].evidence["payload"], result.findings[0].evidence["band"])
           if result.findings else None)
    assert got == _verdict(full)
    status, notes = coverage(result)
    assert status == APPLIED
    if name.startswith("clean"):
        assert any(n.startswith("pixel watermark: stopped after ") for n in notes), notes
    else:
        assert len(result.findings[0].evidence["frames"]) == 6


def test_controls_stay_unflagged_through_the_new_path() -> None:
    for name in CONTROLS:
        assert scan(FIX / name).findings == (), name


def test_manifest_is_the_one_the_tests_read() -> None:
    assert json.loads((FIX / "manifest.json").read_text()) == MANIFEST
