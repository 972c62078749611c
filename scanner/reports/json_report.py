"""JSON: the whole report in schema ``deliverscan.report/1`` (docs/report-format.md).

Results are collected from ``add`` (the CLI does not keep results in the runner), as their
serialised dicts."""

from __future__ import annotations

import json
from typing import Any, TextIO

from detectors.model import AssetResult, Report


class JsonWriter:
    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.results: list[dict[str, Any]] = []

    def add(self, result: AssetResult) -> None:
        self.results.append(result.to_dict())

    def finish(self, report: Report) -> None:
        doc = report.to_dict()
        doc["results"] = self.results
        json.dump(doc, self.out, indent=2, ensure_ascii=False)
        self.out.write("\n")
