"""Content hashes (SHA-256): approvals and the register are keyed by content, not by name.

Only computed where needed (assets with findings), since on a multi-GB master it is the one
full read we allow.
"""

from __future__ import annotations

import hashlib

from detectors.api import open_readonly

CHUNK = 1024 * 1024


def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open_readonly(path) as fh:
        while chunk := fh.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()
