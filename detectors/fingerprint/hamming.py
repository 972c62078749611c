"""Exact nearest-neighbour and radius search over 256-bit binary codes (ORB descriptors, PDQ
hashes) by Hamming distance.

Why faiss: the local-feature check pairs each deliverable descriptor with its nearest
registered ones, millions of 256-bit distances per checked frame, and that search was most of
an unmatched scan's CPU. OpenCV's ``batchDistance`` spends about 9 ns a distance on this
machine; faiss's flat binary index (Meta's similarity-search library, the one its PDQ tooling
uses) about 2 ns, with the same neighbours and distances: both are exact. One OpenMP thread
per call: the register detector already runs its checks beside the decoding thread, and a
second OpenMP thread bought 15 % wall for 70 % more CPU. The register's PDQ look-up scans
every stored hash for the same reason: 0.47 against 1.64 ms (NumPy XOR + popcount a word
column at a time) at the 190,896 hashes of a 10,000-entry register.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np

BITS = 256  # ORB descriptors: 32 bytes


@cache
def _faiss() -> Any:
    import faiss  # noqa: PLC0415 - loaded with the (opt-in) register detector

    return faiss


def knn(query: np.ndarray, train: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Distances (int32, ``len(query)`` x ``k``, nearest first) and row numbers in ``train``
    (int64, -1 past the end of a short ``train``) of each query descriptor's ``k`` nearest;
    equal distances in row order, the lower rows kept (``tests/test_hamming.py``)."""
    k = max(1, k)
    if not len(query) or not len(train):
        return (np.full((len(query), k), -1, np.int32), np.full((len(query), k), -1, np.int64))
    faiss = _faiss()
    faiss.omp_set_num_threads(1)  # per calling thread (OpenMP's setting is per thread)
    index = faiss.IndexBinaryFlat(BITS)
    index.add(np.ascontiguousarray(train, dtype=np.uint8))
    dist, idx = index.search(np.ascontiguousarray(query, dtype=np.uint8), k)
    return dist.astype(np.int32), idx.astype(np.int64)


class RangeIndex:
    """Stored codes (N x 32 bytes) answering "which lie within this radius", exactly."""

    def __init__(self, codes: np.ndarray) -> None:
        self.size = len(codes)
        self._index: Any = None
        if self.size:  # a copy of the codes: 0.1 s for 1.4 million
            self._index = _faiss().IndexBinaryFlat(BITS)
            self._index.add(np.ascontiguousarray(codes, dtype=np.uint8).reshape(-1, BITS // 8))

    def within(self, query: np.ndarray, radius: int) -> tuple[np.ndarray, np.ndarray]:
        """Row numbers (int64) and distances (int32) of every code within ``radius`` bits of
        ``query`` (32 bytes), in no set order."""
        if self._index is None or radius < 0:
            return np.zeros(0, np.int64), np.zeros(0, np.int32)
        _faiss().omp_set_num_threads(1)
        q = np.ascontiguousarray(query, dtype=np.uint8).reshape(1, BITS // 8)
        # faiss keeps distances strictly under the radius it is given
        _lims, dist, rows = self._index.range_search(q, radius + 1)
        return rows.astype(np.int64), dist.astype(np.int32)
