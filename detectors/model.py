"""The data model every part of deliverscan speaks: plain dataclasses, no behaviour beyond
serialisation.

Kept in ``detectors/`` (not ``scanner/``) so that third-party detectors can build findings
without importing the application.
"""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass, field
from typing import Any

# Asset kinds decided by content sniffing (see detectors.formats.sniff).
KINDS = ("image", "video", "audio", "sidecar", "other")

# Finding verdicts and the asset verdict order (strongest first).
AI = "ai"
REVIEW = "review"
ERROR = "error"
CLEAN = "clean"
SKIPPED = "skipped"
VERDICT_ORDER = (AI, REVIEW, ERROR, CLEAN, SKIPPED)

# Evidence tiers, strongest first.
TIERS = ("verified", "declared", "matched", "suspected")

VALUE_LIMIT = 300


def truncate(value: str, limit: int = VALUE_LIMIT) -> str:
    """Cut long values for reports, saying how much was cut so a reader knows it is partial."""
    if len(value) <= limit:
        return value
    return f"{value[:limit]}… [{len(value) - limit} more chars]"


def excerpt_secret(value: str, limit: int = 80) -> str:
    """Short excerpt + hash for prompts/workflows, which may hold confidential script text."""
    digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    head = value[:limit].replace("\n", " ")
    more = f"… ({len(value)} chars)" if len(value) > limit else ""
    return f"{head}{more} [sha256:{digest}]"


def display_path(path: str) -> str:
    """A printable path: undecodable bytes shown as \\xNN (see ``path_fields`` for the exact form)."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def path_fields(path: str) -> dict[str, str]:
    """JSON fields for a path: ``path`` always, ``path_b64`` (raw bytes) when the name is not
    valid UTF-8, so a consumer can recover the exact name."""
    raw = os.fsencode(path)
    try:
        return {"path": raw.decode("utf-8")}
    except UnicodeDecodeError:
        return {"path": raw.decode("utf-8", "backslashreplace"),
                "path_b64": base64.b64encode(raw).decode("ascii")}


@dataclass(frozen=True)
class Asset:
    """One file handed to detectors. ``path`` is as the user gave it (surrogate-escaped str)."""

    path: str
    size: int
    mtime_ns: int
    kind: str
    media_type: str = "application/octet-stream"
    dev: int = 0
    inode: int = 0
    ctime_ns: int = 0  # changes on any write, and cannot be set by users (cache key)
    notes: tuple[str, ...] = ()
    # Set by the walker when the file must not be opened (FIFO, socket, device) or could not be
    # stat'ed/read; the pipeline turns these into ``skipped`` / ``error`` results.
    skip_reason: str | None = None
    walk_error: str | None = None

    @property
    def ext(self) -> str:
        return os.path.splitext(self.path)[1].lower()


@dataclass(frozen=True)
class Finding:
    """One piece of evidence. A person must be able to check it: which detector, which field
    (``location``), the exact ``value``, and how strong it is (``tier``)."""

    detector: str
    rule: str
    verdict: str  # "ai" | "review"
    tier: str  # "verified" | "declared" | "matched" | "suspected"
    location: str
    value: str
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.verdict not in (AI, REVIEW):
            raise ValueError(f"finding verdict must be ai/review, not {self.verdict!r}")
        if self.tier not in TIERS:
            raise ValueError(f"finding tier must be one of {TIERS}, not {self.tier!r}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "detector": self.detector,
            "rule": self.rule,
            "verdict": self.verdict,
            "tier": self.tier,
            "location": self.location,
            "value": self.value,
            "message": self.message,
            "evidence": self.evidence,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Finding:
        return cls(d["detector"], d["rule"], d["verdict"], d["tier"], d["location"], d["value"],
                   d["message"], dict(d.get("evidence") or {}))


# Coverage states: what one detector did with one asset. Every "no" is qualified.
APPLIED = "applied"
NOT_APPLICABLE = "not_applicable"
FAILED = "failed"
UNAVAILABLE = "unavailable"


@dataclass
class Coverage:
    detector: str
    status: str
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"detector": self.detector, "status": self.status, "notes": self.notes}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Coverage:
        return cls(d["detector"], d["status"], list(d.get("notes") or []))


@dataclass
class Approval:
    """A recorded permission attached to a finding (filled by the policy layer)."""

    ref: str
    by: str
    reason: str
    date: str = ""
    expires: str = ""
    sha256: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"ref": self.ref, "by": self.by, "reason": self.reason, "date": self.date,
                "expires": self.expires, "sha256": self.sha256}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Approval:
        return cls(d["ref"], d["by"], d["reason"], d.get("date", ""), d.get("expires", ""),
                   d.get("sha256", ""))


@dataclass
class AssetResult:
    asset: Asset
    verdict: str
    findings: list[Finding] = field(default_factory=list)
    errors: list[dict[str, str]] = field(default_factory=list)
    coverage: list[Coverage] = field(default_factory=list)
    sha256: str | None = None
    # Parallel to ``findings``: the approval that waives each one, or None.
    approvals: list[Approval | None] = field(default_factory=list)
    blocking: bool = False
    # Findings that are blocking (not waived, not disabled); computed by the policy layer.

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = path_fields(self.asset.path)
        out.update({
            "kind": self.asset.kind,
            "media_type": self.asset.media_type,
            "size": self.asset.size,
            "verdict": self.verdict,
            "blocking": self.blocking,
            "findings": [],
            "errors": self.errors,
            "coverage": [c.to_dict() for c in self.coverage],
            "notes": list(self.asset.notes),
        })
        if self.asset.skip_reason:
            out["skip_reason"] = self.asset.skip_reason
        if self.sha256:
            out["sha256"] = self.sha256
        approvals = self.approvals or [None] * len(self.findings)
        for f, a in zip(self.findings, approvals, strict=True):
            d = f.to_dict()
            d["approved"] = a is not None
            if a is not None:
                d["approval"] = a.to_dict()
            out["findings"].append(d)
        return out


def path_from_fields(d: dict[str, Any]) -> str:
    """Inverse of ``path_fields``: the exact (surrogate-escaped) path."""
    if "path_b64" in d:
        return os.fsdecode(base64.b64decode(d["path_b64"]))
    return str(d["path"])


def result_from_dict(d: dict[str, Any], mtime_ns: int = 0, dev: int = 0,
                     inode: int = 0) -> AssetResult:
    """Rebuild a result from its report form (JSONL resume, cache replay)."""
    asset = Asset(path=path_from_fields(d), size=int(d["size"]), mtime_ns=mtime_ns,
                  kind=d["kind"], media_type=d.get("media_type", "application/octet-stream"),
                  dev=dev, inode=inode, notes=tuple(d.get("notes") or ()),
                  skip_reason=d.get("skip_reason"))
    findings = [Finding.from_dict(f) for f in d.get("findings") or []]
    approvals = [Approval.from_dict(f["approval"]) if f.get("approval") else None
                 for f in d.get("findings") or []]
    return AssetResult(asset=asset, verdict=d["verdict"], findings=findings,
                       errors=[dict(e) for e in d.get("errors") or []],
                       coverage=[Coverage.from_dict(c) for c in d.get("coverage") or []],
                       sha256=d.get("sha256"), approvals=approvals,
                       blocking=bool(d.get("blocking")))


@dataclass
class Summary:
    files: int = 0
    bytes: int = 0
    verdicts: dict[str, int] = field(default_factory=dict)
    kinds: dict[str, int] = field(default_factory=dict)
    detectors: dict[str, dict[str, int]] = field(default_factory=dict)
    clutter_skipped: int = 0
    excluded: int = 0
    cache_hits: int = 0  # files whose every detector result came from the incremental cache
    empty_roots: list[str] = field(default_factory=list)  # roots where nothing was checked
    approved_findings: int = 0
    blocking_assets: int = 0
    duration_s: float = 0.0
    verdict: str = CLEAN
    exit_code: int = 0

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Report:
    tool: dict[str, Any]
    started: str
    finished: str
    roots: list[str]
    summary: Summary
    results: list[AssetResult]
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": "deliverscan.report/1",
            "tool": self.tool,
            "started": self.started,
            "finished": self.finished,
            "roots": [path_fields(r)["path"] for r in self.roots],
            "summary": self.summary.to_dict(),
            "warnings": self.warnings,
            "results": [r.to_dict() for r in self.results],
        }
