"""C2PA detector on the committed signed fixtures, the real-world corpus, and end to end.

Every fixture in fixtures/c2pa/expected.tsv was made (by fixtures/gen_c2pa.py) to get one
verdict; these tests hold the detector to that, with the evidence a reviewer needs.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest
from conftest import CORPUS, FIXTURES, corpus_rows
from helpers import scan_with

import scanner
from detectors import c2pa_reading as rd
from detectors.c2pa_provenance import C2paDetector
from detectors.model import AssetResult
from detectors.registry import load_all

C2PA_FIX = FIXTURES / "c2pa"
ROOT_PEM = str(C2PA_FIX / "pki" / "root.pem")
EVIDENCE_KEYS = {"manifest", "manifest_path", "claim_generator", "signer_issuer", "signer_cn",
                 "signing_time", "validation", "store"}


def scan_one(path: Path | str, **options: Any) -> AssetResult:
    return scan_with(C2paDetector(), path, **options)


def expected_rows() -> list[dict[str, str]]:
    with (C2PA_FIX / "expected.tsv").open(encoding="utf-8") as fh:
        lines = [ln for ln in fh if ln.strip()]
    header = lines[0].lstrip("# ").rstrip("\n").split("\t")
    return [dict(zip(header, row, strict=True)) for row in csv.reader(lines[1:], delimiter="\t")]


ROWS = expected_rows()


def notes(result: AssetResult) -> list[str]:
    return [n for c in result.coverage if c.detector == "c2pa" for n in c.notes]


def by_rule(result: AssetResult) -> dict[str, Any]:
    return {f.rule: f for f in result.findings}


def test_detector_is_available_and_registered() -> None:
    ok, why = C2paDetector().available()
    assert ok, why
    item = next(i for i in load_all(include_plugins=False) if i.name == "c2pa")
    assert item.available and isinstance(item.detector, C2paDetector)


def test_fixture_table_covers_every_container_and_scenario() -> None:
    files = {r["file"] for r in ROWS}
    for ext in ("jpg", "png", "webp", "tif", "dng", "gif", "avif", "heic", "svg", "pdf", "mp4",
                "mov", "m4a", "avi", "wav", "mp3", "flac"):
        assert f"formats/ai_created.{ext}" in files
    assert {r["verdict"] for r in ROWS} == {"ai", "review", "clean"}
    for row in ROWS:
        assert (C2PA_FIX / row["file"]).is_file(), row["file"]


@pytest.mark.parametrize("row", ROWS, ids=[r["file"] for r in ROWS])
def test_fixture_gets_intended_verdict_with_evidence(row: dict[str, str]) -> None:
    result = scan_one(C2PA_FIX / row["file"])
    assert result.verdict == row["verdict"], (result.findings, result.errors, notes(result))
    assert not result.errors
    rules = by_rule(result)
    if row["rules"] == "-":
        assert not result.findings
        assert notes(result), "a clean result must say what was checked"
        return
    wanted = row["rules"].split(",")
    assert set(wanted) <= set(rules), sorted(rules)
    first = rules[wanted[0]]
    assert first.detector == "c2pa" and first.value and first.message
    if wanted[0].startswith(("c2pa.dst.", "c2pa.vendor.", "c2pa.corrupt")):
        assert EVIDENCE_KEYS <= set(first.evidence)
        assert first.location.startswith(f"c2pa:manifest[{first.evidence['manifest']}]/")
        if row["validation"].endswith("*"):
            assert first.evidence["validation"].startswith(row["validation"][:-1])
        else:
            assert first.evidence["validation"] == row["validation"]
        verified = row["validation"] in ("trusted", "valid, untrusted signer")
        assert first.tier == ("verified" if verified else "declared")
        if not row["validation"].endswith("*"):  # a broken signature names no signer
            assert first.evidence["signer_cn"] == "deliverscan test signer"
        assert first.evidence["claim_generator"]


def test_ai_created_location_and_evidence() -> None:
    result = scan_one(C2PA_FIX / "formats" / "ai_created.mp4")
    f = by_rule(result)["c2pa.dst.trainedAlgorithmicMedia"]
    label = f.evidence["manifest"]
    assert f.location == f"c2pa:manifest[{label}]/c2pa.actions.v2/actions[0]/digitalSourceType"
    assert f.value == "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
    assert f.evidence["action"] == "c2pa.created"
    assert f.evidence["source_type"] == "trainedAlgorithmicMedia"
    assert f.evidence["software_agent"] == "FakeDiffusion XL 1.0"
    assert f.evidence["manifest_path"] == "active"
    assert f.evidence["signer_issuer"] == "deliverscan test-only PKI"
    assert f.evidence["store"] == "embedded"


def test_ingredient_paths_name_the_chain() -> None:
    hops = by_rule(scan_one(C2PA_FIX / "scenarios" / "two_hops.png"))
    ai = hops["c2pa.dst.trainedAlgorithmicMedia"]
    assert ai.evidence["manifest_path"] == 'active → parentOf "mid.png" → parentOf "ai_created.png"'
    assert "ingredient manifest" in ai.message
    assert hops["c2pa.dst.composite"].evidence["manifest_path"] == "active"
    assert hops["c2pa.dst.composite"].verdict == "review"

    comp = scan_one(C2PA_FIX / "scenarios" / "composite.jpg")
    paths = {f.rule: f.evidence["manifest_path"] for f in comp.findings}
    assert paths["c2pa.dst.compositeWithTrainedAlgorithmicMedia"] == "active"
    assert paths["c2pa.dst.trainedAlgorithmicMedia"] == 'active → componentOf "ai_created.jpg"'
    assert by_rule(comp)["c2pa.dst.compositeWithTrainedAlgorithmicMedia"].evidence["action"] \
        == "c2pa.edited"

    only = by_rule(scan_one(C2PA_FIX / "scenarios" / "ingredient_only_ai.jpg"))
    assert list(only) == ["c2pa.dst.trainedAlgorithmicMedia"]
    assert only["c2pa.dst.trainedAlgorithmicMedia"].evidence["manifest_path"] \
        == 'active → parentOf "ai_created.jpg"'


def test_metadata_assertion_and_vendor_shape() -> None:
    meta = by_rule(scan_one(C2PA_FIX / "scenarios" / "metadata_only.jpg"))
    f = meta["c2pa.dst.trainedAlgorithmicMedia"]
    assert f.location.endswith("/c2pa.metadata/Iptc4xmpExt:DigitalSourceType")
    assert f.evidence["assertion"] == "c2pa.metadata"

    bing = scan_one(C2PA_FIX / "scenarios" / "bing_shape.jpg")
    assert not [x for x in bing.findings if x.rule.startswith("c2pa.dst.")]
    v = by_rule(bing)["c2pa.vendor.microsoft.bing-image-creator"]
    assert v.verdict == "ai" and v.value == "Bing Image Creator"
    assert v.location.endswith("/actions[0]/softwareAgent")
    assert v.evidence["vendor_id"] == "vendor.microsoft.bing-image-creator"
    # The description and the claim generator name the same vendor: one finding, more places.
    assert any(loc.endswith("/description") for loc in v.evidence["also_at"])


def test_trust_anchors_turn_valid_into_trusted() -> None:
    result = scan_one(C2PA_FIX / "scenarios" / "composite.jpg", trust_anchors=ROOT_PEM)
    assert {f.evidence["validation"] for f in result.findings} == {"trusted"}
    assert {f.tier for f in result.findings} == {"verified"}
    tampered = scan_one(C2PA_FIX / "scenarios" / "tampered_pixels.jpg", trust_anchors=ROOT_PEM)
    assert tampered.verdict == "ai"
    assert tampered.findings[0].evidence["validation"] == "invalid: assertion.dataHash.mismatch"
    assert tampered.findings[0].tier == "declared"


def test_unusable_trust_anchors_fail_loudly_not_as_corrupt_manifests(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pem"
    bad.write_text("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    result = scan_one(C2PA_FIX / "formats" / "ai_created.jpg", trust_anchors=str(bad))
    assert result.verdict == "error"
    assert "trust anchors" in result.errors[0].message
    assert not result.findings


AI_ROWS = [r for r in ROWS if r["verdict"] == "ai" and not r["file"].endswith(".c2pa")]


@pytest.mark.parametrize("row", AI_ROWS, ids=[r["file"] for r in AI_ROWS])
def test_detection_never_depends_on_verification(row: dict[str, str]) -> None:
    """Over the verify limit only the manifest is read: same AI findings, tier declared."""
    result = scan_one(C2PA_FIX / row["file"], verify_limit_mb=0)
    assert result.verdict == "ai"
    assert set(row["rules"].split(",")) <= set(by_rule(result))
    for f in result.findings:
        assert f.tier == "declared"
        assert f.evidence["validation"] == "not verified (> verify limit)"
    assert any("not verified: file larger than verify limit" in n for n in notes(result))


def test_verify_all_overrides_the_limit() -> None:
    result = scan_one(C2PA_FIX / "formats" / "ai_created.wav", verify_limit_mb=0, verify_all=True)
    assert result.findings[0].evidence["validation"] == "valid, untrusted signer"


def test_sidecar_and_standalone_store() -> None:
    side = scan_one(C2PA_FIX / "scenarios" / "sidecar.jpg")
    f = side.findings[0]
    assert f.evidence["store"] == "sidecar sidecar.c2pa"
    assert f.evidence["validation"] == "valid, untrusted signer"  # the sidecar binds this JPEG

    alone = scan_one(C2PA_FIX / "scenarios" / "sidecar.c2pa")
    assert alone.asset.kind == "sidecar" and alone.asset.media_type == "application/c2pa"
    assert alone.findings[0].evidence["store"] == "standalone store"

    remote = scan_one(C2PA_FIX / "scenarios" / "remote_sidecar.jpg")
    assert remote.verdict == "ai"
    assert any("remote manifest reference" in n for n in notes(remote))

    bad = by_rule(scan_one(C2PA_FIX / "scenarios" / "bad_sidecar.jpg"))
    assert bad["c2pa.sidecar-unreadable"].location == "c2pa:sidecar[bad_sidecar.c2pa]"


def test_sidecar_of_a_format_c2pa_cannot_bind_is_still_read(tmp_path: Path) -> None:
    """An MKV cannot carry or bind C2PA; its .c2pa sidecar still says what was made by AI."""
    mkv = tmp_path / "clip.mkv"
    mkv.write_bytes(b"\x1a\x45\xdf\xa3" + bytes(60))
    alone = scan_one(mkv)
    assert alone.coverage[0].status == "not_applicable"
    (tmp_path / "clip.c2pa").write_bytes((C2PA_FIX / "scenarios" / "sidecar.c2pa").read_bytes())
    result = scan_one(mkv)
    assert result.verdict == "ai"
    # The sidecar was made for another file: read and judged, but its hash binding fails.
    f = result.findings[0]
    assert f.evidence["store"] == "sidecar clip.c2pa"
    assert f.evidence["validation"] == "invalid: assertion.dataHash.mismatch"
    assert f.tier == "declared"


def test_remote_reference_is_review_with_url() -> None:
    f = by_rule(scan_one(C2PA_FIX / "scenarios" / "remote_only.jpg"))["c2pa.remote-manifest"]
    assert f.value == "https://c2pa.invalid/manifests/remote_only.c2pa"
    assert f.location == "xmp:dcterms:provenance"


def test_png_named_jpg_is_read_by_content() -> None:
    result = scan_one(C2PA_FIX / "scenarios" / "png_named.jpg")
    assert result.asset.media_type == "image/png"
    assert result.verdict == "ai"


def test_damaged_file_without_c2pa_is_an_error_not_a_provenance_finding(tmp_path: Path) -> None:
    plain = (C2PA_FIX / "scenarios" / "unsigned.jpg").read_bytes()
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(plain[:200])
    result = scan_one(cut)
    # No sign of C2PA in its bytes: not a provenance finding, but never a silent clean either.
    assert not result.findings
    assert result.verdict == "error"
    assert "could not parse" in result.errors[0].message
    # The same damage inside a signed file's store is a provenance signal (review).
    assert scan_one(C2PA_FIX / "scenarios" / "truncated.jpg").verdict == "review"


# --------------------------------------------------------------------------------------------
# Real-world corpus


def _carries_c2pa(path: Path) -> bool:
    """Independent of the judging: does c2pa-rs find any C2PA (store, remote, damaged) here?"""
    import c2pa

    ctx = c2pa.Context.from_dict(rd.settings(False))
    try:
        with path.open("rb") as fh:
            out = rd.read_store(fh, None, ctx, verified=False, budget=rd.QUICK_BUDGET)
    finally:
        ctx.close()
    return out.kind in (rd.STORE, rd.REMOTE, rd.UNREADABLE)


def test_corpus_c2pa_files_are_judged_as_expected(corpus: Path) -> None:
    checked = []
    for row in corpus_rows():
        if row["expect"] not in ("ai", "clean", "review"):
            continue
        path = CORPUS / row["file"]
        result = scan_one(path)
        if _carries_c2pa(path):
            checked.append(row["file"])
            assert result.verdict == row["expect"], (row, result.findings, notes(result))
        else:
            assert not result.findings, (row["file"], result.findings)
            assert result.verdict in ("clean", "skipped")
    assert len(checked) >= 6, checked  # C.jpg, CA.jpg, cloud.jpg, video1.mp4, pdf, signed wav


def test_corpus_hostile_files_finish_fast(corpus: Path) -> None:
    import time

    for row in corpus_rows():
        if row["expect"] == "hostile":
            t0 = time.perf_counter()
            result = scan_one(CORPUS / row["file"])
            assert time.perf_counter() - t0 < 2.0
            assert not result.findings


# --------------------------------------------------------------------------------------------
# End to end through scanner.scan


def test_scanner_scan_end_to_end_on_scenarios() -> None:
    others = tuple(i.name for i in load_all() if i.name != "c2pa")
    report = scanner.scan([str(C2PA_FIX / "scenarios")], disable=others)
    got = {Path(r.asset.path).name: r for r in report.results}
    expected = {Path(r["file"]).name: r for r in ROWS if r["file"].startswith("scenarios/")}
    assert set(expected) <= set(got)
    for name, row in expected.items():
        assert got[name].verdict == row["verdict"], (name, got[name].findings)
    assert report.summary.exit_code == 1  # AI findings block the delivery
