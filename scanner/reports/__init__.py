"""Report formatters, one small module each, behind one interface (like bandit's formatters
and gitleaks' Reporter): a writer gets each result as it completes (``add``) and the finished
report (``finish``). Streaming formats write in ``add``; the others write in ``finish``.
"""

from __future__ import annotations

import importlib
from typing import Protocol, TextIO

from detectors.model import AssetResult, Report

# format name -> "module:Class"
FORMATS: dict[str, str] = {
    "table": "scanner.reports.table:TableWriter",
    "json": "scanner.reports.json_report:JsonWriter",
    "jsonl": "scanner.reports.jsonl:JsonlWriter",
    "csv": "scanner.reports.csv_report:CsvWriter",
    "html": "scanner.reports.html:HtmlWriter",
    "junit": "scanner.reports.junit:JunitWriter",
    "sarif": "scanner.reports.sarif:SarifWriter",
}


# The file names ``--output-dir`` writes each format to.
FILE_NAMES: dict[str, str] = {
    "table": "report.txt", "json": "report.json", "jsonl": "report.jsonl", "csv": "report.csv",
    "html": "report.html", "junit": "report.junit.xml", "sarif": "report.sarif",
}


class ReportWriter(Protocol):
    def __init__(self, out: TextIO) -> None: ...

    def add(self, result: AssetResult) -> None: ...

    def finish(self, report: Report) -> None: ...


def writer_for(name: str, out: TextIO, **display: object) -> ReportWriter:
    """The writer of format ``name``. ``display`` options (``colour``, ``width``) go to the
    writers that render for a terminal (the table)."""
    try:
        module_name, _, cls = FORMATS[name].partition(":")
    except KeyError:
        raise ValueError(f"unknown report format {name!r}; known: {', '.join(sorted(FORMATS))}") from None
    writer = getattr(importlib.import_module(module_name), cls)
    return writer(out, **display) if display and name == "table" else writer(out)
