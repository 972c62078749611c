"""AI enhancement rules (``detectors/rules/enhancement.toml``, ids ``meta.enhance.*``): upscaling,
denoising and frame interpolation are not generation, so every hit is ``review`` / ``declared``;
they fire on the real forms the tools write, stay quiet on near misses, and a policy can turn
the whole family off.

Real bytes: the committed fixtures (``fixtures/gen_sidecars.py``) and a MOV/MKV written here by
ffmpeg exactly as Topaz Video AI's bundled ffmpeg writes its ``videoai`` tag.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from helpers import scan_with

import scanner
from detectors.api import AssetContext, Options, Shared
from detectors.formats.sniff import sniff
from detectors.metadata import MetadataDetector, read_native
from detectors.model import Asset, AssetResult, Field
from detectors.rules import all_rules, load_pack
from fixtures.gen_sidecars import TOPAZ_VIDEOAI
from scanner.policy import Policy
from tests import tools
from tests.conftest import FIXTURES

ENH = FIXTURES / "sidecars" / "enhancement"
FAMILY = "meta.enhance."


def scan_one(path: Path | str, **options: Any) -> AssetResult:
    return scan_with(MetadataDetector(), path, **options)


def test_family_is_review_declared_with_public_references() -> None:
    family = [r for r in all_rules() if r.id.startswith(FAMILY)]
    assert {r.id for r in family} == {"meta.enhance.topaz-video-ai", "meta.enhance.adobe-denoise",
                                      "meta.enhance.adobe-super-resolution",
                                      "meta.enhance.adobe-raw-details"}
    for rule in family:
        assert (rule.verdict, rule.tier, rule.source) == ("review", "declared", "enhancement.toml")
        assert rule.reference.startswith("https://")
        assert any(s.fires for s in rule.samples) and any(not s.fires for s in rule.samples)


@pytest.mark.parametrize(("name", "rules", "location"), [
    ("topaz_upscale.mov", {"meta.enhance.topaz-video-ai"}, "bmff:mdta:videoai"),
    ("topaz_interpolate.mp4", {"meta.enhance.topaz-video-ai"}, "bmff:mdta:videoai"),
    ("IMG_0042-Enhanced-NR.tif", {"meta.enhance.adobe-denoise"},
     "xmp:aux:EnhanceDenoiseAlreadyApplied"),
    ("IMG_0042-Enhanced-NR.xmp", {"meta.enhance.adobe-denoise"},
     "xmp:aux:EnhanceDenoiseAlreadyApplied"),
    ("IMG_0057-Enhanced-SR.tif", {"meta.enhance.adobe-super-resolution",
                                  "meta.enhance.adobe-raw-details"}, None),
])
def test_fires_on_real_forms(name: str, rules: set[str], location: str | None) -> None:
    result = scan_one(ENH / name)
    assert result.verdict == "review" and not result.errors, (result.verdict, result.errors)
    assert {f.rule for f in result.findings} == rules
    assert all(f.verdict == "review" and f.tier == "declared" for f in result.findings)
    if location is not None:
        assert location in {f.location for f in result.findings}


def test_topaz_video_ai_value_is_reported_whole_enough_to_read() -> None:
    (finding,) = scan_one(ENH / "topaz_upscale.mov").findings
    assert finding.value.startswith("Enhanced using prob-4; mode: auto;")  # not a secret


@pytest.mark.parametrize("name", ["resolve_export.mov", "IMG_0061_lightroom_export.tif"])
def test_near_miss_files_stay_clean(name: str) -> None:
    result = scan_one(ENH / name)
    assert result.findings == () and result.verdict == "clean"


@pytest.mark.parametrize(("key", "value"), [
    ("xmp:aux:EnhanceDenoiseAlreadyApplied", "False"),
    ("xmp:aux:EnhanceSuperResolutionAlreadyApplied", "False"),
    ("xmp:aux:EnhanceDenoiseVersion", "7"),  # a version alone says nothing was applied
    ("xmp:crs:LuminanceSmoothing", "25"),  # classic noise reduction is not AI Denoise
    ("bmff:mdta:comment", "Enhanced using prob-4; mode: auto"),  # only the videoai key counts
    ("bmff:mdta:encoder", "Lavf59.27.100"),
])
def test_near_miss_values(key: str, value: str) -> None:
    hits = load_pack().evaluate([Field(key, value, "test")])
    assert not [h.rule.id for h in hits if h.rule.id.startswith(FAMILY)]


def _native_fields(path: Path) -> list[Field]:
    st = path.stat()
    asset = Asset(str(path), st.st_size, st.st_mtime_ns, "other")
    ctx = AssetContext(asset, Shared(Options()))
    kind, media_type = sniff(ctx.head[:4096])
    asset = dataclasses.replace(asset, kind=kind, media_type=media_type)
    ctx.asset = asset
    return read_native(asset, ctx).fields


def _ffmpeg(*args: str) -> None:
    subprocess.run([tools.require("ffmpeg"), "-y", "-loglevel", "error", "-hide_banner", *args],
                   check=True, stdin=subprocess.DEVNULL)


def test_topaz_key_as_the_bmff_reader_produces_it(tmp_path: Path) -> None:
    """Topaz Video AI runs ffmpeg with ``-movflags ...use_metadata_tags -metadata videoai=``;
    the BMFF reader gives the key as ``bmff:mdta:videoai`` (MOV and MP4). Without
    use_metadata_tags ffmpeg drops the key, so nothing is there to find."""
    src = ["-f", "lavfi", "-i", "color=c=gray:s=32x18:d=0.1:r=24", "-c:v", "libx264",
           "-pix_fmt", "yuv420p"]
    for ext in ("mov", "mp4"):
        path = tmp_path / f"tvai.{ext}"
        _ffmpeg(*src, "-movflags", "use_metadata_tags", "-metadata", f"videoai={TOPAZ_VIDEOAI}",
                str(path))
        keys = {f.key: f.value for f in _native_fields(path)}
        assert keys.get("bmff:mdta:videoai") == TOPAZ_VIDEOAI, keys
        assert {f.rule for f in scan_one(path).findings} == {"meta.enhance.topaz-video-ai"}
    dropped = tmp_path / "plain.mov"
    _ffmpeg(*src, "-metadata", f"videoai={TOPAZ_VIDEOAI}", str(dropped))
    assert not any("videoai" in f.key for f in _native_fields(dropped))


def test_deep_tier_reads_the_matroska_tag() -> None:
    tools.require("exiftool")
    result = scan_one(ENH / "topaz_upscale.mkv")
    assert [(f.rule, f.location) for f in result.findings] == [
        ("meta.enhance.topaz-video-ai", "exiftool:Matroska:Videoai")]


def test_deep_tier_maps_xmp_aux_like_the_native_reader() -> None:
    tools.require("exiftool")
    result = scan_one(ENH / "IMG_0057-Enhanced-SR.tif", deep=True)
    assert {(f.rule, f.location) for f in result.findings} == {
        ("meta.enhance.adobe-super-resolution", "xmp:aux:EnhanceSuperResolutionAlreadyApplied"),
        ("meta.enhance.adobe-raw-details", "xmp:aux:EnhanceDetailsAlreadyApplied")}


def _delivery(tmp_path: Path) -> Path:
    tree = tmp_path / "delivery"
    tree.mkdir()
    for name in ("topaz_upscale.mov", "IMG_0057-Enhanced-SR.tif", "resolve_export.mov"):
        shutil.copy(ENH / name, tree / name)
    return tree


def test_review_by_default_blocks_only_with_fail_on_review(tmp_path: Path) -> None:
    tree = _delivery(tmp_path)
    report = scanner.scan([str(tree)])
    verdicts = {Path(r.asset.path).name: r.verdict for r in report.results}
    assert verdicts == {"topaz_upscale.mov": "review", "IMG_0057-Enhanced-SR.tif": "review",
                        "resolve_export.mov": "clean"}
    assert report.summary.exit_code == 0
    assert scanner.scan([str(tree)], fail_on_review=True).summary.exit_code == 1


def test_policy_turns_the_family_off(tmp_path: Path) -> None:
    tree = _delivery(tmp_path)
    policy_file = tmp_path / "policy.toml"
    policy_file.write_text('fail_on = ["ai", "review"]\n[rules]\n"meta.enhance.*" = "off"\n',
                           encoding="utf-8")
    report = scanner.scan([str(tree)], policy=Policy.load(str(policy_file)))
    assert report.summary.exit_code == 0
    assert all(r.findings == () and r.verdict == "clean" for r in report.results)
    notes = [n for r in report.results for c in r.coverage for n in c.notes]
    assert sum("turned off" in n for n in notes) == 2
    # only this family: a generator graph still blocks under the same policy
    shutil.copy(FIXTURES / "sidecars" / "sidecar_only" / "workflow_api.json", tree)
    assert scanner.scan([str(tree)], policy=str(policy_file)).summary.exit_code == 1
    assert os.path.exists(tree / "workflow_api.json")
