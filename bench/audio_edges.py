"""How close the register detector puts the in and out points of temp sound in a mix.

Usage (figures in ``bench/results/audio-rule.md``; about 3 min a split on an idle 2-core
machine)::

    .venv/bin/python -m bench.audio_edges --split tune
    .venv/bin/python -m bench.audio_edges --split held

Issue 18 asks for in and out points within one frame. The finished-programme benchmark has
only 60 audio edges (one insert per class and encode), so this one measures many: each
query is a 24 s programme sound (a synthetic music bed, speech-like babble or espeak-ng
dialogue, room tone) with one stretch of a registered cue or VO in it, a random 0.5-4 s
head cut off and 4-9 s long, from a random second, faded over 50 ms, at a class's level,
speed and stretch. The query is written as a WAV and scanned as a deliverable is
(``audio.stream_landmarks`` at the query density with the waveform proxy, then
``Register.match_audio``: landmarks, their edge walk, the waveform search, following the
speed, the waveform's edges where it confirms a landmark match, and a time stretch's edges
from its grains). Errors are the reported range's against the insert's, in the
deliverable and in the registered asset.

The splits share the register (8 synthetic cues, 4 espeak-ng VOs where espeak-ng is
installed) and differ in every query's seed: TUNE draws from seed 1, HELD from seed 2.
``--edge-noise`` sets ``waveform.EDGE_NOISE`` for the run (tuning only).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.bench_register import _speech
from detectors.fingerprint import audio as audio_fp
from detectors.fingerprint import audio_match as am
from detectors.fingerprint import extract, waveform
from detectors.fingerprint.matcher import Register
from detectors.fingerprint.store import RegisterStore
from fixtures.gen_register import bury, ffmpeg_filter, synth_babble, synth_music, write_wav

SR = 16000  # synthesis rate (the analysis runs at 8 kHz and its proxy at 4 kHz)
QUERY_S = 24.0
FADE_S = 0.05
FRAME_S = 1 / 25  # "one frame": 25 fps
CUES, VOS = 8, 4
# (class, kind, level dB under the rest, varispeed, time stretch (pitch kept))
CLASSES = (
    ("cue -6 dB", "music", -6.0, 1.0, 1.0),
    ("cue -10 dB", "music", -10.0, 1.0, 1.0),
    ("cue -15 dB", "music", -15.0, 1.0, 1.0),
    ("cue varispeed +2 %, -6 dB", "music", -6.0, 1.02, 1.0),
    ("cue time-stretch 0.96, -6 dB", "music", -6.0, 1.0, 0.96),
    ("VO -10 dB", "vo", -10.0, 1.0, 1.0),
    ("VO -15 dB", "vo", -15.0, 1.0, 1.0),
    ("VO PAL +4.2 %, -6 dB", "vo", -6.0, 25 / 24, 1.0),
)


@dataclass
class Result:
    cls: str
    found: bool
    errors: tuple[float, float, float, float] | None  # in, out (deliverable); in, out (ref)
    false: int
    how: str = ""  # the front end that placed the edges


def build_register(work: Path) -> tuple[Path, dict[int, tuple[str, np.ndarray]]]:
    db = work / "register.db"
    sources: dict[int, tuple[str, np.ndarray]] = {}
    with RegisterStore(str(db), readonly=False, create=True) as store:
        items = [("music", synth_music(7000 + k, 20.0, SR)) for k in range(CUES)]
        for k in range(VOS):
            sp = _speech(work, 16.0, SR, 70_000 + k)
            if sp is not None:
                items.append(("vo", sp / max(float(np.abs(sp).max()), 1e-6) * 0.5))
        for i, (kind, x) in enumerate(items):
            path = work / f"temp{i}.wav"
            write_wav(path, x, SR)
            eid = store.add(sha256=f"temp{i}", media_type="audio/wav", path=str(path),
                            size=0, tool="bench", note=kind, added="bench", verdict="clean",
                            evidence=[], fp=extract.fingerprint_audio(str(path), is_wav=True))
            sources[eid] = (kind, x)
    return db, sources


def bed(seed: int, work: Path) -> np.ndarray:
    """Music bed, dialogue (espeak-ng if installed, else babble) and room tone."""
    n = int(QUERY_S * SR)
    speech = _speech(work, QUERY_S, SR, 60_000 + seed)
    talk = (speech / max(float(np.abs(speech).max()), 1e-6) if speech is not None
            else synth_babble(QUERY_S, 900 + seed, SR))
    rng = np.random.default_rng(seed)
    room = rng.normal(0, 1, n).cumsum()
    room -= np.convolve(room, np.ones(SR // 50) / (SR // 50), "same")
    room /= np.abs(room).max() + 1e-9
    return (0.25 * synth_music(50_000 + seed, QUERY_S, SR)[:n] + 0.3 * talk[:n]
            + 0.05 * room).astype(np.float32)


def query(rng: np.random.Generator, src: np.ndarray, level: float, speed: float,
          tempo: float, work: Path, seed: int) -> tuple[np.ndarray, float, float, float, float]:
    """(mix, deliverable in, out, registered in, out) of one insert."""
    head = float(rng.uniform(0.5, 4.0))
    length = float(rng.uniform(4.0, 9.0))
    at = float(rng.integers(3, 10)) + float(rng.uniform(0, 1))
    used = src[int(head * SR):]
    if tempo != 1.0:
        used = ffmpeg_filter(used, SR, f"atempo={tempo}")
    elif speed != 1.0:
        used = audio_fp.varispeed(used, speed)
    n = min(int(length * SR), len(used))
    used = used[:n]
    ramp = np.minimum(1.0, np.minimum(np.arange(n), np.arange(n)[::-1]) / (FADE_S * SR))
    mix = bury(bed(seed, work), used * ramp, at, level, SR)
    consumed = n / SR * speed * tempo  # registered seconds the insert plays
    return (mix * 0.9 / np.abs(mix).max(), at, at + n / SR, head, head + consumed)


def run(split: str, trials: int, work: Path) -> list[Result]:
    db, sources = build_register(work)
    by_kind: dict[str, list[int]] = {}
    for eid, (kind, _x) in sources.items():
        by_kind.setdefault(kind, []).append(eid)
    rng = np.random.default_rng({"tune": 1, "held": 2}[split])
    reg = Register(str(db))
    out: list[Result] = []
    try:
        for t in range(trials):
            for ci, (cls, kind, level, speed, tempo) in enumerate(CLASSES):
                if kind not in by_kind:
                    continue
                eid = int(rng.choice(by_kind[kind]))
                seed = ({"tune": 0, "held": 1}[split] + 2 * (t * len(CLASSES) + ci))
                mix, a, b, ra, rb = query(rng, sources[eid][1], level, speed, tempo, work,
                                          seed)
                path = work / "query.wav"
                write_wav(path, mix, SR)
                (st,) = audio_fp.stream_landmarks(str(path), density=am.QUERY,
                                                  proxy=reg.waveform_search, half=True)
                found = [mt for mt in reg.match_audio(st.landmarks)
                         if float(mt.detail.get("match_confidence", 0)) >= am.ACCEPT]
                mine = [mt for mt in found if mt.entry.id == eid
                        and min(mt.end, b) - max(mt.start, a) > 0]
                errors, how = None, ""
                if mine:
                    mt = mine[0]
                    errors = (mt.start - a, mt.end - b,
                              (mt.ref_start or 0.0) - ra, (mt.ref_end or 0.0) - rb)
                    how = mt.method + (" + waveform" if mt.method == "landmarks"
                                       and "waveform_z" in mt.detail else "")
                out.append(Result(cls, bool(mine), errors, len(found) - len(mine), how))
    finally:
        reg.close()
    return out


def report(res: list[Result], split: str, took: float) -> str:
    lines = [f"split {split}, {len(res)} inserts, {took:.0f} s, waveform.EDGE_NOISE "
             f"{getattr(waveform, 'EDGE_NOISE', 2.0):g}", "",
             "| class | found | in: 1 frame | 0.1 s | 0.25 s | 0.5 s | max | out: 1 frame "
             "| 0.1 s | 0.25 s | 0.5 s | max | ref in/out within 0.25 s | false |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- "
             "| --- |"]

    def row(name: str, rs: list[Result]) -> str:
        errs = np.array([r.errors for r in rs if r.errors is not None]).reshape(-1, 4)
        cells = [name, f"{sum(r.found for r in rs)}/{len(rs)}"]
        for col in (0, 1):
            e = np.abs(errs[:, col])
            cells += [f"{int((e <= lim + 1e-9).sum())}" for lim in (FRAME_S, 0.1, 0.25, 0.5)]
            cells.append(f"{e.max():.2f} s" if len(e) else "-")
        ref = np.abs(errs[:, 2:])
        cells.append(f"{int((ref <= 0.25).sum())}/{ref.size}")
        cells.append(str(sum(r.false for r in rs)))
        return "| " + " | ".join(cells) + " |"

    for cls, *_ in CLASSES:
        rs = [r for r in res if r.cls == cls]
        if rs:
            lines.append(row(cls, rs))
    lines.append(row("**all**", res))
    signed = np.array([r.errors for r in res if r.errors is not None]).reshape(-1, 4)
    if len(signed):
        lines += ["", f"mean signed error: in {signed[:, 0].mean():+.3f} s, out "
                  f"{signed[:, 1].mean():+.3f} s (positive: later than the insert)"]
    hows = sorted({r.how for r in res if r.errors is not None})
    lines += ["", "edges within one frame (in, out) by the front end that placed them:"]
    for how in hows:
        e = np.abs(np.array([r.errors for r in res if r.how == how]))[:, :2]
        lines.append(f"- {how}: {len(e)} found, in {int((e[:, 0] <= FRAME_S + 1e-9).sum())}, "
                     f"out {int((e[:, 1] <= FRAME_S + 1e-9).sum())}; over 0.5 s: "
                     f"{int((e > 0.5).sum())} edges")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--split", choices=("tune", "held"), default="tune")
    ap.add_argument("--trials", type=int, default=12, help="inserts per class")
    ap.add_argument("--edge-noise", type=float, default=None)
    a = ap.parse_args(argv)
    if a.edge_noise is not None:
        waveform.EDGE_NOISE = a.edge_noise
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-audio-edges-") as tmp:
        res = run(a.split, a.trials, Path(tmp))
    print(report(res, a.split, time.perf_counter() - t0))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
