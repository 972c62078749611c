"""A registered picture placed squeezed, scaled more across than down or the reverse, is found
by its local features (issue 18). The randomised sweep's letterbox / pillarbox class squeezes
the whole 16:9 temp picture into a 4:3 pillarbox or a 2.39 letterbox; a poster stretches a
still to its cell. No similarity transform fits that: a page of text pillarboxed gave 49
RANSAC inliers on a band of it and was missed (an axis-aligned scale and shift fits 118), and
where a band held a strong consensus the region reported was the band's.
Real bytes: the queries go through JPEG."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from detectors.fingerprint import features as feat
from fixtures.gen_register import synth_image
from scanner.cli import main
from tests.conftest import FIXTURES
from tests.helpers import jpeg_query_features, register_scan


def _no_squeeze(src: np.ndarray, dst: np.ndarray, query: feat.Features
                ) -> tuple[None, np.ndarray]:
    return None, np.zeros(len(src), bool)


def _boxed(pic: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """The whole picture resized into ``box`` (x0, y0, x1, y1) of a black 1280x720 frame."""
    x0, y0, x1, y1 = box
    frame = np.zeros((720, 1280, 3), np.uint8)
    frame[y0:y1, x0:x1] = cv2.resize(pic, (x1 - x0, y1 - y0), interpolation=cv2.INTER_AREA)
    return frame


@pytest.mark.parametrize(("box", "squeeze"), [
    ((160, 0, 1120, 720), 0.75),  # 16:9 squeezed into a 4:3 pillarbox
    ((0, 92, 1280, 628), 720 / 536),  # ... into a 2.39 letterbox
])
def test_a_picture_squeezed_between_bars_is_matched_with_its_squeeze(
        monkeypatch: pytest.MonkeyPatch, box: tuple[int, int, int, int], squeeze: float
        ) -> None:
    pic = synth_image(811, 1280, 720)
    index = feat.FeatureIndex([(1, feat.extract(pic, feat.REGISTER_SIDE,
                                                feat.REGISTER_FEATURES))])
    query = jpeg_query_features(_boxed(pic, box), 85)
    found = index.query(query)
    assert found and found[0].ref == 1 and found[0].inliers >= feat.STRONG_INLIERS, found
    assert found[0].squeeze is not None and abs(found[0].squeeze - squeeze) < 0.02, found
    # the registered picture maps onto the box between the bars (in the 1024 px query)
    k = query.width / 1280
    assert np.allclose(found[0].region, np.array(box) * k, atol=12), found
    # the premise: a similarity transform takes a band of it at most (strong consensus
    # there), with the band for its region, or nothing
    monkeypatch.setattr(feat, "squeeze_ransac", _no_squeeze)
    assert not any(np.allclose(m.region, np.array(box) * k, atol=12)
                   for m in index.query(query))


def test_an_unsqueezed_match_is_not_called_squeezed() -> None:
    pic = synth_image(812, 1280, 720)
    index = feat.FeatureIndex([(1, feat.extract(pic, feat.REGISTER_SIDE,
                                                feat.REGISTER_FEATURES))])
    (found,) = index.query(jpeg_query_features(_boxed(pic, (160, 90, 1120, 630)), 85))
    assert found.ref == 1 and found.squeeze is None


def test_other_pictures_squeezed_do_not_match() -> None:
    index = feat.FeatureIndex([(k, feat.extract(synth_image(820 + k, 1280, 720),
                                                feat.REGISTER_SIDE, feat.REGISTER_FEATURES))
                               for k in range(4)])
    for seed in (830, 831, 832):
        for box in ((160, 0, 1120, 720), (0, 92, 1280, 628)):
            query = jpeg_query_features(_boxed(synth_image(seed, 1280, 720), box), 85)
            assert index.query(query) == [], (seed, box)


def test_chance_pairs_agree_on_no_squeeze() -> None:
    """Pairs with nothing in common: the model has a similarity's four degrees of freedom,
    and the best of its hypotheses gathers a handful of them, far under the floor."""
    rng = np.random.default_rng(5)
    query = feat.Features(np.zeros((0, 2), np.float32), np.zeros((0, 32), np.uint8), 1024, 576)
    worst = 0
    for _ in range(20):
        src = rng.uniform(0, [640, 360], (400, 2)).astype(np.float32)
        dst = rng.uniform(0, [1024, 576], (400, 2)).astype(np.float32)
        m, keep = feat.squeeze_ransac(src, dst, query)
        worst = max(worst, int(keep.sum()) if m is not None else 0)
    assert worst < feat.STRONG_INLIERS // 3, worst


def test_squeeze_ransac_recovers_the_placement_among_outliers() -> None:
    rng = np.random.default_rng(6)
    src = rng.uniform(0, [640, 360], (300, 2))
    dst = src * [0.75 * 1.2, 1.2] + [150.0, 20.0] + rng.normal(0, 1.0, src.shape)
    dst[200:] = rng.uniform(0, [1024, 576], (100, 2))  # a third wrong
    query = feat.Features(np.zeros((0, 2), np.float32), np.zeros((0, 32), np.uint8), 1024, 576)
    m, keep = feat.squeeze_ransac(src, dst, query)
    assert m is not None
    assert np.allclose(m, [[0.9, 0, 150], [0, 1.2, 20]], atol=[[0.01, 0, 2], [0, 0.01, 2]])
    assert keep[:200].mean() > 0.97 and keep[200:].mean() < 0.05


def test_a_still_stretched_to_a_cell_is_reported_squeezed(tmp_path: Path) -> None:
    """Key art: a 4:3 temp still stretched into a 16:9 cell of a poster, over other
    artwork. The finding says it was placed squeezed, and where."""
    db = tmp_path / "reg.db"
    still = FIXTURES / "register" / "temp_concept.png"
    res = CliRunner().invoke(main, ["register", "add", str(still), "--register", str(db),
                                    "--tool", "Midjourney"])
    assert res.exit_code == 0, res.output
    poster = synth_image(840, 1280, 720)
    element = np.asarray(Image.open(still).convert("RGB"))
    poster[150:555, 300:1020] = cv2.resize(element, (720, 405), interpolation=cv2.INTER_AREA)
    Image.fromarray(poster).save(tmp_path / "poster.jpg", quality=85)
    (f,) = register_scan(db, tmp_path / "poster.jpg").findings
    assert f.rule == "register.local", f
    assert abs(f.evidence["squeeze"] - (720 / 320) / (405 / 240)) < 0.03, f.evidence
    region = f.evidence["region"]
    assert abs(region["x"] - 300) <= 10 and abs(region["y"] - 150) <= 10, region
    assert abs(region["width"] - 720) <= 15 and abs(region["height"] - 405) <= 15, region
    assert (f"placed squeezed: {f.evidence['squeeze']:.2f} horizontal to vertical scale"
            in f.message), f.message
