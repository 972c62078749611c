"""The terminal report: flagged assets first, each with its strongest evidence, then errors,
every path that was not scanned, the counts and the verdict in words (``scanner.headline``, the
same words as every other format).

On a terminal it fits the width (long lines wrap between words, never inside a path or a
token) and colours by verdict unless ``NO_COLOR`` or ``--no-color``; written to a file or a
pipe it keeps one line per item for grep. ``summary_lines`` is the closing paragraph alone,
which the CLI prints on stderr when the report itself goes elsewhere.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from typing import TextIO

from detectors.model import (
    AI,
    ARCHIVE,
    ERROR,
    PACKAGE,
    REVIEW,
    SKIPPED,
    TIERS,
    AssetResult,
    Finding,
    Report,
    display_path,
)
from scanner.headline import FAIL, INCOMPLETE, PASS, headline
from scanner.stored import StoredResult

ORDER = {AI: 0, REVIEW: 1, ERROR: 2}
CLEAN_MEANING = ("'clean' means no AI marker was found by the detectors that ran; "
                 "it is not proof of human origin.")
LEGEND = ("AI* / REVIEW*: not blocking (every finding approved, or below fail_on). "
          + CLEAN_MEANING)
INDENT = " " * 9
MAX_FRAME_ERRORS = 6  # a sequence's frame errors shown in the table (the rest counted)
# ANSI colours by verdict and by headline status.
_COLOURS = {AI: "31;1", REVIEW: "33;1", ERROR: "35;1", SKIPPED: "2",
            FAIL: "41;97;1", INCOMPLETE: "45;97;1", PASS: "42;97;1"}

__all__ = ["CLEAN_MEANING", "LEGEND", "TableWriter", "display_path", "strongest",
           "summary_lines"]


def strongest(findings: Sequence[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: (f.verdict != AI, TIERS.index(f.tier)))


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return str(n)


def summary_lines(report: Report, colour: bool = False) -> list[str]:
    """Counts, cache and skip lines, warnings, and the verdict: the closing paragraph."""
    s = report.summary
    out = []
    counts = ", ".join(f"{n:,} {v}" for v, n in sorted(s.verdicts.items()))
    out.append(f"Scanned {s.files:,} files ({_size(s.bytes)}) in {s.duration_s:.2f} s: "
               f"{counts or 'nothing'}")
    if s.packages:
        out.append(f"IMF packages: {s.packages:,} (each checked against its ASSETMAP and "
                   "packing list; its files are counted as files)")
    if s.archives:
        out.append(f"Looked inside {s.archives:,} archive{'s' if s.archives != 1 else ''}: "
                   "every member is counted as a file")
    if s.cache_hits:
        out.append(f"Unchanged since the last scan (from the cache): {s.cache_hits:,} files")
    if s.clutter_skipped or s.excluded:
        out.append(f"Not scanned on purpose: {s.clutter_skipped:,} OS clutter files, "
                   f"{s.excluded:,} excluded")
    out.extend(f"warning: {w}" for w in report.warnings)
    h = headline(s)
    verdict = f"Verdict: {h.text} (exit {s.exit_code})"
    if colour:
        verdict = f"\033[{_COLOURS[h.status]}m{verdict}\033[0m"
    out.append(verdict)
    out.append(LEGEND if any(k in s.verdicts for k in (AI, REVIEW)) else CLEAN_MEANING)
    return out


class TableWriter:
    def __init__(self, out: TextIO, colour: bool = False, width: int | None = None) -> None:
        self.out = out
        self.colour = colour
        self.width = width  # None: one line per item (files, pipes)
        self.flagged: list[AssetResult] = []
        self.skipped: dict[str, list[str]] = {}  # reason -> paths, every one listed

    def add(self, result: AssetResult) -> None:
        if result.verdict == SKIPPED:
            self.skipped.setdefault(result.asset.skip_reason or "not scanned", []).append(
                result.asset.path)
        elif result.verdict in ORDER:
            self.flagged.append(result)

    def add_stored(self, stored: StoredResult) -> None:
        """A stored result: a clean one is not listed, a skipped one by path only."""
        if stored.verdict in ORDER:
            self.add(stored.result)
        elif stored.verdict == SKIPPED:
            self.skipped.setdefault(stored.asset.skip_reason or "not scanned", []).append(
                stored.asset.path)

    def _paint(self, text: str, verdict: str) -> str:
        return f"\033[{_COLOURS[verdict]}m{text}\033[0m" if self.colour else text

    def _wrap(self, text: str, indent: str = INDENT) -> list[str]:
        if self.width is None or len(text) <= self.width:
            return [text]
        return textwrap.wrap(text, self.width, subsequent_indent=indent,
                             break_long_words=False, break_on_hyphens=False) or [text]

    def _lines(self, r: AssetResult) -> list[str]:
        label = r.verdict.upper()
        if r.findings and not r.blocking and r.verdict in (AI, REVIEW):
            label += "*"
        lines = [f"{self._paint(f'{label:<8}', r.verdict)} {r.asset.kind:<7} "
                 f"{display_path(r.asset.path)}"]
        fs = strongest(r.findings)
        if fs:
            f = fs[0]
            extra = f" (+{len(fs) - 1} more)" if len(fs) > 1 else ""
            tag = f" APPROVED {f.approval.ref}" if f.approval else ""
            lines += self._wrap(f"{INDENT}{f.message}{tag}")
            frame = f"frame {f.evidence['frame']}: " if "frame" in f.evidence else ""
            lines += self._wrap(f"{INDENT}{frame}{f.detector}:{f.rule} [{f.tier}] {f.location} = "
                                f"{f.value[:100]!s}{extra}")
            if f.evidence.get("imf"):
                lines += self._wrap(f"{INDENT}IMF: " + "; ".join(f.evidence["imf"][:3]))
        if (r.asset.kind == ARCHIVE or r.sequence is not None) and r.asset.notes:
            lines += self._wrap(f"{INDENT}{r.asset.notes[-1]}")
        elif r.asset.kind == PACKAGE:
            lines += [ln for note in r.asset.notes for ln in self._wrap(f"{INDENT}{note}")]
        shown = r.errors if r.sequence is None else r.errors[:MAX_FRAME_ERRORS]
        for e in shown:
            lines += self._wrap(f"{INDENT}{e.source}: {e.message}")
        if len(shown) < len(r.errors):
            lines += self._wrap(f"{INDENT}… and {len(r.errors) - len(shown):,} more frame "
                                "errors (every one is in the JSON and CSV reports)")
        return lines

    def finish(self, report: Report) -> None:
        w = self.out.write
        shown = sorted(self.flagged, key=lambda r: ORDER[r.verdict])
        for r in shown:
            for line in self._lines(r):
                w(line + "\n")
        if shown:
            w("\n")
        if self.skipped:
            total = sum(len(paths) for paths in self.skipped.values())
            w(f"Not scanned ({total:,}):\n")
            for reason, paths in self.skipped.items():
                w(f"  {reason}:\n")
                for path in paths:
                    w(f"    {display_path(path)}\n")
            w("\n")
        for line in summary_lines(report, self.colour):
            for part in self._wrap(line, indent="  "):
                w(part + "\n")
        self.out.flush()
