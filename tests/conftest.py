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
