"""The finished-programme case of the register benchmark (``python -m bench.register_programme``).

Temp clips (pan/zoom shots over real photos, registered as H.264 files) are cut into a 1080p
programme after a "conform and finish": each insert goes through one transform class (grade,
reframe crop, title/logo over picture, picture-in-picture, flip, letterbox, speed +4 %, plain),
between unregistered shots. The programme is encoded as ProRes MOV, H.264 MP4 and DNxHD MXF at
25 fps, as ProRes/H.264 at 23.976 fps, and as H.264 with a 1 s GOP (MP4) and with B-frames
(MXF) at 25 fps, each with a start timecode of 01:00:00:00 (``--only`` picks some), and
scanned by the register detector exactly as ``deliverscan scan --register`` does. Reported:
per-class recall, false matches (a finding that overlaps no insert of its entry), in/out
error in frames, and scan speed (x real time). Repeat runs and take the minimum time: the
machine is shared.

The sound (``bench/programme_audio.py``): temp VO and music cues under a dialogue, music and
ambience bed; the MOV and MXF masters carry the mix and the dialogue and music stems as three
tracks, the MP4 the mix as AAC; the stems are also scanned as WAV files.

``--delivery`` also puts each frame rate's encodes and its dialogue and music stems in one
folder and times ``deliverscan scan`` on it (every default detector plus the register, a fresh
process) with one and with two workers: what a delivery check costs end to end.

Images are split by a hash of their name: ``--split held-out`` (the default, what
``bench/results/register.md`` reports) and ``--split tune`` never share a picture.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image, ImageDraw

from bench import programme_audio as pa
from bench.bench_register import (
    _grade,
    _ken_burns,
    fetch_skimage_data,
    natural_images,
    random_crop,
)
from detectors.api import Options, Shared
from detectors.fingerprint import extract
from detectors.fingerprint.matcher import WAVEFORM_FULL_S, Register
from detectors.fingerprint.store import RegisterStore
from detectors.registry import load_spec
from scanner.pipeline import scan_asset
from scanner.walk import Walker

HD = (1920, 1080)
CLASSES = ("plain", "grade", "reframe crop 15 %", "title + logo over picture",
           "picture-in-picture 40 %", "flip", "letterbox 2.39", "speed +4 %")
INSERT_S = 3.0
FILLER_S = 4.0
ENCODES = (("ProRes 422 LT MOV 25p", "mov", 25, ["-c:v", "prores_ks", "-profile:v", "1",
                                                  "-pix_fmt", "yuv422p10le"]),
           ("H.264 MP4 25p", "mp4", 25, ["-c:v", "libx264", "-preset", "veryfast", "-crf",
                                         "20", "-pix_fmt", "yuv420p", "-g", "50"]),
           ("DNxHD 120 MXF 25p", "mxf", 25, ["-c:v", "dnxhd", "-b:v", "120M", "-pix_fmt",
                                             "yuv422p"]),
           ("ProRes 422 LT MOV 23.976p", "mov", 24000 / 1001,
            ["-c:v", "prores_ks", "-profile:v", "1", "-pix_fmt", "yuv422p10le"]),
           ("H.264 MP4 23.976p", "mp4", 24000 / 1001,
            ["-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-pix_fmt", "yuv420p",
             "-g", "48"]),
           # a keyframe every second, as broadcast and mezzanine long-GOP has them: sampled
           # from its keyframes alone (``video._keyframe_pictures``)
           ("H.264 MP4 25p, 1 s GOP", "mp4", 25, ["-c:v", "libx264", "-preset", "veryfast",
                                                  "-crf", "20", "-pix_fmt", "yuv420p", "-g",
                                                  "25"]),
           # B-frames in an MXF written by FFmpeg: its packets carry decode times only
           # (``video._Reader.stamped_in_decode_order``)
           ("H.264 MXF 25p, B-frames", "mxf", 25, ["-c:v", "libx264", "-preset", "veryfast",
                                                   "-crf", "20", "-pix_fmt", "yuv420p", "-g",
                                                   "50", "-bf", "2"]),
           ("HEVC MP4 25p", "mp4", 25, ["-c:v", "libx265", "-preset", "veryfast", "-crf", "22",
                                        "-pix_fmt", "yuv420p", "-tag:v", "hvc1", "-x265-params",
                                        "keyint=50:log-level=error"]),
           # the 23.976 programme delivered for NTSC broadcast: 3:2 pulldown to 29.97, a
           # drop-frame start timecode, DNxHR (``CONVERSIONS``)
           ("DNxHR SQ MXF 29.97p DF, 3:2 pulldown of 23.976p", "mxf", 24000 / 1001,
            ["-c:v", "dnxhd", "-profile:v", "dnxhr_sq", "-pix_fmt", "yuv422p"]),
           # the 25p programme converted to 29.97 by a standards converter that blends
           # neighbouring frames (``CONVERSIONS``)
           ("ProRes 422 LT MOV 29.97p DF, 25p converted by frame blending", "mov", 25,
            ["-c:v", "prores_ks", "-profile:v", "1", "-pix_fmt", "yuv422p10le"]))
NTSC = 30000 / 1001


@dataclass
class Insert:
    cls: str
    entry: int
    first: int  # frame numbers in the programme, inclusive
    last: int


def _pulled_down(ins: Insert, fps: float) -> Insert:
    """``ins`` on the frames of its programme after 3:2 pulldown: from the frame that holds
    its first frame's first field to the one that holds its last frame's last field (two
    fields for an even frame, three for an odd one; a frame that mixes it with its
    neighbour's fields counts, and the one-frame tolerance covers either call)."""
    def first_field(k: int) -> int:
        return 5 * (k // 2) + 2 * (k % 2)
    last_field = first_field(ins.last) + (2 if ins.last % 2 == 0 else 3) - 1
    return Insert(ins.cls, ins.entry, first_field(ins.first) // 2, last_field // 2)


def _blended(ins: Insert, fps: float) -> Insert:
    """``ins`` on the frames of its programme converted to 29.97 by blending: the frames
    nearest its first and last (an edge frame mixes it with a neighbour)."""
    r = NTSC / fps
    return Insert(ins.cls, ins.entry, round(ins.first * r), round(ins.last * r))


@dataclass(frozen=True)
class Conversion:
    """An encode delivered at 29.97 drop-frame from a programme at another rate: FFmpeg's
    filter, and where each insert lands on the frames it makes."""

    vf: str
    frames: Callable[[Insert, float], Insert]


# 3:2 pulldown (FFmpeg's ``telecine``: of each four frames A B C D, five frames AA BB BC CD
# DD); a frame-blending standards conversion (FFmpeg's ``framerate``)
CONVERSIONS = {"DNxHR SQ MXF 29.97p DF, 3:2 pulldown of 23.976p":
               Conversion("telecine=pattern=23", _pulled_down),
               "ProRes 422 LT MOV 29.97p DF, 25p converted by frame blending":
               Conversion("framerate=fps=30000/1001", _blended)}


def _title(rgb: np.ndarray) -> np.ndarray:
    im = Image.fromarray(rgb)
    d = ImageDraw.Draw(im)
    w, h = im.size
    d.rectangle([w * 0.1, h * 0.74, w * 0.9, h * 0.9], fill=(10, 10, 10))
    d.text((w * 0.15, h * 0.78), "EPISODE 3  -  THE CROSSING", fill=(255, 255, 255),
           font_size=int(h * 0.06))
    d.ellipse([w * 0.86, h * 0.05, w * 0.95, h * 0.05 + w * 0.09], fill=(220, 30, 30))
    return np.asarray(im)


def _transform(cls: str, clip: list[np.ndarray], bg: list[np.ndarray]) -> list[np.ndarray]:
    w, h = HD
    if cls == "grade":
        return [_grade(f) for f in clip]
    if cls == "reframe crop 15 %":  # scale up 15 %, reposition up-left
        cw, ch = int(w / 1.15), int(h / 1.15)
        return [cv2.resize(f[20:20 + ch, 40:40 + cw], HD, interpolation=cv2.INTER_AREA)
                for f in clip]
    if cls == "title + logo over picture":
        return [_title(f) for f in clip]
    if cls == "picture-in-picture 40 %":
        out = []
        for f, b in zip(clip, bg, strict=False):
            o = b.copy()
            small = cv2.resize(f, (int(w * 0.4), int(h * 0.4)), interpolation=cv2.INTER_AREA)
            o[60:60 + small.shape[0], w - 80 - small.shape[1]:w - 80] = small
            cv2.rectangle(o, (w - 84 - small.shape[1], 56), (w - 76, 64 + small.shape[0]),
                          (255, 255, 255), 4)
            out.append(o)
        return out
    if cls == "flip":
        return [np.ascontiguousarray(f[:, ::-1]) for f in clip]
    if cls == "letterbox 2.39":
        ph = int(w / 2.39)
        out = []
        for f in clip:
            o = np.zeros_like(f)
            o[(h - ph) // 2:(h - ph) // 2 + ph] = cv2.resize(f, (w, ph),
                                                             interpolation=cv2.INTER_AREA)
            out.append(o)
        return out
    if cls == "speed +4 %":
        n = int(round(len(clip) / 1.04))
        return [clip[min(len(clip) - 1, int(round(i * 1.04)))] for i in range(n)]
    return clip


def _encode(path: Path, frames: Iterator[np.ndarray], fps: float, codec: list[str],
            audio: list[Path] | None = None) -> int:
    """Stream RGB frames into the ffmpeg program (a programme never sits in memory); each
    ``audio`` file becomes a track of its own."""
    w, h = HD
    audio = audio or []
    ins = [a for p in audio for a in ("-i", str(p))]
    maps = ["-map", "0:v", *[a for k in range(len(audio)) for a in ("-map", f"{k + 1}:a")]]
    if audio:
        maps += (["-c:a", "aac", "-b:a", "256k"] if path.suffix == ".mp4"
                 else ["-c:a", "pcm_s24le"])
    proc = subprocess.Popen(["ffmpeg", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt",
                             "rgb24", "-s", f"{w}x{h}", "-r", str(fps), "-i", "-", *ins,
                             *maps, *codec, str(path)], stdin=subprocess.PIPE)
    assert proc.stdin is not None
    n = 0
    for f in frames:
        proc.stdin.write(np.ascontiguousarray(f).tobytes())
        n += 1
    proc.stdin.close()
    if proc.wait() != 0:
        raise RuntimeError("ffmpeg failed")
    return n


@dataclass
class Programme:
    fps: float
    db: Path
    inserts: list[Insert]
    render: Callable[[], Iterator[np.ndarray]]
    frames: int
    sound: pa.Sound | None = None
    stems: dict[str, Path] | None = None


def build(work: Path, naturals: list[tuple[str, np.ndarray]], fps: float,
          log: Callable[[str], None], audio: bool = True) -> Programme:
    """Register the temp clips (once per rate) and plan the programme (rendered lazily)."""
    db = work / f"prog{round(fps * 1000)}.db"
    # one picture per temp insert (a picture used twice would be one entry found in another
    # entry's insert); the rest are the unregistered shots
    pos = naturals[:len(CLASSES)]
    neg = naturals[len(CLASSES):]

    def temp_clip(i: int) -> list[np.ndarray]:
        return _ken_burns(pos[i % len(pos)][1], INSERT_S + 0.5, fps, HD, 700 + i)

    ids: list[int] = []
    with RegisterStore(str(db), readonly=False, create=True) as store:
        for i, cls in enumerate(CLASSES):
            path = work / f"temp{i}_{round(fps)}.mp4"
            _encode(path, iter(temp_clip(i)), fps, ["-c:v", "libx264", "-crf", "18", "-preset",
                                                    "veryfast", "-pix_fmt", "yuv420p"])
            fp = extract.fingerprint_video(str(path))
            ids.append(store.add(sha256=f"temp{i}-{fps}", media_type="video/mp4",
                                 path=str(path), size=0, tool="bench", note=cls,
                                 added="bench", verdict="clean", evidence=[], fp=fp))
        sound = pa.build(work, store, _frames_total(fps) / fps, log) if audio else None
    filler_n = int(FILLER_S * fps)  # as many frames as _ken_burns makes
    n_ins = int(INSERT_S * fps)
    inserts: list[Insert] = []
    at = 0
    for i, cls in enumerate(CLASSES):
        at += filler_n
        n = n_ins if cls != "speed +4 %" else int(round(n_ins / 1.04))
        inserts.append(Insert(cls, ids[i], at, at + n - 1))
        at += n
    total = at + filler_n

    def render() -> Iterator[np.ndarray]:
        for i, cls in enumerate(CLASSES):
            yield from _ken_burns(neg[i % len(neg)][1], FILLER_S, fps, HD, 900 + i)
            bg = _ken_burns(neg[(i + 3) % len(neg)][1], INSERT_S + 0.5, fps, HD, 950 + i)
            yield from _transform(cls, temp_clip(i)[:n_ins], bg)
        yield from _ken_burns(neg[-1][1], FILLER_S, fps, HD, 999)

    assert total == _frames_total(fps)
    log(f"programme at {fps:.3f} fps: {total} frames, {len(inserts)} inserts")
    stems = None
    if sound is not None:
        sdir = work / f"sound{round(fps * 1000)}"
        sdir.mkdir(exist_ok=True)
        stems = pa.write(sdir, sound)
    return Programme(fps, db, inserts, render, total, sound, stems)


def _frames_total(fps: float) -> int:
    filler_n = int(FILLER_S * fps)
    n_ins = int(INSERT_S * fps)
    return (len(CLASSES) + 1) * filler_n + sum(
        n_ins if c != "speed +4 %" else int(round(n_ins / 1.04)) for c in CLASSES)


WAVEFORM_MINUTES: float | None = None  # ``--waveform-minutes``: every scan's default


def scan(db: Path, path: Path, waveform_minutes: float | None = None
         ) -> tuple[list[dict[str, object]], float]:
    """The register detector's findings in one file and the seconds it took.
    ``waveform_minutes``: the register setting of that name (default: ``WAVEFORM_MINUTES``,
    or as shipped)."""
    if waveform_minutes is None:
        waveform_minutes = WAVEFORM_MINUTES
    det = load_spec("detectors.register:RegisterDetector")
    assert det is not None
    opts = Options()
    opts.settings["register"] = {"path": str(db)}
    whole = WAVEFORM_FULL_S if waveform_minutes is None else waveform_minutes * 60
    if waveform_minutes is not None:
        opts.settings["register"]["waveform_minutes"] = waveform_minutes
    shared = Shared(opts)
    try:
        # opened (and its local-feature index built) once per worker, not per file, under
        # the detector's key: a scan's time here is the file's; ``pad`` logs what opening
        # costs
        shared.get(f"register:{db}:{whole:g}", lambda: Register(str(db), whole),
                   close=lambda r: r.close()).features()
        (asset,) = list(Walker().walk([str(path)]))
        t0 = time.perf_counter()
        res = scan_asset(asset, [det], shared)
        took = time.perf_counter() - t0
    finally:
        shared.close()
    for oc in res.outcomes:
        if oc.error:
            print(f"register detector: {oc.status}: {oc.error}", file=sys.stderr)
    return [f.to_dict() for oc in res.outcomes for f in oc.findings], took


def _mark(findings: list[dict[str, object]], inserts: list[tuple[int, float, float]],
          keys: tuple[str, str], found: dict[int, bool], errors: list[float]
          ) -> tuple[list[dict[str, object]], list[tuple[int, dict[str, Any], list[float]]]]:
    """Findings against inserts (entry, first, last) on the deliverable-range ``keys`` (frames
    or seconds): marks the inserts found and adds the in/out errors of first finds. Returns
    the false matches (findings overlapping no insert of their entry) and the first finds
    (insert index, evidence, errors)."""
    false: list[dict[str, object]] = []
    first: list[tuple[int, dict[str, Any], list[float]]] = []
    for f in findings:
        ev = f["evidence"]
        assert isinstance(ev, dict)
        d = ev.get("deliverable_range") or {}
        eid = (ev.get("entry") or {}).get("id")
        ok = False
        for i, (entry, lo, hi) in enumerate(inserts):
            if entry != eid or not d:
                continue
            if d[keys[0]] <= hi and d[keys[1]] >= lo:
                ok = True
                if not found.get(i):
                    found[i] = True
                    errs = [abs(d[keys[0]] - lo), abs(d[keys[1]] - hi)]
                    errors += errs
                    first.append((i, ev, errs))
        if not ok:
            false.append(f)
    return false, first


def _video_score(findings: list[dict[str, object]], inserts: list[Insert],
                 hits: dict[int, bool], tc_err: list[float], log: Callable[[str], None]) -> int:
    """Mark inserts found by picture findings; returns the false picture matches."""
    false, first = _mark(findings, [(i.entry, i.first, i.last) for i in inserts],
                         ("start_frame", "end_frame"), hits, tc_err)
    for f in false:
        log(f"  false: {f['location']} {str(f['message'])[:120]}")
    for i, ev, errs in first:
        if max(errs) > 1:
            d, ins = ev["deliverable_range"], inserts[i]
            log(f"  {ins.cls}: frames {d['start_frame']}-{d['end_frame']} for "
                f"{ins.first}-{ins.last} ({ev.get('method')}"
                f"{', ' + str(ev['found_in']) if ev.get('found_in') else ''})")
    return len(false)


def _audio_score(findings: list[dict[str, object]], inserts: list[pa.AudioInsert],
                 found: dict[int, bool], errors: list[float],
                 log: Callable[[str], None] | None = None) -> int:
    """Mark temp audio inserts found; returns the false audio matches. With ``log``: every
    in or out point more than 0.5 s off, with the front end that placed it."""
    false, first = _mark(findings, [(a.entry, a.start, a.end) for a in inserts],
                         ("start_s", "end_s"), found, errors)
    for i, ev, errs in first:
        if log is not None and max(errs) > 0.5:
            d, a = ev["deliverable_range"], inserts[i]
            log(f"  {a.cls}: {d['start_s']:.2f}-{d['end_s']:.2f} s for {a.start:.2f}-"
                f"{a.end:.2f} s ({ev.get('method')}, speed {ev.get('speed', 1.0)})")
    return len(false)


def padding(pictures: list[tuple[str, np.ndarray]], n: int, log: Callable[[str], None]
            ) -> list[extract.Fingerprint]:
    """``n`` still entries that are random crops (at most 640 px) of ``pictures``: what a
    register of many unrelated temp stills costs a scan that matches none of them."""
    rng = np.random.default_rng(17)
    t0 = time.perf_counter()
    out = []
    for k in range(n):
        crop = random_crop(pictures[k % len(pictures)][1], rng)
        s = min(1.0, 640 / max(crop.shape[:2]))
        if s < 1:
            crop = cv2.resize(crop, (round(crop.shape[1] * s), round(crop.shape[0] * s)),
                              interpolation=cv2.INTER_AREA)
        out.append(extract.fingerprint_image(np.ascontiguousarray(crop)))
    log(f"{n:,} padding entries fingerprinted in {time.perf_counter() - t0:.0f} s")
    return out


def pad(db: Path, fps: list[extract.Fingerprint], log: Callable[[str], None]) -> None:
    t0 = time.perf_counter()
    with RegisterStore(str(db), readonly=False) as store:
        for k, fp in enumerate(fps):
            store.add(sha256=f"pad{k}", media_type="image/png", path=f"pad{k}.png", size=0,
                      tool="bench", note="padding", added="bench", verdict="clean",
                      evidence=[], fp=fp)
    t1 = time.perf_counter()
    reg = Register(str(db))
    t2 = time.perf_counter()
    index = reg.features()
    t3 = time.perf_counter()
    log(f"{db.name}: padded in {t1 - t0:.0f} s; {len(reg.entries):,} entries, "
        f"{reg.pdq_index.size:,} PDQ hashes, {len(index.items):,} feature frames; "
        f"opened in {t2 - t1:.1f} s + local-feature index {t3 - t2:.1f} s")
    reg.close()


def delivery(folder: Path, db: Path, seconds: float, jobs: int) -> tuple[float, int]:
    """Wall time of ``deliverscan scan FOLDER --register DB -j JOBS`` (a fresh process: start-up,
    opening the register in every worker and the reports included) and its exit code;
    ``seconds``: the programme time in the folder (for the log line only)."""
    exe = Path(sys.executable).with_name("deliverscan")
    cmd = [str(exe), "scan", str(folder), "--register", str(db), "-j", str(jobs),
           "--no-cache", "-q", "--format", "json", "-o", str(folder.parent / "report.json")]
    t0 = time.perf_counter()
    rc = subprocess.run(cmd, check=False).returncode
    took = time.perf_counter() - t0
    print(f"delivery {folder.name} -j {jobs}: {seconds:.0f} s of programme in {took:.1f} s "
          f"(exit {rc})", file=sys.stderr, flush=True)
    return took, rc


def _delivery_lines(folders: dict[float, tuple[Path, float, int]],
                    dbs: dict[str, dict[float, Path]]) -> list[str]:
    """The whole delivery per frame rate (every encode of it plus the dialogue and music stem
    WAVs in one folder), scanned by the CLI with one and with two workers."""
    lines = ["", "Whole delivery through the CLI (`deliverscan scan DIR --register DB -j N "
             "--no-cache`, wall time of the process; x real time = programme seconds of the "
             "encodes / wall time, the stems' scan time included but not their length):", ""]
    for fps, (folder, secs, n) in folders.items():
        for what, by_fps in dbs.items():
            db = by_fps.get(fps)
            if db is None:
                continue
            for jobs in (1, 2):
                runs = [delivery(folder, db, secs, jobs) for _ in range(2)]
                took = min(t for t, _ in runs)
                codes = "/".join(str(rc) for rc in sorted({rc for _, rc in runs}))
                stems = len(list(folder.glob("*.wav")))
                lines.append(f"- {fps:g} fps, {n} encodes + {stems} stem WAVs, register {what}: "
                             f"`-j {jobs}` {took:.1f} s, **{secs / took:.1f}x real time** "
                             f"(exit {codes})")
    return lines


def run(naturals: list[tuple[str, np.ndarray]], encodes: int,
        log: Callable[[str], None], audio: bool = True,
        others: list[tuple[str, np.ndarray]] | None = None,
        padded: list[extract.Fingerprint] | None = None, whole: bool = False,
        keep: Path | None = None, only: str | None = None) -> list[str]:
    """Build, encode and scan the programme; the report lines (markdown). ``padded``: more
    unrelated entries added to every register scanned against. ``whole``: also time the
    whole delivery of each frame rate through the CLI (``_delivery_lines``). ``keep``: work
    there and leave it (registers, stems, the delivery folders) for scans by hand.
    ``only``: the encodes whose name holds it (of the first ``encodes``)."""
    per_class: dict[str, list[int]] = {c: [0, 0] for c in CLASSES}
    audio_rows: dict[str, list[int]] = {}
    tc_err: list[float] = []
    audio_err: list[float] = []
    false = 0
    audio_false = 0
    lines = []
    stem_speed: list[str] = []
    with (contextlib.nullcontext(str(keep)) if keep else
          tempfile.TemporaryDirectory(prefix="bench-prog-")) as tmp:
        work = Path(tmp)
        built: dict[float, Programme] = {}
        bases: dict[float, Path] = {}
        folders: dict[float, tuple[Path, float, int]] = {}
        used: set[str] = set()  # the encodes' file names
        for name, ext, fps, codec in ENCODES[:encodes]:
            if only and only not in name:
                continue
            if fps not in built:
                built[fps] = build(work, naturals, fps, log, audio)
                prog = built[fps]
                if padded:
                    pad(prog.db, padded, log)
                if prog.stems is not None and prog.sound is not None:
                    for stem in ("dialogue", "music"):
                        found_s, took_s = scan(prog.db, prog.stems[stem])
                        dur_s = len(prog.sound.mix) / pa.SR
                        stem_speed.append(f"{stem} stem WAV {dur_s:.0f} s in {took_s:.2f} s "
                                          f"({dur_s / took_s:.0f}x)")
                        mine = [a for a in prog.sound.inserts if a.stem == stem]
                        got: dict[int, bool] = {}
                        audio_false += _audio_score(found_s, mine, got, [])
                        for k, a in enumerate(mine):
                            row = audio_rows.setdefault(f"{a.cls} (its {stem} stem, WAV)",
                                                        [0, 0])
                            row[0] += bool(got.get(k))
                            row[1] += 1
            prog = built[fps]
            inserts, db = prog.inserts, prog.db
            timing = ["-timecode", "01:00:00:00"]
            conversion = CONVERSIONS.get(name)
            if conversion is not None:
                inserts = [conversion.frames(i, fps) for i in inserts]
                timing = ["-vf", conversion.vf, "-timecode", "01:00:00;00"]
            fname = f"programme_{round(NTSC if conversion else fps)}.{ext}"
            if fname in used:  # a second encode of the same rate and container
                fname = f"programme_{round(fps)}_{len(used)}.{ext}"
            used.add(fname)
            out = work / fname
            tracks = ([] if prog.stems is None else [prog.stems["mix"]] if ext == "mp4"
                      else [prog.stems["mix"], prog.stems["dialogue"], prog.stems["music"]])
            n = _encode(out, prog.render(), fps, [*codec, *timing], tracks)
            assert n == prog.frames, (n, prog.frames)
            dur = n / fps
            found, took = scan(db, out)
            took = min(took, scan(db, out)[1])  # shared machine: the better of two runs
            base = ""
            if others:
                # the same programme against a register of other pictures' clips: what a
                # scan costs when nothing in it is registered (no boundaries to refine)
                if fps not in bases:
                    bdir = work / f"base{round(fps * 1000)}"
                    bdir.mkdir()
                    bases[fps] = build(bdir, others, fps, log, audio=False).db
                    if padded:
                        pad(bases[fps], padded, log)
                bfound, btook = scan(bases[fps], out)
                btook = min(btook, scan(bases[fps], out)[1])
                base = (f"; {dur / btook:.1f}x against a register of other clips "
                        f"({len(bfound)} findings)")
            hits = {i: False for i in range(len(inserts))}
            pic = [f for f in found if not str(f["location"]).startswith("audio")]
            snd = [f for f in found if str(f["location"]).startswith("audio")]
            false += _video_score(pic, inserts, hits, tc_err, log)
            for i, ins in enumerate(inserts):
                per_class[ins.cls][1] += 1
                per_class[ins.cls][0] += hits[i]
            missed = [inserts[i].cls for i, h in hits.items() if not h]
            a_found = ""
            if prog.sound is not None:
                ains = prog.sound.inserts
                mix = "audio-track" if len(tracks) == 1 else "audio-track-1"
                for track in sorted({str(f["location"]).split(":")[0] for f in snd} | {mix}):
                    mine_f = [f for f in snd if str(f["location"]).split(":")[0] == track]
                    got = {}
                    if track == mix:
                        audio_false += _audio_score(mine_f, ains, got, audio_err, log)
                        for k, a in enumerate(ains):
                            row = audio_rows.setdefault(f"{a.cls} (programme mix)", [0, 0])
                            row[0] += bool(got.get(k))
                            row[1] += 1
                        a_found = f"; sound {sum(got.values())}/{len(ains)} in the mix"
                    else:  # a stem track: only what was mixed into that stem counts
                        stem = "dialogue" if track.endswith("-2") else "music"
                        mine = [a for a in ains if a.stem == stem]
                        audio_false += _audio_score(mine_f, mine, got, [])
            if conversion is not None:  # every picture finding labelled 29.97 drop-frame
                ranges = [f["evidence"].get("deliverable_range") or {} for f in pic
                          if isinstance(f["evidence"], dict)]
                df = sum(r.get("drop_frame") is True and r.get("rate") == "30000/1001"
                         and ";" in str(r.get("start")) for r in ranges)
                a_found += f"; {df}/{len(ranges)} picture findings labelled 29.97 drop-frame"
            line = (f"- {name}: {dur:.0f} s programme ({len(tracks)} audio track(s)) scanned "
                    f"in {took:.1f} s ({dur / took:.1f}x real time); {sum(hits.values())}/"
                    f"{len(inserts)} picture inserts found"
                    + (f" (missed: {', '.join(missed)})" if missed else "") + a_found + base)
            log(line)
            lines.append(line)
            if not whole:
                out.unlink()
                continue
            folder, secs, n_enc = folders.get(fps, (work / f"delivery{round(fps * 1000)}",
                                                    0.0, 0))
            if not folder.exists():
                folder.mkdir()
                for stem in ("dialogue", "music"):
                    if prog.stems is not None:
                        shutil.copy(prog.stems[stem], folder / prog.stems[stem].name)
            out.rename(folder / out.name)
            folders[fps] = (folder, secs + dur, n_enc + 1)
        if whole:
            lines += _delivery_lines(folders, {"of the programme's temp assets":
                                               {f: p.db for f, p in built.items()},
                                               "of other clips": bases})
    lines += ["", "| transform class | found | n |", "| --- | --- | --- |"]
    for c, (h, n) in per_class.items():
        lines.append(f"| {c} | {100 * h / max(n, 1):.0f} % | {h}/{n} |")
    if tc_err:
        within = sum(e <= 1 for e in tc_err)
        lines += ["", f"In/out points of found inserts: {within}/{len(tc_err)} within ±1 frame, "
                  f"max error {max(tc_err)} frames, mean {np.mean(tc_err):.2f}."]
    lines.append(f"False picture matches (findings overlapping no insert of their entry): "
                 f"{false}.")
    if audio_rows:
        lines += ["", "| temp audio class | found | n |", "| --- | --- | --- |"]
        for c, (h, n) in audio_rows.items():
            lines.append(f"| {c} | {100 * h / max(n, 1):.0f} % | {h}/{n} |")
        if audio_err:
            lines += ["", f"Audio in/out points (programme mix): {sum(e <= 0.5 for e in audio_err)}"
                      f"/{len(audio_err)} within 0.5 s, max error {max(audio_err):.2f} s, "
                      f"mean {np.mean(audio_err):.2f} s."]
        lines.append(f"False audio matches: {audio_false}. Stem scans: "
                     + "; ".join(stem_speed) + ".")
    return lines


def split(naturals: list[tuple[str, np.ndarray]], which: str) -> list[tuple[str, np.ndarray]]:
    """A fixed half of the pictures by a hash of the file name: the tune and held-out halves
    never share a picture, whatever else is installed."""
    if which == "all":
        return naturals

    def part(name: str) -> str:  # a third to tune on, two thirds held out
        return "tune" if hashlib.sha256(Path(name).name.encode()).digest()[0] % 3 == 0 \
            else "held-out"
    return [n for n in naturals if part(n[0]) == which]


def pictures(extra: list[str], log: Callable[[str], None]) -> list[tuple[str, np.ndarray]]:
    """Every natural picture the register benchmarks use (scikit-image's fetched once)."""
    try:
        fetch_skimage_data()
    except (OSError, subprocess.SubprocessError) as exc:
        log(f"scikit-image's pictures not fetched ({exc}): fewer natural images")
    return natural_images(extra)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--encodes", type=int, default=len(ENCODES))
    ap.add_argument("--only", metavar="TEXT",
                    help="only the encodes whose name holds TEXT (e.g. 'MXF')")
    ap.add_argument("--images", action="append", default=[], metavar="DIR",
                    help="more natural images (e.g. scikit-image's data folder)")
    ap.add_argument("--split", choices=("held-out", "tune", "all"), default="held-out")
    ap.add_argument("--no-audio", action="store_true", help="picture only")
    ap.add_argument("--pad", type=int, default=0, metavar="N",
                    help="add N unrelated still entries (crops of the other split's "
                         "pictures) to every register: the cost of a large register")
    ap.add_argument("--delivery", action="store_true",
                    help="also scan each frame rate's encodes and stems as one delivery "
                         "folder through the CLI, with one and two workers")
    ap.add_argument("--keep", type=Path, metavar="DIR",
                    help="build in DIR (new or empty) and leave it there")
    ap.add_argument("--waveform-minutes", type=float, metavar="MIN",
                    help="the register setting waveform_minutes for every scan (e.g. 0: the "
                         "waveform search's short list)")
    args = ap.parse_args(argv)
    global WAVEFORM_MINUTES  # noqa: PLW0603 - one setting for the whole run
    WAVEFORM_MINUTES = args.waveform_minutes
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        if any(args.keep.iterdir()):
            raise SystemExit(f"--keep {args.keep}: not empty")

    def log(s: str) -> None:
        print(s, file=sys.stderr, flush=True)

    everything = pictures(args.images, log)
    naturals = split(everything, args.split)
    names = {n[0] for n in naturals}
    others = [n for n in everything if n[0] not in names]
    if len(naturals) < len(CLASSES) + 2:
        raise SystemExit(f"{len(naturals)} natural images: need {len(CLASSES) + 2} (--images)")
    log(f"{len(naturals)} natural images ({args.split} split)")
    if not pa.have_speech() and not args.no_audio:
        log("espeak-ng missing: the temp VO classes are not measured")
    padded = padding(others, args.pad, log) if args.pad else None
    print("\n".join(run(naturals, args.encodes, log, not args.no_audio, others, padded,
                         args.delivery, args.keep, args.only)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
