"""What the boundary walk's dissolve guard costs where there is no dissolve
(``python -m bench.bridge_walks``, about two minutes): walks over pans and pan-and-zooms of
natural pictures, with the guard and without it.

Why: the bridge (``matcher._Bridge``) carries a walk over frames that show the last
verified frame's picture, which is what a reframed pan needs; its guard refuses frames past
a mix of two pictures (a dissolve). A guard that also fired on camera moves would stop
walks short where the bridge was built to carry them. Each walk here is a shot whose first
eight frames pass the register's test, as at the edge of a reframed insert; the bridge's
reference is the shot's first frame. The report counts the walks whose extent differs."""

from __future__ import annotations

import argparse
import sys

import cv2
import numpy as np

from bench.bench_register import _ken_burns, natural_images
from detectors.fingerprint import matcher as m
from detectors.fingerprint.video import Frame
from fixtures.gen_register import synth_image

SIDE = (512, 288)  # the size the scan samples at
VERIFIED = 8  # frames at the start of each walk that pass the register's test


def _walk_end(rgbs: list[np.ndarray], guard: bool) -> int:
    frames = [Frame(k / 25, rgb, False, k) for k, rgb in enumerate(rgbs)]
    saved = m.BRIDGE_BLEND
    m.BRIDGE_BLEND = saved if guard else -1.0  # -1: no anchor is ever a mix
    try:
        last, _start = m._extent(iter(frames), lambda rgb: any(rgb is r for r in
                                                                rgbs[:VERIFIED]),
                                 m._Bridge(None, lambda: rgbs[0]))
    finally:
        m.BRIDGE_BLEND = saved
    assert last is not None
    return last.index


def pans(pictures: list[np.ndarray]) -> list[tuple[str, list[np.ndarray]]]:
    """Horizontal pans of 4-32 px a frame (at 960 px wide) across each picture."""
    out = []
    for n, pic in enumerate(pictures):
        for dx in (4, 8, 16, 32):
            h, w = pic.shape[:2]
            f = max(540 / h, (960 + 40 * dx) / w)
            big = cv2.resize(pic, (int(w * f) + 1, int(h * f) + 1), interpolation=cv2.INTER_CUBIC)
            y0 = (big.shape[0] - 540) // 2
            big = big[y0:y0 + 540]
            steps = min(60, (big.shape[1] - 960) // dx)
            out.append((f"picture {n}, pan {dx} px a frame",
                        [np.ascontiguousarray(cv2.resize(big[:, k * dx:k * dx + 960], SIDE,
                                                         interpolation=cv2.INTER_AREA))
                         for k in range(steps)]))
    return out


def zooms(pictures: list[np.ndarray]) -> list[tuple[str, list[np.ndarray]]]:
    """The benchmarks' pan-and-zoom (``_ken_burns``) at 1, 3 and 6 times its speed."""
    out = []
    for n, pic in enumerate(pictures):
        for speed in (1, 3, 6):
            kb = _ken_burns(pic, 12.0 if speed == 6 else 6.0, 25, (1920, 1080), n)
            out.append((f"picture {n}, pan-and-zoom x{speed}",
                        [np.ascontiguousarray(cv2.resize(f, SIDE, interpolation=cv2.INTER_AREA))
                         for f in kb[::speed][:60]]))
    return out


def main(argv: list[str] | None = None) -> int:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args(argv)
    pictures = [im for _name, im in natural_images([]) if min(im.shape[:2]) >= 200]
    synthetic = [synth_image(s, 960 + 60 * 32, 540) for s in (431, 432)]
    for what, shots in (("pans", pans(synthetic + pictures)), ("pan-and-zooms",
                                                                zooms(pictures))):
        differ = []
        for name, rgbs in shots:
            with_guard, without = _walk_end(rgbs, True), _walk_end(rgbs, False)
            if with_guard != without:
                differ.append(f"  {name}: ends at {with_guard} with the guard, {without} "
                              "without")
        print(f"{what}: {len(shots)} walks, {len(differ)} end elsewhere with the guard",
              *differ, sep="\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
