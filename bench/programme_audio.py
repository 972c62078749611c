"""The sound of the finished-programme benchmark: temp VO and temp music cues mixed under a
dialogue, music and ambience bed, as a programme mix and as separate stems.

Why these classes: they are what issue 18 saw missed or mis-timed on a real finish (a music cue
at -6 dB with 2 % varispeed, VO under music, a PAL speed-up) and the floor it asks for (-15 dB
under the rest of the mix, pitch/time +-5 %, EQ, >= 3 s segments). Levels are relative to the
rest of the mix over the insert (RMS), so "-15 dB" means the temp audio is 15 dB quieter than
everything else playing at that moment.

Speech comes from espeak-ng (``DELIVERSCAN_BENCH_TOOLS=1 scripts/install-system-deps.sh``), music
from ``fixtures.gen_register.synth_music`` (no natural music offline): registered and bed
material never share a seed or a text.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from bench.bench_register import _rms, _speech, _write_wav
from detectors.fingerprint import audio as audio_fp
from detectors.fingerprint import extract
from detectors.fingerprint.store import RegisterStore
from fixtures.gen_register import ffmpeg_filter, synth_music

SR = 48000
INSERT_S = 7.0
# (class, kind, level dB against the rest of the mix, speed (varispeed) or tempo (ffmpeg
# atempo, pitch kept) when the class name says time-stretch, EQ)
CLASSES: tuple[tuple[str, str, float, float, bool], ...] = (
    ("temp VO at -10 dB under music + ambience", "vo", -10.0, 1.0, False),
    ("temp VO at -15 dB under dialogue + music", "vo", -15.0, 1.0, False),
    ("temp VO, PAL speed-up +4.2 %, -6 dB", "vo", -6.0, 25 / 24, False),
    ("temp cue at -6 dB under dialogue, varispeed +2 %", "music", -6.0, 1.02, False),
    ("temp cue at -15 dB under dialogue + ambience", "music", -15.0, 1.0, False),
    # a varispeed until 2026-12-06 (then named "pitch/time -5 %")
    ("temp cue, time-stretch -5 % (pitch kept), band EQ, -6 dB", "music", -6.0, 0.95, True),
)


@dataclass
class AudioInsert:
    cls: str
    entry: int
    start: float  # seconds in the programme
    end: float
    stem: str  # "dialogue" | "music": the stem it is mixed into


@dataclass
class Sound:
    inserts: list[AudioInsert]
    mix: np.ndarray  # mono float32 at SR
    dialogue: np.ndarray
    music: np.ndarray


def have_speech() -> bool:
    return shutil.which("espeak-ng") is not None


def _band(x: np.ndarray) -> np.ndarray:
    """A telephone-ish EQ: high-pass ~300 Hz, low-pass ~3 kHz (first-order, twice each)."""
    y = x.astype(np.float64)
    for _ in range(2):
        lp = cv2.GaussianBlur(y.reshape(1, -1), (0, 0), sigmaX=SR / (2 * np.pi * 300)).ravel()
        y = y - lp
        y = cv2.GaussianBlur(y.reshape(1, -1), (0, 0), sigmaX=SR / (2 * np.pi * 3000)).ravel()
    return y.astype(np.float32)


def _ambience(n: int, seed: int) -> np.ndarray:
    """Room tone: brown-ish noise, slowly swelling."""
    rng = np.random.default_rng(seed)
    x = np.cumsum(rng.normal(0, 1, n)).astype(np.float64)
    w = SR // 50  # subtract a 20 ms moving average: keeps the rumble out of the bass
    c = np.cumsum(np.r_[np.zeros(w), x, np.full(w, x[-1])])
    x -= ((c[2 * w:] - c[:-2 * w]) / (2 * w))[:n]
    x /= np.abs(x).max() + 1e-9
    return (x * (0.6 + 0.4 * np.sin(np.arange(n) / SR * 0.3))).astype(np.float32)


def build(work: Path, store: RegisterStore, seconds: float, log: Callable[[str], None]
          ) -> Sound:
    """Register the temp audio and mix the programme's sound (``seconds`` long)."""
    n = int(seconds * SR)
    dialogue = np.zeros(n, np.float32)
    music = np.zeros(n, np.float32)
    amb = 0.05 * _ambience(n, 41)
    bed = 0.25 * synth_music(50_001, seconds, SR)[:n]
    music[: len(bed)] += bed
    if have_speech():
        sp = _speech(work, seconds, SR, 60_001)
        assert sp is not None
        dialogue += 0.3 * sp[:n] / max(float(np.abs(sp).max()), 1e-6)
    else:
        log("espeak-ng missing: no dialogue bed and no temp VO classes "
            "(DELIVERSCAN_BENCH_TOOLS=1 scripts/install-system-deps.sh)")
    inserts: list[AudioInsert] = []
    slot = seconds / len(CLASSES)
    for i, (cls, kind, level, speed, eq) in enumerate(CLASSES):
        if kind == "vo" and not have_speech():
            continue
        src = (_speech(work, INSERT_S * 1.2 + 3, SR, 70_000 + i) if kind == "vo"
               else synth_music(80_000 + i, INSERT_S * 1.2 + 3, SR))
        assert src is not None
        src = src / max(float(np.abs(src).max()), 1e-6) * 0.5
        path = work / f"temp_audio{i}.wav"
        _write_wav(path, src, SR)
        fp = extract.fingerprint_audio(str(path), is_wav=True)
        eid = store.add(sha256=f"temp-audio{i}", media_type="audio/wav", path=str(path),
                        size=0, tool="bench", note=cls, added="bench", verdict="clean",
                        evidence=[], fp=fp)
        # the finish: a 1.5 s handle cut off the head, then speed and EQ
        used = src[int(1.5 * SR):]
        if speed != 1.0 and "time-stretch" in cls:
            used = ffmpeg_filter(used[: int(2 * INSERT_S * SR)], SR, f"atempo={speed}")
        elif speed != 1.0:
            used = audio_fp.varispeed(used, speed)
        if eq:
            used = _band(used)
        used = used[: int(INSERT_S * SR)]
        at = int((i * slot + (slot - INSERT_S) / 2) * SR)
        seg = slice(at, at + len(used))
        rest = dialogue[seg] + music[seg] + amb[seg]
        gain = _rms(rest) / _rms(used) * 10 ** (level / 20)
        fade = np.minimum(1.0, np.minimum(np.arange(len(used)), np.arange(len(used))[::-1])
                          / (0.05 * SR)).astype(np.float32)
        target = dialogue if kind == "vo" else music
        target[seg] += used * gain * fade
        inserts.append(AudioInsert(cls, eid, at / SR, (at + len(used)) / SR,
                                   "dialogue" if kind == "vo" else "music"))
    mix = dialogue + music + amb
    peak = max(float(np.abs(mix).max()), 1e-6)
    scale = 0.9 / peak
    log(f"sound: {seconds:.1f} s, {len(inserts)} temp audio inserts")
    return Sound(inserts, mix * scale, dialogue * scale, (music + amb) * scale)


def write(work: Path, sound: Sound) -> dict[str, Path]:
    """The mix and the stems as 48 kHz WAV files (what an MXF delivery's stems are)."""
    out = {}
    for name, x in (("mix", sound.mix), ("dialogue", sound.dialogue), ("music", sound.music)):
        p = work / f"stem_{name}.wav"
        _write_wav(p, x, SR)
        out[name] = p
    return out

