"""Fuzzing in ``make test``: every input a fuzz run ever crashed a reader with still passes, and
a short fixed-seed run of the harness finds nothing (the long run is ``make fuzz``)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from bench import fuzz
from bench.fuzz_targets import fuzz_media, fuzz_seed, fuzz_targets
from detectors.api import Incomplete
from detectors.formats.native import Collector, FormatError
from detectors.formats.sniff import sniff

ROOT = Path(__file__).resolve().parent.parent
REGRESSIONS = ROOT / "fixtures" / "fuzz_regressions"
TARGETS = fuzz_targets()


def _regressions() -> list[Path]:
    return sorted(p for p in REGRESSIONS.iterdir() if p.is_file())


def test_regression_files_are_named_after_a_target() -> None:
    files = _regressions()
    assert files, "fixtures/fuzz_regressions is empty"
    for p in files:
        assert p.name.split("--", 1)[0] in TARGETS, p.name


@pytest.mark.parametrize("path", _regressions(), ids=lambda p: p.name)
def test_regression_file_passes_its_reader(path: Path) -> None:
    """The crashing input, through the target that crashed and through the metadata path
    (sniff, native reader, rule pack): only declared errors, promptly, and the damage is
    reported as a problem (the asset can never pass as clean)."""
    data = path.read_bytes()
    target = path.name.split("--", 1)[0]
    for name in (target, "metadata"):
        t0 = time.perf_counter()
        try:
            out = TARGETS[name](data)
        except (FormatError, Incomplete):
            continue
        assert time.perf_counter() - t0 < 2.0, name
        if name == target and isinstance(out, Collector):
            assert out.problems, f"{path.name}: damage not reported by {name}"


def test_every_reader_has_a_target_and_seeds() -> None:
    """One target per native reader, per C2PA visitor and per structure inside them, each
    with real seeds (all from the format declarations: a new format needs no edit here)."""
    from detectors.formats import registry
    from detectors.metadata import NATIVE

    assert {"xmp", "exif", "id3", "vorbis", "rules", "metadata", "stealth"} <= set(TARGETS)
    media_types = {m for ms in fuzz_media().values() for m in ms}
    assert set(NATIVE) <= media_types
    assert {f"{f.id}.c2pa" for f in registry.formats() if f.c2pa} <= set(TARGETS)
    files = fuzz.seeds()
    for name in TARGETS:
        got = [s for s in (fuzz_seed(name, p.read_bytes()) for p in files) if s]
        assert got, f"no seed for {name}"
    png = next(p for p in files if p.name == "comfyui.png").read_bytes()
    assert sniff(fuzz_seed("png", png) or b"")[1] == "image/png"
    assert fuzz_seed("xmp", png) is None or b"xmpmeta" in (fuzz_seed("xmp", png) or b"")
    assert b'"class_type"' in (fuzz_seed("rules", png) or b"")  # the workflow JSON it carries


def test_harness_catches_and_minimises_a_crash(monkeypatch: pytest.MonkeyPatch,
                                               tmp_path: Path) -> None:
    """The loop reports an undeclared exception with its origin and shrinks the input."""

    def buggy(data: bytes) -> None:
        if b"IDAT" in data:
            raise IndexError("planted")
        raise FormatError("declared")

    monkeypatch.setattr(fuzz, "parser_targets", lambda: {"planted": buggy})
    monkeypatch.setattr(fuzz, "CRASHES", tmp_path)
    files = [p for p in fuzz.seeds() if p.name == "clean.png"]
    report = fuzz.fuzz_parsers(10, 7, files, execs=50)
    (sig,) = report.counts
    assert sig.startswith("planted: IndexError at tests/test_fuzz.py:")
    saved = Path(report.crashes[sig][0]).read_bytes()
    assert saved == b"IDAT"  # minimised to the bytes that matter
    assert "IndexError: planted" in Path(report.crashes[sig][0] + ".txt").read_text()


def test_harness_flags_slow_inputs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def slow(data: bytes) -> None:
        time.sleep(0.06)

    monkeypatch.setattr(fuzz, "parser_targets", lambda: {"slowpoke": slow})
    monkeypatch.setattr(fuzz, "CRASHES", tmp_path)
    files = [p for p in fuzz.seeds() if p.name == "clean.png"]
    report = fuzz.fuzz_parsers(10, 7, files, execs=2, slow=0.05)
    assert report.counts == {"slowpoke: slow input": 2}


def test_short_fixed_seed_fuzz_run_finds_nothing(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """2000 mutated inputs (seed 20240, the same ones every run; coverage-guided) over every
    parser target: no undeclared exception, no input slower than 5 s. Capped at 15 s on a
    loaded machine (the inputs are then a prefix of the same sequence)."""
    monkeypatch.setattr(fuzz, "CRASHES", tmp_path)
    t0 = time.monotonic()
    report = fuzz.fuzz_parsers(15, 20240, fuzz.seeds(), execs=2000, slow=5.0,
                               minimize_crashes=False)
    assert time.monotonic() - t0 < 20
    assert report.counts == {}, {s: report.crashes.get(s) for s in report.counts}
    assert set(report.execs) == set(TARGETS)
    assert report.total >= 500  # even on a very loaded machine the run did real work
