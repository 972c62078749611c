"""CSV: one row per finding, plus one row for each asset without findings (verdict clean,
error or skipped), so a spreadsheet shows every file that was looked at. Written the way Excel
opens it without an import dialog: UTF-8 with a byte-order mark, CRLF line ends."""

from __future__ import annotations

import csv
from typing import TextIO

from detectors.model import AssetResult, Report, display_path

COLUMNS = ["path", "kind", "media_type", "size", "verdict", "blocking", "detector", "rule",
           "finding_verdict", "tier", "location", "value", "message", "approved", "approval_ref",
           "errors", "sha256", "sequence"]


class CsvWriter:
    def __init__(self, out: TextIO) -> None:
        self.out = out
        # A UTF-8 byte-order mark: Excel then shows non-ASCII names right (read it back with
        # encoding="utf-8-sig").
        out.write("\ufeff")
        self.writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\r\n")
        self.writer.writeheader()

    def add(self, result: AssetResult) -> None:
        if result.sequence is None:
            self._rows(result)
            return
        # an image sequence: one row for it, then each frame that is not plainly clean with
        # its own file, so a spreadsheet filter on "sequence" shows the whole story
        pattern = display_path(result.asset.path)
        self._rows(result, pattern, with_findings=False)
        for _, frame in result.sequence.frames:
            self._rows(frame, pattern)

    def _rows(self, result: AssetResult, sequence: str = "", with_findings: bool = True) -> None:
        base = {
            "path": display_path(result.asset.path),
            "kind": result.asset.kind,
            "media_type": result.asset.media_type,
            "size": result.asset.size,
            "verdict": result.verdict,
            "blocking": "yes" if result.blocking else "no",
            "errors": "; ".join(f"{e.source}: {e.message}" for e in result.errors)
            or (result.asset.skip_reason or ""),
            "sha256": result.sha256 or "",
            "sequence": sequence,
        }
        if result.sequence is not None:
            base["errors"] = "; ".join(result.asset.notes)
        if not result.findings or not with_findings:
            self.writer.writerow(base)
            return
        for f in result.findings:
            a = f.approval
            self.writer.writerow({**base, "detector": f.detector, "rule": f.rule,
                                  "finding_verdict": f.verdict, "tier": f.tier,
                                  "location": f.location, "value": f.value,
                                  "message": f.message, "approved": "yes" if a else "no",
                                  "approval_ref": a.ref if a else ""})

    def finish(self, report: Report) -> None:
        self.out.flush()
