"""Audio match decision: which offset peaks of the landmark look-up are a real use of a cue.

Why a rule of its own: the look-up (``RegisterStore.audio_hits``) gives, for every landmark
hash the deliverable shares with the register, (query frame, entry, registered frame, speed).
A use of registered audio shows up as many of those agreeing on one offset. Unrelated music in
the same key and tempo also shares note pairs, and with 11 registered speeds and every offset
of a 30 s cue against a 30 s deliverable the best chance offset collects 30-50 hashes: as many
as a cue 10-15 dB under a mix. What differs is *how* they agree:

- chance hashes come in clumps (one chord pairs with itself many times at one instant) spread
  over the whole file; a use keeps agreeing, instant after instant. So the aligned hits are
  split into **segments** at gaps longer than ``GAP_S`` and each segment is judged on its own,
  counting distinct (query frame, registered frame) pairs rather than hashes;
- music in the same key, tempo and timbre aligns nearly as well one beat over: its peak is
  part of a high plateau of the entry's offset histogram. The **chance level** is the mean
  hits at the offsets within 2 s of the peak, counted over the segment and 10 s either side;
  the score is the ``excess`` = hits - 3 x chance level. A cue under a mix stands on a low
  floor, so its excess is nearly its hits;
- nothing is normalised by the deliverable's landmark count (the old 1 % rule), which rises
  with a busier mix and with a denser query analysis and cancelled the gain from both.

The deliverable side is analysed denser than the register (``QUERY``: 60 peaks/s in a 9x17
neighbourhood, 20 targets per anchor, against 30/s, 13x25 and 6): hashes are (f1, f2, dt) only,
so a denser query keeps the registered hashes it used to hit and adds more (2-3x the true hits
of a cue under a mix). Registers are unchanged (``REGISTER``).

Pure functions over NumPy arrays; tuned and evaluated by ``bench/audio_rule.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from detectors.fingerprint import audio as audio_fp

FRAME_S = audio_fp.FRAME_S
WINDOW_S = audio_fp.NFFT / audio_fp.SR  # one analysis window (a frame's time is its start)
Density = audio_fp.Density
REGISTER = Density()  # what registers were built with (unchanged)
QUERY = Density(peaks_per_s=60, peak_dt=4, peak_df=8, fanout=20)  # the deliverable side

# -- decision parameters (tuned by bench/audio_rule.py on its TUNE split) ----------------------
SLACK = 1  # frames either side of an offset peak
MAX_PEAKS = 12  # offset peaks examined per entry and speed
GAP_S = 1.5  # a silence in the aligned hits longer than this splits a segment
BIN_S = 0.5  # coverage bins (reported, not used by the decision)
JOIN_GAP_S = 10.0  # reported parts of one use (same offset) this close are one range
MIN_SECONDS = 2.5  # segment length (the issue asks for >= 3 s of audio; margin for fades)
CHANCE_RING = 64  # frames (2 s) of offsets either side of a peak that give the chance level
CHANCE_PAD_S = 10.0  # ... counted over the segment and this much of the deliverable around it
CHANCE_WEIGHT = 3.0  # excess = hits - CHANCE_WEIGHT * chance level
ACCEPT_EXCESS = 11.0  # excess hits of a match (``ai``): the tune split's worst negative: 6.7
REVIEW_EXCESS = 8.0  # ... and the grey band under it (``review``)
MIN_HITS = int(REVIEW_EXCESS)  # segments with fewer aligned hits are not measured
ACCEPT = 0.5  # confidence at ACCEPT_EXCESS (the register detector's ``review_below``)
REVIEW = round(0.5 * REVIEW_EXCESS / ACCEPT_EXCESS, 3)  # confidence at REVIEW_EXCESS


@dataclass
class Segment:
    """One candidate use: a stretch of the deliverable agreeing on one offset and speed."""

    entry: int
    speed: int  # per mille
    offset: int  # registered frame - query frame (on the speed variant's timeline)
    hits: int  # distinct (query frame, registered frame) pairs at the offset (+-SLACK)
    start: float  # s in the deliverable
    end: float
    ref_start: float  # s in the registered audio at its own speed
    ref_end: float
    chance: float  # the entry's mean hits at neighbouring offsets over the same stretch
    coverage: float  # share of half-second bins of [start, end] with a hit
    raw: int  # hashes in common at the offset (a chord pairing with itself counts many)
    span: float  # s from the first to the last aligned anchor: the length the rule measures
    confidence: float = 0.0
    # the deliverable runs this many times as fast as the registered audio in time only
    # (``TEMPOS``); start, end and span are in the deliverable's seconds, offset on the
    # registered timeline
    tempo: float = 1.0
    # seconds the deliverable's analysis grid starts late (``HALF_S`` on the second grid):
    # offset, in frames, is measured on that grid
    grid_s: float = 0.0

    @property
    def excess(self) -> float:
        return self.hits - CHANCE_WEIGHT * self.chance - (TEMPO_PENALTY if self.tempo != 1.0
                                                          else 0.0)


# -- analysis -----------------------------------------------------------------------------------
def landmarks(x: np.ndarray, d: Density = QUERY, half: bool = True) -> audio_fp.Landmarks:
    """Landmarks of mono float32 samples at ``audio.SR`` in one piece (tests, benchmark), at
    density ``d`` and, with ``half``, on the grid half a hop later too: what a scan computes
    streaming with ``density=QUERY, half=True``."""
    return audio_fp.landmarks_from_blocks(iter([np.asarray(x, np.float32)]), density=d,
                                          half=half)


# -- time stretch -------------------------------------------------------------------------
# A time stretch (tempo changed, pitch kept: WSOLA, ffmpeg's atempo, rubberband) moves a
# landmark's two peaks apart in time but not in frequency, so its hash is the registered one
# with the frames between the peaks scaled. The deliverable's landmarks are looked up again
# re-hashed at these factors (its frames scaled onto the registered timeline), which also
# covers a pitch shift with the registered speed variants. Frames are 32 ms and most pairs
# span under 20 of them, so one factor reaches about +-2.5 % around itself: 0.96 and 1.04
# cover +-5 % (measured on ffmpeg atempo at 0, -6 and -10 dB under a mix).
TEMPOS = (1.0, 0.96, 1.04)
# Each factor is a look-up of its own, so unrelated sound gets more chances to line up: on the
# TUNE split of bench/audio_rule.py the best negative excess was 7.0 at tempo 1 and 8.7 at a
# variant. A segment found at a variant has this much taken off its excess (its real uses
# there scored 13.2 and up, so none was lost).
TEMPO_PENALTY = 2.0


def stretch(hashes: np.ndarray, frames: np.ndarray, tempo: float
            ) -> tuple[np.ndarray, np.ndarray]:
    """The deliverable's landmarks as the registered audio's would be if the deliverable is
    it played ``tempo`` times as fast in time only: (hashes, frames on the registered
    timeline); pairs whose scaled span leaves the hash's range are dropped."""
    if tempo == 1.0:
        return hashes, frames
    h = hashes.astype(np.int64)
    dt = np.rint((h & audio_fp.DT_MASK) * tempo).astype(np.int64)
    keep = (dt >= 1) & (dt <= audio_fp.DT_MASK)
    return (((h & ~audio_fp.DT_MASK) | dt)[keep].astype(hashes.dtype),
            np.rint(frames[keep].astype(np.float64) * tempo).astype(frames.dtype))


def on_deliverable(segs: list[Segment], tempo: float) -> list[Segment]:
    """Segments found on stretched landmarks (``stretch``), back on the deliverable's clock."""
    if tempo == 1.0:
        return segs
    for s in segs:
        s.start, s.end, s.span, s.tempo = s.start / tempo, s.end / tempo, s.span / tempo, tempo
    return segs


Lookup = Callable[[np.ndarray, np.ndarray],
                  tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]]


# A landmark's peaks sit on 32 ms frames. Registered audio at its own speed is stored on
# ``audio.REGISTER_SHIFTS`` grid phases, so wherever a use starts in a deliverable some phase
# is within an eighth of a hop of its grid. Each speed variant is stored on one phase only
# (more would multiply the register and the chance hits every look-up meets, see
# ``audio.VARIANT_SHIFTS``), so a use can fall up to half a hop off it, and a short peak
# (a syllable, a formant) then lands in a neighbouring frame or not at all: a VO 10 dB under a
# mix played 5 % slow lost most of its pairs. The deliverable is therefore also analysed on
# the grid half a hop later (``Landmarks.half``), and those landmarks are looked up for the
# speed variants only and measured as segments of their own: no use is more than a quarter
# hop off one of the two. They are not added to the first grid's hits, so a chance
# alignment is measured exactly as before, on either grid. A time stretch drifts across the
# grid phases along its use whatever the register stores, so at the tempo variants the rows
# at the registered speed are measured on the second grid too: a VO stretched 3 % by
# rubberband 10 dB under a mix was found 1 time in 10, 3 with them (HELD). That second try
# is chance's too: its chance segments reached the grey band (excess 8.0-8.9: a TUNE
# negative, a query away from its insert, and the start of a programme against 5 hours of
# registered cues), where the uses it adds stood at 12.5 and over. So those rows report
# only a match (``ACCEPT_EXCESS``): no grey band and no hint of their own
# (bench/results/audio-rule.md). The second grid is looked up at every factor of ``TEMPOS``:
# at tempo 1 alone it saved a quarter to half its cost and lost a pitch shift's find.
HALF_S = audio_fp.HOP // 2 / audio_fp.SR


def candidates(hashes: np.ndarray, frames: np.ndarray, lookup: Lookup,
               min_hits: int | None = None, min_seconds: float | None = None,
               at_one: tuple[int, float] | None = None,
               half: audio_fp.Landmarks | None = None) -> list[Segment]:
    """``segments`` of the deliverable's landmarks at every factor of ``TEMPOS``.
    ``lookup(hashes, frames)``: (query frame, entry, registered frame, speed, frames to the
    target peak or None) for every hash in common with the register. ``at_one``: (hits,
    seconds) floors for the segments at the registered speed and tempo 1, lower than the
    others' (the waveform search's short list, which lines up only those). ``half``: the
    deliverable's landmarks on the grid half a hop later, whose segments at the speed
    variants, and at the registered speed at the tempo variants if they make a match,
    are added (``HALF_S``)."""
    out = _at_tempos(hashes, frames, lookup, min_hits, min_seconds, at_one)
    if half is not None and len(half.hashes):
        def variants(h: np.ndarray, f: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                                np.ndarray | None]:
            qf, ent, rf, spd, dt = lookup(h, f)
            k = np.asarray(spd) != 1000
            return qf[k], ent[k], rf[k], spd[k], None if dt is None else dt[k]

        found = _at_tempos(half.hashes, half.frames, variants, min_hits, min_seconds, None,
                           (1.0,))
        found += [s for s in _at_tempos(half.hashes, half.frames, lookup, min_hits,
                                         min_seconds, None,
                                         tuple(t for t in TEMPOS if t != 1.0))
                  if s.speed != 1000 or s.excess >= ACCEPT_EXCESS]
        for s in found:
            s.start, s.end, s.grid_s = s.start + HALF_S, s.end + HALF_S, HALF_S
            out.append(s)
    return out


def _at_tempos(hashes: np.ndarray, frames: np.ndarray, lookup: Lookup,
               min_hits: int | None, min_seconds: float | None,
               at_one: tuple[int, float] | None,
               tempos: tuple[float, ...] = TEMPOS) -> list[Segment]:
    """``candidates`` on one grid."""
    out: list[Segment] = []
    for tempo in tempos:
        h, f = stretch(hashes, frames, tempo)
        qf, ent, rf, spd, dt = lookup(h, f)
        if tempo != 1.0 or at_one is None:
            out += on_deliverable(segments(qf, ent, rf, spd, min_hits=min_hits,
                                           min_seconds=min_seconds, dt=dt), tempo)
            continue
        one = np.asarray(spd) == 1000
        for sel, floors in ((~one, (min_hits, min_seconds)), (one, at_one)):
            out += segments(qf[sel], ent[sel], rf[sel], spd[sel], min_hits=floors[0],
                            min_seconds=floors[1], dt=None if dt is None else dt[sel])
    return out


# -- decision -------------------------------------------------------------------------------
def _ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The indices of every range [start, start + count), one range after another."""
    return np.repeat(starts - np.cumsum(counts) + counts, counts) + np.arange(int(counts.sum()))


def _ranks(v: np.ndarray) -> tuple[np.ndarray, int]:
    """Each value's rank among the distinct values of ``v``, and how many there are (a
    table over the values' range where it is small: no sort)."""
    lo, hi = int(v.min()), int(v.max())
    if hi - lo < 1 << 24:
        at = v - lo
        rank = np.cumsum(np.bincount(at) > 0) - 1
        return rank[at], int(rank[-1]) + 1
    values, inverse = np.unique(v, return_inverse=True)
    return inverse.reshape(-1), len(values)


def _on_one_line(ent: np.ndarray, spd: np.ndarray, delta: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray, int, int]:
    """(order, pos, room, lo): every hit as a position on one line, ``pos`` sorted and
    ``order`` the row each came from: its group (entry, speed, numbered in that order)
    times ``room`` plus its offset less ``lo``. A group's offsets lie further from the next
    group's than any measure reaches (``CHANCE_RING``), so each measure is a search on one
    sorted array."""
    lo = int(delta.min())
    room = int(delta.max()) - lo + 2 * (CHANCE_RING + 2 * SLACK) + 2
    # sorted with each row's number in the low bits (a plain sort, twice as fast as an
    # argsort) where the positions leave room for it: groups numbered from the lowest
    # entry and speed (some numbers unused), else by rank, else an argsort
    bits = max(len(delta) - 1, 1).bit_length()
    e0, s0 = int(ent.min()), int(spd.min())
    n_e, n_s = int(ent.max()) - e0 + 1, int(spd.max()) - s0 + 1
    if n_e * n_s * room < 1 << (63 - bits):
        e, s = ent - e0, spd - s0
    else:
        (e, n_e), (s, n_s) = _ranks(ent), _ranks(spd)
    packed = n_e * n_s * room < 1 << (63 - bits)
    pos = e.astype(np.int64) * n_s  # in place from here: millions of rows
    pos += s
    pos *= room
    pos += delta
    pos -= lo
    if not packed:
        order = np.argsort(pos)
        return order, pos[order], room, lo
    pos <<= bits
    pos |= np.arange(len(pos))
    pos.sort()
    order = pos & ((1 << bits) - 1)
    pos >>= bits
    return order, pos, room, lo


def _offset_peaks(pos: np.ndarray, room: int, floor: int) -> tuple[np.ndarray, np.ndarray]:
    """(group, position) of each group's ``MAX_PEAKS`` strongest offsets with ``floor`` hits
    or more within +-``SLACK``, strongest first (ties: the lower offset), each over
    ``4 * SLACK + 2`` from a stronger one; groups in order.

    Only offsets that ``floor`` hits within 2 ``SLACK`` of each other can reach are counted,
    and every group's picks are made together, round by round: against a large register most
    groups are chance, and a histogram per group cost more than the look-up."""
    z = np.zeros(0, np.int64)
    first = np.flatnonzero(pos[floor - 1:] - pos[:len(pos) - floor + 1] <= 2 * SLACK)
    if not len(first):
        return z, z
    # the offsets within SLACK of all ``floor`` hits of each such run
    cand = (pos[first + floor - 1] - SLACK)[:, None] + np.arange(2 * SLACK + 1)[None, :]
    ok = cand <= (pos[first] + SLACK)[:, None]
    group = np.broadcast_to((pos[first] // room)[:, None], cand.shape)[ok]
    cand = cand[ok]
    # ... inside the group's own range of offsets (as a histogram of it would be); runs
    # come in line order, so each group's candidates are together: its range read once
    edge = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    each = np.diff(np.r_[edge, len(group)])
    lo = np.repeat(pos[np.searchsorted(pos, group[edge] * room)], each)
    hi = np.repeat(pos[np.searchsorted(pos, (group[edge] + 1) * room) - 1], each)
    ok = (cand >= lo) & (cand <= hi)
    cand, at = np.unique(cand[ok], return_index=True)
    group = group[ok][at]
    work = (np.searchsorted(pos, cand + SLACK, "right")
            - np.searchsorted(pos, cand - SLACK, "left"))
    keep = work >= floor
    cand, group, work = cand[keep], group[keep], work[keep]
    o = np.lexsort((cand, -work, group))
    cand, group = cand[o], group[o]
    alive = np.ones(len(cand), bool)
    picks: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    for rank in range(MAX_PEAKS):
        idx = np.flatnonzero(alive)
        if not len(idx):
            break
        g = group[idx]
        head = idx[np.r_[True, g[1:] != g[:-1]]]  # each group's strongest left
        picks.append((group[head], np.full(len(head), rank), cand[head]))
        k = np.searchsorted(group[head], g)  # every left candidate's group has a head
        alive[idx[np.abs(cand[idx] - cand[head][k]) <= 4 * SLACK + 2]] = False
    groups, ranks, at = (np.concatenate(p) for p in zip(*picks, strict=True))
    o = np.lexsort((ranks, groups))
    return groups[o], at[o]


def segments(qf: np.ndarray, ent: np.ndarray, rf: np.ndarray, spd: np.ndarray,
             min_hits: int | None = None, min_seconds: float | None = None,
             dt: np.ndarray | None = None) -> list[Segment]:
    """Every candidate segment with its measures (no decision): for each entry and speed,
    the ``MAX_PEAKS`` strongest offsets, their hits split at gaps of the deliverable.

    ``dt``: each hit's frames from anchor to target peak (the hash's low bits). A segment
    then ends at its last aligned *target* peak, not its last anchor: a hash's anchor comes
    up to 1.5 s before the sound it pairs with, and ending on anchors put out points
    0.2-0.7 s early even in a clean stem (measured with bench/programme_audio.py: 0.1-0.3 s
    now)."""
    floor = MIN_HITS if min_hits is None else min_hits
    shortest = MIN_SECONDS if min_seconds is None else min_seconds
    out: list[Segment] = []
    if len(qf) < max(floor, 1):
        return out
    qf = np.asarray(qf, np.int64)
    ent, rf, spd = np.asarray(ent), np.asarray(rf), np.asarray(spd)  # any integer width
    delta = rf.astype(np.int64) - qf
    order, pos, room, lo = _on_one_line(ent, spd, delta)
    peak_group, peak_pos = _offset_peaks(pos, room, max(floor, 1))
    # each peak's hits (peaks lie over 2 * SLACK apart: a hit is near one at most), by peak
    # and deliverable frame, split where the deliverable has a gap longer than ``GAP_S``;
    # only the parts that can pass (``floor`` hits, anchors ``shortest`` apart) are measured
    a0 = np.searchsorted(pos, peak_pos - SLACK, "left")
    n_each = np.searchsorted(pos, peak_pos + SLACK, "right") - a0
    if not int(n_each.sum()):
        return out
    pid = np.repeat(np.arange(len(peak_pos)), n_each)
    at = order[_ranges(a0, n_each)]
    tail = np.zeros(len(at), np.int64) if dt is None else np.asarray(dt, np.int64)[at]
    q_all = qf[at]
    q0 = int(q_all.min())
    o = np.argsort(pid * (int(q_all.max()) - q0 + 1) + (q_all - q0), kind="stable")
    pid, at, q_all, tail = pid[o], at[o], q_all[o], tail[o]
    cut = np.flatnonzero((pid[1:] != pid[:-1]) | (np.diff(q_all) > GAP_S / FRAME_S)) + 1
    starts, ends = np.zeros(len(cut) + 1, np.int64), np.full(len(cut) + 1, len(pid))
    starts[1:], ends[:-1] = cut, cut
    keep = (ends - starts >= floor) & ((q_all[ends - 1] - q_all[starts]) * FRAME_S >= shortest)
    starts, ends = starts[keep], ends[keep]
    if not len(starts):
        return out
    # every part measured at once (against a large register there are thousands)
    size = ends - starts
    part = np.repeat(np.arange(len(starts)), size)
    rows = _ranges(starts, size)
    qs, ts = q_all[rows], tail[rows]
    lead = np.cumsum(size) - size  # each part's first row in ``qs``, its last ...
    last = lead + size - 1
    # hits: distinct (query frame, registered frame) pairs
    pair = qs * (1 << 32) + rf[at[rows]].astype(np.int64)
    o = np.lexsort((pair, part))
    new = np.r_[True, (pair[o][1:] != pair[o][:-1]) | (part[o][1:] != part[o][:-1])]
    hits = np.bincount(part[o][new], minlength=len(starts))
    # from the start of the first aligned anchor's analysis window to the end of the last
    # aligned target's: the span of the windows that hold the matches
    first_q, last_q = qs[lead], qs[last]
    end_q = np.maximum.reduceat(qs + ts, lead)
    span = (last_q - first_q) * FRAME_S  # the tuned length: anchors only
    passed = np.flatnonzero((hits >= floor) & (span >= shortest))
    if not len(passed):
        return out
    bins = (qs * FRAME_S / BIN_S).astype(np.int64)  # frames ascend within a part
    step = np.r_[True, bins[1:] != bins[:-1]]
    step[lead] = True
    covered = np.add.reduceat(step.astype(np.int64), lead)
    bin_span = bins[last] - bins[lead] + 1
    # the chance level: the entry's hits at the offsets within CHANCE_RING of the peak
    # (smoothed over +-SLACK, the peak's own neighbourhood left out), counted over the
    # part and CHANCE_PAD_S of the deliverable either side
    ring = CHANCE_RING + SLACK
    width = 2 * ring + 1
    peak = pid[starts[passed]]
    p = peak_pos[peak]
    off = p - peak_group[peak] * room + lo
    r0 = np.searchsorted(pos, p - ring, "left")
    count = np.searchsorted(pos, p + ring, "right") - r0
    owner = np.repeat(np.arange(len(passed)), count)
    near = order[_ranges(r0, count)]
    pad = int(CHANCE_PAD_S / FRAME_S)
    q = qf[near]
    win = ((q >= (first_q[passed] - pad)[owner]) & (q <= (last_q[passed] + pad)[owner]))
    bucket = owner * width + (delta[near] - (off - ring)[owner])
    hist = np.bincount(bucket[win], minlength=len(passed) * width).reshape(-1, width)
    smooth = hist[:, :width - 2 * SLACK].copy()
    for k in range(1, 2 * SLACK + 1):
        smooth += hist[:, k:width - 2 * SLACK + k]
    chance = np.concatenate([smooth[:, :CHANCE_RING - 3], smooth[:, CHANCE_RING + 4:]],
                            axis=1).mean(axis=1)
    head = at[starts[passed]]
    for j, k in enumerate(passed.tolist()):
        start = float(first_q[k]) * FRAME_S
        end = float(end_q[k]) * FRAME_S + WINDOW_S
        sp = int(spd[head[j]])
        factor = sp / 1000
        o_j = int(off[j])
        out.append(Segment(
            int(ent[head[j]]), sp, o_j, int(hits[k]), start, end,
            ref_start=(start + o_j * FRAME_S) * factor,
            ref_end=(end + o_j * FRAME_S) * factor,
            chance=float(chance[j]),
            coverage=int(covered[k]) / int(bin_span[k]),
            raw=int(size[k]), span=float(span[k])))
    return out


def score(s: Segment) -> float:
    """0-1 confidence: 0.5 at ``ACCEPT_EXCESS``, 1.0 at twice that."""
    return round(max(0.0, min(1.0, 0.5 * s.excess / ACCEPT_EXCESS)), 3)


def _join(kept: list[Segment]) -> list[Segment]:
    """Reported segments of one use (same entry, speed and offset) split by a pause (VO
    between lines, a cue's rest) up to ``JOIN_GAP_S`` long, as one range; the confidence
    is the strongest part's. The parts are not changed (joins are copies)."""
    out: list[Segment] = []
    for s in sorted(kept, key=lambda s: (s.entry, s.speed, s.tempo, s.offset, s.start)):
        last = out[-1] if out else None
        if (last is not None and last.entry == s.entry and last.speed == s.speed
                and last.tempo == s.tempo and abs(last.offset - s.offset) <= 2 * SLACK
                and 0 <= s.start - last.end <= JOIN_GAP_S):
            last.end, last.ref_end = s.end, s.ref_end
            last.hits += s.hits
            last.raw += s.raw
            last.chance = max(last.chance, s.chance)
            last.coverage = min(last.coverage, s.coverage)
            last.confidence = max(last.confidence, s.confidence)
            continue
        out.append(replace(s))
    return out


def decide(segs: list[Segment]) -> list[Segment]:
    """The segments reported (confidence at least ``REVIEW``), strongest first, per entry one
    per stretch of the deliverable (neighbouring speeds and the music's own period give
    weaker copies of a use); parts of one use split by a pause are joined."""
    kept = [s for s in segs if s.span >= MIN_SECONDS and s.excess >= REVIEW_EXCESS]
    for s in kept:
        s.confidence = score(s)
    kept = _join(kept)
    kept.sort(key=lambda s: (-s.excess, -s.hits, abs(s.speed - 1000)))
    out: list[Segment] = []
    for s in kept:
        if any(o.entry == s.entry and _overlap((s.start, s.end), (o.start, o.end)) > 0.5
               for o in out):
            continue
        out.append(s)
    return out


def match(qf: np.ndarray, ent: np.ndarray, rf: np.ndarray, spd: np.ndarray,
          dt: np.ndarray | None = None) -> list[Segment]:
    """The decision on the look-up's hits (``RegisterStore.audio_hits``): the segments to
    report, each with a ``confidence``: ``ACCEPT`` and above a match, ``REVIEW`` up to
    ``ACCEPT`` the grey band a person should listen to."""
    return decide(segments(qf, ent, rf, spd, dt=dt))


# -- edges ------------------------------------------------------------------------------------
EDGE_BIN = 8  # frames (0.26 s) per step when an edge is walked outward
EDGE_REACH_S = 3.0  # how far past the aligned hashes an edge may move
EDGE_RATE = 0.2  # share of the registered peaks of a step found in the deliverable ...
EDGE_CHANCE = 4.0  # ... and at least this many times the share at unrelated offsets
EDGE_MIN_PEAKS = 5  # registered peaks a step needs to be judged at all


def peaks(hashes: np.ndarray, frames: np.ndarray) -> np.ndarray:
    """N x 2 (frame, bin) of the spectral peaks behind landmark hashes: every hash names
    its anchor (frame, f1) and its target (frame + dt, f2)."""
    h = hashes.astype(np.int64)
    f = frames.astype(np.int64)
    # one int64 key per peak (frame, then bin): np.unique on it is many times faster than
    # on rows, in the same order
    key = np.unique(np.r_[f * 512 + ((h >> 15) & 0x1FF),
                          (f + (h & audio_fp.DT_MASK)) * 512 + ((h >> 6) & 0x1FF)])
    return np.c_[key >> 9, key & 0x1FF]


def _hits_at(query: np.ndarray, ref: np.ndarray, offset: int) -> np.ndarray:
    """For each registered peak: is there a deliverable peak within a frame and a bin of it
    at ``offset`` (registered frame - deliverable frame)?"""
    if not len(ref) or not len(query):
        return np.zeros(len(ref), bool)
    t0 = int(min(query[:, 0].min(), ref[:, 0].min() - offset)) - 2
    t1 = int(max(query[:, 0].max(), ref[:, 0].max() - offset)) + 2
    grid = np.zeros((t1 - t0 + 1, 514), bool)
    for dt in (-1, 0, 1):
        for df in (-1, 0, 1):
            t = query[:, 0] - t0 + dt
            f = query[:, 1] + df + 1
            grid[np.clip(t, 0, t1 - t0), np.clip(f, 0, 513)] = True
    return grid[ref[:, 0] - offset - t0, ref[:, 1] + 1]


def refine_edges(seg: Segment, query: np.ndarray, ref: np.ndarray) -> tuple[float, float]:
    """(start, end) in the deliverable with each edge walked outward while the registered
    peaks, at the segment's offset, keep turning up in the deliverable's peaks.

    Why: a segment ends where its last *pair* of peaks aligns, and a cue under a mix loses
    pairs first (both peaks must survive): single peaks survive twice as often. Which share
    counts as present is measured against the same peaks at unrelated offsets (chance), so a
    busy mix does not walk an edge into the rest of the programme. ``query`` and ``ref``:
    ``peaks`` of the deliverable and of the entry's landmarks at the segment's speed."""
    if not len(ref) or not len(query):
        return seg.start, seg.end
    off = seg.offset
    hit = _hits_at(query, ref, off)
    shifted = [_hits_at(query, ref, off + k) for k in (-97, -61, 53, 89)]
    chance = float(np.mean([h.mean() for h in shifted]))
    bar = max(EDGE_RATE, EDGE_CHANCE * chance)
    qt = ref[:, 0] - off  # registered peaks on the deliverable's frames
    reach = int(EDGE_REACH_S / FRAME_S)

    def walk(edge: int, step: int) -> int:
        """The outermost found peak of the steps that stay over the bar, one after the
        other from the edge (a step straddling the real edge passes on its inner part:
        the edge moves to its last found peak, not to the step's end)."""
        best = edge
        for k in range(1, reach // EDGE_BIN + 1):
            lo = edge + (k - 1) * EDGE_BIN if step > 0 else edge - k * EDGE_BIN
            sel = (qt >= lo) & (qt < lo + EDGE_BIN)
            if int(sel.sum()) < EDGE_MIN_PEAKS or hit[sel].mean() < bar:
                break
            found = qt[sel & hit]
            best = int(found.max()) + 1 if step > 0 else int(found.min())
        return best

    start_f = int(round(seg.start / FRAME_S))
    end_f = int(round((seg.end - WINDOW_S) / FRAME_S)) + 1
    new_start = walk(start_f, -1)
    new_end = walk(end_f, +1)
    return (min(seg.start, new_start * FRAME_S),
            max(seg.end, (new_end - 1) * FRAME_S + WINDOW_S))


def _overlap(a: tuple[float, float], b: tuple[float, float]) -> float:
    inter = min(a[1], b[1]) - max(a[0], b[0])
    return max(inter, 0.0) / max(min(a[1] - a[0], b[1] - b[0]), 1e-6)
