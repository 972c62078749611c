"""Would single spectral peaks confirm weak audio candidates? (``python -m bench.audio_peaks``)

A cue or VO 15 dB under a full mix leaves 3-9 aligned landmark hits: a *pair* of peaks must
survive the mix, and single peaks survive about twice as often. This measures a second stage
that was considered and not shipped: every candidate segment down to 3 hits is checked by the
share of the entry's registered peaks (at the candidate's offset and speed, over the segment
+-2 s) that have a deliverable peak within a frame and a bin, against the shares at the 120
offsets within +-2 s around it (the same ring ``audio_match`` takes its chance level from).
Score: z of the hits against the ring's 95th-percentile share. Material and register are
``bench/audio_rule.py``'s (TUNE split by default); the report gives, per class in the mix, how
many inserts the second stage would accept above the highest score of any negative or wrong
candidate, beside how many the shipped rule finds. About 3 min on one core.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from bench import audio_rule as ar
from detectors.fingerprint import audio as audio_fp
from detectors.fingerprint import audio_match as am

PAD = 60  # frames (2 s) either side of a candidate segment
RING = 64  # offsets either side of the candidate's that give the chance share


def _occupancy(peaks: np.ndarray, frames: int) -> np.ndarray:
    """frames x bins: True within a frame and a bin of a deliverable peak."""
    grid = np.zeros((frames + 4, 516), bool)
    for dt in (-1, 0, 1):
        for df in (-1, 0, 1):
            grid[np.clip(peaks[:, 0] + dt + 2, 0, frames + 3), peaks[:, 1] + df + 1] = True
    return grid


def _share(grid: np.ndarray, ref: np.ndarray, offset: int, q0: int, q1: int
           ) -> tuple[int, int]:
    """(registered peaks found, registered peaks) over deliverable frames q0..q1."""
    qt = ref[:, 0] - offset
    sel = (qt >= q0) & (qt <= q1) & (qt + 2 >= 0) & (qt + 2 < grid.shape[0])
    return int(grid[qt[sel] + 2, ref[sel, 1] + 1].sum()), int(sel.sum())


def score(grid: np.ndarray, ref: np.ndarray, seg: am.Segment) -> float:
    q0 = int(seg.start / am.FRAME_S) - PAD
    q1 = int(seg.end / am.FRAME_S) + PAD
    k, n = _share(grid, ref, seg.offset, q0, q1)
    if not n:
        return 0.0
    ring = [_share(grid, ref, seg.offset + s, q0, q1) for s in range(-RING, RING + 1)
            if abs(s) > 3]
    p = max(float(np.quantile([a / max(b, 1) for a, b in ring], 0.95)), 0.01)
    return float((k - n * p) / np.sqrt(n * p * (1 - p)))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", choices=("tune", "held"), default="tune")
    ap.add_argument("--work", default="/tmp/audio-rule")
    ap.add_argument("--trials", type=int, default=10)
    ap.add_argument("--music", type=int, default=60)
    a = ap.parse_args(argv)
    work = Path(a.work)
    work.mkdir(parents=True, exist_ok=True)
    odd = int(a.split == "held")
    reg = ar.build_register(work)
    ref = {(e, sp): am.peaks(reg.hashes[(reg.ent == e) & (reg.speeds == sp)],
                             reg.frames[(reg.ent == e) & (reg.speeds == sp)])
           for e in reg.kinds for sp in audio_fp.REGISTER_SPEEDS}
    pos = [q for q in ar.positives(work, reg, odd, a.trials) if q.group.endswith("mix")]
    neg = ar.negatives(work, odd, a.music, True, a.music // 2, a.music // 2)
    best_true: dict[str, list[float]] = {}
    shipped: dict[str, int] = {}
    wrong = -np.inf
    for i, q in enumerate(pos + neg):
        lm = am.landmarks(q.x8, am.QUERY)
        grid = _occupancy(am.peaks(lm.hashes, lm.frames), len(q.x8) // audio_fp.HOP + 60)
        hits = reg.hits(lm)
        top = -np.inf
        for seg in am.segments(*hits, min_hits=3, min_seconds=0.5):
            z = score(grid, ref[seg.entry, seg.speed], seg)
            if q.entry and seg.entry == q.entry and seg.start <= q.span[1] + 0.5 \
                    and seg.end >= q.span[0] - 0.5:
                top = max(top, z)
            else:
                wrong = max(wrong, z)
        if q.entry:
            best_true.setdefault(q.group, []).append(top)
            shipped[q.group] = shipped.get(q.group, 0) + any(
                s.entry == q.entry and s.confidence >= am.ACCEPT for s in am.match(*hits))
        if i % 40 == 0:
            print(f"  {i}/{len(pos) + len(neg)}", file=sys.stderr, flush=True)
    print(f"Split {a.split.upper()}: {len(pos)} inserts in the mix, {len(neg)} negatives; "
          f"highest single-peak score of a negative or wrong candidate: {wrong:.1f}\n")
    print("| class (mix) | N | shipped rule | single peaks above every negative |")
    print("| --- | --- | --- | --- |")
    for g, zs in best_true.items():
        print(f"| {g.split(' | ')[0]} | {len(zs)} | {shipped[g]} | "
              f"{sum(z > wrong for z in zs)} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
