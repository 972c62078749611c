"""The watermark detector end to end through the pipeline, on the committed fixtures: images and
videos marked by the reference encoder as each generator calls it, and unmarked controls."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from helpers import judged

from detectors.api import Options, Shared
from detectors.model import APPLIED, FAILED, NOT_APPLICABLE, Asset, AssetResult
from detectors.registry import Loaded
from detectors.watermark import Z_MIN, WatermarkDetector
from scanner.pipeline import scan_asset
from tests.conftest import corpus_rows

FIX = Path(__file__).resolve().parent.parent / "fixtures" / "watermark"
MANIFEST: dict[str, dict[str, Any]] = json.loads((FIX / "manifest.json").read_text())
MARKED = sorted(n for n, info in MANIFEST.items() if info["expect"])
CONTROLS = sorted(n for n, info in MANIFEST.items() if not info["expect"])

_DET = WatermarkDetector()


def scan(path: Path, **extra: Any) -> AssetResult:
    st = path.stat()
    asset = Asset(str(path), st.st_size, st.st_mtime_ns, "other")
    shared = Shared(Options(settings={"watermark": dict(extra)}))
    try:
        return judged(scan_asset(asset, [Loaded("watermark", "builtin", _DET, True)], shared))
    finally:
        shared.close()


def coverage(result: AssetResult) -> tuple[str, list[str]]:
    (cov,) = [c for c in result.coverage if c.detector == "watermark"]
    return cov.status, list(cov.notes)


def test_fixture_set_is_complete() -> None:
    payloads = {p for n in MARKED for p in MANIFEST[n]["expect"]}
    assert payloads == {"sd1", "sd2", "sdxl", "flux1"}
    assert any(n.endswith((".mkv", ".mp4")) for n in MARKED)
    assert {"clean_512.png", "grey_384.png", "sdxl_sgm_q90.jpg", "small_200.png"} <= set(CONTROLS)


@pytest.mark.parametrize("name", MARKED)
def test_marked_fixture_is_flagged(name: str) -> None:
    ((payload, order),) = MANIFEST[name]["expect"].items()
    result = scan(FIX / name)
    assert result.verdict == "ai", (name, coverage(result))
    (f,) = result.findings
    ev = f.evidence
    assert f.detector == "watermark" and f.tier == "suspected"
    assert ev["payload"] == payload and ev["channel_order"] == order
    assert f.rule == f"watermark.{payload}.{ {'very_likely': 'very_likely', 'likely': 'likely'}[ev['band']] }"
    assert ev["matched_bits"] >= ev["thresholds"]["likely"] and ev["z"] >= Z_MIN
    # the evidence is self-consistent: decoded vs payload bits differ where it says
    diff = sum(a != b for a, b in zip(ev["decoded_bits"], ev["payload_bits"], strict=True))
    assert diff == ev["bits"] - ev["matched_bits"]
    assert f"{ev['matched_bits']}/{ev['bits']} bits match {payload}" in f.value
    assert coverage(result)[0] == APPLIED


@pytest.mark.parametrize("name", CONTROLS)
def test_control_is_not_flagged(name: str) -> None:
    result = scan(FIX / name)
    assert result.findings == ()
    status, notes = coverage(result)
    if name == "small_200.png":
        assert status == NOT_APPLICABLE and "below the decoder's 256×256 minimum" in notes[0]
    else:
        assert status == APPLIED
        assert any(n.startswith("pixel watermark decode:") for n in notes), notes


def test_sd1_bytes_payload_is_shown_decoded() -> None:
    (f,) = scan(FIX / "sd1_txt2img_512.png").findings
    assert f.evidence["band"] == "very_likely"
    assert f.evidence["decoded_text"].startswith("Stabl")
    assert "'StableDiffusionV1'" in f.value


def test_sd2_mark_yields_one_finding_not_an_sd1_echo() -> None:
    result = scan(FIX / "sd2_txt2img_512.png")
    (f,) = result.findings
    assert f.evidence["payload"] == "sd2"
    # ASCII payloads share structure: the SD 1.x count rises above chance on an SD 2.x mark
    assert f.evidence["other_payloads"]["sd1"]["matched_bits"] > 68


def test_float_centring_recovers_what_the_library_decoder_misses() -> None:
    # generative-models hands float BGR to the encoder; the library's own decode of that file
    # (vectors.json, bgr/48) matches far fewer bits than the float-centred read.
    vectors = json.loads((FIX / "vectors.json").read_text())["files"]
    library = vectors["sdxl_sgm_512.png"]["bgr"]["48"]
    payload = bin(0xB3EC907BB19E)[2:]
    library_match = sum(a == b for a, b in zip(library, payload, strict=True))
    (f,) = scan(FIX / "sdxl_sgm_512.png").findings
    assert f.evidence["variants"]["bgr/uint8"]["matched_bits"] == library_match
    assert f.evidence["u_centring"] == "float"
    assert f.evidence["matched_bits"] > library_match + 5


def test_diffusers_rgb_order_is_found_in_the_rgb_variant_only() -> None:
    (f,) = scan(FIX / "sdxl_diffusers_rgb_512.png").findings
    v = f.evidence["variants"]
    assert f.evidence["channel_order"] == "rgb"
    # the BGR reads are either stopped early as clearly null or read to the end below Z_MIN
    for variant in ("bgr/uint8", "bgr/float"):
        assert variant in f.evidence["stopped_variants"] or v[variant]["z"] < Z_MIN


def test_video_frames_are_sampled_and_pooled() -> None:
    result = scan(FIX / "svd_ffv1.mkv")
    (f,) = result.findings
    assert f.evidence["payload"] == "sdxl" and len(f.evidence["frames"]) == 6
    assert f.location.startswith("frames ")
    status, _ = coverage(scan(FIX / "svd_ffv1.mkv", video_frames=0))
    assert status == NOT_APPLICABLE


def test_size_limit_is_a_qualified_not_checked() -> None:
    result = scan(FIX / "sdxl_sgm_512.png", max_pixels=100_000)
    assert result.findings == () and result.verdict == "clean"
    status, notes = coverage(result)
    assert status == APPLIED
    assert notes == ["pixel watermark not checked: 512×512 is above the 100000-pixel limit"]
    status, notes = coverage(scan(FIX / "sdxl_sgm_512.png", max_pixels=0))
    assert status == NOT_APPLICABLE and "turned off" in notes[0]


def test_cache_token_follows_the_options() -> None:
    a = _DET.cache_token(Options())
    assert a == _DET.cache_token(Options())
    assert a != _DET.cache_token(Options(settings={"watermark": {"max_pixels": 5}}))
    assert a != _DET.cache_token(Options(settings={"watermark": {"video_frames": 2}}))


def test_truncated_image_is_an_error_not_clean(tmp_path: Path) -> None:
    data = (FIX / "sd1_txt2img_512.png").read_bytes()
    bad = tmp_path / "cut.png"
    bad.write_bytes(data[: len(data) // 3])
    result = scan(bad)
    assert result.verdict == "error"
    status, notes = coverage(result)
    assert status == FAILED and "cannot decode pixels" in notes[0]


def test_lossless_copy_under_another_name_is_still_flagged(tmp_path: Path) -> None:
    # content decides, not the name: a PNG named .jpg is read as the PNG it is
    target = tmp_path / "plate_0042.jpg"
    shutil.copy(FIX / "flux1_512.png", target)
    (f,) = scan(target).findings
    assert f.evidence["payload"] == "flux1"


def test_corpus_images_carry_no_watermark(corpus: Path) -> None:
    checked = 0
    for row in corpus_rows():
        path = corpus / row["file"]
        if row["expect"] == "hostile" or not path.is_file():
            continue
        result = scan(path, video_frames=2)  # keep the 5 MP .mov quick
        assert result.findings == (), (row["file"], result.findings)
        status, notes = coverage(result)
        if status == APPLIED and any(n.startswith("pixel watermark decode:") for n in notes):
            checked += 1
    assert checked >= 8


def test_unreadable_png_header_is_an_error_not_unsupported(tmp_path: Path) -> None:
    bad = tmp_path / "plate.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8)
    result = scan(bad)
    status, notes = coverage(result)
    assert result.verdict == "error" and status == FAILED
    assert notes[0] == "cannot decode pixels: unreadable image/png header"


def test_truncated_video_keeps_its_finding_but_is_not_complete(tmp_path: Path) -> None:
    data = (FIX / "svd_ffv1.mkv").read_bytes()
    cut = tmp_path / "shot.mkv"
    cut.write_bytes(data[: len(data) // 3])
    result = scan(cut)
    status, notes = coverage(result)
    assert status == FAILED
    assert any(n.startswith("only ") and "sampled video frames could be decoded" in n
               for n in notes)
    # what was decoded still carries the SVD mark, and that finding stands
    assert result.verdict == "ai" and result.findings[0].evidence["payload"] == "sdxl"
    clean = (FIX / "clean_ffv1.mkv").read_bytes()
    cut.write_bytes(clean[: len(clean) // 3])
    assert scan(cut).verdict == "error"


def test_a_perfect_mark_is_not_lost_to_its_own_perfection() -> None:
    # On a neutral picture every block carries its bit: all payload-balanced words then score
    # alike (null spread ~0); the ratio's floor of 1 keeps such a mark at full strength.
    (f,) = scan(FIX / "sd1_grey_384.png").findings
    assert f.evidence["matched_bits"] == 136 and f.evidence["decoded_text"] == "StableDiffusionV1"
    assert f.evidence["z_ratio"] == f.evidence["z"] > 40


def test_malformed_option_fails_loudly_with_its_name() -> None:
    result = scan(FIX / "clean_512.png", max_pixels="lots")
    status, notes = coverage(result)
    assert status == FAILED and result.verdict == "error"
    assert "watermark option max_pixels must be a whole number, got 'lots'" in notes[0]
