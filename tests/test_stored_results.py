"""Warm rescans serve clean, unchanged files' results as stored (scanner.stored): byte for byte
what a full scan writes, and never across a policy that would judge the file otherwise."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from scanner.configure import configure
from scanner.runner import StageReport, run_scan

ROOT = Path(__file__).resolve().parents[1]
FIX = ROOT / "fixtures"
EXE = str(Path(sys.executable).with_name("deliverscan"))


def _lines(path: Path) -> tuple[list[str], dict]:
    lines = path.read_text().splitlines()
    results = [ln for ln in lines if json.loads(ln)["type"] in ("result", "sequence")]
    summary = json.loads(lines[-1])["summary"]
    for key in ("duration_s", "cache_hits"):
        summary.pop(key)
    return results, summary


def _scan(tree: Path, cache: Path, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([EXE, "scan", str(tree), "--cache", str(cache), "--format", "jsonl",
                           "-o", str(out), "-j", "2", *extra],
                          capture_output=True, text=True, timeout=300)


def test_a_warm_rescan_writes_exactly_what_a_full_scan_writes(tmp_path: Path) -> None:
    tree = tmp_path / "d"
    for family in ("meta", "sequences", "clutter", "delivery"):
        shutil.copytree(FIX / family, tree / family)
    cache = tmp_path / "c.sqlite"
    cold = _scan(tree, cache, tmp_path / "cold.jsonl")
    rebuilt = _scan(tree, cache, tmp_path / "rebuilt.jsonl")  # outcomes cached, lines stored
    warm = _scan(tree, cache, tmp_path / "warm.jsonl")  # clean lines served as stored
    assert cold.returncode == rebuilt.returncode == warm.returncode
    assert _lines(tmp_path / "cold.jsonl") == _lines(tmp_path / "rebuilt.jsonl") == \
        _lines(tmp_path / "warm.jsonl")
    s = json.loads((tmp_path / "warm.jsonl").read_text().splitlines()[-1])["summary"]
    # every file but OS clutter (recognised again each time) and errors came from the cache
    assert s["cache_hits"] == s["files"] - s["clutter_skipped"] - s["verdicts"].get("error", 0)


def test_a_stored_clean_result_is_never_served_under_another_policy(tmp_path: Path) -> None:
    tree = tmp_path / "d"
    tree.mkdir()
    shutil.copy(FIX / "meta" / "a1111_parameters.png", tree / "plate.png")
    lenient = tmp_path / "lenient.toml"
    lenient.write_text('[rules]\n"meta.a1111.*" = "off"\n')
    cache = tmp_path / "c.sqlite"
    for _ in range(2):  # stored as clean under the lenient policy
        res = _scan(tree, cache, tmp_path / "l.jsonl", "--policy", str(lenient))
        assert res.returncode == 0, res.stderr
    strict = _scan(tree, cache, tmp_path / "s.jsonl")
    assert strict.returncode == 1, strict.stderr  # the default policy sees the AI marker
    (line,) = [json.loads(x) for x in (tmp_path / "s.jsonl").read_text().splitlines()
               if json.loads(x)["type"] == "result"]
    assert line["verdict"] == "ai"


def test_an_edited_file_is_read_again(tmp_path: Path) -> None:
    tree = tmp_path / "d"
    tree.mkdir()
    shutil.copy(FIX / "meta" / "clean.png", tree / "plate.png")
    cache = tmp_path / "c.sqlite"
    for _ in range(2):
        assert _scan(tree, cache, tmp_path / "a.jsonl").returncode == 0
    shutil.copy(FIX / "meta" / "a1111_parameters.png", tree / "plate.png")  # same name
    assert _scan(tree, cache, tmp_path / "b.jsonl").returncode == 1


def test_a_warm_tree_is_scanned_in_one_pass(tmp_path: Path) -> None:
    tree = tmp_path / "d"
    for i in range(600):  # more than the probe a staged scan looks at
        (tree / f"s{i // 100}").mkdir(parents=True, exist_ok=True)
        shutil.copy(FIX / "meta" / "clean.png", tree / f"s{i // 100}" / f"still_{i}.png")
    cache = str(tmp_path / "c.sqlite")
    stages: list[StageReport] = []
    for _ in range(3):
        config, detectors = configure([str(tree)], jobs=1, staged=True, cache_path=cache)
        report = run_scan(config, detectors=detectors, on_stage=stages.append)
        assert report.summary.exit_code == 0 and report.summary.files == 600
    assert len(stages) == 1  # the cold scan was staged; the warm ones needed no stage 1
    assert report.summary.cache_hits == 600


def test_archives_are_served_as_stored_under_their_own_path(tmp_path: Path) -> None:
    tree = tmp_path / "d"
    tree.mkdir()
    for name in ("clean_turnover.tgz", "clip.mov.gz", "turnover.zip", "encrypted.zip"):
        shutil.copy(FIX / "archives" / name, tree / name)
    cache = tmp_path / "c.sqlite"
    runs = [_scan(tree, cache, tmp_path / f"r{i}.jsonl") for i in range(3)]
    assert {r.returncode for r in runs} == {2}  # the encrypted member
    assert _lines(tmp_path / "r0.jsonl") == _lines(tmp_path / "r2.jsonl")
    # the same archives under another spelling of the root: looked inside again, and the
    # member paths say where they are now
    other = tmp_path / "again"
    other.symlink_to(tree)
    _scan(other, cache, tmp_path / "o.jsonl")
    members = [json.loads(x)["path"] for x in (tmp_path / "o.jsonl").read_text().splitlines()
               if json.loads(x).get("archive")]
    assert members and all(p.startswith(str(other) + "/") for p in members)


def test_a_stored_archive_is_no_work_for_a_warm_scan(tmp_path: Path) -> None:
    tree = tmp_path / "d"
    for i in range(600):
        (tree / f"s{i // 100}").mkdir(parents=True, exist_ok=True)
        shutil.copy(FIX / "meta" / "clean.png", tree / f"s{i // 100}" / f"still_{i}.png")
    shutil.copy(FIX / "archives" / "clip.mov.gz", tree / "s0" / "clip.mov.gz")
    cache = str(tmp_path / "c.sqlite")
    stages: list[StageReport] = []
    for _ in range(3):
        config, detectors = configure([str(tree)], jobs=1, staged=True, cache_path=cache)
        report = run_scan(config, detectors=detectors, on_stage=stages.append)
        assert report.summary.exit_code == 1 and report.summary.archives == 1
    assert len(stages) == 1  # only the cold scan had work: the archive was stored by it
