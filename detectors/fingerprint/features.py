"""Local features for partial/composited matches: ORB keypoints, an inverted file of visual
words that short-lists registered frames, exact matching and RANSAC geometric verification.

Why: a registered AI element scaled into part of a larger frame changes the global PDQ hash
completely, but its corners and edges survive; many descriptor matches that agree on one
similarity transform (scale, rotation, shift) are strong evidence, and the transform maps the
registered image's outline into the frame: that is the reported region. A picture placed
squeezed (into a pillarbox or letterbox, stretched to a cell) fits no similarity; where the
similarity finds none or only a band, an axis-aligned scale and shift is tried on the same
pairs (``squeeze_ransac``), held to a strong consensus.

A periodic texture (a chessboard, tiles) defeats the one-to-one pairs: each corner's nearest
registered descriptor is any of its repeats. Registered frames whose visual words mostly
repeat are also matched many-to-many (``_texture_match``), with a higher floor.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

import cv2
import numpy as np

from detectors.fingerprint import hamming, vocabulary

REGISTER_SIDE = 640  # registered images: longest side for feature extraction
QUERY_SIDE = 1024  # deliverable images/frames
REGISTER_FEATURES = 1000
QUERY_FEATURES = 3000
# A still whose long side is under this is enlarged to it before ORB: a temp picture
# delivered as a quarter-size proxy (128 px) leaves ORB's 31 px patches and 8-level pyramid
# almost nothing, and 4 of 14 such copies were missed (bench.bench_register, "resize 25 %");
# enlarged, 3 of them gave 113-362 inliers. The registered side's coarse levels meet it.
# Tried after the still as it is (a small picture registered at its own size is met there).
SMALL_QUERY = 512
# An enlarged still's corners lie on interpolated pixels, and chance agrees with them more
# often: a tile of an unrelated picture (a ninth of it) matched a registered crop at 20 inliers
# in the negative set (register-negatives.md). The proxies found enlarged gave 100-383.
SMALL_QUERY_INLIERS = 40  # twice the short list's floor
RATIO = 0.8  # Lowe's ratio test
DUPLICATE_DIST = 32  # bits (of 256): two stored descriptors this close to one query both count
MIN_INLIERS = 14
# Short-listed registers: the ratio test sees only the short list, so chance correspondences
# pass more often; one unrelated composite reached 15 inliers in the negative set
# (bench/results/register-negatives.md), true inserts in bench.register_scale 29 and more.
MIN_INLIERS_SHORTLIST = 20
MIN_INLIER_RATIO = 0.25
# Past this many inliers consensus alone is the evidence: the negative set's refused
# candidates reached 27 at most, whatever refused them (register-negatives.md). A strong
# candidate is held to a lower inlier share and spread: a side crop of thin vertical ribbons
# keeps its 64-87 inliers on one ribbon (a tenth of the width, 0.15-0.25 of the pairs), a
# page of text its 57 among 1,263 pairs of look-alike letters.
STRONG_INLIERS = 50
STRONG_INLIER_RATIO = 0.04
STRONG_SPREAD = 0.03
SPREAD = 0.15  # share of the registered image the inliers must span, in each direction
CANDIDATES = 8  # entries verified per query
MIN_SIDE = 48
EXACT_UP_TO = 32  # registered frames: up to this many, every one is matched exhaustively
SHORTLIST = 32  # past that, the best-scoring registered frames verified per query ...
REGION_SHORTLIST = 8  # ... and the best of each quarter and of the centre of the query
QUERY_NODES = 2  # first-level nodes a query descriptor is searched in
STOP_SHARE = 0.05  # words in more of the registered frames than this share are skipped ...
STOP_MIN = 200  # ... if in more frames than this
KNN = 4  # neighbours per query descriptor (the ratio test looks past the same entry's)
# Periodic textures (a chessboard, tiles): most of a registered frame's descriptors share a
# visual word with another of the same frame, so a query corner's nearest registered one is
# any of its repeats and the one-to-one pairs agree on no transform. Such frames are matched
# again with every near-best neighbour *in that frame* as a candidate pair, and RANSAC picks
# the transform; one query or registered point counts once.
TEXTURE_WORD_SHARE = 0.7  # share of a frame's descriptors whose word is repeated in it ...
TEXTURE_MIN_DESCRIPTORS = 160  # ... of at least this many (a flat frame's 20 edge points
# repeat their words too: 3 of 7,332 frames of natural crops in a 10,000-entry register)
TEXTURE_KNN = 8
TEXTURE_SLACK = 1.25  # a neighbour within this factor of the query's nearest (or 8 bits)
TEXTURE_MIN_INLIERS = 60  # chance reached 41 in the negative set, a chessboard 130-170
TEXTURE_MIN_SPAN = 0.2  # the registered frame must map onto this share of the query's side
# (the chance match of 41: a whole chessboard squeezed into 40 x 23 px of a dense graphic)
# Squeezed placements: a picture scaled more in one direction than the other (the whole 16:9
# temp picture squeezed into a 4:3 pillarbox or a 2.39 letterbox, a still stretched to a
# composite's cell) fits no similarity transform, so the one-to-one pairs are also tried
# against x' = sx x + tx, y' = sy y + ty. It has a similarity's four degrees of freedom, so
# chance agrees with it as rarely; it is still held to a strong consensus and the full
# spread and share rules, as a second model tried on the same pairs.
SQUEEZE_RANGE = (0.5, 2.0)  # horizontal over vertical scale
SQUEEZE_HYPOTHESES = 400  # two-point samples (all-inlier with 99.99 % at a quarter inliers)
# Near misses: a candidate refused only by the short list's floor or by the spread rule that
# still reaches MIN_INLIERS with its inliers spread over STRONG_SPREAD. A small inset in a
# 512 px video frame is about 100 px tall, and a true one lands there (14-22 inliers, or a
# plain picture's few corners bunched in a band), while the offline negative set's clips
# never reached 14 (register-negatives.md). Callers may look closer at such a region.
NEAR_SPREAD = STRONG_SPREAD
# ... and a periodic-texture match refused under TEXTURE_MIN_INLIERS with this many distinct
# inliers or more: a chessboard inset a third of the frame's height gave 41-53 in the 512 px
# samples (and 135-180 in a closer look); the negative set's clips reached 26, its stills 41.
TEXTURE_NEAR_INLIERS = 40


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
    min_inliers: int = MIN_INLIERS  # the floor it was held to (higher from a short list)
    texture: bool = False  # many-to-many on a periodic texture: any copy of the pattern matches
    squeeze: float | None = None  # horizontal over vertical scale of a squeezed placement
    between_bars: bool = False  # the squeeze read from the query's bars (``matcher``)


def _gray(rgb: np.ndarray) -> np.ndarray:
    return rgb if rgb.ndim == 2 else cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)


def extract(rgb: np.ndarray, max_side: int, nfeatures: int, min_side: int = 0) -> Features:
    """ORB features on a downscaled grey copy, coordinates mapped back to the original.
    ``min_side``: a smaller image is enlarged to this long side first (``SMALL_QUERY``)."""
    gray = _gray(rgb)
    h, w = gray.shape[:2]
    if min(h, w) < MIN_SIDE:  # too small for ORB's pyramid and patch size
        return Features(np.zeros((0, 2), np.float32), np.zeros((0, 32), np.uint8), w, h)
    scale = max(min(1.0, max_side / max(h, w)), min_side / max(h, w))
    small = gray if scale == 1.0 else cv2.resize(
        gray, (max(1, round(w * scale)), max(1, round(h * scale))),
        interpolation=cv2.INTER_AREA if scale < 1.0 else cv2.INTER_CUBIC)
    orb = cv2.ORB_create(  # type: ignore[attr-defined]
        nfeatures=nfeatures, scaleFactor=1.2, nlevels=8, fastThreshold=10)
    kps, desc = orb.detectAndCompute(small, None)
    if desc is None or not kps:
        return Features(np.zeros((0, 2), np.float32), np.zeros((0, 32), np.uint8), w, h)
    pts = np.array([k.pt for k in kps], dtype=np.float32) / scale
    return Features(pts, desc.astype(np.uint8), w, h)


class FeatureIndex:
    """Registered frames' descriptors; a query verifies a short list of them exactly.

    Up to ``EXACT_UP_TO`` registered frames, every one is verified: one brute-force matcher
    over all descriptors, votes per entry, RANSAC per candidate. Past that, an inverted file
    of visual words (``vocabulary``) scores every registered frame by the idf-weighted words
    it shares with the query (``_regions_shortlist``), and only the best are verified, by the
    same rule with the neighbour search split by the word tree's first level: the cost of a
    query follows the query, not the register (one pass over all descriptors took 16 s at
    10,000 entries)."""

    def __init__(self, items: list[tuple[int, Features]],
                 words: list[np.ndarray | None] | None = None, textures: bool = True) -> None:
        keep = [i for i, (_, f) in enumerate(items) if len(f.descriptors) >= MIN_INLIERS]
        self.items = [items[i] for i in keep]
        self.inverted: Inverted | None = None
        self.textures: set[int] = set()  # rows of periodic-texture frames
        # each entry's picture aspect (width over height; its frames share one), and the
        # aspects of the register, the most registered frames' first (a clip's frames
        # outnumber a still's one: squeezes between bars are a conform's, done to video):
        # what a picture squeezed between bars is unsqueezed to (``matcher._unsqueezed``)
        self.aspect = {ref: f.width / max(1, f.height) for ref, f in self.items}
        self.aspects = [a for a, _n in Counter(
            round(f.width / max(1, f.height), 2) for _ref, f in self.items).most_common()]
        if len(self.items) > EXACT_UP_TO or textures:
            given = [words[i] for i in keep] if words is not None else [None] * len(keep)
            all_words = [w if w is not None else vocabulary.load().words(f.descriptors)
                         for w, (_, f) in zip(given, self.items, strict=True)]
            if len(self.items) > EXACT_UP_TO:
                self.inverted = Inverted(all_words)
                distinct = self.inverted.distinct  # its sort counted them already
            else:
                distinct = np.array([len(np.unique(w)) for w in all_words], np.int64)
            if textures:
                self.textures = {r for r, w in enumerate(all_words)
                                 if _repeated(len(w), int(distinct[r]))}

    def query(self, feats: Features, near: list[LocalMatch] | None = None,
              leads: set[int] | None = None) -> list[LocalMatch]:
        """Registered images found in ``feats``' image, best first. ``near``: if given,
        the candidates refused only narrowly (see ``NEAR_SPREAD``) are appended to it.
        ``leads``: if given, the entries of candidates verified with ``STRONG_INLIERS``
        pairs or more, or tried as a periodic texture, are added to it (what a squeezed
        placement leaves: ``matcher._unsqueezed``)."""
        if not self.items or len(feats.descriptors) < MIN_INLIERS:
            return []
        if self.inverted is None:
            return self._with_textures(_match(self.items, feats, near=near, leads=leads),
                                       range(len(self.items)), feats, near, leads)
        vocab = vocabulary.load()
        q_words = vocab.words(feats.descriptors)
        rows = _regions_shortlist(self.inverted, q_words, feats)
        top = vocab.size // vocab.branching
        return self._with_textures(
            _match([self.items[r] for r in rows], feats,
                   ([self.inverted.words[r] // top for r in rows], vocab.nearest_top(
                       feats.descriptors, QUERY_NODES)), near, leads), rows, feats, near,
            leads)

    def _with_textures(self, found: list[LocalMatch], rows: Iterable[int],
                       feats: Features, near: list[LocalMatch] | None = None,
                       leads: set[int] | None = None) -> list[LocalMatch]:
        """``found`` plus the periodic-texture entries among ``rows`` that the one-to-one
        pairs missed, each tried frame by frame in ``rows``' order (a short list's
        best-scoring first) until one matches. A try costs 10-50 ms (``_texture_match``; up
        to RANSAC's 5,000 iterations when nothing matches); one frame per entry missed a subtitled chessboard whose first
        listed frame gave 52 inliers and the next two 109 and 91."""
        done = {m.ref for m in found}
        out = list(found)
        for r in rows:
            ref, reg = self.items[r]
            if r not in self.textures or ref in done:
                continue
            if leads is not None:
                leads.add(ref)
            m = _texture_match(ref, reg, feats, near)
            if m is not None:
                done.add(ref)
                out.append(m)
        return sorted(out, key=lambda m: -m.inliers)


def _repeated(words: int, distinct: int) -> bool:
    """A periodic texture: most of a frame's ``words`` repeat (``distinct`` of them differ;
    natural pictures 0.01-0.5 repeat, a chessboard about 0.8)."""
    return words >= TEXTURE_MIN_DESCRIPTORS and 1 - distinct / words >= TEXTURE_WORD_SHARE


def _texture_match(ref: int, reg: Features, feats: Features,
                   near: list[LocalMatch] | None = None) -> LocalMatch | None:
    """Many-to-many pairs with one registered frame: each query descriptor with every one of
    its ``TEXTURE_KNN`` nearest in the frame that is nearly as near as the nearest (a repeat of
    the same corner), then ``_verify`` counting distinct points."""
    k = min(TEXTURE_KNN, len(reg.descriptors))
    dist, nidx = hamming.knn(feats.descriptors, reg.descriptors, k)
    within = np.maximum(dist[:, :1] * TEXTURE_SLACK, dist[:, :1] + 8)
    ok = (nidx >= 0) & (dist <= 64) & (dist <= within)
    q = np.repeat(np.arange(len(feats.descriptors)), k).reshape(-1, k)[ok]
    t = nidx[ok]
    if len(np.unique(q)) < (TEXTURE_MIN_INLIERS if near is None else TEXTURE_NEAR_INLIERS):
        return None
    return _verify(ref, reg, reg.points[t], feats.points[q], feats, TEXTURE_MIN_INLIERS,
                   distinct=True, near=near)


class Inverted:
    """Visual word -> registered frames that contain it (each word counted once per frame).

    Scores are tf-idf cosine with binary term frequency: a frame's score is the sum of the
    squared idf of the words it shares with the query over the norm of its own vector, so a
    registered picture that is a small part of the query (an inset, a crop) still ranks by
    how much of *it* is there; words found in more than ``STOP_SHARE`` of the frames carry
    almost no weight and are skipped to bound the cost."""

    def __init__(self, words: list[np.ndarray]) -> None:
        self.words = words
        self.rows = len(words)
        size = vocabulary.load().size
        row = np.repeat(np.arange(self.rows, dtype=np.int64), [len(w) for w in words])
        # (word, frame) pairs, each once, in word order: one sort (np.unique's hash path and
        # a second argsort took 5x as long on millions of descriptors); the frame in the low
        # bits, so that splitting them is a shift and a mask (a division and a remainder
        # took a fifth of the build)
        bits = max(1, self.rows).bit_length()
        pairs = np.left_shift(np.concatenate(words) if words else np.zeros(0, np.int64),
                              bits, dtype=np.int64) | row
        pairs.sort()
        pairs = pairs[np.r_[True, pairs[1:] != pairs[:-1]]] if len(pairs) else pairs
        pword, prow = pairs >> bits, pairs & ((1 << bits) - 1)
        self.distinct = np.bincount(prow, minlength=self.rows)  # distinct words per frame
        df = np.bincount(pword, minlength=size)
        self.idf2 = np.zeros(size)
        seen = df > 0
        self.idf2[seen] = np.log(self.rows / df[seen]) ** 2
        self.stop = df > max(STOP_MIN, STOP_SHARE * self.rows)
        norm = np.sqrt(np.bincount(prow, weights=self.idf2[pword], minlength=self.rows))
        self.inv_norm = np.where(norm > 0, 1.0 / np.maximum(norm, 1e-12), 0.0)
        self.post_row = prow.astype(np.int32)
        self.start = np.searchsorted(pword, np.arange(size + 1))

    def shortlist(self, query_words: np.ndarray, n: int) -> list[int]:
        """The ``n`` best-scoring registered frames (fewer if fewer share a word)."""
        w = np.unique(query_words)
        w = w[~self.stop[w]]
        lo, hi = self.start[w], self.start[w + 1]
        lengths = hi - lo
        if not lengths.sum():
            return []
        # every posting of every query word, without a Python loop
        idx = np.repeat(lo - np.r_[0, np.cumsum(lengths)[:-1]], lengths) + np.arange(
            lengths.sum())
        rows = self.post_row[idx]
        score = np.bincount(rows, weights=np.repeat(self.idf2[w], lengths),
                            minlength=self.rows) * self.inv_norm
        best = np.argpartition(-score, min(n, self.rows) - 1)[:n]
        best = best[score[best] > 0]
        return [int(r) for r in best[np.argsort(-score[best])]]


def _regions_shortlist(inverted: Inverted, q_words: np.ndarray, feats: Features) -> list[int]:
    """The best registered frames for the whole query and for each of its quarters and its
    centre: a picture inset in a corner is a small share of the whole frame's words, which
    frames of the surrounding footage outscore, but a large share of its quarter's."""
    rows = inverted.shortlist(q_words, SHORTLIST)
    x = feats.points[:, 0] / max(1, feats.width)
    y = feats.points[:, 1] / max(1, feats.height)
    for x0, y0 in ((0, 0), (0.5, 0), (0, 0.5), (0.5, 0.5), (0.25, 0.25)):
        inside = (x >= x0) & (x < x0 + 0.5) & (y >= y0) & (y < y0 + 0.5)
        rows += inverted.shortlist(q_words[inside], REGION_SHORTLIST)
    return list(dict.fromkeys(rows))


def _match(items: list[tuple[int, Features]], feats: Features,
           nodes: tuple[list[np.ndarray], np.ndarray] | None = None,
           near: list[LocalMatch] | None = None, leads: set[int] | None = None
           ) -> list[LocalMatch]:
    """Match the query against ``items``, vote per registered frame, RANSAC per candidate.

    Correspondences come from one nearest-neighbour search over all of ``items``, or, given
    ``nodes`` (the first-level word-tree node of each item's descriptors, and the
    ``QUERY_NODES`` nearest of each query descriptor), from the same search split by node
    (``_pairs``), with a stricter inlier floor. ``near``: see ``FeatureIndex.query``."""
    if not items:
        return []
    descs = np.concatenate([f.descriptors for _, f in items])
    owner = np.concatenate([np.full(len(f.descriptors), i, np.int64)
                            for i, (_, f) in enumerate(items)])
    offset = np.r_[0, np.cumsum([len(f.descriptors) for _, f in items])]
    refs = np.array([ref for ref, _ in items])
    floor = MIN_INLIERS if nodes is None else MIN_INLIERS_SHORTLIST
    if nodes is None:  # one group: every query descriptor against every registered one
        nodes = ([np.zeros(len(descs), np.int64)], np.zeros((len(feats.descriptors), 1),
                                                            np.int64))
    q, t = _pairs(feats.descriptors, nodes[1], descs, np.concatenate(nodes[0]), refs[owner])
    if len(q) < MIN_INLIERS:
        return []
    owners = owner[t]
    counts = np.bincount(owners, minlength=len(items))
    out: list[LocalMatch] = []
    for cand in np.argsort(-counts)[:CANDIDATES]:
        if counts[cand] < MIN_INLIERS:
            break
        sel = owners == cand
        ref, reg = items[cand]
        if leads is not None and counts[cand] >= STRONG_INLIERS:
            leads.add(ref)
        src = reg.points[t[sel] - offset[cand]]
        dst = feats.points[q[sel]]
        match = _verify(ref, reg, src, dst, feats, floor, near=near)
        if match is not None:
            out.append(match)
    out.sort(key=lambda m: -m.inliers)
    return out


def _ratio(q: np.ndarray, best_t: np.ndarray, best_d: np.ndarray, other_t: np.ndarray,
           other_d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lowe's ratio test against the nearest descriptor of *another* registered entry
    (``other_d`` < 0: none): frames of one registered clip share descriptors, which says
    nothing against the clip; a descriptor about as close to two entries says nothing about
    which one it belongs to, unless both are near-exact (the same content registered twice,
    an upscale and its source): then each entry gets the vote."""
    ok = best_d <= 64
    alone = ok & ((other_d < 0) | (best_d < RATIO * other_d))
    twice = ok & ~alone & (other_d >= 0) & (other_d <= DUPLICATE_DIST)
    return (np.r_[q[alone], q[twice], q[twice]],
            np.r_[best_t[alone], best_t[twice], other_t[twice]])


def _pairs(query: np.ndarray, query_top: np.ndarray, descs: np.ndarray,
           desc_top: np.ndarray, ref_of: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(query, registered) descriptor pairs: each query descriptor's ``KNN`` nearest
    registered ones, Lowe's ratio test against the nearest of another entry (``_ratio``).

    The search is split by group (``desc_top``; ``query_top``: the groups each query
    descriptor is searched in). Exhaustive matching is one group; a short list groups by the
    word tree's first level: a registered descriptor is searched only by query descriptors
    whose two nearest first-level centroids include its own. A sixteenth
    of the pairs per group, an eighth in all, and 0.8-0.9 of true correspondences fall in
    one first-level node (measured on the benchmark's pictures), about all in the two."""
    qs: list[np.ndarray] = []
    ts: list[np.ndarray] = []
    ds: list[np.ndarray] = []
    for g in np.unique(desc_top):
        tsel = np.flatnonzero(desc_top == g)
        qsel = np.flatnonzero((query_top == g).any(axis=1))
        if not len(qsel):
            continue
        k = min(KNN, len(tsel))
        dist, nidx = hamming.knn(query[qsel], descs[tsel], k)
        ok = nidx.reshape(-1) >= 0
        qs.append(np.repeat(qsel, k)[ok])
        ts.append(tsel[nidx.reshape(-1)[ok]])
        ds.append(dist.reshape(-1)[ok])
    if not qs:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    qi, ti = np.concatenate(qs), np.concatenate(ts)
    dist = np.concatenate(ds).astype(np.float64)
    o = np.lexsort((dist, qi))
    qi, ti, dist = qi[o], ti[o], dist[o]
    firsts = np.r_[0, np.flatnonzero(np.diff(qi)) + 1]
    best_t, best_d = ti[firsts], dist[firsts]
    # the nearest of another entry: each query descriptor's first pair whose entry differs
    differs = ref_of[ti] != np.repeat(ref_of[best_t], np.diff(np.r_[firsts, len(qi)]))
    cand = np.flatnonzero(differs)
    group = np.searchsorted(firsts, cand, "right") - 1
    other = np.full(len(firsts), -1, np.int64)
    uniq, at = np.unique(group, return_index=True)
    other[uniq] = cand[at]
    has = other >= 0
    return _ratio(qi[firsts], best_t, best_d, np.where(has, ti[other], -1),
                  np.where(has, dist[other], -1.0))


def ransac(src: np.ndarray, dst: np.ndarray, query: Features, distinct: bool = False
           ) -> tuple[np.ndarray | None, np.ndarray]:
    """The similarity transform RANSAC finds from registered points ``src`` to query points
    ``dst`` (None if none) and its inlier mask (bool per pair). Many-to-many pairs
    (``distinct``) get more iterations: most of them are wrong by construction."""
    reproj = max(3.0, 0.006 * max(query.width, query.height))
    m, mask = cv2.estimateAffinePartial2D(
        src.reshape(-1, 1, 2), dst.reshape(-1, 1, 2), method=cv2.RANSAC,
        ransacReprojThreshold=reproj, maxIters=5000 if distinct else 2000,
        confidence=0.999 if distinct else 0.995)
    if m is None or mask is None:
        return None, np.zeros(len(src), bool)
    return m, mask.reshape(-1).astype(bool)


def squeeze_ransac(src: np.ndarray, dst: np.ndarray, query: Features
                   ) -> tuple[np.ndarray | None, np.ndarray]:
    """The axis-aligned scale and shift (``[[sx, 0, tx], [0, sy, ty]]``, ``sx / sy`` within
    ``SQUEEZE_RANGE``) RANSAC finds from ``src`` to ``dst`` (None if none), refitted on its
    inliers, and its inlier mask; the same reprojection threshold as ``ransac``.

    Why not OpenCV: it has no such model, and a full affine one has six degrees of freedom
    (more chance consensus). Two pairs fix the model, so every hypothesis is tested against
    every pair at once; the samples are seeded, so a scan gives the same answer each time."""
    n = len(src)
    none = (None, np.zeros(n, bool))
    if n < 2:
        return none
    reproj = max(3.0, 0.006 * max(query.width, query.height))
    rng = np.random.default_rng(n)
    i, j = rng.integers(0, n, (2, SQUEEZE_HYPOTHESES))
    d_src, d_dst = src[j] - src[i], dst[j] - dst[i]
    spaced = (np.abs(d_src) > 2 * reproj).all(axis=1)
    s = np.where(spaced[:, None], d_dst / np.where(spaced[:, None], d_src, 1.0), 0.0)
    lo, hi = SQUEEZE_RANGE
    ratio = s[:, 0] / np.where(s[:, 1] > 0, s[:, 1], 1.0)
    ok = spaced & (s > 0).all(axis=1) & (ratio >= lo) & (ratio <= hi)
    if not ok.any():
        return none
    s, i = s[ok], i[ok]
    t = dst[i] - s * src[i]
    err = (s[:, None, :] * src[None] + t[:, None, :] - dst[None]) ** 2
    inside = err.sum(axis=2) <= reproj * reproj
    keep = inside[int(np.argmax(inside.sum(axis=1)))]
    for _ in range(2):  # least squares per axis on the inliers, then the inliers again
        if keep.sum() < 2:
            return none
        fit = [np.polyfit(src[keep, a], dst[keep, a], 1) for a in (0, 1)]
        (sx, tx), (sy, ty) = fit
        if sx <= 0 or sy <= 0 or not lo <= sx / sy <= hi:
            return none
        m = np.array([[sx, 0.0, tx], [0.0, sy, ty]])
        keep = ((src @ m[:, :2].T + m[:, 2] - dst) ** 2).sum(axis=1) <= reproj * reproj
    return m, keep


def distinct_inliers(src: np.ndarray, dst: np.ndarray, keep: np.ndarray) -> int:
    """Inliers of many-to-many pairs counted as points: the fewer distinct ones of either
    side (one corner paired with three repeats is one inlier)."""
    return min(len(np.unique(src[keep], axis=0)), len(np.unique(dst[keep], axis=0)))


def _verify(ref: int, reg: Features, src: np.ndarray, dst: np.ndarray,
            query: Features, min_inliers: int = MIN_INLIERS,
            distinct: bool = False, near: list[LocalMatch] | None = None
            ) -> LocalMatch | None:
    """Similarity transform by RANSAC; enough consistent inliers and a sane scale, or None.
    ``distinct``: the pairs are many-to-many (``_texture_match``), so inliers are counted as
    distinct points (the fewer of either side's) and their share of the pairs is not asked.
    ``near``: a refused similarity that passes the near-miss rules is appended to it."""
    m, keep = ransac(src, dst, query, distinct)
    found = _accepted(ref, reg, src, dst, query, min_inliers, distinct, m, keep)
    if found is None and near is not None:
        loose = _accepted(ref, reg, src, dst, query, TEXTURE_NEAR_INLIERS, True, m, keep) \
            if distinct else _accepted(ref, reg, src, dst, query, MIN_INLIERS, False, m, keep,
                                       spread=NEAR_SPREAD)
        if loose is not None:
            near.append(loose)
    # A squeezed placement leaves the similarity a band of the picture at most: refused, or
    # taken by the strong-consensus rule with a low share and the band for its region.
    if distinct or len(src) < max(STRONG_INLIERS, min_inliers) or (
            found is not None and found.inliers >= MIN_INLIER_RATIO * len(src)):
        return found
    m, keep = squeeze_ransac(src, dst, query)
    squeezed = _accepted(ref, reg, src, dst, query, min_inliers, distinct, m, keep,
                         squeezed=True)
    if squeezed is not None and (found is None or squeezed.inliers > found.inliers):
        return squeezed
    return found


def _accepted(ref: int, reg: Features, src: np.ndarray, dst: np.ndarray, query: Features,
              min_inliers: int, distinct: bool, m: np.ndarray | None, keep: np.ndarray,
              squeezed: bool = False, spread: float = SPREAD) -> LocalMatch | None:
    """A fitted transform and its inliers held to ``_verify``'s rules, or None. A squeeze
    must be a strong consensus and still meets the ordinary share and spread rules.
    ``spread``: the spread asked of a candidate short of a strong consensus."""
    if m is None:
        return None
    strong = False  # (texture matches keep the full spread rule)
    if distinct:
        inliers = distinct_inliers(src, dst, keep)
        if inliers < min_inliers:
            return None
    else:
        inliers = int(keep.sum())
        strong = inliers >= max(STRONG_INLIERS, min_inliers)
        if squeezed and not strong:
            return None
        strong = strong and not squeezed
        share = STRONG_INLIER_RATIO if strong else MIN_INLIER_RATIO
        if inliers < min_inliers or inliers < share * len(src):
            return None
    scale = float(np.hypot(m[0, 0], m[1, 0]))
    if not 0.05 <= scale <= 20:
        return None
    # Inliers must spread over the registered image, not sit on one repeated texture patch.
    spans = np.ptp(src[keep], axis=0) / np.array([reg.width, reg.height])
    if (spans < (STRONG_SPREAD if strong else spread)).any():
        return None
    corners = np.array([[0, 0], [reg.width, 0], [reg.width, reg.height], [0, reg.height]],
                       dtype=np.float32)
    mapped = corners @ m[:, :2].T + m[:, 2]
    if distinct and (np.ptp(mapped, axis=0) / [query.width, query.height]).max() < \
            TEXTURE_MIN_SPAN:
        return None  # any dense patch repeats a pattern squeezed small enough
    x0, y0 = np.clip(mapped.min(axis=0), 0, [query.width, query.height])
    x1, y1 = np.clip(mapped.max(axis=0), 0, [query.width, query.height])
    area = max(0.0, (x1 - x0) * (y1 - y0))
    coverage = area / max(1, query.width * query.height)
    return LocalMatch(ref, inliers, len(src), scale,
                      (int(x0), int(y0), int(round(x1)), int(round(y1))), round(coverage, 4),
                      min_inliers, texture=distinct,
                      squeeze=round(float(m[0, 0] / m[1, 1]), 3) if squeezed else None)


def pack(feats: Features) -> tuple[bytes, bytes]:
    """Blobs for the register (points float32, descriptors uint8)."""
    return feats.points.astype("<f4").tobytes(), feats.descriptors.astype(np.uint8).tobytes()


def unpack(points: bytes, descriptors: bytes, width: int, height: int) -> Features:
    pts = np.frombuffer(points, dtype="<f4").reshape(-1, 2).astype(np.float32)
    desc = np.frombuffer(descriptors, dtype=np.uint8).reshape(-1, 32)
    return Features(pts, desc, width, height)
