"""``deliverscan explain FILE``: every detector's coverage (negative results included), every
finding with its full evidence (a manifest chain as a tree), the policy mode, matching
approvals, the verdict, an optional detector ``explain()`` hook; text fits one screen."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from PIL import Image, PngImagePlugin

import scanner.explain as explain_mod
from detectors import AssetContext, Detector, Finding
from detectors.model import Asset
from detectors.registry import Loaded
from scanner.cli import main

SCREEN = 50  # lines in a typical terminal


def ai_png(path: Path) -> str:
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", "AI-MARK a castle at dusk, Steps: 20")
    Image.new("RGB", (40, 30), (90, 10, 10)).save(path, pnginfo=info)
    return hashlib.sha256(path.read_bytes()).hexdigest()


class ChainDetector(Detector):
    """In-process test detector: a C2PA-like finding with a manifest chain in its evidence,
    a negative note when there is no marker, and an ``explain`` hook."""

    name = "chaintest"
    version = "1"
    kinds = frozenset({"image"})

    def detect(self, asset: Asset, ctx: AssetContext) -> Iterator[Finding]:
        if b"CHAIN" not in ctx.head:
            ctx.note("no C2PA store")
            return
        yield Finding(self.name, "chain.ai", "ai", "verified",
                      "c2pa:manifest[urn:uuid:b]/c2pa.actions.v2/actions[0]",
                      "trainedAlgorithmicMedia", "active manifest says AI-generated",
                      {"path": ["urn:uuid:b (active)", "urn:uuid:a (parentOf)"],
                       "manifests": [{"label": "urn:uuid:b", "claim_generator": "Gen/2",
                                      "ingredients": [{"label": "urn:uuid:a",
                                                       "claim_generator": "Firefly/1"}]}],
                       "signer": {"issuer": "Test CA", "validation_state": "Trusted"}})

    def explain(self, asset: Asset, ctx: AssetContext) -> dict[str, Any]:
        return {"store": "present" if b"CHAIN" in ctx.head else "absent",
                "bytes_seen": len(ctx.head)}


@pytest.fixture
def with_chain(monkeypatch: pytest.MonkeyPatch, marker_only) -> None:  # type: ignore[no-untyped-def]
    det = ChainDetector()
    loaded = [*marker_only, Loaded(det.name, "plugin:test", det, True)]
    monkeypatch.setattr(explain_mod, "load_all", lambda: loaded)


def run(*args: str):  # type: ignore[no-untyped-def]
    res = CliRunner().invoke(main, ["explain", *args])
    assert res.exception is None or isinstance(res.exception, SystemExit), res.output
    return res


def test_explain_flagged_file_with_approval_fits_one_screen(tmp_path: Path, with_chain) -> None:  # type: ignore[no-untyped-def]
    f = tmp_path / "plate.png"
    sha = ai_png(f)
    pol = tmp_path / "policy.toml"
    pol.write_text(f'[[approvals]]\nsha256 = "{sha}"\nref = "VFX-3"\nby = "Ann"\n'
                   f'reason = "approved plate"\nexpires = 2099-01-01\n')
    res = run(str(f), "--policy", str(pol))
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert len(lines) <= SCREEN, res.output
    text = res.output
    assert lines[0] == str(f)
    assert f"image · image/png · {f.stat().st_size} bytes · sha256 {sha}" in text
    assert "Verdict: AI — not blocking (approved) (exit 0)" in text
    assert "fakemarker   applied         1 finding(s)" in text
    assert "chaintest    applied         no findings; no C2PA store" in text  # negative result
    assert "[1] fakemarker:fake.ai  ai · declared · policy overridable  APPROVED VFX-3 by Ann" in text
    assert "VFX-3 by Ann on ? until 2099-01-01: applies — approved plate" in text
    assert "chaintest: 2 line(s) (--full shows them)" in text
    full = run(str(f), "--policy", str(pol), "--full").output
    assert "chaintest explain:" in full and "store: absent" in full


def test_explain_shows_manifest_chain_tree_and_blocking(tmp_path: Path, with_chain) -> None:  # type: ignore[no-untyped-def]
    f = tmp_path / "chain.png"
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "CHAIN")
    Image.new("RGB", (8, 8)).save(f, pnginfo=info)
    res = run(str(f))
    assert res.exit_code == 1
    text = res.output
    assert "Verdict: AI — BLOCKING (exit 1)" in text
    assert "[1] chaintest:chain.ai  ai · verified · policy overridable" in text
    chain = text[text.index("manifest chain:"):text.index("evidence:")].splitlines()
    assert chain[1].strip() == "└─ urn:uuid:b (active)"
    assert chain[2].strip() == "└─ urn:uuid:a (parentOf)"
    assert chain[2].index("└─") > chain[1].index("└─")  # nested one level deeper
    assert any("└─ urn:uuid:b  claim_generator=Gen/2" in ln for ln in chain)
    inner = [ln for ln in chain if "urn:uuid:a  claim_generator=Firefly/1" in ln]
    outer = [ln for ln in chain if "urn:uuid:b  claim_generator" in ln]
    assert inner and outer and inner[0].index("└─") > outer[0].index("└─")
    assert "signer:" in text and "validation_state: Trusted" in text
    assert "deliverscan approve FILE" in text  # how to waive it, when overridable


def test_explain_json(tmp_path: Path, with_chain) -> None:  # type: ignore[no-untyped-def]
    f = tmp_path / "plate.png"
    ai_png(f)
    pol = tmp_path / "policy.toml"
    pol.write_text('[rules]\n"fake.ai" = "blocking"\n')
    res = run(str(f), "--policy", str(pol), "--format", "json")
    assert res.exit_code == 1
    doc = json.loads(res.output)
    assert doc["schema"] == "deliverscan.explain/1"
    assert doc["result"]["verdict"] == "ai" and doc["result"]["blocking"] is True
    assert doc["modes"] == ["blocking"]
    assert doc["explain"]["chaintest"] == {"store": "absent", "bytes_seen": f.stat().st_size}
    assert [c["detector"] for c in doc["result"]["coverage"]] == ["fakemarker", "chaintest"]


def test_explain_unreadable_and_folder(tmp_path: Path, marker_only, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(explain_mod, "load_all", lambda: marker_only)
    f = tmp_path / "x.bin"
    f.write_bytes(b"INCOMPLETE")
    res = run(str(f))
    assert res.exit_code == 2
    assert "error: fakemarker: could not finish: INCOMPLETE marker" in res.output
    res = run(str(tmp_path))
    assert res.exit_code == 2 and "explain takes files" in res.output


def test_explain_real_detectors_on_fixtures_fit_one_screen() -> None:
    """Committed fixtures (the first media file of each folder, at most 12) explain in about
    one screen with the built-in detectors."""
    root = Path(__file__).resolve().parent.parent / "fixtures"
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in (
        ".jpg", ".png", ".mp4", ".mov", ".wav", ".mp3", ".webp", ".tif", ".heic"))
    firsts = list({p.parent: p for p in reversed(files)}.values())
    assert firsts, "the committed media fixtures are missing"
    for p in sorted(firsts)[:12]:
        res = CliRunner().invoke(main, ["explain", str(p)])
        assert res.exception is None or isinstance(res.exception, SystemExit), (p, res.output)
        assert res.exit_code in (0, 1, 2)
        assert len(res.output.splitlines()) <= SCREEN + 10, (p, res.output)


def test_chain_from_c2pa_manifest_path_text() -> None:
    """The C2PA detector's evidence shape: ``manifest_path`` as arrow-joined text."""
    lines = explain_mod.chain_lines({
        "manifest": "urn:c2pa:7bd9", "claim_generator": "Gen 1.0",
        "validation": "valid, untrusted signer",
        "manifest_path": 'active → parentOf "mid.png" → parentOf "ai.png"'}, 0)
    assert lines == ["└─ active", '  └─ parentOf "mid.png"',
                     '    └─ parentOf "ai.png"  [urn:c2pa:7bd9; Gen 1.0; valid, untrusted signer]']
    assert explain_mod.chain_lines({"manifest_path": "active"}) == []
