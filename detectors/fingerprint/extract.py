"""Decode media and compute the fingerprints that go into the register (and that a scan
computes on deliverables): PDQ per still or sampled frame, ORB features of stills, audio
landmarks of audio files and of video soundtracks.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import cv2
import numpy as np
from PIL import Image

from detectors.api import open_readonly
from detectors.fingerprint import audio as audio_fp
from detectors.fingerprint import features as feat
from detectors.fingerprint import pdq
from detectors.fingerprint import timecode as tc
from detectors.fingerprint import video as video_fp

MAX_PIXELS = 100_000_000  # refuse to decode larger images (decompression bombs)
HASH_PIXELS = 16_000_000  # larger images are reduced while decoding (bounded memory)
REGISTER_RATE = 2.0  # frames per second sampled from registered video
SCAN_RATE = 1.0  # ... and from deliverables
FRAME_SIDE = 512
# Registered video frames kept for local features: one every VIDEO_FEATURE_EVERY seconds,
# at most VIDEO_FEATURE_MAX per clip, spread over the whole of a longer clip (the first
# VIDEO_FEATURE_MAX alone left the rest of a long previs clip with no local features: a
# reframe or an inset of its later part could not be found). One a second was tried: out
# points of reframed inserts came closer, but a picture-in-picture insert was lost
# (bench/results/register-sweep.md, run G)
VIDEO_FEATURE_EVERY = 2.0
VIDEO_FEATURE_MAX = 24
VIDEO_FEATURES = 600  # ORB features per registered video frame
BAR_LEVEL = 28  # luma (0-255) under which an edge row/column can be a letterbox bar
BAR_MIN = 0.02  # bars narrower than this share of the side are left alone
HASH_SIDE = 160  # px: stills and frames are reduced to this before PDQ (see hash_input)
# Extra registered hashes of each still/frame (variant numbers after PDQ's 8 dihedral ones):
# centre crops (a reframe scales the picture up and moves it) and the picture without its
# bottom fifth (burnt-in titles, subtitles and lower thirds sit there), each also mirrored.
CROPS = (("crop87", 0.87, 0.87, 0.5), ("crop75", 0.75, 0.75, 0.5),
         ("top80", 1.0, 0.80, 0.0))
# Stills used as key art are cropped to a poster or grid cell's aspect: centre crops to the
# common cell shapes (width / height), registered for stills only.
CELL_ASPECTS = (("cell 1:1", 1.0), ("cell 4:5", 0.8), ("cell 2:3", 2 / 3), ("cell 16:9", 16 / 9),
                ("cell 3:2", 1.5))
VARIANTS = (pdq.DIHEDRAL + tuple(n for c in CROPS for n in (c[0], c[0] + "+flipy"))
            + tuple(c[0] for c in CELL_ASPECTS))
INSET_MIN = 0.015  # share of the image an inset (a framed picture in a composite) must cover
INSETS_MAX = 24


class MediaError(Exception):
    """The file could not be decoded into pixels or samples."""


@dataclass
class Fingerprint:
    kind: str
    width: int | None = None
    height: int | None = None
    duration: float | None = None
    pdq: list[tuple[float | None, int, int, bytes]] = field(default_factory=list)
    features: list[tuple[float | None, feat.Features]] = field(default_factory=list)
    audio: audio_fp.Landmarks | None = None
    waveforms: list[np.ndarray] = field(default_factory=list)  # per audio track, for the
    # waveform search (``waveform.RATE``, the first ``audio.SPEED_MAX_SECONDS``)
    notes: list[str] = field(default_factory=list)
    timing: dict[str, object] = field(default_factory=dict)
    thumb: bytes = b""  # small JPEG of the still or of the clip's first detailed frame


def bars(rgb: np.ndarray) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) of the picture inside letterbox/pillarbox bars (dark, flat edge rows
    and columns); the whole image when there are none.

    Why: a 2.39 master delivered in a 16:9 frame (or a 4:3 shot pillarboxed) adds black bars
    that shift every PDQ coefficient; hashing the picture inside them undoes that."""
    y = rgb if rgb.ndim == 2 else cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    h, w = y.shape[:2]
    if h < 16 or w < 16:
        return 0, 0, w, h
    dark_rows = (y.max(axis=1) < BAR_LEVEL) & (y.std(axis=1) < 6)
    dark_cols = (y.max(axis=0) < BAR_LEVEL) & (y.std(axis=0) < 6)

    def run(flags: np.ndarray) -> int:
        nz = np.nonzero(~flags)[0]
        return int(nz[0]) if len(nz) else len(flags)

    top, bottom = run(dark_rows), run(dark_rows[::-1])
    left, right = run(dark_cols), run(dark_cols[::-1])
    if top + bottom >= h * 0.8 or left + right >= w * 0.8:
        return 0, 0, w, h  # a dark frame, not bars
    top, bottom = (top, bottom) if max(top, bottom) >= BAR_MIN * h else (0, 0)
    left, right = (left, right) if max(left, right) >= BAR_MIN * w else (0, 0)
    return left, top, w - right, h - bottom


def strip_bars(rgb: np.ndarray) -> np.ndarray:
    x0, y0, x1, y1 = bars(rgb)
    return rgb[y0:y1, x0:x1]


def hash_input(rgb: np.ndarray) -> np.ndarray:
    """What PDQ sees of a still or frame, the same on both sides of a match: the picture inside
    its bars, reduced (area average) to ``HASH_SIDE``.

    Why reduce first: PDQ blurs every image down to 64x64 anyway; doing the first 90 % of that
    with OpenCV's area filter costs a millisecond instead of 20 (the tent filter then works on
    160 px), and hashes of the same picture at any resolution agree as before."""
    h, w = rgb.shape[:2]
    s = HASH_SIDE / max(h, w)
    if s < 1.0:
        rgb = cv2.resize(rgb, (max(1, round(w * s)), max(1, round(h * s))),
                         interpolation=cv2.INTER_AREA)
    return strip_bars(rgb)


def _crop(y: np.ndarray, fw: float, fh: float, top: float) -> np.ndarray:
    h, w = y.shape[:2]
    nw, nh = max(8, round(w * fw)), max(8, round(h * fh))
    x0 = (w - nw) // 2
    y0 = round((h - nh) * top)
    return np.ascontiguousarray(y[y0:y0 + nh, x0:x0 + nw])


def register_hashes(rgb: np.ndarray) -> tuple[list[tuple[int, bytes]], int]:
    """The hashes kept for a registered still or frame: the 8 dihedral PDQ hashes of the
    picture (bars stripped) and of its crop variants; returns them and the PDQ quality."""
    pic = hash_input(rgb)
    res = pdq.pdq_dihedral_pixels(pic)
    out = list(enumerate(res.hashes))
    y = pdq.luma(pic)
    k = len(pdq.DIHEDRAL)
    for name, fw, fh, top in CROPS:
        c = _crop(y, fw, fh, top)
        out.append((k, pdq.pdq_luma(c, dihedral=False).hash))
        out.append((k + 1, pdq.pdq_luma(np.ascontiguousarray(c[:, ::-1]), dihedral=False).hash))
        k += 2
        del name
    return out, res.quality


THUMB_SIDE = 160  # px, longest side of the thumbnails a match carries for a quick look


def thumbnail(rgb: np.ndarray, box: tuple[int, int, int, int] | None = None,
              side: int = THUMB_SIDE) -> bytes:
    """A small JPEG of ``rgb`` (or of ``box`` in it, with a little margin): what a person
    looks at to confirm a match in seconds. Deterministic bytes for the same pixels."""
    if box is not None:
        h, w = rgb.shape[:2]
        x0, y0, x1, y1 = box
        mx, my = (x1 - x0) // 10, (y1 - y0) // 10
        rgb = rgb[max(0, y0 - my):min(h, y1 + my), max(0, x0 - mx):min(w, x1 + mx)]
    h, w = rgb.shape[:2]
    if h < 2 or w < 2:
        return b""
    s = min(1.0, side / max(h, w))
    small = cv2.resize(rgb, (max(1, round(w * s)), max(1, round(h * s))),
                       interpolation=cv2.INTER_AREA)
    ok, enc = cv2.imencode(".jpg", cv2.cvtColor(small, cv2.COLOR_RGB2BGR),
                           [cv2.IMWRITE_JPEG_QUALITY, 80])
    return enc.tobytes() if ok else b""


def cell_hashes(rgb: np.ndarray) -> list[tuple[int, bytes]]:
    """Hashes of centre crops of a still to the usual cell aspects (key-art grids)."""
    pic = strip_bars(rgb)
    h, w = pic.shape[:2]
    out = []
    k = len(pdq.DIHEDRAL) + 2 * len(CROPS)
    for _name, aspect in CELL_ASPECTS:
        if w / h > aspect:
            nw, nh = max(8, round(h * aspect)), h
        else:
            nw, nh = w, max(8, round(w / aspect))
        x0, y0 = (w - nw) // 2, (h - nh) // 2
        out.append((k, query_hash(np.ascontiguousarray(pic[y0:y0 + nh, x0:x0 + nw])).hash))
        k += 1
    return out


def insets(rgb: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Framed rectangles in a composite (poster cells, picture-in-picture, insets with
    borders): (x0, y0, x1, y1) boxes just inside their edges, largest first.

    Why: a registered still placed in a cell keeps its own PDQ if the cell is hashed on its
    own; four straight edges around it are what a layout leaves."""
    h, w = rgb.shape[:2]
    s = min(1.0, 1024 / max(h, w))
    small = rgb if s >= 1.0 else cv2.resize(rgb, (round(w * s), round(h * s)),
                                            interpolation=cv2.INTER_AREA)
    gray = small if small.ndim == 2 else cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
    edges = cv2.dilate(cv2.Canny(gray, 40, 120), np.ones((3, 3), np.uint8))
    contours, _ = cv2.findContours(edges, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    sh, sw = gray.shape[:2]
    boxes: list[tuple[int, int, int, int]] = []
    for c in contours:
        x, y, bw, bh = cv2.boundingRect(c)
        if bw * bh < INSET_MIN * sw * sh or bw * bh > 0.92 * sw * sh:
            continue
        if not 0.2 <= bw / max(bh, 1) <= 5:
            continue
        peri = cv2.arcLength(c, True)
        approx = cv2.approxPolyDP(c, 0.02 * peri, True)
        if len(approx) != 4 or cv2.contourArea(approx) < 0.85 * bw * bh:
            continue
        m = max(2, round(0.02 * min(bw, bh)))  # inside the border line
        box = (x + m, y + m, x + bw - m, y + bh - m)
        if any(_iou(box, b) > 0.8 for b in boxes):
            continue
        boxes.append(box)
    boxes.sort(key=lambda b: -(b[2] - b[0]) * (b[3] - b[1]))
    return [(round(b[0] / s), round(b[1] / s), round(b[2] / s), round(b[3] / s))
            for b in boxes[:INSETS_MAX]]


def _iou(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / max(union, 1)


def query_hash(rgb: np.ndarray) -> pdq.PdqResult:
    """The PDQ a deliverable's still or frame is looked up by (see :func:`hash_input`)."""
    return pdq.pdq_rgb(hash_input(rgb), dihedral=False)


def load_rgb(path: str) -> np.ndarray:
    """First frame of an image as HxWx3 uint8 RGB, refusing decompression bombs."""
    with open_readonly(path) as fh, warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            im: Image.Image = Image.open(fh)
            w, h = im.size
            if w * h > MAX_PIXELS:
                raise MediaError(f"image too large to fingerprint ({w}x{h})")
            if w * h > HASH_PIXELS:
                # JPEG decodes at 1/2, 1/4, 1/8 directly; others are reduced after loading
                im.draft("RGB", (w // 2, h // 2))
            im.load()
            factor = 1
            while (im.width // factor) * (im.height // factor) > HASH_PIXELS:
                factor += 1
            if factor > 1:
                im = im.reduce(factor)
            if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
                im = im.convert("RGBA")
                bg = Image.new("RGBA", im.size, (255, 255, 255, 255))
                im = Image.alpha_composite(bg, im)
            rgb = np.asarray(im.convert("RGB"))
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombWarning,
                Image.DecompressionBombError) as exc:
            raise MediaError(f"cannot decode image: {exc}") from exc
    return rgb


def fingerprint_image(rgb: np.ndarray) -> Fingerprint:
    hashes, quality = register_hashes(rgb)
    fp = Fingerprint("image", width=int(rgb.shape[1]), height=int(rgb.shape[0]))
    fp.pdq = [(None, v, quality, h) for v, h in hashes + cell_hashes(rgb)]
    fp.thumb = thumbnail(rgb)
    if quality < 50:
        fp.notes.append(f"low PDQ quality {quality} (flat image): whole-image matches "
                        "are unreliable")
    fp.features = [(None, feat.extract(rgb, feat.REGISTER_SIDE, feat.REGISTER_FEATURES))]
    return fp


def fingerprint_video(path: str) -> Fingerprint:
    vi = video_fp.info(path)
    fp = Fingerprint("video", width=vi.width, height=vi.height)
    fp.timing = tc.probe(path).describe()
    last_t = 0.0
    next_feat = 0.0
    every = max(VIDEO_FEATURE_EVERY, vi.duration / VIDEO_FEATURE_MAX)
    for frame in video_fp.prefetched(video_fp.sample(path, rate=REGISTER_RATE,
                                                     max_side=FRAME_SIDE, fast=False,
                                                     last=True)):
        hashes, quality = register_hashes(frame.rgb)
        last_t = frame.t
        if quality < 50:
            continue  # flat frames (black, fades) match everything
        fp.pdq.extend((round(frame.t, 3), v, quality, h) for v, h in hashes)
        if not fp.thumb:
            fp.thumb = thumbnail(frame.rgb)
        # partial use of a clip (reframed, titled over, picture-in-picture) is found by
        # local features of some of its frames: one every ``every`` seconds (at most
        # VIDEO_FEATURE_MAX + 1 of those when the duration is known), and the first frame
        # of each shot while fewer than VIDEO_FEATURE_MAX are kept; never over twice that
        periodic = frame.t >= next_feat
        if (periodic or (frame.cut and len(fp.features) < VIDEO_FEATURE_MAX)) \
                and len(fp.features) < 2 * VIDEO_FEATURE_MAX:
            if periodic:
                next_feat = frame.t + every
            fp.features.append((round(frame.t, 3),
                                feat.extract(strip_bars(frame.rgb), feat.REGISTER_SIDE,
                                             VIDEO_FEATURES)))
    fp.duration = max(vi.duration, last_t)
    if not fp.pdq:
        fp.notes.append("no frame with enough detail to hash")
    # every track: a temp clip's VO may sit on track 2 beside its music
    tracks = audio_fp.audio_streams(path)
    if tracks:
        parts = [audio_fp.fingerprint_speeds(path, is_wav=False, stream=i)
                 for i in range(tracks)]
        fp.audio = audio_fp.union(parts)
        fp.waveforms = _waveforms(parts, fp.notes)
    return fp


def _waveforms(parts: list[audio_fp.Landmarks], notes: list[str]) -> list[np.ndarray]:
    """Each track's proxy for the waveform search; a note where only its start is kept."""
    out = [p.proxy for p in parts if p.proxy is not None]
    if any(p.duration > audio_fp.SPEED_MAX_SECONDS for p in parts):
        notes.append(f"waveform kept for the first {audio_fp.SPEED_MAX_SECONDS / 60:g} min "
                     "(later audio is matched by landmarks only)")
    return out


def fingerprint_audio(path: str, is_wav: bool) -> Fingerprint:
    tracks = 1 if is_wav else max(1, audio_fp.audio_streams(path))
    parts = [audio_fp.fingerprint_speeds(path, is_wav=is_wav, stream=i or None)
             for i in range(tracks)]
    lm = audio_fp.union(parts)
    fp = Fingerprint("audio", duration=lm.duration, audio=lm)
    fp.waveforms = _waveforms(parts, fp.notes)
    fp.timing = tc.probe(path).describe()
    if len(lm.hashes) < 50:
        fp.notes.append(f"only {len(lm.hashes)} landmarks (silent or very short audio)")
    return fp


def is_wav(media_type: str) -> bool:
    return media_type == "audio/wav"


def fingerprint_file(path: str, kind: str, media_type: str) -> Fingerprint:
    """Fingerprint a file of sniffed ``kind`` (image/video/audio) for the register."""
    try:
        if kind == "image":
            return fingerprint_image(load_rgb(path))
        if kind == "video":
            if not video_fp.has_picture(path) and audio_fp.has_audio_stream(path):
                # an audio-only container of a video family (IMF/Avid audio MXF)
                return fingerprint_audio(path, is_wav=False)
            return fingerprint_video(path)
        if kind == "audio":
            return fingerprint_audio(path, is_wav(media_type))
    except (video_fp.VideoError, audio_fp.DecodeError, cv2.error) as exc:
        raise MediaError(str(exc)) from exc
    raise MediaError(f"cannot fingerprint kind {kind!r}")


WINDOW_MIN = 0.04  # share of the frame a picture-in-picture window must cover
WINDOW_MAX = 0.7  # ... and at most (a larger one is the frame itself, for whole-frame PDQ)
WINDOW_SIDE_SUPPORT = 0.7  # share of each side of the box that must lie on a straight edge
WINDOWS_MAX = 6
SIDE_TRIES = 3  # lines tried for each of a window's left and right sides, outermost first
SIDE_ROWS = 8  # rows of a horizontal line searched for a window's top or bottom side


def windows(rgb: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Picture-in-picture windows in a video frame: (x0, y0, x1, y1) boxes just inside
    rectangles whose four sides are long straight edges, largest first.

    Why not :func:`insets`: over a textured background (gravel, foliage, crowds) Canny's
    edges of the texture touch the window's outline and its contour is never a clean
    quadrilateral. Long horizontal and vertical runs of steps, set along 90 % of a line as
    long as a tenth of the frame (``_runs``), stand out; texture does not. A window's side
    is such a run (its border, or the step between inset and background).

    A side is a step in any of the three colour channels, not only in the grey level: a
    borderless inset meets the background in hue as often as in brightness (a red retina
    over beige footage: along its left side the grey step fell under 24 on a third of the
    rows, every channel's stayed over it), and the sweep missed such an inset. The grey
    steps still place the box's edges (``_inside``): inside a busy inset nearly every row
    has a colour step somewhere, which would read as more border."""
    h, w = rgb.shape[:2]
    if min(h, w) < 64:
        return []
    colour = np.ascontiguousarray(rgb, np.uint8)
    gray = colour if colour.ndim == 2 else cv2.cvtColor(colour, cv2.COLOR_RGB2GRAY)
    # a side is a step of at least this much (0-255), the same along its length
    hmask, vmask = _steps(gray)
    hside, vside = _steps(colour, across=2)
    lh, lv = max(12, w // 10), max(12, h // 10)
    hl, vl = _runs(hside, (1, lh)), _runs(vside, (lv, 1))
    # a step can be split over two rows/columns (a soft or sub-pixel edge): close by 1 px
    hl = cv2.dilate(hl, np.ones((3, 1), np.uint8))
    vl = cv2.dilate(vl, np.ones((1, 3), np.uint8))
    hsegs = _segments(hl)
    vcum = np.zeros((h + 1, w), np.int16)  # a frame is under 32,768 rows
    np.cumsum(vl, axis=0, dtype=np.int16, out=vcum[1:])
    boxes: list[tuple[float, tuple[int, int, int, int]]] = []
    # two horizontal sides, then the vertical sides between them: a window whatever else
    # (a horizon, a building edge) touches its outline
    for i, (ax0, ax1, ay0, ay1) in enumerate(hsegs):
        for bx0, bx1, by0, by1 in hsegs[i + 1:]:
            # the rows each of the two lines takes (a line is 3 rows once dilated; more
            # where another line runs into it), at most SIDE_ROWS of them
            upper, lower = ((ay0, ay1), (by0, by1)) if ay0 < by0 else ((by0, by1), (ay0, ay1))
            if min(ax1, bx1) - max(ax0, bx0) < lh // 2:
                continue
            reach = lh // 2
            lefts = (min(ax0, bx0) - reach, min(ax1, bx1))
            rights = (max(ax0, bx0), max(ax1, bx1) + reach)
            # a line that another runs into is one component over many rows: the side is
            # at its first rows or its last (a retina's bottom side merged with a line of
            # the footage 15 rows under it, and the box ran to that line)
            for top_rows in _ends(upper):
                for bottom_rows in _ends(lower):
                    top, bottom = top_rows[0], bottom_rows[1]
                    if bottom - top < lv:
                        continue
                    for x, x1 in _sides(vcum, top, bottom, lefts, rights):
                        found = _closed(hl, vl, hmask, vmask, x, x1, (top_rows, bottom_rows))
                        if found is not None:
                            boxes.append(found)
    # Of boxes that are nearly the same, the one whose weakest side is the straightest
    # (to a tenth), then the largest: an inset's own outline, not one that borrows a line
    # inside the inset, or a background shape's side in line with it, for a side.
    kept: list[tuple[int, int, int, int]] = []
    for _support, box in sorted(
            set(boxes), key=lambda sb: (-round(sb[0], 1),
                                        -(sb[1][2] - sb[1][0]) * (sb[1][3] - sb[1][1]), sb[1])):
        if not any(_iou(box, b) > 0.8 for b in kept):
            kept.append(box)
    return kept[:WINDOWS_MAX]


def _closed(hl: np.ndarray, vl: np.ndarray, hmask: np.ndarray, vmask: np.ndarray,
            x: int, x1: int, rows: tuple[tuple[int, int], tuple[int, int]]
            ) -> tuple[float, tuple[int, int, int, int]] | None:
    """The picture inside the box from column ``x`` to ``x1`` and from the first of the top
    side's ``rows`` to the last of the bottom side's, if it is a window (a share of the
    frame and an aspect a window has, straight lines ``hl``, ``vl`` along most of each
    side, the top and bottom anywhere in their rows), with its weakest side's share."""
    (y, top_end), (bottom_start, y1) = rows
    h, w = hl.shape
    bw, bh = x1 - x + 1, y1 - y + 1
    if not WINDOW_MIN * w * h <= bw * bh <= WINDOW_MAX * w * h:
        return None
    if not 0.25 <= bw / max(bh, 1) <= 4:
        return None
    support = 1.0
    for side in (lambda: hl[y:max(top_end, y + 2) + 1, x:x1 + 1].max(axis=0),
                 lambda: hl[min(bottom_start, y1 - 2):y1 + 1, x:x1 + 1].max(axis=0),
                 lambda: vl[y:y1 + 1, x:x + 3].max(axis=1),
                 lambda: vl[y:y1 + 1, max(0, x1 - 2):x1 + 1].max(axis=1)):
        support = min(support, float(side().mean()))  # one side at a time: most fail early
        if support < WINDOW_SIDE_SUPPORT:
            return None
    box = _inside(hmask, vmask, x, y, x1, y1)
    if box[2] - box[0] < 16 or box[3] - box[1] < 16:
        return None
    return support, box


def _sides(vcum: np.ndarray, top: int, bottom: int, lefts: tuple[int, int],
           rights: tuple[int, int]) -> list[tuple[int, int]]:
    """(x, x1) pairs for a window's left and right sides between rows ``top`` and ``bottom``
    (``vcum``: the vertical-line mask summed down each column, a row of zeros first): lines
    set along ``WINDOW_SIDE_SUPPORT`` of those rows, starting within ``lefts`` and ending
    within ``rights`` (columns, inclusive), the ``SIDE_TRIES`` outermost of each. Measured
    on the mask, not taken from its lines' components: a side
    broken once, or joined to another line, moved a component's middle off it; and a top
    or bottom line can stop short of its corner, or break, where a borderless side agrees
    with the footage for a stretch."""
    w = vcum.shape[1]
    a, b = max(0, lefts[0]), min(w, rights[1] + 1)
    if b - a < 2:
        return []
    need = WINDOW_SIDE_SUPPORT * (bottom - top + 1)
    xs = np.flatnonzero(vcum[bottom + 1, a:b] - vcum[top, a:b] >= need - 1e-6) + a
    if len(xs) < 2:
        return []
    breaks = np.flatnonzero(np.diff(xs) > 1)
    starts, ends = xs[np.r_[0, breaks + 1]], xs[np.r_[breaks, len(xs) - 1]]
    left = [int(x) for x in starts if x <= lefts[1]][:SIDE_TRIES]
    right = [int(x) for x in ends if x >= rights[0]][-SIDE_TRIES:]
    return [(x, x1) for x in left for x1 in right if x1 - x >= 16]


def _ends(rows: tuple[int, int]) -> list[tuple[int, int]]:
    """The first ``SIDE_ROWS`` rows of a line's rows and, if it takes more, its last."""
    y0, y1 = rows
    if y1 - y0 < SIDE_ROWS:
        return [rows]
    return [(y0, y0 + SIDE_ROWS - 1), (y1 - SIDE_ROWS + 1, y1)]


def _runs(mask: np.ndarray, line: tuple[int, int], share: float = 0.9) -> np.ndarray:
    """The straight runs of ``mask`` (uint8 0/1) along a ``line`` (rows, columns) long: every
    pixel of a line-long stretch that is at least ``share`` set. Why not a morphological
    opening, which asks every pixel: a borderless inset's side is broken every few dozen
    pixels where inset and footage happen to agree in colour, and at 512 px a side set
    along 84-94 % of its length kept under half of it once opened (the sweep's misses).
    Texture does not reach the share along a tenth of the frame."""
    frac = cv2.blur(mask.astype(np.float32), (line[1], line[0]),
                    borderType=cv2.BORDER_CONSTANT)
    core = (frac >= share - 1e-4).astype(np.uint8)
    return np.asarray(cv2.dilate(core, np.ones(line, np.uint8)), np.uint8)


def _steps(img: np.ndarray, at_least: int = 24, across: int = 1
           ) -> tuple[np.ndarray, np.ndarray]:
    """Masks (uint8) of the steps between rows and between columns of ``img`` (uint8, grey
    or colour) of ``at_least`` in any channel: row r's is between rows r-1 and r. With
    ``across`` 2, also the steps between rows r-1 and r+1: a frame scaled down to 512 px
    splits an edge that falls between its pixels over two rows, neither step reaching the
    threshold (a borderless inset's side lost a third of its length so). OpenCV's
    saturating differences and channel maxima: NumPy's reduction over the channel axis cost
    8 ms a 512 px frame, most of the window finder's time."""
    h, w = img.shape[:2]

    def largest(d: np.ndarray) -> np.ndarray:
        if d.ndim == 2:
            return d
        out = d[:, :, 0].copy()
        for c in range(1, d.shape[2]):
            cv2.max(out, np.ascontiguousarray(d[:, :, c]), dst=out)
        return out

    hmask = np.zeros((h, w), np.uint8)
    vmask = np.zeros((h, w), np.uint8)
    hmask[1:] = largest(cv2.absdiff(img[1:], img[:-1])) >= at_least
    vmask[:, 1:] = largest(cv2.absdiff(img[:, 1:], img[:, :-1])) >= at_least
    if across == 2 and h > 2 and w > 2:
        hmask[1:-1] |= largest(cv2.absdiff(img[2:], img[:-2])) >= at_least
        vmask[:, 1:-1] |= largest(cv2.absdiff(img[:, 2:], img[:, :-2])) >= at_least
    return hmask, vmask


def _inside(hmask: np.ndarray, vmask: np.ndarray, x0: int, y0: int, x1: int, y1: int
            ) -> tuple[int, int, int, int]:
    """The picture inside a window's outline (x1, y1 inclusive): each side moves inward past
    the rows/columns that are mostly edge (a border line has two: into it and out of it),
    then one pixel more. Why exact: a flat inset's PDQ moves 20-30 bits with one pixel of
    border left in. (``hmask[r]`` is the step between rows r-1 and r; ``vmask`` likewise.)"""
    lim_y, lim_x = max(2, (y1 - y0) // 8), max(2, (x1 - x0) // 8)

    def innermost(cover: np.ndarray) -> int | None:
        """The last of the first rows (columns) that are mostly edge, ``cover`` from the
        outline inward."""
        last = None
        for k, c in enumerate(cover.tolist()):
            if c >= 0.4:
                last = k
            elif last is not None and k - last > 1:  # a border wider than a pixel: a gap
                break
        return last

    t = innermost(hmask[y0:y0 + lim_y, x0:x1 + 1].mean(axis=1))
    b = innermost(hmask[y1 - lim_y + 1:y1 + 1, x0:x1 + 1].mean(axis=1)[::-1])
    left = innermost(vmask[y0:y1 + 1, x0:x0 + lim_x].mean(axis=0))
    right = innermost(vmask[y0:y1 + 1, x1 - lim_x + 1:x1 + 1].mean(axis=0)[::-1])
    return (x0 + (2 if left is None else left + 1), y0 + (2 if t is None else t + 1),
            x1 + 1 - (2 if right is None else right + 2),
            y1 + 1 - (2 if b is None else b + 2))


def _segments(lines: np.ndarray) -> list[tuple[int, int, int, int]]:
    """(x0, x1, y0, y1) of each connected run of a line mask, longest first (at most 40)."""
    n, _lab, stats, _c = cv2.connectedComponentsWithStats(lines, connectivity=8)
    segs = [(int(x), int(x + bw - 1), int(y), int(y + bh - 1))
            for x, y, bw, bh, _a in stats[1:]]
    segs.sort(key=lambda sg: sg[0] - sg[1])
    return sorted(segs[:40], key=lambda sg: sg[2])
