"""Near-neighbour index for 256-bit PDQ hashes: multi-index hashing (Norouzi et al.).

Why: a scan must cost O(deliverable), not O(register x deliverable). The 256 bits are cut into
16 chunks of 16 bits; two hashes within Hamming distance d agree to within floor(d / 16) bits on
at least one chunk (pigeonhole), so probing every chunk value within that radius finds every
candidate, which is then checked exactly. Small indexes and wide radii use a vectorised linear
scan instead (same answers, cheaper there).
"""

from __future__ import annotations

from itertools import combinations

import numpy as np

CHUNKS = 16
LINEAR_BELOW = 4096  # rows; under this a vectorised scan beats probing


def as_words(hashes: list[bytes] | np.ndarray) -> np.ndarray:
    """N x 4 big-endian uint64 words of 32-byte hashes (for XOR + popcount)."""
    if isinstance(hashes, np.ndarray):
        raw = np.ascontiguousarray(hashes, dtype=np.uint8).reshape(-1, 32)
    else:
        raw = np.frombuffer(b"".join(hashes), dtype=np.uint8).reshape(-1, 32)
    return raw.view(">u8").astype(np.uint64)


def distances(words: np.ndarray, query: bytes) -> np.ndarray:
    """Hamming distances from ``query`` to every row of ``words``."""
    q = as_words([query])[0]
    return np.bitwise_count(words ^ q).sum(axis=1).astype(np.int32)


class PdqIndex:
    """Hashes with payload row numbers; ``query`` returns rows within a Hamming radius."""

    def __init__(self, hashes: list[bytes] | np.ndarray) -> None:
        self.words = as_words(hashes) if len(hashes) else np.zeros((0, 4), dtype=np.uint64)
        self.size = int(self.words.shape[0])
        self._tables: list[dict[int, np.ndarray]] | None = None
        if self.size >= LINEAR_BELOW:
            self._build()

    def _build(self) -> None:
        chunks = self._chunks(self.words)
        tables: list[dict[int, np.ndarray]] = []
        for c in range(CHUNKS):
            col = chunks[:, c]
            order = np.argsort(col, kind="stable")
            values, starts = np.unique(col[order], return_index=True)
            ends = np.append(starts[1:], len(order))
            tables.append({int(v): order[s:e] for v, s, e in zip(values, starts, ends,
                                                                  strict=True)})
        self._tables = tables

    @staticmethod
    def _chunks(words: np.ndarray) -> np.ndarray:
        """N x 16 uint16 chunk values (chunk c = bits 16c..16c+15 of the big-endian form)."""
        parts = [(words[:, w:w + 1] >> np.uint64(s)) & np.uint64(0xFFFF)
                 for w in range(4) for s in (48, 32, 16, 0)]
        return np.concatenate(parts, axis=1).astype(np.int64)

    def query(self, h: bytes, radius: int) -> list[tuple[int, int]]:
        """(row, distance) of every stored hash within ``radius`` of ``h``, nearest first."""
        if self.size == 0:
            return []
        per_chunk = radius // CHUNKS
        if self._tables is None or per_chunk > 2:
            d = distances(self.words, h)
            rows = np.nonzero(d <= radius)[0]
        else:
            qchunks = self._chunks(as_words([h]))[0]
            found: list[np.ndarray] = []
            flips = [0]
            for r in range(1, per_chunk + 1):
                flips.extend(sum(1 << b for b in combo) for combo in combinations(range(16), r))
            for c in range(CHUNKS):
                table = self._tables[c]
                base = int(qchunks[c])
                for f in flips:
                    hit = table.get(base ^ f)
                    if hit is not None:
                        found.append(hit)
            if not found:
                return []
            rows = np.unique(np.concatenate(found))
            d_rows = np.bitwise_count(self.words[rows] ^ as_words([h])[0]).sum(axis=1)
            keep = d_rows <= radius
            return sorted(((int(r), int(x)) for r, x in zip(rows[keep], d_rows[keep],
                                                              strict=True)),
                          key=lambda x: (x[1], x[0]))
        out = [(int(r), int(d[r])) for r in rows]
        out.sort(key=lambda x: (x[1], x[0]))
        return out
