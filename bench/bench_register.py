"""Robustness benchmark of the temp-AI register (``make bench-register``).

Builds transformed copies of registered material at run time and reports recall per
transform and the false-match rate against unrelated material, with the number of queries
each rate rests on; then times a 1080p H.264 program against a 1,000-entry register and
extrapolates to a 2-hour program; then the finished-programme case (``register_programme``:
temp clips cut into a 1080p programme through each conform/finish transform, ProRes MOV,
H.264 MP4 and DNxHD MXF at 25 and 23.976 fps with a start timecode; per-class recall, in/out
error in frames, false matches, x real time per codec) and the look-up cost at 1k/10k/100k
entries (``register_scale``). Writes ``bench/results/register.md``.

    .venv/bin/python -m bench.bench_register            # full run (a few minutes, 2 cores)
    .venv/bin/python -m bench.bench_register --quick    # small sizes while developing

Natural images are scarce offline: it uses every decodable real image in fixtures/ and
../shared/corpus, images shipped inside installed packages (e.g. scikit-image's data folder,
Debian's desktop backgrounds) and any ``--images DIR`` given; near-duplicates are grouped
first so that two copies of one picture never count as "unrelated". Needs the ``ffmpeg`` and
(optionally) ``espeak-ng`` programs for the video/audio transforms and the speech mixes.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import glob
import os
import shutil
import site
import subprocess
import sys
import tempfile
import time
import wave
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw

from detectors.fingerprint import audio as audio_fp
from detectors.fingerprint import audio_match as am
from detectors.fingerprint import extract, pdq
from detectors.fingerprint import features as feat
from detectors.fingerprint import matcher as m
from detectors.fingerprint import video as video_fp
from detectors.fingerprint.store import RegisterStore
from fixtures.gen_register import synth_image, synth_music

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
CORPUS = Path(os.environ.get("DELIVERSCAN_CORPUS", ROOT.parent / "shared" / "corpus"))
IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".bmp")


# ----------------------------------------------------------------------------------------------
# material
SKIMAGE_DATA = ROOT / "bench" / "results" / "tmp" / "skimage-data"


def fetch_skimage_data(dest: Path = SKIMAGE_DATA) -> Path:
    """scikit-image's sample pictures (27 distinct natural images), fetched once."""
    from bench.make_real_tree import fetch_skimage_data as fetch  # noqa: PLC0415

    return fetch(dest)


def _image_files(extra: list[str]) -> list[Path]:
    roots = [ROOT / "fixtures", CORPUS, Path("/usr/share/backgrounds"), SKIMAGE_DATA,
             *map(Path, extra)]
    for sp in site.getsitepackages() + [site.getusersitepackages()]:
        roots += [Path(p) for p in glob.glob(os.path.join(sp, "skimage", "data"))]
        roots += [Path(p) for p in glob.glob(os.path.join(sp, "matplotlib", "mpl-data",
                                                          "sample_data"))]
    files: list[Path] = []
    for r in roots:
        if r.is_dir():
            files += sorted(p for p in r.rglob("*") if p.suffix.lower() in IMAGE_EXTS)
    return files


def natural_images(extra: list[str]) -> list[tuple[str, np.ndarray]]:
    """Decodable, detailed (PDQ quality >= 50), >= 128 px images, near-duplicates merged."""
    out: list[tuple[str, np.ndarray, bytes]] = []
    stems: set[str] = set()
    for p in _image_files(extra):
        # Debian wallpapers come as light/dark colourways of one design (x-l, x-d): one picture
        stem = p.stem[:-2] if "backgrounds" in p.parts and p.stem[-2:] in ("-l", "-d") else ""
        if stem and stem in stems:
            continue
        if {"register", "watermark", "hostile"} & set(p.parts):
            continue  # synthetic fixture families are not natural images
        try:
            rgb = extract.load_rgb(str(p))
        except Exception:  # noqa: BLE001 - broken test files are expected in the corpus
            continue
        if min(rgb.shape[:2]) < 128:
            continue
        if max(rgb.shape[:2]) > 1600:
            s = 1600 / max(rgb.shape[:2])
            rgb = cv2.resize(rgb, (round(rgb.shape[1] * s), round(rgb.shape[0] * s)),
                             interpolation=cv2.INTER_AREA)
        res = pdq.pdq_dihedral_pixels(rgb)
        if res.quality < 50:
            continue
        if any(min(pdq.hamming(res.hash, h2) for h2 in [o[2]]) <= 60 for o in out):
            continue
        out.append((str(p), rgb, res.hash))
        if stem:
            stems.add(stem)
    # Also merge pictures that share a region (stereo pairs, light/dark variants of one
    # wallpaper, crops of one photo): those are the same content, not unrelated material.
    feats = [feat.extract(rgb, feat.REGISTER_SIDE, feat.REGISTER_FEATURES) for _, rgb, _ in out]
    keep: list[int] = []
    for i, f in enumerate(feats):
        if keep and feat.FeatureIndex([(j, feats[j]) for j in keep]).query(
                feat.extract(out[i][1], feat.QUERY_SIDE, feat.QUERY_FEATURES)):
            continue
        keep.append(i)
        del f
    return [(out[i][0], out[i][1]) for i in keep]


# ----------------------------------------------------------------------------------------------
# image transforms
def _jpeg(rgb: np.ndarray, q: int) -> np.ndarray:
    ok, enc = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR),
                           [cv2.IMWRITE_JPEG_QUALITY, q])
    assert ok
    return cv2.cvtColor(cv2.imdecode(enc, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def _resize(rgb: np.ndarray, f: float) -> np.ndarray:
    h, w = rgb.shape[:2]
    return cv2.resize(rgb, (max(8, round(w * f)), max(8, round(h * f))),
                      interpolation=cv2.INTER_AREA)


def _crop(rgb: np.ndarray, frac: float) -> np.ndarray:
    """Remove ``frac`` of the area, off-centre (more from the top-left), as a reframe would."""
    h, w = rgb.shape[:2]
    keep = np.sqrt(1 - frac)
    nh, nw = int(h * keep), int(w * keep)
    y0, x0 = (h - nh) * 2 // 3, (w - nw) * 2 // 3
    return rgb[y0:y0 + nh, x0:x0 + nw]


def _gamma(rgb: np.ndarray, g: float) -> np.ndarray:
    lut = (255 * (np.arange(256) / 255) ** g).astype(np.uint8)
    return lut[rgb]


def random_crop(rgb: np.ndarray, rng: np.random.Generator, least: float = 0.3) -> np.ndarray:
    """A random window of ``rgb``, each side ``least``-1 of the picture's (the benchmarks'
    unrelated register entries and the vocabulary's training variants)."""
    h, w = rgb.shape[:2]
    cw, ch = int(w * rng.uniform(least, 1)), int(h * rng.uniform(least, 1))
    x, y = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
    return rgb[y:y + ch, x:x + cw]


def _grade(rgb: np.ndarray) -> np.ndarray:
    """A teal-and-orange grade: per-channel gains, lifted blacks, more contrast."""
    x = rgb.astype(np.float32) / 255
    x = (x - 0.5) * 1.2 + 0.5
    x = x * np.array([1.08, 0.98, 0.88]) + np.array([0.02, 0.03, 0.06])
    return np.clip(x * 255, 0, 255).astype(np.uint8)


def _noise(rgb: np.ndarray, sigma: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(rgb + rng.normal(0, sigma, rgb.shape), 0, 255).astype(np.uint8)


def _overlay(rgb: np.ndarray) -> np.ndarray:
    """Burnt-in title text and a corner logo."""
    im = Image.fromarray(rgb.copy())
    d = ImageDraw.Draw(im)
    h, w = rgb.shape[:2]
    d.rectangle([w * 0.05, h * 0.78, w * 0.95, h * 0.92], fill=(0, 0, 0))
    for k in range(3):
        d.text((w * 0.08 + k * w * 0.28, h * 0.82), f"TEMP VFX v0{k + 3}",
               fill=(255, 255, 255))
    d.ellipse([w * 0.85, h * 0.04, w * 0.96, h * 0.04 + w * 0.11], fill=(230, 40, 40))
    return np.asarray(im)


def _composite(rgb: np.ndarray, bg: np.ndarray, area: float | None, scale: float | None,
               seed: int) -> np.ndarray:
    """``rgb`` scaled into a 1280x720 frame made from ``bg``: to ``area`` of the frame, or to
    ``scale`` x the frame's size (linear)."""
    rng = np.random.default_rng(seed)
    frame = cv2.resize(bg, (1280, 720), interpolation=cv2.INTER_AREA)
    h, w = rgb.shape[:2]
    if area is not None:
        f = np.sqrt(area * 1280 * 720 / (w * h))
    else:
        assert scale is not None
        f = min(scale * 1280 / w, scale * 720 / h)
    f = min(f, 1280 / w, 720 / h)  # keep the aspect ratio; never larger than the frame
    nw, nh = round(w * f), round(h * f)
    el = cv2.resize(rgb, (nw, nh), interpolation=cv2.INTER_AREA)
    x0 = int(rng.integers(0, 1280 - nw + 1))
    y0 = int(rng.integers(0, 720 - nh + 1))
    frame[y0:y0 + nh, x0:x0 + nw] = el
    return _jpeg(frame, 85)


# ----------------------------------------------------------------------------------------------
@dataclass
class Row:
    group: str
    name: str
    hits: int = 0
    total: int = 0
    extra: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.hits / self.total if self.total else float("nan")


def _fmt(r: Row, target: float | None, invert: bool = False) -> str:
    pct = f"{100 * r.rate:.1f} %" if r.total else "n/a"
    ok = ""
    if target is not None and r.total:
        ok = " ✓" if ((r.rate <= target) if invert else (r.rate >= target)) else " ✗"
    note = f" {'; '.join(r.extra)}" if r.extra else ""
    return f"| {r.group} | {r.name} | {pct}{ok} | {r.hits}/{r.total} |{note} |"


def _add_image(store: RegisterStore, name: str, rgb: np.ndarray, tool: str) -> int:
    fp = extract.fingerprint_image(rgb)
    sha = f"bench-{tool}-{name}"
    return store.add(sha256=sha, media_type="image/png", path=name, size=0, tool=tool,
                     note="bench", added="bench", verdict="clean", evidence=[], fp=fp)


def bench_images(work: Path, naturals: list[tuple[str, np.ndarray]], distractors: int,
                 log: Callable[[str], None]) -> tuple[list[Row], dict[str, object]]:
    pos = naturals[0::2]
    neg = naturals[1::2]
    db = work / "images.db"
    with RegisterStore(str(db), readonly=False, create=True) as store:
        ids = [_add_image(store, n, rgb, "natural") for n, rgb in pos]
        for k in range(distractors):
            _add_image(store, f"synth-{k}", synth_image(1000 + k, 480, 320), "synthetic")
    reg = m.Register(str(db))
    transforms: list[tuple[str, Callable[[np.ndarray, int], np.ndarray], float]] = [
        ("resize 50 %", lambda x, i: _resize(x, 0.5), 0.95),
        ("resize 25 %", lambda x, i: _resize(x, 0.25), 0.95),
        ("JPEG q50", lambda x, i: _jpeg(x, 50), 0.95),
        ("JPEG q75", lambda x, i: _jpeg(x, 75), 0.95),
        ("crop 10 %", lambda x, i: _crop(x, 0.10), 0.95),
        ("crop 20 %", lambda x, i: _crop(x, 0.20), 0.95),
        ("gamma 0.7", lambda x, i: _gamma(x, 0.7), 0.95),
        ("colour grade", lambda x, i: _grade(x), 0.95),
        ("blur (Gaussian sigma 2)", lambda x, i: cv2.GaussianBlur(x, (0, 0), 2), 0.95),
        ("noise (sigma 8)", lambda x, i: _noise(x, 8, i), 0.95),
        ("text/logo overlay", lambda x, i: _overlay(x), 0.95),
        ("flip (mirror) + JPEG q75", lambda x, i: _jpeg(x[:, ::-1].copy(), 75), 0.95),
        ("composite, element 30 % of frame area",
         lambda x, i: _composite(x, neg[i % len(neg)][1], 0.30, None, i), 0.80),
        ("composite, element 60 % of frame area",
         lambda x, i: _composite(x, neg[i % len(neg)][1], 0.60, None, i), 0.80),
        ("composite, element at 30 % linear scale (9 % area)",
         lambda x, i: _composite(x, neg[i % len(neg)][1], None, 0.30, i), None),
        ("composite, element at 60 % linear scale (36 % area)",
         lambda x, i: _composite(x, neg[i % len(neg)][1], None, 0.60, i), 0.80),
    ]
    rows: list[Row] = []
    dists: dict[str, list[int]] = {}
    t0 = time.perf_counter()
    queries = 0
    for name, fn, target in transforms:
        row = Row("image", name)
        row.extra.append(f"target ≥ {target:.0%}" if target else "no target (below 30 % area)")
        methods: dict[str, int] = {}
        own: list[int] = []
        for i, ((_, rgb), eid) in enumerate(zip(pos, ids, strict=True)):
            q = fn(rgb, i)
            found, _ = reg.match_image(q)
            near = [d for r, d in reg.pdq_lookup(pdq.pdq_rgb(q, dihedral=False).hash, 64)
                    if int(reg.pdq_entry[r]) == eid]
            own.append(min(near) if near else 99)
            queries += 1
            row.total += 1
            good = [f for f in found if f.entry.id == eid]
            if good:
                row.hits += 1
                methods[good[0].method] = methods.get(good[0].method, 0) + 1
        row.extra.insert(0, "by " + ", ".join(f"{k} {v}" for k, v in sorted(methods.items())))
        row.extra.append("PDQ to own entry ≤31/≤40/≤48: " + "/".join(
            str(sum(d <= r for d in own)) for r in (31, 40, 48)))
        rows.append(row)
        log(_fmt(row, None))
    # negatives: the held-out images, 3x3 tiles of them, and their JPEG/flip copies
    neg_queries: list[np.ndarray] = []
    neg_names: list[str] = []
    for name, rgb in neg:
        h, w = rgb.shape[:2]
        before = len(neg_queries)
        neg_queries += [rgb, _jpeg(rgb, 75), _jpeg(rgb[:, ::-1].copy(), 75)]
        for ty in range(3):
            for tx in range(3):
                tile = rgb[ty * h // 3:(ty + 1) * h // 3, tx * w // 3:(tx + 1) * w // 3]
                if min(tile.shape[:2]) >= 64:
                    neg_queries.append(_resize(tile, 2.0))
        neg_names += [Path(name).name] * (len(neg_queries) - before)
    for k in range(100 if distractors else 0):  # synthetic, unregistered
        neg_queries.append(synth_image(50_000 + k, 480, 320))
        neg_names.append(f"synth-{50_000 + k}")
    fm = Row("image", "false matches (unrelated images, tiles, JPEG/flip copies)")
    min_d: list[int] = []
    wrong: list[str] = []
    for q, qname in zip(neg_queries, neg_names, strict=True):
        found, quality = reg.match_image(q)
        fm.total += 1
        fm.hits += bool(found)
        if found:
            wrong.append(f"{qname} ~ {Path(found[0].entry.path).name} ({found[0].method}"
                         + (f", {found[0].local.inliers} inliers)" if found[0].local else ")"))
        if quality >= m.MIN_QUALITY:
            res = pdq.pdq_rgb(q, dihedral=False)
            near = reg.pdq_lookup(res.hash, 90)
            min_d.append(near[0][1] if near else 91)
    dists["negatives_min_pdq_distance"] = min_d
    fm.extra.append(f"{len(neg)} held-out natural images -> {len(neg_queries)} queries, "
                    f"register of {len(pos)} natural + {distractors} synthetic entries "
                    f"(x8 dihedral hashes)")
    if min_d:
        fm.extra.append(f"closest unrelated PDQ distance: min {min(min_d)}, "
                        f"5th percentile {int(np.percentile(min_d, 5))}")
    if wrong:
        fm.extra.append("false: " + ", ".join(wrong))
    rows.append(fm)
    log(_fmt(fm, None))
    info = {"positives": len(pos), "negatives": len(neg), "queries": queries + len(neg_queries),
            "seconds": round(time.perf_counter() - t0, 1)}
    reg.close()
    return rows, info


# ----------------------------------------------------------------------------------------------
# video
def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args], check=True)


def _ken_burns(rgb: np.ndarray, seconds: float, fps: float, size: tuple[int, int],
               seed: int) -> list[np.ndarray]:
    """A slow pan/zoom over a still: the look of a generated clip."""
    rng = np.random.default_rng(seed)
    h, w = rgb.shape[:2]
    n = int(seconds * fps)
    z0, z1 = rng.uniform(0.75, 0.9), rng.uniform(0.6, 0.75)
    out = []
    for i in range(n):
        a = i / max(n - 1, 1)
        z = z0 + (z1 - z0) * a
        cw, ch = int(w * z), int(h * z)
        x = int((w - cw) * (0.2 + 0.6 * a))
        y = int((h - ch) * 0.5)
        out.append(cv2.resize(rgb[y:y + ch, x:x + cw], size, interpolation=cv2.INTER_AREA))
    return out


def _write_raw(path: Path, frames: list[np.ndarray], fps: float, codec: list[str]) -> None:
    """Encode RGB frames with the ffmpeg program (piped raw video)."""
    h, w = frames[0].shape[:2]
    proc = subprocess.Popen(["ffmpeg", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24",
                             "-s", f"{w}x{h}", "-r", str(fps), "-i", "-", *codec, str(path)],
                            stdin=subprocess.PIPE)
    assert proc.stdin is not None
    for f in frames:
        proc.stdin.write(np.ascontiguousarray(f).tobytes())
    proc.stdin.close()
    if proc.wait() != 0:
        raise RuntimeError("ffmpeg failed")


def bench_video(work: Path, naturals: list[tuple[str, np.ndarray]], clips: int,
                log: Callable[[str], None]) -> list[Row]:
    fps = 24.0
    hd = (1920, 1080)
    pos = naturals[0::2][:clips]
    stills = naturals[0::2][clips:2 * clips]
    neg = naturals[1::2]
    db = work / "video.db"
    sources: list[tuple[int, Path, np.ndarray]] = []
    with RegisterStore(str(db), readonly=False, create=True) as store:
        for i, (name, rgb) in enumerate(pos):
            path = work / f"clip{i}.mp4"
            _write_raw(path, _ken_burns(rgb, 6.0, fps, hd, i), fps,
                       ["-c:v", "libx264", "-crf", "18", "-preset", "veryfast",
                        "-pix_fmt", "yuv420p"])
            fp = extract.fingerprint_video(str(path))
            eid = store.add(sha256=f"clip{i}", media_type="video/mp4", path=str(path), size=0,
                            tool="bench", note=name, added="bench", verdict="clean",
                            evidence=[], fp=fp)
            sources.append((eid, path, rgb))
        for k in range(len(pos)):  # stills too, to test "still held inside a program"
            fp = extract.fingerprint_image(stills[k][1])
            store.add(sha256=f"still{k}", media_type="image/png", path=f"still{k}", size=0,
                      tool="bench", note="still", added="bench", verdict="clean",
                      evidence=[], fp=fp)
    reg = m.Register(str(db))
    still_ids = {e.sha256: e.id for e in reg.entries.values()}

    def scan(path: Path) -> list[m.RangeMatch]:
        frames = video_fp.sample(str(path), rate=extract.SCAN_RATE, max_side=extract.FRAME_SIDE)
        return reg.match_frames(frames, local_every=5.0)[0]

    rows = {k: Row("video", k) for k in (
        "H.264 re-encode at 600 kb/s (1080p)", "1080p -> 720p", "clip inserted into a program "
        "(start within ±1 s)", "still held 2 s inside a program (start within ±1 s)")}
    errors: list[float] = []
    for i, (eid, path, _rgb) in enumerate(sources):
        low = work / f"low{i}.mp4"
        _ffmpeg("-i", str(path), "-c:v", "libx264", "-b:v", "600k", "-preset", "veryfast", str(low))
        r = rows["H.264 re-encode at 600 kb/s (1080p)"]
        r.total += 1
        r.hits += any(x.entry.id == eid for x in scan(low))
        s720 = work / f"s720_{i}.mp4"
        _ffmpeg("-i", str(path), "-vf", "scale=-2:720", "-c:v", "libx264", "-crf", "23",
                "-preset", "veryfast", str(s720))
        r = rows["1080p -> 720p"]
        r.total += 1
        r.hits += any(x.entry.id == eid for x in scan(s720))
        # program: 2 unrelated shots, the registered clip (from 9.5 s), 1 more shot
        at = 9.5 + i * 0.37
        a = _ken_burns(neg[(2 * i) % len(neg)][1], at / 2, fps, (1280, 720), 100 + i)
        b = _ken_burns(neg[(2 * i + 1) % len(neg)][1], at - len(a) / fps, fps, (1280, 720),
                       200 + i)
        cap = cv2.VideoCapture(str(path))
        clip_frames = []
        while True:
            ok, fr = cap.read()
            if not ok:
                break
            clip_frames.append(cv2.resize(cv2.cvtColor(fr, cv2.COLOR_BGR2RGB), (1280, 720),
                                          interpolation=cv2.INTER_AREA))
        cap.release()
        tail = _ken_burns(neg[(2 * i + 2) % len(neg)][1], 5.0, fps, (1280, 720), 300 + i)
        program = work / f"program{i}.mp4"
        _write_raw(program, a + b + clip_frames + tail, fps,
                   ["-c:v", "libx264", "-crf", "23", "-preset", "veryfast", "-pix_fmt", "yuv420p"])
        start = (len(a) + len(b)) / fps
        r = rows["clip inserted into a program (start within ±1 s)"]
        r.total += 1
        got = [x for x in scan(program) if x.entry.id == eid]
        if got and abs(got[0].start - start) <= 1.0:
            r.hits += 1
            errors.append(abs(got[0].start - start))
        # still held for 2 s at 7.3 s of a program
        still = stills[i][1]
        held = [cv2.resize(still, (1280, 720), interpolation=cv2.INTER_AREA)] * int(2 * fps)
        pre = _ken_burns(neg[(i + 3) % len(neg)][1], 7.3, fps, (1280, 720), 400 + i)
        post = _ken_burns(neg[(i + 4) % len(neg)][1], 4.0, fps, (1280, 720), 500 + i)
        prog2 = work / f"held{i}.mp4"
        _write_raw(prog2, pre + held + post, fps,
                   ["-c:v", "libx264", "-crf", "23", "-preset", "veryfast", "-pix_fmt", "yuv420p"])
        r = rows["still held 2 s inside a program (start within ±1 s)"]
        r.total += 1
        sid = still_ids[f"still{i}"]
        got = [x for x in scan(prog2) if x.entry.id == sid]
        if got and abs(got[0].start - len(pre) / fps) <= 1.0:
            r.hits += 1
        log(f"video {i}: done")
    # negatives: programs of unrelated shots only
    fm = Row("video", "false matches (programs of unrelated shots)")
    for k in range(max(2, clips)):
        shots = []
        for j in range(3):
            shots += _ken_burns(neg[(k * 3 + j) % len(neg)][1], 4.0, fps, (1280, 720),
                                600 + k * 3 + j)
        p = work / f"neg{k}.mp4"
        _write_raw(p, shots, fps, ["-c:v", "libx264", "-crf", "23", "-preset", "veryfast",
                                   "-pix_fmt", "yuv420p"])
        fm.total += 1
        fm.hits += bool(scan(p))
    out = list(rows.values())
    if errors:
        out[2].extra.append(f"mean start error {np.mean(errors):.2f} s")
    fm.extra.append(f"{fm.total} programs of 12 s, {fm.total * 12} sampled frames")
    out.append(fm)
    for r in out:
        log(_fmt(r, None))
    reg.close()
    return out


# ----------------------------------------------------------------------------------------------
# audio
def _write_wav(path: Path, x: np.ndarray, sr: int) -> None:
    pcm = (np.clip(x, -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sr)
        w.writeframes(pcm.tobytes())


def _read_any(path: Path, sr: int) -> np.ndarray:
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-f", "f32le", "-ac", "1",
                          "-ar", str(sr), "-"], check=True, capture_output=True).stdout
    return np.frombuffer(raw, dtype="<f4").copy()


def _speech(work: Path, seconds: float, sr: int, seed: int) -> np.ndarray | None:
    if not shutil.which("espeak-ng"):
        return None
    rng = np.random.default_rng(seed)
    words = ("the shot we need is wider than that so move the camera back and hold on her "
             "face until the line lands then cut to the reverse we talked about yesterday").split()
    text = " ".join(rng.choice(words, 160))
    wav = work / f"speech{seed}.wav"
    subprocess.run(["espeak-ng", "-s", str(int(rng.integers(140, 180))), "-p",
                    str(int(rng.integers(30, 70))), "-w", str(wav), text], check=True)
    x = _read_any(wav, sr)
    reps = int(np.ceil(seconds * sr / len(x)))
    return np.tile(x, reps)[: int(seconds * sr)]


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x.astype(np.float64) ** 2)) + 1e-12)


def bench_audio(work: Path, cues: int, log: Callable[[str], None]) -> list[Row]:
    sr = 48000
    db = work / "audio.db"
    sources: list[tuple[int, np.ndarray]] = []
    with RegisterStore(str(db), readonly=False, create=True) as store:
        for k in range(cues):
            x = synth_music(7000 + k, 30.0, sr)
            p = work / f"cue{k}.wav"
            _write_wav(p, x, sr)
            fp = extract.fingerprint_audio(str(p), is_wav=True)
            eid = store.add(sha256=f"cue{k}", media_type="audio/wav", path=str(p), size=0,
                            tool="bench", note="", added="bench", verdict="clean",
                            evidence=[], fp=fp)
            sources.append((eid, x))
        for p in sorted(CORPUS.glob("*sample1.wav"))[:1] + sorted(CORPUS.glob("*sample1.mp3")):
            fp = extract.fingerprint_audio(str(p), is_wav=p.suffix == ".wav")
            eid = store.add(sha256=p.name, media_type="audio", path=str(p), size=0,
                            tool="bench", note="corpus", added="bench", verdict="clean",
                            evidence=[], fp=fp)
            sources.append((eid, _read_any(p, sr)))
    reg = m.Register(str(db))

    def scan(path: Path) -> list[m.RangeMatch]:
        return reg.match_audio(audio_fp.fingerprint(str(path), is_wav=path.suffix == ".wav",
                                                    density=am.QUERY, half=True))

    names = ["MP3 128 kb/s", "48 -> 44.1 kHz", "+6 dB (clipping)", "-6 dB",
             "10 s excerpt (offset within ±1 s)", "mixed under speech at 0 dB SNR",
             "mixed under speech at -10 dB SNR"]
    rows = {n: Row("audio", n) for n in names}
    have_speech = shutil.which("espeak-ng") is not None
    for i, (eid, x) in enumerate(sources):
        base = work / f"a{i}.wav"
        _write_wav(base, x, sr)

        def check(row: str, path: Path, start: float | None = None,
                  _eid: int = eid) -> None:
            r = rows[row]
            r.total += 1
            got = [g for g in scan(path) if g.entry.id == _eid]
            if got and (start is None or any(abs(g.start - start) <= 1.0 for g in got)):
                r.hits += 1

        mp3 = work / f"a{i}.mp3"
        _ffmpeg("-i", str(base), "-b:a", "128k", str(mp3))
        check("MP3 128 kb/s", mp3)
        r44 = work / f"a{i}_44.wav"
        _ffmpeg("-i", str(base), "-ar", "44100", str(r44))
        check("48 -> 44.1 kHz", r44)
        up = work / f"a{i}_up.wav"
        _write_wav(up, x * 2.0, sr)
        check("+6 dB (clipping)", up)
        down = work / f"a{i}_dn.wav"
        _write_wav(down, x * 0.5, sr)
        check("-6 dB", down)
        ex = work / f"a{i}_ex.wav"
        _write_wav(ex, x[int(12 * sr): int(22 * sr)], sr)
        check("10 s excerpt (offset within ±1 s)", ex)
        if have_speech:
            sp = _speech(work, 45.0, sr, 900 + i)
            assert sp is not None
            seg = x[: int(30 * sr)]
            for snr, row in ((0, "mixed under speech at 0 dB SNR"),
                             (-10, "mixed under speech at -10 dB SNR")):
                stem = sp.copy()
                at = int(7.5 * sr)
                gain = _rms(sp) / _rms(seg) * 10 ** (snr / 20)
                stem[at:at + len(seg)] += seg * gain
                stem = stem / np.abs(stem).max() * 0.9
                mix = work / f"a{i}_mix{-snr}.wav"
                _write_wav(mix, stem, sr)
                check(row, mix, start=7.5)
    out = list(rows.values())
    if not have_speech:
        for r in out[-2:]:
            r.extra.append("espeak-ng missing: not measured")
    # negatives: unregistered music, speech, speech + unregistered music
    fm = Row("audio", "false matches (unregistered music, speech, mixes)")
    for k in range(cues * 2):
        x = synth_music(90_000 + k, 30.0, sr)
        p = work / f"neg{k}.wav"
        if have_speech and k % 2:
            sp = _speech(work, 30.0, sr, 2000 + k)
            assert sp is not None
            x = 0.5 * x / _rms(x) * _rms(sp) + sp
            x = x / np.abs(x).max() * 0.9
        _write_wav(p, x, sr)
        fm.total += 1
        fm.hits += bool(scan(p))
    fm.extra.append(f"{fm.total} clips of 30 s against {len(sources)} registered cues")
    out.append(fm)
    for r in out:
        log(_fmt(r, None))
    reg.close()
    return out


# ----------------------------------------------------------------------------------------------
# speed
def bench_speed(work: Path, entries: int, seconds: float, log: Callable[[str], None]
                ) -> list[str]:
    db = work / "big.db"
    t0 = time.perf_counter()
    with RegisterStore(str(db), readonly=False, create=True) as store:
        for k in range(entries):
            _add_image(store, f"e{k}", synth_image(200_000 + k, 480, 320), "synthetic")
    build = time.perf_counter() - t0
    t0 = time.perf_counter()
    reg = m.Register(str(db))
    load = time.perf_counter() - t0
    fps = 24.0
    path = work / "program1080.mp4"
    frames: list[np.ndarray] = []
    shots = int(seconds // 4)
    for j in range(shots):
        frames += _ken_burns(synth_image(300_000 + j, 960, 640), 4.0, fps, (1920, 1080), j)
    _write_raw(path, frames, fps, ["-c:v", "libx264", "-crf", "23", "-preset", "veryfast",
                                   "-pix_fmt", "yuv420p"])
    del frames
    dur = shots * 4.0
    t0 = time.perf_counter()
    runs, stats = reg.match_frames(video_fp.sample(str(path), rate=extract.SCAN_RATE,
                                                   max_side=extract.FRAME_SIDE),
                                   local_every=5.0)
    scan = time.perf_counter() - t0
    t0 = time.perf_counter()
    n = sum(1 for _ in video_fp.sample(str(path), rate=extract.SCAN_RATE,
                                       max_side=extract.FRAME_SIDE))
    decode = time.perf_counter() - t0
    x = 2 * 3600 / dur
    lines = [
        f"- register: {entries} image entries ({entries * 8} PDQ hashes, "
        f"{entries} ORB sets), built in {build:.0f} s, loaded in {load:.2f} s",
        f"- program: {dur:.0f} s of 1080p24 H.264 ({stats['frames']} sampled frames, "
        f"{stats['local_checked']} local-feature checks); false matches: {len(runs)}",
        f"- scan: {scan:.1f} s ({dur / scan:.1f}x real time; decode + sampling alone "
        f"{decode:.1f} s for {n} frames)",
        f"- extrapolated 2-hour program: {scan * x / 60:.1f} min of one core "
        f"({'faster' if scan < dur else 'slower'} than real time)",
    ]
    for line in lines:
        log(line)
    reg.close()
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes (development)")
    ap.add_argument("--images", action="append", default=[], metavar="DIR",
                    help="more natural images to use (repeatable)")
    ap.add_argument("--no-write", action="store_true", help="do not write results/register.md")
    ap.add_argument("--only", choices=("image", "video", "audio", "speed", "programme", "scale"),
                    action="append",
                    help="run only these sections (implies --no-write)")
    args = ap.parse_args(argv)
    quick = args.quick

    def log(s: str) -> None:
        print(s, file=sys.stderr, flush=True)

    if not shutil.which("ffmpeg"):
        log("ffmpeg is needed for the video and audio transforms")
        return 2
    t_all = time.perf_counter()
    naturals = natural_images(args.images)
    log(f"{len(naturals)} distinct natural images")
    with tempfile.TemporaryDirectory(prefix="bench-register-") as tmp:
        work = Path(tmp)
        only = set(args.only or ("image", "video", "audio", "speed", "programme", "scale"))
        img_rows: list[Row] = []
        img_info: dict[str, object] = {"positives": 0, "negatives": 0}
        vid_rows: list[Row] = []
        aud_rows: list[Row] = []
        speed: list[str] = []
        if "image" in only:
            img_rows, img_info = bench_images(work, naturals[:12] if quick else naturals,
                                              20 if quick else 150, log)
        if "video" in only:
            vid_rows = bench_video(work, naturals, 2 if quick else 4, log)
        if "audio" in only:
            aud_rows = bench_audio(work, 3 if quick else 10, log)
        if "speed" in only:
            speed = bench_speed(work, 100 if quick else 1000, 20 if quick else 60, log)
        programme: list[str] = []
        scale: list[str] = []
        if "programme" in only:
            from bench import register_programme  # noqa: PLC0415

            programme = register_programme.run(naturals, 1 if quick else len(
                register_programme.ENCODES), log)
        if "scale" in only:
            from bench import register_scale  # noqa: PLC0415

            scale = (register_scale.pdq_scale((1000, 10000) if quick else (1000, 10000, 100000))
                     + register_scale.feature_scale((100, 1000) if quick else (1000, 10000)))
    targets = {"composite": 0.80, "mixed": 0.80}
    lines = [
        "# Register robustness benchmark",
        "",
        f"`.venv/bin/python -m bench.bench_register {' '.join(sys.argv[1:])}`".replace(" `", "`")
        + " "
        f"({_dt.date.today().isoformat()}, {os.cpu_count()} cores shared, "
        f"{time.perf_counter() - t_all:.0f} s in all).",
        "",
        f"Thresholds: PDQ Hamming ≤ {m.PDQ_RADIUS}/256 (≤ {m.PDQ_SINGLE_FRAME} when a video "
        f"run rests on one frame), query PDQ quality ≥ {m.MIN_QUALITY}; local features ≥ "
        f"{m.feat.MIN_INLIERS} RANSAC inliers of a similarity transform; audio: a segment of "
        f"≥ {am.MIN_SECONDS:g} s whose aligned hits exceed {am.CHANCE_WEIGHT:g}x the chance "
        f"level at neighbouring offsets by ≥ {am.ACCEPT_EXCESS:g} (review from "
        f"{am.REVIEW_EXCESS:g}; detectors/fingerprint/audio_match.py).",
        "",
        f"Images: {img_info['positives']} distinct natural images registered (each a "
        f"positive per transform), {img_info['negatives']} held out as unrelated material; "
        "sources: fixtures/, ../shared/corpus, image data shipped in installed packages and "
        "Debian backgrounds (near-duplicates merged). Video: 1080p24 H.264 clips made as "
        "pan/zoom shots over registered images. Audio: synthetic 30 s music cues at 48 kHz "
        "(no natural music offline) plus the corpus's sample1.wav/mp3; speech by espeak-ng.",
        "",
        "| kind | transform | rate | n | notes |",
        "| --- | --- | --- | --- | --- |",
    ]
    for r in img_rows + vid_rows + aud_rows:
        if r.name.startswith("false"):
            lines.append(_fmt(r, 0.001, invert=True))
        else:
            tgt = next((v for k, v in targets.items() if k in r.name), 0.95)
            if "9 % area" in r.name:
                tgt = None
            lines.append(_fmt(r, tgt))
    lines += ["", "## Speed (one core)", "", *speed, ""]
    if programme:
        lines += ["## Finished programme (conform + finish, 1080p, five encodes)", "",
                  *programme, ""]
    if scale:
        lines += ["## Look-up cost against register size", "", *scale, ""]
    text = "\n".join(lines)
    print(text)
    if not args.no_write and not args.only:
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "register.md").write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
