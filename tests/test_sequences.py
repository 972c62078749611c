"""Image sequences: every frame is checked, reports show one entry per sequence naming the
flagged, unreadable, missing and odd-sized frames (fixtures made by fixtures/gen_sequences.py)."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

import scanner
from scanner.sequences import grouped, parse_frame, sample_frames

ROOT = Path(__file__).resolve().parents[1]
SEQ = ROOT / "fixtures" / "sequences"
EXE = str(Path(sys.executable).with_name("deliverscan"))
PLATE = str(SEQ / "comp" / "plate_v003.[1001-1012].png")


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([EXE, *args], capture_output=True, text=True, timeout=120)


def test_frames_are_checked_one_by_one_and_shown_as_one_sequence() -> None:
    report = scanner.scan([str(SEQ)])
    assert report.summary.files == 21  # counts stay the frames' own
    assert report.summary.verdicts == {"ai": 1, "clean": 18, "error": 1, "skipped": 1}
    assert report.summary.exit_code == 2
    shown = {r.asset.path: r for r in grouped(report.results)}
    plate = shown[PLATE]
    assert plate.verdict == "ai" and plate.blocking
    assert plate.asset.notes == ("image sequence: 11 frames 1001-1012, 1 flagged: 1008, 1 could "
                                 "not be checked: 1010, 1 missing: 1005, mixed resolutions: "
                                 "64x32 ×10, 80x40 ×1",)
    seq = plate.sequence
    assert seq is not None and (seq.first, seq.last, seq.count) == (1001, 1012, 11)
    assert seq.missing == ((1005, 1005),)
    assert [(n, r.verdict) for n, r in seq.frames] == [(1008, "ai"), (1010, "error")]
    (finding,) = plate.findings
    assert finding.evidence["frame"] == 1008
    assert finding.evidence["file"].endswith("plate_v003.1008.png")
    assert all(e.message.startswith("frame 1010: ") for e in plate.errors)
    scans = shown[str(SEQ / "scans" / "A001C003_[000101-000106].tif")]
    assert scans.verdict == "clean" and scans.sequence and scans.sequence.count == 6
    # three versions of a still are not a sequence; the Nuke script is listed on its own
    assert str(SEQ / "stills" / "logo_v002.png") in shown
    assert shown[str(SEQ / "comp" / "plate_v003.nk")].verdict == "skipped"
    assert len(shown) == 6


def test_every_report_format_groups_the_sequence(tmp_path: Path) -> None:
    res = run("scan", str(SEQ / "comp"), "--no-cache", "--output-dir", str(tmp_path),
              "--formats", "json,csv,html,junit,sarif,jsonl")
    assert res.returncode == 2, res.stderr
    table = run("scan", str(SEQ / "comp"), "--no-cache").stdout
    assert "plate_v003.[1001-1012].png" in table and "frame 1008:" in table
    assert "plate_v003.1003.png" not in table
    doc = json.loads((tmp_path / "report.json").read_text())
    assert [r["path"].rsplit("/", 1)[1] for r in doc["results"]] == [
        "plate_v003.[1001-1012].png", "plate_v003.nk"]
    seq = doc["results"][0]["sequence"]
    assert seq["missing"] == [[1005, 1005]] and [f["frame"] for f in seq["frames"]] == [1008, 1010]
    rows = list(csv.DictReader(io.StringIO(
        (tmp_path / "report.csv").read_text(encoding="utf-8-sig"))))
    by_path = {r["path"].rsplit("/", 1)[1]: r for r in rows}
    assert by_path["plate_v003.1008.png"]["rule"] == "meta.a1111.parameters"
    assert by_path["plate_v003.1008.png"]["sequence"].endswith("plate_v003.[1001-1012].png")
    assert "11 frames" in by_path["plate_v003.[1001-1012].png"]["errors"]
    html = (tmp_path / "report.html").read_text()
    assert "plate_v003.[1001-1012].png" in html and "1 flagged: 1008" in html
    junit = (tmp_path / "report.junit.xml").read_text()
    assert junit.count("<testcase") == 2
    sarif = json.loads((tmp_path / "report.sarif").read_text())
    uris = {loc["physicalLocation"]["artifactLocation"]["uri"]
            for r in sarif["runs"][0]["results"] for loc in r["locations"]}
    assert len(uris) == 1 and uris.pop().endswith("plate_v003.1008.png")  # SARIF names files
    lines = [json.loads(x) for x in (tmp_path / "report.jsonl").read_text().splitlines()]
    kinds = [x["type"] for x in lines]
    assert kinds.count("result") == 12 and kinds.count("sequence") == 1  # per file + summary
    assert kinds.index("sequence") > max(i for i, k in enumerate(kinds) if k == "result"
                                         and lines[i]["path"].endswith(".png"))


def test_no_sequences_lists_every_frame() -> None:
    res = run("scan", str(SEQ / "comp"), "--no-cache", "--no-sequences", "--format", "json")
    paths = [r["path"] for r in json.loads(res.stdout)["results"]]
    assert sum(p.endswith(".png") for p in paths) == 11


def test_sampling_checks_one_frame_in_n_and_says_which_were_not() -> None:
    res = run("scan", str(SEQ / "scans"), "--no-cache", "--sequence-sample", "3",
              "--format", "json")
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    (seq,) = doc["results"]
    assert seq["verdict"] == "clean"
    not_checked = [f["frame"] for f in seq["sequence"]["frames"]]
    assert not_checked == [102, 103, 105]  # 101, 104 and the last (106) are checked
    assert "3 not checked (sampled)" in seq["notes"][0]
    assert doc["summary"]["verdicts"] == {"clean": 3, "skipped": 3}


def test_sampling_keeps_first_and_last_and_ignores_non_frames() -> None:
    names = [f"s.{n:04d}.exr" for n in range(1, 11)] + ["notes.txt", "a_v001.png"]
    assert sample_frames(names, 4) == {f"s.{n:04d}.exr" for n in (2, 3, 4, 6, 7, 8)}
    assert sample_frames(names[:4], 2) == set()  # four numbered files are no sequence


@pytest.mark.parametrize(("name", "frame"), [
    ("shot040_comp_v003.1001.exr", 1001), ("A001C003_000101.dpx", 101),
    ("frame_0042.tif", 42), ("render.12345.png", 12345)])
def test_frame_numbers(name: str, frame: int) -> None:
    f = parse_frame("/d/" + name)
    assert f is not None and f.number == frame


@pytest.mark.parametrize("name", ["logo_v01.png", "notes.0001.txt", "clip.0001.mov", "x.png"])
def test_not_frames(name: str) -> None:
    assert parse_frame("/d/" + name) is None


def test_resume_does_not_repeat_a_sequence_line(tmp_path: Path) -> None:
    out = tmp_path / "run.jsonl"
    first = run("scan", str(SEQ / "comp"), "--no-cache", "--format", "jsonl", "-o", str(out))
    again = run("scan", str(SEQ / "comp"), "--no-cache", "--format", "jsonl", "-o", str(out),
                "--resume")
    assert first.returncode == again.returncode == 2, again.stderr
    kinds = [json.loads(x)["type"] for x in out.read_text().splitlines()]
    assert kinds.count("sequence") == 1 and kinds.count("result") == 12
    assert kinds[0] == "run" and kinds[-1] == "summary"
