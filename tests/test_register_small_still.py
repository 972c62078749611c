"""A small proxy of a registered picture (a fifth of its size, cropped a little) leaves ORB
too few pixels for its patches and pyramid, and its PDQ is far: it is found only with the
still enlarged first (``features.SMALL_QUERY``). The enlargement comes after the still as it
is, so a small picture registered at its own size is still met at that size. Real bytes:
synthetic pictures fingerprinted as ``register add`` does, queries made with OpenCV."""

from __future__ import annotations

from collections.abc import Iterator

import cv2
import numpy as np
import pytest

from detectors.fingerprint import extract
from detectors.fingerprint import features as feat
from detectors.fingerprint import matcher as m
from detectors.fingerprint.store import RegisterStore
from fixtures.gen_register import synth_image

PICTURES = range(300, 306)
SMALL = 310  # the key of the small chessboard, registered at its own size


def _small_board() -> np.ndarray:
    """A soft 200 x 200 chessboard of 8 x 8 squares (matched many-to-many as a texture)."""
    yy, xx = np.indices((200, 200))
    board = ((yy // 25 + xx // 25) % 2 * 255).astype(np.uint8)
    return cv2.cvtColor(cv2.GaussianBlur(board, (0, 0), 1.5), cv2.COLOR_GRAY2RGB)


def _add(store: RegisterStore, name: str, rgb: np.ndarray) -> int:
    return store.add(sha256=name, media_type="image/png", path=name, size=0, tool="test",
                     note="", added="test", verdict="clean", evidence=[],
                     fp=extract.fingerprint_image(rgb))


@pytest.fixture(scope="module")
def register(tmp_path_factory: pytest.TempPathFactory
             ) -> Iterator[tuple[m.Register, dict[int, int]]]:
    """Six 800x600 pictures, a 200x200 chessboard, and 40 other stills (a short list is
    verified past 32 registered frames, at the floor of 20 inliers)."""
    db = tmp_path_factory.mktemp("small") / "reg.db"
    ids = {}
    with RegisterStore(str(db), readonly=False, create=True) as store:
        for s in PICTURES:
            ids[s] = _add(store, f"picture{s}", synth_image(s, 800, 600))
        ids[SMALL] = _add(store, "small", _small_board())
        for k in range(40):
            _add(store, f"other{k}", synth_image(1000 + k, 480, 320))
    reg = m.Register(str(db))
    try:
        yield reg, ids
    finally:
        reg.close()


def _proxy(seed: int) -> np.ndarray:
    """The picture cropped (10 % off the top, 5 % off each side) and reduced to a fifth."""
    im = synth_image(seed, 800, 600)
    c = im[60:, 40:760]
    return cv2.resize(c, (c.shape[1] // 5, c.shape[0] // 5), interpolation=cv2.INTER_AREA)


@pytest.mark.parametrize("seed", [300, 301, 302, 304, 305])
def test_a_fifth_size_proxy_is_found_enlarged(register: tuple[m.Register, dict[int, int]],
                                              seed: int) -> None:
    reg, ids = register
    q = _proxy(seed)
    assert max(q.shape[:2]) < feat.SMALL_QUERY
    # the premise: as it is, neither its hash nor its features find it
    assert reg.features().query(feat.extract(q, feat.QUERY_SIDE, feat.QUERY_FEATURES)) == []
    found, _quality = reg.match_image(q)
    assert [(f.entry.id, f.method) for f in found] == [(ids[seed], "local")]
    lm = found[0].local
    assert lm is not None and lm.inliers >= 5 * feat.MIN_INLIERS_SHORTLIST
    # placed in the proxy's own pixels
    x0, y0, x1, y1 = lm.region
    assert x0 >= 0 and y0 >= 0 and x1 <= q.shape[1] and y1 <= q.shape[0]


def test_an_unregistered_proxy_is_not_matched(
        register: tuple[m.Register, dict[int, int]]) -> None:
    reg, _ids = register
    found, _quality = reg.match_image(_proxy(320))
    assert found == []


def test_a_small_registered_picture_is_still_met_at_its_size(
        register: tuple[m.Register, dict[int, int]]) -> None:
    """A crop of the small chessboard is found at its own size and lost enlarged (its
    repeats meet the registered ones only at the scale they were registered at): so the
    still is matched as it is first."""
    reg, ids = register
    q = np.ascontiguousarray(_small_board()[10:190, 10:190])
    enlarged = feat.extract(q, feat.QUERY_SIDE, feat.QUERY_FEATURES, feat.SMALL_QUERY)
    assert ids[SMALL] not in [lm.ref for lm in reg.features().query(enlarged)]
    found, _quality = reg.match_image(q)
    assert [(f.entry.id, f.method) for f in found] == [(ids[SMALL], "local")]
