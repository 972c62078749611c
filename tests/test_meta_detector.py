"""The metadata detector end to end: corpus files (ai flagged, clean not, hostile finish), the
deep tier (ExifTool) and its absence, sidecar XMP attribution, per-asset memo, and files that
claim a media extension they do not have."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import FIXTURES, corpus_rows
from helpers import scan_with

import detectors.metadata as md
from detectors.api import AssetContext, Options, Shared
from detectors.metadata import MetadataDetector
from detectors.model import Asset, AssetResult
from detectors.registry import load_all
from scanner.pipeline import classify

META = FIXTURES / "meta"
needs_exiftool = pytest.mark.tool("exiftool")


def scan_one(path: Path | str, **options: Any) -> AssetResult:
    return scan_with(MetadataDetector(), path, **options)


def coverage(result: AssetResult):  # type: ignore[no-untyped-def]
    return next(c for c in result.coverage if c.detector == "metadata")


def test_registered_builtin_and_available() -> None:
    (item,) = [i for i in load_all(include_plugins=False) if i.name == "metadata"]
    assert item.available, item.reason
    assert isinstance(item.detector, MetadataDetector)


# --- the real-world corpus ----------------------------------------------------------------

def _metadata_rows(expect: str) -> list[str]:
    # C2PA-only markers (contentauth sources) are the C2PA detector's; the rest are metadata.
    return [r["file"] for r in corpus_rows()
            if r["expect"] == expect and not r["source"].startswith("contentauth/")]


@pytest.mark.parametrize("name", _metadata_rows("ai") or ["-"])
def test_corpus_ai_files_are_flagged(corpus: Path, name: str) -> None:
    result = scan_one(corpus / name)
    ai = [f for f in result.findings if f.verdict == "ai" and f.tier == "declared"]
    assert ai, (name, result.findings, result.errors)
    assert result.verdict == "ai"


def test_corpus_clean_files_are_not_flagged(corpus: Path) -> None:
    names = [r["file"] for r in corpus_rows() if r["expect"] == "clean"]
    assert names
    for name in names:
        result = scan_one(corpus / name)
        assert result.findings == (), (name, [(f.rule, f.value) for f in result.findings])
        assert result.verdict == "clean", (name, result.errors)


def test_corpus_hostile_files_finish_quickly(corpus: Path) -> None:
    for name in [r["file"] for r in corpus_rows() if r["expect"] == "hostile"]:
        t0 = time.perf_counter()
        result = scan_one(corpus / name)
        assert time.perf_counter() - t0 < 2.0, name
        assert result.verdict != "clean" or result.findings == (), name
    empty = scan_one(corpus / "sd-parsers__empty_file.png")
    assert empty.verdict == "error"


# --- deep tier ----------------------------------------------------------------------------

def test_deep_only_format_without_exiftool_is_an_error() -> None:
    result = scan_one(META / "comfyui_video.mkv", exiftool="/nonexistent/exiftool")
    assert result.verdict == "error"
    cov = coverage(result)
    assert cov.status == "failed"
    assert any("Matroska needs ExifTool (deep tier), not found" in n for n in cov.notes)
    assert result.errors[0].source == "metadata"


def test_native_formats_run_without_exiftool_even_with_deep() -> None:
    result = scan_one(META / "comfyui.png", exiftool="/nonexistent/exiftool", deep=True)
    assert result.verdict == "ai"
    assert any("ExifTool not found" in n for n in coverage(result).notes)


@needs_exiftool
def test_deep_tier_reads_matroska() -> None:
    result = scan_one(META / "comfyui_video.mkv")
    rules = {f.rule for f in result.findings}
    assert {"meta.comfyui.prompt", "meta.comfyui.workflow"} <= rules
    assert all(f.evidence["reader"] == "exiftool" for f in result.findings)
    assert any(n.startswith("deep tier: ExifTool") for n in coverage(result).notes)


@needs_exiftool
@pytest.mark.parametrize("name", ["comfyui.png", "iptc_dst.jpg", "suno.mp3", "xmp_pmx.wav",
                                  "kling_aigc.mp4"])
def test_deep_flag_agrees_with_native_and_dedupes(name: str) -> None:
    native = scan_one(META / name)
    deep = scan_one(META / name, deep=True)
    assert {f.rule for f in native.findings} <= {f.rule for f in deep.findings}
    per_rule = {}
    for f in deep.findings:
        per_rule.setdefault((f.rule, f.location), []).append(f)
    # The same field seen by both tiers is one finding, not two.
    assert all(len(v) == 1 for v in per_rule.values()), per_rule


# --- sidecars, odd files, memo ------------------------------------------------------------

def test_sidecar_xmp_is_attributed_to_the_asset() -> None:
    result = scan_one(META / "sidecar_asset.jpg")
    (f,) = result.findings
    assert f.rule == "meta.iptc.dst" and f.verdict == "ai"
    assert f.location == "sidecar sidecar_asset.xmp: xmp:Iptc4xmpExt:DigitalSourceType"
    assert "sidecar sidecar_asset.xmp read" in coverage(result).notes


def test_sidecar_of_a_deep_only_asset_still_reported_without_exiftool(tmp_path: Path) -> None:
    (tmp_path / "shot.mxf").write_bytes(b"\x06\x0e\x2b\x34\x02\x05\x01\x01\x0d\x01\x02" + b"\0" * 64)
    shutil.copy(META / "sidecar_asset.xmp", tmp_path / "shot.xmp")
    result = scan_one(tmp_path / "shot.mxf", exiftool="/nonexistent/exiftool")
    assert [f.rule for f in result.findings] == ["meta.iptc.dst"]
    assert result.verdict == "ai"  # a finding outranks the error...
    assert any("MXF needs ExifTool" in e.message for e in result.errors)  # ...which stays


def test_standalone_xmp_file_is_read() -> None:
    result = scan_one(META / "sidecar_asset.xmp")
    assert [f.rule for f in result.findings] == ["meta.iptc.dst"]


def test_file_named_like_media_but_not_media_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "final.mov"
    path.write_text("this is not a movie\n")
    result = scan_one(path)
    assert result.verdict == "error"
    assert any("not the media its .mov name promises" in e.message for e in result.errors)


def test_bmp_has_nothing_to_read(tmp_path: Path) -> None:
    from PIL import Image

    path = tmp_path / "a.bmp"
    Image.new("RGB", (4, 4)).save(path)
    result = scan_one(path, exiftool="/nonexistent/exiftool")
    assert result.verdict == "clean"
    assert "BMP has no metadata container" in coverage(result).notes


def test_findings_before_a_truncation_are_kept_and_the_error_too(tmp_path: Path) -> None:
    data = (META / "a1111_parameters.png").read_bytes()
    path = tmp_path / "cut.png"
    path.write_bytes(data[:data.index(b"IDAT") + 10])
    result = scan_one(path)
    assert [f.rule for f in result.findings] == ["meta.a1111.parameters"]
    assert result.errors and "runs past the end" in result.errors[0].message
    assert result.verdict == "ai"


def test_native_read_is_memoised_per_asset(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real = md.NATIVE["image/png"]
    monkeypatch.setitem(md.NATIVE, "image/png", lambda s, o: (calls.append(1), real(s, o)))
    path = META / "comfyui.png"
    st = os.stat(path)
    shared = Shared(Options())
    ctx = AssetContext(Asset(str(path), st.st_size, st.st_mtime_ns, "other"), shared)
    asset = classify(ctx.asset, ctx)
    ctx.asset = asset
    det = MetadataDetector()
    first = list(det.detect(asset, ctx))
    second = list(det.detect(asset, ctx))
    assert first == second and len(first) == 2
    assert calls == [1]


def test_small_files_are_read_from_the_pipeline_head() -> None:
    path = META / "comfyui.png"
    st = os.stat(path)
    ctx = AssetContext(Asset(str(path), st.st_size, st.st_mtime_ns, "other"), Shared(Options()))
    asset = classify(ctx.asset, ctx)
    res = md.read_native(asset, ctx)
    assert res.fields and res.facts["bytes_read"] == st.st_size  # the head, nothing more


def test_darktable_style_sidecar(tmp_path: Path) -> None:
    shutil.copy(META / "sidecar_asset.jpg", tmp_path / "plate.jpg")
    shutil.copy(META / "sidecar_asset.xmp", tmp_path / "plate.jpg.xmp")
    result = scan_one(tmp_path / "plate.jpg")
    (f,) = result.findings
    assert f.location == "sidecar plate.jpg.xmp: xmp:Iptc4xmpExt:DigitalSourceType"


@needs_exiftool
def test_exiftool_error_is_an_error_not_clean(tmp_path: Path) -> None:
    path = tmp_path / "broken.mkv"
    path.write_bytes(b"\x1a\x45\xdf\xa3" + b"\xff" * 64)
    result = scan_one(path)
    assert result.verdict == "error"
    assert any("ExifTool" in e.message for e in result.errors)
