"""Verdict rules and exit codes, on hand-built results."""

from __future__ import annotations

from detectors.model import APPLIED, FAILED, Asset, AssetResult, Coverage, Finding, Summary
from scanner.aggregate import add_to_summary, asset_verdict, exit_code
from scanner.policy import Policy


def _asset(kind: str = "image", **kw) -> Asset:  # type: ignore[no-untyped-def]
    return Asset(path="x", size=10, mtime_ns=0, kind=kind, **kw)


def _f(verdict: str) -> Finding:
    return Finding("d", "r", verdict, "declared", "loc", "v", "m")


def _r(*findings: Finding, errors: int = 0, applied: bool = True, kind: str = "image") -> AssetResult:
    cov = [Coverage("d", APPLIED if applied else FAILED)]
    return AssetResult(_asset(kind), "clean", list(findings),
                       [{"detector": "d", "message": "boom"}] * errors, cov)


def test_ai_outranks_review_outranks_error_outranks_clean() -> None:
    assert asset_verdict(_r(_f("review"), _f("ai"), errors=1)) == "ai"
    assert asset_verdict(_r(_f("review"), errors=1)) == "review"
    assert asset_verdict(_r(errors=1)) == "error"
    assert asset_verdict(_r()) == "clean"


def test_media_file_no_detector_applied_is_error_not_clean() -> None:
    r = AssetResult(_asset("video"), "clean", coverage=[Coverage("d", "not_applicable")])
    assert asset_verdict(r) == "error"
    assert r.errors[0]["message"] == "no detector could read this media file"


def test_other_file_no_detector_is_skipped() -> None:
    r = AssetResult(_asset("other"), "clean", coverage=[Coverage("d", "not_applicable")])
    assert asset_verdict(r) == "skipped"


def test_skipped_special_file() -> None:
    r = AssetResult(_asset("other", skip_reason="FIFO"), "clean")
    assert asset_verdict(r) == "skipped"


def _summary(*results: AssetResult, policy: Policy | None = None) -> Summary:
    s = Summary()
    for r in results:
        r.verdict = asset_verdict(r)
        (policy or Policy.default()).apply(r)
        add_to_summary(s, r)
    return s


def test_exit_codes() -> None:
    assert exit_code(_summary(_r())) == 0
    assert exit_code(_summary(_r(_f("review")))) == 0
    assert exit_code(_summary(_r(_f("review")), policy=Policy.default(fail_on_review=True))) == 1
    assert exit_code(_summary(_r(_f("ai")))) == 1
    # an incomplete scan outranks findings
    assert exit_code(_summary(_r(_f("ai")), _r(errors=1))) == 2


def test_summary_counts() -> None:
    s = _summary(_r(_f("ai")), _r(), _r(kind="audio"))
    assert s.files == 3 and s.bytes == 30
    assert s.verdicts == {"ai": 1, "clean": 2}
    assert s.kinds == {"image": 2, "audio": 1}
    assert s.detectors["d"] == {"applied": 3, "failed": 0, "findings": 1}
    assert s.blocking_assets == 1
