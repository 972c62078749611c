"""Look-up cost against register size (``python -m bench.register_scale``): per-frame PDQ
look-up (an exact scan) with 1k / 10k / 100k entries of 14 hashes each (random hashes:
the timing of the index), and the ORB local-feature check against 1k / 10k / 100k registered
frames of natural pictures, with the share of planted pictures it still finds."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from bench.bench_register import fetch_skimage_data, natural_images, random_crop
from bench.register_programme import split
from detectors.fingerprint import features as feat
from detectors.fingerprint import vocabulary
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


@dataclass
class Query:
    cls: str
    ref: int  # the registered picture inside it
    feats: feat.Features


def _fit(rgb: np.ndarray, w: int = 1920, h: int = 1080) -> np.ndarray:
    """``rgb`` scaled into a w x h frame, aspect kept (pillarbox/letterbox)."""
    s = min(w / rgb.shape[1], h / rgb.shape[0])
    sw, sh = round(rgb.shape[1] * s), round(rgb.shape[0] * s)
    out = np.zeros((h, w, 3), np.uint8)
    x, y = (w - sw) // 2, (h - sh) // 2
    out[y:y + sh, x:x + sw] = cv2.resize(rgb, (sw, sh), interpolation=cv2.INTER_AREA)
    return out


def _queries(planted: list[np.ndarray], backs: list[np.ndarray]) -> list[Query]:
    """1080p frames holding a registered picture: picture-in-picture at 40 % and 25 % of the
    height over an unregistered picture, a title over it, a 15 % reframe crop."""
    out = []
    for i, rgb in enumerate(planted):
        bg = cv2.resize(backs[i % len(backs)], (1920, 1080), interpolation=cv2.INTER_AREA)
        frames = {}
        for cls, share in (("picture-in-picture 40 %", 0.4), ("picture-in-picture 25 %", 0.25)):
            f = bg.copy()
            h = round(1080 * share)
            w = min(1700, round(h * rgb.shape[1] / rgb.shape[0]))
            f[100:100 + h, 100:100 + w] = cv2.resize(rgb, (w, h), interpolation=cv2.INTER_AREA)
            frames[cls] = f
        t = _fit(rgb)
        cv2.putText(t, "TEMP TITLE OVER PICTURE", (200, 900), cv2.FONT_HERSHEY_SIMPLEX, 4,
                    (255, 255, 255), 12)
        frames["title over picture"] = t
        h, w = rgb.shape[:2]
        frames["reframe crop 15 %"] = _fit(rgb[round(h * .075):round(h * .925),
                                               round(w * .075):round(w * .925)])
        for cls, f in frames.items():
            out.append(Query(cls, i, feat.extract(f, feat.QUERY_SIDE, feat.QUERY_FEATURES)))
    return out


def feature_scale(sizes: tuple[int, ...], log: Callable[[str], None]) -> list[str]:
    """The local-feature check against registers of natural pictures' frames.

    Registered: ten held-out pictures plus ``n`` frames that are random crops of the other
    natural pictures (600 features each, as a registered video frame has). Past the number
    of crops that can be extracted in reasonable time (10,000), frames are those crops'
    descriptors with 2 % of their bits flipped: the same word statistics, a register ten
    times the size. Queries: four frames per planted picture (``_queries``)."""
    rng = np.random.default_rng(2)
    try:
        fetch_skimage_data()
    except Exception as exc:  # noqa: BLE001 - fewer pictures, said
        log(f"scikit-image's pictures not fetched ({exc})")
    held = split(natural_images([]), "held-out")
    tune = split(natural_images([]), "tune")
    planted, backs, others = held[:10], held[10:14], held[14:] + tune
    queries = _queries([p for _, p in planted], [b for _, b in backs])
    regs = [(i, feat.extract(rgb, feat.REGISTER_SIDE, feat.REGISTER_FEATURES))
            for i, (_, rgb) in enumerate(planted)]
    real_n = min(max(sizes), 10_000)
    t0 = time.perf_counter()
    crops = [feat.extract(random_crop(others[k % len(others)][1], rng), feat.REGISTER_SIDE,
                          600)
             for k in range(real_n)]
    log(f"{real_n:,} crops' features in {time.perf_counter() - t0:.0f} s")
    vocab = vocabulary.load()
    crop_words = [vocab.words(f.descriptors) for f in crops]
    reg_words = [vocab.words(f.descriptors) for _, f in regs]
    out = []
    for label, n in [("exhaustive (no short list)", 0)] + [(f"{n:,} frames", n) for n in sizes]:
        dist: list[feat.Features] = []
        words: list[np.ndarray | None] = list(reg_words)
        t0 = time.perf_counter()
        for k in range(n):
            f = crops[k % real_n]
            w = crop_words[k % real_n]
            if k >= real_n:
                flip = np.packbits(rng.random((len(f.descriptors), 256)) < 0.02, axis=1)
                f = feat.Features(f.points, f.descriptors ^ flip, f.width, f.height)
                w = vocab.words(f.descriptors)
            dist.append(f)
            words.append(w)
        if n > real_n:
            log(f"{n - real_n:,} perturbed copies made in {time.perf_counter() - t0:.0f} s")
        items = regs + [(1000 + k, f) for k, f in enumerate(dist)]
        t0 = time.perf_counter()
        index = feat.FeatureIndex(items, words)  # words as stored at registration
        build = time.perf_counter() - t0
        times: list[float] = []
        found: dict[str, list[int]] = {}
        for q in queries:
            t0 = time.perf_counter()
            hits = index.query(q.feats)
            times.append(time.perf_counter() - t0)
            got = found.setdefault(q.cls, [0, 0])
            got[0] += any(m.ref == q.ref for m in hits)
            got[1] += 1
        descs = sum(len(f.descriptors) for _, f in items)
        classes = "; ".join(f"{cls} {k}/{m}" for cls, (k, m) in found.items())
        out.append(f"| ORB local | {label} + 10 planted ({descs:,} descriptors) | "
                   f"{1000 * float(np.median(times)):.0f} ms median, "
                   f"{1000 * float(np.percentile(times, 95)):.0f} ms p95 per checked frame | "
                   f"index built in {build:.1f} s; found: {classes} |")
        log(out[-1])
        del index, items, dist, words
    return out


@dataclass
class TuneMaterial:
    """The *tune* pictures registered and planted in query frames (``_queries``), the
    held-out ones as backgrounds and as distractor frames (random crops, 600 features)."""

    pictures: int
    queries: list[Query]
    planted: list[tuple[int, feat.Features]]
    distractors: list[tuple[int, feat.Features]]


def tune_material(distractors: int, seed: int) -> TuneMaterial:
    rng = np.random.default_rng(seed)
    held = split(natural_images([]), "held-out")
    tune = split(natural_images([]), "tune")
    return TuneMaterial(
        len(tune), _queries([p for _, p in tune], [b for _, b in held[:4]]),
        [(i, feat.extract(rgb, feat.REGISTER_SIDE, feat.REGISTER_FEATURES))
         for i, (_, rgb) in enumerate(tune)],
        [(1000 + k, feat.extract(random_crop(held[4 + k % (len(held) - 4)][1], rng),
                                 feat.REGISTER_SIDE, 600)) for k in range(distractors)])


def tune_inliers(distractors: int = 1000) -> list[str]:
    """Inliers of the true and of the best wrong local match per query when the *tune*
    pictures are planted, with every match down to ``MIN_INLIERS`` shown: where the short
    list's stricter floor (``MIN_INLIERS_SHORTLIST``, set after a run on held-out pictures)
    sits against data it was not chosen on. 0: not found."""
    m = tune_material(distractors, 3)
    out = [f"{m.pictures} tune pictures planted, {distractors:,} distractor frames", "",
           "| path | query | true match inliers (per picture) | best wrong match |",
           "| --- | --- | --- | --- |"]
    floor = feat.MIN_INLIERS_SHORTLIST
    feat.MIN_INLIERS_SHORTLIST = feat.MIN_INLIERS
    try:
        for label, items in (("exhaustive", m.planted),
                             (f"short list ({distractors:,} + planted)",
                              m.planted + m.distractors)):
            index = feat.FeatureIndex(items)
            per: dict[str, list[tuple[int, int]]] = {}
            for q in m.queries:
                ms = index.query(q.feats)
                per.setdefault(q.cls, []).append(
                    (max((x.inliers for x in ms if x.ref == q.ref), default=0),
                     max((x.inliers for x in ms if x.ref != q.ref), default=0)))
            for cls, v in per.items():
                out.append(f"| {label} | {cls} | {sorted(t for t, _ in v)} | "
                           f"{max(w for _, w in v)} |")
    finally:
        feat.MIN_INLIERS_SHORTLIST = floor
    return out


def tune_shortlist(distractors: int = 10_000,
                   sizes: tuple[tuple[int, int], ...] = ((32, 8), (16, 6), (8, 4))) -> list[str]:
    """Finds and time per check of the short-list path for several list sizes (whole frame,
    each region), the *tune* pictures planted among ``distractors`` frames: what a shorter
    list would cost, on pictures the shipped sizes were not chosen on."""
    m = tune_material(distractors, 5)
    index = feat.FeatureIndex(m.planted + m.distractors)
    out = [f"{m.pictures} tune pictures planted, {distractors:,} distractor frames", "",
           "| short list (whole + per region) | verified at most | per check (median) | "
           "found |", "| --- | --- | --- | --- |"]
    kept = feat.SHORTLIST, feat.REGION_SHORTLIST
    try:
        for whole, region in sizes:
            feat.SHORTLIST, feat.REGION_SHORTLIST = whole, region
            times: list[float] = []
            found: dict[str, int] = {}
            for rep in range(2):
                for q in m.queries:
                    t0 = time.perf_counter()
                    hits = index.query(q.feats)
                    times.append(time.perf_counter() - t0)
                    if not rep:
                        found[q.cls] = found.get(q.cls, 0) + any(x.ref == q.ref for x in hits)
            out.append(f"| {whole} + {region} | {whole + 5 * region} | "
                       f"{1000 * float(np.median(times)):.0f} ms | "
                       + "; ".join(f"{c} {n}/{m.pictures}" for c, n in found.items()) + " |")
    finally:
        feat.SHORTLIST, feat.REGION_SHORTLIST = kept
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--tune-inliers", action="store_true",
                    help="only the inliers of true and wrong matches of the tune pictures")
    ap.add_argument("--tune-shortlist", action="store_true",
                    help="only finds and cost of shorter lists, tune pictures planted")
    args = ap.parse_args(argv)
    if args.tune_inliers:
        print("\n".join(tune_inliers()))
        return 0
    if args.tune_shortlist:
        print("\n".join(tune_shortlist()))
        return 0
    lines = ["| index | register | cost | notes |", "| --- | --- | --- | --- |"]
    lines += pdq_scale((1000, 10000) if args.quick else (1000, 10000, 100000))
    lines += feature_scale((100, 1000) if args.quick else (1000, 10000, 100000),
                           lambda m: print(m, file=sys.stderr, flush=True))
    print("\n".join(lines))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
