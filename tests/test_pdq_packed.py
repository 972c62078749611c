"""Each entry's PDQ rows packed in one row (``pdq_packed``, ``RegisterStore.pdq_rows``): what a
scan reads when it opens a register must be exactly the ``pdq`` table, and rows written
behind the packed ones (an earlier version's ``register add``, a damaged row) must never be
missed: the scan then reads the table, and the next writable open packs it again."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from detectors.fingerprint import extract
from detectors.fingerprint.extract import Fingerprint
from detectors.fingerprint.matcher import Register
from detectors.fingerprint.store import RegisterStore
from fixtures.gen_register import synth_image


def _still(store: RegisterStore, seed: int) -> int:
    rgb = synth_image(seed, 320, 240)
    return store.add(sha256=f"still{seed}", media_type="image/png", path=f"{seed}.png",
                     size=0, tool="test", note="", added="test", verdict="clean", evidence=[],
                     fp=extract.fingerprint_image(rgb))


def _clip(store: RegisterStore, seed: int) -> int:
    """A clip's rows as ``register add`` gives them, handed over out of time order."""
    fp = Fingerprint("video", width=320, height=240)
    for t in (2.0, 0.0, 1.0):
        hashes, quality = extract.register_hashes(synth_image(seed + int(t), 320, 240))
        fp.pdq += [(t, v, quality, h) for v, h in reversed(hashes)]
    return store.add(sha256=f"clip{seed}", media_type="video/mp4", path=f"{seed}.mp4",
                     size=0, tool="test", note="", added="test", verdict="clean", evidence=[],
                     fp=fp)


def _table(db: Path) -> tuple[np.ndarray, ...]:
    """The ``pdq`` table in the order a register is read (entry, t, variant)."""
    with sqlite3.connect(db) as con:
        rows = con.execute("SELECT entry, t, variant, quality, hash FROM pdq "
                           "ORDER BY entry, t, variant").fetchall()
    con.close()
    return (np.array([r[0] for r in rows]),
            np.array([np.nan if r[1] is None else r[1] for r in rows]),
            np.array([r[2] for r in rows]), np.array([r[3] for r in rows]),
            np.frombuffer(b"".join(r[4] for r in rows), np.uint8).reshape(-1, 32))


def _same(got: tuple[np.ndarray, ...], want: tuple[np.ndarray, ...]) -> bool:
    return all(a.shape == b.shape and np.array_equal(a, b, equal_nan=a.dtype.kind == "f")
               for a, b in zip(got, want, strict=True))


def _packed(db: Path) -> int:
    with sqlite3.connect(db) as con:
        n = int(con.execute("SELECT COUNT(*) FROM pdq_packed").fetchone()[0])
    con.close()
    return n


def test_the_packed_rows_are_the_table_after_adds_and_a_removal(tmp_path: Path) -> None:
    db = tmp_path / "reg.db"
    with RegisterStore(str(db), readonly=False, create=True) as store:
        _still(store, 8101)
        gone = _clip(store, 8110)
        _clip(store, 8120)
        _still(store, 8102)
        store.remove(gone)
    assert _packed(db) == 3
    with RegisterStore(str(db)) as ro:
        got = ro.pdq_rows()
    want = _table(db)
    assert _same(got, want) and len(want[0]) > 40
    assert set(want[0].tolist()) == {1, 3, 4}
    assert np.isnan(got[1][got[0] == 1]).all() and (np.diff(got[1][got[0] == 3]) >= 0).all()


def test_a_still_an_earlier_version_registered_behind_them_is_found(tmp_path: Path) -> None:
    """An earlier version's ``register add`` writes ``pdq`` rows and no packed row: the
    scan reads the table and finds the still; the next writable open packs it."""
    db = tmp_path / "reg.db"
    with RegisterStore(str(db), readonly=False, create=True) as store:
        _still(store, 8201)
    late = synth_image(8202, 320, 240)
    hashes, quality = extract.register_hashes(late)
    with sqlite3.connect(db) as con:
        eid = con.execute("INSERT INTO entries (sha256, kind, media_type, path, size, added) "
                          "VALUES ('late', 'image', 'image/png', 'late.png', 0, 'x')"
                          ).lastrowid
        con.executemany("INSERT INTO pdq (entry, t, variant, quality, hash) "
                        "VALUES (?, NULL, ?, ?, ?)", [(eid, v, quality, h) for v, h in hashes])
    con.close()
    assert _packed(db) == 1
    reg = Register(str(db))
    try:
        assert _same(reg.store.pdq_rows(), _table(db))
        found, _quality = reg.match_image(late, local=False)
        assert [m.entry.id for m in found] == [eid]
    finally:
        reg.close()
    RegisterStore(str(db), readonly=False).close()
    assert _packed(db) == 2
    with sqlite3.connect(db) as con:
        stamp = json.loads(con.execute("SELECT value FROM meta WHERE key = 'pdq_packed'"
                                       ).fetchone()[0])
    con.close()
    assert stamp["rows"] == len(_table(db)[0]) and stamp["entry_seq"] == eid


def test_a_register_from_before_the_packed_rows_is_read_then_packed(tmp_path: Path) -> None:
    db = tmp_path / "reg.db"
    with RegisterStore(str(db), readonly=False, create=True) as store:
        _still(store, 8301)
        _clip(store, 8310)
    with sqlite3.connect(db) as con:  # as an earlier version left it
        con.execute("DROP TABLE pdq_packed")
        con.execute("DELETE FROM meta WHERE key = 'pdq_packed'")
    con.close()
    with RegisterStore(str(db)) as ro:
        assert _same(ro.pdq_rows(), _table(db))
    RegisterStore(str(db), readonly=False).close()
    assert _packed(db) == 2
    with RegisterStore(str(db)) as ro:
        assert _same(ro.pdq_rows(), _table(db))


@pytest.mark.parametrize("damage", [
    "UPDATE pdq_packed SET t = substr(t, 1, 8) WHERE entry = 2",  # columns of unequal length
    "UPDATE pdq_packed SET variant = X'0000' WHERE entry = 1",  # not whole values
    "UPDATE pdq_packed SET quality = 'text' WHERE entry = 1",  # not a blob
    "DELETE FROM pdq_packed WHERE entry = 2",  # an entry's row gone, the stamp as it was
])
def test_damaged_packed_rows_are_not_used(tmp_path: Path, damage: str) -> None:
    """Packed rows this code did not write as they are: the table is read."""
    db = tmp_path / "reg.db"
    with RegisterStore(str(db), readonly=False, create=True) as store:
        _still(store, 8401)
        _clip(store, 8410)
    want = _table(db)
    with sqlite3.connect(db) as con:
        con.execute(damage)
    con.close()
    with RegisterStore(str(db)) as ro:
        assert _same(ro.pdq_rows(), want)


def test_register_info_says_whether_the_rows_are_packed_and_register_pack_packs_them(
        tmp_path: Path) -> None:
    from click.testing import CliRunner  # noqa: PLC0415

    from scanner.cli import main  # noqa: PLC0415

    db = tmp_path / "reg.db"
    with RegisterStore(str(db), readonly=False, create=True) as store:
        _still(store, 8501)
    runner = CliRunner()

    def info() -> str:
        res = runner.invoke(main, ["register", "info", "--json", "--register", str(db)])
        assert res.exit_code == 0, res.output
        return str(json.loads(res.output)["pdq_packed"])

    assert info() == "current"
    with sqlite3.connect(db) as con:  # as an earlier version's add would leave it
        con.execute("INSERT INTO pdq (entry, t, variant, quality, hash) "
                    "SELECT entry, t, 99, quality, hash FROM pdq LIMIT 1")
    con.close()
    assert info().startswith("not current")
    res = runner.invoke(main, ["register", "pack", "--register", str(db)])
    assert res.exit_code == 0, res.output
    assert "PDQ rows packed:" in res.output, res.output
    assert info() == "current"
    with RegisterStore(str(db)) as ro:
        assert 99 in ro.pdq_rows()[2].tolist()
    res = runner.invoke(main, ["register", "pack", "--register", str(db)])
    assert "PDQ rows already packed:" in res.output, res.output
