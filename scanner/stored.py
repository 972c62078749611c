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
    ARCHIVE,
    CLEAN,
    PACKAGE,
    SKIPPED,
    Asset,
    AssetResult,
    path_fields,
    result_from_dict,
)

FORMAT = "1"  # bump when AssetResult.to_dict changes shape: stored lines are then rebuilt


def final_key(policy_digest: str, fail_on: frozenset[str], hash_all: bool) -> str:
    text = json.dumps([FORMAT, policy_digest, sorted(fail_on), hash_all])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def storable(result: AssetResult) -> bool:
    """Whether ``result`` may be served as it is next time: clean or skipped, nothing found,
    nothing failed, a file of the tree itself (not an archive member, archive, package or
    sequence), walked from disk (``dev`` known)."""
    a = result.asset
    return (result.verdict in (CLEAN, SKIPPED) and not result.findings and not result.errors
            and result.sequence is None and a.container is None
            and a.kind not in (ARCHIVE, PACKAGE) and not a.walk_error and a.dev != 0)


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

    findings = ()
    errors = ()
    sequence = None

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
