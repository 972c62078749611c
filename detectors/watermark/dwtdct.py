"""Decoder for the ``dwtDct`` invisible watermark of the ``invisible-watermark`` package.

Written from the published method (github.com/ShieldMnt/invisible-watermark), not from the library's code, so that
deliverscan can read the Stable Diffusion / SDXL / SVD / FLUX.1 marks without that package
(which hard-depends on torch). Only NumPy and OpenCV are used; the tests check the result bit
for bit against vectors decoded once by the library itself (``fixtures/watermark/vectors.json``).

The method, as the library applies it with its default parameters (scales ``[0, 36, 36]``,
block 4):

1. BGR → YUV with OpenCV (8-bit, OpenCV's own fixed-point conversion: we call the same
   function, so the U plane is identical);
2. only channel 1 (U) carries the mark (the channel loop covers 0 and 1 and Y has scale 0);
3. one-level Haar DWT of U cropped to a multiple of 4 in both directions; only LL is used;
4. LL is tiled in 4×4 blocks in raster order; block *n* carries bit ``n mod L``;
5. per block, the largest-magnitude coefficient other than the first one votes 1 when
   ``|v| mod 36 > 18`` (note: this is the LL *sample*, there is no DCT on the decode side);
6. per bit position, the votes are averaged and the bit is 1 when ``mean * 255 > 127``.

Exactness matters: LL samples of 8-bit data are half-integers in exact arithmetic, so ties in
step 5 (two equal magnitudes, or ``|v| mod 36`` exactly 18) are common, and which way they fall
depends on the last bit of the floating-point result. ``haar_ll`` therefore reproduces
PyWavelets' ``dwt2(x, 'haar')`` LL band to the bit: the filter tap is the float64 value
``0.7071067811865476`` (not 1/2 for the product), applied along rows first, then columns, each as
``a*c + b*c``. Step 6 uses the same float64 ``count / n`` then ``* 255 > 127`` as the library.

Votes do not depend on the payload length, so one pass over the image serves every payload:
``block_votes`` once per channel order, then ``tally`` per length. The image is processed in
horizontal stripes so memory stays bounded for large frames.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from detectors.lazy import lazy

if TYPE_CHECKING:
    import cv2
    import numpy as np
else:
    cv2 = lazy("cv2")
    np = lazy("numpy")

SCALE = 36
BLOCK = 4
# The library refuses images with fewer pixels than this (it checks rows*cols, not each side).
MIN_PIXELS = 256 * 256
# PyWavelets' Haar decomposition tap (float64 nearest to 1/sqrt(2)).
HAAR_TAP = 0.7071067811865476  # multiplies float64 arrays only: same as np.float64
# Rows per stripe: a multiple of 8 (4×4 LL blocks = 8×8 pixels) so stripes align with blocks.
STRIPE_ROWS = 512

ORDERS = ("bgr", "rgb")
_CONVERSIONS = {"bgr": "COLOR_BGR2YUV", "rgb": "COLOR_RGB2YUV"}  # cv2 names (cv2 loads lazily)
# Where U is centred when the mark was embedded. "uint8": the library's decode (OpenCV puts U of
# 8-bit input at 128). "float": encoders handed float arrays in [0, 255] (generative-models
# SDXL/SVD, FLUX.1, diffusers) had OpenCV centre U at 0.5 (its offset for float input), so in the
# saved 8-bit file the marked quantity is U - 127.5; read at 128, blocks whose marked coefficient
# was negative decode inverted.
DOMAINS = ("uint8", "float")
_U_OFFSET = {"uint8": 0.0, "float": 127.5}


def haar_ll(plane: np.ndarray) -> np.ndarray:
    """LL band of a one-level Haar DWT, bit-identical to ``pywt.dwt2(plane, 'haar')[0]`` for
    even-sized input (rows first, then columns, each output ``a*c + b*c`` in float64)."""
    x = plane.astype(np.float64, copy=False)
    rows = x[0::2] * HAAR_TAP + x[1::2] * HAAR_TAP
    return rows[:, 0::2] * HAAR_TAP + rows[:, 1::2] * HAAR_TAP


def _ll_votes(ll: np.ndarray) -> np.ndarray:
    """One 0/1 vote per complete 4×4 block of ``ll``, in raster order."""
    nbr, nbc = ll.shape[0] // BLOCK, ll.shape[1] // BLOCK
    if nbr == 0 or nbc == 0:
        return np.zeros(0, dtype=np.uint8)
    grid = ll[: nbr * BLOCK, : nbc * BLOCK].reshape(nbr, BLOCK, nbc, BLOCK)
    blocks = grid.transpose(0, 2, 1, 3).reshape(nbr * nbc, BLOCK * BLOCK)
    rest = np.abs(blocks[:, 1:])
    peak = np.take_along_axis(rest, np.argmax(rest, axis=1)[:, None], axis=1)[:, 0]
    return (np.remainder(peak, SCALE) > SCALE * 0.5).astype(np.uint8)


def u_plane(image: np.ndarray, order: str = "bgr") -> np.ndarray:
    """The 8-bit U plane of ``image`` read as ``order`` ("bgr": as OpenCV reads files, the
    library's convention; "rgb": the same array taken as RGB, which is what an encoder that
    was handed RGB as if it were BGR produced), cut to the lines and columns whole blocks
    cover. One conversion serves both U centrings of an order (``plane_votes``)."""
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"need an 8-bit 3-channel image, got {image.dtype} {image.shape}")
    # LL has rows/2 lines; complete blocks cover the first (rows/2)//4*4 of them, i.e. the first
    # rows//8*8 image lines (and the first cols//4*4 columns).
    used, cols = image.shape[0] // 8 * 8, image.shape[1] // 4 * 4
    return cv2.cvtColor(image[:used, :cols], getattr(cv2, _CONVERSIONS[order]))[:, :, 1]


def plane_votes(u: np.ndarray, domain: str = "uint8") -> np.ndarray:
    """Per-block votes of a ``u_plane`` with U centred as ``domain`` says (``"uint8"`` is
    exactly the library's decode), in stripes of ``STRIPE_ROWS`` lines (whole block rows) so
    the float64 work stays bounded on large frames."""
    offset = _U_OFFSET[domain]
    parts: list[np.ndarray] = []
    for top in range(0, u.shape[0], STRIPE_ROWS):
        stripe = u[top: top + STRIPE_ROWS]
        plane = stripe if offset == 0.0 else stripe.astype(np.float64) - offset
        parts.append(_ll_votes(haar_ll(plane)))
    if not parts:
        return np.zeros(0, dtype=np.uint8)
    return np.concatenate(parts)


def block_votes(image: np.ndarray, order: str = "bgr", domain: str = "uint8") -> np.ndarray:
    """Per-block votes of an 8-bit 3-channel image read as ``order`` with U centred as
    ``domain`` says (see ``u_plane`` and ``plane_votes``)."""
    return plane_votes(u_plane(image, order), domain)


def group_bands(image: np.ndarray, group: int, groups: int) -> tuple[np.ndarray, np.ndarray]:
    """The 8-line bands of the block rows ``r`` with ``r % groups == group``, stacked into
    one picture, and the whole-image block number of each of its blocks. Whole bands keep
    every Haar pair and 4×4 block intact, so their votes are bit-identical to the ones a
    whole read gives those blocks; groups spread evenly over the picture."""
    rows, cols = image.shape[0] // 8 * 8, image.shape[1] // 4 * 4
    nbr, nbc = rows // 8, cols // 8
    picked = np.arange(group, nbr, groups)
    if picked.size == 0 or nbc == 0:
        return image[:0, :cols], np.zeros(0, dtype=np.int64)
    bands = image[:rows, :cols].reshape(nbr, 8, cols, 3)[picked].reshape(-1, cols, 3)
    numbers = (picked[:, None] * nbc + np.arange(nbc)[None, :]).reshape(-1)
    return bands, numbers


def group_votes(image: np.ndarray, order: str, domain: str, group: int,
                groups: int) -> tuple[np.ndarray, np.ndarray]:
    """``block_votes`` of one ``group_bands`` group, with the block numbers of its votes."""
    bands, numbers = group_bands(image, group, groups)
    return block_votes(bands, order, domain), numbers


@dataclass
class Tally:
    """Votes for 1 and total votes per bit position of an ``L``-bit payload; tallies of several
    frames add up (each frame restarts block numbering at bit 0, as the library does)."""

    ones: np.ndarray
    totals: np.ndarray

    @classmethod
    def empty(cls, length: int) -> Tally:
        return cls(np.zeros(length, dtype=np.int64), np.zeros(length, dtype=np.int64))

    def __iadd__(self, other: Tally) -> Tally:
        self.ones = self.ones + other.ones
        self.totals = self.totals + other.totals
        return self

    def bits(self) -> np.ndarray:
        """Decoded bits, the library's rule: mean vote ``* 255 > 127`` (no votes → 0)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = self.ones.astype(np.float64) / self.totals
        return np.nan_to_num(mean, nan=0.0) * 255 > 127

    def agreement(self, payload: np.ndarray) -> float:
        """Fraction of all block votes that agree with ``payload`` (≈0.5 by chance on busy
        images, ≈1.0 on a pristine mark): a finer view than the count of matching bits."""
        total = int(self.totals.sum())
        if total == 0:
            return 0.0
        agree = np.where(payload.astype(bool), self.ones, self.totals - self.ones)
        return float(agree.sum()) / total


    def split(self, payload: np.ndarray) -> tuple[int, int, int, int]:
        """(ones, votes) over the payload's 1-positions, then over its 0-positions."""
        mask = payload.astype(bool)
        return (int(self.ones[mask].sum()), int(self.totals[mask].sum()),
                int(self.ones[~mask].sum()), int(self.totals[~mask].sum()))

    def zscore(self, payload: np.ndarray) -> float:
        """Two-proportion z of "blocks at the payload's 1-positions vote 1 more often than blocks
        at its 0-positions". Independent votes give |z| of a few at most; a mark gives tens.
        Negative z means the pattern is there but inverted."""
        return float(self.zscores(payload[None, :])[0])

    def zscores(self, patterns: np.ndarray) -> np.ndarray:
        """``zscore`` for each row of a (k, L) 0/1 matrix at once."""
        m = patterns.astype(np.float64)
        ones = self.ones.astype(np.float64)
        totals = self.totals.astype(np.float64)
        ones1, n1 = m @ ones, m @ totals
        ones0, n0 = ones.sum() - ones1, totals.sum() - n1
        p = ones.sum() / totals.sum() if totals.sum() else 0.0
        with np.errstate(invalid="ignore", divide="ignore"):
            z = (ones1 / n1 - ones0 / n0) / np.sqrt(p * (1 - p) * (1 / n1 + 1 / n0))
        return np.nan_to_num(z, nan=0.0, posinf=0.0, neginf=0.0)


def tally(votes: np.ndarray, length: int, numbers: np.ndarray | None = None) -> Tally:
    """Group one frame's block votes by bit position (block ``n`` → bit ``n mod length``;
    ``numbers``: the block numbers of ``votes`` when they are not 0, 1, 2...)."""
    positions = (np.arange(votes.size) if numbers is None else numbers) % length
    ones = np.bincount(positions, weights=votes, minlength=length).astype(np.int64)
    totals = np.bincount(positions, minlength=length).astype(np.int64)
    return Tally(ones, totals)


def decode(image: np.ndarray, length: int, order: str = "bgr") -> np.ndarray:
    """Decoded bits of an ``length``-bit payload, as the library's ``decode(img, 'dwtDct')``
    returns them for ``image`` (or for ``image[..., ::-1]`` when ``order`` is "rgb")."""
    if image.shape[0] * image.shape[1] < MIN_PIXELS:
        raise ValueError("image too small: the decoder needs at least 256×256 pixels")
    return tally(block_votes(image, order), length).bits()
