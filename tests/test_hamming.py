"""The exact Hamming search the register's local features and PDQ look-ups rest on
(``detectors.fingerprint.hamming``), against distances counted bit by bit."""

from __future__ import annotations

import numpy as np

from detectors.fingerprint import hamming


def _bitwise(query: np.ndarray, train: np.ndarray) -> np.ndarray:
    """Distances counted on unpacked bits: nothing shared with the code under test."""
    q, t = np.unpackbits(query, axis=1), np.unpackbits(train, axis=1)
    return (q[:, None, :] != t[None, :, :]).sum(axis=2)


def test_knn_is_the_exact_nearest_with_ties_in_row_order() -> None:
    rng = np.random.default_rng(11)
    train = rng.integers(0, 256, (700, 32), dtype=np.uint8)
    train[[40, 300, 650, 680, 690]] = train[5]  # six rows at one distance from any query
    query = np.vstack([train[5], rng.integers(0, 256, (60, 32), dtype=np.uint8)])
    dist, idx = hamming.knn(query, train, 4)
    full = _bitwise(query, train)
    expect = np.argsort(full, axis=1, kind="stable")[:, :4]  # equal distances: lower row first
    assert dist.dtype == np.int32 and idx.dtype == np.int64
    assert np.array_equal(dist, np.take_along_axis(full, expect, axis=1))
    assert idx[0].tolist() == [5, 40, 300, 650] and dist[0].tolist() == [0, 0, 0, 0]
    # away from ties the neighbours themselves agree
    untied = np.array([len(set(row[:5])) == 5 for row in np.sort(full, axis=1)])
    assert np.array_equal(idx[untied], expect[untied])


def test_knn_pads_a_short_train_set_and_answers_empty_input() -> None:
    rng = np.random.default_rng(12)
    train = rng.integers(0, 256, (2, 32), dtype=np.uint8)
    query = rng.integers(0, 256, (3, 32), dtype=np.uint8)
    dist, idx = hamming.knn(query, train, 4)
    assert (idx[:, 2:] == -1).all() and (idx[:, :2] >= 0).all()
    assert np.array_equal(np.sort(dist[:, :2], axis=1), np.sort(_bitwise(query, train), axis=1))
    d0, i0 = hamming.knn(query, train[:0], 4)
    assert d0.shape == (3, 4) and (i0 == -1).all()
    assert hamming.knn(query[:0], train, 4)[1].shape == (0, 4)


def test_range_index_keeps_exactly_the_codes_within_the_radius() -> None:
    rng = np.random.default_rng(13)
    codes = rng.integers(0, 256, (3000, 32), dtype=np.uint8)
    index = hamming.RangeIndex(codes)
    bits = np.unpackbits(codes[7])
    for flips in (0, 30, 31, 32):
        q = bits.copy()
        q[rng.choice(256, flips, replace=False)] ^= 1
        query = np.packbits(q)
        rows, dist = index.within(query, 31)
        d = _bitwise(query[None], codes)[0]
        assert sorted(zip(rows.tolist(), dist.tolist(), strict=True)) == \
            [(int(r), int(d[r])) for r in np.flatnonzero(d <= 31)]
        assert (7 in rows.tolist()) == (flips <= 31)
    assert hamming.RangeIndex(codes[:0]).within(codes[0], 256)[0].size == 0
