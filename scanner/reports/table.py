"""The terminal report: flagged assets first, each with its strongest evidence on one line,
then errors and skips, then the summary and the verdict in words."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TextIO

from detectors.model import AI, ERROR, REVIEW, SKIPPED, TIERS, AssetResult, Finding, Report
from detectors.model import display_path as _display_path

ORDER = {AI: 0, REVIEW: 1, ERROR: 2, SKIPPED: 3}
HEADLINE = {
    0: "NO AI MARKERS FOUND",
    1: "BLOCKING AI FINDINGS",
    2: "SCAN INCOMPLETE: some files could not be checked",
}
CLEAN_MEANING = ("'clean' means no AI marker was found by the detectors that ran; "
                 "it is not proof of human origin.")


def display_path(path: str) -> str:
    """Printable on one line: control characters (a newline in a name) escaped too."""
    return _display_path(path).encode("unicode_escape").decode("ascii").replace("\\\\", "\\")


def strongest(findings: Sequence[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: (f.verdict != AI, TIERS.index(f.tier)))


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return str(n)


class TableWriter:
    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.flagged: list[AssetResult] = []
        self.skipped: dict[str, list[str]] = {}  # reason -> paths, every one listed

    def add(self, result: AssetResult) -> None:
        if result.verdict == SKIPPED:
            self.skipped.setdefault(result.asset.skip_reason or "not scanned", []).append(
                result.asset.path)
        elif result.verdict in ORDER:
            self.flagged.append(result)

    def _line(self, r: AssetResult) -> list[str]:
        label = r.verdict.upper()
        if r.findings and not r.blocking and r.verdict in (AI, REVIEW):
            label += "*"
        lines = [f"{label:<8} {r.asset.kind:<7} {display_path(r.asset.path)}"]
        fs = strongest(r.findings)
        if fs:
            f = fs[0]
            approved = f.approval
            extra = f" (+{len(fs) - 1} more)" if len(fs) > 1 else ""
            tag = f" APPROVED {approved.ref}" if approved else ""
            lines.append(f"         {f.detector}:{f.rule} [{f.tier}] {f.location} = "
                         f"{f.value[:100]!s}{extra}{tag}")
            lines.append(f"         {f.message}")
        for e in r.errors:
            lines.append(f"         {e.source}: {e.message}")
        if r.asset.skip_reason:
            lines.append(f"         {r.asset.skip_reason}")
        return lines

    def finish(self, report: Report) -> None:
        w = self.out.write
        s = report.summary
        shown = sorted(self.flagged, key=lambda r: ORDER[r.verdict])
        for r in shown:
            for line in self._line(r):
                w(line + "\n")
        if shown:
            w("\n")
        if self.skipped:
            total = sum(len(paths) for paths in self.skipped.values())
            w(f"Not scanned ({total}):\n")
            for reason, paths in self.skipped.items():
                w(f"  {reason}:\n")
                for path in paths:
                    w(f"    {display_path(path)}\n")
            w("\n")
        counts = ", ".join(f"{n} {v}" for v, n in sorted(s.verdicts.items()))
        w(f"Scanned {s.files} files ({_size(s.bytes)}) in {s.duration_s:.2f} s: {counts or 'nothing'}\n")
        if s.cache_hits:
            w(f"Unchanged since the last scan (from the cache): {s.cache_hits} files\n")
        if s.clutter_skipped or s.excluded:
            w(f"Not scanned: {s.clutter_skipped} OS clutter files, {s.excluded} excluded\n")
        if s.approved_findings:
            w(f"Approved findings (not blocking): {s.approved_findings}\n")
        for warning in report.warnings:
            w(f"warning: {warning}\n")
        w(f"Verdict: {HEADLINE.get(s.exit_code, '?')} (exit {s.exit_code})\n")
        w(CLEAN_MEANING + "\n")
        self.out.flush()
