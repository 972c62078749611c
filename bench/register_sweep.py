"""Per-class recall of the temp-AI register over many randomised inserts
(``python -m bench.register_sweep``).

Why: the finished-programme benchmark (``register_programme``) has one insert per transform
class and encode, with fixed parameters (crop 15 %, picture-in-picture 40 %, speed +4 %), so
its "5/5" says little about a rate per class. Here every insert draws its own parameters from
the ranges issue 18 names (crop up to 25 %, picture-in-picture 25-50 % anywhere in frame,
speed ±10 %, titles, logos or subtitles anywhere, letterbox or pillarbox, scale and
reposition, grades of varying strength) and its own length (1-3 s, a random stretch of a 4 s
registered temp clip), and each class gets ``--per-class`` inserts. The rate per class is
reported with its exact one-sided 95 % lower bound (Clopper-Pearson), so the table says how
far the benchmark's size lets it claim.

Material: the held-out pictures (``register_programme.split``) are the temp clips' subjects
(pan/zoom at 1280x720, H.264, registered); each insert sits between 1-2 s of unregistered
shots of the *tune* pictures. With ~20 held-out pictures every picture serves several inserts,
so the sweep runs in rounds: a round registers at most one clip per picture in a register of
its own and scans a programme of its inserts (two clips of one picture share content, and a
register holding both would find either in the other's insert). Content is the limit of this
benchmark, not its size: the rate per class is a rate over random transforms of ~20
pictures, not over the world's footage.

Scored per insert: found if a finding of its entry overlaps its frames; in/out error in
frames of the first finding; a finding that overlaps no insert of its entry is a false match.

Looking at a miss: ``--rounds R,R --keep DIR`` builds only those rounds (the report names each miss's
round) and leaves their registers and programmes in DIR;
``--reuse`` then scans them again in a minute or two, after a matcher change.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image, ImageDraw

from bench.bench_register import _ken_burns, _write_raw
from bench.register_negatives import upper95
from bench.register_programme import HD, _encode, scan, split
from bench.register_programme import pictures as natural_pictures
from detectors.fingerprint import extract
from detectors.fingerprint.store import RegisterStore

CLASSES = ("plain", "grade", "reframe crop 5-25 %", "title / logo / subtitles",
           "picture-in-picture 25-50 %", "flip", "letterbox / pillarbox", "speed ±2-10 %",
           "scale 80-95 % + reposition")
# Classes run only when named (``--classes``), so that the default run and its seeds keep
# drawing the inserts the reported figures were measured on. A 2.39 or 1.85 master is cut
# from 16:9 temp by extraction, a crop of its height (not a squeeze, which is what the
# "letterbox / pillarbox" class does), and a 4:3 one by a crop of its width.
EXTRA_CLASSES = ("extraction 2.39 / 1.85 / 4:3 + bars", "dissolve in and out 4-25 frames")
TEMP_SIZE = (1280, 720)  # generated previs is rarely full HD: the conform scales it up
TEMP_S = 4.0  # registered temp clip length; an insert uses a random 1-3 s of it
ENCODES = {
    "prores": ("ProRes 422 LT MOV 25p (prores_aw)", "mov", 25.0,
               ["-c:v", "prores", "-profile:v", "1", "-pix_fmt", "yuv422p10le"]),
    "dnxhd": ("DNxHD 120 MXF 25p", "mxf", 25.0,
              ["-c:v", "dnxhd", "-b:v", "120M", "-pix_fmt", "yuv422p"]),
    "h264-23976": ("H.264 MP4 23.976p (the 25 fps clips played at 23.976)", "mp4",
                   24000 / 1001, ["-c:v", "libx264", "-preset", "veryfast", "-crf", "20",
                                  "-pix_fmt", "yuv420p", "-g", "48"]),
}


@dataclass
class Insert:
    cls: str
    picture: int  # index into the temp pictures
    seed: int  # the temp clip's pan/zoom
    offset: int  # first temp-clip frame used
    frames: int  # frames in the programme
    params: dict[str, Any]
    entry: int = 0
    first: int = 0  # programme frames, inclusive
    last: int = 0
    round: int = 0  # its register and programme (``main``)

    def describe(self) -> str:
        ps = ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
                       for k, v in self.params.items())
        return (f"{self.cls} ({ps}; picture {self.picture}, {self.frames} frames, "
                f"round {self.round})")


# ----------------------------------------------------------------------------------------------
# random transforms within the ranges
def draw_params(cls: str, rng: np.random.Generator) -> dict[str, Any]:
    if cls == "grade":
        return {"contrast": rng.uniform(0.8, 1.3), "gamma": rng.uniform(0.8, 1.25),
                "saturation": rng.uniform(0.6, 1.3), "lift": rng.uniform(0.0, 0.06),
                "r": rng.uniform(0.88, 1.12), "b": rng.uniform(0.88, 1.12)}
    if cls.startswith("reframe crop"):
        return {"crop": rng.uniform(0.05, 0.25), "x": rng.uniform(0, 1), "y": rng.uniform(0, 1)}
    if cls.startswith("title"):
        return {"kind": str(rng.choice(["lower third", "subtitles", "title card"])),
                "y": rng.uniform(0.05, 0.85), "size": rng.uniform(0.04, 0.09),
                "logo": str(rng.choice(["tl", "tr", "bl", "br", "none"]))}
    if cls.startswith("picture-in-picture"):
        return {"height": rng.uniform(0.25, 0.5), "x": rng.uniform(0, 1), "y": rng.uniform(0, 1),
                "border": int(rng.choice([0, 4, 8]))}
    if cls.startswith("letterbox"):
        return {"aspect": str(rng.choice(["2.39 letterbox", "1.85 letterbox", "4:3 pillarbox"]))}
    if cls.startswith("extraction"):
        return {"aspect": str(rng.choice(["2.39", "1.85", "4:3"])), "at": rng.uniform(0.2, 0.8)}
    if cls.startswith("speed"):
        return {"factor": float(rng.choice([-1, 1]) * rng.uniform(0.02, 0.10) + 1)}
    if cls.startswith("scale"):
        return {"scale": rng.uniform(0.8, 0.95), "x": rng.uniform(0, 1), "y": rng.uniform(0, 1)}
    if cls.startswith("dissolve"):  # frames (at most a third of the insert each: ``plan``)
        return {"in": int(rng.integers(4, 26)), "out": int(rng.integers(4, 26))}
    return {}


def dissolves(ins: Insert) -> tuple[int, int]:
    """Frames of the insert dissolving in from the shot before and out into the one after."""
    return (int(ins.params["in"]), int(ins.params["out"])) if ins.cls.startswith(
        "dissolve") else (0, 0)


def _graded(rgb: np.ndarray, p: dict[str, Any]) -> np.ndarray:
    x = rgb.astype(np.float32) / 255
    x = (x - 0.5) * p["contrast"] + 0.5
    x = np.clip(x, 0, 1) ** p["gamma"]
    grey = x @ np.array([0.299, 0.587, 0.114], np.float32)
    x = grey[..., None] + (x - grey[..., None]) * p["saturation"]
    x = x * np.array([p["r"], 1.0, p["b"]], np.float32) * (1 - p["lift"]) + p["lift"]
    return np.clip(x * 255, 0, 255).astype(np.uint8)


def _text(rgb: np.ndarray, p: dict[str, Any]) -> np.ndarray:
    im = Image.fromarray(rgb)
    d = ImageDraw.Draw(im)
    w, h = im.size
    size = int(h * p["size"])
    if p["kind"] == "lower third":
        y = h * max(0.55, p["y"])
        d.rectangle([w * 0.06, y, w * 0.7, y + size * 2.4], fill=(12, 12, 40))
        d.text((w * 0.08, y + size * 0.2), "DR. ANNA MERTENS", fill=(255, 255, 255),
               font_size=size)
        d.text((w * 0.08, y + size * 1.3), "Marine biologist", fill=(200, 200, 200),
               font_size=int(size * 0.8))
    elif p["kind"] == "subtitles":
        y = h * max(0.7, p["y"])
        for k, line in enumerate(("- We have to leave before the tide turns.",
                                  "- Then go. I'll catch up.")):
            d.text((w * 0.12, y + k * size * 1.2), line, fill=(255, 255, 255),
                   font_size=size, stroke_width=max(1, size // 12), stroke_fill=(0, 0, 0))
    else:  # a title card over the picture
        y = h * min(0.75, p["y"])
        d.text((w * 0.1, y), "THE CROSSING", fill=(255, 240, 200), font_size=size * 2,
               stroke_width=max(1, size // 8), stroke_fill=(20, 20, 20))
    if p["logo"] != "none":
        s = int(h * 0.09)
        x0 = int(w * 0.04) if p["logo"][1] == "l" else int(w * 0.96) - s
        y0 = int(h * 0.05) if p["logo"][0] == "t" else int(h * 0.95) - s
        d.ellipse([x0, y0, x0 + s, y0 + s], fill=(220, 30, 30))
        d.text((x0 + s * 0.22, y0 + s * 0.25), "TV", fill=(255, 255, 255),
               font_size=int(s * 0.45))
    return np.asarray(im)


def _placed(rgb: np.ndarray, size: tuple[int, int], p: dict[str, Any],
            bg: np.ndarray | None, border: int = 0) -> np.ndarray:
    """``rgb`` scaled to ``size`` and placed at (p["x"], p["y"]) of the free room in a 1080p
    frame (``bg`` or black)."""
    w, h = HD
    out = bg.copy() if bg is not None else np.zeros((h, w, 3), np.uint8)
    sw, sh = size
    x = border + int(p["x"] * (w - sw - 2 * border))
    y = border + int(p["y"] * (h - sh - 2 * border))
    if border:
        out[y - border:y + sh + border, x - border:x + sw + border] = 255
    out[y:y + sh, x:x + sw] = cv2.resize(rgb, (sw, sh), interpolation=cv2.INTER_AREA)
    return out


def transform(ins: Insert, clip: list[np.ndarray], bg: list[np.ndarray]) -> list[np.ndarray]:
    """The insert's programme frames: its stretch of the temp clip, scaled up to 1080p by the
    conform, then its class's transform."""
    w, h = HD
    p = ins.params
    if ins.cls.startswith("speed"):
        src = [clip[min(len(clip) - 1, ins.offset + int(round(i * p["factor"])))]
               for i in range(ins.frames)]
    else:
        src = clip[ins.offset:ins.offset + ins.frames]
    up = [cv2.resize(f, HD, interpolation=cv2.INTER_LINEAR) for f in src]
    if ins.cls == "grade":
        return [_graded(f, p) for f in up]
    if ins.cls.startswith("reframe crop"):
        cw, ch = int(w * (1 - p["crop"])), int(h * (1 - p["crop"]))
        x, y = int(p["x"] * (w - cw)), int(p["y"] * (h - ch))
        return [cv2.resize(f[y:y + ch, x:x + cw], HD, interpolation=cv2.INTER_LINEAR)
                for f in up]
    if ins.cls.startswith("title"):
        return [_text(f, p) for f in up]
    if ins.cls.startswith("picture-in-picture"):
        sh = int(h * p["height"])
        return [_placed(f, (int(sh * w / h), sh), p, b, p["border"])
                for f, b in zip(up, bg, strict=False)]
    if ins.cls == "flip":
        return [np.ascontiguousarray(f[:, ::-1]) for f in up]
    if ins.cls.startswith("letterbox"):
        a = p["aspect"]
        if a.endswith("pillarbox"):
            size = (int(h * 4 / 3), h)
        else:
            size = (w, int(w / float(a.split()[0])))
        centre = {"x": 0.5, "y": 0.5}
        return [_placed(f, size, centre, None) for f in up]
    if ins.cls.startswith("extraction"):
        out = []
        for f in up:
            frame = np.zeros_like(f)
            if p["aspect"] == "4:3":
                cw = int(h * 4 / 3)
                x0 = int(p["at"] * (w - cw))
                frame[:, (w - cw) // 2:(w - cw) // 2 + cw] = f[:, x0:x0 + cw]
            else:
                ch = int(w / float(p["aspect"]))
                y0 = int(p["at"] * (h - ch))
                frame[(h - ch) // 2:(h - ch) // 2 + ch] = f[y0:y0 + ch]
            out.append(frame)
        return out
    if ins.cls.startswith("scale"):
        size = (int(w * p["scale"]), int(h * p["scale"]))
        return [_placed(f, size, p, None) for f in up]
    if ins.cls.startswith("dissolve"):  # ``bg``: the shot before's next frames, the next's first
        d_in, d_out = dissolves(ins)
        out = list(up)
        for i in range(d_in):
            a = (i + 1) / (d_in + 1)
            out[i] = _mix(bg[i], up[i], a)
        for j in range(d_out):
            a = (j + 1) / (d_out + 1)
            k = len(up) - d_out + j
            out[k] = _mix(up[k], bg[d_in + j], a)
        return out
    return up


def _mix(a: np.ndarray, b: np.ndarray, share: float) -> np.ndarray:
    """``share`` of ``b`` over ``a``: one frame of a dissolve."""
    return cv2.addWeighted(a, 1 - share, b, share, 0.0)


# ----------------------------------------------------------------------------------------------
# the temp clips and the programme
def _temp_clip(picture: np.ndarray, seed: int, fps: float) -> list[np.ndarray]:
    return _ken_burns(picture, TEMP_S, fps, TEMP_SIZE, seed)


def _fingerprint_clip(job: tuple[np.ndarray, int, float, str]) -> extract.Fingerprint:
    """Encode one temp clip (H.264, as a generator hands it over) and fingerprint the file."""
    picture, seed, fps, path = job
    _write_raw(Path(path), _temp_clip(picture, seed, fps), fps,
               ["-c:v", "libx264", "-preset", "ultrafast", "-crf", "18", "-pix_fmt", "yuv420p"])
    fp = extract.fingerprint_video(path)
    Path(path).unlink()
    return fp


def plan(per_class: int, pictures: int, fps: float, seed: int,
         which: tuple[str, ...] = CLASSES) -> list[Insert]:
    """``per_class`` inserts of every class in ``which``, in programme order: consecutive
    inserts cycle through the pictures (each cycle is a round, ``main``); the classes are
    shuffled over the slots."""
    rng = np.random.default_rng(seed)
    classes = [c for c in which for _ in range(per_class)]
    rng.shuffle(classes)
    clip_n = int(TEMP_S * fps)
    out = []
    for k, cls in enumerate(classes):
        params = draw_params(cls, rng)
        frames = int(round(rng.uniform(1.0, 3.0) * fps))
        for edge in ("in", "out"):
            if edge in params:
                params[edge] = min(params[edge], frames // 3)
        span = int(math.ceil(frames * params.get("factor", 1.0)))
        offset = int(rng.integers(0, clip_n - span + 1))
        out.append(Insert(cls, k % pictures, 1000 + k, offset, frames, params,
                          round=k // pictures))
    return out


def register(work: Path, rounds: list[list[Insert]], which: list[int],
             pictures: list[tuple[str, np.ndarray]], fps: float, reuse: bool,
             log: Callable[[str], None]) -> dict[int, Path]:
    """One register per round in ``which`` (its inserts' temp clips); sets each insert's
    entry id. With ``reuse``, a round's register already in ``work`` is read, not rebuilt."""
    t0 = time.perf_counter()
    size = len(rounds[0])
    dbs = {r: work / f"round{r}.db" for r in which}
    todo = [r for r in which if not (reuse and dbs[r].exists())]
    for r in which:
        if r in todo:
            dbs[r].unlink(missing_ok=True)
            continue
        store = RegisterStore(str(dbs[r]))
        try:
            for j, ins in enumerate(rounds[r]):
                entry = store.by_sha(f"sweep{r * size + j}")
                assert entry is not None, f"{dbs[r]} lacks insert {r * size + j}"
                ins.entry = entry.id
        finally:
            store.close()
    flat = [(r, r * size + j, i) for r in todo for j, i in enumerate(rounds[r])]
    jobs = [(pictures[i.picture][1], i.seed, fps, str(work / f"temp{k}.mp4"))
            for _r, k, i in flat]
    stores = {r: RegisterStore(str(dbs[r]), readonly=False, create=True) for r in todo}
    try:
        with ProcessPoolExecutor(2) as pool:
            for (r, k, ins), fp in zip(flat, pool.map(_fingerprint_clip, jobs), strict=True):
                ins.entry = stores[r].add(sha256=f"sweep{k}", media_type="video/mp4",
                                          path=f"temp{k}.mp4", size=0, tool="bench",
                                          note=ins.cls, added="bench", verdict="clean",
                                          evidence=[], fp=fp)
    finally:
        for st in stores.values():
            st.close()
    log(f"{len(flat)} temp clips encoded, fingerprinted and registered in "
        f"{time.perf_counter() - t0:.0f} s ({len(todo)} registers, "
        f"{len(which) - len(todo)} reused)")
    return dbs


def layout(inserts: list[Insert], fps: float, seed: int) -> list[int]:
    """The frames of unregistered shot before each insert; sets each insert's first and last
    programme frame (so a kept programme can be scored again without rendering it)."""
    rng = np.random.default_rng(seed + 1)
    at = 0
    gaps = []
    for ins in inserts:
        n = int(round(rng.uniform(1.0, 2.0) * fps))
        gaps.append(n)
        ins.first, ins.last = at + n, at + n + ins.frames - 1
        at += n + ins.frames
    return gaps


def render(inserts: list[Insert], pictures: list[tuple[str, np.ndarray]],
           fillers: list[tuple[str, np.ndarray]], fps: float, seed: int
           ) -> Iterator[np.ndarray]:
    """The programme's frames (and its inserts' first and last frames, ``layout``).

    A dissolving insert (``dissolves``) mixes with the shot before as it goes on and with
    the shot after from its start: that shot is made as many frames longer, and its first
    frames are shown under the insert's last."""
    gaps = layout(inserts, fps, seed)
    edges = [dissolves(i) for i in inserts] + [(0, 0)]
    tail = int(1.0 * fps)

    def shot(k: int) -> list[np.ndarray]:
        """Gap ``k``'s shot (the tail after the last insert), with the frames dissolves use:
        the insert before's out-dissolve first, the insert after's in-dissolve last."""
        extra = edges[k - 1][1] if k else 0
        n = (gaps[k] if k < len(gaps) else tail) + extra + edges[k][0]
        if k == len(gaps):  # (1.0 s: as the programmes were made before dissolves)
            return _ken_burns(fillers[0][1], n / fps + 1e-6 if n > tail else 1.0, fps, HD,
                              9999)
        return _ken_burns(fillers[k % len(fillers)][1], n / fps + 1e-6, fps, HD,
                          5000 + k)[:n]

    here = shot(0)
    for k, ins in enumerate(inserts):
        skip = edges[k - 1][1] if k else 0
        yield from here[skip:skip + gaps[k]]
        before = here[skip + gaps[k]:]
        nxt = shot(k + 1)
        if ins.cls.startswith("picture-in-picture"):
            bg = _ken_burns(fillers[(k + 3) % len(fillers)][1], ins.frames / fps + 1e-6, fps,
                            HD, 7000 + k)
        else:
            bg = before + nxt[:edges[k][1]]
        clip = _temp_clip(pictures[ins.picture][1], ins.seed, fps)
        frames = transform(ins, clip, bg)
        assert len(frames) == ins.frames, (ins.describe(), len(frames))
        yield from frames
        here = nxt
    yield from here[edges[-2][1] if inserts else 0:]


# ----------------------------------------------------------------------------------------------
# scoring
def lower_bound(found: int, n: int) -> float:
    """Exact (Clopper-Pearson) one-sided 95 % lower bound of a success rate: one minus the
    upper bound of the miss rate (``register_negatives.upper95``)."""
    return 0.0 if n == 0 else 1.0 - upper95(n - found, n)


def score(findings: list[dict[str, Any]], inserts: list[Insert]
          ) -> tuple[dict[int, list[int]], list[dict[str, Any]]]:
    """Insert index -> in/out error (frames) of its first find; false matches (findings
    overlapping no insert of their entry)."""
    found: dict[int, list[int]] = {}
    false: list[dict[str, Any]] = []
    for f in findings:
        ev = f["evidence"]
        d = ev.get("deliverable_range") or {}
        eid = (ev.get("entry") or {}).get("id")
        if not d or str(f["location"]).startswith("audio"):
            continue
        lo, hi = int(d["start_frame"]), int(d["end_frame"])
        own = [k for k, i in enumerate(inserts)
               if i.entry == eid and lo <= i.last and hi >= i.first]
        for k in own:
            # an edge in a dissolve is right anywhere in it: frames off its nearer end
            d_in, d_out = dissolves(inserts[k])
            first, last = inserts[k].first, inserts[k].last
            found.setdefault(k, [max(first - lo, lo - (first + max(d_in, 1) - 1), 0),
                                 max((last - max(d_out, 1) + 1) - hi, hi - last, 0)])
        if not own:
            false.append(f)
    return found, false


def _order(cls: str) -> int:
    every = CLASSES + EXTRA_CLASSES
    return every.index(cls) if cls in every else len(every)


def report(name: str, inserts: list[Insert], found: dict[int, list[int]],
           false: list[dict[str, Any]], seconds: float, took: float
           ) -> list[str]:
    lines = [f"**{name}**: {seconds / 60:.1f} min of programmes, {len(inserts)} inserts, "
             f"scanned in {took:.0f} s ({seconds / took:.1f}x real time).", "",
             "| transform class | found | n | rate | 95 % lower bound |",
             "| --- | --- | --- | --- | --- |"]
    for c in dict.fromkeys(i.cls for i in sorted(inserts, key=lambda i: _order(i.cls))):
        mine = [k for k, i in enumerate(inserts) if i.cls == c]
        h = sum(k in found for k in mine)
        lines.append(f"| {c} | {h} | {len(mine)} | {100 * h / max(1, len(mine)):.1f} % | "
                     f"{100 * lower_bound(h, len(mine)):.1f} % |")
    h = len(found)
    lines.append(f"| **all** | {h} | {len(inserts)} | {100 * h / max(1, len(inserts)):.1f} % "
                 f"| {100 * lower_bound(h, len(inserts)):.1f} % |")
    errs = [e for v in found.values() for e in v]
    if errs:
        lines += ["", f"In/out points of found inserts: {sum(e <= 1 for e in errs)}/{len(errs)} "
                  f"within ±1 frame, max error {max(errs)} frames."]
    lines.append(f"False picture matches: {len(false)}.")
    missed = [i for k, i in enumerate(inserts) if k not in found]
    if missed:
        lines += ["", "Missed:"] + [f"- {i.describe()}" for i in missed]
    far = [(inserts[k], e) for k, e in sorted(found.items()) if max(e) > 1]
    if far:
        lines += ["", "In/out points more than a frame off:"] + [
            f"- {i.describe()}: in {e[0]}, out {e[1]} frames off" for i, e in far]
    for f in false:
        lines.append(f"- false: {f['location']} {str(f['message'])[:160]}")
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-class", type=int, default=40, metavar="N")
    ap.add_argument("--encode", action="append", choices=sorted(ENCODES),
                    help="programme encodes (repeatable; default: prores)")
    ap.add_argument("--seed", type=int, default=18)
    ap.add_argument("--images", action="append", default=[], metavar="DIR",
                    help="more natural images")
    ap.add_argument("--out", type=Path, help="also write the report here (markdown)")
    ap.add_argument("--keep", type=Path, metavar="DIR",
                    help="build in DIR and leave the register and programmes there")
    ap.add_argument("--rounds", type=lambda v: [int(x) for x in v.split(",")],
                    metavar="R,R", help="only these rounds (0-based): to look again at a miss")
    ap.add_argument("--classes", type=lambda v: [x.strip() for x in v.split(",")],
                    metavar="NAME,NAME",
                    help="only the classes whose names start so (default: the nine of "
                         "CLASSES; EXTRA_CLASSES run only when named here)")
    ap.add_argument("--reuse", action="store_true",
                    help="with --keep: scan the registers and programmes already in DIR "
                         "again instead of rebuilding them (after a matcher change)")
    args = ap.parse_args(argv)

    def log(s: str) -> None:
        print(s, file=sys.stderr, flush=True)

    everything = natural_pictures(args.images, log)
    pictures, fillers = split(everything, "held-out"), split(everything, "tune")
    if len(pictures) < 4 or len(fillers) < 4:
        raise SystemExit(f"{len(pictures)} held-out / {len(fillers)} tune pictures: too few")
    log(f"{len(pictures)} held-out pictures for the temp clips, {len(fillers)} tune pictures "
        "for the unregistered shots")
    lines = [f"Sweep: {args.per_class} inserts per class, seed {args.seed}, "
             f"{len(pictures)} held-out pictures (temp clips), {len(fillers)} tune pictures "
             "(unregistered shots).", ""]
    t_all = time.perf_counter()
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
    with (contextlib.nullcontext(str(args.keep)) if args.keep else
          tempfile.TemporaryDirectory(prefix="bench-sweep-")) as tmp:
        work = Path(tmp)
        clip_fps = 25.0  # the temp clips; a 23.976 encode plays the same frames slower
        chosen = CLASSES if not args.classes else tuple(
            c for c in CLASSES + EXTRA_CLASSES if any(c.startswith(n) for n in args.classes))
        if not chosen:
            raise SystemExit(f"no class starts with any of {args.classes}")
        inserts = plan(args.per_class, len(pictures), clip_fps, args.seed, chosen)
        # consecutive inserts cycle through the pictures: a round is one cycle
        rounds = [inserts[k:k + len(pictures)] for k in range(0, len(inserts), len(pictures))]
        which = args.rounds or list(range(len(rounds)))
        dbs = register(work, rounds, which, pictures, clip_fps, args.reuse and bool(args.keep),
                       log)
        for key in args.encode or ["prores"]:
            name, ext, fps, codec = ENCODES[key]
            found: dict[int, list[int]] = {}
            false: list[dict[str, Any]] = []
            frames = 0
            took = 0.0
            t0 = time.perf_counter()
            for r in which:
                part = rounds[r]
                out = work / f"programme{r}.{ext}"
                if args.reuse and args.keep and out.exists():
                    layout(part, clip_fps, args.seed + r)
                    frames += part[-1].last + 1 + int(round(clip_fps))
                else:
                    frames += _encode(out, render(part, pictures, fillers, clip_fps,
                                                  args.seed + r), fps,
                                      [*codec, "-timecode", "01:00:00:00"])
                findings, t = scan(dbs[r], out)
                took += t
                got, bad = score(findings, part)
                base = r * len(pictures)
                found.update({base + k: e for k, e in got.items()})
                false += bad
                if not args.keep:
                    out.unlink()
                log(f"{name}: round {r + 1}/{len(rounds)}: {len(got)}/{len(part)} found, "
                    f"{len(bad)} false")
            log(f"{name}: {frames} frames made, encoded and scanned in "
                f"{time.perf_counter() - t0:.0f} s")
            keys = [r * len(pictures) + j for r in which for j in range(len(rounds[r]))]
            part_lines = report(name, [inserts[k] for k in keys],
                                {n: found[k] for n, k in enumerate(keys) if k in found},
                                false, frames / fps, took)
            log("\n".join(part_lines))
            lines += [*part_lines, ""]
    lines.append(f"Whole run: {(time.perf_counter() - t_all) / 60:.0f} min.")
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
