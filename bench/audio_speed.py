"""How fast the register detector scans sound, everything on, against how much sound the
register holds (issue 18's target: audio at 100x real time or more).

Usage (figures in ``bench/results/audio-rule.md``; about 20 min on an idle 2-core machine,
most of it growing the register to 5 hours of cues)::

    .venv/bin/python -m bench.audio_speed --minutes 5

With ``--work DIR`` the programme and every register size are kept there and reused, so a
second run (or the same command in a worktree of another version) scans the same material
without building it again.

The deliverable is a ``--minutes`` long 48 kHz 24-bit stereo WAV (synthetic music under
speech-like sound) with two registered cues in it: one 10 dB under it, time-stretched to
96 % (so the tempo variants and the edge walk do real work), and 8 s of another 15 dB under
it at speed 1 (what only the waveform search finds). The registers hold 30 s synthetic cues
(registered as ``register add`` does: landmarks at 11 speeds, the 4 kHz waveform), 1 minute
to hours of them, one register grown from size to size. Each scan runs the register detector
alone in this process, as a one-file CLI scan does, twice; the faster time counts (the first
warms the OS file cache). What one scan includes: decoding, the landmarks, the look-up at
three tempos (in the register's landmark pack, read once per process), the waveform
search at speed 1 (over every entry up to
``matcher.WAVEFORM_FULL_S`` of registered sound, above it over the landmarks' short list),
following the weaker candidates' speed, the finding, and whitening the register's waveforms
(the whole register once per process, reported on its own too; or the short list's, as
read). Opening the register is not included. Registers up to ``--compare-up-to`` minutes are
scanned with the other search too (marked *), which shows where the two cost the same.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.register_programme import scan
from detectors.fingerprint import extract, matcher
from detectors.fingerprint.store import RegisterStore
from fixtures.gen_register import (
    bury,
    ffmpeg_filter,
    synth_babble,
    synth_music,
    write_buried_wav,
    write_wav,
)

SR = 8000  # synthesis rate; the deliverable is resampled to 48 kHz by ffmpeg
CUE_S = 30.0


BURIED_AT = 150.0  # s: where cue 1 lies 15 dB under the mix (the deliverable is 3 min at least)


def deliverable(work: Path, minutes: float) -> Path:
    """The programme mix: cue 0 stretched to 96 % 10 dB under it at 60 s, 8 s of cue 1 from
    4 s in 15 dB under it at ``BURIED_AT``."""
    n = int(minutes * 60 * SR)
    parts = [0.3 * synth_music(500 + k, 30.0) + 0.5 * synth_babble(30.0, 900 + k)
             for k in range(int(np.ceil(minutes * 2)))]
    x = np.concatenate(parts)[:n].astype(np.float32)
    x = bury(x, synth_music(7001, CUE_S)[4 * SR:12 * SR], BURIED_AT, -15.0, SR)
    used = ffmpeg_filter(synth_music(7000, CUE_S)[2 * SR:14 * SR], SR, "atempo=0.96")
    out = work / "programme.wav"
    write_buried_wav(out, x, used, 60.0, -10.0, SR)
    return out


def register(work: Path, minutes: float, keep: bool = False) -> Path:
    """The register grown to ``minutes`` of 30 s cues (cue k: ``synth_music(7000 + k)``).
    ``keep``: each size in a file of its own (``register-60min.db``), reused when there,
    else copied from the largest smaller one and grown: a second run, or another version
    of the code, scans the same registers without building them again."""
    db = work / "register.db"
    if keep:
        db = work / f"register-{minutes:g}min.db"
        if db.exists():
            return db
        smaller = sorted((float(p.stem.split("-")[1][:-3]), p)
                         for p in work.glob("register-*min.db"))
        smaller = [(m, p) for m, p in smaller if m < minutes]
        if smaller:
            shutil.copyfile(smaller[-1][1], db)
    with RegisterStore(str(db), readonly=False, create=True) as store:
        have = store.counts()["entries"]
        for k in range(have, int(round(minutes * 60 / CUE_S))):
            path = work / f"cue{k}.wav"
            write_wav(path, synth_music(7000 + k, CUE_S))
            store.add(sha256=f"cue{k}", media_type="audio/wav", path=str(path), size=0,
                      tool="bench", note="", added="bench", verdict="clean", evidence=[],
                      fp=extract.fingerprint_audio(str(path), is_wav=True))
            path.unlink()  # the register keeps what it needs (hours of cues otherwise)
    return db


def measure(db: Path, prog: Path, whole_s: float) -> tuple[int, str, str, str, float, str]:
    """(entries, waveform search, reading the landmark pack, whitening the register, scan
    seconds, findings) of the faster of two scans, with the register setting
    ``waveform_minutes`` at ``whole_s`` / 60."""
    reg = matcher.Register(str(db), whole_s)
    t0 = time.perf_counter()
    pack = reg.landmark_pack()
    packed = f"{time.perf_counter() - t0:.2f} s" if pack is not None else "no pack"
    t0 = time.perf_counter()
    reg.prepare_audio()
    whiten = "-" if reg.shortlist else f"{time.perf_counter() - t0:.2f} s"
    mode, n = ("short list" if reg.shortlist else "whole"), len(reg.entries)
    reg.close()
    found, took = scan(db, prog, whole_s / 60)
    found, again = scan(db, prog, whole_s / 60)
    what = "; ".join(
        f"{Path(f['evidence']['entry']['path']).name} {f['rule'].split('.')[-1]} "
        f"{f['location'].split(':', 1)[-1]}"
        + (f" tempo {f['evidence']['tempo']}" if 'tempo' in f['evidence'] else "")
        for f in found) or "none"
    return n, mode, packed, whiten, min(took, again), what


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=10.0, help="deliverable length")
    ap.add_argument("--register", default="1,3,10,30,60,300",
                    help="registered sound, minutes, ascending")
    ap.add_argument("--compare-up-to", type=float, default=60.0,
                    help="registers up to this many minutes are scanned with the other "
                         "waveform search as well (whole / short list), for the cross-over")
    ap.add_argument("--work", type=Path,
                    help="keep the programme and each register size here and reuse them "
                         "(to scan the same material again, or with another version)")
    a = ap.parse_args(argv)
    with contextlib.ExitStack() as stack:
        if a.work is not None:
            work = a.work
            work.mkdir(parents=True, exist_ok=True)
        else:
            work = Path(stack.enter_context(
                tempfile.TemporaryDirectory(prefix="bench-audio-speed-")))
        prog = work / f"programme-{a.minutes:g}min.wav"
        if not prog.exists():
            deliverable(work, a.minutes).rename(prog)
        secs = a.minutes * 60
        print(f"deliverable: {a.minutes:g} min, 48 kHz 24-bit stereo WAV "
              f"({prog.stat().st_size / 1e6:.0f} MB)")
        print("| registered sound | entries | waveform search | reading the landmark pack "
              "| whitening the register (both once per process, in the scan) | scan "
              "| real time | findings |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- |")
        for size in (float(v) for v in a.register.split(",")):
            t0 = time.perf_counter()
            db = register(work, size, keep=a.work is not None)
            built = time.perf_counter() - t0
            shipped = matcher.WAVEFORM_FULL_S
            modes = [shipped] + ([0.0 if size * 60 <= shipped else 1e9]
                                 if size <= a.compare_up_to else [])
            for full in modes:
                row = measure(db, prog, full)
                print(f"| {size:g} min | {row[0]} | {row[1]}{'' if full == shipped else ' *'} "
                      f"| {row[2]} | {row[3]} | {row[4]:.2f} s | {secs / row[4]:.0f}x "
                      f"| {row[5]} |  "
                      f"(register grown in {built:.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
