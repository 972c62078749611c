"""Incremental cache: skip files that have not changed since the last scan.

Keyed by (device, inode, size, mtime_ns, ctime_ns): any write changes mtime, and ctime too,
which unlike mtime cannot be set back by a user (``touch -d``), so an edited file whose size and
mtime were restored still misses — the cache feeds approvals, which must not be fooled. (A
rename also changes ctime and costs one re-read.)
and stored *per detector* with that detector's cache token (version + rule pack + options that
change its results), so a new rule pack re-runs only the detector that uses it. Lives outside
the scanned tree (user cache dir or ``--cache PATH``), never inside it. A file that changed
while it was being scanned is not stored. Failed detector runs are not stored (the failure may
be the machine's, e.g. a timeout).
"""

from __future__ import annotations

import json
import os
import sqlite3
from dataclasses import dataclass, field

from detectors.formats import registry
from detectors.model import FAILED, UNAVAILABLE, Asset, Outcome, Scanned

SCHEMA_VERSION = 5
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS files (
    dev INTEGER, inode INTEGER, size INTEGER, mtime_ns INTEGER, ctime_ns INTEGER,
    kind TEXT, media_type TEXT, notes TEXT, pixels TEXT, sha256 TEXT,
    detections TEXT,  -- {detector: {token, coverage, findings, errors}}
    PRIMARY KEY (dev, inode));
"""
LOOKUP_CHUNK = 400  # assets per SELECT (well under SQLite's bound-parameter limit)


def default_path() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "deliverscan", "cache.sqlite")


@dataclass
class CachedParts:
    """What the cache knew about one file: its classification and some detectors' results."""

    kind: str
    media_type: str
    notes: tuple[str, ...]
    sha256: str | None
    per_detector: dict[str, Outcome] = field(default_factory=dict)
    pixels: tuple[int, int] | None = None


class ScanCache:
    def __init__(self, path: str) -> None:
        os.makedirs(os.path.dirname(os.path.abspath(path)) or ".", exist_ok=True)
        self.path = path
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        if self.db.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
            # an older layout: start over (a cache only ever costs a re-read)
            self.db.executescript("DROP TABLE IF EXISTS files; DROP TABLE IF EXISTS detections;")
            self.db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        self.db.executescript(SCHEMA)
        # Classifications (kind, media type) follow the format declarations: entries made
        # under others are dropped (a file cached as "other" may be an archive now).
        formats = registry.signature()
        row = self.db.execute("SELECT value FROM meta WHERE key='formats'").fetchone()
        if row is None or row[0] != formats:
            self.db.execute("DELETE FROM files")
            self.db.execute("INSERT OR REPLACE INTO meta VALUES ('formats', ?)", (formats,))
        self._pending = 0
        self.hits = 0
        self.misses = 0
        self.db.execute("BEGIN")

    def close(self) -> None:
        try:
            self.db.execute("COMMIT")
        except sqlite3.OperationalError:
            pass
        self.db.close()

    def lookup_many(self, assets: list[Asset],
                    tokens: dict[str, str]) -> list[CachedParts | None]:
        """One query per chunk of assets (a warm rescan is mostly this)."""
        rows: dict[tuple[int, int], tuple] = {}
        for i in range(0, len(assets), LOOKUP_CHUNK):
            chunk = assets[i:i + LOOKUP_CHUNK]
            keys = [x for a in chunk for x in (a.dev, a.inode)]
            where = " OR ".join(["(dev=? AND inode=?)"] * len(chunk))
            for row in self.db.execute(
                    "SELECT dev, inode, size, mtime_ns, ctime_ns, kind, media_type, notes, "
                    f"sha256, detections, pixels FROM files WHERE {where}", keys):
                rows[(row[0], row[1])] = row
        return [self._parts(a, rows.get((a.dev, a.inode)), tokens) for a in assets]

    def lookup(self, asset: Asset, tokens: dict[str, str]) -> CachedParts | None:
        return self.lookup_many([asset], tokens)[0]

    def _parts(self, asset: Asset, row: tuple | None,
               tokens: dict[str, str]) -> CachedParts | None:
        if row is None or row[2:5] != (asset.size, asset.mtime_ns, asset.ctime_ns):
            self.misses += 1
            return None
        pixels = json.loads(row[10]) if row[10] else None
        parts = CachedParts(row[5], row[6], tuple(json.loads(row[7])), row[8],
                            pixels=(pixels[0], pixels[1]) if pixels else None)
        for det, entry in json.loads(row[9]).items():
            if tokens.get(det) == entry.pop("token", None):
                parts.per_detector[det] = Outcome.from_dict(entry)
        if len(parts.per_detector) == len(tokens):
            self.hits += 1
        else:
            self.misses += 1
        return parts

    def store(self, original: Asset, scanned: Scanned, tokens: dict[str, str]) -> None:
        """Store the (merged) outcomes of an unchanged file (re-stat to make sure). Failed or
        unavailable detector runs are left out: the failure may be the machine's."""
        a = scanned.asset
        try:
            st = os.stat(a.path, follow_symlinks=False)
        except OSError:
            return
        if (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino) != (
                original.size, original.mtime_ns, original.ctime_ns, original.inode):
            return  # changed while being scanned: do not trust this result later
        detections = {}
        for o in scanned.outcomes:
            if o.detector not in tokens or o.status in (FAILED, UNAVAILABLE):
                continue
            detections[o.detector] = {"token": tokens[o.detector], **o.to_dict()}
        self.db.execute(
            "INSERT OR REPLACE INTO files VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (original.dev, original.inode, original.size, original.mtime_ns, original.ctime_ns,
             a.kind, a.media_type, json.dumps(a.notes),
             json.dumps(list(a.pixels)) if a.pixels else None, scanned.sha256,
             json.dumps(detections)))
        self._pending += 1
        if self._pending >= 500:
            self.db.execute("COMMIT")
            self.db.execute("BEGIN")
            self._pending = 0

    def set_sha256(self, asset: Asset, sha256: str) -> None:
        self.db.execute(
            "UPDATE files SET sha256=? WHERE dev=? AND inode=? AND size=? AND mtime_ns=? "
            "AND ctime_ns=?",
            (sha256, asset.dev, asset.inode, asset.size, asset.mtime_ns, asset.ctime_ns))
