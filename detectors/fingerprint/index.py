"""Near-neighbour look-up for 256-bit PDQ hashes: an exact scan of every stored hash.

Why a scan and not multi-index hashing (Norouzi et al., which this module used before): at the
radii the matcher asks for (32-72 bits of 256, 12-28 %), the pigeonhole probes of a 16-bit
chunk table hit so many rows that gathering them cost more than comparing every hash, once
the hashes are stored a 64-bit word column at a time (each XOR + popcount step is one
contiguous pass). Scan against probes, per query: 0.6 against 0.9 ms at 140,000 random
hashes, 0.8 against 1.3 ms at the 190,784 hashes of the benchmark's 10,000-entry register,
7.4 against 9.8 ms at 1,400,000; and no tables to build when a register opens. The cost
grows with the register: under a second per programme minute at 100,000 entries
(``bench/register_scale.py``).
"""

from __future__ import annotations

import numpy as np


def as_words(hashes: list[bytes] | np.ndarray) -> np.ndarray:
    """N x 4 big-endian uint64 words of 32-byte hashes (for XOR + popcount)."""
    if isinstance(hashes, np.ndarray):
        raw = np.ascontiguousarray(hashes, dtype=np.uint8).reshape(-1, 32)
    else:
        raw = np.frombuffer(b"".join(hashes), dtype=np.uint8).reshape(-1, 32)
    return raw.view(">u8").astype(np.uint64)


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
        words = as_words(hashes) if len(hashes) else np.zeros((0, 4), dtype=np.uint64)
        self.words = np.asfortranarray(words)  # N x 4, each word column contiguous
        self.size = int(self.words.shape[0])

    def query(self, h: bytes, radius: int) -> list[tuple[int, int]]:
        """(row, distance) of every stored hash within ``radius`` of ``h``, nearest first."""
        if self.size == 0:
            return []
        d = distances(self.words, h)
        rows = np.flatnonzero(d <= radius)
        order = np.lexsort((rows, d[rows]))
        return [(int(r), int(d[r])) for r in rows[order]]
