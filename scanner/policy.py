"""Policy: which findings block a delivery, and which recorded approvals waive them.

The policy is given explicitly (``--policy`` or ``DELIVERSCAN_POLICY``); one inside the scanned
tree is never picked up, so content under review cannot waive itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from detectors.model import AI, REVIEW, AssetResult


@dataclass
class Policy:
    fail_on: frozenset[str] = frozenset({AI})
    source: str | None = None
    warnings: list[str] = field(default_factory=list)

    @classmethod
    def default(cls, fail_on_review: bool = False) -> Policy:
        return cls(fail_on=frozenset({AI, REVIEW}) if fail_on_review else frozenset({AI}))

    def needs_hash(self, result: AssetResult) -> bool:
        """Whether the asset's content hash is needed (approvals are keyed by it)."""
        return False

    def apply(self, result: AssetResult) -> None:
        """Attach approvals to findings and decide whether the asset blocks the delivery."""
        result.approvals = [None] * len(result.findings)
        result.blocking = any(f.verdict in self.fail_on for f in result.findings)
