"""How fast the register detector scans sound, everything on, against how much sound the
register holds (issue 18's target: audio at 100x real time or more).

Usage (figures in ``bench/results/audio-rule.md``; about 10 min on an idle 2-core machine)::

    .venv/bin/python -m bench.audio_speed --minutes 10 --register 1,10,30,60

The deliverable is a ``--minutes`` long 48 kHz 24-bit stereo WAV (synthetic music under
speech-like sound) with one registered cue 10 dB under it, time-stretched to 96 % (so the
tempo variants and the edge walk do real work). The registers hold 30 s synthetic cues
(registered as ``register add`` does: landmarks at 11 speeds, the 4 kHz waveform), 1 to 60
minutes of them. Each scan runs the register detector alone in this process, as a one-file
CLI scan does, twice; the faster time counts (the first warms the OS file cache). What one
scan includes: decoding, the landmarks, the look-up at three tempos, the waveform search at
speed 1, following the weaker candidates' speed, the finding, and whitening the register's
waveforms (once per process; reported on its own too). Opening the register is not included.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.register_programme import scan
from detectors.fingerprint import extract, matcher
from detectors.fingerprint.store import RegisterStore
from fixtures.gen_register import (
    ffmpeg_filter,
    synth_babble,
    synth_music,
    write_buried_wav,
    write_wav,
)

SR = 8000  # synthesis rate; the deliverable is resampled to 48 kHz by ffmpeg
CUE_S = 30.0


def deliverable(work: Path, minutes: float) -> Path:
    """The programme mix, with cue 0 stretched to 96 % 10 dB under it at 60 s."""
    n = int(minutes * 60 * SR)
    parts = [0.3 * synth_music(500 + k, 30.0) + 0.5 * synth_babble(30.0, 900 + k)
             for k in range(int(np.ceil(minutes * 2)))]
    x = np.concatenate(parts)[:n].astype(np.float32)
    used = ffmpeg_filter(synth_music(7000, CUE_S)[2 * SR:14 * SR], SR, "atempo=0.96")
    out = work / "programme.wav"
    write_buried_wav(out, x, used, 60.0, -10.0, SR)
    return out


def register(work: Path, minutes: float) -> Path:
    db = work / f"reg{minutes:g}.db"
    with RegisterStore(str(db), readonly=False, create=True) as store:
        for k in range(int(round(minutes * 60 / CUE_S))):
            path = work / f"cue{k}.wav"
            if not path.exists():
                write_wav(path, synth_music(7000 + k, CUE_S))
            store.add(sha256=f"cue{k}", media_type="audio/wav", path=str(path), size=0,
                      tool="bench", note="", added="bench", verdict="clean", evidence=[],
                      fp=extract.fingerprint_audio(str(path), is_wav=True))
    return db


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=10.0, help="deliverable length")
    ap.add_argument("--register", default="1,10,30,60", help="registered sound, minutes")
    a = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-audio-speed-") as tmp:
        work = Path(tmp)
        prog = deliverable(work, a.minutes)
        secs = a.minutes * 60
        print(f"deliverable: {a.minutes:g} min, 48 kHz 24-bit stereo WAV "
              f"({prog.stat().st_size / 1e6:.0f} MB)")
        print("| registered sound | whitening it (once per process, in the scan) | scan | "
              "real time | finding |")
        print("| --- | --- | --- | --- | --- |")
        for size in (float(v) for v in a.register.split(",")):
            t0 = time.perf_counter()
            db = register(work, size)
            built = time.perf_counter() - t0
            reg = matcher.Register(str(db))
            t0 = time.perf_counter()
            reg.prepare_waveforms()
            whiten = time.perf_counter() - t0
            reg.close()
            found, took = scan(db, prog)
            found, again = scan(db, prog)
            took = min(took, again)
            what = "; ".join(f"{f['rule']} {f['location']} tempo "
                             f"{f['evidence'].get('tempo', 1.0)}" for f in found) or "none"
            print(f"| {size:g} min | {whiten:.2f} s | {took:.2f} s | {secs / took:.0f}x | "
                  f"{what} |  (register built in {built:.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
