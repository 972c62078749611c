"""A progress line on stderr for people watching a terminal: files done of the total with a
percentage, the rate, the time left, what was found so far, and the file just finished.

The total comes from a stat-only walk in a background thread, so the scan never waits for it;
until it is known the line shows what is done. The line is redrawn at most ten times a second
and cut to the terminal's width.
"""

from __future__ import annotations

import shutil
import threading
import time
from typing import TextIO

from detectors.model import AI, ARCHIVE, ERROR, PACKAGE, REVIEW, display_path
from scanner.stored import Reported
from scanner.walk import Walker


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class Progress:
    def __init__(self, out: TextIO, roots: list[str] | tuple[str, ...],
                 excludes: tuple[str, ...], follow: bool) -> None:
        self.out = out
        self.done = 0
        self.found = {AI: 0, REVIEW: 0, ERROR: 0}
        self.total: int | None = None
        self.stage = 0  # of a staged scan (0: not staged)
        self.t0 = time.monotonic()
        self._last = 0.0
        self._stop = False
        threading.Thread(target=self._count, args=(list(roots), excludes, follow),
                         daemon=True).start()

    def _count(self, roots: list[str], excludes: tuple[str, ...], follow: bool) -> None:
        n = 0
        for _ in Walker(excludes, follow).walk(roots):
            if self._stop:
                return
            n += 1
        self.total = n

    def line(self, current: str = "") -> str:
        elapsed = max(time.monotonic() - self.t0, 1e-6)
        rate = self.done / elapsed
        parts = [f"{self.done:,}" + (f"/{self.total:,}" if self.total is not None else "")
                 + " files"]
        if self.total:
            parts[0] += f" {100 * self.done / self.total:.0f}%"
            if rate > 0 and self.done < self.total:
                parts.append(f"ETA {_clock((self.total - self.done) / rate)}")
        parts.append(f"{rate:,.0f}/s")
        found = ", ".join(f"{n} {v}" for v, n in self.found.items() if n)
        if found:
            parts.append(found)
        text = " · ".join(parts)
        if self.stage:
            text = f"stage {self.stage}/2 · {text}"
        if current:
            text += f" · {current}"
        width = shutil.get_terminal_size((100, 20)).columns - 1
        return text if len(text) <= width else text[:max(width - 1, 0)] + "…"

    def tick(self, result: Reported | None = None) -> None:
        member = result is not None and (result.asset.container is not None
                                         or result.asset.kind == PACKAGE)
        if not member:  # the total counts files of the tree; an archive is one when done
            self.done += 1
        if result is not None and result.verdict in self.found and \
                result.asset.kind not in (ARCHIVE, PACKAGE):  # their verdict is their files'
            self.found[result.verdict] += 1
        now = time.monotonic()
        if now - self._last >= 0.1:
            self._last = now
            current = display_path(result.asset.path) if result is not None else ""
            self.out.write("\r\033[K" + self.line(current))
            self.out.flush()

    def restart(self, stage: int) -> None:
        """A new stage of a staged scan: the same files again, counted from zero."""
        self.stage = stage
        self.done = 0
        self.found = {AI: 0, REVIEW: 0, ERROR: 0}
        self.t0 = time.monotonic()

    def clear(self) -> None:
        self.out.write("\r\033[K")
        self.out.flush()

    def close(self) -> None:
        self._stop = True
        self.out.write("\r\033[K")
        self.out.flush()
