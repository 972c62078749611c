"""Builds each asset's result once, from what the detectors found, the policy's decisions and
the pipeline's own errors; and sums results into the delivery summary. Pure functions: easy to
test alone.

Verdict order: ``ai`` > ``review`` > ``error`` > ``clean``; ``skipped`` when nothing could
apply. A media file no detector could read is ``error``, never ``clean``.

A file that could not be fully read is *incomplete* whatever its verdict: a flagged file with
errors still makes the run incomplete (exit 2), or a review finding would hide the part of it
nobody read. The summary counts them (``incomplete``) apart from the ``error`` verdicts.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from detectors.formats.sniff import CLUTTER_TYPES
from detectors.model import (
    AI,
    APPLIED,
    ARCHIVE,
    CLEAN,
    ERROR,
    FAILED,
    MEDIA_KINDS,
    PACKAGE,
    PIPELINE,
    REVIEW,
    SKIPPED,
    VERDICT_ORDER,
    Asset,
    AssetResult,
    Coverage,
    Finding,
    ScanError,
    Scanned,
    Summary,
)

if TYPE_CHECKING:
    from scanner.baseline import Baseline
    from scanner.policy import Policy

NOT_MEDIA = "not a media file: no detector reads this kind (not scanned for media markers)"
UNREAD_MEDIA = "no detector could read this media file"


def asset_verdict(asset: Asset, findings: Sequence[Finding], errors: Sequence[ScanError],
                  coverage: Sequence[Coverage]) -> str:
    """The verdict of one asset (a pure query)."""
    if asset.skip_reason:
        return SKIPPED
    verdicts = {f.verdict for f in findings}
    if AI in verdicts:
        return AI
    if REVIEW in verdicts:
        return REVIEW
    if errors or asset.walk_error:
        return ERROR
    if any(c.status == APPLIED for c in coverage):
        return CLEAN
    return ERROR if asset.kind in MEDIA_KINDS else SKIPPED


def assemble(scanned: Scanned, policy: Policy, sha256: str | None = None,
             errors: Iterable[ScanError] = (), baseline: Baseline | None = None) -> AssetResult:
    """The result of one asset: the policy's view of its findings (``off`` ones dropped, each
    kept one carrying its approval, then what a baseline accepts), every error, the coverage,
    and the verdict."""
    asset = scanned.asset
    judged = policy.judge([f for o in scanned.outcomes for f in o.findings], sha256, asset.path)
    if baseline is not None and judged.findings:
        accepted = baseline.accept(judged.findings, asset.path, sha256)
        judged = dataclasses.replace(judged, findings=accepted, blocking=any(
            f.verdict in policy.fail_on and f.approval is None for f in accepted))
    coverage = []
    for o in scanned.outcomes:
        cov = o.coverage
        dropped = judged.dropped.get(o.detector)
        if dropped:
            cov = dataclasses.replace(cov, notes=(*cov.notes,
                                                  f"policy: {dropped} finding(s) turned off"))
        coverage.append(cov)
    all_errors = [*scanned.errors,
                  *(ScanError(o.detector, o.error) for o in scanned.outcomes if o.error),
                  *errors]
    verdict = asset_verdict(asset, judged.findings, all_errors, coverage)
    if verdict == ERROR and not all_errors and not asset.walk_error:
        all_errors.append(ScanError(PIPELINE, UNREAD_MEDIA))
    if verdict == SKIPPED and not asset.skip_reason:
        asset = dataclasses.replace(asset, skip_reason=NOT_MEDIA)
    return AssetResult(asset, verdict, judged.findings, tuple(all_errors), tuple(coverage),
                       sha256, judged.blocking)


def assemble_archive(scanned: Scanned, members: Sequence[AssetResult]) -> AssetResult:
    """An archive's result: the worst verdict of its members (``ai`` > ``review`` > ``error`` >
    ``clean``), ``error`` too when the archive itself could not be fully read (damaged, over a
    limit, a format we cannot open), blocking when a member is, and a note counting what is
    inside. Its findings stay with the members that hold them."""
    asset = scanned.asset
    counts: dict[str, int] = {}
    for m in members:
        counts[m.verdict] = counts.get(m.verdict, 0) + 1
    verdict = next((v for v in (AI, REVIEW, ERROR, CLEAN) if counts.get(v)), SKIPPED)
    if scanned.errors and verdict not in (AI, REVIEW):
        verdict = ERROR
    inside = ", ".join(f"{counts[v]} {v}" for v in VERDICT_ORDER if counts.get(v))
    if members:
        said = f"archive: {len(members)} member(s) checked one by one ({inside})"
    else:
        said = "archive: could not be looked inside" if scanned.errors else "archive: empty"
    notes = (*asset.notes, said)
    skip = None
    if verdict == SKIPPED:
        skip = asset.skip_reason or "archive holds no media file (nothing scanned for markers)"
    asset = dataclasses.replace(asset, notes=notes, skip_reason=skip)
    return AssetResult(asset, verdict, (), scanned.errors, (), None,
                       any(m.blocking for m in members))


def add_to_summary(summary: Summary, result: AssetResult) -> None:
    if result.asset.kind in (ARCHIVE, PACKAGE):
        # its members are the files; an archive or package counts as one only when it could
        # not be fully read itself (then the run is incomplete, whatever its members say)
        if result.asset.kind == ARCHIVE:
            summary.archives += 1
        else:
            summary.packages += 1
        if result.errors:
            summary.files += 1
            summary.bytes += result.asset.size
            summary.verdicts[ERROR] = summary.verdicts.get(ERROR, 0) + 1
            summary.kinds[result.asset.kind] = summary.kinds.get(result.asset.kind, 0) + 1
            _add_incomplete(summary)
        return
    add_brief(summary, brief_of(result))


def brief_of(result: AssetResult) -> dict[str, Any]:
    """What one file adds to the summary (and what a stored result needs to be reported
    without decoding it): verdict, kind, media type, size, skip reason, blocking, whether it
    could not be fully read (``i``), and per detector applied / failed / findings."""
    per: dict[str, list[int]] = {}
    for cov in result.coverage:
        d = per.setdefault(cov.detector, [0, 0, 0])
        d[0] += cov.status == APPLIED
        d[1] += cov.status == FAILED
    for f in result.findings:
        per.setdefault(f.detector, [0, 0, 0])[2] += 1
    approved = sum(1 for f in result.findings
                   if f.approval is not None and f.approval.source != "baseline")
    baselined = sum(1 for f in result.findings
                    if f.approval is not None and f.approval.source == "baseline")
    return {"v": result.verdict, "k": result.asset.kind, "m": result.asset.media_type,
            "s": result.asset.size, "r": result.asset.skip_reason, "b": result.blocking,
            "d": per, "a": approved, "bl": baselined,
            "i": bool(result.errors or result.asset.walk_error or result.verdict == ERROR)}


def add_brief(summary: Summary, brief: dict[str, Any]) -> None:
    """Add one file to the summary (``brief_of``): the single place counts are made. An
    archive served as stored (never with errors of its own) counts as an archive only."""
    if brief["k"] == ARCHIVE:
        summary.archives += 1
        return
    summary.files += 1
    summary.bytes += brief["s"]
    summary.verdicts[brief["v"]] = summary.verdicts.get(brief["v"], 0) + 1
    summary.kinds[brief["k"]] = summary.kinds.get(brief["k"], 0) + 1
    for det, (applied, failed, findings) in brief["d"].items():
        d = summary.detectors.setdefault(det, {"applied": 0, "failed": 0, "findings": 0})
        d["applied"] += applied
        d["failed"] += failed
        d["findings"] += findings
    if brief["v"] == SKIPPED and brief["m"] in CLUTTER_TYPES:
        summary.clutter_skipped += 1
    summary.approved_findings += brief["a"]
    summary.baselined_findings += brief["bl"]
    if brief["b"]:
        summary.blocking_assets += 1
    # a brief stored before "i" existed: only results without errors are stored, so its
    # verdict says it all
    if brief.get("i", brief["v"] == ERROR):
        _add_incomplete(summary)


def incomplete(summary: Summary) -> int:
    """Files that could not be fully read, whatever their verdict (at least the ``error``
    verdicts, for a summary built by hand)."""
    return max(summary.incomplete, summary.verdicts.get(ERROR, 0))


def _add_incomplete(summary: Summary) -> None:
    summary.incomplete += 1


def overall_verdict(summary: Summary) -> str:
    for v in VERDICT_ORDER:
        if summary.verdicts.get(v):
            return v if v != SKIPPED else CLEAN
    return CLEAN


def exit_code(summary: Summary) -> int:
    """The one exit-code rule: 0 nothing blocking, 1 blocking findings, 2 incomplete scan (any
    file that could not be fully read, flagged or not, or a root where nothing was checked),
    which outranks 1."""
    if incomplete(summary) or summary.empty_roots:
        return 2
    if summary.blocking_assets:
        return 1
    return 0


__all__ = ["MEDIA_KINDS", "NOT_MEDIA", "add_brief", "add_to_summary", "assemble",
           "assemble_archive", "asset_verdict", "brief_of",
           "exit_code", "incomplete", "overall_verdict"]
