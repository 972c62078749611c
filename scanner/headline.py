"""The run's verdict in words, the same in every report (table, HTML, JUnit, SARIF, the summary
on stderr): a title that never contradicts the counts, and every fact that matters (blocking,
approved, for review, not checked, flagged yet not checked in full, roots with nothing
checked).

A title alone hid facts before ("NO AI MARKERS FOUND" above "2 ai" that were approved,
"SCAN INCOMPLETE" hiding 2,450 blocking files): here the title comes from the exit code and the
facts follow it, always.
"""

from __future__ import annotations

from dataclasses import dataclass

from detectors.model import AI, ERROR, REVIEW, Summary
from scanner.aggregate import incomplete

PASS, FAIL, INCOMPLETE = "pass", "fail", "incomplete"


@dataclass(frozen=True)
class Headline:
    status: str  # pass | fail | incomplete (the exit code's meaning)
    title: str
    facts: tuple[str, ...]

    @property
    def text(self) -> str:
        return f"{self.title}: {'; '.join(self.facts)}" if self.facts else self.title


def _n(count: int, one: str, many: str | None = None) -> str:
    return f"{count:,} {one if count == 1 else (many or one + 's')}"


def headline(s: Summary) -> Headline:
    """Title and facts for a finished (or interrupted) run."""
    blocking = s.blocking_assets
    errors = s.verdicts.get(ERROR, 0)
    flagged_unread = incomplete(s) - errors  # flagged (ai, review) yet not fully read
    ai = s.verdicts.get(AI, 0)
    review = s.verdicts.get(REVIEW, 0)
    facts = []
    if blocking:
        facts.append(f"{_n(blocking, 'file')} {'blocks' if blocking == 1 else 'block'} "
                     "the delivery")
    if s.approved_findings:
        facts.append(f"{_n(s.approved_findings, 'approved AI use')} (not blocking)")
    baselined = getattr(s, "baselined_findings", 0)
    if baselined:
        facts.append(f"{_n(baselined, 'finding')} accepted by the baseline (not blocking)")
    open_ai = ai - min(ai, blocking)
    if open_ai and not s.approved_findings and not baselined:
        facts.append(f"{_n(open_ai, 'AI-marked file')} not blocking under this policy")
    if review:
        facts.append(f"{_n(review, 'file')} for review")
    if errors:
        facts.append(f"{_n(errors, 'file')} could not be checked")
    if flagged_unread:
        facts.append(f"{_n(flagged_unread, 'flagged file')} could not be checked in full")
    for root in s.empty_roots:
        facts.append(f"nothing checked under {root}")
    if s.exit_code == 2:
        title = "NOTHING CHECKED" if s.empty_roots and not s.files - len(s.empty_roots) \
            else "SCAN INCOMPLETE"
        return Headline(INCOMPLETE, title, tuple(facts))
    if s.exit_code == 1:
        return Headline(FAIL, "BLOCKED", tuple(facts))
    if ai or review:
        return Headline(PASS, "NOT BLOCKED", tuple(facts))
    return Headline(PASS, "NO AI MARKERS FOUND", tuple(facts))
