"""The register file: one SQLite database, copyable between machines.

Why SQLite: a single self-contained file (rollback journal, no WAL side files) that every
machine can read without a server; entries are keyed by the content SHA-256 so registering the
same bytes twice is a no-op whatever the file is called. The fingerprint parameters are stored
in ``meta`` and checked on open, so a register built with other parameters is refused instead
of silently matching nothing. Its audio landmarks are also written to a file beside it for
scans to map (``PACK_FILE_SUFFIX``); the database alone is still the whole register.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from detectors.fingerprint import audio as audio_fp
from detectors.fingerprint import features as feat
from detectors.fingerprint import landmark_index, vocabulary, waveform
from detectors.fingerprint.extract import Fingerprint
from detectors.fingerprint.landmark_index import LandmarkIndex

SCHEMA = 2
PARAMS = {
    "pdq": "pdq-256/numpy-1/area160/bars-stripped/variants-14/cells-5",
    "audio": f"landmark-1/sr{audio_fp.SR}/nfft{audio_fp.NFFT}/hop{audio_fp.HOP}/speeds-"
             + ",".join(map(str, audio_fp.REGISTER_SPEEDS)),
    "features": "orb-32/video-frames-1",
}
JOIN_BATCH = 100_000
# Landmarks one writable open keeps in memory to merge into the pack when it closes (14 bytes
# a row: 16.7 million, about 2.4 hours of registered sound, 235 MB). A larger registration
# builds the pack from the table instead, in hash order, a batch at a time.
ADDED_MAX_ROWS = 1 << 24

_DDL = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS entries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    sha256 TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    media_type TEXT NOT NULL,
    path TEXT NOT NULL,
    size INTEGER NOT NULL,
    tool TEXT NOT NULL DEFAULT '',
    note TEXT NOT NULL DEFAULT '',
    added TEXT NOT NULL,
    width INTEGER, height INTEGER, duration REAL,
    verdict TEXT NOT NULL DEFAULT '',
    evidence TEXT NOT NULL DEFAULT '[]',
    notes TEXT NOT NULL DEFAULT '[]',
    timing TEXT NOT NULL DEFAULT '{}',
    thumb BLOB
);
CREATE TABLE IF NOT EXISTS pdq (
    entry INTEGER NOT NULL, t REAL, variant INTEGER NOT NULL, quality INTEGER NOT NULL,
    hash BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS pdq_entry ON pdq(entry);
CREATE TABLE IF NOT EXISTS features (
    entry INTEGER NOT NULL, t REAL, width INTEGER NOT NULL, height INTEGER NOT NULL,
    points BLOB NOT NULL, descriptors BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS features_entry ON features(entry);
CREATE TABLE IF NOT EXISTS audio (hash INTEGER NOT NULL, entry INTEGER NOT NULL,
                                  frame INTEGER NOT NULL,
                                  speed INTEGER NOT NULL DEFAULT 1000);
CREATE INDEX IF NOT EXISTS audio_entry ON audio(entry);
"""
# The landmark look-up's index covers the columns it reads, so each hit is read from the index
# alone (not a second B-tree search in the table per row): half the look-up's time against a
# 3.4-million-landmark register, for 40 % more file. A register written before has an index
# on the hash alone; a writable open (``register add``) replaces it.
_AUDIO_INDEX_DDL = """
CREATE INDEX IF NOT EXISTS audio_hit ON audio(hash, entry, frame, speed);
DROP INDEX IF EXISTS audio_hash;
"""
# The visual words of each features row, so that opening a large register does not quantise
# every descriptor again (10,000 entries: 6 million descriptors, ~14 s). Added within schema
# 2: created on any writable open; where absent, or for another vocabulary, the words are
# computed when the register is opened.
_WORDS_DDL = """
CREATE TABLE IF NOT EXISTS feature_words (feature INTEGER PRIMARY KEY, entry INTEGER NOT NULL,
                                          vocab TEXT NOT NULL, words BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS feature_words_entry ON feature_words(entry);
"""
# Each registered audio track's sound at the waveform search's rate (``waveform.py``), as
# 16-bit samples scaled by ``scale``. Added within schema 2 like ``feature_words``: a register
# written before has none, and its audio is matched by landmarks only (the scan says so).
_WAVEFORM_DDL = """
CREATE TABLE IF NOT EXISTS waveform (entry INTEGER NOT NULL, track INTEGER NOT NULL,
                                     rate INTEGER NOT NULL, scale REAL NOT NULL,
                                     samples BLOB NOT NULL, PRIMARY KEY (entry, track));
"""

# The audio landmarks again, sorted by hash in packed columns (``landmark_index``), so a scan
# looks them up in memory. Added within schema 2: ``meta`` key ``audio_pack`` holds the
# stamp of the tables the pack was built from (``_audio_stamp``); a pack that does not match
# them now (none yet, an add cut short, rows written by an earlier version) is not used: the
# scan reads the table, and the next writable open's close (``register pack``) builds it.
_PACK_DDL = """
CREATE TABLE IF NOT EXISTS audio_pack (part INTEGER PRIMARY KEY, hashes BLOB NOT NULL,
                                       entries BLOB NOT NULL, frames BLOB NOT NULL,
                                       speeds BLOB NOT NULL);
"""
_PACK_KEY = "audio_pack"
# The same pack in a file beside the register (``<register>.landmarks``, written with the
# pack; ``LandmarkIndex.write_file``), which scans map instead of reading it into memory:
# one copy for every process on the machine, at any size. The register stays whole without
# it (a copy of the database alone reads the pack from ``audio_pack``, or its table past
# ``landmark_index.MAX_ROWS``). Its header names the pack's stamp and a random id that
# ``meta``'s ``audio_pack`` value carries beside the stamp (``id``): a new pack gets a new
# id, so a file left from an earlier pack, or from another register with as many rows, is
# never taken for this one. A pack over ``landmark_index.MAX_ROWS`` is kept in the file
# alone (``_write_pack``).
PACK_FILE_SUFFIX = ".landmarks"
# Each entry's PDQ rows again as one row of packed columns (in ``pdq``'s order: t, then
# variant), so that opening a register reads 10,000 rows, not 190,000 (the benchmark's
# 10,000-entry register: 0.3-1 s -> 0.06-0.12 s, ten times that at 100,000 entries). Added
# within schema 2, kept in step with ``pdq`` by ``add`` and ``remove`` in their transactions;
# ``meta`` key ``pdq_packed`` holds the stamp of ``pdq`` it matches (``_pdq_stamp``). Rows
# an earlier version wrote behind it change the stamp: then the rows are read from ``pdq``,
# and the next writable open packs them again.
_PDQ_PACKED_DDL = """
CREATE TABLE IF NOT EXISTS pdq_packed (entry INTEGER PRIMARY KEY, t BLOB NOT NULL,
                                       variant BLOB NOT NULL, quality BLOB NOT NULL,
                                       hashes BLOB NOT NULL);
"""
_PDQ_KEY = "pdq_packed"


def _hash_rows(blob: bytes) -> np.ndarray:
    """N x 32 bytes: PDQ hashes laid end to end."""
    return np.frombuffer(blob, np.uint8).reshape(-1, 32)


def _concat(pieces: list[LandmarkIndex]) -> LandmarkIndex:
    return LandmarkIndex(*(np.concatenate(c) for c in zip(*(p.columns() for p in pieces),
                                                           strict=True)))


def _whole_parts(pieces: Iterable[LandmarkIndex]) -> Iterator[LandmarkIndex]:
    """``pieces`` regrouped into pieces of ``landmark_index.PART_ROWS`` rows (the last
    fewer): one stored part each."""
    held: list[LandmarkIndex] = []
    rows = 0
    for piece in pieces:
        held.append(piece)
        rows += len(piece)
        if rows >= landmark_index.PART_ROWS:
            whole = _concat(held)
            n = rows - rows % landmark_index.PART_ROWS
            yield from LandmarkIndex(*(c[:n] for c in whole.columns())).pieces()
            rest = LandmarkIndex(*(c[n:] for c in whole.columns()))
            held, rows = ([rest] if len(rest) else []), len(rest)
    if rows:
        yield _concat(held)


class RegisterError(Exception):
    """The register file is missing, not a register, or built with other parameters."""


@dataclass
class Entry:
    id: int
    sha256: str
    kind: str
    media_type: str
    path: str
    size: int
    tool: str
    note: str
    added: str
    width: int | None
    height: int | None
    duration: float | None
    verdict: str
    evidence: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    timing: dict[str, Any] = field(default_factory=dict)  # rate, drop frame, start timecode

    def summary(self) -> dict[str, Any]:
        """What a match finding cites: enough to find and judge the registered asset."""
        return {"id": self.id, "sha256": self.sha256, "kind": self.kind, "path": self.path,
                "tool": self.tool, "note": self.note, "added": self.added,
                "registration_verdict": self.verdict}


_COLS = ("id, sha256, kind, media_type, path, size, tool, note, added, width, height, "
         "duration, verdict, evidence, notes, timing")


def _entry(row: tuple[Any, ...]) -> Entry:
    (eid, sha, kind, media_type, path, size, tool, note, added, width, height, duration,
     verdict) = row[:13]
    return Entry(eid, sha, kind, media_type, path, size, tool, note, added, width, height,
                 duration, verdict, json.loads(row[13]), json.loads(row[14]),
                 json.loads(row[15]))


class RegisterStore:
    """Read/write access to one register file."""

    def __init__(self, path: str, readonly: bool = True, create: bool = False) -> None:
        self.path = path
        self.readonly = readonly
        # landmarks added and entries removed through this connection, for the pack
        # None: more than ``ADDED_MAX_ROWS`` added, the pack is then built from the table
        self._added: list[LandmarkIndex] | None = []
        self._added_rows = 0
        self._removed: set[int] = set()
        self._pack_current = False  # the stored pack matched the table when opened
        self._data_version = 0  # ``_version`` then (writable opens)
        # why the pack file could not be written, when it could not (the pack in the
        # database is written all the same; ``register`` commands say so)
        self.pack_file_error: str | None = None
        self.pdq_repacked = False  # this (writable) open packed PDQ rows that were not current
        if readonly:
            if not os.path.isfile(path):
                raise RegisterError(f"register not found: {path}")
            uri = "file:" + os.path.abspath(path).replace("?", "%3f").replace("#", "%23")
            self.db = sqlite3.connect(uri + "?mode=ro", uri=True)
        else:
            if not create and not os.path.isfile(path):
                raise RegisterError(f"register not found: {path}")
            self.db = sqlite3.connect(path)
            self.db.execute("PRAGMA journal_mode=DELETE")
        try:
            self._check(readonly)
        except sqlite3.DatabaseError as exc:
            self.db.close()
            raise RegisterError(f"not a register: {path}: {exc}") from exc
        except RegisterError:
            self.db.close()
            raise

    def _check(self, readonly: bool) -> None:
        tables = {r[0] for r in self.db.execute("SELECT name FROM sqlite_master")}
        if "meta" not in tables:
            if readonly:
                raise RegisterError(f"not a register (no meta table): {self.path}")
            with self.db:
                self.db.executescript(_DDL + _AUDIO_INDEX_DDL + _WORDS_DDL + _WAVEFORM_DDL
                                      + _PACK_DDL + _PDQ_PACKED_DDL)
                self.db.executemany("INSERT INTO meta VALUES (?, ?)",
                                    [("schema", str(SCHEMA)), ("params", json.dumps(PARAMS)),
                                     (_PACK_KEY, self._stamp_json((0, 0, 0))),
                                     (_PDQ_KEY, self._stamp_json((0, 0, 0)))])
            self._pack_current = True
            return
        meta = dict(self.db.execute("SELECT key, value FROM meta"))
        if meta.get("schema") != str(SCHEMA):
            raise RegisterError(f"register schema {meta.get('schema')!r}, expected {SCHEMA}: "
                                "rebuild it with this version (register add the temp "
                                "material again into a new file)")
        if json.loads(meta.get("params", "{}")) != PARAMS:
            raise RegisterError("register was built with other fingerprint parameters "
                                f"({meta.get('params')}); rebuild it with this version")
        if not readonly:
            with self.db:
                self.db.executescript(_AUDIO_INDEX_DDL + _WORDS_DDL + _WAVEFORM_DDL
                                      + _PACK_DDL + _PDQ_PACKED_DDL)
            self._pack_current = self._pack_stamp() == self._audio_stamp()
            self._data_version = self._version()
            if not self.pdq_packed_current():
                self._pack_pdq()
                self.pdq_repacked = True

    def close(self) -> None:
        """Close; a writable store first brings the landmark pack up to date."""
        try:
            if not self.readonly:
                self.pack_audio()
        finally:
            self.db.close()

    def __enter__(self) -> RegisterStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- entries ---------------------------------------------------------------------------
    def by_sha(self, sha256: str) -> Entry | None:
        row = self.db.execute(f"SELECT {_COLS} FROM entries WHERE sha256 = ?",
                              (sha256,)).fetchone()
        return _entry(row) if row else None

    def get(self, ref: str) -> Entry | None:
        """An entry by id, or by SHA-256 (a unique prefix of at least 8 hex digits)."""
        if ref.isdigit():
            row = self.db.execute(f"SELECT {_COLS} FROM entries WHERE id = ?",
                                  (int(ref),)).fetchone()
            return _entry(row) if row else None
        ref = ref.lower()
        if len(ref) < 8 or any(c not in "0123456789abcdef" for c in ref):
            return None
        rows = self.db.execute(f"SELECT {_COLS} FROM entries WHERE sha256 LIKE ?",
                               (ref + "%",)).fetchall()
        return _entry(rows[0]) if len(rows) == 1 else None

    def thumbnail(self, eid: int) -> bytes:
        """The small JPEG kept at registration (empty when there is none)."""
        row = self.db.execute("SELECT thumb FROM entries WHERE id = ?", (eid,)).fetchone()
        return bytes(row[0]) if row and row[0] else b""

    def entries(self) -> list[Entry]:
        return [_entry(r) for r in self.db.execute(f"SELECT {_COLS} FROM entries ORDER BY id")]

    def add(self, *, sha256: str, media_type: str, path: str, size: int, tool: str, note: str,
            added: str, verdict: str, evidence: list[dict[str, Any]], fp: Fingerprint) -> int:
        """Insert one entry and its fingerprints in one transaction; returns the new id."""
        with self.db:
            # (before the entry is inserted: that moves the stamp's entry sequence)
            packed = self.pdq_packed_current()
            cur = self.db.execute(
                "INSERT INTO entries (sha256, kind, media_type, path, size, tool, note, added, "
                "width, height, duration, verdict, evidence, notes, timing, thumb) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (sha256, fp.kind, media_type, path, size, tool, note, added, fp.width,
                 fp.height, fp.duration, verdict, json.dumps(evidence, sort_keys=True),
                 json.dumps(fp.notes), json.dumps(fp.timing, sort_keys=True),
                 fp.thumb or None))
            eid = int(cur.lastrowid or 0)
            self.db.executemany(
                "INSERT INTO pdq (entry, t, variant, quality, hash) VALUES (?, ?, ?, ?, ?)",
                [(eid, t, v, q, h) for t, v, q, h in fp.pdq])
            if packed:
                self._write_pdq_packed(eid, fp.pdq)
            vocab = vocabulary.load()
            for t, f in fp.features:
                pts, desc = feat.pack(f)
                row = self.db.execute("INSERT INTO features VALUES (?, ?, ?, ?, ?, ?)",
                                      (eid, t, f.width, f.height, pts, desc)).lastrowid
                self.db.execute("INSERT INTO feature_words VALUES (?, ?, ?, ?)",
                                (row, eid, vocab.id,
                                 vocab.words(f.descriptors).astype("<i4").tobytes()))
            if fp.audio is not None and len(fp.audio.hashes):
                n = len(fp.audio.hashes)
                speed = (fp.audio.speed if fp.audio.speed is not None
                         else np.full(n, 1000, np.int32))
                self.db.executemany(
                    "INSERT INTO audio (hash, entry, frame, speed) VALUES (?, ?, ?, ?)",
                    zip(fp.audio.hashes.tolist(), [eid] * n, fp.audio.frames.tolist(),
                        speed.tolist(), strict=True))
                self._added_rows += n
                if self._added is not None and self._added_rows > ADDED_MAX_ROWS:
                    self._added = None
                if self._added is not None:
                    self._added.append(LandmarkIndex.build(fp.audio.hashes, np.full(n, eid),
                                                           fp.audio.frames, speed))
            for track, proxy in enumerate(fp.waveforms):
                x = np.asarray(proxy, np.float32)
                peak = float(np.abs(x).max()) if len(x) else 0.0
                scale = peak / 32767 if peak > 0 else 1.0
                pcm = np.round(x / scale).astype("<i2") if peak > 0 else np.zeros(len(x), "<i2")
                self.db.execute("INSERT INTO waveform VALUES (?, ?, ?, ?, ?)",
                                (eid, track, waveform.RATE, scale, pcm.tobytes()))
            if packed:
                self._set_pdq_stamp()
        return eid

    def remove(self, eid: int) -> bool:
        with self.db:
            packed = self.pdq_packed_current()
            for table in ("pdq", "features", "feature_words", "audio", "pdq_packed"):
                self.db.execute(f"DELETE FROM {table} WHERE entry = ?", (eid,))
            if self._has("waveform"):
                self.db.execute("DELETE FROM waveform WHERE entry = ?", (eid,))
            cur = self.db.execute("DELETE FROM entries WHERE id = ?", (eid,))
            if packed:
                self._set_pdq_stamp()
        self._removed.add(eid)
        return cur.rowcount > 0

    def _tables(self) -> tuple[str, ...]:
        return ("pdq", "features", "audio") + (("waveform",) if self._has("waveform") else ())

    def counts(self) -> dict[str, int]:
        """Rows per table (``waveform``: stored audio tracks)."""
        return {table: int(self.db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
                for table in ("entries", *self._tables())}

    def per_entry_counts(self, eid: int) -> dict[str, int]:
        return {table: int(self.db.execute(f"SELECT COUNT(*) FROM {table} WHERE entry = ?",
                                           (eid,)).fetchone()[0])
                for table in self._tables()}

    # -- fingerprints ----------------------------------------------------------------------
    def pdq_rows(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(entry, t (NaN for stills), variant, quality, hashes N x 32) of every stored PDQ
        hash, by entry, t and variant: from ``pdq_packed`` when it matches ``pdq``."""
        rows = self._pdq_packed_rows()
        if rows is not None:
            return self._pdq_from_packed(rows)
        return self._pdq_from_table()

    def _pdq_from_table(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                                       np.ndarray]:
        rows = self.db.execute(
            "SELECT entry, t, variant, quality, hash FROM pdq ORDER BY entry, t, variant"
        ).fetchall()
        entry = np.array([r[0] for r in rows], dtype=np.int64)
        t = np.array([np.nan if r[1] is None else r[1] for r in rows], dtype=np.float64)
        variant = np.array([r[2] for r in rows], dtype=np.int64)
        quality = np.array([r[3] for r in rows], dtype=np.int64)
        return entry, t, variant, quality, _hash_rows(b"".join(r[4] for r in rows))

    def _pdq_from_packed(self, count: int) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                    np.ndarray, np.ndarray]:
        """The packed rows, if they hold ``count`` hashes (``pdq``'s rows) in columns of
        one length; else the table's."""
        rows = self.db.execute("SELECT entry, t, variant, quality, hashes FROM pdq_packed "
                               "ORDER BY entry").fetchall()
        try:
            hashes = _hash_rows(b"".join(r[4] for r in rows))
            entry = np.repeat(np.array([r[0] for r in rows], np.int64),
                              [len(r[4]) // 32 for r in rows])
            t, variant, quality = (np.frombuffer(b"".join(r[k] for r in rows), dtype)
                                   .astype(out) for k, dtype, out in ((1, "<f8", np.float64),
                                                                      (2, "<i4", np.int64),
                                                                      (3, "<i4", np.int64)))
        except (ValueError, TypeError):  # not blobs, or not whole values
            return self._pdq_from_table()
        if not len(t) == len(variant) == len(quality) == len(entry) == count:
            return self._pdq_from_table()  # not rows this code wrote: read the table
        return entry, t, variant, quality, hashes

    def _pdq_stamp(self) -> tuple[int, int, int]:
        """What ``pdq_packed`` must have been written with (as ``_audio_stamp``)."""
        return self._table_stamp("pdq")

    def _pdq_packed_rows(self) -> int | None:
        """``pdq``'s rows when ``pdq_packed`` was written with the table as it is, else None."""
        if not self._has("pdq_packed"):
            return None
        written = self._stamp_of(_PDQ_KEY)
        if written is None:
            return None
        now = self._pdq_stamp()
        return now[0] if written == now else None

    def pdq_packed_current(self) -> bool:
        """Whether ``pdq_packed`` matches ``pdq`` (scans open the register with it)."""
        return self._pdq_packed_rows() is not None

    def _set_pdq_stamp(self) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)",
                        (_PDQ_KEY, self._stamp_json(self._pdq_stamp())))

    def _write_pdq_packed(self, eid: int,
                          rows: Iterable[tuple[float | None, int, int, bytes]]) -> None:
        """One entry's PDQ rows as its ``pdq_packed`` row, in the order ``pdq`` is read."""
        ordered = sorted(rows, key=lambda r: (r[0] is not None, r[0] or 0.0, r[1]))
        self.db.execute(
            "INSERT OR REPLACE INTO pdq_packed VALUES (?, ?, ?, ?, ?)",
            (eid, np.array([np.nan if r[0] is None else r[0] for r in ordered],
                           "<f8").tobytes(),
             np.array([r[1] for r in ordered], "<i4").tobytes(),
             np.array([r[2] for r in ordered], "<i4").tobytes(),
             b"".join(bytes(r[3]) for r in ordered)))

    def _pack_pdq(self) -> None:
        """``pdq_packed`` written again from ``pdq`` (a register from before it, or rows an
        earlier version wrote behind it), in one transaction holding the write lock."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self.db.execute("DELETE FROM pdq_packed")
            entry: int | None = None
            rows: list[tuple[float | None, int, int, bytes]] = []
            for eid, t, v, q, h in self.db.execute(
                    "SELECT entry, t, variant, quality, hash FROM pdq ORDER BY entry"):
                if eid != entry and entry is not None:
                    self._write_pdq_packed(entry, rows)
                    rows = []
                entry = eid
                rows.append((t, v, q, bytes(h)))
            if entry is not None:
                self._write_pdq_packed(entry, rows)
            self._set_pdq_stamp()
            self.db.commit()
        except BaseException:
            self.db.rollback()
            raise

    def feature_rows(self, entry: int | None = None
                     ) -> Iterator[tuple[int, float | None, feat.Features]]:
        where, args = ("WHERE entry = ? ", (entry,)) if entry is not None else ("", ())
        for eid, t, w, h, pts, desc in self.db.execute(
                "SELECT entry, t, width, height, points, descriptors FROM features "
                f"{where}ORDER BY entry, t", args):
            yield int(eid), t, feat.unpack(pts, desc, int(w), int(h))

    def feature_items(self) -> list[tuple[int, feat.Features, np.ndarray | None]]:
        """(entry, features, visual words or None) of every features row: the words stored
        at registration for the shipped vocabulary, None where they must be computed."""
        has_words = self.db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND "
                                    "name = 'feature_words'").fetchone() is not None
        join = ("LEFT JOIN feature_words AS w ON w.feature = f.rowid AND w.vocab = ? "
                if has_words else "")
        sql = ("SELECT f.entry, f.width, f.height, f.points, f.descriptors, "
               f"{'w.words' if has_words else 'NULL'} FROM features AS f {join}"
               "ORDER BY f.entry, f.t")
        out = []
        for eid, w, h, pts, desc, words in self.db.execute(
                sql, (vocabulary.load().id,) if has_words else ()):
            f = feat.unpack(pts, desc, int(w), int(h))
            wd = np.frombuffer(words, "<i4").astype(np.int32) if words is not None else None
            out.append((int(eid), f, wd if wd is None or len(wd) == len(f.descriptors)
                        else None))
        return out

    def _has(self, table: str) -> bool:
        return self.db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                               (table,)).fetchone() is not None

    def waveform_seconds(self) -> float:
        """Seconds of registered sound the waveform search would correlate (all tracks)."""
        if not self._has("waveform"):
            return 0.0
        row = self.db.execute("SELECT SUM(LENGTH(samples) / 2.0 / rate) FROM waveform").fetchone()
        return float(row[0] or 0.0)

    def audio_without_waveform(self) -> int:
        """Entries with registered audio but no stored waveform (registered by a version
        before the waveform search): their audio is matched by landmarks only."""
        # per entry through the indexes (not a pass over every landmark: a register of
        # hours of sound holds tens of millions)
        none = ("AND NOT EXISTS (SELECT 1 FROM waveform w WHERE w.entry = e.id)"
                if self._has("waveform") else "")
        return int(self.db.execute(
            "SELECT COUNT(*) FROM entries e WHERE EXISTS (SELECT 1 FROM audio a "
            f"WHERE a.entry = e.id) {none}").fetchone()[0])

    def waveforms(self, entries: list[int] | None = None
                  ) -> Iterator[tuple[int, int, np.ndarray]]:
        """(entry, track, samples at ``waveform.RATE``) of every stored waveform, or of
        some entries'."""
        if not self._has("waveform"):
            return
        if entries is None:
            rows: Iterable[tuple[Any, ...]] = self.db.execute(
                "SELECT entry, track, rate, scale, samples FROM waveform ORDER BY entry, track")
        else:
            ids = sorted({int(e) for e in entries})
            rows = (row for k in range(0, len(ids), 500) for row in self.db.execute(
                "SELECT entry, track, rate, scale, samples FROM waveform WHERE entry IN "
                f"({','.join('?' * len(ids[k:k + 500]))}) ORDER BY entry, track",
                ids[k:k + 500]))
        for eid, track, rate, scale, blob in rows:
            if int(rate) != waveform.RATE:
                continue  # another proxy rate: not comparable (a later version's)
            yield (int(eid), int(track),
                   np.frombuffer(blob, "<i2").astype(np.float32) * np.float32(scale))

    def audio_rows(self, entry: int, speed: int, lo: int, hi: int
                   ) -> tuple[np.ndarray, np.ndarray]:
        """(hashes, anchor frames) of one entry at one registered speed, frames in [lo, hi]."""
        rows = self.db.execute("SELECT hash, frame FROM audio WHERE entry = ? AND speed = ? "
                               "AND frame BETWEEN ? AND ?", (entry, speed, lo, hi)).fetchall()
        if not rows:
            z = np.zeros(0, np.int64)
            return z, z
        a = np.array(rows, dtype=np.int64)
        return a[:, 0], a[:, 1]

    def audio_hits(self, hashes: np.ndarray, frames: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(query frame, entry, registered frame, speed) for every landmark hash in common.

        The query's hashes are joined on the hash index in batches, so the cost follows the
        query, not the register. Each batch goes in as one JSON array (``json_each``): a
        third of the time of inserting it row by row into a TEMP table, which remains the
        way for an SQLite built without JSON."""
        out: list[np.ndarray] = []
        frames = np.asarray(frames, np.int64)
        for start in range(0, len(hashes), JOIN_BATCH):
            batch = hashes[start:start + JOIN_BATCH]
            try:
                rows = self.db.execute(
                    "SELECT j.key, a.entry, a.frame, a.speed FROM json_each(?) AS j "
                    "JOIN audio AS a ON a.hash = j.value",
                    (json.dumps(batch.tolist()),)).fetchall()
            except sqlite3.OperationalError:  # no json_each in this SQLite
                rows = self._audio_rows_by_table(batch)
            if rows:
                arr = np.array(rows, dtype=np.int64)
                arr[:, 0] += start
                out.append(arr)
        if not out:
            z = np.zeros(0, np.int64)
            return z, z, z, z
        arr = np.concatenate(out)
        return frames[arr[:, 0]], arr[:, 1], arr[:, 2], arr[:, 3]

    # -- the landmark pack -----------------------------------------------------------------
    def _table_stamp(self, table: str) -> tuple[int, int, int]:
        """What a copy of ``table`` (``audio`` or ``pdq``) must have been made from: its
        rows and largest rowid, and the largest entry id ever given (``AUTOINCREMENT``:
        every add moves it, and no removal moves it back, so an add after a removal of as
        many rows is seen even where the table reused the rowids). Separate queries:
        together SQLite scans the table (0.9 s at 6.9 million rows, not 0.03 s)."""
        assert table in ("audio", "pdq")
        rows = int(self.db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
        top = self.db.execute(f"SELECT MAX(rowid) FROM {table}").fetchone()[0]
        seq = self.db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'entries'"
                              ).fetchone()
        return rows, int(top or 0), int(seq[0]) if seq else 0

    def _stamp_of(self, key: str) -> tuple[int, int, int] | None:
        """The stamp ``meta`` holds under ``key`` (None: none, or not one this code wrote)."""
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        try:
            stamp = json.loads(row[0])
            return int(stamp["rows"]), int(stamp["max_rowid"]), int(stamp["entry_seq"])
        except (ValueError, KeyError, TypeError):
            return None

    def _audio_stamp(self) -> tuple[int, int, int]:
        """What the landmark pack must have been built from (``_table_stamp``)."""
        return self._table_stamp("audio")

    def _pack_stamp(self) -> tuple[int, int, int] | None:
        return self._stamp_of(_PACK_KEY)

    def _pack_id(self) -> bytes | None:
        """The id ``meta`` gives the stored pack (None: none, a register written before)."""
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (_PACK_KEY,)).fetchone()
        try:
            ident = bytes.fromhex(json.loads(row[0])["id"]) if row else None
        except (ValueError, KeyError, TypeError):
            return None
        return ident if ident is not None and len(ident) == 16 else None

    @staticmethod
    def _stamp_json(stamp: tuple[int, int, int], ident: bytes | None = None) -> str:
        value: dict[str, int | str] = dict(zip(("rows", "max_rowid", "entry_seq"), stamp,
                                               strict=True))
        if ident is not None:
            value["id"] = ident.hex()
        return json.dumps(value)

    @property
    def pack_path(self) -> str:
        """Where the landmark pack's file lies: beside the register."""
        return self.path + PACK_FILE_SUFFIX

    def _pack_file(self) -> LandmarkIndex | None:
        """The pack file mapped, when it holds the register's current pack."""
        stamp, ident = self._audio_stamp(), self._pack_id()
        if ident is None or self._pack_stamp() != stamp:
            return None
        return LandmarkIndex.open_file(self.pack_path, stamp, ident)

    def pack_file_current(self) -> bool:
        """Whether the file beside the register holds its current landmark pack, whole and
        in order (as ``audio_index`` would map it)."""
        return self._pack_file() is not None

    def _read_pack(self) -> LandmarkIndex | None:
        """The landmark pack as stored, part by part (None if it is not blobs of the
        same rows this code wrote)."""
        if not self._has("audio_pack"):
            return None
        (size,) = self.db.execute("SELECT COALESCE(SUM(length(hashes)), 0) "
                                  "FROM audio_pack").fetchone()
        if not isinstance(size, int) or size % landmark_index.HASH_BYTES:
            return None
        return LandmarkIndex.from_parts(
            self.db.execute("SELECT hashes, entries, frames, speeds FROM audio_pack "
                            "ORDER BY part"), size // landmark_index.HASH_BYTES)

    def pack_state(self) -> tuple[bool, int]:
        """(whether the landmark pack matches the ``audio`` table, the table's rows)."""
        stamp = self._audio_stamp()
        return self._has("audio_pack") and self._pack_stamp() == stamp, stamp[0]

    def pack_current(self) -> bool:
        """Whether the landmark pack matches the ``audio`` table (scans use it)."""
        return self.pack_state()[0]

    def audio_index(self) -> LandmarkIndex | None:
        """Every registered landmark (``audio_hits`` without SQLite): the pack file mapped,
        else the stored pack read into memory; None when the register has no pack that
        matches its ``audio`` table, or no pack file and a pack over
        ``landmark_index.MAX_ROWS``: look up through ``audio_hits`` then."""
        mapped = self._pack_file()
        if mapped is not None:
            return mapped
        stamp = self._audio_stamp()
        if self._pack_stamp() != stamp or stamp[0] > landmark_index.MAX_ROWS:
            return None
        index = self._read_pack()
        return index if index is not None and len(index) == stamp[0] else None

    def pack_audio(self) -> None:
        """Bring the landmark pack up to date with the ``audio`` table: the pack as opened
        with this connection's additions and removals when it matched the table then, else
        built from the table (an earlier version's register). A current pack without its
        file (a register copied alone, written before, a file that could not be written)
        gets the file. The pack is merged and written a piece at a time (``_pack_pieces``),
        so its size does not bound the memory a ``register add`` needs.
        One transaction, holding the write lock, so no other writer moves the table
        between the stamp and the pack; the file is written before the transaction ends,
        under the id it commits."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            stamp = self._audio_stamp()
            opened, ident = self._pack_stamp(), self._pack_id()
            current = opened == stamp
            if current and (not stamp[0] or ident is not None and self.pack_file_current()):
                self.db.rollback()
                return
            if self._version() != self._data_version:
                # another writer committed since this one opened (an add or remove cut
                # short, say): the pack as opened plus this session's changes need not be
                # the table, whatever the stamp says
                self._pack_current = False
            new_id = ident if current and ident is not None else os.urandom(16)
            try:
                self._write_pack(self._pack_pieces(current, opened, ident), stamp, new_id,
                                 blobs=not current)
            except landmark_index.DamagedPack:  # the stored pack is not what its stamp says
                self._write_pack(self._table_pieces(), stamp, new_id, blobs=True)
            if new_id != ident:
                self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)",
                                (_PACK_KEY, self._stamp_json(stamp, new_id)))
            self.db.commit()
        except BaseException:
            self.db.rollback()
            raise
        self._added, self._removed, self._pack_current = [], set(), True
        self._added_rows, self._data_version = 0, self._version()

    def _version(self) -> int:
        """SQLite's count of commits by *other* connections to the file
        (``PRAGMA data_version``)."""
        return int(self.db.execute("PRAGMA data_version").fetchone()[0])

    def _pack_pieces(self, current: bool, opened: tuple[int, int, int] | None,
                     ident: bytes | None) -> Iterator[LandmarkIndex]:
        """The up-to-date pack in hash order, a piece at a time: the stored pack as it is
        (``current``), or with this connection's additions and removals when it matched
        the table at open, else the table."""
        if not current and (not self._pack_current or self._added is None):
            return self._table_pieces()
        base: Iterable[LandmarkIndex] | None = None
        if ident is not None and opened is not None:
            mapped = LandmarkIndex.open_file(self.pack_path, opened, ident)
            base = mapped.pieces() if mapped is not None else None
        if base is None:
            if opened is not None and opened[0] > landmark_index.MAX_ROWS:
                return self._table_pieces()  # no stored parts past that (``_write_pack``)
            base = landmark_index.stored_pieces(self.db.execute(
                "SELECT hashes, entries, frames, speeds FROM audio_pack ORDER BY part"))
        if current:
            return iter(base)
        added = (LandmarkIndex.union(self._added) if self._added
                 else LandmarkIndex.empty())
        return landmark_index.merged(base, added, self._removed)

    def _table_pieces(self) -> Iterator[LandmarkIndex]:
        """The ``audio`` table in hash order (its covering index's), a batch at a time."""
        cur = self.db.execute("SELECT hash, entry, frame, speed FROM audio ORDER BY hash")
        while rows := cur.fetchmany(JOIN_BATCH):
            a = np.array(rows, dtype=np.int64)
            yield LandmarkIndex(a[:, 0].astype(np.uint32), a[:, 1].astype(np.int32),
                                a[:, 2].astype(np.int32), a[:, 3].astype(np.int16))

    def _write_pack(self, pieces: Iterator[LandmarkIndex], stamp: tuple[int, int, int],
                    ident: bytes, blobs: bool) -> None:
        """Write the pack that ``pieces`` yields, ``stamp[0]`` rows, to its file and, with
        ``blobs``, into ``audio_pack`` (from the file just written, or from the table where
        it could not be written). ``DamagedPack`` where the pieces are not that pack.

        A pack over ``landmark_index.MAX_ROWS`` is not stored in ``audio_pack``: no scan
        reads one that large into memory, so its file alone holds it (and without the file
        scans and the next writer read the table). At 80 hours of sound that is 7.7 GB less
        written per session, and as much again in the rollback journal."""
        written = self._write_pack_file(pieces, stamp, ident)
        if not blobs:
            return
        self.db.execute("DELETE FROM audio_pack")
        if stamp[0] > landmark_index.MAX_ROWS:
            return
        # from the file just written, else from the table: the pieces may be merged from
        # the parts just deleted
        mapped = LandmarkIndex.open_file(self.pack_path, stamp, ident) if written else None
        source = (mapped.pieces() if mapped is not None
                  else _whole_parts(self._table_pieces()))
        at = 0
        for k, piece in enumerate(source):
            at += len(piece)
            self.db.execute("INSERT INTO audio_pack VALUES (?, ?, ?, ?, ?)",
                            (k, *next(piece.parts())))
        if at != stamp[0]:
            raise landmark_index.DamagedPack(f"the pack holds {at} rows, not {stamp[0]}")

    def _write_pack_file(self, pieces: Iterator[LandmarkIndex], stamp: tuple[int, int, int],
                         ident: bytes) -> bool:
        """Write the pack's file (whether it was written); where it cannot be written (a
        full disk, a folder that takes no new files) say why in ``pack_file_error``: the
        pack in the database is whole, and scans read it from there. A register without
        audio needs no file. Files that earlier writers left unfinished are removed (this
        one holds the write lock)."""
        for left in landmark_index.unfinished_files(self.pack_path):
            try:
                os.unlink(left)
            except OSError:
                pass
        try:
            if not stamp[0]:
                if os.path.exists(self.pack_path):
                    os.unlink(self.pack_path)
                return False
            landmark_index.write_pieces(self.pack_path, stamp[0], pieces, stamp, ident)
        except OSError as exc:
            self.pack_file_error = f"{exc.filename or self.pack_path}: {exc.strerror or exc}"
            return False
        self.pack_file_error = None
        return True

    def _audio_rows_by_table(self, hashes: np.ndarray) -> list[tuple[int, int, int, int]]:
        """``audio_hits``' join through a TEMP table: (index in ``hashes``, entry, frame,
        speed) rows."""
        self.db.execute("CREATE TEMP TABLE IF NOT EXISTS q (hash INTEGER, k INTEGER)")
        try:
            self.db.execute("DELETE FROM temp.q")
            self.db.executemany("INSERT INTO temp.q VALUES (?, ?)",
                                zip(hashes.tolist(), range(len(hashes)), strict=True))
            return self.db.execute("SELECT q.k, a.entry, a.frame, a.speed FROM temp.q AS q "
                                   "JOIN audio AS a ON a.hash = q.hash").fetchall()
        finally:
            self.db.execute("DROP TABLE IF EXISTS temp.q")
            # the DELETE opened a transaction (on the TEMP table only): end it, or the
            # pack's own at close (``pack_audio``) could not begin
            self.db.commit()
