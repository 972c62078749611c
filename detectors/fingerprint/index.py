"""Near-neighbour look-up for 256-bit PDQ hashes: an exact scan of every stored hash.

Why a scan and not multi-index hashing (Norouzi et al., which this module used before): at the
radii the matcher asks for (32-72 bits of 256, 12-28 %), the pigeonhole probes of a 16-bit
chunk table hit so many rows that gathering them cost more than comparing every hash. The
scan is faiss's flat binary index (``hamming.RangeIndex``): 0.47 ms a look-up at the 190,896
hashes of the benchmark's 10,000-entry register, against 1.64 ms for the NumPy scan a 64-bit
word column at a time that ``distances`` still does for the matcher's few-entry comparisons
(and 0.8 ms for that scan, 1.3 ms for the probes, on a faster machine). The cost grows with
the register (``bench/register_scale.py``).
"""

from __future__ import annotations

import numpy as np

from detectors.fingerprint import hamming


def _raw(hashes: list[bytes] | np.ndarray) -> np.ndarray:
    """N x 32 bytes."""
    if isinstance(hashes, np.ndarray):
        return np.ascontiguousarray(hashes, dtype=np.uint8).reshape(-1, 32)
    return np.frombuffer(b"".join(hashes), dtype=np.uint8).reshape(-1, 32)


def as_words(hashes: list[bytes] | np.ndarray) -> np.ndarray:
    """N x 4 big-endian uint64 words of 32-byte hashes (for XOR + popcount)."""
    return _raw(hashes).view(">u8").astype(np.uint64)


def distances(words: np.ndarray, query: bytes) -> np.ndarray:
    """Hamming distances from ``query`` to every row of ``words``, a word column at a time
    (on the index's column-major words each step is one contiguous pass: 6x faster than
    summing the four counts of every row)."""
    q = as_words([query])[0]
    d = np.bitwise_count(words[:, 0] ^ q[0]).astype(np.int32)
    for i in range(1, words.shape[1]):
        d += np.bitwise_count(words[:, i] ^ q[i])
    return d


class PdqIndex:
    """Hashes with payload row numbers; ``query`` returns rows within a Hamming radius."""

    def __init__(self, hashes: list[bytes] | np.ndarray) -> None:
        raw = _raw(hashes) if len(hashes) else np.zeros((0, 32), dtype=np.uint8)
        # N x 4, each word column contiguous: the matcher compares a few entries' rows itself
        self.words = np.asfortranarray(raw.view(">u8").astype(np.uint64))
        self.size = int(self.words.shape[0])
        self._range = hamming.RangeIndex(raw)

    def query(self, h: bytes, radius: int) -> list[tuple[int, int]]:
        """(row, distance) of every stored hash within ``radius`` of ``h``, nearest first."""
        if self.size == 0:
            return []
        rows, d = self._range.within(np.frombuffer(h, np.uint8), radius)
        order = np.lexsort((rows, d))
        return [(int(r), int(x)) for r, x in zip(rows[order], d[order], strict=True)]
