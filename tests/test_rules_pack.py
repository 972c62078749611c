"""The metadata rule pack: every rule fires on each of its fixtures through the real pipeline,
clean controls stay clean, the matchers mean what the pack's docs say, and a malformed pack is
refused with a reason."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import FIXTURES
from helpers import scan_with

import detectors.rules as rules_mod
from detectors.metadata import MetadataDetector
from detectors.model import AssetResult, Field
from detectors.rules import RuleError, all_rules, load_pack, pack_version, to_finding
from tests import tools

META = FIXTURES / "meta"
DEEP_ONLY = {".mkv"}
CLEAN = ["clean.mp4", "clean.png", "clean.wav", "clean_camera.jpg"]


def scan_one(path: Path | str, **options: Any) -> AssetResult:
    return scan_with(MetadataDetector(), path, **options)


def _cases() -> list[tuple[str, str]]:
    return [(r.id, fx) for r in all_rules() for fx in r.fixtures]


def test_every_rule_has_an_existing_fixture() -> None:
    for rule in all_rules():
        assert rule.fixtures, f"{rule.id} has no fixture"
        for fx in rule.fixtures:
            assert (META / fx).is_file(), f"{rule.id}: fixture {fx} missing"


@pytest.mark.parametrize(("rule_id", "fixture"), _cases())
def test_rule_fires_on_its_fixture(rule_id: str, fixture: str) -> None:
    if Path(fixture).suffix in DEEP_ONLY:
        tools.require("exiftool")  # deep-tier fixture: make setup installs ExifTool
    result = scan_one(META / fixture)
    hits = [f for f in result.findings if f.rule == rule_id]
    assert hits, (rule_id, fixture, [f.rule for f in result.findings], result.errors)
    rule = next(r for r in all_rules() if r.id == rule_id)
    for f in hits:
        assert f.detector == "metadata"
        assert f.tier == rule.tier
        assert f.verdict in ("ai", "review")
        if rule.verdict != "table":
            assert f.verdict == rule.verdict
        assert f.value and f.location and f.message
        assert f.evidence["found_in"] and f.evidence["rule_pack"] == pack_version()
    assert result.verdict in ("ai", "review")
    assert not result.errors, result.errors


@pytest.mark.parametrize("name", CLEAN)
def test_clean_controls_are_not_flagged(name: str) -> None:
    result = scan_one(META / name)
    assert result.findings == (), [(f.rule, f.value) for f in result.findings]
    assert result.verdict == "clean"
    cov = next(c for c in result.coverage if c.detector == "metadata")
    assert cov.status == "applied"


def test_every_fixture_is_used_or_a_control() -> None:
    used = {fx for r in all_rules() for fx in r.fixtures} | set(CLEAN) | {"sidecar_asset.xmp"}
    assert sorted(p.name for p in META.iterdir() if p.name not in used) == []


def test_rule_ids_unique_and_well_formed() -> None:
    ids = [r.id for r in all_rules()]
    assert len(ids) == len(set(ids))
    assert all(i.startswith("meta.") for i in ids)
    assert len(ids) >= 30


def test_weak_signals_are_review_never_ai() -> None:
    by_id = {r.id: r for r in all_rules()}
    for rid in ("meta.veo.encoder", "meta.freetext.ai-mention", "meta.suno.url"):
        assert by_id[rid].verdict == "review"
    veo = scan_one(META / "veo.mp4")
    assert {(f.rule, f.verdict, f.tier) for f in veo.findings} == {
        ("meta.veo.encoder", "review", "suspected")}
    assert veo.verdict == "review"


def test_prompts_are_excerpted_and_hashed_unless_show_prompts() -> None:
    hidden = scan_one(META / "a1111_parameters.png")
    (f,) = [f for f in hidden.findings if f.rule == "meta.a1111.parameters"]
    assert "[sha256:" in f.value and "Seed: 1234567890" not in f.value
    assert len(f.value) < 200
    shown = scan_one(META / "a1111_parameters.png", show_prompts=True)
    (g,) = [f for f in shown.findings if f.rule == "meta.a1111.parameters"]
    assert "Seed: 1234567890" in g.value and "Model: v1-5-pruned-emaonly" in g.value
    assert "sha256" not in g.value


def test_source_type_judged_by_shared_table() -> None:
    result = scan_one(META / "iptc_composite.jpg")
    (f,) = result.findings
    assert (f.rule, f.verdict) == ("meta.iptc.dst", "review")
    assert f.evidence["source_type"] == "composite"
    camera = scan_one(META / "clean_camera.jpg")  # digitalCapture: known term, not AI
    assert camera.findings == ()
    google = scan_one(META / "google_credit.jpg")  # https:// form of the URI
    dst = [f for f in google.findings if f.rule == "meta.iptc.dst"]
    assert dst and dst[0].verdict == "ai" and dst[0].evidence["source_type"] == \
        "trainedAlgorithmicMedia"


def test_vendor_rule_takes_verdict_and_names_vendor() -> None:
    result = scan_one(META / "drawthings.png")
    (f,) = result.findings
    assert f.rule == "meta.tool.agent" and f.verdict == "ai"
    assert f.evidence["vendor_id"] == "vendor.drawthings"
    assert f.location == "xmp:xmp:CreatorTool"
    assert f.value == "Draw Things"


# --- matcher semantics on synthetic fields ------------------------------------------------

def _hits(*fields: tuple[str, str]) -> list[tuple[str, str]]:
    pack = load_pack()
    return sorted((h.rule.id, h.verdict)
                  for h in pack.evaluate([Field(k, v, "test") for k, v in fields]))


def test_keys_match_case_insensitively_and_with_wildcards() -> None:
    assert _hits(("PNG:Text:PARAMETERS", "x\nSteps: 20, Sampler: Euler a, CFG scale: 7")) == [
        ("meta.a1111.parameters", "ai")]
    assert _hits(("exiftool:Matroska:Prompt", json.dumps({"1": {"class_type": "K", "inputs": {}}}))
                 ) == [("meta.comfyui.prompt", "ai")]
    assert _hits(("id3:TXXX:Made", "made with suno; id=1")) == [("meta.suno.comment", "ai")]


def test_json_matcher_requires_paths() -> None:
    good = json.dumps({"4": {"inputs": {}, "class_type": "CheckpointLoaderSimple"}})
    assert _hits(("png:text:prompt", good)) == [("meta.comfyui.prompt", "ai")]
    # Easy Diffusion writes a plain-text `prompt`: not ComfyUI.
    assert _hits(("png:text:prompt", "a lighthouse at dusk")) == []
    assert _hits(("png:text:prompt", json.dumps({"4": {"inputs": {}}}))) == []
    assert _hits(("png:text:prompt", "{not json")) == []
    assert _hits(("exif:Make", "workflow:" + json.dumps({"nodes": []}))) == [
        ("meta.comfyui.exif-workflow", "ai")]
    assert _hits(("exif:Make", json.dumps({"nodes": []}))) == []  # prefix is required


def test_fallback_rules_only_fire_when_nothing_else_did() -> None:
    a1111 = "x\nSteps: 20, Sampler: Euler a, CFG scale: 7"
    assert _hits(("png:text:parameters", a1111)) == [("meta.a1111.parameters", "ai")]
    assert _hits(("png:text:parameters", "just words")) == [("meta.sd.parameters-key", "review")]
    assert _hits(("exif:ImageDescription", "made in Midjourney")) == [
        ("meta.freetext.ai-mention", "review")]
    assert _hits(("exif:ImageDescription", "Runway show, Paris")) == []


def test_free_text_names_are_review_even_when_strong_words() -> None:
    for text in ("AI-generated background plate", "Stable Diffusion concept", "DALL-E 3 mock"):
        assert _hits(("xmp:dc:description", text)) == [("meta.freetext.ai-mention", "review")]


def test_findings_dedupe_on_rule_key_value() -> None:
    pack = load_pack()
    f = Field("png:text:hf-job-id", "abc", "a")
    g = Field("png:text:hf-job-id", "abc", "b")
    assert len(pack.evaluate([f, g])) == 1


def test_to_finding_truncates_long_non_secret_values() -> None:
    pack = load_pack()
    (hit,) = pack.evaluate([Field("exif:ImageDescription", "Signature: " + "A" * 2000, "EXIF")])
    finding = to_finding(hit, "metadata", show_prompts=False)
    assert finding.rule == "meta.grok.signature"
    assert "more chars" in finding.value and len(finding.value) < 400


# --- pack loading -------------------------------------------------------------------------

@pytest.fixture
def fake_pack(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    def use(*files: tuple[str, str]) -> None:
        monkeypatch.setattr(rules_mod, "_files", lambda: list(files))
        load_pack.cache_clear()

    yield use
    load_pack.cache_clear()


GOOD = '''version = "1.0"
[[rule]]
id = "meta.x.y"
tool = "X"
field = "png:text:x"
match = "present"
verdict = "ai"
tier = "declared"
reference = "here"
fixtures = ["a.png"]
'''


def test_version_is_declared_plus_content_hash(fake_pack) -> None:  # type: ignore[no-untyped-def]
    fake_pack(("a.toml", GOOD))
    v1 = pack_version()
    assert v1.startswith("1.0+") and len(v1) == len("1.0+") + 8
    fake_pack(("a.toml", GOOD.replace('tool = "X"', 'tool = "Y"')))
    assert pack_version() != v1


@pytest.mark.parametrize(("change", "message"), [
    (('verdict = "ai"', 'verdict = "maybe"'), "verdict"),
    (('tier = "declared"', 'tier = "strong"'), "tier"),
    (('match = "present"', 'match = "fuzzy"'), "match"),
    (('id = "meta.x.y"', 'id = "x"'), "rule id"),
    (('match = "present"', 'match = "regex"\npattern = "("'), "bad pattern"),
    (('match = "present"', 'match = "json"'), "json needs"),
    (('reference = "here"', 'referense = "here"'), "unknown keys"),
    (('verdict = "ai"', 'verdict = "table"'), "table"),
])
def test_malformed_rules_are_refused(fake_pack, change: tuple[str, str],  # type: ignore[no-untyped-def]
                                     message: str) -> None:
    fake_pack(("a.toml", GOOD.replace(*change)))
    with pytest.raises(RuleError, match=message):
        load_pack()
    ok, why = MetadataDetector().available()
    assert not ok and "rule pack invalid" in why


def test_duplicate_ids_refused(fake_pack) -> None:  # type: ignore[no-untyped-def]
    fake_pack(("a.toml", GOOD), ("b.toml", GOOD))
    with pytest.raises(RuleError, match="duplicate"):
        load_pack()


def test_rules_command_lists_every_rule_of_every_detector() -> None:
    """A policy author sees the ids of C2PA, watermark and register rules too."""
    from scanner.cli import main

    res = CliRunner().invoke(main, ["rules"])
    assert res.exit_code == 0, res.output
    for rule in all_rules():
        assert rule.id in res.output
    for rid in ("c2pa.dst.trainedAlgorithmicMedia", "c2pa.vendor.openai", "c2pa.remote-manifest",
                "watermark.sdxl.very_likely", "watermark.flux1.partial", "register.exact",
                "register.audio.landmarks"):
        assert rid in res.output, rid
    res = CliRunner().invoke(main, ["rules", "--json"])
    doc = json.loads(res.output)
    assert doc["detectors"]["metadata"]["rules"] == pack_version()
    ids = {r["id"] for r in doc["rules"]}
    assert {r.id for r in all_rules()} <= ids
    tc = next(r for r in doc["rules"] if r["id"] == "meta.iptc.dst")
    assert tc["verdict"] == "table" and "xmp:Iptc4xmpExt:DigitalSourceType" in tc["fields"]
    assert {r["detector"] for r in doc["rules"]} >= {"c2pa", "metadata", "watermark", "register"}


def test_version_reaches_the_tool_info() -> None:
    from scanner.versions import tool_info

    assert f"rules {pack_version()}" in str(tool_info()["rulepack"])


@pytest.mark.parametrize(("value", "vendor"), [
    ("ComfyUI 0.3.10", "vendor.sd-frontends"), ("InvokeAI 3.6.0", "vendor.sd-frontends"),
    ("Fooocus v2.5.5", "vendor.fooocus"), ("NovelAI", "vendor.novelai"),
    ("Stable Diffusion (github.com/basujindal/stable-diffusion) txt2img", "vendor.stability"),
])
def test_tool_fields_name_generators_through_the_vendor_table(value: str, vendor: str) -> None:
    pack = load_pack()
    for key in ("exif:Software", "xmp:xmp:CreatorTool", "riff:INFO:ISFT", "bmff:ilst:©too"):
        (hit,) = pack.evaluate([Field(key, value, "t")])
        assert (hit.rule.id, hit.evidence["vendor_id"]) == ("meta.tool.agent", vendor)
    for human in ("GIMP 2.10.36", "Adobe Photoshop 25.0", "Lavf59.27.100", "Pro Tools"):
        assert pack.evaluate([Field("exif:Software", human, "t")]) == []


def test_unknown_source_type_is_noted_not_flagged() -> None:
    notes: list[str] = []
    pack = load_pack()
    value = "http://cv.iptc.org/newscodes/digitalsourcetype/somethingNew"
    assert pack.evaluate([Field("xmp:Iptc4xmpExt:DigitalSourceType", value, "t")], notes) == []
    assert notes == [f"unknown digitalSourceType {value!r} in xmp:Iptc4xmpExt:DigitalSourceType"]
