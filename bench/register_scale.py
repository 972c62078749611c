"""Look-up cost against register size (``python -m bench.register_scale``): per-frame PDQ
look-up (multi-index hashing) with 1k / 10k / 100k entries of 14 hashes each, and the ORB
local-feature query with 1k / 10k entries of 600 descriptors. Random hashes and descriptors:
the timing of the index, not its accuracy (the benchmark proper measures that)."""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from detectors.fingerprint import features as feat
from detectors.fingerprint.index import PdqIndex
from detectors.fingerprint.matcher import PDQ_RADIUS

HASHES_PER_ENTRY = 14


def pdq_scale(sizes: tuple[int, ...], queries: int = 500) -> list[str]:
    rng = np.random.default_rng(1)
    out = []
    for n in sizes:
        hashes = rng.integers(0, 256, (n * HASHES_PER_ENTRY, 32), dtype=np.uint8)
        t0 = time.perf_counter()
        index = PdqIndex(hashes)
        build = time.perf_counter() - t0
        # queries: half near a stored hash (flip 20 bits), half random
        qs = []
        for k in range(queries):
            h = hashes[rng.integers(0, len(hashes))].copy() if k % 2 else rng.integers(
                0, 256, 32, dtype=np.uint8)
            if k % 2:
                bits = np.unpackbits(h)
                bits[rng.choice(256, 20, replace=False)] ^= 1
                h = np.packbits(bits)
            qs.append(h.tobytes())
        best = float("inf")
        for _ in range(3):
            t0 = time.perf_counter()
            found = sum(bool(index.query(q, PDQ_RADIUS)) for q in qs)
            best = min(best, time.perf_counter() - t0)
        out.append(f"| PDQ | {n:,} entries ({n * HASHES_PER_ENTRY:,} hashes) | "
                   f"{1000 * best / queries:.2f} ms per frame | built in {build:.1f} s; "
                   f"{found}/{queries} queries answered (half planted) |")
    return out


def feature_scale(sizes: tuple[int, ...], queries: int = 20) -> list[str]:
    rng = np.random.default_rng(2)
    out = []
    for n in sizes:
        items = [(i, feat.Features(rng.uniform(0, 640, (600, 2)).astype(np.float32),
                                   rng.integers(0, 256, (600, 32), dtype=np.uint8), 640, 360))
                 for i in range(n)]
        t0 = time.perf_counter()
        index = feat.FeatureIndex(items)
        build = time.perf_counter() - t0
        q = [feat.Features(rng.uniform(0, 1024, (3000, 2)).astype(np.float32),
                           rng.integers(0, 256, (3000, 32), dtype=np.uint8), 1024, 576)
             for _ in range(queries)]
        best = float("inf")
        for _ in range(2):
            t0 = time.perf_counter()
            for f in q:
                index.query(f)
            best = min(best, time.perf_counter() - t0)
        out.append(f"| ORB local | {n:,} entries ({n * 600:,} descriptors) | "
                   f"{1000 * best / queries:.0f} ms per checked frame | index built in "
                   f"{build:.1f} s |")
        del index, items
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args(argv)
    lines = ["| index | register | cost | notes |", "| --- | --- | --- | --- |"]
    lines += pdq_scale((1000, 10000) if args.quick else (1000, 10000, 100000))
    lines += feature_scale((100, 1000) if args.quick else (1000, 10000))
    print("\n".join(lines))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
