"""``--resume``: continue a killed batch run from its JSONL output.

A killed run leaves complete, flushed result lines and perhaps one partial line; a finished run
ends with a summary line. We keep every complete result line, cut the file right after the last
one (dropping a partial line or an old summary: the file is our own output, never scanned
content), and tell the runner which paths are done.
"""

from __future__ import annotations

import json
import os
from typing import Any

from detectors.model import AssetResult, path_from_fields, result_from_dict


def load_previous(path: str) -> list[dict[str, Any]]:
    """Complete result records of a previous run, truncating the file after the last one."""
    if not os.path.exists(path):
        return []
    done: list[dict[str, Any]] = []
    keep = 0
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
            if rec.get("type") == "result":
                done.append(rec)
                keep = end
    os.truncate(path, keep)
    return done


def replay(records: list[dict[str, Any]]) -> tuple[list[AssetResult], frozenset[str]]:
    results = [result_from_dict(r) for r in records]
    return results, frozenset(path_from_fields(r) for r in records)
