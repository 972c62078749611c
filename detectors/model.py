"""The data model every part of deliverscan speaks: plain dataclasses, no behaviour beyond
serialisation.

Kept in ``detectors/`` (not ``scanner/``) so that third-party detectors can build findings
without importing the application.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
from dataclasses import dataclass, field
from typing import Any

# Asset kinds decided by content sniffing (see detectors.formats.sniff).
KINDS = ("image", "video", "audio", "sidecar", "archive", "package", "other")
ARCHIVE = "archive"  # looked inside: each member is an asset of its own
PACKAGE = "package"  # a delivery package (IMF): its files are assets of their own
MEDIA_KINDS = frozenset({"image", "video", "audio"})

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
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


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
    """A path as a person reads it on one line: valid UTF-8 names as they are (``Ünïcödé.mov``),
    undecodable bytes as ``\\xNN`` and control characters (a newline in a name) escaped, so no
    name can break a line or a table. ``path_fields`` keeps the exact bytes for machines."""
    text = os.fsencode(path).decode("utf-8", "backslashreplace")
    if _CONTROL.search(text) is None:
        return text
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


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
    # An archive member: ``path`` is its name in reports (``turnover.zip!/plates/bg.exr``),
    # ``container`` the archive holding it, ``extracted`` the private temporary copy detectors
    # read (deleted once scanned). Never set for files of the scanned tree.
    container: str | None = None
    extracted: str | None = None
    pixels: tuple[int, int] | None = None  # width, height from the header, when it says

    @property
    def ext(self) -> str:
        return os.path.splitext(self.path)[1].lower()

    @property
    def fs_path(self) -> str:
        """Where the bytes are: the file itself, or an archive member's temporary copy.
        Detectors open this, and report ``path``."""
        return self.extracted or self.path


@dataclass(frozen=True)
class Field:
    """One metadata value a format reader found, under a canonical key (the common language
    between readers and the rule pack; the key scheme is documented in
    ``detectors/formats/__init__.py``)."""

    key: str
    value: str
    location: str  # where a person finds it: "PNG tEXt chunk 'parameters' at offset 0x2f"
    reader: str = "native"  # "native" | "exiftool"


@dataclass(frozen=True)
class Approval:
    """A recorded permission for one finding (attached by the policy layer)."""

    ref: str
    by: str
    reason: str
    date: str = ""
    expires: str = ""
    sha256: str = ""
    source: str = "policy"  # "policy" (a recorded approval) | "baseline" (accepted legacy)

    def to_dict(self) -> dict[str, Any]:
        return {"ref": self.ref, "by": self.by, "reason": self.reason, "date": self.date,
                "expires": self.expires, "sha256": self.sha256, "source": self.source}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Approval:
        return cls(d["ref"], d["by"], d["reason"], d.get("date", ""), d.get("expires", ""),
                   d.get("sha256", ""), d.get("source", "policy"))


@dataclass(frozen=True)
class Finding:
    """One piece of evidence. A person must be able to check it: which detector, which field
    (``location``), the exact ``value``, and how strong it is (``tier``).

    Detectors make findings; the policy layer returns a copy carrying the ``approval`` that
    waives it (never set by a detector). ``fingerprint`` identifies the evidence itself
    (detector, rule, location, value) whatever the file is called: baselines key on it."""

    detector: str
    rule: str
    verdict: str  # "ai" | "review"
    tier: str  # "verified" | "declared" | "matched" | "suspected"
    location: str
    value: str
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)
    approval: Approval | None = None

    def __post_init__(self) -> None:
        if self.verdict not in (AI, REVIEW):
            raise ValueError(f"finding verdict must be ai/review, not {self.verdict!r}")
        if self.tier not in TIERS:
            raise ValueError(f"finding tier must be one of {TIERS}, not {self.tier!r}")

    @property
    def fingerprint(self) -> str:
        text = "\0".join((self.detector, self.rule, self.location, self.value))
        return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]

    def to_dict(self) -> dict[str, Any]:
        out = {
            "detector": self.detector,
            "rule": self.rule,
            "verdict": self.verdict,
            "tier": self.tier,
            "location": self.location,
            "value": self.value,
            "message": self.message,
            "evidence": self.evidence,
            "approved": self.approval is not None,
        }
        if self.approval is not None:
            out["approval"] = self.approval.to_dict()
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Finding:
        approval = Approval.from_dict(d["approval"]) if d.get("approval") else None
        return cls(d["detector"], d["rule"], d["verdict"], d["tier"], d["location"], d["value"],
                   d["message"], dict(d.get("evidence") or {}), approval)


# Coverage states: what one detector did with one asset. Every "no" is qualified.
APPLIED = "applied"
NOT_APPLICABLE = "not_applicable"
FAILED = "failed"
UNAVAILABLE = "unavailable"


@dataclass(frozen=True)
class Coverage:
    detector: str
    status: str
    notes: tuple[str, ...] = ()
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"detector": self.detector, "status": self.status, "notes": list(self.notes)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Coverage:
        return cls(d["detector"], d["status"], tuple(d.get("notes") or ()))


# Where an error that is not one detector's came from (``ScanError.source``).
WALK = "walker"  # the path could not be stat'ed or listed
READ = "reader"  # the file could not be opened or read at all
WORKER = "worker"  # the worker reading it timed out, ran out of memory or died
HASH = "hash"  # the content hash (approvals) could not be computed
PIPELINE = "pipeline"  # no detector could read a media file
STAGES = frozenset({WALK, READ, WORKER, HASH, PIPELINE})


@dataclass(frozen=True)
class ScanError:
    """Something that kept an asset from being fully checked. ``source`` is a detector name
    or one of the pipeline stages above."""

    source: str
    message: str

    @property
    def stage(self) -> str:
        return self.source if self.source in STAGES else "detector"

    def to_dict(self) -> dict[str, str]:
        return {"detector": self.source, "message": self.message}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ScanError:
        return cls(str(d["detector"]), str(d["message"]))


@dataclass(frozen=True)
class Outcome:
    """What one detector did with one asset: the raw material a result is built from (and
    what the incremental cache keeps per detector)."""

    detector: str
    status: str  # applied | not_applicable | failed | unavailable
    findings: tuple[Finding, ...] = ()
    notes: tuple[str, ...] = ()
    error: str | None = None  # why it failed (status failed), or an applies() failure
    seconds: float = 0.0

    @property
    def coverage(self) -> Coverage:
        return Coverage(self.detector, self.status, self.notes, self.seconds)

    def to_dict(self) -> dict[str, Any]:
        return {"coverage": self.coverage.to_dict(),
                "findings": [f.to_dict() for f in self.findings],
                "errors": [{"detector": self.detector, "message": self.error}]
                if self.error is not None else []}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Outcome:
        cov = Coverage.from_dict(d["coverage"])
        errors = d.get("errors") or []
        return cls(cov.detector, cov.status, tuple(Finding.from_dict(f) for f in d["findings"]),
                   cov.notes, errors[0]["message"] if errors else None)


@dataclass(frozen=True)
class Scanned:
    """An asset after sniffing and detection, before policy: what a worker returns."""

    asset: Asset
    outcomes: tuple[Outcome, ...] = ()
    errors: tuple[ScanError, ...] = ()  # the pipeline's own (walk, read, worker)
    sha256: str | None = None  # known content hash (from the cache, or taken while extracting)
    members: tuple[Scanned, ...] = ()  # an archive's members, in stored order
    deferred: tuple[str, ...] = ()  # stage 1: detectors (or "archive") left to stage 2


@dataclass(frozen=True)
class Sequence:
    """An image sequence reported as one asset (``scanner.sequences``): the frames it spans,
    those missing in between, and every frame that is not plainly clean, whole."""

    pattern: str  # the file name with the frame range: "shot040.[1001-1200].exr"
    first: int
    last: int
    count: int  # frames present
    missing: tuple[tuple[int, int], ...] = ()  # ranges of absent frame numbers (inclusive)
    frames: tuple[tuple[int, AssetResult], ...] = ()  # flagged, unreadable, not-checked frames
    resolutions: tuple[tuple[str, int], ...] = ()  # "2048x1080" -> frames, when headers say

    def to_dict(self) -> dict[str, Any]:
        return {"pattern": self.pattern, "first": self.first, "last": self.last,
                "count": self.count, "missing": [list(r) for r in self.missing],
                "resolutions": dict(self.resolutions),
                "frames": [{"frame": n, **r.to_dict()} for n, r in self.frames]}


@dataclass(frozen=True)
class AssetResult:
    """The final word on one asset, built once by the aggregator (``scanner.aggregate``)."""

    asset: Asset
    verdict: str
    findings: tuple[Finding, ...] = ()
    errors: tuple[ScanError, ...] = ()
    coverage: tuple[Coverage, ...] = ()
    sha256: str | None = None
    blocking: bool = False  # some finding fails the run under the policy
    sequence: Sequence | None = None  # set when this result stands for a frame sequence

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = path_fields(self.asset.path)
        out.update({
            "kind": self.asset.kind,
            "media_type": self.asset.media_type,
            "size": self.asset.size,
            "verdict": self.verdict,
            "blocking": self.blocking,
            "findings": [f.to_dict() for f in self.findings],
            "errors": [e.to_dict() for e in self.errors],
            "coverage": [c.to_dict() for c in self.coverage],
            "notes": list(self.asset.notes),
        })
        if self.asset.skip_reason:
            out["skip_reason"] = self.asset.skip_reason
        if self.asset.container is not None:
            out["archive"] = path_fields(self.asset.container)["path"]
        if self.asset.pixels is not None:
            out["dimensions"] = list(self.asset.pixels)
        if self.sequence is not None:
            out["sequence"] = self.sequence.to_dict()
        if self.sha256:
            out["sha256"] = self.sha256
        return out


def path_from_fields(d: dict[str, Any]) -> str:
    """Inverse of ``path_fields``: the exact (surrogate-escaped) path."""
    if "path_b64" in d:
        return os.fsdecode(base64.b64decode(d["path_b64"]))
    return str(d["path"])


def result_from_dict(d: dict[str, Any], mtime_ns: int = 0, dev: int = 0,
                     inode: int = 0) -> AssetResult:
    """Rebuild a result from its report form (JSONL resume)."""
    asset = Asset(path=path_from_fields(d), size=int(d["size"]), mtime_ns=mtime_ns,
                  kind=d["kind"], media_type=d.get("media_type", "application/octet-stream"),
                  dev=dev, inode=inode, notes=tuple(d.get("notes") or ()),
                  skip_reason=d.get("skip_reason"), container=d.get("archive"),
                  pixels=(d["dimensions"][0], d["dimensions"][1]) if d.get("dimensions")
                  else None)
    return AssetResult(asset=asset, verdict=d["verdict"],
                       findings=tuple(Finding.from_dict(f) for f in d.get("findings") or []),
                       errors=tuple(ScanError.from_dict(e) for e in d.get("errors") or []),
                       coverage=tuple(Coverage.from_dict(c) for c in d.get("coverage") or []),
                       sha256=d.get("sha256"), blocking=bool(d.get("blocking")))


@dataclass
class Summary:
    files: int = 0
    bytes: int = 0
    verdicts: dict[str, int] = field(default_factory=dict)
    kinds: dict[str, int] = field(default_factory=dict)
    detectors: dict[str, dict[str, int]] = field(default_factory=dict)
    clutter_skipped: int = 0
    excluded: int = 0
    archives: int = 0  # archives looked inside (their members are counted as files)
    packages: int = 0  # delivery packages (IMF) found (their files are counted as files)
    cache_hits: int = 0  # files whose every detector result came from the incremental cache
    empty_roots: list[str] = field(default_factory=list)  # roots where nothing was checked
    approved_findings: int = 0  # waived by a recorded approval of the policy
    baselined_findings: int = 0  # accepted by a baseline (--baseline)
    blocking_assets: int = 0
    incomplete: int = 0  # files not fully read, whatever their verdict (exit 2)
    duration_s: float = 0.0
    interrupted: bool = False  # stopped by Ctrl-C/SIGTERM: the report holds what was done
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
