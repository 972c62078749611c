"""JSON: the whole report in schema ``deliverscan.report/1`` (docs/report-format.md)."""

from __future__ import annotations

import json
from typing import TextIO

from detectors.model import AssetResult, Report


class JsonWriter:
    def __init__(self, out: TextIO) -> None:
        self.out = out

    def add(self, result: AssetResult) -> None:
        pass

    def finish(self, report: Report) -> None:
        json.dump(report.to_dict(), self.out, indent=2, ensure_ascii=False)
        self.out.write("\n")
