"""End-to-end: the installed ``deliverscan`` command on a temporary tree."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PLUGIN_DIR = Path(__file__).resolve().parent / "plugin_fixture"

EXE = shutil.which("deliverscan", path=os.path.dirname(sys.executable)) or shutil.which("deliverscan")


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    assert EXE, "deliverscan console script is not installed (make setup)"
    env = dict(os.environ, PYTHONPATH=str(PLUGIN_DIR))
    return subprocess.run([EXE, *args], capture_output=True, text=True, env=env, cwd=cwd,
                          timeout=120, stdin=subprocess.DEVNULL)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    d = tmp_path / "delivery"
    d.mkdir()
    (d / "clean.bin").write_bytes(b"nothing")
    (d / "-leading-dash.bin").write_bytes(b"nothing")
    return d


def test_version_lists_components() -> None:
    res = run("--version")
    assert res.returncode == 0
    out = res.stdout
    assert out.startswith("deliverscan ")
    assert "c2pa-python" in out and "ExifTool" in out and "rules " in out
    # one line per detector, with what its results depend on
    assert [ln.split()[0] for ln in out.splitlines()[1:5]] == ["c2pa", "metadata", "watermark",
                                                              "register"]


def test_detectors_lists_plugin_and_availability() -> None:
    res = run("detectors")
    assert res.returncode == 0
    line = [ln for ln in res.stdout.splitlines() if ln.startswith("fakemarker")]
    assert line and "plugin:dsfake" in line[0] and "available" in line[0]


def test_exit_codes_end_to_end(tree: Path) -> None:
    res = run("scan", "--format", "json", str(tree))
    doc = json.loads(res.stdout)
    assert res.returncode == 0, res.stderr
    assert doc["summary"]["exit_code"] == 0
    (tree / "gen.bin").write_bytes(b"AI-MARK")
    assert run("scan", str(tree)).returncode == 1
    (tree / "rev.bin").write_bytes(b"REVIEW-MARK")
    (tree / "gen.bin").unlink()
    assert run("scan", str(tree)).returncode == 0
    assert run("scan", "--fail-on", "review", str(tree)).returncode == 1
    (tree / "boom.bin").write_bytes(b"BOOM")
    assert run("scan", "--fail-on", "review", str(tree)).returncode == 2


def test_usage_error_exits_2(tree: Path) -> None:
    assert run("scan").returncode == 2
    assert run("scan", "--format", "nope", str(tree)).returncode == 2
    assert run("scan", "--enable", "no-such-detector", str(tree)).returncode == 2


def test_output_file_and_several_reports(tree: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    csvp = tmp_path / "r.csv"
    res = run("scan", str(tree), "--format", "json", "--output", str(out),
              "--report", f"csv:{csvp}", "--report", f"jsonl:{tmp_path / 'r.jsonl'}")
    assert res.returncode == 0, res.stderr
    assert res.stdout == ""
    assert json.loads(out.read_text())["summary"]["files"] == 2
    assert csvp.read_text(encoding="utf-8-sig").startswith("path,kind,")
    lines = [json.loads(x) for x in (tmp_path / "r.jsonl").read_text().splitlines()]
    assert [x["type"] for x in lines] == ["run", "result", "result", "summary"]


def test_leading_dash_file_as_root(tree: Path) -> None:
    res = run("scan", "--format", "json", "--", "-leading-dash.bin", cwd=tree)
    doc = json.loads(res.stdout)
    assert [r["path"] for r in doc["results"]] == ["-leading-dash.bin"]


def test_progress_silent_when_not_a_terminal(tree: Path) -> None:
    res = run("scan", str(tree))
    assert res.stderr == ""
