"""A third-party detector used by the tests: flags files by marker bytes in their header, and
misbehaves on demand (sleeps, crashes, hogs memory) to test the worker pool.

Loaded through the real entry-point mechanism (tests/plugin_fixture/dsfake-0.1.dist-info).
If ``DSFAKE_LOG`` is set, every detect() call appends the file's path to that log (outside the
scanned tree), so tests can see which files were really re-read. ``DSFAKE_PAIRS``: the log
that files holding ``PAIR`` meet in (``_pair``)."""

from __future__ import annotations

import ctypes
import os
import time
from collections.abc import Iterator

from detectors import AssetContext, Detector, Finding, Incomplete
from detectors.api import Option, RuleInfo
from detectors.model import Asset


def _pair(log: str) -> None:
    """Note this process in ``log`` and wait until a second process has noted itself: files
    that only finish when two workers read at once (how the pool spreads a few large files)."""
    with open(log, "a", encoding="utf-8") as fh:
        fh.write(f"{os.getpid()}\n")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with open(log, encoding="utf-8") as fh:
            if len(set(fh.read().split())) >= 2:
                return
        time.sleep(0.02)
    raise Incomplete("no other worker read a PAIR file within 20 s")


class MarkerDetector(Detector):
    name = "fakemarker"
    version = "0.1"
    kinds = frozenset({"image", "video", "audio", "other"})
    # The default cache token covers declared settings: a new "rule pack" re-runs it.
    options = (Option("rules", str, "1", "Version of the (pretend) rule pack."),)

    def rules(self) -> list[RuleInfo]:
        return [RuleInfo("fake.ai", self.name, "ai", "declared", "test marker AI-MARK"),
                RuleInfo("fake.review", self.name, "review", "declared", "test marker REVIEW-MARK")]

    def detect(self, asset: Asset, ctx: AssetContext) -> Iterator[Finding]:
        log = os.environ.get("DSFAKE_LOG")
        if log:
            with open(log, "a", encoding="utf-8", errors="surrogateescape") as fh:
                fh.write(os.path.basename(asset.path) + "\n")
        head = ctx.head
        if b"AI-MARK" in head:
            off = head.index(b"AI-MARK")
            yield Finding(self.name, "fake.ai", "ai", "declared", f"offset {off}", "AI-MARK",
                          "test marker AI-MARK present")
        if b"REVIEW-MARK" in head:
            yield Finding(self.name, "fake.review", "review", "declared", "head", "REVIEW-MARK",
                          "test marker REVIEW-MARK present")
        if b"INCOMPLETE" in head:
            raise Incomplete("could not finish: INCOMPLETE marker")
        if b"BOOM" in head:
            raise RuntimeError("detector exploded on BOOM")
        if b"SLEEP" in head:
            time.sleep(600)
        if b"PAIR" in head:  # wait (up to 20 s) until another worker is on a PAIR file too
            _pair(os.environ["DSFAKE_PAIRS"])
        if b"NAP" in head:  # a file that takes a moment (a scan long enough to disturb)
            time.sleep(0.05)
        if b"SEGV" in head:
            ctypes.string_at(0)  # a real segfault, as a native reader bug would cause
        if b"HOG" in head:
            hog = bytearray(1200 * 1024 * 1024)
            for i in range(0, len(hog), 4096):
                hog[i] = 1
            time.sleep(30)
