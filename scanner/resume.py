"""``--resume``: continue a killed batch run from its JSONL output.

The JSONL report starts with a ``run`` line naming what the run scans and how (its roots,
walk options, policy and every detector's cache token: version, rule pack and options), so a
file can only be continued by the same run: resuming a different scan into it would mix two
deliveries in one report. A killed run leaves complete, flushed result lines and perhaps one
partial line; a finished run ends with a summary line. We keep every complete result line, cut
the file right after the last one (dropping a partial line or an old summary: the file is our
own output, never scanned content), and tell the runner which paths are done.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

from detectors.model import AssetResult, path_from_fields, result_from_dict
from detectors.registry import Loaded
from scanner.runner import ScanConfig, detector_tokens


class ResumeError(ValueError):
    """The output file cannot be continued by this run."""


def run_header(config: ScanConfig, detectors: list[Loaded]) -> dict[str, Any]:
    """The ``run`` line: what this scan covers and everything that shapes its results."""
    policy = config.policy
    identity = {
        "roots": [os.path.abspath(r) for r in config.roots],
        "excludes": list(config.excludes),
        "follow_symlinks": config.follow_symlinks,
        "allow_empty": config.allow_empty,
        "fail_on": sorted(policy.fail_on),
        "policy": policy.digest,
        "detectors": detector_tokens(detectors, config.options),
    }
    if config.sequence_sample > 1:
        identity["sequence_sample"] = config.sequence_sample
    if config.verify_imf:
        identity["verify_imf"] = True
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()
    return {"type": "run", "schema": "deliverscan.report/1", "run_id": digest[:32],
            "identity": identity}


def _differences(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    keys = sorted(set(old) | set(new))
    return [k for k in keys if old.get(k) != new.get(k)]


def load_previous(path: str, header: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Complete result records of a previous run of the same scan, truncating the file after
    the last one. Raises :class:`ResumeError` when the file was written by another scan."""
    if not os.path.exists(path):
        return []
    done: list[dict[str, Any]] = []
    keep = 0
    first: dict[str, Any] | None = None
    with open(path, "rb") as fh:
        offset = 0
        for raw in fh:
            end = offset + len(raw)
            offset = end
            if not raw.endswith(b"\n"):
                break  # a partial last line from a killed run
            try:
                rec = json.loads(raw)
            except ValueError:
                break
            if first is None:
                first = rec
                if header is not None:
                    _check(path, rec, header)
                keep = end
                continue
            if rec.get("type") in ("result", "sequence"):
                done.append(rec)
                keep = end
    if first is None:  # empty, or only a partial first line: start over
        keep = 0
    os.truncate(path, keep)
    return done


def _check(path: str, first: dict[str, Any], header: dict[str, Any]) -> None:
    if first.get("type") != "run":
        raise ResumeError(f"cannot --resume {path}: it does not start with a deliverscan run "
                          "line (not our JSONL, or written by an older version); use a new "
                          "output file")
    if first.get("run_id") != header["run_id"]:
        diff = _differences(first.get("identity") or {}, header["identity"])
        raise ResumeError(f"cannot --resume {path}: it holds a scan with other "
                          f"{', '.join(diff) or 'settings'} than this one; resume with the same "
                          "roots and options, or write to a new file")


def written_sequences(records: list[dict[str, Any]]) -> frozenset[str]:
    """The sequences (their pattern paths) a resumed JSONL file already summarises."""
    return frozenset(r["path"] for r in records if r.get("type") == "sequence")


def replay(records: list[dict[str, Any]]) -> tuple[list[AssetResult], frozenset[str]]:
    """The results to keep and the paths that are done. An archive's members are written
    before the archive's own line: members of an archive whose line is missing (the run was
    killed inside it) are dropped, and the archive is scanned again whole."""
    records = [r for r in records if r.get("type", "result") == "result"]
    by_path = {r["path"]: r for r in records}

    def complete(rec: dict[str, Any]) -> bool:
        seen = 0
        container = rec.get("archive")
        while container is not None:
            parent = by_path.get(container)
            seen += 1
            if parent is None or seen > 64:
                return False
            container = parent.get("archive")
        return True

    kept = [r for r in records if complete(r)]
    return [result_from_dict(r) for r in kept], frozenset(path_from_fields(r) for r in kept)
