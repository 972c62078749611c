"""JSON: the whole report in schema ``deliverscan.report/1`` (docs/report-format.md), with the
verdict in words (``headline``, the same as every format) and, for scripts, every file that
could not be checked in one list (``errors``).

Results are collected from ``add`` (the CLI does not keep results in the runner), as their
serialised dicts."""

from __future__ import annotations

import json
from typing import Any, TextIO

from detectors.model import AssetResult, Report, path_fields
from scanner.headline import headline


def error_entries(result: AssetResult) -> list[dict[str, Any]]:
    """One entry per reason a file could not be fully checked."""
    return [{**path_fields(result.asset.path), "detector": e.source, "message": e.message}
            for e in result.errors]


def headline_dict(report: Report) -> dict[str, Any]:
    h = headline(report.summary)
    return {"status": h.status, "title": h.title, "facts": list(h.facts), "text": h.text}


class JsonWriter:
    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.results: list[dict[str, Any]] = []
        self.errors: list[dict[str, Any]] = []

    def add(self, result: AssetResult) -> None:
        self.results.append(result.to_dict())
        self.errors.extend(error_entries(result))

    def finish(self, report: Report) -> None:
        doc = report.to_dict()
        doc["headline"] = headline_dict(report)
        doc["errors"] = self.errors
        doc["results"] = self.results
        json.dump(doc, self.out, indent=2, ensure_ascii=False)
        self.out.write("\n")
