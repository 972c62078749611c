"""Shared test helpers. Corpus tests skip cleanly when ../shared/corpus is absent.

External programs: a test that needs one says so with ``@pytest.mark.tool("name")`` (or a
module's ``pytestmark``). ``make setup`` installs every such program, so a missing one fails
the test loudly, naming the program; it never skips. And no test may start a program that
``make setup`` does not install: ``subprocess.Popen`` is guarded for the whole session (see
``tests/tools.py``), so a test that would pass only on a hand-equipped machine fails everywhere.
"""

from __future__ import annotations

import csv
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import tools

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
CORPUS = Path(os.environ.get("DELIVERSCAN_CORPUS", ROOT.parent / "shared" / "corpus"))


def corpus_rows() -> list[dict[str, str]]:
    """Rows of ../shared/corpus/expected.tsv (empty when the corpus is absent)."""
    tsv = CORPUS / "expected.tsv"
    if not tsv.is_file():
        return []
    with tsv.open(encoding="utf-8") as fh:
        lines = [ln for ln in fh if ln.strip()]
    header = lines[0].lstrip("# ").rstrip("\n").split("\t")
    return [dict(zip(header, row, strict=False))
            for row in csv.reader(lines[1:], delimiter="\t")]


@pytest.fixture
def corpus() -> Path:
    if not (CORPUS / "expected.tsv").is_file():
        pytest.skip("../shared/corpus not present")
    return CORPUS


PLUGIN_DIR = Path(__file__).resolve().parent / "plugin_fixture"


@pytest.fixture
def fake_plugin(monkeypatch: pytest.MonkeyPatch) -> Path:
    """Put the test plugin distribution (entry point deliverscan.detectors:fakemarker) on
    sys.path, exactly as an installed third-party package would be."""
    monkeypatch.syspath_prepend(str(PLUGIN_DIR))
    return PLUGIN_DIR


@pytest.fixture
def marker_only(fake_plugin: Path):  # type: ignore[no-untyped-def]
    """Just the test plugin detector, loaded through the registry."""
    from detectors.registry import load_all

    return [item for item in load_all() if item.name == "fakemarker"]


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test (and every deliverscan it starts) gets its own empty incremental cache."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg-cache")))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "tool(name, ...): the test runs these external programs, "
                                       "which make setup installs (missing = failure, not skip)")


def pytest_runtest_setup(item: pytest.Item) -> None:
    for mark in item.iter_markers(name="tool"):
        for name in mark.args:
            tools.require(name)


@pytest.fixture(autouse=True, scope="session")
def _only_programs_make_setup_installs() -> Iterator[None]:
    """Fail any test that starts a program ``make setup`` does not install."""
    original = subprocess.Popen.__init__

    def guarded(self: subprocess.Popen[Any], args: Any, *rest: Any, **kw: Any) -> None:
        tools.check_allowed(args, kw.get("executable"))
        original(self, args, *rest, **kw)

    subprocess.Popen.__init__ = guarded  # type: ignore[method-assign]
    try:
        yield
    finally:
        subprocess.Popen.__init__ = original  # type: ignore[method-assign]
