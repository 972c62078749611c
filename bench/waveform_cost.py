"""What the waveform search (``detectors/fingerprint/waveform.py``) costs against how much
sound the register holds.

Usage (figures in ``bench/results/audio-rule.md``; about 2 min on one idle core)::

    .venv/bin/python -m bench.waveform_cost --minutes 10 --register 1,10,30,60

A deliverable of synthetic music and speech-like sound (``--minutes`` long, 8 kHz analysis
samples) is searched against registers of 1 to 60 minutes of other synthetic music in 30 s
entries, one process, one thread. Reported per register size: the seconds of search per
minute of deliverable, the cost per registered minute, and real time over that cost (what the
waveform stage alone allows; the landmark look-up comes on top). The one-off costs are
reported too: whitening the register's sound when a scan opens it, and building the
deliverable's transform blocks.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from detectors.fingerprint import waveform as wf
from fixtures.gen_register import synth_babble, synth_music


def deliverable(minutes: float) -> np.ndarray:
    parts = []
    for k in range(int(np.ceil(minutes * 2))):
        parts.append(0.3 * synth_music(500 + k, 30.0) + 0.5 * synth_babble(30.0, 900 + k))
    return np.concatenate(parts)[: int(minutes * 60 * 8000)].astype(np.float32)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=10.0, help="deliverable length")
    ap.add_argument("--register", default="1,10,30,60", help="register sizes in minutes")
    a = ap.parse_args(argv)
    sizes = [float(v) for v in a.register.split(",")]
    x = wf.decimate(deliverable(a.minutes))
    t = time.perf_counter()
    q = wf.Query.build(x)
    t_query = time.perf_counter() - t
    entries_raw = [wf.decimate(synth_music(7000 + k, 30.0))
                   for k in range(int(max(sizes) * 2))]
    t = time.perf_counter()
    entries = [(k, wf.whiten(e)) for k, e in enumerate(entries_raw)]
    t_white = (time.perf_counter() - t) / (len(entries) / 2)
    print(f"deliverable {a.minutes:g} min: transform blocks {t_query:.2f} s; whitening the "
          f"register: {t_white * 1000:.0f} ms per registered minute")
    print("| registered sound | search per deliverable minute | per registered minute | "
          "real time (waveform stage alone) | segments |")
    print("| --- | --- | --- | --- | --- |")
    for size in sizes:
        use = entries[: int(size * 2)]
        t = time.perf_counter()
        segs = wf.search(q, use)
        took = time.perf_counter() - t
        per_min = took / a.minutes
        print(f"| {size:g} min | {per_min:.2f} s | {per_min / size * 1000:.0f} ms | "
              f"{60 / per_min:.0f}x | {len(segs)} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
