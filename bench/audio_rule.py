"""Tune and evaluate the audio decision rule (``detectors/fingerprint/audio_match.py``).

Usage (the figures in ``bench/results/audio-rule.md``; about 3-5 min each on 2 shared cores)::

    .venv/bin/python -m bench.audio_rule --split tune --trials 10 --music 400 --same 120 \
        --speech 100 --dump /tmp/ar/tune.pkl
    .venv/bin/python -m bench.audio_rule --split held --shift 1000 --trials 10 --music 400 \
        --same 120 --speech 100 --out /tmp/ar/held.md

``--classes "time-stretch,pitch shift,varispeed,PAL"`` runs only the classes whose name
holds one of those (the time-stretch check by grains in ``bench/results/audio-rule.md``).

``--dump`` keeps every measured segment (down to 6 hits and 1 s) for tuning offline:
``report()`` re-applies ``audio_match.decide`` with the module's current parameters.
``--shift`` moves every negative and bed seed: a fresh held-out split after a change.

What it builds (all offline, seeded; the two splits never share a seed or a text, and the
espeak-ng voice follows the seed's parity too):

- a register like ``bench/register_negatives.py``'s: 20 synthetic 30 s music cues (seeds
  7000-7019) and 6 espeak-ng temp VOs of 20 s, each at the 11 registered speeds and 4 grid
  phases, the way ``extract.fingerprint_audio`` stores them (kept in memory: the look-up is a
  NumPy join that gives the same (query frame, entry, registered frame, speed) rows as
  ``RegisterStore.audio_hits``);
- positives: a 7 s stretch of a registered cue or VO (a 1.5-7.5 s head cut off) mixed at a level
  against the rest of a 24 s programme sound (dialogue from espeak-ng + a music bed + room
  tone), per class (level, varispeed, EQ), scored in the full mix and in its own stem (VO in
  the dialogue stem, a cue in the music + ambience stem). TUNE uses the even cues and VOs and
  even bed seeds, HELD the odd ones;
- negatives: 30 s synthetic music of other seeds (plain, MP3 128k, varispeed +-4 %, two
  pieces mixed, under noise; seeds 90000+k split by parity of k, as in
  ``register_negatives``), espeak-ng speech of other texts and voices, and the audio files
  found offline (split by parity of their sorted index).

For each query it runs the old rule (``_old_offsets`` below, as shipped before, on the
registered analysis), the new one (``audio_match`` on the denser query analysis) and the
waveform search (``waveform.segments`` against the register's sound at its proxy rate, as
``matcher.Register`` whitens it) and writes recall per class and false matches with N for each,
and for either front end.
"""

from __future__ import annotations

import argparse
import os
import pickle
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from detectors.fingerprint import audio as audio_fp
from detectors.fingerprint import audio_match as am
from detectors.fingerprint import matcher as m
from detectors.fingerprint import waveform as wf
from fixtures.gen_register import ffmpeg_filter, synth_music

GEN_SR = 16000  # synthesis rate (harmonics stay under its Nyquist), then resampled to 8 kHz
INSERT_S = 7.0
PROG_S = 24.0
FLOOR_HITS = m.HINT_HITS  # segments measured (and dumped) down to these floors
FLOOR_S = m.HINT_SECONDS
VARIANT_SHIFTS = audio_fp.VARIANT_SHIFTS  # grid phases per registered speed variant
VOICES = ("en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-029", "en-gb-x-gbclan",
          "en-gb-x-gbcwmd", "en-uk")
WORDS = ("the shot we need is wider than that so move the camera back and hold on her face "
         "until the line lands then cut to the reverse we talked about yesterday after lunch "
         "bring the crane round and light the window side softer please nobody moves before "
         "action we lose the sun at five so this is the last take of the day").split()

# (class, kind, level dB, speed, eq[, ffmpeg audio filter applied to the insert])
CLASSES: tuple[tuple[str, str, float, float, bool] | tuple[str, str, float, float, bool, str],
               ...] = (
    ("cue -6 dB", "music", -6.0, 1.0, False),
    ("cue -10 dB", "music", -10.0, 1.0, False),
    ("cue -15 dB", "music", -15.0, 1.0, False),
    ("cue -6 dB varispeed +2 %", "music", -6.0, 1.02, False),
    ("cue -6 dB varispeed -2 %", "music", -6.0, 0.98, False),
    ("cue -10 dB varispeed +4 %", "music", -10.0, 1.04, False),
    ("cue -6 dB varispeed -5 % + band EQ", "music", -6.0, 0.95, True),  # was "pitch/time"
    ("cue -10 dB band EQ", "music", -10.0, 1.0, True),
    ("VO -6 dB", "vo", -6.0, 1.0, False),
    ("VO -10 dB", "vo", -10.0, 1.0, False),
    ("VO -15 dB", "vo", -15.0, 1.0, False),
    ("VO PAL speed-up +4.2 % -6 dB", "vo", -6.0, 25 / 24, False),
    ("VO -10 dB varispeed -5 %", "vo", -10.0, 0.95, False),
    ("VO -10 dB band EQ", "vo", -10.0, 1.0, True),
    # tempo or pitch alone (ffmpeg's WSOLA atempo, rubberband): appended, so the classes
    # above keep their seeds
    ("cue -6 dB time-stretch +4 % (atempo)", "music", -6.0, 1.0, False, "atempo=1.04"),
    ("cue -10 dB time-stretch -5 % (atempo)", "music", -10.0, 1.0, False, "atempo=0.95"),
    ("VO -10 dB time-stretch +3 % (rubberband)", "vo", -10.0, 1.0, False,
     "rubberband=tempo=1.03"),
    ("VO -6 dB time-stretch -2 % (atempo)", "vo", -6.0, 1.0, False, "atempo=0.98"),
    ("cue -6 dB pitch shift +3 % (rubberband)", "music", -6.0, 1.0, False,
     "rubberband=pitch=1.03"),
)


def _log(s: str) -> None:
    print(s, file=sys.stderr, flush=True)


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x.astype(np.float64) ** 2)) + 1e-12)


def to8k(x: np.ndarray, sr: int = GEN_SR) -> np.ndarray:
    """To the analysis rate through the scan's own resampler."""
    rs = audio_fp.Resampler(sr)
    y = np.concatenate([rs.feed(x), rs.flush()])
    return y[: int(len(x) * audio_fp.SR / sr)].astype(np.float32)


def band(x: np.ndarray, sr: int = GEN_SR) -> np.ndarray:
    """Telephone-ish EQ as in ``bench/programme_audio.py``: ~300 Hz - 3 kHz."""
    y: np.ndarray = x.astype(np.float64)
    for _ in range(2):
        lp = cv2.GaussianBlur(y.reshape(1, -1), (0, 0), sigmaX=sr / (2 * np.pi * 300)).ravel()
        y = y - lp
        y = np.asarray(cv2.GaussianBlur(y.reshape(1, -1), (0, 0),
                                        sigmaX=sr / (2 * np.pi * 3000)).ravel(), np.float64)
    return y.astype(np.float32)


def ambience(n: int, seed: int, sr: int = GEN_SR) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = np.cumsum(rng.normal(0, 1, n))
    w = sr // 50
    c = np.cumsum(np.r_[np.zeros(w), x, np.full(w, x[-1])])
    x -= ((c[2 * w:] - c[:-2 * w]) / (2 * w))[:n]
    x /= np.abs(x).max() + 1e-9
    return (x * (0.6 + 0.4 * np.sin(np.arange(n) / sr * 0.3))).astype(np.float32)


def speech(work: Path, seconds: float, seed: int, sr: int = GEN_SR) -> np.ndarray:
    """espeak-ng speech: text, voice, rate and pitch from the seed (cached)."""
    wav = work / f"speech{seed}.wav"
    rng = np.random.default_rng(seed)
    text = " ".join(rng.choice(WORDS, 200))
    voice = VOICES[seed % len(VOICES)]
    if not wav.exists():
        subprocess.run(["espeak-ng", "-v", voice, "-s", str(int(rng.integers(140, 180))),
                        "-p", str(int(rng.integers(30, 70))), "-w", str(wav), text],
                       check=True, capture_output=True)
    x = read_any(wav, sr)
    reps = int(np.ceil(seconds * sr / len(x)))
    return np.tile(x, reps)[: int(seconds * sr)]


def read_any(path: Path, sr: int, limit: float | None = None) -> np.ndarray:
    cmd = ["ffmpeg", "-v", "error", "-i", str(path)]
    if limit:
        cmd += ["-t", str(limit)]
    raw = subprocess.run(cmd + ["-f", "f32le", "-ac", "1", "-ar", str(sr), "-"], check=True,
                         capture_output=True).stdout
    return np.frombuffer(raw, dtype="<f4").copy()


# -- register (in memory) ------------------------------------------------------------------------
@dataclass
class MemRegister:
    hashes: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint32))
    ent: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    frames: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    speeds: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    kinds: dict[int, str] = field(default_factory=dict)
    sources: dict[int, np.ndarray] = field(default_factory=dict)  # at GEN_SR

    def add(self, eid: int, kind: str, x: np.ndarray, sr: int = GEN_SR) -> None:
        """``x`` at ``sr``; stored as ``extract.fingerprint_audio`` stores it."""
        self.kinds[eid] = kind
        self.sources[eid] = x
        lm = register_landmarks(to8k(x, sr) if sr != audio_fp.SR else x)
        self.hashes = np.r_[self.hashes, lm.hashes]
        self.ent = np.r_[self.ent, np.full(len(lm.hashes), eid)]
        self.frames = np.r_[self.frames, lm.frames.astype(np.int64)]
        assert lm.speed is not None
        self.speeds = np.r_[self.speeds, lm.speed.astype(np.int64)]

    def freeze(self) -> None:
        o = np.argsort(self.hashes, kind="stable")
        self.hashes, self.ent = self.hashes[o], self.ent[o]
        self.frames, self.speeds = self.frames[o], self.speeds[o]

    def lookup(self, hashes: np.ndarray, frames: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, None]:
        """``audio_match.Lookup`` over this register (no target-peak payload)."""
        return (*self.hits(audio_fp.Landmarks(hashes, frames, 0.0, 0)), None)

    def hits(self, lm: audio_fp.Landmarks
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        lo = np.searchsorted(self.hashes, lm.hashes, "left")
        hi = np.searchsorted(self.hashes, lm.hashes, "right")
        n = hi - lo
        qi = np.repeat(np.arange(len(lm.hashes)), n)
        start = np.repeat(lo - np.r_[0, np.cumsum(n)[:-1]], n)
        ri = start + np.arange(len(qi))
        return (lm.frames[qi].astype(np.int64), self.ent[ri], self.frames[ri],
                self.speeds[ri])



def register_landmarks(x8: np.ndarray) -> audio_fp.Landmarks:
    """``audio.fingerprint_speeds`` on samples already at 8 kHz."""
    own = audio_fp.fingerprint_samples(x8, shifts=audio_fp.REGISTER_SHIFTS)
    own.speed = np.full(len(own.hashes), 1000, np.int32)
    return audio_fp.with_speeds(own, x8, shifts=VARIANT_SHIFTS)


def build_register(work: Path) -> MemRegister:
    reg = MemRegister()
    for k in range(20):
        reg.add(1 + k, "music", synth_music(7000 + k, 30.0, GEN_SR))
    if shutil.which("espeak-ng"):
        for k in range(6):
            x = speech(work, 20.0, 100 + k)
            reg.add(101 + k, "vo", (x / max(float(np.abs(x).max()), 1e-6) * 0.5))
    reg.freeze()
    return reg


# -- the old rule, as matcher.match_audio applied it before audio_match -------------------------
OLD_MIN_HITS = 30  # aligned landmark hits for an audio match
OLD_MIN_FRACTION = 0.01  # ... and that share of the deliverable's landmarks over the range
OLD_MIN_SPREAD = 4  # ... spread over at least this many distinct half-second bins
OLD_SLACK = 1  # frames either side of the best offset


def _old_offsets(d: np.ndarray, q: np.ndarray, qsorted: np.ndarray, speed: int = 1000
                   ) -> list[tuple[int, float, float, int, int, int]]:
    """Candidate uses of one registered audio at one speed: (score, start s, end s, offset in
    frames, deliverable landmarks over the range, speed) for each offset peak that passes."""
    if len(d) < OLD_MIN_HITS:
        return []
    lo = int(d.min())
    counts = np.bincount(d - lo)
    smooth = np.convolve(counts, np.ones(2 * OLD_SLACK + 1, dtype=np.int64), "same")
    out: list[tuple[int, float, float, int, int, int]] = []
    for _ in range(m.AUDIO_MAX_OCCURRENCES * 3):
        peak = int(np.argmax(smooth))
        score = int(smooth[peak])
        if score < OLD_MIN_HITS or len(out) >= m.AUDIO_MAX_OCCURRENCES:
            break
        # suppress this offset's neighbourhood for the next round
        smooth[max(0, peak - 4 * OLD_SLACK - 2): peak + 4 * OLD_SLACK + 3] = 0
        off = peak + lo
        qs = q[np.abs(d - off) <= OLD_SLACK]
        start = float(qs.min()) * audio_fp.FRAME_S
        end = float(qs.max()) * audio_fp.FRAME_S
        # One chord can pair up with itself many times at a single instant; a real use of a
        # cue keeps agreeing over time.
        spread = len(np.unique((qs * audio_fp.FRAME_S / 0.5).astype(np.int64)))
        if spread < OLD_MIN_SPREAD:
            continue
        # Music in one key and tempo shares note pairs by chance; those hits scatter over the
        # whole deliverable, a real use concentrates them.
        in_range = int(np.searchsorted(qsorted, qs.max(), "right")
                       - np.searchsorted(qsorted, qs.min(), "left"))
        if score < OLD_MIN_FRACTION * in_range:
            continue
        out.append((score, start, end, off, in_range, speed))
    return out


def old_rule(reg: MemRegister, lm: audio_fp.Landmarks) -> list[tuple[int, float, float, int]]:
    """(entry, start, end, score) accepted by the shipped rule (one per entry and stretch)."""
    qf, ent, rf, spd = reg.hits(lm)
    if not len(qf):
        return []
    delta = rf - qf
    qsorted = np.sort(lm.frames)
    out = []
    for eid in np.unique(ent):
        cands = []
        for sp in np.unique(spd[ent == eid]):
            sel = (ent == eid) & (spd == sp)
            cands += _old_offsets(delta[sel], qf[sel], qsorted, int(sp))
        cands.sort(key=lambda c: (-c[0], abs(c[5] - 1000)))
        acc: list[tuple[float, float]] = []
        for score, start, end, _off, _n, _sp in cands:
            if any(am._overlap((start, end), a) > 0.5 for a in acc):
                continue
            acc.append((start, end))
            out.append((int(eid), start, end, int(score)))
    return out


# -- material ---------------------------------------------------------------------------------
@dataclass
class Query:
    name: str
    group: str  # class (positives) or negative group
    x8: np.ndarray
    entry: int = 0  # the inserted entry (0: negative)
    span: tuple[float, float] = (0.0, 0.0)


def positives(work: Path, reg: MemRegister, odd: int, trials: int = 5, shift: int = 0,
              classes: tuple[str, ...] = ()) -> list[Query]:
    """Each class x trials, in the full mix and in its stem; only the classes whose name
    holds one of ``classes`` if any are given (their seeds follow their place among those
    run, so a subset draws inserts of its own)."""
    out: list[Query] = []
    have_speech = shutil.which("espeak-ng") is not None
    cues = [e for e, k in reg.kinds.items() if k == "music" and (e - 1) % 2 == odd]
    vos = [e for e, k in reg.kinds.items() if k == "vo" and (e - 101) % 2 == odd]
    n = int(PROG_S * GEN_SR)
    chosen = [c for c in CLASSES if not classes or any(k in c[0] for k in classes)]
    for ci, (cls, kind, level, speed, eq, *filt) in enumerate(chosen):
        if kind == "vo" and not have_speech:
            continue
        pool = cues if kind == "music" else vos
        for t in range(trials):
            seed = 2 * (ci * trials + t) + odd + shift
            eid = pool[(ci + t) % len(pool)]
            bed = 0.25 * synth_music(50_000 + seed, PROG_S, GEN_SR)[:n]
            amb = 0.05 * ambience(n, 40_000 + seed)
            dia = np.zeros(n, np.float32)
            if have_speech:
                sp = speech(work, PROG_S, 60_000 + seed)
                dia = (0.3 * sp[:n] / max(float(np.abs(sp).max()), 1e-6)).astype(np.float32)
            src = reg.sources[eid]
            rng = np.random.default_rng(seed)
            handle = 1.5 + float(rng.uniform(0, 6))
            used = src[int(handle * GEN_SR):]
            if speed != 1.0:
                used = audio_fp.varispeed(used, speed)
            if filt:
                used = ffmpeg_filter(used[: int(2 * INSERT_S * GEN_SR)], GEN_SR, filt[0])
            if eq:
                used = band(used)
            used = used[: int(INSERT_S * GEN_SR)]
            at = int(float(rng.uniform(2, PROG_S - INSERT_S - 2)) * GEN_SR)
            seg = slice(at, at + len(used))
            rest = dia[seg] + bed[seg] + amb[seg]
            gain = _rms(rest) / _rms(used) * 10 ** (level / 20)
            fade = np.minimum(1.0, np.minimum(np.arange(len(used)),
                                              np.arange(len(used))[::-1]) / (0.05 * GEN_SR))
            ins = np.zeros(n, np.float32)
            ins[seg] = used * gain * fade
            span = (at / GEN_SR, (at + len(used)) / GEN_SR)
            mix = dia + bed + amb + ins
            stem = (dia + ins) if kind == "vo" else (bed + amb + ins)
            for where, y in (("mix", mix), ("stem", stem)):
                y = (0.9 * y / max(float(np.abs(y).max()), 1e-6)).astype(np.float32)
                out.append(Query(f"{cls} #{t} {where}", f"{cls} | {where}", to8k(y), eid, span))
    return out


def same_key(params_seed: int, notes_seed: int, seconds: float, sr: int = GEN_SR) -> np.ndarray:
    """Unrelated music in the same key and tempo as a registered cue."""
    return synth_music(params_seed, seconds, sr, notes_seed=notes_seed)


MUSIC_HOWS = ("plain WAV", "MP3 128k", "varispeed", "two pieces mixed", "under noise")


def negatives(work: Path, odd: int, music: int, offline: bool, same: int = 40,
              speeches: int | None = None, shift: int = 0) -> list[Query]:
    out: list[Query] = []
    rng = np.random.default_rng(90 + odd)
    for k in range(odd, 2 * music, 2):
        x = synth_music(90_000 + shift + k, 30.0, GEN_SR)
        how = MUSIC_HOWS[k % 5]
        if how == "varispeed":
            x = audio_fp.varispeed(x, 1.04 if k % 4 < 2 else 0.96)
        elif how == "two pieces mixed":
            x = 0.6 * x + 0.6 * synth_music(95_000 + shift + k, 30.0, GEN_SR)
        elif how == "under noise":
            noise = np.cumsum(rng.normal(0, 1, len(x))).astype(np.float32)
            noise -= np.convolve(noise, np.ones(80) / 80, "same").astype(np.float32)
            x = x + noise / _rms(noise) * _rms(x) * 0.7
        x = (0.9 * x / max(1e-9, float(np.abs(x).max()))).astype(np.float32)
        if how == "MP3 128k":
            wav, mp3 = work / f"neg{os.getpid()}.wav", work / f"neg{os.getpid()}.mp3"
            from bench.bench_register import _write_wav  # noqa: PLC0415
            _write_wav(wav, x, GEN_SR)
            subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(wav), "-b:a", "128k",
                            str(mp3)], check=True)
            x = read_any(mp3, GEN_SR)
        out.append(Query(f"m{90_000 + shift + k}", f"synthetic music, {how}", to8k(x)))
    for k in range(odd, 2 * same, 2):
        x = same_key(7000 + k % 20, 97_000 + shift + k, 30.0)
        out.append(Query(f"same-key {7000 + k % 20}/{97_000 + shift + k}",
                         "synthetic music, same key/tempo/timbre as a cue", to8k(x)))
    if shutil.which("espeak-ng"):
        n_speech = max(2, music // 10) if speeches is None else speeches
        for k in range(odd, 2 * n_speech, 2):
            x = speech(work, 30.0, 3000 + shift + k)
            out.append(Query(f"speech{3000 + shift + k}", "espeak-ng speech", to8k(x)))
    if offline:
        from bench import register_negatives as rn  # noqa: PLC0415
        found = rn.found_media(rn.AUDIO_EXTS, "audio", True)
        for i, neg in enumerate(sorted(found, key=lambda n: str(n.path))):
            if i % 2 != odd:
                continue
            try:
                x = read_any(neg.path, audio_fp.SR, limit=300)
            except subprocess.CalledProcessError:
                continue
            if len(x) < audio_fp.SR // 2:
                continue
            out.append(Query(neg.path.name, f"found offline ({neg.path.suffix[1:].lower()})", x))
    return out


# -- measuring ----------------------------------------------------------------------------------
@dataclass
class Measured:
    q: Query
    old: list[tuple[int, float, float, int]]
    segs: list[am.Segment]
    seconds: float
    shipped: list[am.Segment]  # the new rule on the shipped (register-density) query
    t_old: float
    t_new: float
    wave: list[wf.Segment] = field(default_factory=list)  # every verified waveform segment
    t_wave: float = 0.0
    t_follow: float = 0.0  # following speed changes (``matcher.follow_hints``), in t_wave too
    # the same, with the speed-1 search kept to the landmarks' short list (a register over
    # ``matcher.WAVEFORM_FULL_S``), and what that took including whitening the query
    short: list[wf.Segment] = field(default_factory=list)
    t_short: float = 0.0
    areas: int = 0


def measure(reg: MemRegister, queries: list[Query], log: Callable[[str], None]
            ) -> list[Measured]:
    out = []
    # the register's waveforms as ``extract`` stores them: the 8 kHz analysis samples at the
    # proxy rate, whitened as ``matcher.Register`` does when it loads them
    waves = [(eid, wf.whiten(wf.decimate(to8k(x)))) for eid, x in reg.sources.items()]
    tracks = {eid: [x] for eid, x in waves}
    for i, q in enumerate(queries):
        t0 = time.perf_counter()
        lm0 = audio_fp.fingerprint_samples(q.x8)
        old = old_rule(reg, lm0)
        t1 = time.perf_counter()
        shipped = am.match(*reg.hits(lm0))
        t1b = time.perf_counter()
        lm = am.landmarks(q.x8, am.QUERY)
        # every candidate a scan measures (down to the short list's floor), and those down
        # to FLOOR_HITS = matcher.HINT_HITS: the hints, and what the rule is tuned on
        named = am.candidates(lm.hashes, lm.frames, reg.lookup, min_hits=FLOOR_HITS,
                              min_seconds=FLOOR_S,
                              at_one=(m.SHORTLIST_HITS, m.SHORTLIST_SECONDS),
                              half=lm.half)
        segs = m.hints_of(named)
        t2 = time.perf_counter()
        seconds = len(q.x8) / audio_fp.SR
        wq = wf.Query.build(wf.decimate(q.x8))
        t_build = time.perf_counter() - t2
        wave = wf.segments(wq, waves)
        # the speed-following stage, as a scan runs it, with all it verifies
        t2b = time.perf_counter()
        heard = wf.Heard(wf.decide(wave), wq.white.astype(np.float16))
        wave += m.follow_hints(heard, tracks, segs, seconds, floor=0.0)
        t3 = time.perf_counter()
        areas = m.shortlist_areas(named, seconds)
        short = wf.segments(wq, waves, areas)
        heard = wf.Heard(wf.decide(short), heard.white)
        short += m.follow_hints(heard, tracks, segs, seconds, floor=0.0)
        t4 = time.perf_counter()
        out.append(Measured(q, old, segs, seconds, shipped, t1 - t0, t2 - t1b, wave, t3 - t2,
                            t3 - t2b, short, t4 - t3 + t_build,
                            sum(len(v) for v in areas.values())))
        if i % 20 == 0:
            log(f"  {i}/{len(queries)} {q.name}")
    return out


def wave_true(ms: Measured, s: wf.Segment) -> bool:
    return (ms.q.entry == s.entry and s.start <= ms.q.span[1] + 0.5
            and s.end >= ms.q.span[0] - 0.5)


def wave_found(ms: Measured, floor: float, short: bool = False) -> bool:
    return any(wave_true(ms, s) and s.confidence >= floor
               for s in wf.decide(ms.short if short else ms.wave))


def true_seg(ms: Measured, s: am.Segment) -> bool:
    return (ms.q.entry == s.entry and s.start <= ms.q.span[1] + 0.5
            and s.end >= ms.q.span[0] - 0.5)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--split", choices=("tune", "held"), default="tune")
    ap.add_argument("--work", default="/tmp/audio-rule")
    ap.add_argument("--music", type=int, default=100, help="synthetic music negatives")
    ap.add_argument("--trials", type=int, default=5, help="positives per class")
    ap.add_argument("--speech", type=int, help="espeak-ng speech negatives (default music/10)")
    ap.add_argument("--shift", type=int, default=0,
                    help="added to the negatives' seeds: a fresh split (e.g. 1000)")
    ap.add_argument("--same", type=int, default=40, help="same key/tempo negatives")
    ap.add_argument("--no-offline", action="store_true")
    ap.add_argument("--classes", default="",
                    help="comma-separated parts of class names: run only those classes")
    ap.add_argument("--dump", help="pickle the measured segments here")
    ap.add_argument("--out", help="markdown results")
    ap.add_argument("--density", help="query density pps,dt,df,fanout (default audio_match.QUERY)")
    ap.add_argument("--gap", type=float, help="audio_match.GAP_S")
    ap.add_argument("--max-peaks", type=int, help="audio_match.MAX_PEAKS")
    ap.add_argument("--variant-shifts", type=int,
                    help="grid phases per registered speed variant (audio.VARIANT_SHIFTS)")
    a = ap.parse_args(argv)
    work = Path(a.work)
    work.mkdir(parents=True, exist_ok=True)
    odd = int(a.split == "held")
    if a.density:
        pps, dt, df, fan = (int(v) for v in a.density.split(","))
        am.QUERY = am.Density(pps, dt, df, fan)
    if a.gap:
        am.GAP_S = a.gap
    if a.max_peaks:
        am.MAX_PEAKS = a.max_peaks
    if a.variant_shifts:
        global VARIANT_SHIFTS
        VARIANT_SHIFTS = a.variant_shifts
    t0 = time.perf_counter()
    reg = build_register(work)
    _log(f"register: {len(reg.kinds)} entries, {len(reg.hashes)} landmarks "
         f"({time.perf_counter() - t0:.0f} s)")
    pos = positives(work, reg, odd, a.trials, a.shift,
                    tuple(k for k in a.classes.split(",") if k))
    neg = negatives(work, odd, a.music, not a.no_offline, a.same, a.speech, a.shift)
    _log(f"{len(pos)} positive queries, {len(neg)} negatives ({time.perf_counter() - t0:.0f} s)")
    res = measure(reg, pos + neg, _log)
    if a.dump:
        with open(a.dump, "wb") as fh:
            pickle.dump(res, fh)
    md = report(res, a.split, time.perf_counter() - t0)
    if a.out:
        Path(a.out).write_text(md)
    print(md)
    return 0


def decide(segs: list[am.Segment]) -> list[am.Segment]:
    return am.decide(segs)


def report(res: list[Measured], split: str, took: float) -> str:
    q = am.QUERY
    lines = [f"## Split {split.upper()}", "",
             f"Query analysis {q.peaks_per_s} peaks/s, neighbourhood +-{q.peak_dt} frames x "
             f"+-{q.peak_df} bins, fan-out {q.fanout}; segments split at {am.GAP_S:g} s gaps, "
             f">= {am.MIN_SECONDS:g} s; excess = hits - {am.CHANCE_WEIGHT:g} x chance level; "
             f"match at excess >= {am.ACCEPT_EXCESS:g}, review >= {am.REVIEW_EXCESS:g}.", ""]
    pos = [r for r in res if r.q.entry]
    neg = [r for r in res if not r.q.entry]
    lines += ["| class | where | N | old rule found | new rule found | new: review only | "
              "new: by a tempo variant | "
              "new rule, shipped query density | waveform found | waveform: review only | "
              "of which speed followed | either found | short list: waveform found | "
              "short list: either found |",
              "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- "
              "| --- |"]
    groups: dict[str, list[Measured]] = {}
    for r in pos:
        groups.setdefault(r.q.group, []).append(r)
    for g, rs in groups.items():
        cls, where = g.split(" | ")
        old = sum(any(e == r.q.entry and s <= r.q.span[1] and en >= r.q.span[0]
                      for e, s, en, _ in r.old) for r in rs)
        new = sum(any(true_seg(r, s) and s.confidence >= am.ACCEPT for s in decide(r.segs))
                  for r in rs)
        rev = sum(any(true_seg(r, s) and am.REVIEW <= s.confidence < am.ACCEPT
                      for s in decide(r.segs)) for r in rs)
        shp = sum(any(true_seg(r, s) and s.confidence >= am.ACCEPT for s in r.shipped)
                  for r in rs)
        tmp = sum(any(true_seg(r, s) and s.confidence >= am.ACCEPT and s.tempo != 1.0
                      for s in decide(r.segs)) for r in rs)
        wav = sum(wave_found(r, wf.ACCEPT) for r in rs)
        wrev = sum(wave_found(r, wf.REVIEW) and not wave_found(r, wf.ACCEPT) for r in rs)
        fol = sum(any(wave_true(r, s) and s.confidence >= wf.ACCEPT and s.speed != 1.0
                      for s in wf.decide(r.wave)) for r in rs)
        either = sum(wave_found(r, wf.ACCEPT) or any(
            true_seg(r, s) and s.confidence >= am.ACCEPT for s in decide(r.segs)) for r in rs)
        swav = sum(wave_found(r, wf.ACCEPT, short=True) for r in rs)
        seither = sum(wave_found(r, wf.ACCEPT, short=True) or any(
            true_seg(r, s) and s.confidence >= am.ACCEPT for s in decide(r.segs)) for r in rs)
        lines.append(f"| {cls} | {where} | {len(rs)} | {old} | {new} | {rev} | {tmp} | {shp} | {wav} "
                     f"| {wrev} | {fol} | {either} | {swav} | {seither} |")
    lines += ["", "| negatives | N | seconds | old rule: files with a false match | "
              "new rule: files with a false match (ai) | new: review only | "
              "new rule, shipped query density | waveform: false match (ai) | "
              "waveform: review only | short list: waveform false (ai) | short list: review "
              "only | short list: areas per minute |",
              "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    ng: dict[str, list[Measured]] = {}
    for r in neg:
        ng.setdefault(r.q.group, []).append(r)
    tot = [0, 0.0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    for g, rs in sorted(ng.items()):
        old = sum(bool(r.old) for r in rs)
        new = sum(any(s.confidence >= am.ACCEPT for s in decide(r.segs)) for r in rs)
        rev = sum(any(am.REVIEW <= s.confidence < am.ACCEPT for s in decide(r.segs))
                  for r in rs)
        shp = sum(any(s.confidence >= am.ACCEPT for s in r.shipped) for r in rs)
        secs = sum(r.seconds for r in rs)
        wav = sum(any(s.confidence >= wf.ACCEPT for s in wf.decide(r.wave)) for r in rs)
        wrev = sum(bool(wf.decide(r.wave)) and not any(
            s.confidence >= wf.ACCEPT for s in wf.decide(r.wave)) for r in rs)
        swav = sum(any(s.confidence >= wf.ACCEPT for s in wf.decide(r.short)) for r in rs)
        swrev = sum(bool(wf.decide(r.short)) and not any(
            s.confidence >= wf.ACCEPT for s in wf.decide(r.short)) for r in rs)
        areas = sum(r.areas for r in rs)
        tot = [tot[0] + len(rs), tot[1] + secs, tot[2] + old, tot[3] + new, tot[4] + rev,
               tot[5] + shp, tot[6] + wav, tot[7] + wrev, tot[8] + swav, tot[9] + swrev,
               tot[10] + areas]
        lines.append(f"| {g} | {len(rs)} | {secs:.0f} | {old} | {new} | {rev} | {shp} | {wav} "
                     f"| {wrev} | {swav} | {swrev} | {areas / max(secs, 1.0) * 60:.1f} |")
    lines.append(f"| **all** | {tot[0]} | {tot[1]:.0f} | {tot[2]} | {tot[3]} | {tot[4]} | "
                 f"{tot[5]} | {tot[6]} | {tot[7]} | {tot[8]} | {tot[9]} | "
                 f"{tot[10] / max(tot[1], 1.0) * 60:.1f} |")
    wrong = sum(any(not true_seg(r, s) and s.confidence >= am.ACCEPT for s in decide(r.segs))
                for r in pos)
    wrong_old = sum(any(not (e == r.q.entry and s <= r.q.span[1] and en >= r.q.span[0])
                        for e, s, en, _ in r.old) for r in pos)
    secs = sum(r.seconds for r in res)
    worst = max(((s.excess, s.hits, s.chance, r.q.name) for r in neg for s in r.segs
                 if s.span >= am.MIN_SECONDS), default=None)
    if worst:
        lines += ["", f"Nearest negative: excess {worst[0]:.1f} ({worst[1]} aligned hits, "
                  f"chance level {worst[2]:.1f}) in {worst[3]}; a match needs "
                  f"{am.ACCEPT_EXCESS:g}, review {am.REVIEW_EXCESS:g}."]
    wworst = max(((s.confidence, s.z, s.ratio, s.end - s.start, r.q.name) for r in neg
                  for s in r.wave), default=None)
    if wworst:
        lines += ["", f"Nearest negative of the waveform search: confidence {wworst[0]:.2f} "
                  f"(z {wworst[1]:.1f}, peak ratio {wworst[2]:.2f}, {wworst[3]:.2f} s) in "
                  f"{wworst[4]}; a match needs {wf.ACCEPT:g} (z {wf.ACCEPT_Z:g} and ratio "
                  f"{wf.RATIO_ACCEPT:g}), review {wf.REVIEW:g}."]
    wwrong = sum(any(not wave_true(r, s) and s.confidence >= wf.ACCEPT
                     for s in wf.decide(r.wave)) for r in pos)
    swrong = sum(any(not wave_true(r, s) and s.confidence >= wf.ACCEPT
                     for s in wf.decide(r.short)) for r in pos)
    lines += ["", f"Positive queries with a wrong match as well (other entry or outside the "
              f"insert): old {wrong_old}, new {wrong}, waveform {wwrong}, short list "
              f"{swrong} of {len(pos)}.", "",
              f"Cost (one core, in-memory look-up): old {sum(r.t_old for r in res) / secs * 60:.2f}"
              f" s, new {sum(r.t_new for r in res) / secs * 60:.2f} s, waveform search "
              f"{sum(r.t_wave for r in res) / secs * 60:.2f} s per audio minute (following "
              f"speed changes {sum(r.t_follow for r in res) / secs * 60:.2f} s of it), "
              f"the same kept to the short list {sum(r.t_short for r in res) / secs * 60:.2f}"
              " s; "
              f"{secs / 60:.0f} audio minutes; run {took:.0f} s.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
