"""A third-party detector used by the tests: flags files by marker bytes in their header.

Loaded through the real entry-point mechanism (tests/plugin_fixture/dsfake-0.1.dist-info)."""

from __future__ import annotations

from collections.abc import Iterator

from detectors import AssetContext, Detector, Finding, Incomplete
from detectors.model import Asset


class MarkerDetector(Detector):
    name = "fakemarker"
    version = "0.1"
    kinds = frozenset({"image", "video", "audio", "other"})

    def detect(self, asset: Asset, ctx: AssetContext) -> Iterator[Finding]:
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
