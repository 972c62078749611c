"""The landmark pack (detectors/fingerprint/landmark_index.py, ``RegisterStore.audio_index``):
the registered landmarks held sorted in memory must answer exactly what the ``audio`` table
answers, and a pack that is not the table's (a ``register add`` cut short, a damaged blob)
must never be used: a scan then reads the table, so no registered sound is missed."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from detectors.fingerprint import audio as audio_fp
from detectors.fingerprint import audio_match as am
from detectors.fingerprint import landmark_index
from detectors.fingerprint.extract import Fingerprint
from detectors.fingerprint.landmark_index import LandmarkIndex
from detectors.fingerprint.matcher import Register
from detectors.fingerprint.store import RegisterStore
from fixtures.gen_register import synth_music, write_wav

SR = audio_fp.SR
CUE_S = 12.0


def _add(store: RegisterStore, seed: int, tmp: Path) -> int:
    """Register a synthetic cue as ``register add`` stores it (11 speeds, 4 grid phases)."""
    path = tmp / f"cue{seed}.wav"
    write_wav(path, synth_music(seed, CUE_S, SR), SR)
    lm = audio_fp.fingerprint_speeds(str(path), is_wav=True)
    return store.add(sha256=f"cue{seed}", media_type="audio/wav", path=path.name, size=0,
                     tool="test", note="", added="test", verdict="clean", evidence=[],
                     fp=Fingerprint("audio", duration=lm.duration, audio=lm))


def _query(*seeds: int) -> audio_fp.Landmarks:
    """The deliverable: 5 s of each cue from 3 s in, one after the other, at query density."""
    x = np.concatenate([synth_music(s, CUE_S, SR)[3 * SR:8 * SR] for s in seeds])
    return am.landmarks(x, am.QUERY)


def _rows(hits: tuple[np.ndarray, ...]) -> np.ndarray:
    """Look-up rows in one canonical order (the two look-ups return them in their own)."""
    a = np.stack(hits, axis=1)
    return a[np.lexsort(a.T[::-1])]


def _pack_file(db: Path) -> Path:
    return db.with_name(db.name + ".landmarks")


def _stamp(path: Path) -> str:
    with sqlite3.connect(path) as con:
        return str(con.execute("SELECT value FROM meta WHERE key = 'audio_pack'").fetchone())


def test_the_pack_answers_what_the_table_answers_after_adds_and_a_removal(
        tmp_path: Path) -> None:
    db = tmp_path / "reg.db"
    with RegisterStore(str(db), readonly=False, create=True) as store:
        a = _add(store, 7101, tmp_path)
        b = _add(store, 7102, tmp_path)
    with RegisterStore(str(db), readonly=False) as store:  # a second session: merged
        c = _add(store, 7103, tmp_path)
        assert store.remove(b)
    lm = _query(7101, 7102, 7103)
    payload = np.arange(len(lm.hashes))
    with RegisterStore(str(db)) as store:
        pack = store.audio_index()
        assert pack is not None
        assert len(pack) == store.counts()["audio"]
        from_table = store.audio_hits(lm.hashes, payload)
        from_pack = pack.hits(lm.hashes, payload)
    assert len(from_table[0]) > 1000
    assert np.array_equal(_rows(from_pack), _rows(from_table))
    assert set(np.unique(from_pack[1]).tolist()) == {a, c}  # the removed cue is gone


def test_a_scan_reads_the_same_segments_from_the_pack_as_from_the_table(
        tmp_path: Path) -> None:
    db = tmp_path / "reg.db"
    with RegisterStore(str(db), readonly=False, create=True) as store:
        eids = [_add(store, s, tmp_path) for s in (7111, 7112)]
    lm = _query(7112, 7111)
    reg = Register(str(db))
    try:
        assert reg.landmark_pack() is not None
        found, named = reg._match_landmarks(lm)
        reg._pack["index"] = None  # as a register without a pack is read
        found_sql, named_sql = reg._match_landmarks(lm)
    finally:
        reg.close()

    def key(segs: list[am.Segment]) -> list[tuple[object, ...]]:
        return sorted((s.entry, s.speed, s.tempo, s.offset, s.start, s.end, s.hits, s.chance,
                       s.raw) for s in segs)

    assert key(named) == key(named_sql)
    assert sorted(m.entry.id for m in found) == sorted(eids)
    assert [(m.entry.id, m.start, m.end) for m in found] == \
        [(m.entry.id, m.start, m.end) for m in found_sql]


def test_a_register_add_cut_short_leaves_the_pack_unused_until_the_next_add(
        tmp_path: Path) -> None:
    """Each entry is committed on its own; the pack is written when the writable store
    closes. A session that never closes (killed) leaves the table ahead of the pack: the
    cue added then is still found, through the table, and the next session rebuilds it."""
    db = tmp_path / "reg.db"
    with RegisterStore(str(db), readonly=False, create=True) as store:
        _add(store, 7121, tmp_path)
    store = RegisterStore(str(db), readonly=False)
    late = _add(store, 7122, tmp_path)
    store.db.close()  # killed before close(): no pack written
    before = _stamp(db)
    reg = Register(str(db))
    try:
        assert reg.landmark_pack() is None
        found, _named = reg._match_landmarks(_query(7122))
        assert [m.entry.id for m in found] == [late]
    finally:
        reg.close()
    with RegisterStore(str(db), readonly=False):
        pass  # opened for writing and closed: the pack is built from the table
    assert _stamp(db) != before
    with RegisterStore(str(db)) as ro:
        pack = ro.audio_index()
        assert pack is not None and late in set(pack.entries.tolist())
        assert len(pack) == ro.counts()["audio"]


def test_rows_written_behind_the_pack_make_it_stale(tmp_path: Path) -> None:
    """An earlier version's ``register add`` writes ``audio`` rows and no pack: the stamp
    (rows, largest rowid) no longer matches, whichever way the count moved."""
    db = tmp_path / "reg.db"
    with RegisterStore(str(db), readonly=False, create=True) as store:
        _add(store, 7131, tmp_path)
    with sqlite3.connect(db) as con:
        con.execute("INSERT INTO audio (hash, entry, frame, speed) VALUES (1, 99, 0, 1000)")
        con.execute("DELETE FROM audio WHERE rowid = (SELECT MIN(rowid) FROM audio)")
    con.close()
    with RegisterStore(str(db)) as ro:  # same count, another largest rowid
        assert ro.audio_index() is None


@pytest.mark.parametrize("damage", [
    "UPDATE audio_pack SET frames = substr(frames, 1, 10)",  # columns of unequal length
    "UPDATE audio_pack SET speeds = X'00'",  # not a whole number of values
    "UPDATE audio_pack SET hashes = randomblob(length(hashes))",  # not sorted
    "DELETE FROM audio_pack",  # rows missing
    "UPDATE audio_pack SET speeds = 'text'",  # not a blob
    "UPDATE audio_pack SET entries = 12",
    "UPDATE audio_pack SET hashes = 'text'",
    "UPDATE audio_pack SET hashes = substr(hashes, 1, 6)",  # rows the other columns lack
])
def test_a_damaged_pack_is_not_used(tmp_path: Path, damage: str) -> None:
    db = tmp_path / "reg.db"
    with RegisterStore(str(db), readonly=False, create=True) as store:
        _add(store, 7141, tmp_path)
    _pack_file(db).unlink()  # the register copied alone: the pack is read from it
    with sqlite3.connect(db) as con:
        con.execute(damage)
    con.close()
    with RegisterStore(str(db)) as ro:
        assert ro.audio_index() is None


def test_a_pack_of_many_parts_is_read_back_in_place(monkeypatch: pytest.MonkeyPatch) -> None:
    """Parts are copied into one array each as they are read: the same index back, and
    nothing when the parts come out of order or hold another number of rows."""
    rng = np.random.default_rng(3)
    n = 5_500
    index = LandmarkIndex.build(rng.integers(0, 1 << 24, n), rng.integers(1, 9, n),
                                rng.integers(0, 5000, n), rng.choice([990, 1000, 1010], n))
    monkeypatch.setattr(landmark_index, "PART_ROWS", 1000)
    parts = list(index.parts())
    assert len(parts) == 6
    back = LandmarkIndex.from_parts(iter(parts), n)
    assert back is not None
    assert all(np.array_equal(a, b) for a, b in zip(back.columns(), index.columns(),
                                                     strict=True))
    assert LandmarkIndex.from_parts(iter(parts[::-1]), n) is None  # hashes not sorted
    assert LandmarkIndex.from_parts(iter(parts), n + 1) is None
    assert LandmarkIndex.from_parts(iter(parts), n - 1) is None
    assert LandmarkIndex.from_parts(iter([]), 0) is not None


def test_hits_against_a_brute_force_join() -> None:
    rng = np.random.default_rng(5)
    n = 20_000
    index = LandmarkIndex.build(rng.integers(0, 3000, n), rng.integers(1, 9, n),
                                rng.integers(0, 5000, n), rng.choice([990, 1000, 1010], n))
    assert bool((np.diff(index.hashes.astype(np.int64)) >= 0).all())
    query = np.r_[rng.integers(0, 3500, 400), -1, 1 << 40, 17, 17]  # repeats, out of range
    payload = np.arange(len(query)) * 7
    want = [(int(payload[k]), int(index.entries[i]), int(index.frames[i]),
             int(index.speeds[i]))
            for k, h in enumerate(query) for i in np.flatnonzero(index.hashes == h)]
    got = index.hits(query, payload)
    assert len(want) > 1000
    assert sorted(map(tuple, np.stack(got, axis=1).tolist())) == sorted(want)
    assert all(len(a) == 0 for a in index.hits(query[:0], payload[:0]))
    assert all(len(a) == 0 for a in LandmarkIndex.empty().hits(query, payload))


def test_register_info_says_whether_the_pack_is_current_and_register_pack_rebuilds_it(
        tmp_path: Path) -> None:
    from click.testing import CliRunner

    from scanner.cli import main
    from tests.conftest import FIXTURES

    db = tmp_path / "reg.db"
    runner = CliRunner()

    def info() -> str:
        res = runner.invoke(main, ["register", "info", "--json", "--register", str(db)])
        assert res.exit_code == 0, res.output
        return str(json.loads(res.output)["landmark_pack"])

    res = runner.invoke(main, ["register", "add", str(FIXTURES / "register" / "temp_cue.wav"),
                               "--register", str(db)])
    assert res.exit_code == 0, res.output
    assert info() == "current"
    with sqlite3.connect(db) as con:  # as an earlier version's add would leave it
        con.execute("INSERT INTO audio (hash, entry, frame, speed) VALUES (1, 1, 0, 1000)")
    con.close()
    assert info().startswith("not current")
    res = runner.invoke(main, ["register", "pack", "--register", str(db)])
    assert res.exit_code == 0 and "rebuilt" in res.output, res.output
    assert info() == "current"
    with RegisterStore(str(db)) as ro:
        pack = ro.audio_index()
        assert pack is not None and 1 in pack.hashes[pack.entries == 1].tolist()
    res = runner.invoke(main, ["register", "pack", "--register", str(db)])
    assert "already current" in res.output


def test_an_add_after_a_removal_of_as_many_rows_makes_the_pack_stale(tmp_path: Path) -> None:
    """The audio table reuses the rowids of its last rows once they are removed, so a
    removal and an add of as many rows, both cut short (or by an earlier version), leave
    its row count and largest rowid as they were; the entries' ever-growing id does not."""
    db = tmp_path / "reg.db"
    with RegisterStore(str(db), readonly=False, create=True) as store:
        _add(store, 7151, tmp_path)
        last = _add(store, 7152, tmp_path)
    with sqlite3.connect(db) as con:
        before = con.execute("SELECT COUNT(*), MAX(rowid) FROM audio").fetchone()
        rows = con.execute("SELECT hash, frame, speed FROM audio WHERE entry = ?",
                           (last,)).fetchall()
        con.execute("DELETE FROM audio WHERE entry = ?", (last,))
        con.execute("DELETE FROM entries WHERE id = ?", (last,))
        new = con.execute("INSERT INTO entries (sha256, kind, media_type, path, size, added) "
                          "VALUES ('other', 'audio', 'audio/wav', 'other.wav', 0, 'x')"
                          ).lastrowid
        con.executemany("INSERT INTO audio (hash, entry, frame, speed) VALUES (?, ?, ?, ?)",
                        [(h, new, f, s) for h, f, s in rows])
        assert con.execute("SELECT COUNT(*), MAX(rowid) FROM audio").fetchone() == before
    con.close()
    with RegisterStore(str(db)) as ro:
        assert ro.audio_index() is None


def test_a_pack_over_the_memory_cap_is_not_read_and_the_scan_says_so(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "reg.db"
    with RegisterStore(str(db), readonly=False, create=True) as store:
        eid = _add(store, 7161, tmp_path)
        rows = store.counts()["audio"]
    _pack_file(db).unlink()  # the register copied alone: the pack is read from it
    reg = Register(str(db))
    try:
        assert reg.landmark_pack() is not None
        assert not any("looked up in its tables" in n for n in reg.audio_notes())
    finally:
        reg.close()
    monkeypatch.setattr(landmark_index, "MAX_ROWS", rows - 1)
    reg = Register(str(db))
    try:
        assert reg.landmark_pack() is None
        assert any("over the" in n and "looked up in its tables" in n
                   and "register pack' writes the file" in n
                   for n in reg.audio_notes()), reg.audio_notes()
        found, _named = reg._match_landmarks(_query(7161))
        assert [m.entry.id for m in found] == [eid]  # found all the same, through SQLite
    finally:
        reg.close()
    with RegisterStore(str(db), readonly=False) as store:
        store.pack_audio()  # what 'register pack' does: the file is written again
    reg = Register(str(db))
    try:  # the file is mapped, at any size
        pack = reg.landmark_pack()
        assert pack is not None and isinstance(pack.hashes, np.memmap) and len(pack) == rows
        assert not any("looked up in its tables" in n for n in reg.audio_notes())
        found, _named = reg._match_landmarks(_query(7161))
        assert [m.entry.id for m in found] == [eid]
    finally:
        reg.close()


def test_a_scan_says_when_the_pack_is_not_current(tmp_path: Path) -> None:
    db = tmp_path / "reg.db"
    with RegisterStore(str(db), readonly=False, create=True) as store:
        _add(store, 7171, tmp_path)
    with sqlite3.connect(db) as con:
        con.execute("INSERT INTO audio (hash, entry, frame, speed) VALUES (1, 1, 0, 1000)")
    con.close()
    reg = Register(str(db))
    try:
        assert any("not current" in n and "register pack" in n for n in reg.audio_notes())
    finally:
        reg.close()


# -- the pack file beside the register -----------------------------------------------------
def _hits(index: LandmarkIndex | None, lm: audio_fp.Landmarks) -> np.ndarray:
    assert index is not None
    return _rows(index.hits(lm.hashes, np.arange(len(lm.hashes))))


def test_scans_map_the_pack_file_and_a_register_copied_alone_reads_the_same_pack(
        tmp_path: Path) -> None:
    db = tmp_path / "reg.db"
    with RegisterStore(str(db), readonly=False, create=True) as store:
        for seed in (7181, 7182):
            _add(store, seed, tmp_path)
    lm = _query(7182, 7181)
    with RegisterStore(str(db)) as ro:
        assert ro.pack_file_current()
        mapped = ro.audio_index()
        assert mapped is not None and isinstance(mapped.hashes, np.memmap)
        want = _hits(mapped, lm)
        table = _rows(ro.audio_hits(lm.hashes, np.arange(len(lm.hashes))))
    assert len(want) > 1000 and np.array_equal(want, table)
    (tmp_path / "copy").mkdir()
    alone = tmp_path / "copy" / "reg.db"
    alone.write_bytes(db.read_bytes())
    with RegisterStore(str(alone)) as ro:
        assert not ro.pack_file_current()
        read = ro.audio_index()
        assert read is not None and not isinstance(read.hashes, np.memmap)
        assert np.array_equal(_hits(read, lm), want)


def _truncated(db: Path, tmp: Path) -> None:
    with open(_pack_file(db), "r+b") as fh:
        fh.truncate(_pack_file(db).stat().st_size - 1)


def _out_of_order(db: Path, tmp: Path) -> None:
    with open(_pack_file(db), "r+b") as fh:
        fh.seek(4096)  # the first hash: the largest there is
        fh.write(b"\xff\xff\xff\xff")


def _another_registers(db: Path, tmp: Path) -> None:
    """A register of the same cue: the same stamp (rows, largest rowid, entries), another
    pack id."""
    other = tmp / "other" / "reg.db"
    other.parent.mkdir()
    with RegisterStore(str(other), readonly=False, create=True) as store:
        _add(store, 7191, tmp)
    with RegisterStore(str(db)) as a, RegisterStore(str(other)) as b:
        assert a._audio_stamp() == b._audio_stamp()
    _pack_file(db).write_bytes(_pack_file(other).read_bytes())


def _an_earlier_packs(db: Path, tmp: Path) -> None:
    old = _pack_file(db).read_bytes()
    with RegisterStore(str(db), readonly=False) as store:
        _add(store, 7192, tmp)
    _pack_file(db).write_bytes(old)


@pytest.mark.parametrize("spoil", [_truncated, _out_of_order, _another_registers,
                                   _an_earlier_packs])
def test_a_pack_file_that_is_not_this_registers_pack_is_not_used(
        tmp_path: Path, spoil: object) -> None:
    """Whatever lies beside the register under the pack file's name, a scan maps it only
    when it is the register's current pack, whole and in order; otherwise it reads the pack
    from the register, and misses nothing."""
    db = tmp_path / "reg.db"
    with RegisterStore(str(db), readonly=False, create=True) as store:
        _add(store, 7191, tmp_path)
    spoil(db, tmp_path)  # type: ignore[operator]
    lm = _query(7191)
    with RegisterStore(str(db)) as ro:
        read = ro.audio_index()
        assert read is not None and not isinstance(read.hashes, np.memmap)
        table = _rows(ro.audio_hits(lm.hashes, np.arange(len(lm.hashes))))
    assert len(table) > 500 and np.array_equal(_hits(read, lm), table)
    with RegisterStore(str(db), readonly=False) as store:
        store.pack_audio()  # 'register pack': the file is written again
    with RegisterStore(str(db)) as ro:
        mapped = ro.audio_index()
        assert mapped is not None and isinstance(mapped.hashes, np.memmap)
        assert np.array_equal(_hits(mapped, lm), table)


def test_a_pack_file_that_cannot_be_written_is_said_and_the_register_still_works(
        tmp_path: Path) -> None:
    from click.testing import CliRunner

    from scanner.cli import main
    from tests.conftest import FIXTURES

    db = tmp_path / "reg.db"
    _pack_file(db).mkdir()  # nothing can be written under its name
    runner = CliRunner()
    cue = FIXTURES / "register" / "temp_cue.wav"
    res = runner.invoke(main, ["register", "add", str(cue), "--register", str(db)])
    assert res.exit_code == 0, res.output
    assert "landmark pack file could not be brought up to date" in res.output
    res = runner.invoke(main, ["register", "info", "--json", "--register", str(db)])
    info = json.loads(res.output)
    assert info["landmark_pack"] == "current"
    assert info["landmark_pack_file"].startswith("missing or not current")
    with RegisterStore(str(db)) as ro:
        read = ro.audio_index()
        assert read is not None and len(read) == ro.counts()["audio"]
    res = runner.invoke(main, ["register", "pack", "--register", str(db)])
    assert res.exit_code == 2 and "not written" in res.output, res.output
    _pack_file(db).rmdir()
    res = runner.invoke(main, ["register", "pack", "--register", str(db)])
    assert res.exit_code == 0 and "landmark pack already current" in res.output
    assert "file" in res.output and "written" in res.output, res.output
    res = runner.invoke(main, ["register", "info", "--json", "--register", str(db)])
    assert json.loads(res.output)["landmark_pack_file"] == "current"
    res = runner.invoke(main, ["register", "pack", "--register", str(db)])
    assert res.exit_code == 0 and res.output.count("already current") == 2, res.output


def test_a_register_written_before_the_pack_file_gets_one_from_register_pack(
        tmp_path: Path) -> None:
    """An earlier version's pack has a stamp and no id: it is read into memory as before,
    and the next writable close gives it an id and its file, without repacking."""
    db = tmp_path / "reg.db"
    with RegisterStore(str(db), readonly=False, create=True) as store:
        _add(store, 7193, tmp_path)
    _pack_file(db).unlink()
    with sqlite3.connect(db) as con:
        value = json.loads(con.execute("SELECT value FROM meta WHERE key = 'audio_pack'"
                                       ).fetchone()[0])
        del value["id"]
        con.execute("UPDATE meta SET value = ? WHERE key = 'audio_pack'", (json.dumps(value),))
        parts = con.execute("SELECT COUNT(*) FROM audio_pack").fetchone()
    con.close()
    with RegisterStore(str(db)) as ro:
        assert ro.pack_current() and not ro.pack_file_current()
        read = ro.audio_index()
        assert read is not None and not isinstance(read.hashes, np.memmap)
    with RegisterStore(str(db), readonly=False):
        pass
    with RegisterStore(str(db)) as ro:
        mapped = ro.audio_index()
        assert mapped is not None and isinstance(mapped.hashes, np.memmap)
        assert all(np.array_equal(a, b) for a, b in zip(mapped.columns(), read.columns(),
                                                         strict=True))
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT COUNT(*) FROM audio_pack").fetchone() == parts
    con.close()


def test_removing_the_last_audio_removes_the_pack_file(tmp_path: Path) -> None:
    db = tmp_path / "reg.db"
    with RegisterStore(str(db), readonly=False, create=True) as store:
        eid = _add(store, 7194, tmp_path)
    assert _pack_file(db).is_file()
    with RegisterStore(str(db), readonly=False) as store:
        assert store.remove(eid)
    assert not _pack_file(db).exists()
    with RegisterStore(str(db)) as ro:
        assert ro.audio_index() is not None and len(ro.audio_index() or []) == 0


def test_a_pack_file_written_in_pieces_maps_back_whole(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Sorted pieces written one after another (as a pack merged from runs is) give the
    index they make up; pieces of another number of rows leave no file behind."""
    rng = np.random.default_rng(11)
    n = 7_000
    index = LandmarkIndex.build(rng.integers(0, 1 << 24, n), rng.integers(1, 9, n),
                                rng.integers(0, 5000, n), rng.choice([990, 1000, 1010], n))
    monkeypatch.setattr(landmark_index, "PART_ROWS", 1000)
    cuts = [0, 1, 2500, 2500, 6999, n]
    pieces = [LandmarkIndex(*(c[a:b] for c in index.columns()))
              for a, b in zip(cuts[:-1], cuts[1:], strict=True)]
    path = tmp_path / "pack.landmarks"
    ident = bytes(range(16))
    landmark_index.write_pieces(str(path), n, pieces, (n, 5, 6), ident)
    back = LandmarkIndex.open_file(str(path), (n, 5, 6), ident)
    assert back is not None and isinstance(back.hashes, np.memmap)
    assert all(np.array_equal(a, b) for a, b in zip(back.columns(), index.columns(),
                                                     strict=True))
    assert LandmarkIndex.open_file(str(path), (n, 5, 7), ident) is None  # another stamp
    assert LandmarkIndex.open_file(str(path), (n, 5, 6), bytes(16)) is None  # another id
    for rows in (n - 1, n + 1):
        with pytest.raises(ValueError):
            landmark_index.write_pieces(str(tmp_path / "bad"), rows, pieces, (rows, 0, 0),
                                        ident)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pack.landmarks"]


# -- the pack merged and written a piece at a time -------------------------------------------
def _pack_columns(index: LandmarkIndex | None) -> np.ndarray:
    assert index is not None
    return _rows(index.columns())


def _table_columns(db: Path) -> np.ndarray:
    with sqlite3.connect(db) as con:
        a = np.array(con.execute("SELECT hash, entry, frame, speed FROM audio").fetchall())
    con.close()
    return _rows(tuple(a.T))


def _blob_parts(db: Path) -> list[int]:
    with sqlite3.connect(db) as con:
        sizes = [int(n) for (n,) in con.execute(
            "SELECT length(hashes) FROM audio_pack ORDER BY part")]
    con.close()
    return [n // landmark_index.HASH_BYTES for n in sizes]


@pytest.mark.parametrize("added_max", [1 << 24, 100])
def test_a_pack_merged_piece_by_piece_is_the_table(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, added_max: int) -> None:
    """With parts of 3,000 rows the pack is merged from many pieces (or, past
    ``ADDED_MAX_ROWS`` added, rebuilt from the table in hash order): after adds and a
    removal over two sessions its file and its stored parts hold exactly the table."""
    from detectors.fingerprint import store as store_mod

    monkeypatch.setattr(landmark_index, "PART_ROWS", 3000)
    monkeypatch.setattr(store_mod, "ADDED_MAX_ROWS", added_max)
    db = tmp_path / "reg.db"
    with RegisterStore(str(db), readonly=False, create=True) as store:
        a = _add(store, 7201, tmp_path)
        _add(store, 7202, tmp_path)
    with RegisterStore(str(db), readonly=False) as store:
        _add(store, 7203, tmp_path)
        assert store.remove(a)
        _add(store, 7204, tmp_path)
    table = _table_columns(db)
    assert len(table) > 40_000 and a not in set(table[:, 1].tolist())
    parts = _blob_parts(db)
    assert len(parts) > 10 and max(parts) == 3000 and sum(parts) == len(table)
    assert all(n == 3000 for n in parts[:-1])
    with RegisterStore(str(db)) as ro:
        mapped = ro.audio_index()
        assert isinstance(mapped.hashes, np.memmap)  # type: ignore[union-attr]
        assert np.array_equal(_pack_columns(mapped), table)
        assert np.array_equal(_pack_columns(ro._read_pack()), table)


def test_a_damaged_stored_pack_is_rebuilt_from_the_table_when_its_file_is_written(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A current pack without its file gets the file from its stored parts; parts out of
    order are not copied into it: the pack is built from the table again."""
    monkeypatch.setattr(landmark_index, "PART_ROWS", 3000)
    db = tmp_path / "reg.db"
    with RegisterStore(str(db), readonly=False, create=True) as store:
        _add(store, 7211, tmp_path)
    _pack_file(db).unlink()
    with sqlite3.connect(db) as con:  # the first part and the last change places
        last = con.execute("SELECT MAX(part) FROM audio_pack").fetchone()[0]
        con.execute("UPDATE audio_pack SET part = -1 WHERE part = 0")
        con.execute("UPDATE audio_pack SET part = 0 WHERE part = ?", (last,))
        con.execute("UPDATE audio_pack SET part = ? WHERE part = -1", (last,))
    con.close()
    with RegisterStore(str(db)) as ro:
        assert ro.audio_index() is None  # not trusted
    with RegisterStore(str(db), readonly=False) as store:
        store.pack_audio()
    table = _table_columns(db)
    with RegisterStore(str(db)) as ro:
        assert np.array_equal(_pack_columns(ro.audio_index()), table)
        assert np.array_equal(_pack_columns(ro._read_pack()), table)


def test_merged_pieces_against_a_whole_sort() -> None:
    rng = np.random.default_rng(13)

    def index(n: int, hashes: int) -> LandmarkIndex:
        return LandmarkIndex.build(rng.integers(0, hashes, n), rng.integers(1, 9, n),
                                   rng.integers(0, 5000, n), rng.choice([990, 1000], n))

    base, added = index(9_000, 4000), index(1_500, 5000)  # added past base's last hash
    added = LandmarkIndex(*(np.asarray(c) for c in added.columns()))
    added.entries[:] += 10  # entries of their own
    for removed in (set(), {3, 11}):
        pieces = list(landmark_index.merged(base.pieces(700), added, removed))
        got = LandmarkIndex(*(np.concatenate(c) for c in zip(*(p.columns() for p in pieces),
                                                               strict=True)))
        want = LandmarkIndex.union([base, added]).without(removed)
        assert got.ordered() and len(got) == len(want)
        assert np.array_equal(_rows(got.columns()), _rows(want.columns()))
        assert not any(set(p.entries.tolist()) & removed for p in pieces)


def test_a_scan_says_how_it_read_the_pack_when_its_file_is_missing_or_the_pack_damaged(
        tmp_path: Path) -> None:
    db = tmp_path / "reg.db"
    with RegisterStore(str(db), readonly=False, create=True) as store:
        eid = _add(store, 7221, tmp_path)

    def notes() -> list[str]:
        reg = Register(str(db))
        try:
            found, _named = reg._match_landmarks(_query(7221))
            assert [m.entry.id for m in found] == [eid]  # found whichever way it was read
            return reg.audio_notes()
        finally:
            reg.close()

    assert not any("landmark pack" in n for n in notes())  # mapped: nothing to say
    _pack_file(db).unlink()
    said = [n for n in notes() if "landmark pack file" in n]
    assert len(said) == 1 and "read the pack into memory" in said[0]
    assert "register pack' writes the file" in said[0]
    with sqlite3.connect(db) as con:
        con.execute("UPDATE audio_pack SET speeds = X'00'")
    con.close()
    said = [n for n in notes() if "landmark pack" in n]
    assert len(said) == 1 and "could not be read (damaged)" in said[0], said
    assert "looked up in its tables" in said[0]


def test_a_pack_file_renamed_over_while_it_is_opened_is_mapped_whole_or_not_at_all(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The next ``register add`` renames its new file in (before it commits) while a scan
    opens the old one: the scan maps the file it checked, not the new one with the old
    one's layout."""
    import shutil

    db = tmp_path / "reg.db"
    with RegisterStore(str(db), readonly=False, create=True) as store:
        for seed in (7231, 7232):
            _add(store, seed, tmp_path)
    (tmp_path / "next").mkdir()
    nxt = tmp_path / "next" / "reg.db"
    shutil.copyfile(db, nxt)
    shutil.copyfile(_pack_file(db), _pack_file(nxt))
    with RegisterStore(str(nxt), readonly=False) as store:
        _add(store, 7233, tmp_path)
    real = np.memmap
    renamed: list[bool] = []

    def racing(*args: object, **kwargs: object) -> np.memmap:
        if not renamed:
            renamed.append(True)
            _pack_file(nxt).replace(_pack_file(db))  # the writer's rename lands here
        return real(*args, **kwargs)  # type: ignore[call-overload,no-any-return]

    monkeypatch.setattr(np, "memmap", racing)
    with RegisterStore(str(db)) as ro:
        pack = ro.audio_index()
    monkeypatch.setattr(np, "memmap", real)
    assert renamed and pack is not None
    assert np.array_equal(_pack_columns(pack), _table_columns(db))


def test_a_pack_file_of_another_row_count_under_the_right_stamp_is_not_used(
        tmp_path: Path) -> None:
    db = tmp_path / "reg.db"
    with RegisterStore(str(db), readonly=False, create=True) as store:
        _add(store, 7241, tmp_path)
    with RegisterStore(str(db)) as ro:
        stamp, ident = ro._audio_stamp(), ro._pack_id()
        whole = ro.audio_index()
    assert ident is not None and whole is not None
    for rows in (10, 0):
        part = LandmarkIndex(*(np.asarray(c[:rows]) for c in whole.columns()))
        landmark_index.write_pieces(str(_pack_file(db)), rows, [part], stamp, ident)
        with RegisterStore(str(db)) as ro:
            assert not ro.pack_file_current()
            pack = ro.audio_index()
            assert pack is not None and len(pack) == stamp[0]


def test_changes_another_writer_left_unpacked_are_not_lost_when_this_one_closes(
        tmp_path: Path) -> None:
    """Writer A opens; writer B removes a cue, registers the same sound again (as many
    landmarks under a new entry) and is killed before it packs; A closes. A's pack must be
    the table's, not the pack A opened with plus A's own (no) changes."""
    db = tmp_path / "reg.db"
    with RegisterStore(str(db), readonly=False, create=True) as store:
        _add(store, 7251, tmp_path)
        gone = _add(store, 7252, tmp_path)
    a = RegisterStore(str(db), readonly=False)
    b = RegisterStore(str(db), readonly=False)
    assert b.remove(gone)
    again = _add(b, 7252, tmp_path)
    b.db.close()  # killed before close()
    a.close()
    table = _table_columns(db)
    assert set(table[:, 1].tolist()) == {1, again}
    with RegisterStore(str(db)) as ro:
        assert ro.pack_current()
        assert np.array_equal(_pack_columns(ro.audio_index()), table)
        assert np.array_equal(_pack_columns(ro._read_pack()), table)


def test_a_pack_file_a_killed_writer_left_unfinished_is_removed_by_the_next_write(
        tmp_path: Path) -> None:
    db = tmp_path / "reg.db"
    with RegisterStore(str(db), readonly=False, create=True) as store:
        _add(store, 7261, tmp_path)
    left = tmp_path / "reg.db.landmarks.999999.tmp"  # a write cut short
    left.write_bytes(b"\0" * 4096)
    others = [tmp_path / "reg.db.landmarks.x1.tmp", tmp_path / "reg.db.landmarks.tmp",
              tmp_path / "other.db.landmarks.12.tmp"]
    for path in others:
        path.write_bytes(b"keep")
    with RegisterStore(str(db)) as ro:  # a scan leaves it
        assert ro.audio_index() is not None
    assert left.exists()
    with RegisterStore(str(db), readonly=False) as store:
        _add(store, 7262, tmp_path)
    assert not left.exists() and all(p.exists() for p in others)
    with RegisterStore(str(db)) as ro:
        assert ro.pack_file_current()


def test_a_pack_over_the_memory_cap_is_kept_in_its_file_alone(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No scan reads a pack over ``MAX_ROWS`` into memory, so the register does not store
    one in ``audio_pack``: scans map the file, and without it they and the next writer read
    the table; the file written again is the table."""
    db = tmp_path / "reg.db"
    monkeypatch.setattr(landmark_index, "MAX_ROWS", 1000)
    with RegisterStore(str(db), readonly=False, create=True) as store:
        eid = _add(store, 7271, tmp_path)
    assert _blob_parts(db) == []
    table = _table_columns(db)
    assert len(table) > 1000
    reg = Register(str(db))
    try:
        pack = reg.landmark_pack()
        assert pack is not None and isinstance(pack.hashes, np.memmap)
        assert not any("landmark pack" in n for n in reg.audio_notes())
    finally:
        reg.close()
    with RegisterStore(str(db), readonly=False) as store:  # another cue: merged in the file
        other = _add(store, 7272, tmp_path)
    assert _blob_parts(db) == []
    with RegisterStore(str(db)) as ro:
        assert np.array_equal(_pack_columns(ro.audio_index()), _table_columns(db))
    _pack_file(db).unlink()
    reg = Register(str(db))
    try:
        assert reg.landmark_pack() is None
        assert any("looked up in its tables" in n for n in reg.audio_notes())
        found, _named = reg._match_landmarks(_query(7271, 7272))
        assert sorted(m.entry.id for m in found) == [eid, other]
    finally:
        reg.close()
    with RegisterStore(str(db), readonly=False) as store:
        assert store.remove(eid)  # merged from the table: no parts, no file to start from
    with RegisterStore(str(db)) as ro:
        assert ro.pack_file_current() and _blob_parts(db) == []
        assert np.array_equal(_pack_columns(ro.audio_index()), _table_columns(db))
