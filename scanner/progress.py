"""A progress line on stderr (files done / total, rate) for people watching a terminal.

The total comes from a stat-only walk in a background thread, so the scan never waits for it.
"""

from __future__ import annotations

import threading
import time
from typing import TextIO

from scanner.walk import Walker


class Progress:
    def __init__(self, out: TextIO, roots: tuple[str, ...], excludes: tuple[str, ...],
                 follow: bool) -> None:
        self.out = out
        self.done = 0
        self.total: int | None = None
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

    def tick(self) -> None:
        self.done += 1
        now = time.monotonic()
        if now - self._last >= 0.1:
            self._last = now
            rate = self.done / max(now - self.t0, 1e-6)
            total = f"/{self.total}" if self.total is not None else ""
            self.out.write(f"\r{self.done}{total} files, {rate:.0f} files/s ")
            self.out.flush()

    def close(self) -> None:
        self._stop = True
        self.out.write("\r\033[K")
        self.out.flush()
