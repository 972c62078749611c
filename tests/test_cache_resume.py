"""Incremental cache (hit, invalidation on change and on rule-pack change) and --resume."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from detectors.api import Options
from scanner.runner import ScanConfig, run_scan

PLUGIN_DIR = Path(__file__).resolve().parent / "plugin_fixture"


@pytest.fixture
def log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    p = tmp_path / "detect.log"
    monkeypatch.setenv("DSFAKE_LOG", str(p))
    return p


def _reads(log: Path) -> list[str]:
    if not log.exists():
        return []
    names = log.read_text().splitlines()
    log.unlink()
    return sorted(names)


def _scan(root: Path, cache: Path, marker_only, rules: str = "1"):  # type: ignore[no-untyped-def]
    opts = Options(settings={"fakemarker": {"rules": rules}})
    return run_scan(ScanConfig(roots=[str(root)], options=opts, cache_path=str(cache)),
                    detectors=marker_only)


def test_cache_hit_change_and_rulepack_invalidation(tmp_path: Path, marker_only, log: Path) -> None:  # type: ignore[no-untyped-def]
    tree = tmp_path / "t"
    tree.mkdir()
    (tree / "a.bin").write_bytes(b"AI-MARK")
    (tree / "b.bin").write_bytes(b"plain")
    cache = tmp_path / "c.sqlite"
    first = _scan(tree, cache, marker_only)
    assert _reads(log) == ["a.bin", "b.bin"]
    again = _scan(tree, cache, marker_only)
    assert _reads(log) == []  # nothing re-read: every result came from the cache
    assert (first.summary.cache_hits, again.summary.cache_hits) == (0, 2)
    assert [r.to_dict() for r in again.results] == [r.to_dict() for r in first.results]
    # an edit (new mtime) invalidates just that file
    (tree / "b.bin").write_bytes(b"now AI-MARK")
    third = _scan(tree, cache, marker_only)
    assert _reads(log) == ["b.bin"]
    assert [r.verdict for r in third.results] == ["ai", "ai"]
    # a rename changes ctime: that one file is re-read, and only that one
    os.rename(tree / "a.bin", tree / "renamed.bin")
    _scan(tree, cache, marker_only)
    assert _reads(log) == ["renamed.bin"]
    # an edit that restores size and mtime (touch -d) still misses: ctime moved
    st = os.stat(tree / "b.bin")
    (tree / "b.bin").write_bytes(b"now XX-MARK")
    os.utime(tree / "b.bin", ns=(st.st_atime_ns, st.st_mtime_ns))
    tampered = _scan(tree, cache, marker_only)
    assert _reads(log) == ["b.bin"]
    assert [r.verdict for r in tampered.results] == ["clean", "ai"]
    # a new rule-pack version re-runs that detector everywhere
    _scan(tree, cache, marker_only, rules="2")
    assert _reads(log) == ["b.bin", "renamed.bin"]


def test_failed_detector_runs_are_not_cached(tmp_path: Path, marker_only, log: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "x.bin").write_bytes(b"BOOM")
    cache = tmp_path / "c.sqlite"
    _scan(tmp_path / "x.bin", cache, marker_only)
    _scan(tmp_path / "x.bin", cache, marker_only)
    assert _reads(log) == ["x.bin", "x.bin"]


def _cli(*args: str, env_extra: dict[str, str]) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).parent / "deliverscan"
    env = dict(os.environ, PYTHONPATH=str(PLUGIN_DIR), **env_extra)
    return subprocess.run([str(exe), *args], capture_output=True, text=True, env=env,
                          timeout=120, stdin=subprocess.DEVNULL)


def test_resume_skips_what_the_jsonl_holds(tmp_path: Path, log: Path) -> None:
    tree = tmp_path / "t"
    tree.mkdir()
    for i in range(6):
        (tree / f"f{i}.bin").write_bytes(b"AI-MARK" if i == 4 else b"plain")
    out = tmp_path / "run.jsonl"
    # a killed run: two complete lines and a partial third line
    full = _cli("scan", str(tree), "--format", "jsonl", "-o", str(out), "--no-cache",
                env_extra={})
    assert full.returncode == 1
    lines = out.read_text().splitlines(keepends=True)
    assert '"type": "run"' in lines[0]
    out.write_text("".join(lines[:3]) + lines[3][:25])  # run line, two results, a partial one
    _reads(log)
    res = _cli("scan", str(tree), "--format", "jsonl", "-o", str(out), "--no-cache", "--resume",
               env_extra={})
    assert res.returncode == 1, res.stderr
    assert _reads(log) == ["f2.bin", "f3.bin", "f4.bin", "f5.bin"]
    recs = [json.loads(x) for x in out.read_text().splitlines()]
    assert [r["type"] for r in recs] == ["run"] + ["result"] * 6 + ["summary"]
    assert [Path(r["path"]).name for r in recs[1:-1]] == [f"f{i}.bin" for i in range(6)]
    assert recs[-1]["summary"]["files"] == 6 and recs[-1]["summary"]["verdicts"]["ai"] == 1
    # resuming a finished run re-reads nothing and keeps one summary line
    again = _cli("scan", str(tree), "--format", "jsonl", "-o", str(out), "--no-cache",
                 "--resume", env_extra={})
    assert again.returncode == 1
    assert _reads(log) == []
    assert [json.loads(x)["type"] for x in out.read_text().splitlines()].count("summary") == 1


def test_resume_needs_a_jsonl_file(tmp_path: Path) -> None:
    res = _cli("scan", str(tmp_path), "--resume", env_extra={})
    assert res.returncode == 2 and "--resume needs a JSONL output file" in res.stderr


def test_bypass_resume_into_a_different_run_is_refused(tmp_path: Path, log: Path) -> None:
    """--resume once appended a scan of other roots to another run's JSONL (35 files, the
    second run's roots): a report must describe one scan. Other roots or other options
    (here --deep) are refused, and the file is left as it was."""
    first, second = tmp_path / "a", tmp_path / "b"
    for d in (first, second):
        d.mkdir()
        (d / "x.bin").write_bytes(b"plain")
    out = tmp_path / "run.jsonl"
    assert _cli("scan", str(first), "--format", "jsonl", "-o", str(out), "--no-cache",
                env_extra={}).returncode == 0
    before = out.read_bytes()
    for args in ((str(second),), (str(first), "--deep"), (str(first), str(second))):
        res = _cli("scan", *args, "--format", "jsonl", "-o", str(out), "--no-cache", "--resume",
                   env_extra={})
        assert res.returncode == 2, res.stderr
        assert "cannot --resume" in res.stderr and "Traceback" not in res.stderr
        assert out.read_bytes() == before
    foreign = tmp_path / "foreign.jsonl"
    foreign.write_text('{"type": "result", "path": "x"}\n')
    res = _cli("scan", str(first), "--format", "jsonl", "-o", str(foreign), "--resume",
               env_extra={})
    assert res.returncode == 2 and "does not start with a deliverscan run line" in res.stderr
