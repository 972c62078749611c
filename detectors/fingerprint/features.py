"""Local features for partial/composited matches: ORB keypoints, an LSH index over every
registered descriptor, and RANSAC geometric verification.

Why: a registered AI element scaled into part of a larger frame changes the global PDQ hash
completely, but its corners and edges survive; many descriptor matches that agree on one
similarity transform (scale, rotation, shift) are strong evidence, and the transform maps the
registered image's outline into the frame: that is the reported region.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

REGISTER_SIDE = 640  # registered images: longest side for feature extraction
QUERY_SIDE = 1024  # deliverable images/frames
REGISTER_FEATURES = 1000
QUERY_FEATURES = 3000
RATIO = 0.8  # Lowe's ratio test
DUPLICATE_DIST = 32  # bits (of 256): two stored descriptors this close to one query both count
MIN_INLIERS = 14
MIN_INLIER_RATIO = 0.25
CANDIDATES = 8  # entries verified per query
MIN_SIDE = 48
LSH_ABOVE = 20000  # descriptors; under this a brute-force matcher is exact and fast enough
KNN = 4  # neighbours per query descriptor (the ratio test looks past the same entry's)


@dataclass
class Features:
    """Keypoints (N x 2, pixel coordinates of the original image) and ORB descriptors."""

    points: np.ndarray  # float32 N x 2
    descriptors: np.ndarray  # uint8 N x 32
    width: int
    height: int


@dataclass
class LocalMatch:
    ref: int  # caller's id of the registered image
    inliers: int
    matches: int
    scale: float
    region: tuple[int, int, int, int]  # x0, y0, x1, y1 in the query image
    coverage: float  # fraction of the query image covered by the region


def _gray(rgb: np.ndarray) -> np.ndarray:
    return rgb if rgb.ndim == 2 else cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)


def extract(rgb: np.ndarray, max_side: int, nfeatures: int) -> Features:
    """ORB features on a downscaled grey copy, coordinates mapped back to the original."""
    gray = _gray(rgb)
    h, w = gray.shape[:2]
    if min(h, w) < MIN_SIDE:  # too small for ORB's pyramid and patch size
        return Features(np.zeros((0, 2), np.float32), np.zeros((0, 32), np.uint8), w, h)
    scale = min(1.0, max_side / max(h, w))
    small = gray if scale >= 1.0 else cv2.resize(
        gray, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    orb = cv2.ORB_create(  # type: ignore[attr-defined]
        nfeatures=nfeatures, scaleFactor=1.2, nlevels=8, fastThreshold=10)
    kps, desc = orb.detectAndCompute(small, None)
    if desc is None or not kps:
        return Features(np.zeros((0, 2), np.float32), np.zeros((0, 32), np.uint8), w, h)
    pts = np.array([k.pt for k in kps], dtype=np.float32) / scale
    return Features(pts, desc.astype(np.uint8), w, h)


class FeatureIndex:
    """All registered descriptors in one matcher; votes per image, then RANSAC per candidate."""

    def __init__(self, items: list[tuple[int, Features]]) -> None:
        self.items = [(ref, f) for ref, f in items if len(f.descriptors) >= MIN_INLIERS]
        self.matcher: Any = None  # an OpenCV FLANN (LSH) or brute-force Hamming matcher
        self.refs = [ref for ref, _ in self.items]
        if not self.items:
            self.owner = np.zeros(0, np.int64)
            return
        descs = np.concatenate([f.descriptors for _, f in self.items])
        self.owner = np.concatenate([np.full(len(f.descriptors), i, np.int64)
                                     for i, (_, f) in enumerate(self.items)])
        self.offset = np.r_[0, np.cumsum([len(f.descriptors) for _, f in self.items])]
        if len(descs) > LSH_ABOVE:
            params: dict[str, Any] = {"algorithm": 6, "table_number": 8, "key_size": 16,
                                      "multi_probe_level": 1}
            self.matcher = cv2.FlannBasedMatcher(params, {"checks": 64})
        else:
            self.matcher = cv2.BFMatcher(cv2.NORM_HAMMING)
        self.matcher.add([descs])
        self.matcher.train()

    def query(self, feats: Features) -> list[LocalMatch]:
        """Registered images found in ``feats``' image, best first."""
        if self.matcher is None or len(feats.descriptors) < MIN_INLIERS:
            return []
        knn = self.matcher.knnMatch(feats.descriptors, k=KNN)
        q_idx, t_idx = [], []
        refs = self.refs
        for cands in knn:
            if not cands:
                continue
            m = cands[0]
            if m.distance > 64:
                continue
            # Lowe's ratio test against the nearest descriptor of *another* registered
            # entry: frames of one registered clip share descriptors, which says nothing
            # against the clip; a descriptor about as close to two entries says nothing
            # about which one it belongs to.
            other = next((n for n in cands[1:] if refs[self.owner[n.trainIdx]]
                          != refs[self.owner[m.trainIdx]]), None)
            if other is None or m.distance < RATIO * other.distance:
                q_idx.append(m.queryIdx)
                t_idx.append(m.trainIdx)
            elif other.distance <= DUPLICATE_DIST:
                # ... unless both are near-exact matches in two entries: the same content
                # registered twice (an upscale and its source); each gets the vote.
                q_idx += [m.queryIdx, other.queryIdx]
                t_idx += [m.trainIdx, other.trainIdx]
        if len(q_idx) < MIN_INLIERS:
            return []
        q = np.array(q_idx)
        t = np.array(t_idx)
        owners = self.owner[t]
        counts = np.bincount(owners, minlength=len(self.items))
        out: list[LocalMatch] = []
        for cand in np.argsort(-counts)[:CANDIDATES]:
            if counts[cand] < MIN_INLIERS:
                break
            sel = owners == cand
            ref, reg = self.items[cand]
            src = reg.points[t[sel] - self.offset[cand]]
            dst = feats.points[q[sel]]
            match = _verify(ref, reg, src, dst, feats)
            if match is not None:
                out.append(match)
        out.sort(key=lambda m: -m.inliers)
        return out


def _verify(ref: int, reg: Features, src: np.ndarray, dst: np.ndarray,
            query: Features) -> LocalMatch | None:
    """Similarity transform by RANSAC; enough consistent inliers and a sane scale, or None."""
    reproj = max(3.0, 0.006 * max(query.width, query.height))
    m, mask = cv2.estimateAffinePartial2D(src.reshape(-1, 1, 2), dst.reshape(-1, 1, 2),
                                          method=cv2.RANSAC, ransacReprojThreshold=reproj,
                                          maxIters=2000, confidence=0.995)
    if m is None or mask is None:
        return None
    inliers = int(mask.sum())
    if inliers < MIN_INLIERS or inliers < MIN_INLIER_RATIO * len(src):
        return None
    scale = float(np.hypot(m[0, 0], m[1, 0]))
    if not 0.05 <= scale <= 20:
        return None
    # Inliers must spread over the registered image, not sit on one repeated texture patch.
    ipts = src[mask.reshape(-1).astype(bool)]
    spread = np.ptp(ipts, axis=0) / np.array([reg.width, reg.height])
    if (spread < 0.15).any():
        return None
    corners = np.array([[0, 0], [reg.width, 0], [reg.width, reg.height], [0, reg.height]],
                       dtype=np.float32)
    mapped = corners @ m[:, :2].T + m[:, 2]
    x0, y0 = np.clip(mapped.min(axis=0), 0, [query.width, query.height])
    x1, y1 = np.clip(mapped.max(axis=0), 0, [query.width, query.height])
    area = max(0.0, (x1 - x0) * (y1 - y0))
    coverage = area / max(1, query.width * query.height)
    return LocalMatch(ref, inliers, len(src), scale,
                      (int(x0), int(y0), int(round(x1)), int(round(y1))), round(coverage, 4))


def pack(feats: Features) -> tuple[bytes, bytes]:
    """Blobs for the register (points float32, descriptors uint8)."""
    return feats.points.astype("<f4").tobytes(), feats.descriptors.astype(np.uint8).tobytes()


def unpack(points: bytes, descriptors: bytes, width: int, height: int) -> Features:
    pts = np.frombuffer(points, dtype="<f4").reshape(-1, 2).astype(np.float32)
    desc = np.frombuffer(descriptors, dtype=np.uint8).reshape(-1, 32)
    return Features(pts, desc, width, height)
