"""Find registered content in a deliverable: PDQ lookups (images, video frames) with a local
feature second stage for partial use, and landmark offset voting for audio.

Thresholds are module constants tuned on ``bench/bench_register.py`` (see
bench/results/register.md for the recall and false-match rates they give).
"""

from __future__ import annotations

import copy
import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

import cv2
import numpy as np

from detectors.fingerprint import (
    WAVEFORM_FULL_S,
    audio_match,
    extract,
    landmark_index,
    pdq,
    waveform,
)
from detectors.fingerprint import audio as audio_fp
from detectors.fingerprint import features as feat
from detectors.fingerprint import video as video_fp
from detectors.fingerprint.index import PdqIndex, distances
from detectors.fingerprint.landmark_index import LandmarkIndex
from detectors.fingerprint.store import Entry, RegisterStore
from detectors.fingerprint.video import Frame

PDQ_RADIUS = 40  # Hamming distance (of 256) for a whole-image / frame match (bench-tuned)
PDQ_INSET_RADIUS = 32  # stricter for cells of a composite: many hashes per query
PDQ_SINGLE_FRAME = 24  # stricter bound when a video run rests on one sampled frame
MIN_QUALITY = 50  # PDQ's own advice: below this the hash says little
RUN_GAP = 3.0  # seconds between matched samples that still belong to one run
OFFSET_SLACK = 1.5  # seconds of disagreement in (deliverable - registered) time within a run
AUDIO_MAX_OCCURRENCES = 20  # per entry and deliverable
# Registered sound (all entries and tracks) up to which the speed-1 waveform search
# correlates every entry with the whole deliverable, by default (a register's setting,
# ``[detectors.register] waveform_minutes``). Its cost grows with this times the
# deliverable's length (about 40 ms per registered minute per deliverable minute,
# bench/results/audio-rule.md). Above it the search keeps to a short list: the areas that
# the landmarks' weak candidates at speed 1 name, strongest first (``SHORTLIST_*``), at a
# cost that no longer grows with the register; a scan says so in its notes. The short list
# misses some of what the whole search finds 15 dB under a mix (on bench/audio_rule.py's
# splits 5 and 4 of 380 uses, all at -15 dB or under EQ in a full mix: their few aligned
# hits rank 15th-60th among chance candidates), hence the recall-first default (defined in
# the package, ``detectors/fingerprint/__init__.py``).
SHORTLIST_HITS = 3  # candidates this strong name an area (a cue 15 dB under a mix: 3-5)
SHORTLIST_SECONDS = 0.0
SHORTLIST_MAX = 8  # areas per sound, plus ...
SHORTLIST_PER_MINUTE = 8  # ... this many per minute of it
SHORTLIST_MARGIN_S = 10.0  # around a candidate's range, both in the deliverable and the entry
SHORTLIST_CACHE_S = 3600.0  # whitened registered sound kept in memory between sounds
# Landmark candidates too weak to report that still name an entry, a speed and an offset
# (hints): the waveform search follows the speed change around the strongest of them
# (``waveform.follow``). On bench/audio_rule.py's TUNE split the 120 uses it found had a
# candidate of 6+ aligned hits and excess 5.5+; 427 of 623 negative files had none over 4.
# Since the deliverable's second grid, a VO 10 dB under a mix played 5 % slow often has its
# only candidate at 4-5 hits, first among the speed variants; at 5 TUNE found 7 of those 10
# instead of 5, nothing else changed and no negative came closer (audio-rule.md).
HINT_HITS = 5
HINT_SECONDS = 1.0
HINT_EXCESS = 4.0
HINTS_MAX = 4  # per sound, plus ...
HINTS_PER_MINUTE = 2  # ... this many per minute of it
# A waveform edge this close to the landmark edge of the match it confirms replaces it
# (``_merge_waveform``); further away it only widens the match. Not after a time stretch,
# whose samples the waveform never lines up. Until the edge statistic measured the use's
# gain per frequency, a followed speed's last 1e-5 faded the correlation before the ends,
# so only speed 1 was replaced, within 1 s: on bench/audio_edges.py's TUNE split replacing
# at every speed within 2 s now gives 105/104 of 123 edges within a frame (103/101), and
# a PAL VO's out point 1.17 s late comes in to 0.04 s.
REPLACE_EDGE_S = 2.0
# A time stretch its grains verify widens a landmark match of it along its line that it
# nearly meets: under a mix the two front ends often each hold a part of one use.
GRAIN_JOIN_S = 1.0
REFINE_SIDE = 256  # frames decoded for boundary refinement are hashed at this size
REFINE_MIN_QUALITY = 10  # PDQ quality a refinement frame needs (vs. one entry, not all)
# Frame-to-entry distance still counted as "the entry" while refining: registered clips are
# hashed at 2 fps, and a fast zoom drifts 40-60 bits between those samples, while the frame
# after a cut sits 100+ away (unrelated frames: never under 86 in the programme benchmark)
REFINE_RADIUS = 72
# How far refinement may walk from a run's outer sample, in seconds: past the one sampling step,
# because the neighbouring sample can show the entry and still not have matched (a PDQ miss on
# unstable texture; a local-feature check runs only every few seconds), and the walk stops at
# the first real boundary anyway, so only a matching stretch costs decoding
REFINE_REACH = 4.0
# Failing frames tolerated in a row while refining, if no cut separates them from the last
# matching frame: PDQ of fine periodic texture (a chessboard under a slow zoom) swings 60-86
# bits between neighbouring frames of one shot, up to 4 frames in a row in the benchmark
REFINE_GAP = 6
# Mean absolute difference (0-255) of 32x32 grey thumbnails that counts as a hard cut: the
# benchmark's cuts are 22-56, steps inside its shots up to 20 (the stepping chessboard zoom).
# A missed cut only lets the walk test up to REFINE_GAP frames more; ends still must match
REFINE_CUT = 20.0
# A cut through one blended frame: 3:2 pulldown's mixed frame (BC: one field of each
# picture), a one-frame dissolve. Each step is then about half the cut (19 and 19 for a cut
# of 38), under ``REFINE_CUT``; the frame two back differs by the whole cut, and the middle
# one is nearly their mean (a decoded field mix scaled down is exactly that). Motion is not:
# a pan or zoom that moves a thumbnail this much leaves a middle frame far from the mean of
# its neighbours (a double image).
REFINE_BLEND = 0.25  # mean |middle - mean of the two| at most this share of their difference
# A frame that fails the register's test while refining still counts if it shows the same
# picture as the last frame that passed (``_Bridge``): local features of the two frames,
# this many RANSAC inliers at least (neighbouring frames of one shot have hundreds)
BRIDGE_FEATURES = 1500
BRIDGE_INLIERS = 40
# ... unless the last verified frame is a mix of an earlier one and the frame (``_Bridge``):
# the mean distance of its thumbnail from the line between theirs at most this share of
# theirs apart (a dissolve's layers move on while they mix) ...
BRIDGE_BLEND = 0.25
BLEND_SPAN = 25  # ... the earlier one at most this many frames back along the walk
# A sampled frame this close to an entry, though not within PDQ_RADIUS, gets a second look:
# the frames around it are hashed (see Register._second_look). Unrelated frames of the benchmark
# programmes never came under 86 of any entry, every frame tested; so it costs nothing there
# but the wider look-up (~0.8 ms per unmatched sample at 190,000 hashes)
SECOND_LOOK_RADIUS = REFINE_RADIUS
# A run resting on one sample farther than PDQ_SINGLE_FRAME (but within its radius) stands
# if this many frames around the sample (within CONFIRM_S) match the entry within the same
# radius: an insert of 1-2 s at 1 fps has one sample, and a reframe or a small scale
# of a textured picture lands at 25-40 bits on it (bench.register_sweep); unrelated frames
# never came under 70 (bench/results/register-negatives.md), and a chance near-hit on one
# frame of moving footage does not repeat on a quarter second of its neighbours
CONFIRM_S = 0.5
CONFIRM_FRAMES = 6
# Frames waiting for (or in) a local-feature check on the worker thread: checks come in
# bursts (cuts, shot tails), and with 2 outstanding the decoding thread waited 0.75 s a
# ProRes minute for them; 8 (a few MB of 512 px frames) took 8 % off the scan's wall time.
LOCAL_PENDING = 8
# A closer look at a near miss (``features.NEAR_SPREAD``) in a sampled frame, or at a
# picture-in-picture window whose PDQ came within SECOND_LOOK_RADIUS of an entry but matched
# none: the frame is decoded again at up to ZOOM_DECODE px, the region cut out with
# ZOOM_MARGIN of its size on every side, and that crop matched again at the registered
# pictures' own size. Why: a borderless inset a third of the frame's height is ~100 px tall
# in a 512 px sample, and ORB finds 14-22 inliers there from frame to frame, under the short
# list's floor (20) on two samples of three (seed 22 of bench.register_sweep, three of its
# four misses); the same frames' crops gave 127-216. A framed brick wall's window was 48-64
# bits from its entry at every frame (seed 21), its crop 216-231 inliers. A window that
# matched too far to stand alone (over PDQ_SINGLE_FRAME) is looked at too: a framed inset at
# the frame's bottom edge, 25-32 bits on its one sample and unconfirmed around it (seed 19).
# The crop is held to every rule of a scan's check, and only a match of the entries that
# led there counts.
ZOOM_DECODE = 2048
ZOOM_MARGIN = 0.25
ZOOM_SIDE = feat.REGISTER_SIDE
# Windows looked at closer per frame, the nearest first: in a register of 10,000 entries a
# window of unrelated footage comes within 72 bits of some entry by chance (50-72 on the
# benchmark's programme), so the looks are bounded, and the frame is decoded once for all.
ZOOM_WINDOWS = 2
# A picture squeezed whole between bars (16:9 temp in a 4:3 pillarbox or a 2.39 letterbox):
# the bars say by how much, so the picture inside them is stretched back to a registered
# aspect and matched by every ordinary rule, as a similarity. The free squeeze
# (``features.squeeze_ransac``) asks a strong consensus for its two extra degrees of freedom
# and is not tried on periodic textures; here the bars fix both. The sweep's pillarboxed
# brick wall gave no match as it was and 128-269 inliers unsqueezed, its chessboard 140-198.
# Only the aspects of entries the frame as it was came near are tried (``leads``: a
# candidate of 50 pairs or more, or a texture tried): the stretch is a second query, and
# a 2.39 letterboxed programme against 10,000 entries took 4.8 s a minute instead of 2.4
# when every check with bars made it; with leads, 2.3.
UNSQUEEZE_TOLERANCE = 0.04  # aspects within this share of each other are the same
UNSQUEEZE_ASPECTS = 2  # registered aspects tried per frame, the most frames' first
# A still that matched nothing as a whole is matched again part by part: a registered
# element a third of a 1280x720 composite, of few corners (a cell, the moon) over a busy
# background, gets few of the whole still's features, while a part around it gets its own
# (the composites of ``bench.bench_register``: 11 of 14 found as a whole, 13-14 by parts).
# Five parts half the still's width and height, its four corners and its centre (as
# ``features._regions_shortlist`` splits a query), each matched at ``ZOOM_SIDE`` by every
# ordinary rule. Nine, overlapping by half, found no more there and cost 9 queries.
STILL_PART = 0.5
STILL_PARTS = ((0.0, 0.0), (1.0, 0.0), (0.0, 1.0), (1.0, 1.0), (0.5, 0.5))  # where, x and y
# Only stills the whole query downscaled (over ``QUERY_SIDE``): there an element lost
# resolution as well as features, and each part costs a query (20-40 ms).
STILL_PARTS_MIN = feat.QUERY_SIDE + 1
WINDOW_FOUND_IN = "picture-in-picture window"  # a run found by PDQ of an inset's window

Box = tuple[int, int, int, int]  # x0, y0, x1, y1 in a sampled frame's pixels
WindowHit = tuple[Frame, Box, int, int, float]  # frame, window, entry, PDQ distance, ref time


@dataclass
class ImageMatch:
    entry: Entry
    method: str  # "pdq" | "local"
    distance: int | None = None
    variant: str = "original"
    quality: int | None = None
    local: feat.LocalMatch | None = None
    region: tuple[int, int, int, int] | None = None  # the inset hashed, for PDQ of a part
    closer_look: str = ""  # the part of the still a local match was found in, if not all


@dataclass
class RangeMatch:
    """A registered asset found over a time range of the deliverable."""

    entry: Entry
    method: str  # "pdq" | "local" | "landmarks"
    start: float
    end: float
    ref_start: float | None = None
    ref_end: float | None = None
    samples: int = 0
    best_distance: int | None = None
    score: float = 0.0
    best_t: float | None = None  # the sample that matched best (a pure frame in a dissolve)
    detail: dict[str, object] = field(default_factory=dict)
    start_frame: int | None = None  # exact first and last matching frames once refined
    end_frame: int | None = None


def follow_hints(heard: waveform.Heard, tracks: dict[int, list[np.ndarray]],
                 hints: list[audio_match.Segment], seconds: float,
                 floor: float = waveform.REVIEW) -> list[waveform.Segment]:
    """``waveform.follow`` around the strongest landmark candidates (``HINT_*``) of a sound
    ``seconds`` long that the speed-1 search has not already verified: a varispeed, PAL
    speed-up or pull-down under a mix, which neither front end finds alone; a candidate at
    a tempo variant is verified by its grains or its spectral change instead
    (``waveform.follow_stretch``: a time stretch's samples never line up). ``tracks``: the
    register's whitened sound per entry.
    Returns the segments with a confidence of at least ``floor`` (the benchmark looks
    below the grey band)."""
    limit = HINTS_MAX + int(HINTS_PER_MINUTE * seconds / 60)
    done: list[waveform.Segment] = list(heard.segments)
    out: list[waveform.Segment] = []
    y: np.ndarray | None = None
    tried = 0
    for h in sorted(hints, key=lambda s: -s.excess):
        if tried >= limit or h.excess < HINT_EXCESS:
            break
        if h.entry not in tracks or any(
                d.entry == h.entry and min(d.end, h.end) - max(d.start, h.start) > 0
                for d in done):
            continue
        tried += 1
        if y is None:
            y = heard.white.astype(np.float32)
        speed = h.speed / 1000
        for c in tracks[h.entry]:
            if h.tempo == 1.0:
                seg = waveform.follow(y, c, speed, h.start, h.ref_start, h.end)
            else:
                seg = waveform.follow_stretch(y, c, speed * h.tempo, h.start, h.ref_start,
                                              h.end)
                if seg is not None:
                    seg.speed, seg.tempo = speed, round(seg.tempo / speed, 4)
            if seg is not None:
                seg.entry = h.entry
                if seg.tempo == 1.0 or seg.confidence >= waveform.REVIEW:
                    done.append(seg)  # a stretch its grains do not confirm may be a speed
                if seg.confidence >= floor:
                    out.append(seg)
                break
    return out


def hints_of(named: list[audio_match.Segment]) -> list[audio_match.Segment]:
    """The candidates (``Register._match_landmarks``) that reach the hints' floors
    (``HINT_HITS``, ``HINT_SECONDS``): what the decision and following the speed see."""
    return [s for s in named if s.hits >= HINT_HITS and s.span >= HINT_SECONDS]


def shortlist_areas(named: list[audio_match.Segment], seconds: float
                    ) -> dict[int, list[waveform.Area]]:
    """The areas the short-list waveform search looks in (``WAVEFORM_FULL_S``): around the
    strongest landmark candidates at speed 1 and tempo 1 (the only uses its samples line up
    with) of a sound ``seconds`` long, ``SHORTLIST_*``, per entry."""
    limit = SHORTLIST_MAX + int(SHORTLIST_PER_MINUTE * seconds / 60)
    margin = SHORTLIST_MARGIN_S * waveform.RATE
    out: dict[int, list[waveform.Area]] = {}
    at_one = [s for s in named if s.speed == 1000 and s.tempo == 1.0]
    for seg in sorted(at_one, key=lambda s: -s.excess)[:limit]:
        out.setdefault(seg.entry, []).append(waveform.Area(
            int(seg.start * waveform.RATE - margin), int(seg.end * waveform.RATE + margin),
            int(seg.ref_start * waveform.RATE - margin),
            int(seg.ref_end * waveform.RATE + margin)))
    return out


class Register:
    """A register opened for matching: PDQ index in memory, features and audio on demand."""

    def __init__(self, path: str, waveform_whole_s: float | None = None) -> None:
        """``waveform_whole_s``: ``WAVEFORM_FULL_S`` for this register."""
        self.path = path
        self.waveform_whole_s = WAVEFORM_FULL_S if waveform_whole_s is None else \
            waveform_whole_s
        self.store = RegisterStore(path, readonly=True)
        self.entries = {e.id: e for e in self.store.entries()}
        self.by_sha = {e.sha256: e for e in self.entries.values()}
        entry, t, variant, quality, hashes = self.store.pdq_rows()
        self.pdq_entry, self.pdq_t, self.pdq_variant, self.pdq_quality = (
            entry, t, variant, quality)
        self.pdq_index = PdqIndex(hashes)
        self._features: feat.FeatureIndex | None = None
        self._feature_refs: list[int] = []
        self.waveform_seconds = self.store.waveform_seconds()
        self._waves: list[tuple[int, np.ndarray]] | None = None
        # the short list's whitened tracks per entry, least recently used first (shared by
        # ``fork``s, hence the lock)
        self._cache: OrderedDict[int, list[np.ndarray]] = OrderedDict()
        self._cache_lock = threading.Lock()
        self._audio_notes: list[str] | None = None
        # the landmark pack once read (``landmark_pack``), shared by ``fork``s like the cache
        self._pack: dict[str, LandmarkIndex | None] = {}
        self._pack_lock = threading.Lock()

    def close(self) -> None:
        self.store.close()

    def fork(self) -> Register:
        """This register for another thread: the same in-memory indexes and whitened
        waveforms (read only), its own SQLite connection (a connection stays on the thread
        that opened it). Call on that thread; close it there."""
        twin = copy.copy(self)
        twin.store = RegisterStore(self.path, readonly=True)
        return twin

    # -- images ----------------------------------------------------------------------------
    def features(self) -> feat.FeatureIndex:
        if self._features is None:
            rows = self.store.feature_items()
            self._features = feat.FeatureIndex([(eid, f) for eid, f, _w in rows],
                                               [w for _e, _f, w in rows])
        return self._features

    def pdq_lookup(self, h: bytes, radius: int = PDQ_RADIUS) -> list[tuple[int, int]]:
        """(pdq row, distance) within ``radius``, nearest first."""
        return self.pdq_index.query(h, radius)

    def match_image(self, rgb: np.ndarray, local: bool = True, parts: bool = True
                    ) -> tuple[list[ImageMatch], int]:
        """Registered assets in a still: whole-image PDQ first, local features if none
        (``parts``: then in parts of a large still, ``_in_parts``).

        Returns the matches and the query's PDQ quality."""
        res = extract.query_hash(rgb)
        out: list[ImageMatch] = []
        if res.quality >= MIN_QUALITY:
            best: dict[int, ImageMatch] = {}
            for row, dist in self.pdq_lookup(res.hash):
                eid = int(self.pdq_entry[row])
                if eid not in best or dist < (best[eid].distance or 0):
                    best[eid] = ImageMatch(self.entries[eid], "pdq", dist,
                                           _variant(int(self.pdq_variant[row])), res.quality)
            out = sorted(best.values(), key=lambda m: (m.distance, m.entry.id))
        if not out:
            out = self._insets(rgb)
        if not out and local:
            leads: set[int] = set()
            found = self.features().query(feat.extract(rgb, feat.QUERY_SIDE,
                                                       feat.QUERY_FEATURES), leads=leads)
            if not found and max(rgb.shape[:2]) < feat.SMALL_QUERY:
                # a small still enlarged: a proxy of a large picture (and only then, as a
                # small picture registered at its own size is met at that size)
                found = [lm for lm in self.features().query(feat.extract(
                    rgb, feat.QUERY_SIDE, feat.QUERY_FEATURES, feat.SMALL_QUERY))
                    if lm.inliers >= feat.SMALL_QUERY_INLIERS]
            if not found and leads:  # a still squeezed between bars, as a frame can be
                found = _unsqueezed(self.features(), rgb, leads)
            how = ""
            if not found and parts:
                found, how = _in_parts(self.features(), rgb)
            seen: set[int] = set()
            for lm in found:
                if lm.ref in seen:
                    continue
                seen.add(lm.ref)
                out.append(ImageMatch(self.entries[lm.ref], "local", local=lm,
                                      quality=res.quality, closer_look=how))
        return out, res.quality

    def _insets(self, rgb: np.ndarray) -> list[ImageMatch]:
        """Registered stills in framed cells of a composite (key art), by PDQ per cell."""
        best: dict[int, ImageMatch] = {}
        for box in extract.insets(rgb):
            x0, y0, x1, y1 = box
            res = extract.query_hash(np.ascontiguousarray(rgb[y0:y1, x0:x1]))
            if res.quality < MIN_QUALITY:
                continue
            for row, dist in self.pdq_lookup(res.hash, PDQ_INSET_RADIUS):
                eid = int(self.pdq_entry[row])
                if eid not in best or dist < (best[eid].distance or 0):
                    best[eid] = ImageMatch(self.entries[eid], "pdq", dist,
                                           _variant(int(self.pdq_variant[row])), res.quality,
                                           region=box)
        return sorted(best.values(), key=lambda m: (m.distance, m.entry.id))

    # -- video -----------------------------------------------------------------------------
    def match_frames(self, frames: Iterable[Frame], local_every: float = 0.0,
                     path: str | None = None) -> tuple[list[RangeMatch], dict[str, int]]:
        """Runs of sampled frames matching registered stills or clips.

        ``local_every``: seconds between local-feature checks of frames that PDQ did not
        match (0 = never); cut frames are always checked when it is non-zero, and so is the
        last sample of a shot that had fewer than two checks. ``path``: the video the frames
        come from, for a second look around near misses (none without)."""
        hits: list[tuple[float, int, float, int, str]] = []  # t, entry, ref t, dist, method
        stats = {"frames": 0, "low_quality": 0, "local_checked": 0, "window_checked": 0,
                 "window_us": 0, "second_look": 0, "window_second_look": 0, "shot_tail": 0,
                 "weak_checked": 0, "zoomed": 0}
        regions: dict[tuple[float, int], dict[str, Any]] = {}
        closer: dict[tuple[float, int], str] = {}  # (t, entry) found in a closer look: how
        next_local = 0.0
        # Local-feature checks (ORB extraction and the short-listed match: the largest cost of
        # an unmatched scan) run on a second thread while this one decodes and hashes the next
        # frames; OpenCV and NumPy release the GIL. Their hits are only used once every frame
        # is seen; this thread waits only when LOCAL_PENDING checks are outstanding.
        index = self.features() if local_every > 0 else None
        pending: deque[tuple[Frame, Future[LocalCheck]]] = deque()

        def collect(block: int) -> None:
            while len(pending) > block:
                fr_done, fut = pending.popleft()
                done = fut.result()
                stats["zoomed"] += done.zoomed
                for lm in done.found[:1]:
                    hits.append((fr_done.t, lm.ref, float("nan"), -lm.inliers,
                                 "texture" if lm.texture else "local"))
                    if done.zoomed:
                        closer[(fr_done.t, lm.ref)] = done.closer_look
                    if (fr_done.t, lm.ref) not in regions:  # a window's own region stays
                        squeeze: dict[str, Any] = {} if lm.squeeze is None else {
                            "squeeze": lm.squeeze}
                        if lm.between_bars:
                            squeeze["between_bars"] = True
                        regions[(fr_done.t, lm.ref)] = _region(fr_done, lm.region,
                                                               coverage=lm.coverage,
                                                               **squeeze)

        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="register-local") as pool:

            def check(fr: Frame, idx: feat.FeatureIndex,
                      windows: list[tuple[Box, list[int]]] | None = None) -> None:
                stats["local_checked"] += 1
                pending.append((fr, pool.submit(_local_check, idx, fr, path, windows or [])))
                collect(LOCAL_PENDING - 1)

            # A shot shorter than the cadence is checked once, at its first sample, so a 1-2 s
            # insert (the shortest picture segment is 1 s) rested on one frame: a
            # borderless picture-in-picture inset that ORB missed there was found on the
            # shot's last sample at 26 inliers (``bench.register_sweep``; ORB's inliers swing
            # from frame to frame). The last sample of a shot with fewer than two checks is
            # checked too: one more check per short shot.
            shot_checks = 0
            tail: Frame | None = None  # the shot's last unmatched sample, if not checked
            for fr, weak, looks in self._scan_frames(frames, hits, stats, regions, path):
                if index is None:
                    continue
                if fr.cut:
                    if tail is not None and shot_checks < 2:
                        stats["shot_tail"] += 1
                        check(tail, index)
                    shot_checks, tail = 0, None
                if not (fr.cut or weak or looks or fr.t >= next_local):
                    tail = fr
                    continue
                next_local = fr.t + local_every
                shot_checks, tail = shot_checks + 1, None
                check(fr, index, looks)
            if index is not None and tail is not None and shot_checks < 2:
                stats["shot_tail"] += 1
                check(tail, index)
            collect(0)
        def confirm(hit: tuple[float, int, float, int, str]) -> int:
            if path is None:  # frames only, no file to decode the neighbours from
                return 0
            return self._confirm(path, hit, regions.get((hit[0], hit[1])))
        runs = _runs(hits, self.entries, confirm)
        for run in runs:
            mine = [r for r in regions.items() if r[0][1] == run.entry.id
                    and run.start <= r[0][0] <= run.end]
            looked = [how for (t, eid), how in sorted(closer.items())
                      if eid == run.entry.id and run.start <= t <= run.end]
            if looked:  # a local run's edges are walked at that size too (``refine``)
                run.detail["closer_look"] = looked[0]
            if run.method == "local":
                widest = max(mine, key=lambda r: float(r[1]["coverage"]), default=None)
                if widest is not None:
                    run.detail["region"] = widest[1]
            elif run.detail.get("found_in") == WINDOW_FOUND_IN:
                # the window of the best-matching sample: where a person looks to confirm
                windows = [r for r in mine if "distance" in r[1]]
                if windows:
                    run.detail["region"] = min(windows, key=lambda r: int(r[1]["distance"]))[1]
        return runs, stats

    def _scan_frames(self, frames: Iterable[Frame],
                     hits: list[tuple[float, int, float, int, str]], stats: dict[str, int],
                     regions: dict[tuple[float, int], dict[str, Any]], path: str | None
                     ) -> Iterator[tuple[Frame, bool, list[tuple[Box, list[int]]]]]:
        """PDQ of each frame (then a second look around near misses, then its windows); the
        frames none of them matched, for a local-feature check (``match_frames``), each with
        whether it is *weak*: matched, but only too far to stand alone (``_runs``) and with
        no match of the same entry in the samples just before. A weak frame is checked
        whatever the cadence, as the local features may find what the hash only nearly did.
        Each comes with its windows that came near entries without matching (a second look
        included), for a closer look (``ZOOM_DECODE``); a frame with any is checked too.

        Why: a weak match took the frame away from its check, and a lone sample then needs
        frames around it to confirm it. A 15 % reframe (round 10 of ``bench.register_sweep``)
        and a scale to 90 % (round 0), each a 1.4 s shot with one sample, matched at 25-40 bits
        on a second look, were not confirmed, and were missed, though ORB finds them on that
        very sample with 220-390 inliers."""
        recent: dict[int, float] = {}  # entry -> time of its last hash match
        for fr in frames:
            stats["frames"] += 1
            res = extract.query_hash(fr.rgb)
            found = False
            frame_hits: list[tuple[int, int]] = []  # (entry, distance) of this sample's
            if res.quality >= MIN_QUALITY:
                best: dict[int, tuple[int, float]] = {}
                for row, dist in self.pdq_lookup(res.hash):
                    eid = int(self.pdq_entry[row])
                    if eid not in best or dist < best[eid][0]:
                        best[eid] = (dist, float(self.pdq_t[row]))
                for eid, (dist, rt) in best.items():
                    hits.append((fr.t, eid, rt, dist, "pdq"))
                    frame_hits.append((eid, dist))
                    found = True
                if not found and path is not None:
                    near = self._near(res.hash)
                    if near:
                        stats["second_look"] += 1
                        for t, eid, rt, dist in self._second_look(path, fr.t, near):
                            hits.append((t, eid, rt, dist, "pdq"))
                            frame_hits.append((eid, dist))
                            found = True
            else:
                stats["low_quality"] += 1
            if found:
                lone = all(dist > PDQ_SINGLE_FRAME and fr.t - recent.get(eid, -1e9) > RUN_GAP
                           for eid, dist in frame_hits)
                for eid, _dist in frame_hits:
                    recent[eid] = fr.t
                if lone:
                    stats["weak_checked"] += 1
                    yield fr, True, []
                continue
            t0 = time.perf_counter()
            window_hits, near_windows = self._windows(fr)
            if not window_hits and near_windows and path is not None:
                stats["window_second_look"] += 1
                window_hits = self._window_second_look(path, fr.t, near_windows)
            for at, box, eid, dist, rt in window_hits:
                hits.append((at.t, eid, rt, dist, "window"))
                found = found or dist <= PDQ_SINGLE_FRAME
                prev = regions.get((at.t, eid))
                if prev is None or dist < int(prev.get("distance", 999)):
                    regions[(at.t, eid)] = _region(at, box, distance=dist)
            stats["window_checked"] += 1
            stats["window_us"] += round((time.perf_counter() - t0) * 1e6)
            weak = bool(window_hits)
            # windows to look at closer: those that came near entries without matching, or
            # matched too far to stand alone (the run would rest on confirming frames)
            closer: list[tuple[Box, list[int]]] = []
            if path is not None and not window_hits:
                closer = list(near_windows.items())[:ZOOM_WINDOWS]
            elif path is not None and not found:
                weak_windows: dict[Box, list[int]] = {}
                for _at, box, eid, _dist, _rt in sorted(window_hits, key=lambda h: h[3]):
                    weak_windows.setdefault(box, []).append(eid)
                closer = list(weak_windows.items())[:ZOOM_WINDOWS]
            if not found:
                yield fr, weak, closer

    def _near(self, h: bytes) -> list[int]:
        """Entries within ``SECOND_LOOK_RADIUS`` of a hash that matched none."""
        return sorted({int(self.pdq_entry[row])
                       for row, _d in self.pdq_lookup(h, SECOND_LOOK_RADIUS)})

    def _second_look(self, path: str, t: float, entries: list[int]
                     ) -> list[tuple[float, int, float, int]]:
        """(frame time, entry, registered time, distance) of the nearest frame within half a
        registered sampling interval of ``t`` for each of ``entries``, if within PDQ_RADIUS.

        Why: registered clips keep hashes at ``REGISTER_RATE`` only, and the PDQ of fine
        periodic texture (a chessboard under a slow zoom) moves 50-80 bits within two frames.
        A 1 fps sample then matches only when it lands on a registered frame: at 25 fps with
        inserts on whole seconds it does, after a conform to 23.976 it lands two frames off
        (54-64 bits) and the shot is missed. One of the frames around the sample is the
        registered one. Nothing is loosened: a frame must still match within PDQ_RADIUS."""
        half = 0.5 / extract.REGISTER_RATE
        rows = np.nonzero(np.isin(self.pdq_entry, entries))[0]
        words = self.pdq_index.words[rows]
        best: dict[int, tuple[int, float, float]] = {}
        for fr in video_fp.frames_between(path, max(0.0, t - half), t + half,
                                          extract.FRAME_SIDE):
            res = extract.query_hash(fr.rgb)
            if res.quality < MIN_QUALITY:
                continue
            d = distances(words, res.hash)
            for eid, i in _nearest(d, self.pdq_entry[rows], entries):
                if d[i] <= PDQ_RADIUS and (eid not in best or d[i] < best[eid][0]):
                    best[eid] = (int(d[i]), fr.t, float(self.pdq_t[rows[i]]))
        return [(ft, eid, rt, dist) for eid, (dist, ft, rt) in sorted(best.items())]

    def _confirm(self, path: str, hit: tuple[float, int, float, int, str],
                 region: dict[str, Any] | None) -> int:
        """Frames within ``CONFIRM_S`` of a lone sample (not counting it) that match its
        entry within the radius the sample was held to: the whole frame, or the
        picture-in-picture window the sample was found in."""
        t, eid, _rt, _d, how = hit
        window = region if how == "window" else None
        radius = PDQ_INSET_RADIUS if window is not None else PDQ_RADIUS
        words = self.pdq_index.words[np.nonzero(self.pdq_entry == eid)[0]]
        if not len(words):
            return 0
        n = 0
        for fr in video_fp.frames_between(path, max(0.0, t - CONFIRM_S), t + CONFIRM_S,
                                          extract.FRAME_SIDE):
            if abs(fr.t - t) < 1e-6:
                continue  # the sample itself
            res = extract.query_hash(fr.rgb if window is None
                                     else _crop_fraction(fr.rgb, window))
            if res.quality >= MIN_QUALITY and int(distances(words, res.hash).min()) <= radius:
                n += 1
        return n

    def _windows(self, fr: Frame) -> tuple[list[WindowHit], dict[Box, list[int]]]:
        """Registered stills or clip frames inside picture-in-picture windows of a frame:
        (frame, box, entry, PDQ distance, registered time) of the nearest hash per entry and
        window; and the windows with entries within ``SECOND_LOOK_RADIUS`` but none within
        ``PDQ_INSET_RADIUS`` (for ``_window_second_look``).

        Why PDQ of the window and not local features: an inset is a whole picture scaled
        down, so its own PDQ is the registered frame's; ORB needs texture that a flat or
        soft inset (sky, fog, a microscope image) does not have, and a busy background takes
        the features."""
        out = []
        near: list[tuple[int, Box, int]] = []  # (distance, window, entry)
        for box in extract.windows(fr.rgb):
            best: dict[int, tuple[int, float, Box]] = {}
            for crop, res in _window_crops(fr.rgb, box):
                for row, dist in self.pdq_lookup(res.hash, SECOND_LOOK_RADIUS):
                    eid = int(self.pdq_entry[row])
                    if eid not in best or dist < best[eid][0]:
                        best[eid] = (dist, float(self.pdq_t[row]), crop)
            for eid, (d, rt, crop) in best.items():
                if d <= PDQ_INSET_RADIUS:
                    out.append((fr, crop, eid, d, rt))
                else:
                    near.append((d, box, eid))
        if out:
            return out, {}
        by_box: dict[Box, list[int]] = {}  # the nearest window first, its nearest entry first
        for _d, box, eid in sorted(near):
            by_box.setdefault(box, []).append(eid)
        return out, by_box

    def _window_second_look(self, path: str, t: float, near: dict[Box, list[int]]
                            ) -> list[WindowHit]:
        """``_second_look`` for picture-in-picture windows: the same windows in the frames
        within half a registered sampling interval of ``t``, the nearest hash per entry if
        within PDQ_INSET_RADIUS. Why: an inset of a moving clip sits between two registered
        hashes and 36-40 bits from both at the sampled frame, while one of its neighbours
        is the registered frame itself (6-22 bits, ``bench.register_sweep``). Nothing is
        loosened: a window must still match within PDQ_INSET_RADIUS."""
        half = 0.5 / extract.REGISTER_RATE
        entries = sorted({e for es in near.values() for e in es})
        rows = np.nonzero(np.isin(self.pdq_entry, entries))[0]
        words = self.pdq_index.words[rows]
        row_entry = self.pdq_entry[rows]
        best: dict[int, tuple[int, Frame, Box, float]] = {}
        for fr in video_fp.frames_between(path, max(0.0, t - half), t + half,
                                          extract.FRAME_SIDE):
            for box, eids in near.items():
                for crop, res in _window_crops(fr.rgb, box):
                    d = distances(words, res.hash)
                    for eid, i in _nearest(d, row_entry, eids):
                        if d[i] <= PDQ_INSET_RADIUS and (eid not in best or d[i] < best[eid][0]):
                            best[eid] = (int(d[i]), fr, crop, float(self.pdq_t[rows[i]]))
        return [(fr, crop, eid, dist, rt) for eid, (dist, fr, crop, rt) in sorted(best.items())]

    # -- frame-accurate boundaries ---------------------------------------------------------
    def frame_test(self, run: RangeMatch) -> Callable[[np.ndarray], bool]:
        """Whether one decoded frame shows the run's registered entry, by the run's method.

        A run found in a region of the frame (a picture-in-picture window, or where local
        features placed the registered picture) is tested on that region's PDQ first: a
        small inset's ORB inliers swing around the floor from frame to frame, and the walk
        stopped short of its in point by up to 64 frames (``bench.register_sweep``)."""
        words = self.pdq_index.words[np.nonzero(self.pdq_entry == run.entry.id)[0]]
        region = _test_region(run)
        window = region is not None

        def near(rgb: np.ndarray) -> bool:
            # one known entry, not the whole register: a flatter frame than a lookup
            # would trust still says which side of the cut it is on
            res = extract.query_hash(rgb)
            if res.quality < REFINE_MIN_QUALITY or not len(words):
                return False
            return bool(distances(words, res.hash).min() <= REFINE_RADIUS)

        def in_region(rgb: np.ndarray) -> bool:
            return window and isinstance(region, dict) and near(_crop_fraction(rgb, region))

        if run.method == "pdq":
            def by_pdq(rgb: np.ndarray) -> bool:
                # the window, else the whole frame (a run can rest on both: a second look
                # hashes whole frames)
                return in_region(rgb) or near(rgb)
            return by_pdq
        index = feat.FeatureIndex([(eid, f) for eid, _t, f in
                                   self.store.feature_rows(run.entry.id)])

        # a run found in a closer look: its region, widened as the scan cut it, at that size
        closer = region if run.detail.get("closer_look") else None
        # a run found squeezed between bars: each frame unsqueezed to the entry's aspect
        bars = isinstance(region, dict) and bool(region.get("between_bars"))

        def by_features(rgb: np.ndarray) -> bool:
            if in_region(rgb):
                return True
            q = feat.extract(rgb, feat.QUERY_SIDE, feat.QUERY_FEATURES) if closer is None \
                else feat.extract(_crop_fraction(rgb, _widened(closer)), ZOOM_SIDE,
                                  feat.QUERY_FEATURES)
            if index.query(q) or (bars and _unsqueezed(index, rgb, [run.entry.id])):
                return True
            # The entry's frames alone have no other entry for the ratio test: a small
            # inset's few true matches drown in the background's chance ones (RANSAC's
            # inlier share under 0.25), and the walk did not pass even the frame the scan
            # had matched (a borderless inset, 32 frames short). The register's own check,
            # as the scan ran it, then decides.
            return any(lm.ref == run.entry.id for lm in self.features().query(q)) or (
                bars and any(lm.ref == run.entry.id for lm in _unsqueezed(
                    self.features(), rgb, [run.entry.id])))
        return by_features

    def refine(self, run: RangeMatch, path: str, step: float) -> None:
        """Move a run's ends from its samples to the exact first and last matching frames.

        Why: samples are ``step`` seconds apart, so the true in point lies before the first
        sample that matched, usually within one step, but further when the samples next to
        the run showed the entry and still did not match (see ``REFINE_REACH``). Every frame
        walking outward from the run's outer samples is decoded and tested; the in point is
        the earliest frame of the unbroken matching stretch (and the out point likewise), so
        one stray frame far from the shot does not stretch the range."""
        side = REFINE_SIDE if run.method == "pdq" else extract.FRAME_SIDE
        if run.detail.get("found_in") == WINDOW_FOUND_IN:
            side = extract.FRAME_SIDE  # the window is a part of the frame: as sampled
        if run.method == "local" and run.detail.get("closer_look"):
            side = ZOOM_DECODE  # found only in a sharper decode: its frames are walked so
        # local features at the size the scan matched them at (the sampled frames' size):
        # ORB at another scale finds other keypoints and another inlier share
        # Intra-only pictures are decoded one by one after a cheap seek: quarter-second
        # windows decode little past the boundary; long-GOP seeks cost a GOP each, so
        # there a window is the whole sampling step
        win = step / 4 if video_fp.info(path).intra_only else step
        test = self.frame_test(run)
        reference = _best_frame(path, run, side)
        # a bridge per walk: each keeps its own last verified frame
        first, at_start = _extent(_walk(path, run.start, -win, side), test,
                                  _Bridge(_test_region(run), reference))
        last, at_end = _extent(_walk(path, run.end, win, side), test,
                               _Bridge(_test_region(run), reference))
        shift_in = shift_out = 0.0
        if first is not None:
            shift_in = first.t - run.start
            run.start, run.start_frame = first.t, first.index
        elif at_start is not None:
            run.start_frame = at_start.index
        if last is not None:
            shift_out = last.t - run.end
            run.end, run.end_frame = last.t, last.index
        elif at_end is not None:
            run.end_frame = at_end.index
        if run.ref_start is not None and run.ref_end is not None:
            run.ref_start = max(0.0, run.ref_start + shift_in)
            run.ref_end = run.ref_end + shift_out
        run.detail["boundaries"] = "frame-accurate (every frame tested around the samples)"

    # -- audio -----------------------------------------------------------------------------
    @property
    def waveform_search(self) -> bool:
        """Whether scans should collect their sound's proxy for the waveform search."""
        return self.waveform_seconds > 0

    @property
    def shortlist(self) -> bool:
        """Whether the waveform search keeps to the landmarks' short list
        (``WAVEFORM_FULL_S``)."""
        return self.waveform_seconds > self.waveform_whole_s

    def audio_notes(self) -> list[str]:
        """What a scan should say about how registered audio was looked up and how far it
        was searched."""
        if self._audio_notes is not None:
            return self._audio_notes
        out = []
        current, rows = self.store.pack_state()
        pack = self.landmark_pack() if rows and current else None
        if rows and not current:
            out.append("the register's landmark pack is not current (a 'register add' cut "
                       "short, or a register from an earlier version): audio was looked up "
                       "in its tables, more slowly; 'deliverscan register pack' rebuilds it")
        elif rows and pack is None and rows > landmark_index.MAX_ROWS:
            out.append(f"the register holds {rows:,} audio landmarks, over the "
                       f"{landmark_index.MAX_ROWS:,} a scan reads into memory, and its "
                       f"landmark pack file ({self.store.pack_path}) is missing or not "
                       "current: audio was looked up in its tables, more slowly; "
                       "'deliverscan register pack' writes the file")
        elif rows and pack is None:
            out.append("the register's landmark pack could not be read (damaged): audio "
                       "was looked up in its tables, more slowly; 'deliverscan register "
                       "pack' rebuilds it")
        elif pack is not None and not isinstance(pack.hashes, np.memmap):
            out.append(f"the register's landmark pack file ({self.store.pack_path}) is "
                       "missing or not current (the register copied without it?): each "
                       "scanning process read the pack into memory "
                       f"({rows * landmark_index.ROW_BYTES / 1e6:,.0f} MB) instead of "
                       "sharing it; 'deliverscan register pack' writes the file")
        if self.shortlist:
            out.append(f"the register holds {self.waveform_seconds / 60:.0f} min of sound, "
                       f"over the {self.waveform_whole_s / 60:g} min the waveform search "
                       "correlates whole ([detectors.register] waveform_minutes): it searched "
                       "only where the landmarks named an entry (a sound far under a mix "
                       "that leaves them too few hits can be missed)")
        missing = self.store.audio_without_waveform()
        if missing:
            one = missing == 1
            out.append(f"{missing} registered audio entr{'y has' if one else 'ies have'} no "
                       "stored waveform (registered by an earlier version): matched by "
                       f"landmarks only; remove and add {'it' if one else 'them'} again "
                       "('register remove', 'register add') for the waveform search")
        self._audio_notes = out
        return out

    def _whitened(self) -> list[tuple[int, np.ndarray]]:
        if self._waves is None:
            self._waves = [(eid, waveform.whiten(x)) for eid, _track, x in
                           self.store.waveforms() if eid in self.entries]
        return self._waves

    def _tracks_of(self, eids: Iterable[int]) -> dict[int, list[np.ndarray]]:
        """The whitened tracks of some entries: from the whole set when the search
        correlates it whole, else read on demand through this register's connection and
        kept, least recently used dropped past ``SHORTLIST_CACHE_S``."""
        want = {e for e in eids if e in self.entries}
        if not self.shortlist:
            whole: dict[int, list[np.ndarray]] = {}
            for eid, x in self._whitened():
                if eid in want:
                    whole.setdefault(eid, []).append(x)
            return whole
        out: dict[int, list[np.ndarray]] = {}
        with self._cache_lock:
            for eid in want:
                if eid in self._cache:
                    self._cache.move_to_end(eid)
                    out[eid] = self._cache[eid]
        missing = sorted(want - set(out))
        if missing:
            # an entry without sound is kept too (as no tracks): it is not asked for again
            read: dict[int, list[np.ndarray]] = {e: [] for e in missing}
            for eid, _track, x in self.store.waveforms(missing):
                read[eid].append(waveform.whiten(x))
            out.update(read)
            with self._cache_lock:
                self._cache.update(read)
                held = sum(len(x) for xs in self._cache.values() for x in xs)
                while held > SHORTLIST_CACHE_S * waveform.RATE and len(self._cache) > 1:
                    _eid, xs = self._cache.popitem(last=False)
                    held -= sum(len(x) for x in xs)
        return {e: xs for e, xs in out.items() if xs}

    def prepare_audio(self) -> None:
        """Read the landmark pack, and the registered waveforms (whitened) when the search
        correlates them whole, now: ``match_audio`` may then run on another thread, on a
        ``fork``, without reading them again."""
        self.landmark_pack()
        if self.waveform_search and not self.shortlist:
            self._whitened()

    def landmark_pack(self) -> LandmarkIndex | None:
        """The registered landmarks in memory, read once (``RegisterStore.audio_index``);
        None for a register without a current pack, looked up through SQLite."""
        with self._pack_lock:
            if "index" not in self._pack:
                self._pack["index"] = self.store.audio_index()
            return self._pack["index"]

    def hear(self, proxy: np.ndarray | None, named: list[audio_match.Segment] | None = None,
             seconds: float = 0.0) -> waveform.Heard | None:
        """The waveform search over one sound's proxy (``audio.Landmarks.proxy``), ``seconds``
        long: over every entry, or over the short list of areas that the landmark candidates
        ``named`` (``shortlist``)."""
        if not self.waveform_search or proxy is None or len(proxy) == 0:
            return None
        if not self.shortlist:
            return waveform.hear(proxy, self._whitened())
        areas = shortlist_areas(named or [], seconds)
        tracks = self._tracks_of(areas)
        return waveform.hear(proxy, [(e, x) for e, xs in tracks.items() for x in xs], areas)

    def _follow(self, heard: waveform.Heard, hints: list[audio_match.Segment],
                seconds: float) -> list[waveform.Segment]:
        named = [h for h in hints if h.excess >= HINT_EXCESS]
        return follow_hints(heard, self._tracks_of(h.entry for h in named), hints, seconds)

    def _merge_waveform(self, found: list[RangeMatch], segs: list[waveform.Segment]
                        ) -> list[RangeMatch]:
        """``found`` (the landmark matches of a sound) with its waveform segments: one that
        overlaps a landmark match of its entry strengthens it (the higher confidence of the
        two) and, where it aligns the entry the same way, widens it to its own edges (a
        landmark range needs pairs of peaks and starts late or ends early under a mix) or,
        within ``REPLACE_EDGE_S``, moves its edge there (the samples place an edge to a few
        milliseconds); the others are matches of their own."""
        out = list(found)
        for seg in segs:
            if seg.entry not in self.entries:
                continue
            if seg.tempo != 1.0:  # grains or spectral change (``follow_stretch``)
                if seg.confidence >= waveform.REVIEW:
                    self._merge_grains(found, out, seg)
                continue
            same = [r for r in found if r.entry.id == seg.entry
                    and min(r.end, seg.end) - max(r.start, seg.start) > 0]
            if same:
                for r in same:
                    rate = (float(r.detail.get("speed", 1.0))  # type: ignore[arg-type]
                            * float(r.detail.get("tempo", 1.0)))  # type: ignore[arg-type]
                    if r.ref_start is not None and r.ref_end is not None and abs(
                            r.ref_start + (seg.start - r.start) * rate - seg.ref_start) <= 0.5:
                        near = (REPLACE_EDGE_S if "tempo" not in r.detail
                                else 0.0)
                        if seg.start < r.start or abs(seg.start - r.start) <= near:
                            r.start, r.ref_start = seg.start, seg.ref_start
                        if seg.end > r.end or abs(seg.end - r.end) <= near:
                            r.end, r.ref_end = seg.end, seg.ref_end
                    r.detail["waveform_z"] = seg.z
                    r.detail["peak_ratio"] = seg.ratio
                    if seg.speed != 1.0 and "tempo" not in r.detail:
                        r.detail["speed"] = seg.speed  # measured; the landmarks' is a 1 % step
                    conf = float(r.detail.get("match_confidence", 0.0))  # type: ignore[arg-type]
                    r.detail["match_confidence"] = max(conf, seg.confidence)
                continue
            out.append(RangeMatch(
                self.entries[seg.entry], "waveform", seg.start, seg.end,
                ref_start=seg.ref_start, ref_end=seg.ref_end,
                samples=int(round((seg.end - seg.start) * waveform.RATE / waveform.CHUNK)),
                score=seg.z,
                detail={"offset_s": round(seg.offset / waveform.RATE, 4),
                        "waveform_z": seg.z, "peak_ratio": seg.ratio, "speed": seg.speed,
                        "correlation": seg.ncc, "match_confidence": seg.confidence}))
        out.sort(key=lambda m: (m.start, m.entry.id))
        return out

    def _merge_grains(self, found: list[RangeMatch], out: list[RangeMatch],
                      seg: waveform.Segment) -> None:
        """A time stretch its grains or spectral change verified (``waveform.follow_stretch``),
        into ``out``: it strengthens the landmark matches of its entry that it overlaps, and
        widens those along its line that it overlaps or nearly meets (``GRAIN_JOIN_S``: the
        landmarks and the grains often each hold a part of one use); a tempo-1 match among
        them takes its tempo and line, so that its edges are placed along the stretch.
        Otherwise it is a match of its own."""
        rate = seg.speed * seg.tempo
        grains = {"grain_correlation": seg.ncc, "grain_margin": seg.z,
                  "spectral_margin": seg.spectral}
        hit = False
        for r in found:
            if r.entry.id != seg.entry:
                continue
            gap = max(r.start, seg.start) - min(r.end, seg.end)
            along = r.ref_start is not None and abs(
                seg.ref_start + (r.start - seg.start) * rate - r.ref_start) <= 0.5
            if gap >= 0 and not (along and gap <= GRAIN_JOIN_S):
                continue
            hit = True
            r.detail.update(grains)
            conf = float(r.detail.get("match_confidence", 0.0))  # type: ignore[arg-type]
            r.detail["match_confidence"] = max(conf, seg.confidence)
            if not along:
                continue
            if "tempo" not in r.detail:  # the landmarks' tempo 1: the grains' line
                r.detail["tempo"] = seg.tempo
                at, ref, r_rate = seg.start, seg.ref_start, rate
            else:  # the landmarks' own line, carried on
                at, ref = r.start, float(r.ref_start)  # type: ignore[arg-type]
                r_rate = (float(r.detail.get("speed", 1.0))  # type: ignore[arg-type]
                          * float(r.detail["tempo"]))  # type: ignore[arg-type]
            r.start, r.end = min(r.start, seg.start), max(r.end, seg.end)
            r.ref_start = round(ref + (r.start - at) * r_rate, 3)
            r.ref_end = round(ref + (r.end - at) * r_rate, 3)
        if not hit:
            out.append(RangeMatch(
                self.entries[seg.entry], "grains", seg.start, seg.end,
                ref_start=seg.ref_start, ref_end=seg.ref_end,
                samples=int(round((seg.end - seg.start) / waveform.GRAIN_PROBE
                                  * waveform.RATE)),
                score=seg.z, detail={"speed": seg.speed, "tempo": seg.tempo, **grains,
                                     "match_confidence": seg.confidence}))

    def match_audio(self, lm: audio_fp.Landmarks) -> list[RangeMatch]:
        """Registered audio (or video soundtracks) heard in the deliverable, with offsets.

        Two front ends. Landmarks: ``audio_match`` (segments of hits agreeing on one offset,
        scored by their excess over the entry's chance level); ``lm`` should be analysed at
        ``audio_match.QUERY`` density. Waveforms: ``waveform.search`` over ``lm.proxy`` when
        the register stores them, then ``waveform.follow`` around the landmarks' weaker
        candidates for a change of speed.
        Matches in the grey band come back too, with ``match_confidence`` under 0.5."""
        found, named = self._match_landmarks(lm)
        heard = self.hear(lm.proxy, named, lm.duration)
        if heard is None:
            return found
        hints = hints_of(named)
        segments = heard.segments + self._follow(heard, hints, lm.duration)
        if segments:
            found = self._merge_waveform(found, segments)
        return self._stretched_edges(found, heard)

    def _stretched_edges(self, found: list[RangeMatch], heard: waveform.Heard
                         ) -> list[RangeMatch]:
        """Time-stretched landmark matches with their edges placed by the waveform's grains
        (``waveform.stretched_edges``): the landmarks alone start them late and end them
        early under a mix."""
        stretched = [r for r in found if "tempo" in r.detail and r.ref_start is not None]
        if not stretched:
            return found
        y = heard.white.astype(np.float32)
        tracks = self._tracks_of(r.entry.id for r in stretched)
        for r in stretched:
            rate = (float(r.detail.get("speed", 1.0))  # type: ignore[arg-type]
                    * float(r.detail["tempo"]))  # type: ignore[arg-type]
            ref0 = float(r.ref_start)  # type: ignore[arg-type]
            for c in tracks.get(r.entry.id, []):
                start, end = waveform.stretched_edges(y, c, r.start, r.end, ref0, rate)
                if (start, end) != (r.start, r.end):
                    r.ref_start = round(ref0 + (start - r.start) * rate, 3)
                    r.ref_end = round(ref0 + (end - r.start) * rate, 3)
                    r.start, r.end = round(start, 4), round(end, 4)
                    break
        return found

    def _match_landmarks(self, lm: audio_fp.Landmarks
                         ) -> tuple[list[RangeMatch], list[audio_match.Segment]]:
        """The landmark matches, and every candidate down to ``SHORTLIST_HITS``."""
        if len(lm.hashes) == 0:
            return [], []
        dt_bits = audio_fp.DT_MASK.bit_length()  # the mask is all ones: shifts, not division

        def lookup(hashes: np.ndarray, frames: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
            # a payload per query hash: its anchor frame and, in the low bits, the frames to
            # its target peak (the hash's own low bits), for where a segment ends
            payload = ((frames.astype(np.int64) << dt_bits)
                       | (hashes.astype(np.int64) & audio_fp.DT_MASK))
            pack = self.landmark_pack()
            packed, ent, rf, spd = (pack.hits(hashes, payload) if pack is not None
                                    else self.store.audio_hits(hashes, payload))
            return packed >> dt_bits, ent, rf, spd, packed & audio_fp.DT_MASK

        out: list[RangeMatch] = []
        per_entry: dict[int, int] = {}
        q_peaks: np.ndarray | None = None  # the deliverable's peaks, once a match needs them
        # ``decide`` keeps only segments above its own floors (and reports copies), so this
        # is ``audio_match.match`` with the weaker candidates kept: the hints, and at speed 1
        # down to ``SHORTLIST_HITS`` the waveform search's short list (segments are measured
        # per offset, strongest first, so a lower floor only adds weaker ones)
        named = audio_match.candidates(lm.hashes, lm.frames, lookup, min_hits=HINT_HITS,
                                       min_seconds=HINT_SECONDS,
                                       at_one=(SHORTLIST_HITS, SHORTLIST_SECONDS),
                                       half=lm.half)
        hints = hints_of(named)
        for seg in audio_match.decide(hints):
            if seg.entry not in self.entries or per_entry.get(seg.entry, 0) >= \
                    AUDIO_MAX_OCCURRENCES:
                continue
            per_entry[seg.entry] = per_entry.get(seg.entry, 0) + 1
            if q_peaks is None:
                q_peaks = audio_match.peaks(lm.hashes, lm.frames)
            self._audio_edges(seg, q_peaks)
            out.append(RangeMatch(
                self.entries[seg.entry], "landmarks", seg.start, seg.end,
                ref_start=seg.ref_start, ref_end=seg.ref_end, samples=seg.hits,
                score=seg.hits,
                detail={"offset_s": round(seg.offset * audio_fp.FRAME_S - seg.grid_s, 3),
                        "aligned_hits": seg.hits, "chance_level": round(seg.chance, 2),
                        "excess_hits": round(seg.excess, 1),
                        "coverage": round(seg.coverage, 3), "speed": seg.speed / 1000,
                        **({"tempo": seg.tempo} if seg.tempo != 1.0 else {}),
                        "match_confidence": seg.confidence}))
        out.sort(key=lambda m: (m.start, m.entry.id))
        return out, named

    def _audio_edges(self, seg: audio_match.Segment, q_peaks: np.ndarray) -> None:
        """Walk the segment's edges outward on single peaks (``audio_match.refine_edges``);
        the registered range moves with them. A stretched segment (``seg.tempo``) is walked
        on the registered timeline, its deliverable peaks scaled onto it."""
        t = seg.tempo
        on_ref = replace(seg, start=seg.start * t, end=seg.end * t)
        reach = int((audio_match.EDGE_REACH_S + 2) / audio_fp.FRAME_S)
        lo = int(on_ref.start / audio_fp.FRAME_S) + seg.offset - reach
        hi = int(on_ref.end / audio_fp.FRAME_S) + seg.offset + reach
        h, f = self.store.audio_rows(seg.entry, seg.speed, lo, hi)
        frames = q_peaks[:, 0] * t if t != 1.0 else q_peaks[:, 0]
        sel = (frames >= lo - seg.offset - 60) & (frames <= hi - seg.offset + 60)
        near = q_peaks[sel]
        if t != 1.0:
            near = np.c_[np.rint(near[:, 0] * t).astype(np.int64), near[:, 1]]
        start, end = audio_match.refine_edges(on_ref, near, audio_match.peaks(h, f))
        factor = seg.speed / 1000
        seg.ref_start += (start - on_ref.start) * factor
        seg.ref_end += (end - on_ref.end) * factor
        seg.start, seg.end = start / t, end / t


def _walk(path: str, t: float, step: float, side: int) -> Iterator[Frame]:
    """Every frame from the one at ``t`` outward (backward if ``step`` < 0), one ``step``
    window decoded at a time and only as far as the caller reads, at most ``REFINE_REACH``."""
    reach = abs(step) * max(1, math.ceil(REFINE_REACH / abs(step) - 1e-9))
    seen: int | None = None
    k = 0
    while (k + 1) * abs(step) <= reach + 1e-9:
        lo, hi = sorted((t + k * step, t + (k + 1) * step))
        if hi < 0:
            return
        window = list(video_fp.frames_between(path, max(0.0, lo), hi, side))
        if step < 0:
            window.reverse()
        fresh = [fr for fr in window if seen is None
                 or (fr.index < seen if step < 0 else fr.index > seen)]
        if not fresh:
            return  # the file's start or end
        yield from fresh
        seen = fresh[-1].index
        k += 1


def _extent(frames: Iterator[Frame], test: Callable[[np.ndarray], bool],
            bridge: _Bridge | None = None) -> tuple[Frame | None, Frame | None]:
    """The farthest frame of an unbroken matching stretch, walking away from a matched
    sample, and the first frame walked (the sample itself, the fallback when none matches).

    Failing frames do not end the stretch while they continue the last matching frame's
    shot, up to ``REFINE_GAP`` in a row: PDQ of fine texture swings far between neighbouring
    frames, and a dropout or a flash fails one frame. A failing frame past a hard cut
    (``REFINE_CUT``) ends it after all, unless it is the only one (a one-frame flash).
    A frame that fails ``test`` still matches if ``bridge`` finds in it the picture of the
    last frame ``test`` passed, with no hard cut between the two (``_Bridge``).

    Only every ``REFINE_GAP + 1``-th frame is tested while they match and no cut lies between
    them: by the rule above the frames in between could not end the stretch, so the answer is
    the same as testing each (a local-feature test costs ~0.1 s a frame)."""
    last: Frame | None = None
    start: Frame | None = None
    prev: np.ndarray | None = None
    gap = 0
    crossed = False
    clean = True  # no hard cut since the bridge's last verified frame
    batch: list[tuple[Frame, bool]] = []

    def passes(fr: Frame, cut: bool, tested: bool | None = None) -> bool:
        """``test`` (its answer if already ``tested``), else the bridge while clean."""
        nonlocal clean
        clean = clean and not cut
        if test(fr.rgb) if tested is None else tested:
            clean = True
            if bridge is not None:
                bridge.verified(fr.rgb, abs(fr.index - start.index) if start else 0)
            return True
        return bridge is not None and clean and bridge.same(
            fr.rgb, abs(fr.index - start.index) if start else 0)

    def step(fr: Frame, cut: bool, tested: bool | None = None) -> bool:
        """The frame-by-frame rule; True when the stretch has ended."""
        nonlocal last, gap, crossed
        if passes(fr, cut, tested):
            last, gap, crossed = fr, 0, False
            return False
        gap += 1
        crossed = crossed or cut
        return gap > REFINE_GAP or (crossed and gap > 1)

    before: np.ndarray | None = None  # the thumbnail before ``prev``
    for fr in frames:
        thumb = _thumb(fr.rgb)
        cut = prev is not None and (float(np.abs(thumb - prev).mean()) > REFINE_CUT
                                    or _blended_cut(before, prev, thumb))
        before, prev = prev, thumb
        if start is None:
            start = fr
            if bridge is not None:
                bridge.start(fr.rgb)
        batch.append((fr, cut))
        if gap == 0 and not any(c for _f, c in batch):
            if len(batch) <= REFINE_GAP:
                continue  # tested only if the batch does not end on a matching frame
            if passes(fr, False):
                last = fr
                batch.clear()
                continue
            # the newest frame failed: the skipped ones decide, in order, then it counts
            # (its test is known to fail; the bridge answers again, from a new anchor if
            # one of the skipped frames passed the test)
            for f, c in batch[:-1]:
                if step(f, c):
                    return last, start
            if step(fr, False, tested=False):
                return last, start
            batch.clear()
            continue
        for f, c in batch:
            if step(f, c):
                return last, start
        batch.clear()
    for f, c in batch:
        if step(f, c):
            break
    return last, start


class _Bridge:
    """Whether a frame shows the same picture as the last frame verified against the
    register: local features of the two (in the run's region, if it is in one), at least
    ``BRIDGE_INLIERS`` RANSAC inliers. ``_extent`` asks only while no hard cut lies between
    the two frames.

    Why: a registered clip keeps local features every 2 s or so, and a 15-25 % reframe of a
    pan or zoom stops matching them half a second or more from where they were taken. The
    walk then ended the run up to 21 frames before the insert's cut (``bench.register_sweep``),
    though every frame up to the cut showed the same picture as one just verified. A bridge
    starts only from a frame the *register* verified, never from one it let through itself,
    so it cannot drift from the registered picture a frame at a time; and it compares only the
    run's region, so a picture-in-picture window that closes over a continuing background does
    not pass. One per walk (it keeps that walk's last verified frame).

    The bridge refuses a frame that shares no local features with the run's best-matching
    sample (``reference``; without one, the walk's first frame, a sample the scan matched:
    ``start``) when the anchor lies between an earlier verified frame (the walk's farthest
    within ``BLEND_SPAN`` of it, else the reference) and that frame, the pair a whole cut
    apart (``_blend_of``). Why: in a dissolve, or on 3:2 pulldown's mixed frame, the last frame
    the register verified can be part registered picture and part next shot; the next
    shot's frames then matched that part, and walks ran on to the next shot's cut, 26-90
    frames past a still dissolving out over 4-24 frames, up to 56 past dissolves of natural
    pan-and-zoom shots (``bench.register_sweep --classes dissolve``). Neither test alone: a
    fast pan's frames share nothing with the sample a second back, and a slow pan or zoom
    often lies near the line from the sample to a frame a second on (29 of 75 walks over
    pan-and-zoom shots of natural pictures stopped 2-40 frames short on that test alone).
    A refusal holds for the frames farther along the walk until the register verifies one
    of them (``at``: frames from the walk's first): a dissolve's layers move on as they
    mix, so frames further on can lie off the line and still show the next shot; for the
    same reason the line starts at a verified frame near the anchor, not at the sample
    seconds back (a 4-frame dissolve whose anchor was 2 s of pan-and-zoom from the best
    sample lay off that line, and its walk ran 40 frames into the next shot)."""

    def __init__(self, region: dict[str, Any] | None,
                 reference: Callable[[], np.ndarray | None] | None = None) -> None:
        self.region = region
        self.reference = reference
        self.anchor: np.ndarray | None = None
        self.index: feat.FeatureIndex | None = None  # the anchor's, made when first needed
        self.first: np.ndarray | None = None  # the reference's part, when known ...
        self.first_index: feat.FeatureIndex | None = None  # ... and its features
        self.asked: tuple[np.ndarray, bool] | None = None  # the last frame asked, its answer
        self.mixed_at: int | None = None  # the nearest frame refused as past a mix (``at``)
        self.history: list[tuple[int, np.ndarray]] = []  # (at, thumbnail) of verified frames
        self.anchor_at = 0
        self.anchor_thumb: np.ndarray | None = None

    def _part(self, rgb: np.ndarray) -> np.ndarray:
        return _crop_fraction(rgb, self.region) if self.region is not None else rgb

    def start(self, rgb: np.ndarray) -> None:
        """The walk's first frame: a sample the scan matched."""
        if self.reference is None:
            self.first = self._part(rgb)

    def verified(self, rgb: np.ndarray, at: int = 0) -> None:
        self.anchor, self.index, self.asked = self._part(rgb), None, None
        self.anchor_at, self.anchor_thumb = at, _thumb(self.anchor)
        self.history.append((at, self.anchor_thumb))
        if self.mixed_at is not None and at > self.mixed_at:
            self.mixed_at = None

    def _line_start(self, first: np.ndarray) -> np.ndarray:
        """Where a mix through the anchor would start from: the verified frame farthest
        back within ``BLEND_SPAN``, else ``first`` (the reference)."""
        near = [(abs(self.anchor_at - a), t) for a, t in self.history
                if 0 < abs(self.anchor_at - a) <= BLEND_SPAN]
        return max(near, key=lambda n: n[0])[1] if near else _thumb(first)

    def same(self, rgb: np.ndarray, at: int = 0) -> bool:
        if self.anchor is None or (self.mixed_at is not None and at >= self.mixed_at):
            return False
        if self.asked is not None and self.asked[0] is rgb:
            return self.asked[1]  # asked again with the same anchor (``_extent``'s batches)
        if self.index is None:
            self.index = _bridge_index(self.anchor)
        part = self._part(rgb)
        query = feat.extract(part, feat.QUERY_SIDE, BRIDGE_FEATURES)
        answer = _bridged(self.index, query) is not None
        if answer and self.first is None and self.reference is not None:
            best = self.reference()
            self.reference = None
            if best is not None:
                self.first = self._part(best)
        if answer and self.first is not None and self.first is not self.anchor \
                and self.anchor_thumb is not None \
                and _blend_of(self._line_start(self.first), self.anchor_thumb, _thumb(part)):
            if self.first_index is None:
                self.first_index = _bridge_index(self.first)
            answer = _bridged(self.first_index, query) is not None
            if not answer:
                self.mixed_at = at if self.mixed_at is None else min(self.mixed_at, at)
        self.asked = (rgb, answer)
        return answer


def _best_frame(path: str, run: RangeMatch, side: int) -> Callable[[], np.ndarray | None]:
    """The frame of ``run``'s best sample at ``side``, decoded when first asked for (once)."""
    got: list[np.ndarray | None] = []

    def frame() -> np.ndarray | None:
        if not got:
            t = run.start if run.best_t is None else run.best_t
            got.append(next((fr.rgb for fr in video_fp.frames_between(path, t, t + 0.1, side)),
                            None))
        return got[0]
    return frame


def _bridge_index(part: np.ndarray) -> feat.FeatureIndex:
    return feat.FeatureIndex([(0, feat.extract(part, feat.QUERY_SIDE, BRIDGE_FEATURES))],
                             textures=False)


def _bridged(index: feat.FeatureIndex, query: feat.Features) -> feat.LocalMatch | None:
    """The bridge's match of ``query`` with ``index``'s one frame, if strong enough."""
    found = index.query(query)
    return found[0] if found and found[0].inliers >= BRIDGE_INLIERS else None


def _test_region(run: RangeMatch) -> dict[str, Any] | None:
    """The part of the frame a run is tested on while refining: where local features placed
    the registered picture, or the picture-in-picture window it was found in; None for the
    whole frame."""
    region = run.detail.get("region")
    if (run.method == "local" or run.detail.get("found_in") == WINDOW_FOUND_IN) \
            and isinstance(region, dict):
        return region
    return None


def _blended_cut(a: np.ndarray | None, b: np.ndarray, c: np.ndarray) -> bool:
    """Whether thumbnails ``a``, ``b``, ``c`` (neighbouring frames) are a cut from ``a`` to
    ``c`` through ``b``, a blend of the two (``REFINE_BLEND``)."""
    if a is None:
        return False
    whole = float(np.abs(c - a).mean())
    return whole > REFINE_CUT and float(
        np.abs(2 * b - a - c).mean()) / 2 <= REFINE_BLEND * whole


def _blend_of(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> bool:
    """Whether thumbnail ``b`` is a mix of ``a`` and ``c`` (5-95 % of ``c``), the two a
    whole cut apart: ``b`` within ``BRIDGE_BLEND`` of the cut's size from its nearest point
    on the line from ``a`` to ``c``."""
    d = (c - a).astype(np.float64)
    whole = float(np.abs(d).mean())
    if whole <= REFINE_CUT:
        return False
    w = float(((b - a) * d).sum() / (d * d).sum())
    return 0.05 <= w <= 0.95 and float(np.abs(b - a - w * d).mean()) <= BRIDGE_BLEND * whole


def _thumb(rgb: np.ndarray) -> np.ndarray:
    """32x32 grey thumbnail (int16) for the cut check between neighbouring frames."""
    g = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY) if rgb.ndim == 3 else rgb
    return cv2.resize(g, (32, 32), interpolation=cv2.INTER_AREA).astype(np.int16)


@dataclass
class LocalCheck:
    """What a sampled frame's local-feature check found, and whether it looked closer."""

    found: list[feat.LocalMatch]
    zoomed: bool = False
    closer_look: str = ""  # how, for the evidence


def _local_check(index: feat.FeatureIndex, fr: Frame, path: str | None,
                 windows: list[tuple[Box, list[int]]] | None = None) -> LocalCheck:
    """Registered pictures found by local features in one frame (runs on a worker thread).
    With ``path``, the best near miss, then each of ``windows`` (a picture-in-picture window
    and the entries its PDQ came near), is looked at closer (``ZOOM_DECODE``) until one
    matches; the frame is decoded again once for all."""
    near: list[feat.LocalMatch] | None = [] if path is not None else None
    leads: set[int] = set()
    found = index.query(feat.extract(fr.rgb, feat.QUERY_SIDE, feat.QUERY_FEATURES), near,
                        leads)
    if not found and leads:
        unsqueezed = _unsqueezed(index, fr.rgb, leads)
        if unsqueezed:
            return LocalCheck(unsqueezed)
    looks = [(lm.region, [lm.ref]) for lm in sorted(near or [], key=lambda lm: -lm.inliers)[:1]]
    looks += windows or []
    if found or path is None or not looks:
        return LocalCheck(found)
    big = _sharp(fr, path)
    done = LocalCheck([], True)
    for box, entries in looks if big is not None else []:
        done = _zoomed(index, fr, path, box, entries, big)
        if done.found:
            break
    return done


def _in_parts(index: feat.FeatureIndex, rgb: np.ndarray
              ) -> tuple[list[feat.LocalMatch], str]:
    """Registered pictures found in a part of a still (``STILL_PARTS``): the matches of
    the first part that has any, placed in ``rgb``'s pixels, and which part that was."""
    h, w = rgb.shape[:2]
    if max(h, w) < STILL_PARTS_MIN:
        return [], ""
    ph, pw = round(h * STILL_PART), round(w * STILL_PART)
    for fx, fy in STILL_PARTS:
        y0, x0 = round(fy * (h - ph)), round(fx * (w - pw))
        part = np.ascontiguousarray(rgb[y0:y0 + ph, x0:x0 + pw])
        found = index.query(feat.extract(part, ZOOM_SIDE, feat.QUERY_FEATURES))
        if not found:
            continue
        out = [_placed_back(lm, (x0, y0), (1.0, 1.0), (w, h)) for lm in found]
        return out, f"the part {pw}x{ph} at ({x0},{y0}) matched on its own at " \
                    f"{min(ZOOM_SIDE, max(pw, ph))} px"
    return [], ""


def _unsqueezed(index: feat.FeatureIndex, rgb: np.ndarray, leads: Iterable[int]
                ) -> list[feat.LocalMatch]:
    """Registered pictures found squeezed between ``rgb``'s bars (``UNSQUEEZE_TOLERANCE``):
    the picture inside them stretched to each of the first ``UNSQUEEZE_ASPECTS`` aspects
    of ``leads`` (entries the query as it was came near: ``FeatureIndex.query``; the
    index's commonest aspects first) that it differs from, and matched there; only entries
    of that aspect count. Regions are placed back in ``rgb``'s pixels, with the squeeze the
    bars imply. Nothing without bars: a frame without them is matched as it is."""
    h, w = rgb.shape[:2]
    x0, y0, x1, y1 = extract.bars(rgb)
    pw, ph = x1 - x0, y1 - y0
    if (pw, ph) == (w, h) or min(pw, ph) < feat.MIN_SIDE:
        return []
    active = pw / ph
    lo, hi = feat.SQUEEZE_RANGE
    led = {round(index.aspect[ref], 2) for ref in leads if ref in index.aspect}
    tries = [a for a in index.aspects if a in led
             and abs(active / a - 1) > UNSQUEEZE_TOLERANCE and lo <= active / a <= hi]
    for aspect in tries[:UNSQUEEZE_ASPECTS]:
        ratio = active / aspect  # the placement's horizontal over vertical scale
        size = (round(ph * aspect), ph) if ratio < 1 else (pw, round(pw / aspect))
        part = cv2.resize(np.ascontiguousarray(rgb[y0:y1, x0:x1]), size,
                          interpolation=cv2.INTER_LINEAR)
        sx, sy = pw / size[0], ph / size[1]
        out = []
        for lm in index.query(feat.extract(part, feat.QUERY_SIDE, feat.QUERY_FEATURES)):
            if abs(index.aspect[lm.ref] / aspect - 1) > UNSQUEEZE_TOLERANCE:
                continue
            out.append(_placed_back(lm, (x0, y0), (sx, sy), (w, h), between_bars=True,
                                    squeeze=round(ratio * (lm.squeeze or 1.0), 3)))
        if out:
            return out
    return []


def _placed_back(lm: feat.LocalMatch, at: tuple[float, float], scale: tuple[float, float],
                 size: tuple[int, int], **changes: Any) -> feat.LocalMatch:
    """``lm``, found in a part of an image (a point (u, v) of the part is ``at + scale *
    (u, v)`` in the image), with its region and coverage placed back in the image of
    ``size``, and ``changes``."""
    a, b, c, d = lm.region
    (x0, y0), (kx, ky), (w, h) = at, scale, size
    box = (math.floor(x0 + a * kx), math.floor(y0 + b * ky),
           math.ceil(x0 + c * kx), math.ceil(y0 + d * ky))
    cover = round((box[2] - box[0]) * (box[3] - box[1]) / max(1, w * h), 4)
    return replace(lm, region=box, coverage=cover, **changes)


def _sharp(fr: Frame, path: str) -> np.ndarray | None:
    """``fr`` decoded again at up to ``ZOOM_DECODE`` px (None if it cannot be)."""
    decoded = list(video_fp.frames_between(path, fr.t, fr.t, ZOOM_DECODE))
    return min(decoded, key=lambda f: abs(f.t - fr.t)).rgb if decoded else None


def _zoomed(index: feat.FeatureIndex, fr: Frame, path: str, box: Box, entries: list[int],
            big: np.ndarray | None = None) -> LocalCheck:
    """The region ``box`` of ``fr`` looked at again in a sharper decode (see
    ``ZOOM_DECODE``; ``big``: that decode, if made already): the best match there of one of
    ``entries``, placed in ``fr``'s pixels, or nothing."""
    if big is None:
        big = _sharp(fr, path)
    if big is None:
        return LocalCheck([], True)
    h, w = fr.rgb.shape[:2]
    bh, bw = big.shape[:2]
    sx, sy = bw / w, bh / h
    x0, y0, x1, y1 = box
    cut = _widened({"x": x0 / w, "y": y0 / h, "width": (x1 - x0) / w,
                    "height": (y1 - y0) / h})  # as a run's walk cuts it (``frame_test``)
    cx0, cy0 = round(cut["x"] * bw), round(cut["y"] * bh)
    cx1, cy1 = round((cut["x"] + cut["width"]) * bw), round((cut["y"] + cut["height"]) * bh)
    if min(cx1 - cx0, cy1 - cy0) < feat.MIN_SIDE:
        return LocalCheck([], True)
    crop = np.ascontiguousarray(big[cy0:cy1, cx0:cx1])
    q = feat.extract(crop, ZOOM_SIDE, feat.QUERY_FEATURES)
    # the region's magnification over the sample, as ORB sees it
    zoom = sx * min(1.0, ZOOM_SIDE / max(cx1 - cx0, cy1 - cy0))
    how = f"{bw}x{bh} decode, region at {zoom:.1f}x the sample"
    out = []
    for lm in index.query(q):
        if lm.ref not in entries:
            continue
        # in the crop's pixels of the sharper decode: back to the sampled frame's
        out.append(_placed_back(lm, (cx0 / sx, cy0 / sy), (1 / sx, 1 / sy), (w, h)))
    return LocalCheck(out[:1], True, how)


def _region(fr: Frame, box: tuple[int, int, int, int], **extra: Any) -> dict[str, Any]:
    """A matched region of a sampled (downscaled) frame, as fractions of its size."""
    x0, y0, x1, y1 = box
    h, w = fr.rgb.shape[:2]
    out: dict[str, Any] = {
        "x": round(x0 / w, 4), "y": round(y0 / h, 4),
        "width": round((x1 - x0) / w, 4), "height": round((y1 - y0) / h, 4)}
    if "coverage" not in extra:
        extra["coverage"] = round((x1 - x0) * (y1 - y0) / max(1, w * h), 4)
    out.update(extra)
    out.update({"units": "fraction of frame", "at_s": round(fr.t, 3),
                "thumbnail": extract.thumbnail(fr.rgb, box)})
    return out


def _nearest(d: np.ndarray, row_entry: np.ndarray, entries: Iterable[int]
             ) -> Iterator[tuple[int, int]]:
    """(entry, row of ``d``) of each entry's nearest hash; ``row_entry`` gives each row's
    entry (each of ``entries`` has rows)."""
    for eid in entries:
        sel = np.nonzero(row_entry == eid)[0]
        yield eid, int(sel[np.argmin(d[sel])])


def _window_crops(rgb: np.ndarray, box: Box) -> Iterator[tuple[Box, pdq.PdqResult]]:
    """PDQ of a picture-in-picture window as ``extract.windows`` cut it out, and one pixel
    wider on every side (those of quality ``MIN_QUALITY`` and above). Why both: after the
    sampler's area downscale the window's edge pixel blends border and picture, and a row
    of picture lost, or of border kept, moves a small inset's PDQ by 10-40 bits; which of
    the two is nearer differs from inset to inset (``bench.register_sweep``)."""
    h, w = rgb.shape[:2]
    x0, y0, x1, y1 = box
    for crop in (box, (max(0, x0 - 1), max(0, y0 - 1), min(w, x1 + 1), min(h, y1 + 1))):
        a, b, c, d = crop
        res = extract.query_hash(np.ascontiguousarray(rgb[b:d, a:c]))
        if res.quality >= MIN_QUALITY:
            yield crop, res


def _widened(region: dict[str, Any], margin: float = ZOOM_MARGIN) -> dict[str, Any]:
    """``region`` (fractions of the frame) with ``margin`` of its size added on every side,
    within the frame: what a closer look cuts out."""
    x, y = float(region["x"]), float(region["y"])
    w, h = float(region["width"]), float(region["height"])
    x0, y0 = max(0.0, x - margin * w), max(0.0, y - margin * h)
    x1, y1 = min(1.0, x + (1 + margin) * w), min(1.0, y + (1 + margin) * h)
    return {"x": x0, "y": y0, "width": x1 - x0, "height": y1 - y0}


def _crop_fraction(rgb: np.ndarray, region: dict[str, Any]) -> np.ndarray:
    h, w = rgb.shape[:2]
    x0, y0 = round(float(region["x"]) * w), round(float(region["y"]) * h)
    x1 = x0 + max(8, round(float(region["width"]) * w))
    y1 = y0 + max(8, round(float(region["height"]) * h))
    return np.ascontiguousarray(rgb[y0:y1, x0:x1])


def _variant(v: int) -> str:
    return extract.VARIANTS[v] if 0 <= v < len(extract.VARIANTS) else f"variant-{v}"


def _runs(hits: list[tuple[float, int, float, int, str]], entries: dict[int, Entry],
          confirm: Callable[[tuple[float, int, float, int, str]], int] | None = None
          ) -> list[RangeMatch]:
    """Group per-frame hits into time runs per entry (and per offset for registered clips).

    A run of one sample farther than ``PDQ_SINGLE_FRAME`` stands only if ``confirm`` (the
    frames around it that match too) reaches ``CONFIRM_FRAMES``."""
    out: list[RangeMatch] = []
    by_entry: dict[int, list[tuple[float, int, float, int, str]]] = {}
    for h in sorted(hits):
        by_entry.setdefault(h[1], []).append(h)
    for eid, hs in by_entry.items():
        runs: list[list[tuple[float, int, float, int, str]]] = []
        for h in hs:
            placed = False
            for run in runs:
                last = run[-1]
                if h[0] - last[0] > RUN_GAP:
                    continue
                if not np.isnan(h[2]) and not np.isnan(last[2]):
                    if abs((h[0] - h[2]) - (last[0] - last[2])) > OFFSET_SLACK:
                        continue
                run.append(h)
                placed = True
                break
            if not placed:
                runs.append([h])
        for run in runs:
            pdq_d = [h[3] for h in run if h[4] in ("pdq", "window")]
            method = "pdq" if pdq_d else "local"
            confirmed = 0
            if method == "pdq" and len(run) == 1 and pdq_d[0] > PDQ_SINGLE_FRAME:
                confirmed = confirm(run[0]) if confirm is not None else 0
                if confirmed < CONFIRM_FRAMES:
                    continue
            refs = [h[2] for h in run if not np.isnan(h[2])]
            # PDQ's nearest sample, else local features' most inliers (stored negated)
            best = min(run, key=lambda h: (h[4] not in ("pdq", "window"), h[3]))
            rm = RangeMatch(entries[eid], method, run[0][0], run[-1][0],
                            ref_start=min(refs) if refs else None,
                            ref_end=max(refs) if refs else None,
                            samples=len({h[0] for h in run}),  # a frame's hits count once
                            best_distance=min(pdq_d) if pdq_d else None,
                            score=float(np.median(pdq_d)) if pdq_d else float(
                                -min(h[3] for h in run)), best_t=best[0])
            if any(h[4] == "window" for h in run):
                rm.detail["found_in"] = WINDOW_FOUND_IN
            if all(h[4] == "texture" for h in run):  # a person should know what matched
                rm.detail["texture"] = True
            if confirmed:
                rm.detail["confirmed_by_frames"] = confirmed
            if refs:
                offsets = [h[0] - h[2] for h in run if not np.isnan(h[2])]
                rm.detail["offset_s"] = round(float(np.median(offsets)), 3)
            out.append(rm)
    out.sort(key=lambda m: (m.start, m.entry.id))
    return out
