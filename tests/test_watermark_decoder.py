"""The dwtDct decoder against the reference library's own output, and the threshold arithmetic.

``fixtures/watermark/vectors.json`` holds what ``invisible-watermark`` 0.2.0 decoded from each
fixture (generated once by ``fixtures/gen_watermark.py`` in a scratch interpreter; the library
is never imported here).
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from detectors.watermark import (
    DATA,
    R_MIN,
    Z_MIN,
    Analysis,
    binomial_tail,
    derive_threshold,
    dwtdct,
    load_payloads,
)

FIX = Path(__file__).resolve().parent.parent / "fixtures" / "watermark"
VECTORS = json.loads((FIX / "vectors.json").read_text())["files"]


def _read(name: str) -> np.ndarray:
    path = FIX / name
    if path.suffix in (".mkv", ".mp4"):
        cap = cv2.VideoCapture(str(path))
        ok, frame = cap.read()
        cap.release()
        assert ok
        return frame
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert img is not None
    return img


@pytest.mark.parametrize("name", sorted(VECTORS))
def test_decoder_matches_library_bit_for_bit(name: str) -> None:
    img = _read(name)
    for order, by_len in VECTORS[name].items():
        for length, expected in by_len.items():
            ours = "".join("1" if b else "0" for b in dwtdct.decode(img, int(length), order))
            assert ours == expected, (name, order, length)


def test_vectors_cover_every_payload_length_and_both_orders() -> None:
    lengths = {str(p.length) for p in load_payloads()}
    assert len(VECTORS) >= 10
    for by_order in VECTORS.values():
        assert set(by_order) == {"bgr", "rgb"}
        assert all(set(v) == lengths for v in by_order.values())


def test_haar_ll_is_bit_identical_to_pywavelets() -> None:
    import pywt  # test extra (dev-only comparison); runtime never imports it
    rng = np.random.default_rng(3)
    for shape in ((8, 8), (256, 300), (132, 1024)):
        plane = rng.integers(0, 256, shape).astype(np.uint8)
        expected, _ = pywt.dwt2(plane, "haar")
        assert np.array_equal(dwtdct.haar_ll(plane), expected)
        shifted = plane.astype(np.float64) - 127.5
        assert np.array_equal(dwtdct.haar_ll(shifted), pywt.dwt2(shifted, "haar")[0])


def test_ties_follow_the_library_rule() -> None:
    # A flat U plane: every LL sample equal, so the first candidate (index 1) wins every block;
    # U = 128 gives LL ≈ 256, 256 mod 36 = 4 → every vote 0 → the all-zero word.
    grey = np.full((256, 256, 3), 128, np.uint8)
    assert not dwtdct.decode(grey, 48).any()
    # A flat image with U = 135: in exact arithmetic LL = 270 and 270 mod 36 == 18, not > 18,
    # so a naive (a+b+c+d)/2 says 0; PyWavelets' float64 taps give 270.00000000000006 and the
    # library says 1. We must say 1 too.
    bgr = np.full((256, 256, 3), (144, 128, 128), np.uint8)
    u = cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV)[:, :, 1]
    assert (u == 135).all()
    ll = dwtdct.haar_ll(u)
    assert (ll > 270).all() and (u.astype(np.int64)[::2, ::2] * 2 % 36 == 18).all()
    assert dwtdct.decode(bgr, 32).all()


def test_tally_pools_frames_like_one_decode_per_frame() -> None:
    rng = np.random.default_rng(5)
    a = rng.integers(0, 256, (256, 320, 3), dtype=np.uint8)
    pooled = dwtdct.tally(dwtdct.block_votes(a), 46)
    pooled += dwtdct.tally(dwtdct.block_votes(a), 46)
    single = dwtdct.tally(dwtdct.block_votes(a), 46)
    assert np.array_equal(pooled.bits(), single.bits())
    assert int(pooled.totals.sum()) == 2 * int(single.totals.sum()) == 2 * (256 // 8) * (320 // 8)


def test_too_small_is_refused_like_the_library() -> None:
    with pytest.raises(ValueError):
        dwtdct.decode(np.zeros((255, 256, 3), np.uint8), 48)
    # rows×cols is what counts, not each side (the library's check): 128×512 decodes
    assert dwtdct.decode(np.zeros((128, 512, 3), np.uint8), 48).shape == (48,)


def test_payload_table_values() -> None:
    table = {p.name: p for p in load_payloads()}
    assert set(table) == {"sd1", "sd2", "sdxl", "flux1"}
    assert table["sd1"].length == 136
    assert np.packbits(table["sd1"].bits).tobytes() == b"StableDiffusionV1"
    assert np.packbits(table["sd2"].bits).tobytes() == b"SDV2"
    sdxl = "".join("1" if b else "0" for b in table["sdxl"].bits)
    assert sdxl == bin(0xB3EC907BB19E)[2:]
    flux = "".join("1" if b else "0" for b in table["flux1"].bits)
    assert flux == bin(0b001010101111111010000111100111001111010100101110)[2:]
    assert len(flux) == 46  # bin() drops the two leading zeros of the 48-bit constant
    assert table["sdxl"].domains == ("uint8", "float") == table["flux1"].domains
    assert table["sd1"].domains == ("uint8",) == table["sd2"].domains


def test_thresholds_are_the_binomial_derivation() -> None:
    assert binomial_tail(48, 36) == pytest.approx(3.586e-4, rel=1e-3)
    assert binomial_tail(48, 34) == pytest.approx(2.758e-3, rel=1e-3)
    assert binomial_tail(48, 0) == 1.0 and binomial_tail(48, 49) == 0.0
    # the 48-bit row is Stability's own; others follow from equal chance tails
    for p in load_payloads():
        for band, t48 in (("very_likely", 36), ("likely", 34), ("review", 32)):
            t = p.thresholds[band]
            assert t == derive_threshold(p.length, binomial_tail(48, t48))
            assert binomial_tail(p.length, t) <= binomial_tail(48, t48)
            assert binomial_tail(p.length, t - 1) > binomial_tail(48, t48)
    assert {p.name: p.thresholds["very_likely"] for p in load_payloads()} == {
        "sd1": 89, "sd2": 26, "sdxl": 36, "flux1": 35}


def test_a_table_that_disagrees_with_the_arithmetic_is_refused(tmp_path: Path) -> None:
    text = DATA.read_text().replace("very_likely = 89", "very_likely = 80")
    assert text != DATA.read_text()
    bad = tmp_path / "payloads.toml"
    bad.write_text(text)
    with pytest.raises(ValueError, match="sd1: very_likely threshold 80"):
        load_payloads(bad)


def test_chance_decodes_of_unmarked_pixels_never_band() -> None:
    # Uniform noise decodes to coin-flip bits. Over 40 frames × 12 tests, some bit counts reach
    # a band by chance; the block-consistency check keeps every one of them out.
    payloads = load_payloads()
    rng = np.random.default_rng(11)
    by_bits_alone = 0
    for _ in range(40):
        a = Analysis(payloads)
        a.add(rng.integers(0, 256, (256, 384, 3), dtype=np.uint8))
        for m in a.matches:
            assert m.band is None
            assert abs(m.z) < 5
            by_bits_alone += m.payload.band(m.matched) is not None
    assert by_bits_alone > 0  # the situation the check exists for did occur


def test_picture_structure_lined_up_with_the_bit_layout_is_not_a_mark() -> None:
    # A smooth horizontal gradient 768 px wide: 96 blocks per row = two 48-bit words, so every
    # SDXL bit position sees the same two columns in every row. Its bits reach the review band
    # and its block z is far above Z_MIN (the votes are not independent), but payload-balanced
    # random words find the same "signal" everywhere: the ratio keeps it out.
    x = np.linspace(0, 1, 768)[None, :, None]
    a, b = np.array([60.0, 100.0, 0.0]), np.array([30.0, 160.0, 255.0])
    img = np.clip(np.rint(np.repeat(a * (1 - x) + b * x, 256, axis=0)), 0, 255).astype(np.uint8)
    analysis = Analysis(load_payloads())
    analysis.add(img)
    (m,) = [m for m in analysis.matches if m.payload.name == "sdxl" and m.order == "bgr"
            and m.domain == "uint8"]
    assert m.payload.band(m.matched) == "review" and m.z > 2 * Z_MIN
    assert m.null_sd > 4 and m.ratio < R_MIN / 2
    assert m.band is None
    assert all(x.band is None for x in analysis.matches)
