"""IMF packages in a scan: a package is one delivery unit with its compositions, checked against
its ASSETMAP and packing list; findings in its files name the composition and timeline range
(fixtures made by fixtures/gen_imf.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

import scanner
from detectors.model import PACKAGE, Asset, AssetResult, Finding, Report
from scanner.package_scan import PackageScan

ROOT = Path(__file__).resolve().parents[1]
IMF = ROOT / "fixtures" / "imf"
# track files are MXF, which only the deep tier (ExifTool) reads
pytestmark = pytest.mark.tool("exiftool")


def _by_path(report: Report) -> dict[str, AssetResult]:
    return {r.asset.path: r for r in report.results}


def test_ai_sidecar_names_the_composition_it_ships_with() -> None:
    report = scanner.scan([str(IMF / "with_ai")])
    by = _by_path(report)
    art = by[str(IMF / "with_ai" / "EP205_keyart.png")]
    assert art.verdict == "ai"
    assert art.findings[0].evidence["imf"] == ["CPL 'EP205 Final' · sidecar"]
    package = by[str(IMF / "with_ai")]
    assert package.asset.kind == PACKAGE and package.verdict == "ai" and package.blocking
    assert "1 composition(s): 'EP205 Final' (00:00:01:00)" in package.asset.notes[0]
    assert report.summary.packages == 1 and report.summary.exit_code == 1
    xml = by[str(IMF / "with_ai" / "ASSETMAP.xml")]
    assert xml.asset.skip_reason == "IMF package XML (assetmap): read as the package"


def test_a_valid_package_is_clean_and_its_track_files_know_their_timeline() -> None:
    report = scanner.scan([str(IMF / "valid")])
    by = _by_path(report)
    assert by[str(IMF / "valid")].verdict == "clean" and report.summary.exit_code == 0
    video = by[str(IMF / "valid" / "EP203_VIDEO.mxf")]
    assert video.verdict == "clean"
    assert ("IMF track file: CPL 'EP203 Final' · MainImageSequence · 00:00:00:00–00:00:01:00; "
            "CPL 'EP203 Final' · MainImageSequence · 00:00:01:00–00:00:05:00; CPL 'EP203 Final' "
            "· MainImageSequence · 00:00:05:00–00:00:05:12") in video.asset.notes


def test_a_finding_in_a_track_file_names_composition_and_timecode() -> None:
    packages = PackageScan()
    packages.on_folder(str(IMF / "valid"), [p.name for p in (IMF / "valid").iterdir()])
    path = str(IMF / "valid" / "EP203_VIDEO.mxf")
    finding = Finding("register", "register.match", "ai", "matched", "frames 24-71",
                      "temp previs #3", "matches registered temp AI material")
    result = AssetResult(Asset(path, 1, 0, "video"), "ai", (finding,), blocking=True)
    (annotated,) = packages.annotate(result).findings
    assert "CPL 'EP203 Final' · MainImageSequence · 00:00:01:00–00:00:05:00" in \
        annotated.evidence["imf"]
    (package,) = packages.results()
    assert package.verdict == "ai" and package.blocking


@pytest.mark.parametrize(("name", "why"), [
    ("missing_track", "the file is not there [imf.asset.missing]"),
    ("wrong_size", "[imf.asset.size-mismatch]"),
    ("malformed_xml", "[imf.xml.malformed]"),
    ("xml_bomb", "[imf.xml.forbidden]"),
    ("xxe_assetmap", "[imf.xml.forbidden]"),
    ("escaping_path", "[imf.path.escapes]"),
])
def test_an_incomplete_or_damaged_package_is_an_error(name: str, why: str) -> None:
    report = scanner.scan([str(IMF / name)])
    package = _by_path(report)[str(IMF / name)]
    assert package.verdict == "error"
    assert any(why in e.message for e in package.errors), package.errors
    assert report.summary.exit_code == 2


def test_hashes_are_checked_only_when_asked() -> None:
    plain = scanner.scan([str(IMF / "wrong_hash")])
    assert _by_path(plain)[str(IMF / "wrong_hash")].verdict == "clean"
    checked = scanner.scan([str(IMF / "wrong_hash")], verify_imf=True)
    package = _by_path(checked)[str(IMF / "wrong_hash")]
    assert package.verdict == "error" and checked.summary.exit_code == 2
    assert "[imf.asset.hash-mismatch]" in package.errors[0].message


def test_a_supplemental_package_needs_its_original_version_in_the_scan() -> None:
    alone = scanner.scan([str(IMF / "supplemental" / "VF")])
    vf = _by_path(alone)[str(IMF / "supplemental" / "VF")]
    assert vf.verdict == "error"
    assert any("imf.cpl.track-file-unresolved" in e.message for e in vf.errors)
    both = scanner.scan([str(IMF / "supplemental")])
    results = _by_path(both)
    assert results[str(IMF / "supplemental" / "VF")].verdict == "clean"
    assert both.summary.packages == 2 and both.summary.exit_code == 0
