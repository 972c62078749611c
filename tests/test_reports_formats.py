"""HTML, JUnit and SARIF reports from a real CLI scan of a small delivery: JUnit validated
against the common JUnit schema, SARIF against the OASIS 2.1.0 schema (both bundled under
tests/schemas), the HTML checked to be self-contained; the approved asset shows as approved in
every format; every format is written even when the delivery is clean."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import struct
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urljoin, urlparse

import cv2
import jsonschema
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image, PngImagePlugin

from scanner.cli import main

SCHEMAS = Path(__file__).resolve().parent / "schemas"
FORMATS = ("html", "junit", "sarif", "csv", "json")


def ai_png(path: Path, color: tuple[int, int, int], size: tuple[int, int] = (64, 48)) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", "AI-MARK masterpiece, best quality")
    Image.new("RGB", size, color).save(path, pnginfo=info)
    return hashlib.sha256(path.read_bytes()).hexdigest()


def ai_mp4(path: Path, color: tuple[int, int, int]) -> None:
    """A real MP4 (OpenCV writer) with a trailing ``free`` box holding the test marker."""
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, (64, 48))
    assert writer.isOpened()
    frame = np.zeros((48, 64, 3), np.uint8)
    frame[:] = color[::-1]  # BGR
    for _ in range(12):
        writer.write(frame)
    writer.release()
    with open(path, "ab") as fh:
        fh.write(struct.pack(">I", 15) + b"free" + b"AI-MARK")


def scan_cli(tree: Path, out: Path, *extra: str) -> tuple[int, dict[str, Path]]:
    paths = {fmt: out / f"report.{fmt}" for fmt in FORMATS}
    args = ["scan", str(tree), "--jobs", "0", "--no-cache", "-o", str(out / "table.txt")]
    for fmt, p in paths.items():
        args += ["--report", f"{fmt}:{p}"]
    res = CliRunner().invoke(main, args + list(extra))
    assert res.exception is None or isinstance(res.exception, SystemExit), res.output
    return res.exit_code, paths


def xml_tree(el: ET.Element) -> dict[str, Any]:
    return {"tag": el.tag, "attrs": dict(el.attrib), "text": el.text or "",
            "children": [xml_tree(c) for c in el]}


def validate_junit(path: Path) -> ET.Element:
    root = ET.parse(path).getroot()
    schema = json.loads((SCHEMAS / "junit.schema.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(xml_tree(root))
    order = {"properties": 0, "testcase": 1, "system-out": 2, "system-err": 3}
    for suite in root:
        ranks = [order[c.tag] for c in suite]
        assert ranks == sorted(ranks), "testsuite children out of schema order"
        assert int(suite.get("tests", "-1")) == len(suite.findall("testcase"))
        for attr, tag in (("failures", "failure"), ("errors", "error"), ("skipped", "skipped")):
            assert int(suite.get(attr, "0")) == sum(1 for c in suite.iter("testcase")
                                                    if c.find(tag) is not None)
        for case in suite.iter("testcase"):
            assert len(case.findall("skipped")) <= 1 and len(case.findall("system-out")) <= 1
    return root


def validate_sarif(path: Path) -> dict[str, Any]:
    doc = json.loads(path.read_text(encoding="utf-8"))
    schema = json.loads((SCHEMAS / "sarif-schema-2.1.0.json").read_text())
    jsonschema.Draft4Validator(schema).validate(doc)
    run = doc["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    for r in run["results"]:
        assert rules[r["ruleIndex"]]["id"] == r["ruleId"]
    return doc


def sarif_path(run: dict[str, Any], location: dict[str, Any]) -> str:
    art = location["physicalLocation"]["artifactLocation"]
    base = run["originalUriBaseIds"][art["uriBaseId"]]["uri"] if "uriBaseId" in art else ""
    return unquote(urlparse(urljoin(base, art["uri"])).path)


@pytest.fixture
def delivery(tmp_path: Path, fake_plugin: Path) -> dict[str, Any]:
    tree = tmp_path / "delivery"
    shas = {
        "plate.png": ai_png(tree / "plates" / "plate.png", (220, 30, 30)),
        "poster.png": ai_png(tree / "art" / "poster.png", (30, 220, 30)),
    }
    ai_mp4(tree / "video" / "teaser.mp4", (30, 30, 220))
    Image.new("RGB", (8, 8), (128, 128, 128)).save(tree / "art" / "clean.png")
    (tree / "docs").mkdir()
    (tree / "docs" / "notes.bin").write_bytes(b"REVIEW-MARK")
    (tree / "docs" / "broken.bin").write_bytes(b"INCOMPLETE")
    os.mkfifo(tree / "docs" / "pipe")
    policy = tmp_path / "policy.toml"
    policy.write_text(textwrap.dedent(f"""\
        # desk policy
        [[approvals]]
        sha256 = "{shas['plate.png']}"
        ref = "VFX-1042"
        by = "Ann Lee"
        reason = "background plate approved by the studio"
        date = 2026-01-05
        expires = 2099-01-01
        """))
    out = tmp_path / "out"
    out.mkdir()
    return {"tree": tree, "policy": policy, "out": out, "shas": shas}


def test_all_formats_on_a_delivery(delivery: dict[str, Any]) -> None:
    code, paths = scan_cli(delivery["tree"], delivery["out"], "--policy", str(delivery["policy"]))
    assert code == 2  # broken.bin could not be checked: incomplete outranks findings

    # JUnit: schema-valid; failure per blocking asset, error for the unreadable, skipped FIFO.
    root = validate_junit(paths["junit"])
    cases = {Path(c.get("name")).name: c for c in root.iter("testcase")}
    assert len(cases) == 7
    assert cases["poster.png"].find("failure") is not None
    assert cases["teaser.mp4"].find("failure") is not None
    assert cases["plate.png"].find("failure") is None
    assert "APPROVED VFX-1042 by Ann Lee" in cases["plate.png"].findtext("system-out")
    assert "could not finish: INCOMPLETE marker" in cases["broken.bin"].find("error").get("message")
    assert "FIFO" in cases["pipe"].find("skipped").get("message")
    assert cases["notes.bin"].find("failure") is None  # review does not fail under fail_on=ai
    assert "not blocking" in cases["notes.bin"].findtext("system-out")
    assert all(c.find("failure") is None and c.find("error") is None
               for n, c in cases.items() if n == "clean.png")

    # SARIF: schema-valid; approved finding kept as a suppressed result; locations resolve.
    doc = validate_sarif(paths["sarif"])
    run = doc["runs"][0]
    by_file = {Path(sarif_path(run, r["locations"][0])).name: r for r in run["results"]}
    assert set(by_file) == {"plate.png", "poster.png", "teaser.mp4", "notes.bin"}
    for r in run["results"]:
        assert Path(sarif_path(run, r["locations"][0])).is_file()
    sup = by_file["plate.png"]["suppressions"]
    assert sup[0]["status"] == "accepted" and sup[0]["kind"] == "external"
    assert "VFX-1042 approved by Ann Lee" in sup[0]["justification"]
    assert "suppressions" not in by_file["poster.png"]
    assert by_file["poster.png"]["level"] == "error" and by_file["notes.bin"]["level"] == "warning"
    assert by_file["plate.png"]["partialFingerprints"]["contentSha256/v1"] == \
        delivery["shas"]["plate.png"]
    inv = run["invocations"][0]
    assert inv["executionSuccessful"] is False and inv["exitCode"] == 2
    assert any("INCOMPLETE" in n["message"]["text"] for n in inv["toolExecutionNotifications"])

    # HTML: self-contained, approved shown, previews for flagged image and video, coverage.
    page = paths["html"].read_text(encoding="utf-8")
    assert not re.search(r"<script[^>]*\bsrc\b", page, re.I)  # inline only: nothing loads
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", page)
    assert "url(" not in page and "@import" not in page
    previews = re.findall(r'<img class=thumb src="data:image/jpeg;base64,[A-Za-z0-9+/=]+" '
                          r'alt="preview of ([^"]+)"', page)
    assert sorted(previews) == ["plate.png", "poster.png", "teaser.mp4"]
    flagged = page[page.index("id=flagged"):page.index("id=approvals")]
    assert flagged.index("poster.png") < flagged.index("plate.png")  # blocking rows first
    row = flagged[flagged.index("plate.png"):]
    assert "APPROVED" in row[:row.index("</tr>")] and "VFX-1042" in row[:row.index("</tr>")]
    approvals = page[page.index("id=approvals"):page.index("id=evidence")]
    assert "VFX-1042" in approvals and "background plate approved by the studio" in approvals
    coverage = page[page.index("id=coverage"):]
    assert "could not finish: INCOMPLETE marker" in coverage and "FIFO" in coverage
    assert "SCAN INCOMPLETE" in page[:page.index("<main>")]

    # CSV and JSON carry the approval too.
    rows = list(csv.DictReader(paths["csv"].open(encoding="utf-8-sig")))
    plate = [r for r in rows if r["path"].endswith("plate.png")]
    assert plate[0]["approved"] == "yes" and plate[0]["approval_ref"] == "VFX-1042"
    report = json.loads(paths["json"].read_text(encoding="utf-8"))
    (plate_json,) = [r for r in report["results"] if r["path"].endswith("plate.png")]
    assert plate_json["findings"][0]["approval"]["by"] == "Ann Lee"
    assert (delivery["out"] / "table.txt").read_text().count("APPROVED VFX-1042") == 1


def test_reports_written_when_clean(tmp_path: Path, fake_plugin: Path) -> None:
    tree = tmp_path / "clean"
    tree.mkdir()
    Image.new("RGB", (8, 8)).save(tree / "a.png")
    out = tmp_path / "out"
    out.mkdir()
    code, paths = scan_cli(tree, out)
    assert code == 0
    root = validate_junit(paths["junit"])
    assert [c.get("name") for c in root.iter("testcase")] == [str(tree / "a.png")]
    assert root.get("failures") == "0" and root.get("errors") == "0"
    doc = validate_sarif(paths["sarif"])
    assert doc["runs"][0]["results"] == [] and doc["runs"][0]["invocations"][0]["exitCode"] == 0
    page = paths["html"].read_text(encoding="utf-8")
    assert "NO AI MARKERS FOUND" in page and "No AI or review findings." in page
    assert "Clean files (1)" in page


def test_junit_and_sarif_with_hostile_names(tmp_path: Path, fake_plugin: Path) -> None:
    tree = tmp_path / "d"
    tree.mkdir()
    (tree / "ctl\x01\nname.bin").write_bytes(b"AI-MARK")
    (tree / os.fsdecode(b"bad\xffname.bin")).write_bytes(b"AI-MARK")
    (tree / "sp ace#%.bin").write_bytes(b"AI-MARK")
    out = tmp_path / "out"
    out.mkdir()
    code, paths = scan_cli(tree, out)
    assert code == 1
    names = sorted(Path(c.get("name")).name for c in validate_junit(paths["junit"]).iter("testcase"))
    assert names == ["bad\\xffname.bin", "ctl\\x01\\nname.bin", "sp ace#%.bin"]
    run = validate_sarif(paths["sarif"])["runs"][0]
    found = {os.fsencode(Path(sarif_path(run, r["locations"][0])).name) for r in run["results"]}
    # Exact bytes survive percent-encoding (quote/unquote of the raw name).
    assert {os.fsencode(unquote(urlparse(r["locations"][0]["physicalLocation"]
                                         ["artifactLocation"]["uri"]).path, errors="surrogateescape")
                        ).rsplit(b"/", 1)[-1] for r in run["results"]} == {
        b"ctl\x01\nname.bin", b"bad\xffname.bin", b"sp ace#%.bin"}
    assert len(found) == 3
    page = paths["html"].read_text(encoding="utf-8")
    assert "ctl\\x01\\nname.bin" in page and "bad\\xffname.bin" in page
