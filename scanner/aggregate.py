"""Turns one asset's findings, errors and coverage into its verdict, and results into a
delivery summary. Pure functions: easy to test alone."""

from __future__ import annotations

from detectors.formats.sniff import CLUTTER_TYPES
from detectors.model import (
    AI,
    APPLIED,
    CLEAN,
    ERROR,
    FAILED,
    REVIEW,
    SKIPPED,
    VERDICT_ORDER,
    AssetResult,
    Summary,
)

MEDIA_KINDS = frozenset({"image", "video", "audio"})


def asset_verdict(result: AssetResult) -> str:
    """``ai`` > ``review`` > ``error`` > ``clean``; ``skipped`` when nothing could apply.

    A media file that no detector applied to is an error, never clean: we cannot vouch for what
    we did not read.
    """
    if result.asset.skip_reason:
        return SKIPPED
    verdicts = {f.verdict for f in result.findings}
    if AI in verdicts:
        return AI
    if REVIEW in verdicts:
        return REVIEW
    if result.errors or result.asset.walk_error:
        return ERROR
    applied = any(c.status == APPLIED for c in result.coverage)
    if applied:
        return CLEAN
    if result.asset.kind in MEDIA_KINDS:
        result.errors.append({"detector": "pipeline",
                              "message": "no detector could read this media file"})
        return ERROR
    return SKIPPED


def add_to_summary(summary: Summary, result: AssetResult) -> None:
    summary.files += 1
    summary.bytes += result.asset.size
    summary.verdicts[result.verdict] = summary.verdicts.get(result.verdict, 0) + 1
    summary.kinds[result.asset.kind] = summary.kinds.get(result.asset.kind, 0) + 1
    for cov in result.coverage:
        d = summary.detectors.setdefault(cov.detector, {"applied": 0, "failed": 0, "findings": 0})
        if cov.status == APPLIED:
            d["applied"] += 1
        elif cov.status == FAILED:
            d["failed"] += 1
    for f in result.findings:
        d = summary.detectors.setdefault(f.detector, {"applied": 0, "failed": 0, "findings": 0})
        d["findings"] += 1
    if result.verdict == SKIPPED and result.asset.media_type in CLUTTER_TYPES:
        summary.clutter_skipped += 1
    summary.approved_findings += sum(1 for a in result.approvals if a is not None)
    if result.blocking:
        summary.blocking_assets += 1


def overall_verdict(summary: Summary) -> str:
    for v in VERDICT_ORDER:
        if summary.verdicts.get(v):
            return v if v != SKIPPED else CLEAN
    return CLEAN


def exit_code(summary: Summary) -> int:
    """0 nothing blocking, 1 blocking findings, 2 incomplete scan (outranks 1)."""
    if summary.verdicts.get(ERROR):
        return 2
    if summary.blocking_assets:
        return 1
    return 0


__all__ = ["asset_verdict", "add_to_summary", "overall_verdict", "exit_code", "CLEAN", "FAILED"]
