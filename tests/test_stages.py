"""Staged scans: the cheap detectors cover the whole tree first, the costly ones run after on
the files they apply to; the results are exactly those of a single pass."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from detectors.api import Options
from detectors.model import Asset
from detectors.registry import load_all
from scanner.configure import configure
from scanner.runner import StageReport, run_scan

ROOT = Path(__file__).resolve().parents[1]
FIX = ROOT / "fixtures"
EXE = str(Path(sys.executable).with_name("deliverscan"))


def _json(*args: str) -> dict:
    res = subprocess.run([EXE, "scan", *args, "--no-cache", "--format", "json", "-j", "2"],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode in (0, 1, 2), res.stderr
    doc = json.loads(res.stdout)
    for key in ("started", "finished"):
        doc.pop(key)
    doc["summary"].pop("duration_s")
    return doc


def test_staged_and_single_pass_reports_are_identical() -> None:
    roots = [str(FIX / d) for d in ("meta", "watermark", "archives", "sequences", "c2pa")]
    assert _json(*roots, "--stages") == _json(*roots, "--no-stages")


def test_stage_one_covers_the_tree_and_leaves_pixels_to_stage_two() -> None:
    config, detectors = configure([str(FIX / "watermark"), str(FIX / "meta")], jobs=1,
                                  staged=True)
    stages: list[StageReport] = []
    ticks: dict[int, int] = {1: 0, 2: 0}

    def tick(stage: int, _: object) -> None:
        ticks[stage] += 1

    report = run_scan(config, detectors=detectors, on_stage=stages.append, on_tick=tick)
    (first,) = stages
    assert first.files == ticks[1] == ticks[2] == report.summary.files
    assert 0 < first.deferred < first.files  # marked stills go to the pixel decoder
    assert first.verdicts.get("ai", 0) > 0  # metadata verdicts before any pixel decode
    assert report.summary.cache_hits == 0  # the private stage cache is not "unchanged files"
    marked = [r for r in report.results if any(f.detector == "watermark" for f in r.findings)]
    assert marked, "stage 2 found the watermarks"


def test_each_detector_knows_its_costly_files() -> None:
    dets = {d.name: d.detector for d in load_all()}
    opts = Options()
    png = Asset("a.png", 10_000, 0, "image", "image/png")
    mxf = Asset("a.mxf", 10_000, 0, "video", "application/mxf")
    big = Asset("a.mp4", 200 * 2**20, 0, "video", "video/mp4")
    huge = Asset("a.mov", 50 * 2**30, 0, "video", "video/quicktime")
    assert dets["metadata"].stage(png, opts) == 1
    assert dets["metadata"].stage(mxf, opts) == 2  # only ExifTool reads MXF
    assert dets["metadata"].stage(png, Options(settings={"metadata": {"deep": True}})) == 2
    assert dets["c2pa"].stage(png, opts) == 1
    assert dets["c2pa"].stage(big, opts) == 2  # verified: the whole file is hashed
    assert dets["c2pa"].stage(huge, opts) == 1  # over the verify limit: the manifest only
    assert dets["watermark"].stage(png, opts) == 2
