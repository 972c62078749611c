"""Incremental cache: skip files that have not changed since the last scan.

Keyed by (device, inode, size, mtime_ns, ctime_ns): any write changes mtime, and ctime too,
which unlike mtime cannot be set back by a user (``touch -d``), so an edited file whose size and
mtime were restored still misses — the cache feeds approvals, which must not be fooled. (A
rename also changes ctime and costs one re-read.) An entry also names the file's path and its
sidecars' stat (``scanner.identity``): a result is served only for the same name with the same
neighbours, and never on a file system whose ctime is not a real change time (FAT, exFAT,
FUSE). Entries are stored *per detector* with that detector's cache token (version + rule pack + options that
change its results), so a new rule pack re-runs only the detector that uses it. Lives outside
the scanned tree (user cache dir or ``--cache PATH``), never inside it. A file that changed
while it was being scanned is not stored. Failed detector runs are not stored (the failure may
be the machine's, e.g. a timeout).
"""

from __future__ import annotations

import collections
import functools
import hashlib
import json
import os
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass

from detectors.formats import registry
from detectors.model import ARCHIVE, FAILED, UNAVAILABLE, Asset, Outcome, Scanned
from detectors.remote import is_remote
from scanner.identity import Identity

SCHEMA_VERSION = 8
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS files (
    dev INTEGER, inode INTEGER, size INTEGER, mtime_ns INTEGER, ctime_ns INTEGER,
    kind TEXT, media_type TEXT, notes TEXT, pixels TEXT, sha256 TEXT,
    tokens TEXT,      -- "detector=token" lines of the stored outcomes (read without JSON)
    detections TEXT,  -- {detector: {coverage, findings, errors}}
    final_key TEXT, verdict TEXT, final TEXT, brief TEXT,  -- a clean result as reported
    context TEXT,     -- scanner.identity: the path and the sidecars' stat it stood on
    PRIMARY KEY (dev, inode));
"""
CONTEXTS_KEPT = 262_144  # files looked up and not yet stored (far above any batch window)
LOOKUP_CHUNK = 400  # assets per SELECT (well under SQLite's bound-parameter limit)


def default_path() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "deliverscan", "cache.sqlite")


@dataclass
class CachedParts:
    """What the cache knew about one file: its classification, which detectors' stored
    outcomes are current (``valid``: their token matches), and, when every one is and the
    result was clean, that result as reported (``final``, ``brief``; its ``verdict``).
    Outcomes are fetched and decoded only when asked for (``per_detector``): a warm rescan
    of clean files never touches them."""

    kind: str
    media_type: str
    notes_json: str
    sha256: str | None
    valid: frozenset[str]
    fetch: Callable[[], str]  # the stored outcomes' JSON
    pixels: tuple[int, int] | None = None
    verdict: str | None = None  # of the stored clean result (``final``), when there is one
    final: str | None = None  # the result's JSON without its path (see scanner.stored)
    brief: str | None = None

    @property
    def notes(self) -> tuple[str, ...]:
        return tuple(json.loads(self.notes_json))

    @functools.cached_property
    def per_detector(self) -> dict[str, Outcome]:
        stored = json.loads(self.fetch())
        return {det: Outcome.from_dict(entry) for det, entry in stored.items()
                if det in self.valid}


def archive_key(final_key: str, path: str) -> str:
    """An archive's stored expansion names its members by the archive's path: valid only
    for the same key and the same path spelling."""
    digest = hashlib.sha256(os.fsencode(path)).hexdigest()[:16]
    return f"{final_key}:{digest}"


def _token_text(tokens: dict[str, str]) -> str:
    return "\n".join(f"{d}={t}" for d, t in sorted(tokens.items()))


def _tokens(text: str | None) -> dict[str, str]:
    if not text:
        return {}
    return dict(line.split("=", 1) for line in text.split("\n") if "=" in line)


class ScanCache:
    def __init__(self, path: str, private: bool = False) -> None:
        """``private``: a scan's own staging cache, deleted after the scan (no --cache): no
        journal, no syncing; a crash loses nothing anyone keeps."""
        os.makedirs(os.path.dirname(os.path.abspath(path)) or ".", exist_ok=True)
        self.path = path
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        if private:
            self.db.execute("PRAGMA journal_mode=OFF")
            self.db.execute("PRAGMA synchronous=OFF")
        else:
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
        self.identity = Identity()
        # context of each file looked up and not served whole, by (dev, inode, path): what a
        # result stored for it must stand on (computed before the file was read). Bounded:
        # only files in flight need theirs; an entry evicted early only costs a re-read.
        self._contexts: collections.OrderedDict[tuple[int, int, str], str] = \
            collections.OrderedDict()
        self.hits = 0
        self.misses = 0
        self.db.execute("BEGIN")

    def close(self) -> None:
        try:
            self.db.execute("COMMIT")
        except sqlite3.OperationalError:
            pass
        self.db.close()

    def lookup_many(self, assets: list[Asset], tokens: dict[str, str],
                    final_key: str | None = None,
                    want_final: bool = True) -> list[CachedParts | None]:
        """One query per chunk of assets (a warm rescan is mostly this). The stored outcomes
        stay in the database until asked for; the stored result text (``final``) comes only
        with ``want_final``."""
        rows: dict[tuple[int, int], tuple] = {}
        by_dev: dict[int, list[int]] = {}
        trusted = [a for a in assets if self.identity.trusted(a)]
        known = dict(zip(map(id, trusted), self.identity.contexts(trusted), strict=True))
        contexts = [known.get(id(a)) for a in assets]
        for a in trusted:
            by_dev.setdefault(a.dev, []).append(a.inode)
        texts = "final, brief" if want_final else "NULL, NULL"
        for dev, inodes in by_dev.items():  # one device per tree, usually: one query per chunk
            for i in range(0, len(inodes), LOOKUP_CHUNK):
                chunk = inodes[i:i + LOOKUP_CHUNK]
                marks = ",".join("?" * len(chunk))
                for row in self.db.execute(
                        "SELECT dev, inode, size, mtime_ns, ctime_ns, kind, media_type, notes, "
                        "sha256, tokens, pixels, final_key, verdict, "
                        f"{texts}, context FROM files WHERE dev=? AND inode IN ({marks})",
                        [dev, *chunk]):
                    rows[(row[0], row[1])] = row
        current = _token_text(tokens)
        every = frozenset(tokens)
        out: list[CachedParts | None] = []
        for a, context in zip(assets, contexts, strict=True):
            if context is None:  # a file system the stat key cannot vouch for: always read
                self.misses += 1
                out.append(None)
                continue
            parts = self._parts(a, rows.get((a.dev, a.inode)), tokens, current, every,
                                final_key, context)
            if parts is None or parts.verdict is None:  # it will be read (and stored)
                self._contexts[(a.dev, a.inode, a.path)] = context
                if len(self._contexts) > CONTEXTS_KEPT:
                    self._contexts.popitem(last=False)
            out.append(parts)
        return out

    def lookup(self, asset: Asset, tokens: dict[str, str],
               final_key: str | None = None) -> CachedParts | None:
        return self.lookup_many([asset], tokens, final_key)[0]

    def _detections(self, asset: Asset) -> Callable[[], str]:
        def fetch() -> str:
            row = self.db.execute("SELECT detections FROM files WHERE dev=? AND inode=?",
                                  (asset.dev, asset.inode)).fetchone()
            return row[0] if row and row[0] else "{}"
        return fetch

    def _parts(self, asset: Asset, row: tuple | None, tokens: dict[str, str], current: str,
               every: frozenset[str], final_key: str | None,
               context: str) -> CachedParts | None:
        if row is None or row[2:5] != (asset.size, asset.mtime_ns, asset.ctime_ns) or \
                row[15] != context:
            self.misses += 1
            return None
        if row[9] == current:  # the usual answer: every detector's outcome is current
            valid = every
        else:
            stored = _tokens(row[9])
            valid = frozenset(d for d, t in stored.items() if tokens.get(d) == t)
        complete = len(valid) == len(tokens)
        self.hits += complete
        self.misses += not complete
        fresh = final_key is not None and row[11] is not None and (
            row[11] == final_key or row[11] == archive_key(final_key, asset.path))
        clean_stored = complete and fresh
        pixels = json.loads(row[10]) if row[10] else None
        return CachedParts(row[5], row[6], row[7], row[8], valid, self._detections(asset),
                           (pixels[0], pixels[1]) if pixels else None,
                           row[12] if clean_stored else None,
                           row[13] if clean_stored else None,
                           row[14] if clean_stored else None)

    def store(self, original: Asset, scanned: Scanned, tokens: dict[str, str]) -> None:
        """Store the (merged) outcomes of an unchanged file (re-stat to make sure). Failed or
        unavailable detector runs are left out: the failure may be the machine's."""
        a = scanned.asset
        context = self._unchanged(original)
        if context is None:
            return
        detections = {}
        for o in scanned.outcomes:
            if o.detector not in tokens or o.status in (FAILED, UNAVAILABLE):
                continue
            detections[o.detector] = o.to_dict()
        self.db.execute(
            "INSERT OR REPLACE INTO files VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (original.dev, original.inode, original.size, original.mtime_ns, original.ctime_ns,
             a.kind, a.media_type, json.dumps(a.notes),
             json.dumps(list(a.pixels)) if a.pixels else None, scanned.sha256,
             _token_text({d: tokens[d] for d in detections}), json.dumps(detections),
             None, None, None, None, context))
        self._tick()

    def set_archive(self, asset: Asset, tokens: dict[str, str], final_key: str, final: str,
                    brief: str) -> None:
        """Keep an archive looked inside as reported (``scanner.stored.expansion``): valid
        while the archive file, every detector's token and the policy are unchanged."""
        context = self._unchanged(asset)
        if context is None:
            return
        self.db.execute(
            "INSERT OR REPLACE INTO files VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (asset.dev, asset.inode, asset.size, asset.mtime_ns, asset.ctime_ns, ARCHIVE,
             asset.media_type, "[]", None, None, _token_text(tokens), "{}",
             archive_key(final_key, asset.path), ARCHIVE, final, brief, context))
        self._tick()

    def set_final(self, asset: Asset, final_key: str, verdict: str, final: str,
                  brief: str) -> None:
        """Keep a clean result as it was reported (its JSON without the path, and its summary
        counts), so a rescan of the unchanged file writes it as it is: no decoding, no
        rebuilding. ``final_key`` names everything besides the detectors' outcomes that
        shaped it (the policy); ``store`` clears it whenever the outcomes change."""
        self.db.execute(
            "UPDATE files SET final_key=?, verdict=?, final=?, brief=? WHERE dev=? AND inode=? "
            "AND size=? AND mtime_ns=? AND ctime_ns=? AND context=?",
            (final_key, verdict, final, brief, asset.dev, asset.inode, asset.size,
             asset.mtime_ns, asset.ctime_ns, self._contexts.get(
                 (asset.dev, asset.inode, asset.path))))
        self._tick()

    def _unchanged(self, original: Asset) -> str | None:
        """The context ``original`` was looked up under, when the file and its neighbours
        are still as they were then (re-stat, re-digest); None: do not store (changed while
        being scanned, or never looked up, or on a file system the key cannot vouch for)."""
        context = self._contexts.get((original.dev, original.inode, original.path))
        if context is None:
            return None
        if not is_remote(original.path):  # an object's identity is its listed ETag/version
            try:
                st = os.stat(original.path, follow_symlinks=False)
            except OSError:
                return None
            if (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino) != (
                    original.size, original.mtime_ns, original.ctime_ns, original.inode):
                return None
        if self.identity.context(original) != context:
            return None
        return context

    def _tick(self) -> None:
        self._pending += 1
        if self._pending >= 500:
            self.db.execute("COMMIT")
            self.db.execute("BEGIN")
            self._pending = 0

    def set_sha256(self, asset: Asset, sha256: str) -> None:
        self.db.execute(
            "UPDATE files SET sha256=? WHERE dev=? AND inode=? AND size=? AND mtime_ns=? "
            "AND ctime_ns=? AND context=?",
            (sha256, asset.dev, asset.inode, asset.size, asset.mtime_ns, asset.ctime_ns,
             self._contexts.get((asset.dev, asset.inode, asset.path))))
