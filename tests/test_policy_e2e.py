"""The "done" scenario, end to end through the CLI with the real built-in detectors: a delivery
with several AI files (C2PA-signed as trainedAlgorithmicMedia, made here with the fixture
generator's signing helpers and a fresh test PKI), one approved with ``deliverscan approve``.
The scan fails on the others only; every report format shows the approved one as approved;
re-editing the waived file makes it fail again."""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from PIL import Image

from fixtures import gen_c2pa as gen
from scanner.cli import main

FORMATS = ("json", "jsonl", "csv", "html", "junit", "sarif")


@pytest.fixture(scope="module")
def signer() -> Any:
    pki = gen.make_pki()
    return gen.make_signer(pki.chain, pki.leaf_key)


def signed_ai_png(path: Path, colour: tuple[int, int, int], signer: Any) -> None:
    buf = io.BytesIO()
    Image.new("RGB", (48, 32), colour).save(buf, "PNG")
    definition = gen.manifest(path.name, [gen.created("trainedAlgorithmicMedia")])
    data, _ = gen.sign(buf.getvalue(), "image/png", definition, signer)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def scan(tree: Path, policy: Path, out: Path) -> tuple[int, dict[str, Path]]:
    out.mkdir(exist_ok=True)
    paths = {fmt: out / f"r.{fmt}" for fmt in FORMATS}
    args = ["scan", str(tree), "--policy", str(policy), "--no-cache", "--jobs", "1", "-o", str(out / "t.txt")]
    for fmt, p in paths.items():
        args += ["--report", f"{fmt}:{p}"]
    res = CliRunner().invoke(main, args)
    assert res.exception is None or isinstance(res.exception, SystemExit), res.output
    paths["table"] = out / "t.txt"
    return res.exit_code, paths


def approved_in_every_format(paths: dict[str, Path], name: str) -> dict[str, bool]:
    """Per format: is ``name`` shown as approved (and not blocking)?"""
    seen: dict[str, bool] = {}
    doc = json.loads(paths["json"].read_text())
    r = next(r for r in doc["results"] if r["path"].endswith(name))
    seen["json"] = not r["blocking"] and all(f["approved"] for f in r["findings"])
    lines = [json.loads(x) for x in paths["jsonl"].read_text().splitlines()]
    r = next(x for x in lines if x.get("path", "").endswith(name))
    seen["jsonl"] = not r["blocking"] and all(f["approved"] for f in r["findings"])
    rows = [x for x in csv.DictReader(paths["csv"].open(encoding="utf-8-sig"))
            if x["path"].endswith(name)]
    seen["csv"] = bool(rows) and all(x["approved"] == "yes" and x["approval_ref"] == "LEGAL-77"
                                     for x in rows)
    page = paths["html"].read_text()
    table = page[page.index("id=flagged"):page.index("id=approvals")]
    row = next((tr for tr in table.split("<tr>") if name in tr), "")
    seen["html"] = "APPROVED" in row and "LEGAL-77" in row and "BLOCKING" not in row
    case = next(c for c in ET.parse(paths["junit"]).getroot().iter("testcase")
                if c.get("name").endswith(name))
    seen["junit"] = case.find("failure") is None and "APPROVED LEGAL-77" in (
        case.findtext("system-out") or "")
    run = json.loads(paths["sarif"].read_text())["runs"][0]
    results = [x for x in run["results"] if x["locations"][0]["physicalLocation"]
               ["artifactLocation"]["uri"].endswith(name)]
    seen["sarif"] = bool(results) and all(
        x.get("suppressions") and "LEGAL-77" in x["suppressions"][0]["justification"]
        for x in results)
    seen["table"] = any(name in line and line.startswith("AI*")
                        for line in paths["table"].read_text().splitlines())
    return seen


def test_delivery_with_one_approved_ai_file(tmp_path: Path, signer: Any) -> None:
    tree = tmp_path / "delivery"
    signed_ai_png(tree / "vfx" / "bg_plate.png", (200, 40, 40), signer)
    signed_ai_png(tree / "vfx" / "crowd.png", (40, 200, 40), signer)
    signed_ai_png(tree / "art" / "poster.png", (40, 40, 200), signer)
    Image.new("RGB", (16, 16), (9, 9, 9)).save(tree / "art" / "photo.png")
    policy = tmp_path / "desk" / "policy.toml"
    policy.parent.mkdir()

    res = CliRunner().invoke(main, ["approve", str(tree / "vfx" / "bg_plate.png"), "--policy",
                                    str(policy), "--ref", "LEGAL-77", "--by", "Dana Producer",
                                    "--reason", "background plate, written approval 2026-03",
                                    "--expires", "2099-12-31"])
    assert res.exit_code == 0, res.output
    assert "waives 1 of 1 finding(s) (c2pa.dst.trainedAlgorithmicMedia)" in res.output

    code, paths = scan(tree, policy, tmp_path / "run1")
    assert code == 1
    doc = json.loads(paths["json"].read_text())
    blocking = sorted(Path(r["path"]).name for r in doc["results"] if r["blocking"])
    assert blocking == ["crowd.png", "poster.png"]
    assert doc["summary"]["approved_findings"] == 1
    finding = next(r for r in doc["results"] if r["path"].endswith("bg_plate.png"))["findings"][0]
    assert finding["detector"] == "c2pa" and finding["tier"] == "verified"
    assert finding["approval"]["ref"] == "LEGAL-77"
    assert approved_in_every_format(paths, "bg_plate.png") == {
        fmt: True for fmt in (*FORMATS, "table")}
    junit = ET.parse(paths["junit"]).getroot()
    assert junit.get("failures") == "2"

    # Renaming keeps the approval; re-editing (new content, still AI) voids it.
    (tree / "vfx" / "bg_plate.png").rename(tree / "vfx" / "bg_plate_v2.png")
    code, paths = scan(tree, policy, tmp_path / "run2")
    assert code == 1
    assert approved_in_every_format(paths, "bg_plate_v2.png")["json"] is True
    signed_ai_png(tree / "vfx" / "bg_plate_v2.png", (201, 40, 40), signer)
    code, paths = scan(tree, policy, tmp_path / "run3")
    assert code == 1
    doc = json.loads(paths["json"].read_text())
    assert sorted(Path(r["path"]).name for r in doc["results"] if r["blocking"]) == [
        "bg_plate_v2.png", "crowd.png", "poster.png"]
    assert not any(approved_in_every_format(paths, "bg_plate_v2.png").values())
    res = CliRunner().invoke(main, ["policy", "check", str(policy), str(tree)])
    assert res.exit_code == 1 and "stale: approval LEGAL-77" in res.output
