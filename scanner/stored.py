"""Clean results served from the cache as they were reported.

Most of a delivery is clean and unchanged from one nightly scan to the next. For such a file
the cache keeps the result's JSON (without its path: a root spelled differently must still be
reported as given) and its summary counts (``aggregate.brief_of``); a rescan writes that JSON
as it is and adds the counts, without decoding detector outcomes or rebuilding the result.
Writers that only need the line (JSONL) take it whole; the others (``add`` of a writer without
``add_stored``) get the full result, decoded on first use.

Only results with no findings and no errors are stored this way (what a policy approval, a
baseline or a transient failure could change is always rebuilt), under a key naming the policy
that shaped them (``final_key``).
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from detectors.model import (
    AI,
    ARCHIVE,
    CLEAN,
    PACKAGE,
    REVIEW,
    SKIPPED,
    Asset,
    AssetResult,
    Finding,
    path_fields,
    result_from_dict,
)

FORMAT = "1"  # bump when AssetResult.to_dict changes shape: stored lines are then rebuilt


def final_key(policy_digest: str, fail_on: frozenset[str], hash_all: bool,
              judging: str = "") -> str:
    """Names everything besides the detectors' outcomes that shapes a reported result: the
    policy, what blocks, hashing, and ``judging`` (baseline entries, exclusions)."""
    text = json.dumps([FORMAT, policy_digest, sorted(fail_on), hash_all, judging])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def storable(result: AssetResult, findings_ok: bool = False) -> bool:
    """Whether ``result`` may be served as it is next time: clean or skipped (or, when
    ``findings_ok``: a policy without approvals and no baseline, so nothing but the policy's
    rule modes judges a finding), nothing failed, a file of the tree itself (not an archive
    member, archive, package or sequence), walked from disk (``dev`` known)."""
    a = result.asset
    return (member_storable(result, findings_ok) and a.container is None
            and a.kind not in (ARCHIVE, PACKAGE) and a.dev != 0)


def member_storable(result: AssetResult, findings_ok: bool = False) -> bool:
    """``storable``'s test for an archive member (or a nested archive's own result)."""
    clean = result.verdict in (CLEAN, SKIPPED) and not result.findings
    return ((clean or findings_ok) and not result.errors and result.sequence is None
            and not result.asset.walk_error)


def body_of(result: AssetResult) -> str:
    """The result's JSON object without its path fields."""
    d = result.to_dict()
    d.pop("path", None)
    d.pop("path_b64", None)
    return json.dumps(d, ensure_ascii=False)


@dataclass
class StoredResult:
    """A stored clean result: what report writers and the summary need, without decoding.
    ``asset`` is light (path, size, kind, media type, skip reason); ``result`` the full
    ``AssetResult``, decoded on first use."""

    asset: Asset
    body: str
    brief: dict[str, Any]

    errors = ()  # a result with errors is never stored
    sequence = None

    @property
    def findings(self) -> tuple[Finding, ...]:
        return self.result.findings if self.brief["v"] in (AI, REVIEW) else ()

    @property
    def verdict(self) -> str:
        return str(self.brief["v"])

    @property
    def blocking(self) -> bool:
        return bool(self.brief["b"])

    def line(self) -> str:
        """The JSONL line, byte for byte as the result would be written after a full scan."""
        head = json.dumps({"type": "result", **path_fields(self.asset.path)},
                          ensure_ascii=False)
        return head[:-1] + ", " + self.body[1:]

    @functools.cached_property
    def result(self) -> AssetResult:
        d = json.loads(self.line())
        d.pop("type")
        return result_from_dict(d)


Reported = AssetResult | StoredResult  # what the runner hands report writers


def full(result: Reported) -> AssetResult:
    """The full result (decoding a stored one)."""
    return result.result if isinstance(result, StoredResult) else result


def stored_result(walked: Asset, parts: Any) -> StoredResult:
    """A ``StoredResult`` from the cache's ``CachedParts``; only the verdict when the text was
    not fetched (the cheap first stage counts verdicts and reports nothing)."""
    if parts.brief is None:
        brief = {"v": parts.verdict, "k": parts.kind, "m": parts.media_type, "s": walked.size,
                 "r": None, "b": False, "d": {}, "a": 0, "bl": 0}
        return StoredResult(walked, "{}", brief)
    brief = json.loads(parts.brief)
    asset = Asset(path=walked.path, size=brief["s"], mtime_ns=walked.mtime_ns, kind=brief["k"],
                  media_type=brief["m"], dev=walked.dev, inode=walked.inode,
                  ctime_ns=walked.ctime_ns, skip_reason=brief["r"])
    return StoredResult(asset, parts.final or "{}", brief)


@dataclass
class StoredArchive:
    """An archive looked inside by an earlier scan, unchanged since: its members' results
    and its own, served as stored (members first, as the runner reports them)."""

    results: list[StoredResult]


def expansion(archive: Asset, results: list[AssetResult]) -> tuple[str, str]:
    """An archive's results (members first, its own last) as stored: (text, own brief)."""
    from scanner.aggregate import brief_of

    prefix = archive.path
    rows = []
    for r in results[:-1]:
        container = r.asset.container or prefix
        rows.append([r.asset.path[len(prefix):], container[len(prefix):], body_of(r),
                     brief_of(r)])
    own = results[-1]
    return (json.dumps({"path": prefix, "members": rows, "own": body_of(own)},
                       ensure_ascii=False), json.dumps(brief_of(own), ensure_ascii=False))


def stored_archive(walked: Asset, parts: Any) -> StoredArchive:
    """The stored archive (empty when only its verdict was fetched: the cheap first stage).
    Its key names the archive's path (``cache.archive_key``): member paths are composed from
    the path it was walked under now, which is the one it was stored under."""
    if parts.final is None or parts.brief is None:
        return StoredArchive([])
    doc = json.loads(parts.final)
    out = []
    for suffix, container, body, brief in doc["members"]:
        asset = Asset(path=walked.path + suffix, size=brief["s"], mtime_ns=0, kind=brief["k"],
                      media_type=brief["m"], skip_reason=brief["r"],
                      container=walked.path + container)
        out.append(StoredResult(asset, body, brief))
    brief = json.loads(parts.brief)
    own = Asset(path=walked.path, size=brief["s"], mtime_ns=walked.mtime_ns, kind=brief["k"],
                media_type=brief["m"], dev=walked.dev, inode=walked.inode,
                ctime_ns=walked.ctime_ns, skip_reason=brief["r"])
    out.append(StoredResult(own, doc["own"], brief))
    return StoredArchive(out)
