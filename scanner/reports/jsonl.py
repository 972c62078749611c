"""JSON Lines: a ``run`` line (what is scanned, how), then one result per line as it completes,
flushed, then the summary as the last line. Made for huge batch runs (and ``--resume``): a
killed run leaves every finished line."""

from __future__ import annotations

import json
from typing import Any, TextIO

from detectors.model import AssetResult, Report
from scanner.reports.json_report import headline_dict
from scanner.stored import StoredResult


class JsonlWriter:
    def __init__(self, out: TextIO) -> None:
        self.out = out

    def start(self, header: dict[str, Any]) -> None:
        """The ``run`` line: what this run scans and how (``--resume`` checks it)."""
        self.out.write(json.dumps(header, ensure_ascii=False, sort_keys=True) + "\n")
        self.out.flush()

    def add(self, result: AssetResult) -> None:
        line = {"type": "result", **result.to_dict()}
        self.out.write(json.dumps(line, ensure_ascii=False) + "\n")
        self.out.flush()

    def add_stored(self, stored: StoredResult) -> None:
        """A clean result served from the cache: its line as it was written. Not flushed on
        its own (a warm rescan writes thousands a second; the buffer goes out with the next
        new result or the summary): a kill loses only lines ``--resume`` serves again as
        cheaply, and it keeps complete lines only."""
        self.out.write(stored.line() + "\n")

    def add_sequence(self, result: AssetResult) -> None:
        """A line summarising an image sequence (after its frames' own lines)."""
        line = {"type": "sequence", **result.to_dict()}
        self.out.write(json.dumps(line, ensure_ascii=False) + "\n")
        self.out.flush()

    def finish(self, report: Report) -> None:
        d = report.to_dict()
        d.pop("results")
        d["headline"] = headline_dict(report)
        d["type"] = "summary"
        self.out.write(json.dumps(d, ensure_ascii=False) + "\n")
        self.out.flush()
