"""Train the ORB word tree shipped in ``detectors/data/orb_words.npz``
(``python -m bench.train_orb_vocabulary``; about a minute on 2 cores).

Training pictures: the *tune* third of the benchmark's natural images (never the held-out
pictures the register benchmarks report on) plus PyWavelets' two photographs (aerial view,
stairs), each cropped, scaled, rotated, blurred, re-graded and JPEG-compressed many times over,
so that the words cover what a conform does to a picture. ORB runs at the sizes the register
and the scan use. The result is deterministic for a given set of pictures.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from bench.bench_register import fetch_skimage_data, natural_images, random_crop
from bench.register_programme import split
from detectors.fingerprint import features as feat
from detectors.fingerprint import vocabulary as vocab


def pictures() -> list[tuple[str, np.ndarray]]:
    try:
        fetch_skimage_data()
    except Exception as exc:  # noqa: BLE001 - train on what is here, say so
        print(f"scikit-image's pictures not fetched ({exc})", file=sys.stderr)
    out = split(natural_images([]), "tune")
    try:
        import pywt.data  # test dependency: two greyscale photographs

        for name in ("aero", "ascent"):
            grey = np.asarray(getattr(pywt.data, name)(), np.float64)
            g8 = np.clip(grey, 0, 255).astype(np.uint8)
            out.append((f"pywt:{name}", cv2.cvtColor(g8, cv2.COLOR_GRAY2RGB)))
    except ImportError:
        pass
    return out


def variants(rgb: np.ndarray, n: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
    for _ in range(n):
        img = random_crop(rgb, rng, 0.4)
        side = rng.uniform(240, 1600)
        s = side / max(img.shape[:2])
        img = cv2.resize(img, (max(8, round(img.shape[1] * s)), max(8, round(img.shape[0] * s))),
                         interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_CUBIC)
        if rng.random() < 0.3:
            m = cv2.getRotationMatrix2D((img.shape[1] / 2, img.shape[0] / 2),
                                        rng.uniform(-15, 15), 1.0)
            img = cv2.warpAffine(img, m, (img.shape[1], img.shape[0]),
                                 borderMode=cv2.BORDER_REFLECT)
        if rng.random() < 0.5:
            img = img[:, ::-1]
        if rng.random() < 0.3:
            img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.5, 1.5))
        gamma = rng.uniform(0.7, 1.4)
        img = np.clip(255 * (img / 255.0) ** gamma * rng.uniform(0.8, 1.2), 0, 255).astype(
            np.uint8)
        ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(img),
                               [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(40, 96))])
        dec = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED) if ok else None
        yield img if dec is None else np.asarray(dec)


def descriptors(pics: list[tuple[str, np.ndarray]], per_picture: int,
                rng: np.random.Generator) -> np.ndarray:
    out = []
    for _name, rgb in pics:
        for img in variants(rgb, per_picture, rng):
            side, n = ((feat.REGISTER_SIDE, feat.REGISTER_FEATURES) if rng.random() < 0.5
                       else (feat.QUERY_SIDE, feat.QUERY_FEATURES))
            out.append(feat.extract(img, side, n).descriptors)
    return np.concatenate(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--branching", type=int, default=16)
    ap.add_argument("--depth", type=int, default=4)
    ap.add_argument("--per-picture", type=int, default=150)
    ap.add_argument("--out", default=str(vocab.DATA))
    args = ap.parse_args(argv)
    rng = np.random.default_rng(20261205)
    pics = pictures()
    t0 = time.perf_counter()
    d = descriptors(pics, args.per_picture, rng)
    print(f"{len(pics)} pictures -> {len(d):,} descriptors in "
          f"{time.perf_counter() - t0:.0f} s", file=sys.stderr)
    t0 = time.perf_counter()
    v = vocab.train(d, args.branching, args.depth, rng)
    used = len(np.unique(v.words(d)))
    print(f"{v.id}: {v.size:,} words ({used:,} used by the training set) in "
          f"{time.perf_counter() - t0:.0f} s", file=sys.stderr)
    vocab.save(v, Path(args.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
