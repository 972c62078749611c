"""Verdict rules, result assembly and exit codes, on hand-built detector outcomes."""

from __future__ import annotations

import dataclasses

from detectors.model import (
    APPLIED,
    FAILED,
    NOT_APPLICABLE,
    Asset,
    AssetResult,
    Finding,
    Outcome,
    ScanError,
    Scanned,
    Summary,
)
from scanner.aggregate import add_to_summary, assemble, exit_code
from scanner.policy import Policy


def _asset(kind: str = "image", **kw) -> Asset:  # type: ignore[no-untyped-def]
    return Asset(path="x", size=10, mtime_ns=0, kind=kind, **kw)


def _f(verdict: str) -> Finding:
    return Finding("d", "r", verdict, "declared", "loc", "v", "m")


def _scanned(*findings: Finding, errors: int = 0, status: str = APPLIED,
             kind: str = "image", **asset) -> Scanned:  # type: ignore[no-untyped-def]
    outcome = Outcome("d", status, tuple(findings), error="boom" if errors else None)
    return Scanned(_asset(kind, **asset), (outcome,))


def _r(*findings: Finding, policy: Policy | None = None, **kw) -> AssetResult:  # type: ignore[no-untyped-def]
    return assemble(_scanned(*findings, **kw), policy or Policy.default())


def test_ai_outranks_review_outranks_error_outranks_clean() -> None:
    assert _r(_f("review"), _f("ai"), errors=1).verdict == "ai"
    assert _r(_f("review"), errors=1).verdict == "review"
    assert _r(errors=1).verdict == "error"
    assert _r().verdict == "clean"


def test_media_file_no_detector_applied_is_error_not_clean() -> None:
    r = _r(status=NOT_APPLICABLE, kind="video")
    assert r.verdict == "error"
    assert r.errors == (ScanError("pipeline", "no detector could read this media file"),)


def test_other_file_no_detector_is_skipped_and_says_why() -> None:
    r = _r(status=NOT_APPLICABLE, kind="other")
    assert r.verdict == "skipped"
    assert r.asset.skip_reason and r.asset.skip_reason.startswith("not a media file")


def test_skipped_special_file() -> None:
    assert _r(kind="other", skip_reason="FIFO").verdict == "skipped"


def test_detector_error_is_a_typed_record_with_its_source() -> None:
    r = _r(errors=1, status=FAILED)
    assert r.errors == (ScanError("d", "boom"),)
    assert r.errors[0].stage == "detector" and r.errors[0].to_dict() == {
        "detector": "d", "message": "boom"}


def test_assembly_changes_nothing_it_was_given() -> None:
    """Policy and aggregation return new objects: the detector's findings stay unapproved."""
    f = _f("ai")
    scanned = _scanned(f)
    frozen = dataclasses.astuple(scanned)
    policy = Policy.loads('[[approvals]]\nsha256 = "' + "a" * 64 + '"\nref = "T-1"\n'
                          'by = "Ann"\nreason = "ok"\n')
    r = assemble(scanned, policy, sha256="a" * 64)
    assert r.findings[0].approval is not None and r.findings[0].approval.ref == "T-1"
    assert f.approval is None and dataclasses.astuple(scanned) == frozen
    assert r.blocking is False and r.verdict == "ai"


def test_fingerprint_is_stable_and_ignores_the_approval() -> None:
    from detectors.model import Approval

    f = _f("ai")
    approved = dataclasses.replace(f, approval=Approval("T-1", "Ann", "ok"))
    assert f.fingerprint == approved.fingerprint == _f("ai").fingerprint
    assert f.fingerprint != dataclasses.replace(f, value="other").fingerprint


def _summary(*results: AssetResult) -> Summary:
    s = Summary()
    for r in results:
        add_to_summary(s, r)
    return s


def test_exit_codes() -> None:
    assert exit_code(_summary(_r())) == 0
    assert exit_code(_summary(_r(_f("review")))) == 0
    assert exit_code(_summary(_r(_f("review"), policy=Policy.default(fail_on_review=True)))) == 1
    assert exit_code(_summary(_r(_f("ai")))) == 1
    # an incomplete scan outranks findings
    assert exit_code(_summary(_r(_f("ai")), _r(errors=1))) == 2
    # a root where nothing was checked is an incomplete scan too
    s = _summary(_r())
    s.empty_roots = ["/mnt/delivery"]
    assert exit_code(s) == 2


def test_summary_counts() -> None:
    s = _summary(_r(_f("ai")), _r(), _r(kind="audio"))
    assert s.files == 3 and s.bytes == 30
    assert s.verdicts == {"ai": 1, "clean": 2}
    assert s.kinds == {"image": 2, "audio": 1}
    assert s.detectors["d"] == {"applied": 3, "failed": 0, "findings": 1}
    assert s.blocking_assets == 1
