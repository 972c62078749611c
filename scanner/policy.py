"""Policy: which findings block a delivery, and which recorded approvals waive them.

The policy is given explicitly (``--policy`` or ``DELIVERSCAN_POLICY``); one inside the scanned
tree is never picked up, so content under review cannot waive itself.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field

from detectors.api import Options
from detectors.model import AI, REVIEW, AssetResult


class PolicyError(ValueError):
    """A policy file that cannot be used; the message names the file and line."""


@dataclass
class Policy:
    fail_on: frozenset[str] = frozenset({AI})
    source: str | None = None
    warnings: list[str] = field(default_factory=list)

    @classmethod
    def default(cls, fail_on_review: bool = False) -> Policy:
        return cls(fail_on=frozenset({AI, REVIEW}) if fail_on_review else frozenset({AI}))

    @classmethod
    def load(cls, path: str) -> Policy:
        try:
            with open(path, "rb") as fh:
                data = tomllib.load(fh)
        except OSError as exc:
            raise PolicyError(f"{path}: cannot read policy: {exc.strerror or exc}") from None
        except tomllib.TOMLDecodeError as exc:
            raise PolicyError(f"{path}: {exc}") from None
        fail_on = data.get("fail_on", [AI])
        if isinstance(fail_on, str):
            fail_on = [fail_on]
        if not set(fail_on) <= {AI, REVIEW}:
            raise PolicyError(f"{path}: fail_on must be a list of 'ai'/'review', got {fail_on!r}")
        return cls(fail_on=frozenset(fail_on), source=os.path.abspath(path))

    def warn_if_inside(self, roots: tuple[str, ...] | list[str]) -> None:
        """Say so when the policy file sits inside a scanned root (it still only applies because
        the user named it explicitly)."""
        if not self.source:
            return
        for root in roots:
            base = os.path.abspath(root)
            if self.source == base or self.source.startswith(base.rstrip(os.sep) + os.sep):
                self.warnings.append(f"policy {self.source} lies inside scanned root {root}")

    def configure(self, options: Options) -> None:
        """Apply detector options from the policy (verify limit, trust anchors, register...)."""

    def needs_hash(self, result: AssetResult) -> bool:
        """Whether the asset's content hash is needed (approvals are keyed by it)."""
        return False

    def apply(self, result: AssetResult) -> None:
        """Attach approvals to findings and decide whether the asset blocks the delivery."""
        result.approvals = [None] * len(result.findings)
        result.blocking = any(f.verdict in self.fail_on for f in result.findings)
