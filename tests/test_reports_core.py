"""JSON validates against the documented schema; CSV opens in csv; JSONL lines parse; the
table flags first. All on a real scan of a temporary tree."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

import jsonschema
import pytest

from detectors.model import Report
from scanner.reports import writer_for
from scanner.runner import ScanConfig, run_scan

SCHEMA = json.loads((Path(__file__).resolve().parent.parent / "scanner" / "schema"
                     / "report.schema.json").read_text())


@pytest.fixture
def scanned(tmp_path: Path, marker_only) -> Report:  # type: ignore[no-untyped-def]
    (tmp_path / "ai.bin").write_bytes(b"AI-MARK")
    (tmp_path / "rev.bin").write_bytes(b"REVIEW-MARK")
    (tmp_path / "ok.bin").write_bytes(b"fine")
    (tmp_path / os.fsdecode(b"bad\xffname.bin")).write_bytes(b"fine")
    (tmp_path / "nl\nname.bin").write_bytes(b"AI-MARK")
    os.mkfifo(tmp_path / "pipe")
    return run_scan(ScanConfig(roots=[str(tmp_path)]), detectors=marker_only)


def _render(fmt: str, report: Report) -> str:
    out = io.StringIO()
    w = writer_for(fmt, out)
    for r in report.results:
        w.add(r)
    w.finish(report)
    return out.getvalue()


def test_json_matches_schema_and_paths_are_reversible(scanned: Report) -> None:
    doc = json.loads(_render("json", scanned))
    jsonschema.Draft202012Validator(SCHEMA).validate(doc)
    assert doc["schema"] == "deliverscan.report/1"
    by = {os.path.basename(r["path"]): r for r in doc["results"]}
    bad = by["bad\\xffname.bin"]
    import base64

    assert base64.b64decode(bad["path_b64"]).endswith(b"bad\xffname.bin")
    assert by["ai.bin"]["verdict"] == "ai" and by["ai.bin"]["blocking"] is True
    assert by["ai.bin"]["findings"][0]["rule"] == "fake.ai"
    assert by["pipe"]["verdict"] == "skipped" and "FIFO" in by["pipe"]["skip_reason"]
    assert doc["summary"]["exit_code"] == 1
    assert doc["summary"]["verdicts"] == {"ai": 2, "review": 1, "clean": 2, "skipped": 1}


def test_jsonl_one_line_per_result_then_summary(scanned: Report) -> None:
    lines = _render("jsonl", scanned).splitlines()
    parsed = [json.loads(line) for line in lines]
    assert [p["type"] for p in parsed] == ["result"] * 6 + ["summary"]
    assert parsed[-1]["summary"]["files"] == 6
    assert "nl\nname.bin" in "".join(p.get("path", "") for p in parsed)


def test_csv_opens_and_lists_every_asset(scanned: Report) -> None:
    rows = list(csv.DictReader(io.StringIO(_render("csv", scanned).removeprefix("\ufeff"))))
    assert len(rows) == 6  # one row per finding + one per asset without findings
    ai = [r for r in rows if r["verdict"] == "ai"]
    assert {r["rule"] for r in ai} == {"fake.ai"}
    assert {r["verdict"] for r in rows} == {"ai", "review", "clean", "skipped"}


def test_table_flags_first_and_explains_clean(scanned: Report) -> None:
    text = _render("table", scanned)
    lines = text.splitlines()
    assert lines[0].startswith("AI ")
    assert "nl\\nname.bin" in text  # control characters escaped, one line per asset
    assert "Verdict: BLOCKED: 2 files block the delivery; 1 file for review (exit 1)" in text
    assert "AI* / REVIEW*: not blocking" in text  # the legend for the starred labels
    assert "not proof of human origin" in text
