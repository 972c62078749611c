"""False-match rate of the temp-AI register on the largest negative set built offline
(``python -m bench.register_negatives``).

Why: issue 18 asks for the register's false-match rate "on a negative set as large as can be
built offline ... stated with the set size". A QC desk chases every match, so the figure that
matters is how many unrelated files raise one, and how close the unrelated material comes to
the thresholds (the margin), not only the count.

Register (temp material): the positive half of ``bench_register.natural_images`` (the
programme benchmark's temp pictures) as stills, graded and cropped copies of them, their
pan/zoom H.264 clips (the programme's temp clips among them), synthetic concept frames for
size, and synthetic music cues. Negatives: every other decodable picture on this machine
(the held-out natural half, scikit-image data, the shared corpus except hostile files,
fixtures, images shipped in installed packages and system documentation; copies and anything
within PDQ 60 of a registered picture are dropped and listed), derived stills (grades, crops,
flips, titles, letterbox, tiles, 2x2 grids with borders, picture-in-picture, collages), 1080p
clips of two pan/zoom shots over negatives through the programme benchmark's conform
transforms in H.264 MP4 and ProRes MOV, every video and audio file found offline, and
synthetic music with other seeds (plain, varispeed, mixed, MP3, under noise). espeak-ng is not
installed by ``make setup``: speech is used only when it is there.

Each negative is scanned exactly as ``deliverscan scan --register`` runs the detector
(``register_programme.scan``'s path, one shared register). Any finding is a false match.
Read-only wrappers around the matcher record, per negative, the nearest PDQ distance of every
query the detector made, the strongest local-feature candidate and the strongest audio
alignment: the margin to the thresholds.

    .venv/bin/python -m bench.register_negatives --images /tmp/skim/x/skimage/data
    .venv/bin/python -m bench.register_negatives --quick      # 1-2 minutes, smaller sets
"""

from __future__ import annotations

import argparse
import datetime as _dt
import hashlib
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image

from bench import bench_register
from bench.bench_register import (
    CORPUS,
    IMAGE_EXTS,
    ROOT,
    _add_image,
    _composite,
    _crop,
    _grade,
    _jpeg,
    _ken_burns,
    _overlay,
    _resize,
    _rms,
    _speech,
    _write_wav,
    natural_images,
)
from bench.register_programme import CLASSES, HD, _encode, _title, _transform
from detectors.api import Options, Shared
from detectors.fingerprint import audio as audio_fp
from detectors.fingerprint import audio_match as am
from detectors.fingerprint import extract, pdq
from detectors.fingerprint import features as feat
from detectors.fingerprint import matcher as m
from detectors.fingerprint import waveform as wf
from detectors.fingerprint.index import distances
from detectors.fingerprint.store import RegisterStore
from detectors.registry import load_spec
from fixtures.gen_register import synth_image, synth_music
from scanner.pipeline import scan_asset
from scanner.walk import Walker

RESULTS = ROOT / "bench" / "results" / "register-negatives.md"
FPS = 25.0
SR = 48000
SAME_PICTURE = 60  # PDQ (min over the 8 dihedral hashes) under which two files are one picture
COPY = 31  # ... under which two candidate negatives are copies of each other (one is kept)
MAX_ASPECT = 6.0  # wider banners and strips are UI, not pictures
VIDEO_EXTS = (".mp4", ".mov", ".mkv", ".mxf", ".avi", ".webm", ".3gp", ".m4v", ".mts")
AUDIO_EXTS = (".wav", ".mp3", ".flac", ".aif", ".aiff", ".aifc", ".m4a", ".ogg", ".opus")
SKIP_DIRS = {"icons", "hostile", "fuzz_regressions", ".git", "__pycache__", "node_modules",
             "locale", "man", "tmp", "test-artifacts", ".venv-old"}
H264 = ["-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-pix_fmt", "yuv420p",
        "-g", "50"]
PRORES = ["-c:v", "prores", "-profile:v", "1", "-pix_fmt", "yuv422p10le"]  # prores_aw: 5x
# faster than prores_ks here, the same 422 LT bitstream family


@dataclass
class Sizes:
    """How much to build: ``--quick`` for a 1-2 minute run, the default for ~10-15 min."""

    derived_photos: int = 10_000  # photos that get every still transform (all by default)
    grids: int = 100
    pips: int = 100
    collages: int = 60
    clips: int = 80
    clip_s: float = 5.0
    music: int = 200
    distractors: int = 200
    reg_clips: int = 14
    cues: int = 20
    system_images: bool = True

    @classmethod
    def quick(cls) -> Sizes:
        return cls(derived_photos=3, grids=4, pips=4, collages=4, clips=4, clip_s=3.0,
                   music=8, distractors=20, reg_clips=3, cues=4, system_images=False)


@dataclass
class Pic:
    name: str
    path: str
    rgb: np.ndarray
    group: str  # "photo" | "graphic" | "synthetic"


@dataclass
class Neg:
    """One negative file and what it was made from (the sources bound independence)."""

    path: Path
    kind: str  # "still" | "clip" | "audio"
    group: str
    sources: tuple[str, ...]
    seconds: float = 0.0
    fmt: str = ""  # container/codec and cut style of a derived clip


@dataclass
class Result:
    neg: Neg
    findings: list[dict[str, Any]]
    error: str = ""
    frames: int = 0
    whole: tuple[int, int] | None = None  # (nearest PDQ distance, register row): image/frame
    part: tuple[int, int] | None = None  # ... of an inset or picture-in-picture window
    votes: int = 0  # most ratio-test votes a local-feature candidate got (>= 14 to be verified)
    inliers_rejected: int = 0  # most RANSAC inliers of a candidate the verification refused
    texture_tries: int = 0  # many-to-many matches tried against periodic-texture frames
    texture_rejected: int = 0  # most distinct inliers of a refused one
    # best audio excess score of any candidate long enough to be reported
    # (audio_match.candidates, span >= MIN_SECONDS: the scan also measures shorter, weaker
    # ones for its short list)
    audio_hits: float = 0.0
    seconds: float = 0.0
    wave: float = 0.0  # best confidence of any verified waveform segment (segments, follow)
    # time-stretch candidates checked by their grains (waveform.follow_stretch), and the best
    # margin over the moved lines of any of them (-1: none checked)
    grains: int = 0
    grain_margin: float = -1.0
    spectral_margin: float = -1.0  # ... and by their spectral change
    squeeze_tries: int = 0  # refused candidates tried again as a squeezed placement
    squeeze_rejected: int = 0  # most inliers of a refused squeeze
    zooms: int = 0  # near misses in sampled frames looked at closer (matcher._zoomed)
    zoom_best: int = 0  # most inliers a closer look found (a finding if any)
    unsqueezed: int = 0  # frames or stills with bars stretched to a registered aspect
    parts: int = 0  # stills matched part by part (matcher._in_parts)


def _log(s: str) -> None:
    print(s, file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------------------------
# margins: read-only wrappers around the matcher's own queries
class Probe:
    """Records the nearest registered hash of every PDQ query the detector makes, the best
    local-feature candidate and the best audio alignment; never changes an answer."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.whole: tuple[int, int] | None = None
        self.part: tuple[int, int] | None = None
        self.in_window = False  # inside Register._windows: its look-ups are a window's
        self.votes = 0
        self.inliers_rejected = 0
        self.texture_tries = 0
        self.texture_rejected = 0
        self.squeeze_tries = 0
        self.squeeze_rejected = 0
        self.zooms = 0
        self.zoom_best = 0
        self.unsqueezed = 0
        self.parts = 0
        self.audio_hits = 0.0
        self.wave = 0.0
        self.grains = 0
        self.grain_margin = -1.0
        self.spectral_margin = -1.0
        self.frames = 0

    @contextmanager
    def installed(self) -> Iterator[None]:
        probe = self
        orig_lookup = m.Register.pdq_lookup
        orig_frames = m.Register.match_frames
        orig_windows = m.Register._windows
        orig_verify = feat._verify
        orig_candidates = am.candidates
        orig_wave = wf.segments
        orig_follow = wf.follow
        orig_stretch = wf.follow_stretch
        orig_zoomed = m._zoomed
        orig_unsqueezed = m._unsqueezed
        orig_parts = m._in_parts

        def lookup(reg: m.Register, h: bytes, radius: int = m.PDQ_RADIUS
                   ) -> list[tuple[int, int]]:
            d = distances(reg.pdq_index.words, h)
            if len(d):
                row = int(d.argmin())
                near = (int(d[row]), row)
                if radius >= m.PDQ_RADIUS and not probe.in_window:
                    probe.whole = min(probe.whole or near, near)
                else:
                    probe.part = min(probe.part or near, near)
            return orig_lookup(reg, h, radius)

        def frames(reg: m.Register, *a: Any, **k: Any
                   ) -> tuple[list[m.RangeMatch], dict[str, int]]:
            runs, stats = orig_frames(reg, *a, **k)
            probe.frames += stats["frames"]
            return runs, stats

        def windows(reg: m.Register, fr: Any) -> Any:
            probe.in_window = True
            try:
                return orig_windows(reg, fr)
            finally:
                probe.in_window = False

        def verify(ref: int, reg: feat.Features, src: np.ndarray, dst: np.ndarray,
                   query: feat.Features, min_inliers: int = feat.MIN_INLIERS,
                   distinct: bool = False, near: list[feat.LocalMatch] | None = None
                   ) -> feat.LocalMatch | None:
            out = orig_verify(ref, reg, src, dst, query, min_inliers, distinct, near)
            if distinct:
                probe.texture_tries += 1
            else:
                probe.votes = max(probe.votes, len(src))
            if out is None and not distinct and len(src) >= max(feat.STRONG_INLIERS,
                                                                min_inliers):
                m, keep = feat.squeeze_ransac(src, dst, query)
                probe.squeeze_tries += 1
                if m is not None:
                    probe.squeeze_rejected = max(probe.squeeze_rejected, int(keep.sum()))
            if out is None:  # how close the refused candidate came (RANSAC re-run)
                m, keep = feat.ransac(src, dst, query, distinct)
                if m is None:
                    return out
                if distinct:
                    probe.texture_rejected = max(probe.texture_rejected,
                                                 feat.distinct_inliers(src, dst, keep))
                else:
                    probe.inliers_rejected = max(probe.inliers_rejected, int(keep.sum()))
            return out

        def zoomed(index: feat.FeatureIndex, fr: Any, path: str, box: Any,
                   entries: list[int], big: Any = None) -> m.LocalCheck:
            out = orig_zoomed(index, fr, path, box, entries, big)
            probe.zooms += 1  # (on the scan's worker thread; one at a time)
            probe.zoom_best = max([probe.zoom_best, *(lm.inliers for lm in out.found)])
            return out

        def unsqueezed(index: feat.FeatureIndex, rgb: np.ndarray, leads: Any
                       ) -> list[feat.LocalMatch]:
            h, w = rgb.shape[:2]
            if extract.bars(rgb) != (0, 0, w, h):
                probe.unsqueezed += 1
            return orig_unsqueezed(index, rgb, leads)

        def parts(index: feat.FeatureIndex, rgb: np.ndarray
                  ) -> tuple[list[feat.LocalMatch], str]:
            if max(rgb.shape[:2]) >= m.STILL_PARTS_MIN:
                probe.parts += 1
            return orig_parts(index, rgb)

        def wave(*args: Any, **kw: Any) -> list[wf.Segment]:
            segs = orig_wave(*args, **kw)
            probe.wave = max([probe.wave, *(s.confidence for s in segs)])
            return segs

        def follow(*args: Any, **kw: Any) -> wf.Segment | None:
            seg = orig_follow(*args, **kw)
            if seg is not None:
                probe.wave = max(probe.wave, seg.confidence)
            return seg

        def stretch(*args: Any, **kw: Any) -> wf.Segment | None:
            seg = orig_stretch(*args, **kw)
            if seg is not None:
                probe.grains += 1
                probe.grain_margin = max(probe.grain_margin, seg.z)
                probe.spectral_margin = max(probe.spectral_margin, seg.spectral)
            return seg

        def candidates(*args: Any, **kw: Any) -> list[am.Segment]:
            # the candidates as the decision sees them: a tempo variant's on the
            # deliverable's clock and with its penalty (``audio_match.segments`` has neither)
            segs = orig_candidates(*args, **kw)
            probe.audio_hits = max([probe.audio_hits, *(s.excess for s in segs
                                                        if s.span >= am.MIN_SECONDS)])
            return segs

        setattr(m.Register, "pdq_lookup", lookup)  # noqa: B010 - patched on purpose
        setattr(m.Register, "match_frames", frames)  # noqa: B010
        setattr(m.Register, "_windows", windows)  # noqa: B010
        setattr(feat, "_verify", verify)  # noqa: B010
        setattr(am, "candidates", candidates)  # noqa: B010
        setattr(wf, "segments", wave)  # noqa: B010
        setattr(wf, "follow", follow)  # noqa: B010
        setattr(wf, "follow_stretch", stretch)  # noqa: B010
        setattr(m, "_zoomed", zoomed)  # noqa: B010
        setattr(m, "_unsqueezed", unsqueezed)  # noqa: B010
        setattr(m, "_in_parts", parts)  # noqa: B010
        try:
            yield
        finally:
            setattr(m.Register, "pdq_lookup", orig_lookup)  # noqa: B010
            setattr(m.Register, "match_frames", orig_frames)  # noqa: B010
            setattr(m.Register, "_windows", orig_windows)  # noqa: B010
            setattr(feat, "_verify", orig_verify)  # noqa: B010
            setattr(am, "candidates", orig_candidates)  # noqa: B010
            setattr(wf, "segments", orig_wave)  # noqa: B010
            setattr(wf, "follow", orig_follow)  # noqa: B010
            setattr(wf, "follow_stretch", orig_stretch)  # noqa: B010
            setattr(m, "_zoomed", orig_zoomed)  # noqa: B010
            setattr(m, "_unsqueezed", orig_unsqueezed)  # noqa: B010
            setattr(m, "_in_parts", orig_parts)  # noqa: B010


# ----------------------------------------------------------------------------------------------
# register
def build_register(work: Path, pos: list[tuple[str, np.ndarray]], sizes: Sizes
                   ) -> tuple[Path, dict[str, int]]:
    """Temp material: the programme benchmark's positives as stills, derived stills and
    clips (seeds 700+i: the programme's own temp clips), synthetic stills and music cues."""
    db = work / "register.db"
    counts: Counter[str] = Counter()
    with RegisterStore(str(db), readonly=False, create=True) as store:
        for name, rgb in pos:
            _add_image(store, name, rgb, "natural")
            _add_image(store, name + " (grade)", _grade(rgb), "derived")
            _add_image(store, name + " (crop 20 %)", _crop(rgb, 0.20), "derived")
            counts["stills: positive natural images"] += 1
            counts["stills: graded / cropped copies of them"] += 2
        for k in range(sizes.distractors):
            _add_image(store, f"synth-{k}", synth_image(1000 + k, 480, 320), "synthetic")
            counts["stills: synthetic concept frames"] += 1
        for i in range(sizes.reg_clips):
            name, rgb = pos[i % len(pos)]
            path = work / f"temp{i}.mp4"
            _encode(path, iter(_ken_burns(rgb, 3.5, FPS, HD, 700 + i)), FPS,
                    ["-c:v", "libx264", "-crf", "18", "-preset", "veryfast", "-pix_fmt",
                     "yuv420p"])
            store.add(sha256=f"temp-clip-{i}", media_type="video/mp4", path=str(path), size=0,
                      tool="bench", note=Path(name).name, added="bench", verdict="clean",
                      evidence=[], fp=extract.fingerprint_video(str(path)))
            counts["clips: 3.5 s 1080p25 pan/zoom H.264 over positives"] += 1
        for k in range(sizes.cues):
            path = work / f"cue{k}.wav"
            _write_wav(path, synth_music(7000 + k, 30.0, SR), SR)
            store.add(sha256=f"cue{k}", media_type="audio/wav", path=str(path), size=0,
                      tool="bench", note="temp music", added="bench", verdict="clean",
                      evidence=[], fp=extract.fingerprint_audio(str(path), is_wav=True))
            counts["audio: 30 s synthetic music cues (11 speeds each)"] += 1
        if shutil.which("espeak-ng"):
            for k in range(3):
                sp = _speech(work, 20.0, SR, 100 + k)
                assert sp is not None
                path = work / f"vo{k}.wav"
                _write_wav(path, sp, SR)
                store.add(sha256=f"vo{k}", media_type="audio/wav", path=str(path), size=0,
                          tool="bench", note="temp VO", added="bench", verdict="clean",
                          evidence=[], fp=extract.fingerprint_audio(str(path), is_wav=True))
                counts["audio: 20 s espeak-ng temp VO"] += 1
    return db, dict(counts)


# ----------------------------------------------------------------------------------------------
# negative material found on this machine
def _walk(roots: list[Path], exts: tuple[str, ...]) -> Iterator[Path]:
    seen: set[Path] = set()
    for r in roots:
        if not r.is_dir():
            continue
        for dirpath, dirnames, filenames in os.walk(r):
            dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
            for f in sorted(filenames):
                p = Path(dirpath) / f
                if p.suffix.lower() in exts and p not in seen:
                    seen.add(p)
                    yield p


def _hostile_corpus() -> set[str]:
    """Corpus files whose expected class is hostile (not pictures: bombs, broken files)."""
    tsv = CORPUS / "expected.tsv"
    if not tsv.is_file():
        return set()
    out = set()
    for line in tsv.read_text(encoding="utf-8").splitlines():
        cols = line.split("\t")
        if len(cols) > 1 and not line.startswith("#") and cols[1] == "hostile":
            out.add(cols[0])
    return out


def _sha(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _photo_roots(extra: list[str]) -> list[Path]:
    roots = [CORPUS, *map(Path, extra), Path("/usr/share/backgrounds")]
    skimage = getattr(bench_register, "SKIMAGE_DATA", None)  # where that bench unpacks them
    return roots + ([skimage] if isinstance(skimage, Path) else [])


def _system_roots() -> list[Path]:
    """Where installed packages and system docs keep pictures (graphics, screenshots)."""
    roots = [ROOT / ".venv" / "lib", Path(sys.base_prefix) / "lib", Path("/usr/share"),
             Path("/usr/lib"), Path("/usr/local/lib"), Path("/usr/local/share"),
             Path.home() / ".rustup" / "toolchains"]
    return [r for r in roots if r.is_dir()]


def negative_pictures(extra: list[str], naturals: list[tuple[str, np.ndarray]], sizes: Sizes
                      ) -> tuple[list[Pic], list[str]]:
    """Every decodable picture offline that is not a registered one (or a copy of one).

    Returns the pictures and a list of what was left out as the same picture as a registered
    positive (a true match, not a negative)."""
    pos = naturals[0::2]
    pos_paths = {os.path.realpath(p) for p, _ in pos}
    pos_hashes = [(p, pdq.pdq_dihedral_pixels(rgb).hashes) for p, rgb in pos]
    hostile = _hostile_corpus()
    cands: list[tuple[Path, str]] = [(Path(p), "photo") for p, _ in naturals[1::2]]
    cands += [(p, "photo") for p in _walk(_photo_roots(extra), IMAGE_EXTS)]
    cands += [(p, "synthetic") for p in _walk([ROOT / "fixtures"], IMAGE_EXTS)]
    if sizes.system_images:
        cands += [(p, "graphic") for p in _walk(_system_roots(), IMAGE_EXTS)]
    out: list[Pic] = []
    excluded: list[str] = []
    shas: set[str] = set()
    kept: list[bytes] = []
    for path, group in cands:
        rp = os.path.realpath(path)
        if rp in pos_paths or path.name in hostile:
            continue
        try:
            if path.stat().st_size < 2048:
                continue
            sha = _sha(path)
            if sha in shas:
                continue
            shas.add(sha)
            rgb = extract.load_rgb(str(path))
        except Exception:  # noqa: BLE001 - broken and exotic files are expected here
            continue
        h, w = rgb.shape[:2]
        if min(h, w) < 128 or max(h, w) / min(h, w) > MAX_ASPECT:
            continue
        if max(h, w) > 1600:
            s = 1600 / max(h, w)
            rgb = cv2.resize(rgb, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)
        ph = pdq.pdq_rgb(rgb, dihedral=False).hash
        near = min(((min(pdq.hamming(ph, x) for x in hs), p) for p, hs in pos_hashes),
                   default=(256, ""))
        if near[0] <= SAME_PICTURE:
            excluded.append(f"{path} (PDQ {near[0]} to registered {Path(near[1]).name})")
            continue
        if any(pdq.hamming(ph, k) <= COPY for k in kept):
            continue  # a resized or re-encoded copy of a negative already kept
        kept.append(ph)
        out.append(Pic(path.name, str(path), rgb, group))
    return out, excluded


# ----------------------------------------------------------------------------------------------
# derived stills
def _save(path: Path, rgb: np.ndarray) -> Path:
    if path.suffix == ".jpg":
        Image.fromarray(rgb).save(path, quality=90)
    else:
        Image.fromarray(rgb).save(path)
    return path


def _letterbox(rgb: np.ndarray) -> np.ndarray:
    """The picture fitted into a black 1920x1080 frame (letterbox or pillarbox)."""
    w, h = HD
    s = min(w / rgb.shape[1], h / rgb.shape[0])
    nw, nh = round(rgb.shape[1] * s), round(rgb.shape[0] * s)
    out = np.zeros((h, w, 3), np.uint8)
    out[(h - nh) // 2:(h - nh) // 2 + nh, (w - nw) // 2:(w - nw) // 2 + nw] = cv2.resize(
        rgb, (nw, nh), interpolation=cv2.INTER_AREA)
    return out


def _grid(cells: list[np.ndarray]) -> np.ndarray:
    """A 2x2 key-art grid of framed cells (white borders) on a dark poster."""
    w, h = HD
    out = np.full((h, w, 3), 24, np.uint8)
    cw, ch = (w - 60) // 2, (h - 60) // 2
    for k, c in enumerate(cells[:4]):
        x0, y0 = 20 + (k % 2) * (cw + 20), 20 + (k // 2) * (ch + 20)
        out[y0:y0 + ch, x0:x0 + cw] = 255
        out[y0 + 6:y0 + ch - 6, x0 + 6:x0 + cw - 6] = cv2.resize(
            c, (cw - 12, ch - 12), interpolation=cv2.INTER_AREA)
    return out


def _pip(fg: np.ndarray, bg: np.ndarray, scale: float = 0.35) -> np.ndarray:
    """``fg`` in a bordered window over ``bg`` (both as a 1920x1080 frame)."""
    w, h = HD
    out = cv2.resize(bg, HD, interpolation=cv2.INTER_AREA)
    sw, sh = int(w * scale), int(h * scale)
    small = cv2.resize(fg, (sw, sh), interpolation=cv2.INTER_AREA)
    x0, y0 = w - 80 - sw, 60
    cv2.rectangle(out, (x0 - 4, y0 - 4), (x0 + sw + 3, y0 + sh + 3), (255, 255, 255), 4)
    out[y0:y0 + sh, x0:x0 + sw] = small
    return out


def derived_stills(out: Path, pics: list[Pic], sizes: Sizes) -> list[Neg]:
    """Stills a delivery could hold made from negatives: single-picture transforms, tiles and
    composites of several (grids with borders, picture-in-picture, collages)."""
    out.mkdir(parents=True, exist_ok=True)
    negs: list[Neg] = []
    photos = [p for p in pics if p.group != "graphic"]
    tf: list[tuple[str, Callable[[np.ndarray], np.ndarray]]] = [
        ("grade", _grade), ("crop 20 %", lambda x: _crop(x, 0.20)),
        ("flip + JPEG q75", lambda x: _jpeg(np.ascontiguousarray(x[:, ::-1]), 75)),
        ("title + logo", _title), ("text overlay", _overlay),
        ("letterbox in 1920x1080", _letterbox), ("half size + JPEG q60",
                                                 lambda x: _jpeg(_resize(x, 0.5), 60))]
    full = 0
    for i, p in enumerate(pics):
        chosen = tf[:3]  # graphics: what a grade or a reframe would do to a title card
        if p.group != "graphic":
            if full >= sizes.derived_photos:
                continue
            full += 1
            chosen = tf
        for j, (tname, fn) in enumerate(chosen):
            path = _save(out / f"d{i:03d}_{j}.{'jpg' if j % 2 else 'png'}", fn(p.rgb))
            negs.append(Neg(path, "still", f"derived still: {tname}", (p.name,)))
        if p.group == "photo":
            h, w = p.rgb.shape[:2]
            for ty in range(3):
                for tx in range(3):
                    tile = p.rgb[ty * h // 3:(ty + 1) * h // 3, tx * w // 3:(tx + 1) * w // 3]
                    path = _save(out / f"t{i:03d}_{ty}{tx}.png", _resize(tile, 2.0))
                    negs.append(Neg(path, "still", "derived still: 3x3 tile x2", (p.name,)))
    rng = np.random.default_rng(18)
    pool = photos if len(photos) >= 4 else pics

    def pick(n: int) -> list[Pic]:
        return [pool[int(k)] for k in rng.choice(len(pool), n, replace=False)]

    for k in range(sizes.grids):
        cells = pick(4)
        path = _save(out / f"grid{k:03d}.jpg", _grid([c.rgb for c in cells]))
        negs.append(Neg(path, "still", "composite: 2x2 grid, bordered cells",
                        tuple(c.name for c in cells)))
    for k in range(sizes.pips):
        a, b = pick(2)
        path = _save(out / f"pip{k:03d}.jpg", _pip(a.rgb, b.rgb))
        negs.append(Neg(path, "still", "composite: picture-in-picture 35 %", (a.name, b.name)))
    for k in range(sizes.collages):
        a, b = pick(2)
        path = _save(out / f"col{k:03d}.jpg", _composite(a.rgb, b.rgb, 0.3, None, k))
        negs.append(Neg(path, "still", "composite: element 30 % of area, no border",
                        (a.name, b.name)))
    return negs


# ----------------------------------------------------------------------------------------------
# derived footage
def derived_clips(out: Path, pics: list[Pic], sizes: Sizes) -> list[Neg]:
    """1080p25 clips over negatives through one conform transform each (the programme
    benchmark's classes): two pan/zoom shots, or five 1 s shots cut like a trailer (more
    pictures and cut samples per second encoded); H.264 MP4 and ProRes 422 LT MOV."""
    out.mkdir(parents=True, exist_ok=True)
    negs: list[Neg] = []
    rng = np.random.default_rng(1818)
    order = [p for p in pics if p.group != "graphic"] + [p for p in pics if p.group == "graphic"]
    # _grade per pixel depends on the channel value alone: the same grade as a table, 50x faster
    ramp = np.repeat(np.arange(256, dtype=np.uint8)[:, None, None], 3, axis=2)
    grade_lut = _grade(ramp)
    nxt = 0
    for k in range(sizes.clips):
        cls = CLASSES[k % len(CLASSES)]
        shots = 2 if k % 2 == 0 else 5
        picks = [order[(nxt + j) % len(order)] for j in range(shots)]
        nxt += shots
        bg = order[int(rng.integers(0, len(order)))]
        prores = (k // 2) % 2 == 1
        path = out / f"clip{k:03d}.{'mov' if prores else 'mp4'}"
        shot_s = sizes.clip_s / shots

        def frames(picks: list[Pic] = picks, bg: Pic = bg, cls: str = cls, k: int = k,
                   shot_s: float = shot_s) -> Iterator[np.ndarray]:
            for j, p in enumerate(picks):
                shot = _ken_burns(p.rgb, shot_s, FPS, HD, 5000 + 5 * k + j)
                if cls == "grade":
                    yield from (cv2.LUT(f, grade_lut) for f in shot)
                    continue
                back = (_ken_burns(bg.rgb, shot_s, FPS, HD, 7000 + 5 * k + j)
                        if "picture" in cls else [])
                yield from _transform(cls, shot, back)

        n = _encode(path, frames(), FPS, PRORES if prores else H264)
        codec = "ProRes 422 LT MOV" if prores else "H.264 MP4"
        cut = "2 shots" if shots == 2 else "5 shots of 1 s"
        names = tuple(p.name for p in picks) + ((bg.name,) if "picture" in cls else ())
        negs.append(Neg(path, "clip", f"derived clip: {cls}", names, n / FPS,
                        f"{codec}, {cut}"))
    return negs


def found_media(exts: tuple[str, ...], kind: str, system: bool) -> list[Neg]:
    """Video or audio files already on this machine (fixtures, corpus, packages)."""
    roots = [ROOT / "fixtures", CORPUS] + (_system_roots() if system else [])
    hostile = _hostile_corpus()
    negs: list[Neg] = []
    shas: set[str] = set()
    for p in _walk(roots, exts):
        if p.name in hostile or "/bench/results/" in str(p):
            continue
        try:
            sha = _sha(p)
        except OSError:
            continue
        if sha in shas:
            continue
        shas.add(sha)
        negs.append(Neg(p, kind, f"{kind}: found offline ({p.suffix.lower()[1:]})",
                        (p.name,)))
    return negs


def synthetic_audio(out: Path, sizes: Sizes) -> list[Neg]:
    """30 s music with other seeds than the cues: plain WAV, MP3, varispeed +-4 %, two pieces
    mixed, music under noise; plus espeak-ng speech of other text when it is installed."""
    out.mkdir(parents=True, exist_ok=True)
    negs: list[Neg] = []
    rng = np.random.default_rng(90)
    for k in range(sizes.music):
        x = synth_music(90_000 + k, 30.0, SR)
        srcs: tuple[str, ...] = (f"music {90_000 + k}",)
        how = ("plain WAV", "MP3 128k", "varispeed", "two pieces mixed", "under noise")[k % 5]
        if how == "varispeed":
            x = audio_fp.varispeed(x, 1.04 if k % 2 else 0.96)
        elif how == "two pieces mixed":
            y = synth_music(95_000 + k, 30.0, SR)
            x = 0.6 * x + 0.6 * y
            srcs += (f"music {95_000 + k}",)
        elif how == "under noise":
            noise = np.cumsum(rng.normal(0, 1, len(x))).astype(np.float32)
            noise -= np.convolve(noise, np.ones(400) / 400, "same").astype(np.float32)
            x = x + noise / _rms(noise) * _rms(x) * 0.7
        x = (0.9 * x / max(1e-9, float(np.abs(x).max()))).astype(np.float32)
        wav = out / f"m{k:03d}.wav"
        _write_wav(wav, x, SR)
        path = wav
        if how == "MP3 128k":
            path = wav.with_suffix(".mp3")
            subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(wav), "-b:a", "128k",
                            str(path)], check=True)
            wav.unlink()
        negs.append(Neg(path, "audio", f"audio: synthetic music, {how}", srcs,
                        len(x) / SR))
    if shutil.which("espeak-ng"):
        for k in range(max(2, sizes.music // 10)):
            sp = _speech(out, 30.0, SR, 3000 + k)
            assert sp is not None
            path = out / f"speech{k}.wav"
            _write_wav(path, sp, SR)
            negs.append(Neg(path, "audio", "audio: espeak-ng speech", (f"speech {k}",), 30.0))
    return negs


def controls(work: Path, pos: list[tuple[str, np.ndarray]]) -> list[Neg]:
    """Registered material through the same path: proof that a zero count comes from a scan
    that finds what it should (a JPEG of a positive, a registered clip graded and re-encoded
    as ProRes, a registered cue as MP3)."""
    out = work / "controls"
    out.mkdir(parents=True, exist_ok=True)
    c: list[Neg] = []
    for i, (name, rgb) in enumerate(pos[:3]):
        path = out / f"pos{i}.jpg"
        Image.fromarray(_jpeg(rgb, 80)).save(path, quality=85)
        c.append(Neg(path, "still", "control: registered still as JPEG", (name,)))
    temp = work / "temp0.mp4"
    if temp.exists():
        path = out / "temp0_graded.mov"
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(temp), "-vf",
                        "eq=contrast=1.2:saturation=1.3:gamma=0.9", *PRORES, str(path)],
                       check=True)
        c.append(Neg(path, "clip", "control: registered clip graded, ProRes", ("temp0",), 3.5))
    cue = work / "cue0.wav"
    if cue.exists():
        path = out / "cue0.mp3"
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(cue), "-b:a", "128k",
                        str(path)], check=True)
        c.append(Neg(path, "audio", "control: registered cue as MP3", ("cue0",), 30.0))
    return c


# ----------------------------------------------------------------------------------------------
# scan
def scan_all(db: Path, negs: list[Neg], probe: Probe) -> list[Result]:
    """Each negative through the register detector as ``scan --register`` runs it."""
    det = load_spec("detectors.register:RegisterDetector")
    assert det is not None
    opts = Options()
    opts.settings["register"] = {"path": str(db)}
    shared = Shared(opts)
    out: list[Result] = []
    t_last = time.perf_counter()
    try:
        with probe.installed():
            for i, neg in enumerate(negs):
                assets = list(Walker().walk([str(neg.path)]))
                if len(assets) != 1:
                    out.append(Result(neg, [], error=f"walker gave {len(assets)} assets"))
                    continue
                kind = {"image": "still", "video": "clip", "audio": "audio"}.get(
                    assets[0].kind, "")
                if kind and kind != neg.kind:  # a found file is what its bytes say it is
                    neg.kind, neg.group = kind, f"{kind}: found offline ({neg.path.suffix[1:]})"
                probe.reset()
                t0 = time.perf_counter()
                res = scan_asset(assets[0], [det], shared)
                took = time.perf_counter() - t0
                errors = [f"{oc.status}: {oc.error}" for oc in res.outcomes if oc.error]
                statuses = {oc.status for oc in res.outcomes}
                if not errors and statuses != {"applied"}:
                    errors = [f"not applied ({', '.join(sorted(statuses)) or 'no outcome'}, "
                              f"kind {assets[0].kind})"]
                found = [f.to_dict() for oc in res.outcomes for f in oc.findings]
                out.append(Result(neg, found, "; ".join(errors), probe.frames, probe.whole,
                                  probe.part, probe.votes, probe.inliers_rejected,
                                  probe.texture_tries, probe.texture_rejected,
                                  probe.audio_hits, took, wave=probe.wave,
                                  grains=probe.grains, grain_margin=probe.grain_margin,
                                  spectral_margin=probe.spectral_margin,
                                  squeeze_tries=probe.squeeze_tries,
                                  squeeze_rejected=probe.squeeze_rejected,
                                  zooms=probe.zooms, zoom_best=probe.zoom_best,
                                  unsqueezed=probe.unsqueezed, parts=probe.parts))
                for f in found if not neg.group.startswith("control") else []:
                    _log(f"  FALSE MATCH {neg.path.name} ({neg.group}): {f['message'][:160]}")
                if time.perf_counter() - t_last > 20:
                    t_last = time.perf_counter()
                    _log(f"  scanned {i + 1}/{len(negs)}")
    finally:
        shared.close()
    return out


# ----------------------------------------------------------------------------------------------
# report
def upper95(k: int, n: int) -> float:
    """One-sided 95 % Clopper-Pearson upper bound of a rate with k events in n trials
    (k = 0: 1 - 0.05^(1/n), which the rule of three approximates as 3/n)."""
    if n <= 0:
        return float("nan")
    if k >= n:
        return 1.0

    def cdf(p: float) -> float:
        return sum(math.exp(math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1)
                            + i * math.log(p) + (n - i) * math.log1p(-p)) for i in range(k + 1))

    lo, hi = k / n, 1.0
    for _ in range(60):
        mid = (lo + hi) / 2
        if cdf(mid) > 0.05:
            lo = mid
        else:
            hi = mid
    return hi


def _pct(x: float) -> str:
    return f"{100 * x:.2g} %" if x >= 0.001 else f"{100 * x:.2g} % ({x:.1e})"


def _entry_name(reg_names: dict[int, str], row_entry: np.ndarray, row: int) -> str:
    return reg_names.get(int(row_entry[row]), "?")


def report(results: list[Result], db: Path, reg_counts: dict[str, int], excluded: list[str],
           pics: list[Pic], started: float, argv: list[str], ctrl: list[Result]) -> str:
    reg = m.Register(str(db))
    try:
        names = {e.id: f"#{e.id} {Path(e.path).name}" + (f" ({e.note})" if e.note and
                                                           e.note != "bench" else "")
                 for e in reg.entries.values()}
        row_entry = reg.pdq_entry
        n_hashes = len(row_entry)
        n_feats = sum(1 for _ in reg.store.feature_rows())
    finally:
        reg.close()
    kinds = ("still", "clip", "audio")
    by_kind = {k: [r for r in results if r.neg.kind == k] for k in kinds}
    checked = {k: [r for r in v if not r.error] for k, v in by_kind.items()}
    false = [r for r in results if r.findings]
    lines = [
        "# Register false matches on the offline negative set (issue 18)",
        "",
        f"`.venv/bin/python -m bench.register_negatives {' '.join(argv)}`".replace(" `", "`")
        + f" — {_dt.datetime.now(_dt.UTC).strftime('%Y-%m-%d %H:%M UTC')}, "
        f"{time.perf_counter() - started:.0f} s in all on {os.cpu_count()} shared cores "
        f"(load average at the end {os.getloadavg()[0]:.1f}).",
        "",
        f"Thresholds as shipped: PDQ ≤ {m.PDQ_RADIUS} (whole image or frame), ≤ "
        f"{m.PDQ_SINGLE_FRAME} when a video run rests on one sampled frame (unless "
        f"{m.CONFIRM_FRAMES} frames within {m.CONFIRM_S:g} s of it match too), ≤ "
        f"{m.PDQ_INSET_RADIUS} for framed insets and picture-in-picture windows, query quality "
        f"≥ {m.MIN_QUALITY}; local features ≥ {feat.MIN_INLIERS} RANSAC inliers "
        f"(≥ {feat.MIN_INLIERS_SHORTLIST} past {feat.EXACT_UP_TO} registered frames, where "
        "a visual-word short list is verified); audio: excess "
        f"hits over the chance level ≥ {am.ACCEPT_EXCESS:g} (review ≥ {am.REVIEW_EXCESS:g}) "
        f"in a segment ≥ {am.MIN_SECONDS:g} s (detectors/fingerprint/audio_match.py).",
        "",
        "## Register",
        "",
        *[f"- {k}: {v}" for k, v in reg_counts.items()],
        f"- {n_hashes} PDQ hashes (8 dihedral + crop/cell variants per still or sampled frame),"
        f" {n_feats} ORB feature sets",
        "- controls (registered material through the same scan path): "
        + "; ".join(f"{r.neg.group} {'found' if r.findings else 'MISSED'}"
                    + (f" ({r.findings[0]['rule']})" if r.findings else "") for r in ctrl),
        "",
        "## Negative set",
        "",
        "| kind | group | files | seconds | sampled frames | not checked |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    groups: dict[tuple[str, str], list[Result]] = {}
    for r in results:
        groups.setdefault((r.neg.kind, r.neg.group), []).append(r)
    for (kind, group), rs in sorted(groups.items()):
        secs = sum(r.neg.seconds for r in rs)
        lines.append(f"| {kind} | {group} | {len(rs)} | {secs:.0f} | "
                     f"{sum(r.frames for r in rs) or ''} | "
                     f"{sum(1 for r in rs if r.error) or ''} |")
    fmts = Counter(r.neg.fmt for r in results if r.neg.fmt)
    if fmts:
        lines += ["", "Derived clips are 1080p25: " + ", ".join(
            f"{v} {k}" for k, v in sorted(fmts.items())) + "."]
    srcs = {s for r in results if r.neg.kind != "audio" for s in r.neg.sources}
    asrcs = {s for r in results if r.neg.kind == "audio" for s in r.neg.sources}
    frames = sum(r.frames for r in checked["clip"])
    clip_s = sum(r.neg.seconds for r in checked["clip"])
    audio_s = sum(r.neg.seconds for r in checked["audio"])
    groups_n = Counter(p.group for p in pics)
    lines += [
        "",
        f"Pictures: {len(pics)} distinct unregistered pictures ("
        + ", ".join(f"{v} {k}" for k, v in sorted(groups_n.items()))
        + f"); {len(srcs)} distinct source pictures/clips behind all stills and clips. "
        f"Audio: {len(asrcs)} distinct sources.",
        f"Totals checked: {len(checked['still'])} stills; {len(checked['clip'])} clips, "
        f"{clip_s:.0f} s, {frames} sampled frames; {len(checked['audio'])} audio files, "
        f"{audio_s:.0f} s ({audio_s / 60:.1f} min).",
    ]
    if excluded:
        lines += ["", "Left out as the same picture as a registered positive (true matches, "
                  "not negatives):", *[f"- {e}" for e in excluded]]
    errs = [r for r in results if r.error]
    if errs:
        lines += ["", "Not checked (the detector did not apply or failed; not counted as "
                  "trials):", *[f"- {r.neg.path.name}: {r.error[:160]}" for r in errs]]
    lines += ["", f"## False matches: {sum(len(r.findings) for r in false)} findings on "
              f"{len(false)} negative files", ""]
    if false:
        lines += ["| file | group | entry | rule | measure | confidence | message |",
                  "| --- | --- | --- | --- | --- | --- | --- |"]
        for r in false:
            for f in r.findings:
                ev = f["evidence"]
                measure = ", ".join(f"{k} {ev[k]}" for k in (
                    "distance", "best_distance", "inliers", "aligned_hits", "found_in")
                    if k in ev)
                lines.append(f"| {r.neg.path.name} | {r.neg.group} | "
                             f"#{(ev.get('entry') or {}).get('id')} | {f['rule']} | {measure} | "
                             f"{ev.get('confidence')} | {f['message'][:140]} |")
    else:
        lines.append("None.")
    lines += ["", "## Rate bound (one-sided 95 %)", "",
              "| trials | n | false | rate | 95 % upper bound |", "| --- | --- | --- | --- | --- |"]

    def row(label: str, k: int, n: int) -> None:
        lines.append(f"| {label} | {n} | {k} | {k / n if n else float('nan'):.2g} | "
                     f"{_pct(upper95(k, n))} |")

    row("stills (files)", sum(1 for r in checked["still"] if r.findings), len(checked["still"]))
    row("clips (files)", sum(1 for r in checked["clip"] if r.findings), len(checked["clip"]))
    row("clip sampled frames", sum(1 for r in checked["clip"] if r.findings), frames)
    row("clip seconds", sum(1 for r in checked["clip"] if r.findings), round(clip_s))
    row("audio (files)", sum(1 for r in checked["audio"] if r.findings), len(checked["audio"]))
    row("audio (10 s windows)", sum(1 for r in checked["audio"] if r.findings),
        round(audio_s / 10))
    row("distinct source pictures", len({s for r in false if r.neg.kind != "audio"
                                         for s in r.neg.sources}), len(srcs))
    lines += [
        "",
        "The bound is the rate that 0 (or k) false matches in n independent trials still allows "
        "at 95 % confidence (Clopper-Pearson; for k = 0 it is 1 - 0.05^(1/n) ≈ 3/n, the rule of "
        "three). Independence is the assumption that does not hold in full: derived stills, "
        "frames of one clip and clips sharing a source picture are correlated draws of the same "
        "content, so the per-frame and per-file bounds are optimistic; the per-source row "
        "(each distinct picture counted once) is the conservative reading. All audio "
        "negatives but the few found files come from one synthetic generator.",
    ]
    lines += ["", "## Margins: the nearest non-match", ""]
    lines += _margins(results, names, row_entry)
    return "\n".join(lines)


def _margins(results: list[Result], names: dict[int, str], row_entry: np.ndarray) -> list[str]:
    """How close the negatives came to each threshold: the useful part of a zero count."""
    out: list[str] = []

    def dist_line(label: str, rs: list[Result], attr: str, thresholds: tuple[int, ...]) -> None:
        vals = [(getattr(r, attr), r) for r in rs if getattr(r, attr) is not None]
        if not vals:
            out.append(f"- {label}: no query (all too flat to hash)")
            return
        ds = np.array([v[0][0] for v in vals])
        (d, row), r = min(vals, key=lambda v: v[0][0])
        within = ", ".join(f"≤ {t}: {int((ds <= t).sum())}" for t in thresholds)
        out.append(f"- {label}: {len(ds)} files; nearest {d} ({r.neg.path.name}, "
                   f"{r.neg.group}, to {_entry_name(names, row_entry, row)}); "
                   f"1st/5th percentile {int(np.percentile(ds, 1))}/"
                   f"{int(np.percentile(ds, 5))}, median {int(np.median(ds))}; files with "
                   f"nearest {within}")

    stills = [r for r in results if r.neg.kind == "still" and not r.error]
    clips = [r for r in results if r.neg.kind == "clip" and not r.error]
    audio = [r for r in results if r.neg.kind == "audio" and not r.error]
    out.append("PDQ Hamming distance (of 256) from each negative's best query to the nearest "
               "registered hash (any entry, any variant):")
    dist_line("stills, whole image (threshold 40)", stills, "whole", (40, 48, 56, 64))
    dist_line("stills, framed insets (threshold 32)", stills, "part", (32, 40, 48))
    dist_line("clips, sampled frames (threshold 40; 24 for a one-frame run)", clips, "whole",
              (24, 40, 48, 56, 64))
    dist_line("clips, picture-in-picture windows (threshold 32)", clips, "part", (32, 40, 48))
    for label, rs in (("stills", stills), ("clips", clips)):
        v = [r for r in rs if r.votes]
        if v:
            best = max(v, key=lambda r: (r.inliers_rejected, r.votes))
            out.append(f"- local features, {label}: {len(v)} files had a candidate with ≥ "
                       f"{feat.MIN_INLIERS} ratio-test votes (most votes "
                       f"{max(r.votes for r in v)}); most RANSAC inliers of a refused "
                       f"candidate {best.inliers_rejected} ({best.neg.path.name}; threshold "
                       f"{feat.MIN_INLIERS}, {feat.MIN_INLIERS_SHORTLIST} from a short list; "
                       "refused for too few, a low inlier ratio, "
                       "clustered inliers or scale)")
        else:
            out.append(f"- local features, {label}: no candidate reached "
                       f"{feat.MIN_INLIERS} ratio-test votes")
        sq = [r for r in rs if r.squeeze_tries]
        if sq:
            best = max(sq, key=lambda r: r.squeeze_rejected)
            out.append(f"- squeezed placements, {label}: {len(sq)} files had a refused "
                       f"candidate tried as one ({sum(r.squeeze_tries for r in sq)} tries); "
                       f"most inliers of a refused one {best.squeeze_rejected} "
                       f"({best.neg.path.name}; threshold {feat.STRONG_INLIERS})")
        else:
            out.append(f"- squeezed placements, {label}: none tried")
        z = [r for r in rs if r.zooms]
        if z:
            best = max(z, key=lambda r: r.zoom_best)
            out.append(f"- closer looks, {label}: {len(z)} files ({sum(r.zooms for r in z)} "
                       f"regions); most inliers found in one {best.zoom_best} "
                       f"({best.neg.path.name}; a match at {feat.MIN_INLIERS_SHORTLIST})")
        elif label == "clips":
            out.append(f"- closer looks, {label}: none (no local-feature near miss, no "
                       f"window within {m.SECOND_LOOK_RADIUS} bits of an entry)")
        u = [r for r in rs if r.unsqueezed]
        out.append(f"- unsqueezed between bars, {label}: " + (
            f"{len(u)} files ({sum(r.unsqueezed for r in u)} "
            f"{'sampled frames' if label == 'clips' else 'stills'} with bars, stretched to "
            f"up to {m.UNSQUEEZE_ASPECTS} registered aspects)" if u else "none had bars"))
        p = [r for r in rs if r.parts]
        if label == "stills":
            out.append(f"- matched part by part, stills: {len(p)} files over "
                       f"{m.STILL_PARTS_MIN - 1} px matched nothing as a whole and were "
                       f"tried in up to {len(m.STILL_PARTS)} parts")
        t = [r for r in rs if r.texture_tries]
        if t:
            best = max(t, key=lambda r: r.texture_rejected)
            out.append(f"- periodic-texture matches, {label}: {len(t)} files tried against a "
                       f"texture frame ({sum(r.texture_tries for r in t)} RANSAC tries); most "
                       f"distinct inliers of a refused one {best.texture_rejected} "
                       f"({best.neg.path.name}, {best.neg.group}; threshold "
                       f"{feat.TEXTURE_MIN_INLIERS})")
        else:
            out.append(f"- periodic-texture matches, {label}: none tried")
    if audio:
        best = max(audio, key=lambda r: r.audio_hits)
        ex = np.array([r.audio_hits for r in audio])
        out.append(f"- audio: best excess score of any segment of {am.MIN_SECONDS:g} s or "
                   f"more {best.audio_hits:.1f} "
                   f"({best.neg.path.name}, {best.neg.group}; match at {am.ACCEPT_EXCESS:g}, "
                   f"review at {am.REVIEW_EXCESS:g}); median {float(np.median(ex)):.1f}, files "
                   f"≥ {am.REVIEW_EXCESS:g}: {int((ex >= am.REVIEW_EXCESS).sum())}, ≥ "
                   f"{am.ACCEPT_EXCESS:g}: {int((ex >= am.ACCEPT_EXCESS).sum())}")
        best = max(audio, key=lambda r: r.wave)
        wv = np.array([r.wave for r in audio])
        out.append(f"- audio, waveform search: best confidence of any verified segment "
                   f"{best.wave:.2f} ({best.neg.path.name}, {best.neg.group}; match at "
                   f"{wf.ACCEPT:g}, review at {wf.REVIEW:g}); files with a verified segment: "
                   f"{int((wv > 0).sum())}, ≥ {wf.REVIEW:g}: {int((wv >= wf.REVIEW).sum())}")
        checked = [r for r in audio if r.grains]
        if checked:
            best = max(checked, key=lambda r: r.grain_margin)
            gm = np.array([r.grain_margin for r in checked])
            out.append(f"- audio, time-stretch candidates checked by their grains: "
                       f"{sum(r.grains for r in checked)} in {len(checked)} files; best margin "
                       f"over the moved lines {best.grain_margin:.3f} ({best.neg.path.name}, "
                       f"{best.neg.group}; match at {wf.GRAIN_ACCEPT:g}, review at "
                       f"{wf.GRAIN_REVIEW:g}); files ≥ 0.08: {int((gm >= 0.08).sum())}, ≥ "
                       f"{wf.GRAIN_REVIEW:g}: {int((gm >= wf.GRAIN_REVIEW).sum())}")
            best = max(checked, key=lambda r: r.spectral_margin)
            sm = np.array([r.spectral_margin for r in checked])
            out.append(f"- audio, the same candidates by their spectral change: best margin "
                       f"over the moved lines {best.spectral_margin:.3f} "
                       f"({best.neg.path.name}, {best.neg.group}; match at "
                       f"{wf.SPEC_ACCEPT:g}, no grey band); files ≥ 0.08: "
                       f"{int((sm >= 0.08).sum())}")
        else:
            out.append("- audio, time-stretch candidates checked by their grains: none")
    return out


# ----------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sets (1-2 minutes)")
    ap.add_argument("--images", action="append", default=[], metavar="DIR",
                    help="more natural images (e.g. scikit-image's data folder; repeatable)")
    ap.add_argument("--no-write", action="store_true",
                    help=f"do not write {RESULTS.relative_to(ROOT)} (a full run writes it)")
    ap.add_argument("--keep", metavar="DIR", help="build in DIR and keep it (inspection)")
    args = ap.parse_args(argv)
    if not shutil.which("ffmpeg"):
        _log("ffmpeg is needed for the clips and MP3s")
        return 2
    sizes = Sizes.quick() if args.quick else Sizes()
    started = time.perf_counter()
    naturals = natural_images(args.images)
    pos = naturals[0::2]
    _log(f"{len(naturals)} natural images: {len(pos)} registered, "
         f"{len(naturals) - len(pos)} held out")
    with tempfile.TemporaryDirectory(prefix="bench-negatives-") as tmp:
        work = Path(args.keep) if args.keep else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        db, reg_counts = build_register(work, pos, sizes)
        _log(f"register built in {time.perf_counter() - t0:.0f} s: {reg_counts}")
        t0 = time.perf_counter()
        pics, excluded = negative_pictures(args.images, naturals, sizes)
        negs = [Neg(Path(p.path), "still", f"original: {p.group}", (p.name,)) for p in pics]
        _log(f"{len(pics)} negative pictures ({len(excluded)} left out as registered "
             f"pictures) in {time.perf_counter() - t0:.0f} s")
        t0 = time.perf_counter()
        negs += derived_stills(work / "stills", pics, sizes)
        _log(f"derived stills: {len(negs) - len(pics)} in {time.perf_counter() - t0:.0f} s")
        t0 = time.perf_counter()
        negs += derived_clips(work / "clips", pics, sizes)
        negs += found_media(VIDEO_EXTS, "clip", sizes.system_images)
        _log(f"clips built in {time.perf_counter() - t0:.0f} s")
        negs += synthetic_audio(work / "audio", sizes)
        negs += found_media(AUDIO_EXTS, "audio", sizes.system_images)
        for n in negs:
            if n.kind != "still" and not n.seconds:
                try:
                    n.seconds = _duration(n.path)
                except (OSError, ValueError, subprocess.CalledProcessError):
                    n.seconds = 0.0
        ctrl = scan_all(db, controls(work, pos), Probe())
        _log(f"{len(negs)} negatives; scanning")
        t0 = time.perf_counter()
        results = scan_all(db, negs, Probe())
        _log(f"scanned in {time.perf_counter() - t0:.0f} s")
        text = report(results, db, reg_counts, excluded, pics, started,
                      sys.argv[1:] if argv is None else argv, ctrl)
    print(text)
    if not (args.quick or args.no_write):
        RESULTS.write_text(text + "\n", encoding="utf-8")
    return 0


def _duration(path: Path) -> float:
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of",
                          "default=nw=1:nk=1", str(path)], capture_output=True, text=True,
                         check=True).stdout.strip()
    return float(out) if out and out != "N/A" else 0.0


if __name__ == "__main__":
    raise SystemExit(main())
