"""The landmark pack three ways (issue 18): mapped from its file beside the register, read
into each process's memory from the register, or not held at all (looked up in the register's
tables, what a scan did past ``landmark_index.MAX_ROWS``): scan time and memory per process,
at the register sizes ``bench.audio_speed`` builds and at larger ones grown from them.

Usage (figures in ``bench/results/audio-rule.md``)::

    .venv/bin/python -m bench.audio_speed --minutes 5 --register 60,300 --work DIR
    .venv/bin/python -m bench.audio_pack --work DIR --grow 20,80

Each measurement runs in a fresh process (``--child``): it opens the register as a scan
does, scans ``bench.audio_speed``'s 5 min programme with the register detector alone, twice
(the faster counts), and reports the pack's opening time, the scan time and its memory from
``/proc/self/smaps_rollup``, the highest while it scans: resident, proportional (a page
shared by n processes counts 1/n) and anonymous (the process's own, what a second worker
would hold again).

**Grown registers.** Registering 80 hours of cues takes hours here, so ``--grow H`` makes
a pack of about H hours from the largest real register's landmarks: its rows again, each
copy a different sound with the same statistics (both peaks moved up 1-7 frequency bins,
and/or the pair turned round in time: the landmarks of the sound played backwards), under
entry ids that follow on from the real ones (as a register's do), which no entry has. The real entries (and the programme's two cues) stay as they are.
The grown pack is written as a pack file and mapped (``--child grown``): what the look-ups
meet at that size is the same number of chance rows with the same hash statistics. The
copies' entries have no waveforms, so the waveform short list is not measured against
them (it keeps to a bounded number of candidates at any size).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from detectors.api import Options, Shared
from detectors.fingerprint import audio as audio_fp
from detectors.fingerprint import landmark_index
from detectors.fingerprint.landmark_index import LandmarkIndex, write_pieces
from detectors.fingerprint.matcher import WAVEFORM_FULL_S, Register
from detectors.fingerprint.store import RegisterStore
from detectors.registry import load_spec
from scanner.pipeline import scan_asset
from scanner.walk import Walker

F_BITS = 0x1FF  # a hash's frequency fields (9 bits each, ``audio.landmarks``)
MIN_BIN, MAX_BIN = audio_fp.MIN_BIN, audio_fp.MAX_BIN


def memory() -> dict[str, float]:
    """Resident, proportional and anonymous memory of this process now, MB."""
    out: dict[str, float] = {}
    for line in Path("/proc/self/smaps_rollup").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("Rss", "Pss", "Anonymous"):
            out[key] = int(rest.split()[0]) / 1024
    return out


class PeakMemory:
    """The highest of ``memory()``'s figures while it runs, sampled every 20 ms by a
    thread (the look-up's own arrays come and go within a scan)."""

    def __init__(self) -> None:
        self.peak: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            for key, value in memory().items():
                self.peak[key] = max(self.peak.get(key, 0.0), value)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _copy(real: LandmarkIndex, c: int, back: bool, up: int) -> LandmarkIndex:
    """Copy ``c`` of ``real``: both peaks ``up`` bins higher, the pair turned round in time
    with ``back``; sorted."""
    h = real.hashes.astype(np.int64)
    f1, f2, dt = (h >> 15) & F_BITS, (h >> 6) & F_BITS, h & audio_fp.DT_MASK
    a, b = (f2, f1) if back else (f1, f2)
    span = MAX_BIN - MIN_BIN
    a, b = MIN_BIN + (a - MIN_BIN + up) % span, MIN_BIN + (b - MIN_BIN + up) % span
    # entry ids follow on from the real ones, as a register's grow (dense ids: the look-up
    # numbers its groups from them)
    step = int(real.entries.max()) + 1
    return LandmarkIndex.build((a << 15) | (b << 6) | dt, real.entries + c * step,
                               real.frames, real.speeds)


def grow(real: LandmarkIndex, copies: int, path: Path) -> None:
    """Write ``real`` and ``copies`` other sounds of the same statistics (module
    docstring) as a pack file at ``path``: each copy sorted into a file of its own, then
    all merged, a range of hashes at a time (an 80 hour pack is 8 GB)."""
    variants = [(back, up) for back in (False, True) for up in range(8)][1:]
    if copies > len(variants):
        raise SystemExit(f"at most {len(variants) + 1} times the largest register")
    runs, files = [real], []
    for c, (back, up) in enumerate(variants[:copies], start=1):
        run = _copy(real, c, back, up)
        files.append(path.with_name(f"{path.name}.run{c}"))
        run.write_file(str(files[-1]), (len(run), 0, 0), bytes(16))
        del run
        mapped = LandmarkIndex.open_file(str(files[-1]), (len(real), 0, 0), bytes(16))
        assert mapped is not None
        runs.append(mapped)
    rows = len(real) * len(runs)
    bounds = np.linspace(0, 1 << 24, 129).astype(np.int64)

    def pieces() -> Iterator[LandmarkIndex]:
        for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
            cut = [(r, int(np.searchsorted(r.hashes, lo)), int(np.searchsorted(r.hashes, hi)))
                   for r in runs]
            yield LandmarkIndex.build(*(np.concatenate([r.columns()[k][a:b] for r, a, b in cut])
                                        for k in range(4)))

    try:
        write_pieces(str(path), rows, pieces(), (rows, 0, 0), bytes(16))
    finally:
        for f in files:
            f.unlink()


def child(mode: str, db: Path, prog: Path, grown_file: Path | None) -> dict[str, object]:
    """One process: open the register as a scan does with the pack ``mode``, scan twice."""
    det = load_spec("detectors.register:RegisterDetector")
    assert det is not None
    opts = Options()
    opts.settings["register"] = {"path": str(db)}
    shared = Shared(opts)
    opened: dict[str, float] = {}

    def open_register() -> Register:
        reg = Register(str(db))
        t0 = time.perf_counter()
        if mode == "memory":
            reg._pack["index"] = reg.store._read_pack()
        elif mode == "tables":
            reg._pack["index"] = None
        elif mode == "grown":
            assert grown_file is not None
            stamp = json.loads(grown_file.with_suffix(".json").read_text())
            reg._pack["index"] = LandmarkIndex.open_file(
                str(grown_file), tuple(stamp["stamp"]), bytes.fromhex(stamp["id"]))
        pack = reg.landmark_pack()
        opened["s"] = time.perf_counter() - t0
        opened["rows"] = len(pack) if pack is not None else 0
        opened["mapped"] = isinstance(pack.hashes, np.memmap) if pack is not None else False
        return reg

    key = f"register:{db}:{WAVEFORM_FULL_S:g}"  # the detector's own, as shipped
    try:
        shared.get(key, open_register, close=lambda r: r.close())
        (asset,) = list(Walker().walk([str(prog)]))
        took, found = [], []
        with PeakMemory() as peak:
            for _ in range(2):
                t0 = time.perf_counter()
                res = scan_asset(asset, [det], shared)
                took.append(time.perf_counter() - t0)
                found = [f.to_dict() for oc in res.outcomes for f in oc.findings]
        mem = peak.peak
    finally:
        shared.close()
    what = sorted(f"{Path(str(f['evidence']['entry']['path'])).name} "  # type: ignore[index]
                  f"{str(f['location']).split(':', 1)[-1]}" for f in found)
    return {"mode": mode, "open_s": opened["s"], "rows": opened["rows"],
            "mapped": opened["mapped"], "scan_s": min(took), **mem, "found": what}


def run_child(*args: str) -> dict[str, object]:
    out = subprocess.run([sys.executable, "-m", "bench.audio_pack", "--child", *args],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def row(label: str, r: dict[str, object], seconds: float) -> str:
    return (f"| {label} | {r['mode']}{' (mapped)' if r['mapped'] else ''} "
            f"| {int(r['rows']):,} | {float(r['open_s']):.2f} s "  # type: ignore[arg-type]
            f"| {float(r['scan_s']):.2f} s | {seconds / float(r['scan_s']):.0f}x "  # type: ignore[arg-type]
            f"| {float(r['Rss']):.0f} / {float(r['Pss']):.0f} / "  # type: ignore[arg-type]
            f"{float(r['Anonymous']):.0f} MB | {'; '.join(r['found'])} |")  # type: ignore[arg-type]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", type=Path,
                    help="bench.audio_speed's --work folder (programme and registers)")
    ap.add_argument("--minutes", type=float, default=5.0, help="the programme's length")
    ap.add_argument("--grow", default="20,80", help="grown pack sizes, hours")
    ap.add_argument("--modes", default="mapped,memory,tables")
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.child:
        mode, db, prog, *rest = a.child
        print(json.dumps(child(mode, Path(db), Path(prog), Path(rest[0]) if rest else None)))
        return 0
    if a.work is None:
        ap.error("--work is required")
    prog = (a.work / f"programme-{a.minutes:g}min.wav").resolve()
    regs = sorted(a.work.glob("register-*min.db"),
                  key=lambda p: float(p.stem.split("-")[1][:-3]))
    print("| registered sound | pack | rows | opening the pack | scan | real time "
          "| peak memory: resident / proportional / anonymous | findings |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for db in regs:
        with RegisterStore(str(db), readonly=False):
            pass  # a writable close writes the pack file where it is missing
        label = db.stem.split("-")[1]
        for mode in [m for m in a.modes.split(",") if m]:
            print(row(label, run_child(mode, str(db), str(prog)), a.minutes * 60), flush=True)
    if not a.grow or not regs:
        return 0
    with RegisterStore(str(regs[-1])) as store:
        real = store.audio_index()
        minutes = float(regs[-1].stem.split("-")[1][:-3])
    assert real is not None
    for hours in (float(v) for v in a.grow.split(",")):
        copies = int(round(hours * 60 / minutes)) - 1
        path = a.work / f"grown-{hours:g}h.landmarks"
        if not path.exists():
            t0 = time.perf_counter()
            grow(real, copies, path)
            path.with_suffix(".json").write_text(json.dumps(
                {"stamp": [len(real) * (copies + 1), 0, 0], "id": bytes(16).hex()}))
            print(f"(grown {hours:g} h written in {time.perf_counter() - t0:.0f} s)",
                  flush=True)
        r = run_child("grown", str(regs[-1]), str(prog), str(path))
        print(row(f"{hours:g} h (grown, {copies + 1} x {minutes:g} min)", r, a.minutes * 60),
              flush=True)
    print(f"(without its file a scan reads the pack into memory up to "
          f"{landmark_index.MAX_ROWS:,} rows, and looks up in the tables past that)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
