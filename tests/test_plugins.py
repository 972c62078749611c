"""Third-party detectors load from the entry-point group; a detector that raises is contained."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from detectors.api import Option
from detectors.registry import ENTRY_POINT_GROUP, load_all
from scanner.runner import ScanConfig, run_scan


def test_entry_point_plugin_is_loaded(fake_plugin: Path) -> None:
    loaded = {item.name: item for item in load_all()}
    item = loaded["fakemarker"]
    assert item.available and item.version == "0.1"
    assert item.source == "plugin:dsfake"
    assert ENTRY_POINT_GROUP == "deliverscan.detectors"


def test_raising_detector_is_contained(tmp_path: Path, marker_only) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "a_boom.bin").write_bytes(b"BOOM here")
    (tmp_path / "b_ai.bin").write_bytes(b"AI-MARK then BOOM")
    (tmp_path / "c_fine.bin").write_bytes(b"nothing to see")
    (tmp_path / "d_incomplete.bin").write_bytes(b"INCOMPLETE")
    report = run_scan(ScanConfig(roots=[str(tmp_path)]), detectors=marker_only)
    by = {Path(r.asset.path).name: r for r in report.results}
    boom = by["a_boom.bin"]
    assert boom.verdict == "error"
    assert [e.to_dict() for e in boom.errors] == [
        {"detector": "fakemarker", "message": "RuntimeError: detector exploded on BOOM"}]
    assert boom.coverage[0].status == "failed"
    # findings yielded before the exception are kept; ai outranks the error
    assert by["b_ai.bin"].verdict == "ai" and by["b_ai.bin"].errors
    assert by["c_fine.bin"].verdict == "clean"
    assert by["d_incomplete.bin"].errors[0].message == "could not finish: INCOMPLETE marker"
    assert report.summary.exit_code == 2  # the scan is incomplete


def test_unavailable_detector_reported_in_coverage(tmp_path: Path, marker_only) -> None:  # type: ignore[no-untyped-def]
    from detectors.registry import Loaded

    (tmp_path / "x.bin").write_bytes(b"AI-MARK")
    broken = Loaded("needs-tool", "plugin:x", None, False, "tool missing")
    report = run_scan(ScanConfig(roots=[str(tmp_path)]), detectors=[*marker_only, broken])
    [r] = report.results
    assert r.verdict == "ai"
    assert [c.to_dict() for c in r.coverage][-1] == {
        "detector": "needs-tool", "status": "unavailable", "notes": ["tool missing"]}


@pytest.mark.parametrize(("text", "parsed"), [("yes", True), (" On ", True), ("1", True),
                                              ("false", False), ("no", False), ("0", False)])
def test_a_switch_takes_the_usual_words(text: str, parsed: bool) -> None:
    assert Option("deep", bool, False, "").parse(text) is parsed


@pytest.mark.parametrize("text", ["perhaps", "", "2", "nein"])
def test_a_switch_refuses_any_other_word(text: str) -> None:
    # bool("perhaps") is True: a typo must not silently switch a detector mode on
    with pytest.raises(ValueError, match="must be true or false"):
        Option("deep", bool, False, "").parse(text)


def test_listing_the_detectors_loads_no_heavy_library() -> None:
    """Every process that lists the detectors (each CLI call, each worker) imports every
    detector module; NumPy, OpenCV, PyAV, faiss and the register's fingerprinting wait until
    a detector that needs them runs. An option default read from the matcher once put 0.3 s
    on every start: a third of a one-file scan."""
    code = ("import sys\nfrom detectors.registry import load_all\n"
            "assert all(d.detector is not None for d in load_all()), load_all()\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('numpy', 'cv2', 'av', 'faiss') or m.startswith('detectors.fingerprint.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).resolve().parent.parent)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
