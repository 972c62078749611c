"""The waveform search (``detectors/fingerprint/waveform.py``): registered sound found by
correlation where a mix buries it 15 dB under other sound, with its offset and edges; after a
change of speed, followed from a landmark hint (``follow``); nothing found in unrelated
music."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from detectors.fingerprint import audio as audio_fp
from detectors.fingerprint import waveform as wf
from fixtures.gen_register import bury, ffmpeg_filter, synth_babble, synth_music, synth_voice

SR = audio_fp.SR


def _bed(seconds: float, seed: int) -> np.ndarray:
    return 0.3 * synth_music(seed, seconds) + 0.5 * synth_babble(seconds, seed + 1)


def _mix(seconds: float, insert: np.ndarray, at: float, level_db: float, seed: int
         ) -> np.ndarray:
    """Music bed + dialogue, with ``insert`` at ``at`` s, ``level_db`` under the rest."""
    out = bury(_bed(seconds, seed), insert, at, level_db, SR)
    return (0.9 * out / np.abs(out).max()).astype(np.float32)


@pytest.fixture(scope="module")
def cue() -> np.ndarray:
    return synth_music(3, 20.0)


def _search(deliverable8k: np.ndarray, entries: dict[int, np.ndarray]) -> list[wf.Segment]:
    q = wf.Query.build(wf.decimate(deliverable8k))
    return wf.search(q, [(e, wf.whiten(wf.decimate(x))) for e, x in entries.items()])


def test_cue_15_db_under_dialogue_and_music_is_found_with_offset_and_edges(
        cue: np.ndarray) -> None:
    used = cue[int(6.0 * SR):int(11.0 * SR)]  # 5 s from 6 s into the registered cue
    mix = _mix(40.0, used, 23.5, -15.0, 40)
    other = synth_music(8, 20.0)
    (seg,) = _search(mix, {1: cue, 2: other})
    assert seg.entry == 1 and seg.z >= wf.ACCEPT_Z and seg.confidence >= wf.ACCEPT
    assert seg.offset / wf.RATE == pytest.approx(23.5 - 6.0, abs=0.001)
    assert seg.start == pytest.approx(23.5, abs=0.3) and seg.end == pytest.approx(28.5, abs=0.3)
    assert seg.ref_start == pytest.approx(6.0, abs=0.3) and seg.ref_end == pytest.approx(11.0,
                                                                                      abs=0.3)
    # the landmarks alone do not reach it at this level: why this search exists
    from detectors.fingerprint import audio_match

    lm = audio_match.landmarks(mix)
    reg = audio_fp.fingerprint_samples(cue, shifts=audio_fp.REGISTER_SHIFTS)
    hits = np.isin(lm.hashes, reg.hashes)
    qf = lm.frames[hits].astype(np.int64)
    idx = {int(h): int(f) for h, f in zip(reg.hashes, reg.frames, strict=True)}
    rf = np.array([idx[int(h)] for h in lm.hashes[hits]], np.int64)
    found = audio_match.match(qf, np.ones(len(qf), np.int64), rf,
                              np.full(len(qf), 1000, np.int64))
    assert all(s.confidence < audio_match.ACCEPT for s in found)


def test_edges_off_the_quarter_second_grid_are_placed_sample_wise(cue: np.ndarray) -> None:
    """A segment grows in 0.25 s chunks on a grid through the registered second it was
    found at; ``_fine_edges`` then places each edge on a 5 ms grid. Four inserts 10 dB under
    a mix, every edge 0.12-0.13 s off that grid (in both files), so that chunks alone put
    none within a frame: here six of the eight land within one frame at 25 fps (the
    per-sample statistic placed five). The two others border 0.2-0.3 s where the
    registered cue, as the search hears it (whitened), is 13-16 dB under the insert's
    level: one insert's head, the stretch after another's end. Nothing in the mix tells
    where in that stretch the edge lies; they land within 0.35 s. ``bench/audio_edges.py``
    measures the rate over many inserts."""
    frame, grid = 1 / 25, wf.CHUNK / wf.RATE
    errors = []
    for start, length, at, seed in ((6.13, 5.24, 23.61, 40), (3.38, 5.5, 12.2, 43),
                                    (11.62, 4.76, 30.4, 44), (1.87, 6.26, 8.7, 45)):
        for t in (start, start + length):
            assert abs(t / grid - round(t / grid)) * grid >= 0.1
        used = cue[int(start * SR):int((start + length) * SR)]
        (seg,) = _search(_mix(40.0, used, at, -10.0, seed), {1: cue})
        assert seg.ref_start - start == pytest.approx(seg.start - at, abs=1e-3)
        errors += [abs(seg.start - at), abs(seg.end - (at + length))]
    assert max(errors) <= 0.35, errors
    assert sum(e <= frame for e in errors) >= 6, errors


def _muffled(x: np.ndarray) -> np.ndarray:
    """A strong band EQ: high-pass near 50 Hz, low-pass near 500 Hz (Gaussian, twice each)."""
    y = x.astype(np.float64)
    for _ in range(2):
        y = y - cv2.GaussianBlur(y.reshape(1, -1), (0, 0), sigmaX=SR / (2 * np.pi * 50)).ravel()
        y = cv2.GaussianBlur(y.reshape(1, -1), (0, 0), sigmaX=SR / (2 * np.pi * 500)).ravel()
    return y.astype(np.float32)


def test_edges_of_an_equalised_use_are_placed_within_a_frame(cue: np.ndarray) -> None:
    """Six uses of the cue under a strong EQ, 10 dB under a mix. The edge statistic fits the
    use's gain per frequency: ten of the twelve edges land within one frame, none over
    0.1 s off. One gain for all frequencies (the EQ's average) put two within a frame and
    four over a quarter second off, up to 1.15 s."""
    frame = 1 / 25
    errors = []
    for start, length, at, seed in ((6.13, 5.24, 23.61, 40), (3.38, 5.5, 12.2, 43),
                                    (11.62, 4.76, 30.4, 44), (1.87, 6.26, 8.7, 45),
                                    (8.3, 6.0, 5.3, 48), (2.6, 7.1, 17.9, 49)):
        used = _muffled(cue[int(start * SR):int((start + length) * SR)])
        (seg,) = _search(_mix(40.0, used, at, -10.0, seed), {1: cue})
        errors += [abs(seg.start - at), abs(seg.end - (at + length))]
    assert sum(e <= frame for e in errors) >= 9, errors
    assert max(errors) <= 0.1, errors


def test_edges_at_the_ends_of_both_files_are_placed(cue: np.ndarray) -> None:
    """A cue used from its first sample starts 0.6 s into the deliverable, and another use
    runs to the end of both files. The spectra that place an edge reach past those ends,
    where the files read as silence, which ties: the edges there land within one frame of
    where both files exist, never before an entry's start or past its end."""
    frame = 1 / 25
    head = cue[:int(6.0 * SR)]
    (seg,) = _search(_mix(20.0, head, 0.6, -6.0, 46), {1: cue})
    assert 0 <= seg.ref_start <= frame and abs(seg.start - 0.6) <= frame
    tail = cue[int(14.0 * SR):]
    (seg,) = _search(_mix(20.0, tail, 14.0, -6.0, 47), {1: cue})
    assert 20.0 - frame <= seg.ref_end <= 20.0 and 20.0 - frame <= seg.end <= 20.0


@pytest.mark.parametrize("tempo", [0.96, 1.04])
def test_a_time_stretch_gets_its_edges_from_the_grains(cue: np.ndarray, tempo: float) -> None:
    """ffmpeg's atempo (WSOLA) stretches 8 s of the cue, mixed 6 dB under other music and
    dialogue. Given the landmarks' range, 0.4 s late and 0.5 s early, and their offset
    20 ms off, ``stretched_edges`` puts the out point within two frames and the in point
    within four: the cue's first 50 ms there are 12 dB under the rest (whitened), so the
    use is heard from its first note. Against another cue the frames do not correlate,
    and the range stays as it came."""
    used = ffmpeg_filter(cue[int(4.0 * SR):int(12.0 * SR)], SR, f"atempo={tempo}")
    length = len(used) / SR
    mix = _mix(30.0, used, 10.0, -6.0, 90)
    y = wf.Query.build(wf.decimate(mix)).white
    start, end = 10.4, 10.0 + length - 0.5
    ref_start = 4.0 + 0.4 * tempo + 0.02
    a, b = wf.stretched_edges(y, wf.whiten(wf.decimate(cue)), start, end, ref_start, tempo)
    assert abs(a - 10.0) <= 0.15 and abs(b - (10.0 + length)) <= 0.08, (a, b)
    other = wf.whiten(wf.decimate(synth_music(8, 20.0)))
    assert wf.stretched_edges(y, other, start, end, ref_start, tempo) == (start, end)


def test_a_time_stretch_between_tempo_variants_is_verified_by_its_grains(cue: np.ndarray
                                                                         ) -> None:
    """ffmpeg's atempo stretches 7 s of the cue to 103 %, mixed 10 dB under other music
    and dialogue. A landmark candidate at the 1.04 variant names it with 3 s of range and
    its offset 20 ms off: along that line the use stands out over the same frames along
    the cue 0.5-3 s away by a match's margin, and the line comes back moved to
    where the grains put it. The same hint against another cue, or moved 4 s along this
    one, is nothing."""
    used = ffmpeg_filter(cue[int(5.0 * SR):int(12.0 * SR)], SR, "atempo=1.03")
    mix = _mix(30.0, used, 11.0, -10.0, 91)
    y = wf.Query.build(wf.decimate(mix)).white
    c = wf.whiten(wf.decimate(cue))
    start, end = 12.5, 15.5  # the candidate's range, inside the use (11.0-17.8)
    ref_start = 5.0 + 1.5 * 1.03 + 0.02
    seg = wf.follow_stretch(y, c, 1.04, start, ref_start, end)
    assert seg is not None and seg.confidence >= wf.ACCEPT, seg
    # the line through the middle of the range (14 s: 3 s into the use) is the use's
    assert seg.tempo == 1.04 and abs(seg.ref_start + 1.5 * 1.04 - (5.0 + 3.0 * 1.03)) <= 0.01
    other = wf.whiten(wf.decimate(synth_music(8, 20.0)))
    for far in (wf.follow_stretch(y, other, 1.04, start, ref_start, end),
                wf.follow_stretch(y, c, 1.04, start, ref_start + 4.0, end)):
        assert far is None or far.confidence < wf.REVIEW, far


def test_a_phase_vocoder_stretch_of_a_voice_is_measured_by_its_spectral_change() -> None:
    """rubberband (a phase vocoder) stretches 7 s of a voice to 103 %, mixed 6 dB under
    music and dialogue. Along the candidate's line, how its short-time spectra change
    stands over the same measure with the line moved by a match's margin, on top of the
    grains'; another voice on that line, or this one moved 4 s, is nothing by either
    measure."""
    voice = synth_voice(20.0, 5)
    used = ffmpeg_filter(voice[int(5.0 * SR):int(12.0 * SR)], SR, "rubberband=tempo=1.03")
    mix = _mix(30.0, used, 11.0, -6.0, 91)
    y = wf.Query.build(wf.decimate(mix)).white
    c = wf.whiten(wf.decimate(voice))
    start, end = 12.5, 15.5
    ref_start = 5.0 + 1.5 * 1.03 + 0.02
    seg = wf.follow_stretch(y, c, 1.04, start, ref_start, end)
    assert seg is not None and seg.confidence >= wf.ACCEPT, seg
    assert seg.spectral >= wf.SPEC_ACCEPT, seg
    other = wf.whiten(wf.decimate(synth_voice(20.0, 99)))
    for far in (wf.follow_stretch(y, other, 1.04, start, ref_start, end),
                wf.follow_stretch(y, c, 1.04, start, ref_start + 4.0, end)):
        assert far is None or (far.confidence == 0.0 and far.spectral < 0.5 * wf.SPEC_ACCEPT), far


def test_an_area_search_finds_what_the_whole_search_finds_there_and_nothing_elsewhere(
        cue: np.ndarray) -> None:
    used = cue[int(6.0 * SR):int(11.0 * SR)]
    mix = _mix(80.0, used, 61.0, -15.0, 44)  # past the first 32.8 s block
    q = wf.Query.build(wf.decimate(mix))
    entry = wf.whiten(wf.decimate(cue))
    (whole,) = wf.search(q, [(1, entry)])
    r = wf.RATE
    there = wf.Area(55 * r, 70 * r, 0, 15 * r)  # around where a landmark candidate put it
    (seg,) = wf.search(q, [(1, entry)], {1: [there]})
    assert (seg.offset, seg.start, seg.end, seg.z, seg.ratio) == (
        whole.offset, whole.start, whole.end, whole.z, whole.ratio)
    # the right time in the deliverable but other registered seconds, the right seconds at
    # another time, or no area for the entry: not searched, not found
    for areas in ({1: [wf.Area(55 * r, 70 * r, 14 * r, 20 * r)]},
                  {1: [wf.Area(0, 20 * r, 0, 15 * r)]}, {2: [there]}):
        assert wf.search(q, [(1, entry)], areas) == []


def test_three_seconds_at_minus_10_db_is_found(cue: np.ndarray) -> None:
    used = cue[int(12.0 * SR):int(15.0 * SR)]
    (seg,) = _search(_mix(30.0, used, 9.0, -10.0, 50), {1: cue})
    assert seg.start == pytest.approx(9.0, abs=0.3) and seg.end == pytest.approx(12.0, abs=0.3)
    assert seg.confidence >= wf.ACCEPT


def test_unrelated_music_and_dialogue_find_nothing(cue: np.ndarray) -> None:
    same_key = synth_music(3, 30.0, notes_seed=1234)  # the cue's key, tempo and timbre
    bed = _bed(30.0, 60)
    assert _search(same_key, {1: cue}) == []
    assert _search(bed, {1: cue}) == []


def test_a_speed_change_is_out_of_the_speed_1_search(cue: np.ndarray) -> None:
    """Varispeed moves every sample: only ``follow`` (from a landmark hint) lines them up."""
    used = audio_fp.varispeed(cue[int(4.0 * SR):int(12.0 * SR)], 1.02)
    assert _search(_mix(30.0, used, 10.0, -6.0, 70), {1: cue}) == []


def _follow(mix8k: np.ndarray, entry8k: np.ndarray, speed: float, start: float,
            ref_start: float, end: float) -> wf.Segment | None:
    y = wf.Query.build(wf.decimate(mix8k)).white
    return wf.follow(y, wf.whiten(wf.decimate(entry8k)), speed, start, ref_start, end)


@pytest.mark.parametrize(("speed", "hint"), [(25 / 24, 1.04), (0.96, 0.96),
                                             (1000 / 1001, 1.0)])
def test_follow_finds_a_speed_change_10_db_under_a_mix(cue: np.ndarray, speed: float,
                                                       hint: float) -> None:
    """A PAL speed-up, a varispeed and a pull-down, from a landmark hint on the 1 % grid
    whose start and offset are a frame or two off: the exact speed, offset and edges."""
    used = audio_fp.varispeed(cue[int(5.0 * SR):], speed)[:int(6.0 * SR)]
    mix = _mix(40.0, used, 21.0, -10.0, 80)
    assert _search(mix, {1: cue}) == []  # the speed-1 search does not line it up
    seg = _follow(mix, cue, hint, 22.06, 5.0 + 1.06 * hint, 25.5)
    assert seg is not None and seg.confidence >= wf.ACCEPT
    assert seg.speed == pytest.approx(speed, abs=5e-5)
    assert seg.start == pytest.approx(21.0, abs=0.3) and seg.end == pytest.approx(27.0, abs=0.3)
    assert seg.ref_start == pytest.approx(5.0, abs=0.3)
    assert seg.ref_end == pytest.approx(5.0 + 6.0 * speed, abs=0.3)


def test_follow_finds_nothing_in_unrelated_sound(cue: np.ndarray) -> None:
    """A hint the landmarks drew from same-key music or dialogue leads nowhere."""
    same_key = synth_music(3, 30.0, notes_seed=1234)
    for where in (same_key, _bed(30.0, 90)):
        for hint in (0.98, 1.0, 1.04):
            seg = _follow(where, cue, hint, 10.0, 4.0, 16.0)
            assert seg is None or seg.confidence < wf.REVIEW, (hint, seg)


def test_short_and_silent_inputs() -> None:
    assert wf.whiten(np.zeros(0, np.float32)).size == 0
    silent = np.zeros(10 * SR, np.float32)
    assert _search(silent, {1: synth_music(5, 10.0)}) == []
    assert _search(synth_music(5, 2.0), {1: synth_music(5, 10.0)}) == []  # 2 s: too short
    assert _search(synth_music(5, 10.0), {1: silent}) == []
    assert _search(synth_music(5, 10.0), {1: synth_music(5, 2.0)}) == []  # entry too short


def test_hints_are_followed_strongest_first_once_per_use(cue: np.ndarray) -> None:
    """``matcher.follow_hints``: the weaker copies of a use (neighbouring speed steps) and
    candidates under ``HINT_EXCESS`` cost nothing once the use is found."""
    from detectors.fingerprint import audio_match as am
    from detectors.fingerprint import matcher

    used = audio_fp.varispeed(cue[int(5.0 * SR):], 0.96)[:int(6.0 * SR)]
    mix = _mix(40.0, used, 21.0, -10.0, 80)
    q = wf.Query.build(wf.decimate(mix))
    heard = wf.Heard(wf.search(q, []), q.white.astype(np.float16))
    tracks = {1: [wf.whiten(wf.decimate(cue))], 2: [wf.whiten(wf.decimate(synth_music(8, 20.0)))]}

    def hint(entry: int, speed: int, excess: float) -> am.Segment:
        s = am.Segment(entry, speed, 0, int(excess) + 1, 21.5, 26.5, 5.0 + 0.5 * speed / 1000,
                       10.0, 0.0, 1.0, 10, 5.0)
        s.chance = (s.hits - excess) / am.CHANCE_WEIGHT
        return s

    calls: list[tuple[int, float]] = []
    real = wf.follow

    def spy(y: np.ndarray, c: np.ndarray, speed: float, *a: float) -> wf.Segment | None:
        calls.append((len(c), speed))
        return real(y, c, speed, *a)

    hints = [hint(1, 970, 6.0), hint(1, 960, 9.0), hint(2, 1000, 5.0), hint(1, 1000, 3.0)]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(wf, "follow", spy)
        (seg,) = matcher.follow_hints(heard, tracks, hints, 40.0)
    assert seg.entry == 1 and seg.speed == pytest.approx(0.96, abs=5e-5)
    # the strongest hint found the use; its 970 copy was skipped, entry 2 was tried, and
    # the candidate under HINT_EXCESS was not
    assert [s for _, s in calls] == [0.96, 1.0]


def test_a_stretched_candidate_is_verified_by_its_grains_and_a_refused_one_blocks_nothing(
        cue: np.ndarray) -> None:
    """``matcher.follow_hints`` with candidates at tempo variants: a 3 % time stretch 10 dB
    under a mix, named at the 1.04 variant, comes back verified by its grains at that
    factor with its pitch unmoved (speed 1); the same range named for another cue does
    not. A stretch the grains refuse does not stop a varispeed of that entry there
    from being followed."""
    from detectors.fingerprint import audio_match as am
    from detectors.fingerprint import matcher

    def hint(entry: int, speed: int, tempo: float, excess: float, ref_start: float
             ) -> am.Segment:
        s = am.Segment(entry, speed, 0, int(excess) + 1, 12.5, 15.5, ref_start,
                       ref_start + 3.0, 0.0, 1.0, 10, 3.0, tempo=tempo)
        s.chance = (s.hits - excess) / am.CHANCE_WEIGHT
        return s

    tracks = {1: [wf.whiten(wf.decimate(cue))], 2: [wf.whiten(wf.decimate(synth_music(8, 20.0)))]}
    used = ffmpeg_filter(cue[int(5.0 * SR):int(12.0 * SR)], SR, "atempo=1.03")
    q = wf.Query.build(wf.decimate(_mix(30.0, used, 11.0, -10.0, 91)))
    heard = wf.Heard(wf.search(q, []), q.white.astype(np.float16))
    hints = [hint(1, 1000, 1.04, 9.0, 5.0 + 1.5 * 1.03 + 0.02), hint(2, 1000, 0.96, 8.0, 6.0)]
    (seg,) = matcher.follow_hints(heard, tracks, hints, 30.0)
    assert seg.entry == 1 and seg.speed == 1.0 and seg.tempo == 1.04
    assert seg.confidence >= wf.ACCEPT

    used = audio_fp.varispeed(cue[int(5.0 * SR):], 0.96)[:int(6.0 * SR)]
    q = wf.Query.build(wf.decimate(_mix(30.0, used, 11.0, -10.0, 80)))
    heard = wf.Heard(wf.search(q, []), q.white.astype(np.float16))
    hints = [hint(1, 1000, 1.04, 9.0, 5.0 + 1.5 * 0.96), hint(1, 960, 1.0, 6.0, 5.0 + 1.5 * 0.96)]
    (seg,) = matcher.follow_hints(heard, tracks, hints, 30.0)
    assert seg.tempo == 1.0 and seg.speed == pytest.approx(0.96, abs=5e-5)


def test_resampling_computes_what_numpy_interp_computes() -> None:
    """``_resample`` reads the two neighbours of each position instead of searching all of
    the entry's sample positions (``np.interp``); the samples must be the same, bit for bit,
    before, inside, at the last sample of and past the entry."""
    rng = np.random.default_rng(3)
    for _ in range(300):
        c = rng.normal(0, 1, int(rng.integers(2, 3000))).astype(np.float32)
        start = float(rng.uniform(-50, len(c) + 20))
        if rng.random() < 0.2:
            start = float(int(start))
        speed = float(rng.uniform(0.9, 1.1))
        n = int(rng.integers(1, 2000))
        t = start + np.arange(n) * speed
        want = np.interp(t, np.arange(len(c)), c, left=0.0, right=0.0).astype(np.float32)
        assert np.array_equal(wf._resample(c, start, speed, n), want)
    c = np.arange(5, dtype=np.float32)
    assert wf._resample(c, 2.0, 1.0, 4).tolist() == [2.0, 3.0, 4.0, 0.0]  # last, then past
