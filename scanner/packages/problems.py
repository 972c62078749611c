"""What a package check found, as plain data a scanner turns into findings, errors or notes.

Why a separate type: a package problem is not a detector ``Finding`` (it says nothing about AI)
and not an I/O error of one file; it is a fact about the delivery's structure. Severity decides
what the scanner does with it: ``error`` means the package cannot be proven complete or intact
(fail closed: never clean), ``warning`` is a deviation worth showing, ``info`` is context.
"""

from __future__ import annotations

from dataclasses import dataclass

ERROR = "error"
WARNING = "warning"
INFO = "info"
SEVERITIES = (ERROR, WARNING, INFO)


@dataclass(frozen=True)
class Problem:
    """One fact about a package. ``path`` is relative to the package root (POSIX separators) or
    None for the package as a whole; ``asset_id`` is the ``urn:uuid:`` the fact is about."""

    severity: str
    code: str
    message: str
    path: str | None = None
    asset_id: str | None = None

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"unknown severity {self.severity!r}")

    def to_dict(self) -> dict[str, str | None]:
        return {"severity": self.severity, "code": self.code, "message": self.message,
                "path": self.path, "asset_id": self.asset_id}
