"""A fixed vocabulary of ORB "visual words": a tree of binary centroids (hierarchical
k-majority, as in Galvez-Lopez and Tardos's DBoW2), shipped as data.

Why: matching a frame's descriptors against every registered descriptor costs time in
proportion to the register (16 s a check at 10,000 entries). Quantising each descriptor to a
word by descending the tree costs the same whatever the register holds, and an inverted file
of words then names the few registered frames worth verifying. The vocabulary only orders
that short list: a match is still decided by exact descriptor matching and a geometric check.

The tree is trained once (``python -m bench.train_orb_vocabulary``) and stored in
``detectors/data/orb_words.npz``; its id is part of what the register records about word ids.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parent.parent / "data" / "orb_words.npz"
ITERATIONS = 8
CHUNK = 65536  # descriptors per vectorised step (bounds the temporary arrays)


def _words64(descriptors: np.ndarray) -> np.ndarray:
    """N x 4 uint64 of N x 32 uint8 descriptors (XOR + popcount four words at a time)."""
    return np.ascontiguousarray(descriptors, dtype=np.uint8).reshape(-1, 32).view(np.uint64)


class Vocabulary:
    """``branching`` children per node, ``depth`` levels: branching ** depth words."""

    def __init__(self, levels: list[np.ndarray]) -> None:
        # levels[l]: (branching ** (l + 1)) x 32 uint8 centroids, children of node n at
        # rows n * branching ... n * branching + branching - 1
        self.levels = [np.ascontiguousarray(lv, dtype=np.uint8) for lv in levels]
        self.branching = len(levels[0])
        self.depth = len(levels)
        self.size = self.branching ** self.depth
        self._w = [_words64(lv).reshape(-1, self.branching, 4) for lv in self.levels]
        digest = hashlib.sha256(b"".join(lv.tobytes() for lv in self.levels)).hexdigest()
        self.id = f"orb-words-{self.branching}x{self.depth}-{digest[:12]}"

    def words(self, descriptors: np.ndarray) -> np.ndarray:
        """The word (leaf index) of each descriptor: int32, one per row."""
        d = _words64(descriptors)
        out = np.empty(len(d), np.int32)
        for s in range(0, len(d), CHUNK):
            q = d[s:s + CHUNK]
            node = np.zeros(len(q), np.int64)
            for cents in self._w:
                dist = np.bitwise_count(cents[node] ^ q[:, None, :]).sum(axis=2, dtype=np.int16)
                node = node * self.branching + dist.argmin(axis=1)
            out[s:s + CHUNK] = node
        return out

    def nearest_top(self, descriptors: np.ndarray, k: int) -> np.ndarray:
        """N x k: the ``k`` nearest first-level centroids of each descriptor."""
        d = _words64(descriptors)
        dist = np.bitwise_count(self._w[0][0][None, :, :] ^ d[:, None, :]).sum(axis=2)
        return np.argsort(dist, axis=1, kind="stable")[:, :k]

    def to_array(self) -> np.ndarray:
        return np.concatenate(self.levels)

    @classmethod
    def from_array(cls, arr: np.ndarray, branching: int) -> Vocabulary:
        levels, start, n = [], 0, branching
        while start < len(arr):
            levels.append(arr[start:start + n])
            start += n
            n *= branching
        if start != len(arr):
            raise ValueError("not a complete vocabulary tree")
        return cls(levels)


@cache
def load() -> Vocabulary:
    """The shipped vocabulary."""
    with np.load(DATA, allow_pickle=False) as z:
        return Vocabulary.from_array(z["centroids"], int(z["branching"]))


def save(vocab: Vocabulary, path: Path = DATA) -> None:
    with path.open("wb") as fh:
        np.savez(fh, centroids=vocab.to_array(), branching=np.array(vocab.branching))


def train(descriptors: np.ndarray, branching: int, depth: int,
          rng: np.random.Generator) -> Vocabulary:
    """Hierarchical k-majority: each level splits every node's descriptors into
    ``branching`` clusters whose centroids are the bitwise majority of their members."""
    d = _words64(descriptors)
    bits = np.unpackbits(np.ascontiguousarray(descriptors, np.uint8).reshape(-1, 32), axis=1)
    n = len(d)
    parent = np.zeros(n, np.int64)
    levels: list[np.ndarray] = []
    for level in range(depth):
        nodes = branching ** level
        cents = _seed(descriptors, parent, nodes, branching, rng)  # nodes x b x 32
        for _ in range(ITERATIONS):
            child = _assign(d, parent, cents, branching)
            cents = _majority(bits, parent * branching + child, cents, branching)
        child = _assign(d, parent, cents, branching)
        levels.append(cents.reshape(-1, 32))
        parent = parent * branching + child
    return Vocabulary(levels)


def _seed(descriptors: np.ndarray, parent: np.ndarray, nodes: int, branching: int,
          rng: np.random.Generator) -> np.ndarray:
    """``branching`` distinct random members of each node (repeated where it has fewer)."""
    order = np.lexsort((rng.random(len(parent)), parent))
    counts = np.bincount(parent, minlength=nodes)
    starts = np.r_[0, np.cumsum(counts)[:-1]]
    pick = np.arange(branching)[None, :] % np.maximum(counts, 1)[:, None] + starts[:, None]
    pick = np.minimum(pick, len(order) - 1)
    cents = descriptors[order[pick.reshape(-1)]].reshape(nodes, branching, 32)
    cents[counts == 0] = 0
    return np.ascontiguousarray(cents, np.uint8)


def _assign(d: np.ndarray, parent: np.ndarray, cents: np.ndarray, branching: int) -> np.ndarray:
    w = _words64(cents.reshape(-1, 32)).reshape(-1, branching, 4)
    out = np.empty(len(d), np.int64)
    for s in range(0, len(d), CHUNK):
        dist = np.bitwise_count(w[parent[s:s + CHUNK]] ^ d[s:s + CHUNK, None, :]).sum(
            axis=2, dtype=np.int16)
        out[s:s + CHUNK] = dist.argmin(axis=1)
    return out


def _majority(bits: np.ndarray, key: np.ndarray, cents: np.ndarray,
              branching: int) -> np.ndarray:
    order = np.argsort(key, kind="stable")
    keys, starts, counts = np.unique(key[order], return_index=True, return_counts=True)
    sums = np.add.reduceat(bits[order], starts, axis=0, dtype=np.int32)
    flat = cents.reshape(-1, 32).copy()
    flat[keys] = np.packbits(sums * 2 > counts[:, None], axis=1)
    return flat.reshape(cents.shape)
