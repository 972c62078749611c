"""Invisible-watermark detector: the ``invisible-watermark`` (imwatermark) ``dwtDct`` marks that
the reference code of Stable Diffusion 1.x/2.x, SDXL, Stable Video Diffusion and FLUX.1 embeds,
decoded from the pixels without model weights (decoder: ``detectors/watermark/dwtdct.py``; payloads and
thresholds: ``detectors/data/watermark_payloads.toml``; method: the ``invisible-watermark``
library, https://github.com/ShieldMnt/invisible-watermark).

What is decoded
    Only pictures that can still carry an intact mark. The mark survives only at the size a
    generator wrote it or a bottom/right crop of that (any resize and any top/left crop destroy
    it, see the survival table below), so the header's dimensions are checked first against
    the size table ``detectors/data/watermark_sizes.toml`` (``sizes.py``: each marking path's
    native sizes and practical ceiling, with its source): stills up to 3082 px a side / 9.5 MP
    (SD reference grids and the SD 2.x x4 upscaler; single outputs up to 2048 px / 4.2 MP),
    video frames up to 2048 px / 4.2 MP (SVD, and stills assembled into clips). A camera-size
    still or a 4K/2.7K frame is "not applicable" with a note saying why, before any pixel is
    decoded: PNG/JPEG headers (a header that contradicts itself, two SOF or two IHDR, is an
    error), Pillow's lazy open for other stills (``headers.py``). ``precheck`` is that cheap
    test (``reads = "pixels"``). A video is sized by its decoder, never by the container alone
    (a forged ``stsd`` would hide the stream): FFmpeg's size of every video stream after reading
    the codec headers (PyAV), then OpenCV's; a second video stream that could carry a mark is not
    decoded and makes the scan incomplete. Pixels are read as stored (EXIF Orientation and
    video rotation metadata are not applied: turning the picture moves the mark).
    ``any_size = true`` decodes every size again.

    Images within the table and ``max_pixels`` (default 40 MP) are read in full (a multi-frame
    still: every frame or page within the table, each on its own, up to ``image_frames``,
    default 8; more is an incomplete scan) with OpenCV as Stability's ``detect.py`` reads them (Pillow as
    fallback). Videos: a handful of frames spread over the clip (default 6, at most
    ``video_seconds``, default 10 s, OpenCV/FFmpeg; clips up to 300 frames are read front to
    back, decoding only, since every seek decodes again from the last keyframe), their block
    votes pooled (SVD marks every frame). The decoder needs rows×cols ≥ 256×256 (the
    library's own check). Too small, too large or switched off is a qualified "not checked".
    Settings (a policy's ``[detectors.watermark]``, or ``--set watermark.<key>=…``):
    ``max_pixels`` (0 = off), ``video_frames`` (0 = no video), ``video_seconds``,
    ``image_frames``, ``any_size``.

Early stops
    A still is read in four interleaved parts of its block rows (every fourth 8-line band, so
    each part spans the picture; votes bit-identical to a whole read), cheap uint8 reads
    first; a variant whose votes are clearly null after a part is not read further. A clip
    stops after the frames read so far are clearly null. "Clearly null" is the binomial
    reasoning of the bands: the consistency z is a normal approximation with standard error
    1 that grows as sqrt(votes), and a band needs z ≥ ``Z_MIN``; the votes are clearly null
    when sqrt(total / seen) × (z + 2) < ``Z_MIN`` for every payload of the variant (for a clip:
    every variant), i.e. even a mark two standard errors stronger than the one seen could not
    reach a band. On the bench's clean and marked sets no verdict changed (results:
    ``bench/results/watermark.md``).

Variants tried (12 tests per file)
    Both channel orders: the file as BGR, as the library expects, and as RGB (diffusers hands RGB
    to the encoder as if it were BGR). For SDXL/SVD and FLUX.1, whose reference code hands *float*
    arrays in [0, 255] to the encoder, also the "float" U centring: OpenCV centres U at 0.5 for
    float input instead of 128, so in the saved file the marked quantity is U - 127.5, and the
    library's own decoder reads every block whose marked coefficient was negative (warm colours)
    inverted. On 151 images marked through the generative-models path, the library's decoder
    with Stability's bands finds 88 (58%), this detector 139 (92%); FLUX.1 89 → 136 of 149.

Verdict and tier
    Matching bits out of L, banded as Stability's ``scripts/demo/detect.py`` does for 48 bits:
    ≥ 36 "very likely" → ``ai``, 34–35 "likely" → ``ai``, then a ``review`` band. The tier is
    always ``suspected``: the design keeps ``verified``/``declared``/``matched`` for signatures,
    metadata and register matches, and a watermark is statistical pixel evidence that chance or
    a forger can produce; its strength is in the rule id (``watermark.<payload>.very_likely |
    likely | partial``, which a policy can set to different modes) and ``evidence["band"]``.
    One finding per file, the banded payload least likely by chance: marks cannot coexist (a
    second encode rewrites the same coefficients) and ASCII payloads share structure (every
    byte's top bit is 0), so an SD 2.x mark also lifts the SD 1.x count.

    Thresholds for 32/46/136 bits are derived, not chosen: per band, the least t with
    P(X ≥ t | Bin(L, 1/2)) no larger than the 48-bit band's tail (``derive_threshold``; the data
    file is checked against it at load). Chance per test:

    ====== ============== ============== ==============
    L      very likely    likely         review
    ====== ============== ============== ==============
    48     36 (3.6e-4)    34 (2.8e-3)    32 (1.5e-2)
    32     26 (2.7e-4)    25 (1.1e-3)    23 (1.0e-2)
    46     35 (2.7e-4)    33 (2.3e-3)    31 (1.3e-2)
    136    89 (2.0e-4)    85 (2.2e-3)    82 (1.0e-2)
    ====== ============== ============== ==============

    Departures from a bare bit count, because 12 tests run on every image of a delivery and
    pictures are not coin flips:

    - Busy unmarked pixels decode to coin-flip words: 12 such tests reach "likely" on ~2.7% of
      images by the binomial alone. Structured pictures are worse: when the picture's layout
      lines up with the bit layout (e.g. 768 px wide = 96 blocks = two 48-bit words per row) a
      gradient alone reaches 33/48. So every band also needs the block votes to carry the
      payload: z ≥ ``Z_MIN`` (``Tally.zscore``: blocks at the payload's 1-positions vote 1 more
      often than those at its 0-positions) and z / spread ≥ ``R_MIN``, the spread being that of
      z over 256 seeded payload-balanced random words on the same votes (a mark adds nothing to
      theirs, picture structure adds to theirs what it adds to the payload's; floored at 1).
    - ``review`` starts at the 48-bit equivalent of 32, not Stability's 28 ("partial match,
      cannot determine"), which 16% of coin-flip decodes reach per test.

Measured (``bench/bench_watermark.py --synthetic 3000 --extra DIR``, 2026-11-25)
    False positives, none: 0 findings on the 132 clean images ≥ 256×256 among 5,091 image files
    under ``fixtures/``, ``../shared/corpus``, site-packages, ``/usr/share/{icons,pixmaps,doc}``
    and the matplotlib + scikit-image sample photos (the rest too small or unreadable), and 0 on
    3,000 seeded synthetic images (smooth fields, gradients, 1/f textures, noise, shapes, blur,
    grey, JPEG round trips, flat). Without the consistency checks (bit count alone, 12 tests)
    the synthetic set gave 21 ``ai`` (0.7%) and 102 ``review``; Stability's 28 would have marked
    1,959 of 3,000 synthetic and 27 of 132 real images "partial". Closest clean tests: z 7.2
    with ratio 3.1, ratio 4.7 with z 5.2 (both must reach 6).

    Survival, share flagged ``ai`` for sd1 / sd2 / sdxl / flux1, over 599 marked images (the
    fixtures, plus 141 clean real images and 23 synthetic ones marked with all four payloads
    through their generators' pipelines):

    ========================= ===================== =======================================
    handling                  flagged ai            note
    ========================= ===================== =======================================
    as saved, PNG re-save     87 / 84 / 92 / 91 %   library decoder alone: 87 / 84 / 58 / 60
    JPEG q95 4:4:4            88 / 83 / 91 / 91 %   full-resolution chroma kept
    crop 64 rows at bottom    84 / 83 / 90 / 89 %   block grid and row width unchanged
    JPEG q95 (4:2:0)          9 / 5 / 14 / 7 %
    JPEG q90                  2 / 1 / 1 / 2 %
    crop 64 px at right       55 / 0 / 0 / 0 %      row width changes the bit layout
    crop 3 or 8 px top-left   0 %                   grid moved / word rotated
    resize ×0.5, ×0.9, ×1.5   0 %
    H.264 CRF 18 4:2:0        SVD fixture found     6 frames pooled
    ========================= ===================== =======================================

    The misses "as saved" are pictures on which the library's own decoder fails as well (mostly
    saturated or two-tone content: the encoder's clipping eats the mark). Cost, best of 5 on the shared 2-core machine under load: 8.3 MP frame
    128 ms/MP from PNG, 64 ms/MP from JPEG (decode of the 4 variants alone 100–180 ms/MP on
    noise); six 320×256 video frames 340 ms.

Cost
    The decode needs every pixel: a full read, bounded (size table, ``max_pixels``, frames,
    time budget) and reported in coverage. Measured before/after the size table and the early
    stops in ``bench/results/watermark.md``. Policy can turn it off (``max_pixels = 0``;
    ``mode = "off"`` drops the findings); ``--disable watermark`` skips the detector.
"""

from detectors.watermark import sizes
from detectors.watermark.analysis import (
    NULL_PATTERNS,
    R_MIN,
    Z_MIN,
    Analysis,
    Match,
    analyse,
    null_patterns,
)
from detectors.watermark.detector import WatermarkDetector
from detectors.watermark.payloads import (
    BANDS,
    DATA,
    Payload,
    binomial_tail,
    derive_threshold,
    load_payloads,
)

__all__ = ["BANDS", "DATA", "NULL_PATTERNS", "R_MIN", "Z_MIN", "Analysis", "Match", "Payload",
           "WatermarkDetector", "analyse", "binomial_tail", "derive_threshold", "load_payloads",
           "null_patterns", "sizes"]
