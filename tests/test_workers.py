"""Worker processes: per-file time and memory limits and crash isolation, results in order."""

from __future__ import annotations

import time
from pathlib import Path

from detectors.api import Options
from scanner.runner import ScanConfig, run_scan


def _tree(tmp_path: Path, special: dict[str, bytes], n: int = 12) -> Path:
    for i in range(n):
        (tmp_path / f"f{i:02d}.bin").write_bytes(b"AI-MARK" if i % 5 == 0 else b"plain")
    for name, data in special.items():
        (tmp_path / name).write_bytes(data)
    return tmp_path


def _scan(root: Path, marker_only, **kw):  # type: ignore[no-untyped-def]
    opts = Options(file_timeout=kw.pop("timeout", 30.0))
    return run_scan(ScanConfig(roots=[str(root)], options=opts, jobs=2, **kw),
                    detectors=marker_only)


def test_parallel_results_match_serial_in_walk_order(tmp_path: Path, marker_only) -> None:  # type: ignore[no-untyped-def]
    _tree(tmp_path, {}, n=40)
    par = _scan(tmp_path, marker_only)
    ser = run_scan(ScanConfig(roots=[str(tmp_path)], jobs=0), detectors=marker_only)
    assert [r.asset.path for r in par.results] == [r.asset.path for r in ser.results]
    assert [r.verdict for r in par.results] == [r.verdict for r in ser.results]
    assert par.summary.verdicts == {"ai": 8, "clean": 32}


def test_hanging_file_times_out_and_scan_goes_on(tmp_path: Path, marker_only) -> None:  # type: ignore[no-untyped-def]
    _tree(tmp_path, {"f05_hang.bin": b"SLEEP"})
    t0 = time.monotonic()
    report = _scan(tmp_path, marker_only, timeout=1.5)
    assert time.monotonic() - t0 < 25
    by = {Path(r.asset.path).name: r for r in report.results}
    hang = by["f05_hang.bin"]
    assert hang.verdict == "error"
    assert hang.errors[0].message == "timed out after 1.5 s (per-file limit)"
    assert len(report.results) == 13
    assert all(r.verdict in ("ai", "clean") for n, r in by.items() if n != "f05_hang.bin")
    assert report.summary.exit_code == 2


def test_segfaulting_worker_is_replaced(tmp_path: Path, marker_only) -> None:  # type: ignore[no-untyped-def]
    _tree(tmp_path, {"f03_crash.bin": b"SEGV", "f07_crash.bin": b"SEGV"})
    report = _scan(tmp_path, marker_only)
    by = {Path(r.asset.path).name: r for r in report.results}
    for name in ("f03_crash.bin", "f07_crash.bin"):
        assert by[name].verdict == "error"
        assert "killed by signal SIGSEGV" in by[name].errors[0].message
    assert len(report.results) == 14
    assert sum(r.verdict == "ai" for r in report.results) == 3
    assert any("replaced" in w for w in report.warnings)


def test_memory_hog_is_stopped(tmp_path: Path, marker_only) -> None:  # type: ignore[no-untyped-def]
    _tree(tmp_path, {"f04_hog.bin": b"HOG"}, n=4)
    report = _scan(tmp_path, marker_only, memory_limit=400 * 1024 * 1024)
    by = {Path(r.asset.path).name: r for r in report.results}
    assert by["f04_hog.bin"].verdict == "error"
    assert "memory limit of 400 MB" in by["f04_hog.bin"].errors[0].message
    assert by["f00.bin"].verdict == "ai"


def test_a_few_large_files_are_read_by_every_worker(tmp_path: Path, marker_only,  # type: ignore[no-untyped-def]
                                                    monkeypatch) -> None:
    """A delivery of a few masters: each large file goes to a worker alone, none waits behind
    another in one worker's batch. Each file here finishes only while a second worker reads
    another one (``PAIR``); handed out as one batch of four, all four were errors. (Sparse
    files of unknown content: it is their size that makes them heavy.)"""
    from scanner.workers import LARGE_FILE

    tree = tmp_path / "delivery"
    tree.mkdir()
    for i in range(4):
        with (tree / f"master{i}.mov").open("wb") as fh:
            fh.write(b"PAIR" + (b"AI-MARK" if i == 2 else b""))
            fh.truncate(LARGE_FILE)  # sparse: large to the scheduler, nothing on disk
    monkeypatch.setenv("DSFAKE_PAIRS", str(tmp_path / "pairs.log"))
    report = _scan(tree, marker_only)
    assert [r.verdict for r in report.results] == ["clean", "clean", "ai", "clean"]
    assert len(set((tmp_path / "pairs.log").read_text().split())) == 2


def test_a_few_small_files_are_shared_out(tmp_path: Path, marker_only,  # type: ignore[no-untyped-def]
                                          monkeypatch) -> None:
    """Four stills and two workers: two each (a fair share), not a batch of four for the
    worker that started first."""
    for i in range(4):
        (tmp_path / f"still{i}.bin").write_bytes(b"PAIR")
    monkeypatch.setenv("DSFAKE_PAIRS", str(tmp_path.parent / f"{tmp_path.name}-pairs.log"))
    report = _scan(tmp_path, marker_only)
    assert [r.verdict for r in report.results] == ["clean"] * 4


def test_hand_out_sends_video_audio_and_large_files_alone() -> None:
    """What a worker is handed: a video, an audio file or a file of LARGE_FILE or more alone,
    stills in batches no bigger than a fair share of what is waiting."""
    import collections

    from detectors.model import Asset
    from scanner.workers import LARGE_FILE, WorkerPool, WorkItem

    def item(seq: int, kind: str, size: int = 1000) -> WorkItem:
        return WorkItem(seq, Asset(f"f{seq}", size, 0, kind))

    pool = WorkerPool(2, [], Options(), batch=8)
    pending = collections.deque([item(0, "video", 20 * 2**20), item(1, "audio"),
                                 item(2, "image"), item(3, "image"), item(4, "image"),
                                 item(5, "other", LARGE_FILE), item(6, "image"),
                                 item(7, "image")])
    handed = []
    while pending:
        handed.append([i.seq for i in pool._batch(pending)])
    # 8 waiting, 2 workers: a still batch takes at most ceil(waiting / 2), stops at a heavy file
    assert handed == [[0], [1], [2, 3, 4], [5], [6], [7]]
