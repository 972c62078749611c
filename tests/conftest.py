"""Shared test helpers. Corpus tests skip cleanly when ../shared/corpus is absent."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest

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
