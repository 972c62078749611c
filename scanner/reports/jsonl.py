"""JSON Lines: one result per line as it completes, flushed, then the summary as the last
line. Made for huge batch runs (and ``--resume``): a killed run leaves every finished line."""

from __future__ import annotations

import json
from typing import TextIO

from detectors.model import AssetResult, Report


class JsonlWriter:
    def __init__(self, out: TextIO) -> None:
        self.out = out

    def add(self, result: AssetResult) -> None:
        line = {"type": "result", **result.to_dict()}
        self.out.write(json.dumps(line, ensure_ascii=False) + "\n")
        self.out.flush()

    def finish(self, report: Report) -> None:
        d = report.to_dict()
        d.pop("results")
        d["type"] = "summary"
        self.out.write(json.dumps(d, ensure_ascii=False) + "\n")
        self.out.flush()
