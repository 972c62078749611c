"""Matched-filter search: registered audio found by its waveform, far under a mix.

Why a second audio front end: landmarks need a cue's spectral peaks to stay peaks, and 15 dB
under dialogue most of them do not (``bench/results/audio-rule.md``: VO at -15 dB in a mix,
1 of 10 found). A mix is a sum, though: the registered samples are still in it, scaled.
Correlating the whitened registered waveform with the whitened deliverable integrates over
seconds (a 6 s window at 4 kHz is 24,000 samples), which lifts a cue 15 dB down to 10-40
deviations of the correlation's own noise. Both sides are whitened (each divided by its own
smoothed spectrum) so that the bass of one and the tilt of the other do not decide the score.

A change of speed (varispeed, PAL speed-up, pull-down) moves every sample, so the search
above runs at speed 1 only; ``follow`` lines a use up again at its own speed, starting from a
landmark candidate that names the entry, a speed on the landmarks' 1 % grid and an offset.
A pitch-preserving time stretch stays the landmarks' job. The whole speed-1 search's cost
grows with the register's audio (every window is correlated with the whole deliverable), so
past ``matcher.WAVEFORM_FULL_S`` it keeps to ``Area``s that weak landmark candidates name;
following costs about 0.1 s a candidate.

Pure NumPy/OpenCV over mono float32 at ``RATE``; the deliverable's proxy is collected while
its landmarks are computed (``audio.Landmarks.proxy``), the register's at registration
(``store`` keeps it as 16-bit samples).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

RATE = 4000  # proxy rate: speech and music carry their energy under 2 kHz; half of 8 kHz's cost
WINDOW = 6 * RATE  # registered audio is searched in 6 s windows ...
HOP = 3 * RATE  # ... every 3 s: any 3 s stretch of an entry lies whole in one window
MIN_WINDOW = int(2.5 * RATE)  # shorter entries are not searched (a use must last 2.5 s)
BLOCK = 1 << 17  # samples of deliverable per transform (32.8 s)
LOW_HZ, HIGH_HZ = 60.0, 1900.0  # band kept after whitening (under the proxy filter's roll-off)
SMOOTH_HZ = 25.0  # width of the spectrum smoothing that whitening divides by
CHUNK = RATE // 4  # a found segment's edges move in 0.25 s steps
RUN = 4  # ... judged over 1 s (4 chunks) at a time
RUN_Z = 3.0  # a second of the window's offset with this z or more extends the segment
GAP_RUNS = 2  # seconds below RUN_Z (or silent in the entry) that end a segment
EDGE_NOISE = 2.0  # a grown segment's edge chunks count as in it above this many noise sigmas
EDGE_REACH = 4 * CHUNK  # then each edge is placed this far either side ...
EDGE_GAIN = 2 * RATE  # ... with the use's gain measured over this much inside it
EDGE_STEP = RATE // 200  # ... on a 5 ms grid
EDGE_WINDOW = RATE // 16  # ... from spectra of 64 ms frames
EDGE_SMOOTH = 5  # ... each frequency weighed by the unexplained power over 5 frames
EDGE_FLOOR = 0.05  # ... or this share of the median over all frequencies, if more
EDGE_GAIN_BINS = 5  # the use's gain is measured per frequency, over this many neighbours
NOISE_LAGS = 48  # other offsets that measure a segment's noise level
CANDIDATE_Z = 5.5  # window peaks at least this high are verified (in units of 1/sqrt(n))
# A window's peak is compared with its next highest within RIVAL_S at other offsets. Music
# built from the same sounds (one instrument's note or drum sample, one synthetic voice's
# word) correlates for a moment at every beat or word it shares, so its best peak has rivals
# nearly as high; a real use stands alone. A second use of the same cue more than RIVAL_S
# away is no rival.
RIVAL_S = 10.0
# peak / rival of a match (``ai``): the middle of the TUNE split's gap, where unrelated
# sound reached 2.07 and real uses started at 2.92 (bench/results/audio-rule.md)
RATIO_ACCEPT = 2.5
MAX_CANDIDATES = 16  # per entry, strongest first
MIN_SECONDS = 2.5  # a segment this long at least (the shortest audio use is 3 s)
ACCEPT_Z = 10.0  # segment z of a match (``ai``): real uses in the TUNE split start at 16.6
ACCEPT = 0.5  # confidence at ACCEPT_Z and RATIO_ACCEPT (as ``audio_match.ACCEPT``)
REVIEW = 0.35  # ... and the grey band's floor (z 7, ratio 2.05)
RATIO_FLOOR = 1.0 + REVIEW / ACCEPT * (RATIO_ACCEPT - 1.0)  # a lower ratio is never reported


@dataclass
class Segment:
    """One stretch of the deliverable where an entry's waveform is present."""

    entry: int
    offset: int  # deliverable sample = entry sample + offset (at RATE)
    start: float  # seconds in the deliverable
    end: float
    ref_start: float  # seconds in the registered audio
    ref_end: float
    z: float  # the segment's correlation in units of its noise at other offsets
    ncc: float  # its normalised correlation (the registered share of the mix, roughly)
    ratio: float = 0.0  # its best window's peak over that window's rival peak
    confidence: float = 0.0
    speed: float = 1.0  # the deliverable plays the entry this many times as fast (``follow``)
    tempo: float = 1.0  # ... in time only: a time stretch (``follow_stretch``)
    spectral: float = 0.0  # a time stretch's margin by its spectral change (``follow_stretch``)


@dataclass
class Heard:
    """What the waveform search made of one sound: its segments, and the whitened sound (half
    precision: 29 MB per track-hour) that following a speed change (``follow``) searches
    again once the landmark look-up has named the hints."""

    segments: list[Segment]
    white: np.ndarray


@dataclass(frozen=True)
class Area:
    """Where to look for one entry (samples at ``RATE``): deliverable ``[lo, hi)`` and
    registered ``[ref_lo, ref_hi)``. Given areas, ``candidates`` correlates only the entry's
    windows that overlap the registered range, and each only with the deliverable's blocks
    that overlap the deliverable range: what the whole search computes there, so its findings
    in an area are the same, at a cost that no longer grows with the register or the
    deliverable (``matcher``'s short list)."""

    lo: int
    hi: int
    ref_lo: int
    ref_hi: int


def hear(proxy: np.ndarray, entries: list[tuple[int, np.ndarray]],
         areas: dict[int, list[Area]] | None = None) -> Heard:
    """``search`` over one sound's proxy (only ``areas`` if given), keeping its whitened
    samples for ``follow``."""
    q = Query.build(proxy)
    return Heard(search(q, entries, areas), q.white.astype(np.float16))


def decimate(x8: np.ndarray) -> np.ndarray:
    """8 kHz analysis samples to the proxy rate (low-pass, every second sample)."""
    from detectors.fingerprint import audio as audio_fp  # noqa: PLC0415 - avoids a cycle

    rs = audio_fp.Resampler(2 * RATE, RATE)
    y = np.concatenate([rs.feed(np.asarray(x8, np.float32)), rs.flush()])
    return y[: len(x8) // 2].astype(np.float32)


def _spectrum_weights(power: np.ndarray, n: int) -> np.ndarray:
    """1/sqrt(smoothed power) over the kept band, zero outside it."""
    width = max(3, int(SMOOTH_HZ * n / RATE) | 1)
    c = np.cumsum(np.r_[0.0, power])
    half = width // 2
    lo = np.clip(np.arange(len(power)) - half, 0, len(power))
    hi = np.clip(np.arange(len(power)) + half + 1, 0, len(power))
    smooth = (c[hi] - c[lo]) / (hi - lo)
    freq = np.arange(len(power)) * RATE / n
    band = (freq >= LOW_HZ) & (freq <= HIGH_HZ)
    floor = 1e-6 * float(smooth[band].max()) if band.any() else 0.0
    w = np.zeros(len(power))
    w[band] = 1.0 / np.sqrt(np.maximum(smooth[band], floor) + 1e-30)
    return w


def whiten(x: np.ndarray) -> np.ndarray:
    """``x`` divided by its own smoothed spectrum (one transform of the whole signal)."""
    if len(x) == 0:
        return np.zeros(0, np.float32)
    n = 1 << int(np.ceil(np.log2(len(x))))
    spec = np.fft.rfft(x.astype(np.float64), n)
    spec *= _spectrum_weights(np.abs(spec) ** 2, n)
    return np.fft.irfft(spec, n)[: len(x)].astype(np.float32)


def _ccs(spec: np.ndarray, n: int) -> np.ndarray:
    """A NumPy half spectrum in OpenCV's packed real layout (for ``_times`` and ``idft``)."""
    out = np.empty((1, n), np.float32)
    out[0, 0] = spec[0].real
    out[0, 1:-1:2] = spec[1:-1].real
    out[0, 2:-1:2] = spec[1:-1].imag
    out[0, -1] = spec[-1].real
    return out


def _inverse_energy(d: np.ndarray, size: int, count: int) -> np.ndarray:
    """1 / the root energy of ``d`` (float64) over ``size`` samples from each of its first
    ``count`` samples (0 where silent): what normalises a correlation placed there."""
    e = np.cumsum(np.r_[0.0, d * d])
    loc = np.sqrt(np.maximum(e[size:size + count] - e[:count], 0.0))
    return np.where(loc > 1e-9, 1.0 / np.maximum(loc, 1e-9), 0.0).astype(np.float32)


def _norm(x: np.ndarray) -> float:
    """The Euclidean norm, summed in double precision by einsum: NumPy's dot goes to BLAS,
    whose threads contend with the scan's other workers (1.7 ms a call for 24,000 samples on
    a loaded 2-core machine, 3 ms a follow; einsum stays on this thread)."""
    return float(np.sqrt(np.einsum("i,i->", x, x, dtype=np.float64)))


def _rival(v: np.ndarray, k: int) -> float:
    """The highest of ``v`` within ``RIVAL_S`` of ``k`` but over 0.25 s from it (0 if none):
    the peak at ``k``'s rival (see ``RATIO_ACCEPT``)."""
    reach, spare = int(RIVAL_S * RATE), RATE // 4
    ring = np.r_[v[max(0, k - reach):max(0, k - spare)], v[k + spare + 1:k + reach + 1]]
    return float(ring.max()) if len(ring) else 0.0


def _conj(spec: np.ndarray) -> np.ndarray:
    """The complex conjugate of a packed real spectrum (imaginary parts negated)."""
    out = spec.copy()
    out[0, 2:-1:2] *= -1
    return out


def _times(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``a * b`` of two packed real spectra (1 x n, n even) into ``out``. Between the real DC
    and Nyquist terms the layout is interleaved (re, im) pairs, so NumPy multiplies them as
    complex numbers: a tenth of ``cv2.mulSpectrums``' time, a third of the search's before."""
    np.multiply(a[0, 1:-1].view(np.complex64), b[0, 1:-1].view(np.complex64),
                out=out[0, 1:-1].view(np.complex64))
    out[0, 0] = a[0, 0] * b[0, 0]
    out[0, -1] = a[0, -1] * b[0, -1]
    return out


@dataclass
class Query:
    """The deliverable, whitened block by block, with each block's spectrum."""

    white: np.ndarray  # the whole whitened proxy
    blocks: list[tuple[int, np.ndarray, np.ndarray]]  # (start, packed spectrum, 1/energy)
    n: int  # transform length

    @classmethod
    def build(cls, proxy: np.ndarray) -> Query:
        if len(proxy) < WINDOW:  # shorter than a window: silence after it
            proxy = np.pad(proxy, (0, WINDOW - len(proxy)))
        n = BLOCK if len(proxy) + WINDOW > BLOCK // 2 else \
            1 << int(np.ceil(np.log2(len(proxy) + WINDOW)))
        step = n - WINDOW
        white = np.zeros(len(proxy), np.float32)
        blocks = []
        for s in range(0, max(len(proxy) - WINDOW, 0) + 1, step):
            seg = proxy[s:s + n].astype(np.float64)
            spec = np.fft.rfft(seg, n)
            spec *= _spectrum_weights(np.abs(spec) ** 2, n)
            yw = np.fft.irfft(spec, n)[: len(seg)]
            white[s:s + len(seg)] = yw
            valid = min(step, len(seg) - WINDOW + 1)  # every block holds a window at least
            blocks.append((s, _ccs(spec, n), _inverse_energy(yw, WINDOW, valid)))
        return cls(white, blocks, n)


def _windows(entry: np.ndarray) -> list[int]:
    """Window starts over a whitened entry: every HOP, the last one flush with its end."""
    if len(entry) < MIN_WINDOW:
        return []
    if len(entry) <= WINDOW:
        return [0]
    starts = list(range(0, len(entry) - WINDOW + 1, HOP))
    if starts[-1] + WINDOW < len(entry):
        starts.append(len(entry) - WINDOW)
    return starts


def _blocks_for(q: Query, a: int, areas: list[Area] | None
                ) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """The deliverable's blocks that window ``a`` of an entry is correlated with: all of
    them, or those overlapping an area whose registered range the window overlaps."""
    if areas is None:
        return q.blocks
    near = [ar for ar in areas if a < ar.ref_hi and a + WINDOW > ar.ref_lo]
    return [b for b in q.blocks
            if any(b[0] < ar.hi and b[0] + len(b[2]) - 1 + WINDOW > ar.lo for ar in near)]


def candidates(q: Query, entry: np.ndarray, areas: list[Area] | None = None
               ) -> list[tuple[float, int, int, float]]:
    """(z, offset, window start, ratio) of the strongest window peaks of one whitened entry
    over the deliverable (or in ``areas``), above ``CANDIDATE_Z``, one per offset (within a
    few samples), strongest first. z is the normalised correlation in units of
    1/sqrt(window length) (its spread where nothing matches is about 1); ratio is the peak
    over the window's next highest peak within ``RIVAL_S`` at another offset (see
    ``RATIO_ACCEPT``)."""
    found: dict[int, tuple[float, int, float]] = {}
    # buffers reused for every window and block: fresh half-megabyte arrays cost more in
    # page faults than the arithmetic done in them
    padded, prod = np.zeros((1, q.n), np.float32), np.empty((1, q.n), np.float32)
    corr = np.empty((1, q.n), np.float32)
    v_buf = np.empty(q.n, np.float32)
    for a in _windows(entry):
        blocks = _blocks_for(q, a, areas)
        c = entry[a:a + WINDOW]
        norm = _norm(c) if blocks else 0.0
        if norm <= 1e-9:
            continue
        padded[0, :len(c)] = c
        padded[0, len(c):] = 0.0
        cconj = _conj(cv2.dft(padded))
        scale = float(np.sqrt(len(c))) / norm
        best: tuple[float, int, float] | None = None
        for s, yspec, inv in blocks:
            cv2.idft(_times(yspec, cconj, prod), corr,
                     flags=cv2.DFT_REAL_OUTPUT | cv2.DFT_SCALE)
            v = np.multiply(corr[0, :len(inv)], inv, out=v_buf[:len(inv)])
            k = int(np.argmax(v))
            z = float(v[k]) * scale
            if z < CANDIDATE_Z or (best is not None and z <= best[0]):
                continue
            best = (z, s + k - a, z / max(_rival(v, k) * scale, 1.0))
        if best is not None:
            z, off, ratio = best
            key = next((o for o in found if abs(o - off) <= 4), off)
            if z > found.get(key, (0.0, 0, 0.0))[0]:
                found[key] = (z, a, ratio)
    return sorted(((z, o, a, ratio) for o, (z, a, ratio) in found.items()),
                  reverse=True)[:MAX_CANDIDATES]


def _profile(y: np.ndarray, c: np.ndarray, offset: int, lo: int, hi: int
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per 0.25 s chunk of entry samples [lo, hi): dot, entry energy and deliverable energy
    with the entry placed at ``offset`` (the deliverable read circularly, so that the other
    offsets that measure noise never run off its ends)."""
    m = (hi - lo) // CHUNK
    cc = c[lo:lo + m * CHUNK].reshape(m, CHUNK)
    at = (lo + offset) % len(y)
    if at + m * CHUNK <= len(y):
        yy = y[at:at + m * CHUNK]
    else:
        yy = np.take(y, np.arange(at, at + m * CHUNK), mode="wrap")
    yy = yy.reshape(m, CHUNK)
    return (np.einsum("ij,ij->i", cc, yy, dtype=np.float64),
            np.einsum("ij,ij->i", cc, cc, dtype=np.float64),
            np.einsum("ij,ij->i", yy, yy, dtype=np.float64))


def _ncc(d: np.ndarray, ec: np.ndarray, ey: np.ndarray) -> float:
    den = float(np.sqrt(ec.sum() * ey.sum()))
    return float(d.sum()) / den if den > 0 else 0.0


def _runs(d: np.ndarray, ec: np.ndarray, ey: np.ndarray) -> np.ndarray:
    """Normalised correlation of every 1 s run of chunks."""
    k = np.ones(RUN)
    den = np.sqrt(np.convolve(ec, k, "valid") * np.convolve(ey, k, "valid"))
    return np.where(den > 0, np.convolve(d, k, "valid") / np.maximum(den, 1e-30), 0.0)


def _edges(a: int, b: int, d: np.ndarray, ec: np.ndarray, ey: np.ndarray,
           noise: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> tuple[int, int]:
    """Chunks [a, b) of a grown segment with each edge moved by up to 1 s inward to where the
    chunks' correlation stops exceeding ``EDGE_NOISE`` times its noise (a 1 s run that
    straddles an edge still scores, so growing alone leaves up to 1 s of the neighbouring
    sound in)."""
    def r(dd: np.ndarray, c1: np.ndarray, c2: np.ndarray) -> np.ndarray:
        den = np.sqrt(c1 * c2)
        return np.where(den > 0, dd / np.maximum(den, 1e-30), 0.0)
    sigma = float(np.sqrt(np.mean(np.concatenate([r(*n) for n in noise]) ** 2))) or 1.0
    loud = ec > 1e-4 * max(float(ec.max()), 1e-30)
    w = np.where(loud, r(d, ec, ey), 0.0) - EDGE_NOISE * sigma
    head = np.cumsum(w[a:a + RUN])  # dropping the first j chunks gains -head[j - 1]
    a += int(np.argmax(np.r_[0.0, -head]))
    tail = np.cumsum(w[max(a, b - RUN):b][::-1])
    b -= int(np.argmax(np.r_[0.0, -tail]))
    return a, b


def _frames(x: np.ndarray, step: int = EDGE_STEP) -> np.ndarray:
    """Short-time spectra of ``x``: ``EDGE_WINDOW`` Hann frames every ``step``."""
    frames = np.lib.stride_tricks.sliding_window_view(x, EDGE_WINDOW)[::step]
    return np.fft.rfft(frames * np.hanning(EDGE_WINDOW), axis=1)


def _moving_mean(x: np.ndarray, k: int, axis: int = 0) -> np.ndarray:
    """``x`` averaged over ``k`` neighbours along ``axis`` (zeros beyond its ends)."""
    pad = [(0, 0)] * x.ndim
    pad[axis] = (k // 2 + 1, k // 2)
    acc = np.cumsum(np.pad(x, pad), axis=axis)
    n = acc.shape[axis]
    return (np.take(acc, range(k, n), axis=axis) - np.take(acc, range(n - k), axis=axis)) / k


def _part(x: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """``x[lo:hi]`` in float64, zeros where that runs past either end: before an entry's
    start it is silent, and before a deliverable's start nothing can be heard of it."""
    out = np.zeros(hi - lo)
    a, b = max(lo, 0), min(hi, len(x))
    if b > a:
        out[a - lo:b - lo] = x[a:b]
    return out


def _edge_in(cc: np.ndarray, yy: np.ndarray, edge: int) -> int | None:
    """Where entry ``cc`` starts explaining deliverable ``yy`` (aligned, float64; the edge at
    sample ``edge`` of them, ``EDGE_REACH`` and a frame before it, ``EDGE_GAIN`` of the use
    after its reach), or None when the use does not correlate there.

    The log-likelihood of "present from frame k" sums, per frame and frequency,
    ``(Re((G C)* Y) - |G C|^2 / 2) / v``: ``G`` the use's complex gain at that frequency
    (over ``EDGE_GAIN``), ``v`` the power the entry leaves unexplained there, over
    ``EDGE_SMOOTH`` frames.

    Why a gain per frequency, not one number: it takes in an EQ, and the phase that a
    fraction of a sample's misalignment, or a followed speed's last 1e-5, turns at the
    top of the band (a followed +2 % varispeed's in point was 1.5 s late with one
    number, 0.07 s with this)."""
    inside = _frames(cc[edge + EDGE_REACH:], EDGE_WINDOW // 2)
    cross = (_frames(yy[edge + EDGE_REACH:], EDGE_WINDOW // 2) * np.conj(inside)).sum(axis=0)
    if float(cross.real.sum()) <= 0:
        return None
    gain = _moving_mean(cross, EDGE_GAIN_BINS) / np.maximum(
        _moving_mean((np.abs(inside) ** 2).sum(axis=0), EDGE_GAIN_BINS), 1e-30)
    first = edge - EDGE_REACH - EDGE_WINDOW // 2  # the frames centred within the reach
    span = slice(first, first + 2 * EDGE_REACH + EDGE_WINDOW)
    C, Y = _frames(cc[span]), _frames(yy[span])
    gc = gain * C
    left = _moving_mean(np.abs(Y - gc) ** 2, EDGE_SMOOTH)
    # A floor per frequency (a share of its median over the reach) kept a frequency that
    # the entry explains by chance for a moment from carrying an edge 0.3-0.4 s past a use,
    # but cost edges within a frame on TUNE (90/88 of 123 -> 84/84 at half the median,
    # 88/87 at a tenth): not kept
    left = np.maximum(left, EDGE_FLOOR * float(np.median(left)) + 1e-30)
    llr = ((gc.real * Y.real + gc.imag * Y.imag - 0.5 * np.abs(gc) ** 2) / left).sum(axis=1)
    tail = np.cumsum(llr[::-1])[::-1]  # tail[k]: present from frame k to the reach's end
    k = int(np.argmax(tail))
    # frame k is the first one in: the edge lies between its centre and the one before
    return first + k * EDGE_STEP + (EDGE_WINDOW - EDGE_STEP) // 2


def _fine_edges(y: np.ndarray, c: np.ndarray, offset: int, start: int, end: int
                ) -> tuple[int, int]:
    """The segment's edges (entry samples ``start``, ``end`` on the chunk grid) placed to
    ``EDGE_STEP`` within ``EDGE_REACH``: where the entry starts (stops) explaining the
    deliverable.

    Why: chunk edges are 0.25 s apart, which alone puts in and out points up to an eighth
    of a second off. Why weigh each frequency by what the rest of the mix puts there: music
    and dialogue hold their power in a few bands at a time, and the entry's other bands
    place the edge. A log-likelihood summed over samples, which sees the mix's average
    level only, put about half of the edges of ``bench/audio_edges.py``'s held-out split
    within a frame, this three-quarters (bench/results/audio-rule.md)."""
    first, last = max(0, -offset), min(len(c), len(y) - offset)  # where both files exist

    def place(edge: int, inward: int) -> int:
        # the reach either side of the edge, and the gain's stretch inside the segment
        if inward > 0:
            lo, hi = edge - EDGE_REACH - EDGE_WINDOW, min(edge + EDGE_REACH + EDGE_GAIN, end)
        else:
            lo, hi = max(edge - EDGE_REACH - EDGE_GAIN, start), edge + EDGE_REACH + EDGE_WINDOW
        if hi - lo < 2 * EDGE_REACH + EDGE_WINDOW + RATE // 4:
            return edge  # too little of the segment to measure its gain
        cc, yy = _part(c, lo, hi), _part(y, lo + offset, hi + offset)
        if inward > 0:
            at = _edge_in(cc, yy, edge - lo)
            return edge if at is None else max(lo + at, first)
        at = _edge_in(cc[::-1].copy(), yy[::-1].copy(), hi - edge)  # the out point mirrored
        return edge if at is None else min(hi - at, last)

    a, b = place(start, 1), place(end, -1)
    return (a, b) if b - a >= MIN_SECONDS * RATE else (start, end)


def verify(y: np.ndarray, c: np.ndarray, offset: int, anchor: int) -> Segment | None:
    """The segment around the window at ``anchor`` (entry samples) placed at ``offset``
    (deliverable = entry + offset): grown second by second while the correlation holds, and
    scored against the same stretch at ``NOISE_LAGS`` other offsets (within 2 s: music's
    beat and a voice's own rhythm correlate there too, so the noise they measure is the
    entry's own, not white noise's)."""
    lo = max(0, -offset)
    hi = min(len(c), len(y) - offset)
    if hi - lo < MIN_WINDOW:
        return None
    lo = lo + (anchor - lo) % CHUNK  # chunk grid through the anchor
    hi = lo + (hi - lo) // CHUNK * CHUNK
    d, ec, ey = _profile(y, c, offset, lo, hi)
    if len(d) < RUN:
        return None
    rng = np.random.default_rng(offset & 0xFFFF)
    shifts = (rng.integers(RATE // 8, 2 * RATE, NOISE_LAGS)
              * rng.choice((-1, 1), NOISE_LAGS)).tolist()
    # noise over the window and 10 s either side of it (its level is what matters here)
    near = (max(lo, anchor - 10 * RATE) - lo) // CHUNK
    far = min(len(d), (anchor + WINDOW + 10 * RATE - lo) // CHUNK)
    seg_lo = lo + near * CHUNK
    noise = [_profile(y, c, offset + s, seg_lo, lo + far * CHUNK) for s in shifts]
    sigma = float(np.sqrt(np.mean(np.array([_runs(*n) for n in noise]) ** 2))) or 1.0
    z1 = _runs(d, ec, ey) / sigma
    quiet = np.convolve(ec, np.ones(RUN), "valid") < 1e-4 * max(float(ec.max()), 1e-30)
    a0 = (anchor - lo) // CHUNK
    inside = z1[a0:a0 + WINDOW // CHUNK - RUN + 1]
    if len(inside) == 0 or float(inside.max()) < RUN_Z:
        return None
    best = a0 + int(np.argmax(inside))
    edges = []
    for step in (-1, 1):
        k, misses, edge = best, 0, best
        while 0 <= k + step < len(z1):
            k += step
            if z1[k] >= RUN_Z and not quiet[k]:
                edge, misses = k, 0
            else:
                misses += 1
                if misses >= GAP_RUNS * RUN:
                    break
        edges.append(edge)
    a, b = _edges(edges[0], edges[1] + RUN, d, ec, ey, noise)
    if (b - a) * CHUNK < MIN_SECONDS * RATE:
        return None
    # the score: the segment's correlation (its first minute at most) against the same
    # stretch at the other offsets
    sa, sb = a, min(b, a + 60 * RATE // CHUNK)
    ncc = _ncc(d[sa:sb], ec[sa:sb], ey[sa:sb])
    spread = [_ncc(*_profile(y, c, offset + s, lo + sa * CHUNK, lo + sb * CHUNK))
              for s in shifts]
    sd = float(np.sqrt(np.mean(np.square(spread)))) or 1.0
    start, end = lo + a * CHUNK, lo + b * CHUNK
    return Segment(0, offset, (start + offset) / RATE, (end + offset) / RATE, start / RATE,
                   end / RATE, round(ncc / sd, 2), round(ncc, 4))


def place_edges(y: np.ndarray, c: np.ndarray, seg: Segment) -> None:
    """Move a verified segment's edges from the chunk grid to where the entry ``c`` starts
    and stops explaining ``y`` (``_fine_edges``). Only for segments that may be reported:
    at 6-12 ms a segment, it would cost more than the search if done for every candidate."""
    start, end = _fine_edges(y, c, seg.offset, round(seg.ref_start * RATE),
                             round(seg.ref_end * RATE))
    seg.start, seg.end = (start + seg.offset) / RATE, (end + seg.offset) / RATE
    seg.ref_start, seg.ref_end = start / RATE, end / RATE


def score(z: float, ratio: float) -> float:
    """0-1 confidence from the weaker of the two measures: ``ACCEPT`` where z reaches
    ``ACCEPT_Z`` and the peak ``RATIO_ACCEPT`` times its rival, 1.0 at twice both margins."""
    strength = min(z / ACCEPT_Z, (ratio - 1.0) / (RATIO_ACCEPT - 1.0))
    return round(max(0.0, min(1.0, ACCEPT * strength)), 3)


def segments(q: Query, entries: list[tuple[int, np.ndarray]],
             areas: dict[int, list[Area]] | None = None) -> list[Segment]:
    """Every verified segment of whitened registered sound (entry id, samples; an entry may
    have several tracks) with its measures and confidence, no decision (for tuning). Given
    ``areas``, only an entry's areas are searched (none: not at all)."""
    out: list[Segment] = []
    for eid, c in entries:
        where = None if areas is None else areas.get(eid)
        if areas is not None and not where:
            continue
        for _z, off, anchor, ratio in candidates(q, c, where):
            if ratio < RATIO_FLOOR:
                continue
            seg = verify(q.white, c, off, anchor)
            if seg is None:
                continue
            seg.entry = eid
            seg.ratio = round(ratio, 2)
            seg.confidence = score(seg.z, seg.ratio)
            if seg.confidence >= REVIEW:  # ``decide`` drops the others
                place_edges(q.white, c, seg)
            out.append(seg)
    return out


def decide(segs: list[Segment]) -> list[Segment]:
    """The segments to report (confidence at least ``REVIEW``), strongest first, one per
    entry and stretch of the deliverable."""
    out: list[Segment] = []
    for seg in sorted(segs, key=lambda s: (-s.confidence, -s.z)):
        if seg.confidence < REVIEW:
            continue
        if any(k.entry == seg.entry and min(seg.end, k.end) - max(seg.start, k.start) > 0
               for k in out):
            continue
        out.append(seg)
    return out


def search(q: Query, entries: list[tuple[int, np.ndarray]],
           areas: dict[int, list[Area]] | None = None) -> list[Segment]:
    """``decide(segments(...))``: what a scan reports."""
    return decide(segments(q, entries, areas))


# -- following a speed change -----------------------------------------------------------------
# A varispeed, a PAL speed-up (25/24) or a pull-down (1000/1001) resamples the sound: the
# samples line up again once the entry is resampled by the same factor, but a 6 s window only
# stays coherent within about 1e-4 of it, so the search above (speed 1 only) cannot follow.
# The landmarks can: they are registered at 1 % steps over +-5 %, and a use under a mix that is
# too weak for them to call still leaves its speed and offset among their strongest candidates
# (a hint). Around a hint the speed is searched finely, then verified and scored as above.
SPEED_SPAN = 0.006  # +- around a hint's speed: half the landmarks' 1 % step, and some margin
COARSE = WINDOW // 2  # the sweep over that span: a 3 s window ...
COARSE_STEP = 1e-4  # ... every 1e-4 (its ends drift 0.15 ms at most: under 1/3 cycle at 1 kHz)
FINE_STEP = 2.5e-5  # then the 6 s window around the best speeds
FINE_KEEP = 3  # coarse speeds refined (a weak use's true speed may come second or third)
LAG_S = 0.5  # +- around a hint's offset (its anchors are 32 ms frames; its speed drifts)
FINE_LAG = RATE // 20  # +- around a coarse peak


def _resample(c: np.ndarray, start: float, speed: float, n: int) -> np.ndarray:
    """``n`` samples of ``c`` from sample ``start`` on, ``speed`` samples of it per sample
    (linear, 0 outside ``c``).

    Why not ``np.interp``: it needs the sample positions of all of ``c`` and searches them,
    so each call cost 1.1 ms on a 30 s entry and 39 ms on a 30 min one (a speed sweep makes
    dozens); this reads the two neighbours directly (0.22-0.24 ms either way) and computes
    what ``np.interp`` computes, bit for bit (checked on 3,000 random cases)."""
    t = start + np.arange(n) * speed
    if len(c) < 2:
        return np.interp(t, np.arange(len(c)), c, left=0.0, right=0.0).astype(np.float32)
    out = np.zeros(n, np.float64)
    inside = (t >= 0) & (t <= len(c) - 1)
    ti = t[inside]
    i = np.minimum(ti.astype(np.int64), len(c) - 2)
    c0 = c[i].astype(np.float64)
    out[inside] = (c[i + 1] - c0) * (ti - i) + c0
    return out.astype(np.float32)


class _Stretch:
    """A stretch of the whitened deliverable prepared for correlating many windows of one
    length with it (each placed at every sample in [lo, hi))."""

    def __init__(self, y: np.ndarray, size: int, lo: int, hi: int) -> None:
        self.size = size
        self.lo, hi = max(0, lo), min(len(y) - size + 1, hi)
        self.count = max(0, hi - self.lo)
        if self.count == 0:
            return
        d = y[self.lo:hi + size - 1].astype(np.float64)
        # at unit scale (the result is scale-free; whitened sound is around 1e-2, and its
        # spectra's products in single precision stay far from the bottom of the range)
        d /= max(float(np.sqrt(np.mean(d * d))), 1e-12)
        # circular correlation over n >= len(d) samples: placement k reads d[k:k + size],
        # which never wraps for k < count, so no more padding than that is needed
        self.n = 1 << int(np.ceil(np.log2(len(d))))
        dp = np.zeros((1, self.n), np.float32)
        dp[0, :len(d)] = d
        self.spec = cv2.dft(dp)
        self.inv = _inverse_energy(d, size, self.count)

    def z(self, w: np.ndarray) -> np.ndarray:
        """Normalised correlation of ``w`` (``size`` samples) at each placement, in z units
        (as ``candidates``: about 1 where nothing matches)."""
        nw = _norm(w)
        if self.count == 0 or nw <= 1e-9:
            return np.zeros(self.count, np.float32)
        wp = np.zeros((1, self.n), np.float32)
        wp[0, :self.size] = w * np.float32(np.sqrt(self.size) / nw)
        r = cv2.idft(_times(self.spec, _conj(cv2.dft(wp)), wp),
                     flags=cv2.DFT_REAL_OUTPUT | cv2.DFT_SCALE)[0, :self.count]
        return r * self.inv


def _sweep(y: np.ndarray, c: np.ndarray, tau: float, n: int, speeds: np.ndarray,
           lo: int, hi: int) -> list[tuple[float, int, float]]:
    """(z, deliverable sample, speed) of the best placement of ``n`` entry samples from
    ``tau`` on, resampled at each of ``speeds``, in deliverable samples [lo, hi)."""
    st = _Stretch(y, n, lo, hi)
    out = []
    for sigma in speeds:
        v = st.z(_resample(c, tau, float(sigma), n))
        if len(v):
            k = int(np.argmax(v))
            out.append((float(v[k]), st.lo + k, float(sigma)))
    return out


def follow(y: np.ndarray, c: np.ndarray, speed: float, start: float, ref_start: float,
           end: float) -> Segment | None:
    """The entry ``c`` (whitened) played ``speed`` times as fast (+-``SPEED_SPAN``) in the
    whitened deliverable ``y``, around a hint: deliverable second ``start`` is entry second
    ``ref_start`` and the use lasts to ``end``. A 3 s window sweeps the span, the 6 s window
    refines its best speeds; the segment (``verify``) and its peak ratio are then measured
    on a copy of the entry resampled to the best. ``ref_start`` and ``ref_end`` come back in
    the entry's own seconds."""
    n = min(WINDOW, len(y))
    if n < MIN_WINDOW or len(c) < MIN_WINDOW:
        return None
    mid = 0.5 * (start + end) * RATE
    a = int(min(max(0.0, mid - n / 2), len(y) - n))  # the deliverable window
    tau = (ref_start + (a / RATE - start) * speed) * RATE  # ... and the entry sample there
    lag, half = int(LAG_S * RATE), (n - COARSE) // 2
    coarse = _sweep(y, c, tau + half * speed, COARSE,
                    np.arange(speed - SPEED_SPAN, speed + SPEED_SPAN + 1e-9, COARSE_STEP),
                    a + half - lag, a + half + lag + 1)
    best = (0.0, 0, speed)
    picked: list[float] = []
    for _z, at_c, sc in sorted(coarse, reverse=True):
        if len(picked) >= FINE_KEEP:
            break
        if any(abs(sc - p) < 2.5 * COARSE_STEP for p in picked):
            continue
        picked.append(sc)
        # the coarse window started ``half * speed`` entry samples into the 6 s one
        at6 = at_c - int(round(half * speed / sc))
        for z, at, sigma in _sweep(y, c, tau, n, sc + FINE_STEP * np.arange(-4, 5),
                                   at6 - FINE_LAG, at6 + FINE_LAG + 1):
            if z > best[0]:
                best = (z, at, sigma)
    z, at, sigma = best
    if z < CANDIDATE_Z:
        return None
    # the entry resampled to the found speed: sample j of it is entry sample j * sigma, and
    # its sample tau / sigma lies at deliverable sample ``at``
    e = _resample(c, 0.0, sigma, int(len(c) / sigma))
    anchor = int(round(tau / sigma))
    offset = at - anchor
    j0, j1 = max(0, anchor), min(len(e), anchor + n)  # the window, within the entry
    if j1 - j0 < MIN_WINDOW:
        return None
    reach = int(RIVAL_S * RATE)
    st = _Stretch(y, j1 - j0, j0 + offset - reach, j0 + offset + reach + 1)
    v = st.z(e[j0:j1])
    k = j0 + offset - st.lo
    if not 0 <= k < len(v):
        return None
    ratio = float(v[k]) / max(_rival(v, k), 1.0)
    if ratio < RATIO_FLOOR:
        return None
    seg = verify(y, e, offset, j0)
    if seg is None:
        return None
    place_edges(y, e, seg)
    seg.ref_start, seg.ref_end = round(seg.ref_start * sigma, 3), round(seg.ref_end * sigma, 3)
    seg.speed = round(sigma, 5)
    seg.ratio = round(ratio, 2)
    seg.confidence = score(seg.z, seg.ratio)
    return seg


# -- edges of a time stretch ------------------------------------------------------------------
# A time stretch (WSOLA: ffmpeg's atempo, rubberband) builds the deliverable from short grains
# of the entry, each copied whole and laid a little further along than the one before, so
# the samples never line up over a window and the search above cannot see it; only the
# landmarks find it, and under a mix their range starts late and ends early by up to 0.7 s
# (bench/audio_edges.py). Within a grain the samples do line up. Each 64 ms frame of the
# deliverable is therefore correlated with the entry around where the stretch puts it, at
# the best of the lags within a grain's jitter: 0.4-0.5 inside a use 6 dB under a mix,
# about 0.1 outside it (TUNE).
GRAIN = RATE // 16  # samples per frame
GRAIN_STEP = RATE // 100  # ... one every 10 ms
GRAIN_LAG = RATE // 40  # ... each at its best lag within +-25 ms of the stretch's line
GRAIN_FIND = RATE // 8  # the line found first near each edge within +-125 ms
GRAIN_REACH = RATE  # an edge moves up to 1 s either way
GRAIN_CORE = 2 * RATE  # ... judged against 2 s of the use inside it
GRAIN_MARGIN = 0.1  # the use's median frame correlation over the outside's, or no move


def _grain_corr(y: np.ndarray, c: np.ndarray, at: np.ndarray, line: np.ndarray, lag: int
                ) -> tuple[np.ndarray, np.ndarray]:
    """Per deliverable frame starting at ``at``: the best normalised correlation with the
    entry frames starting within ``lag`` of ``line``, and that frame's lag (0, 0 where
    either file runs out). All frames in one batch of transforms."""
    best = np.zeros(len(at))
    where = np.zeros(len(at), np.int64)
    tau = np.rint(line).astype(np.int64)
    ok = (at >= 0) & (at + GRAIN <= len(y)) & (tau - lag >= 0) & (tau + lag + GRAIN <= len(c))
    if not ok.any():
        return best, where
    span = GRAIN + 2 * lag
    frames = y[at[ok, None] + np.arange(GRAIN)].astype(np.float64)
    windows = c[tau[ok, None] - lag + np.arange(span)].astype(np.float64)
    n = 1 << int(np.ceil(np.log2(span + GRAIN)))
    dots = np.fft.irfft(np.fft.rfft(windows, n) * np.conj(np.fft.rfft(frames, n)), n)
    dots = dots[:, :2 * lag + 1]  # dots[:, k]: the frame against the window from k
    energy = np.cumsum(np.pad(windows ** 2, ((0, 0), (1, 0))), axis=1)
    energy = energy[:, GRAIN:GRAIN + 2 * lag + 1] - energy[:, :2 * lag + 1]
    norm = np.einsum("ij,ij->i", frames, frames)
    r = dots / np.sqrt(np.maximum(energy, 1e-30) * np.maximum(norm, 1e-30)[:, None])
    r[norm <= 0] = 0.0
    k = np.argmax(r, axis=1)
    best[ok] = r[np.arange(len(k)), k]
    where[ok] = k - lag
    return best, where


def _line_shift(y: np.ndarray, c: np.ndarray, at: np.ndarray, line: np.ndarray
                ) -> tuple[float, int]:
    """(shift, frames): how far a stretch's ``line`` (entry samples) must move to where the
    frames at ``at`` say it runs, the median best lag within ``GRAIN_FIND`` of the better
    half of them, and how many lay within both files (0: no shift)."""
    r, lags = _grain_corr(y, c, at, line, GRAIN_FIND)
    ok = r != 0
    if not ok.any():
        return 0.0, 0
    return float(np.median(lags[ok][r[ok] >= np.median(r[ok])])), int(ok.sum())


def stretched_edges(y: np.ndarray, c: np.ndarray, start: float, end: float, ref_start: float,
                    rate: float) -> tuple[float, float]:
    """The deliverable's ``start`` and ``end`` (seconds) of a time-stretched use of entry
    ``c`` (whitened; ``y`` the whitened deliverable), which plays ``rate`` entry seconds a
    second from ``ref_start`` at ``start``, each moved to where the frames stop
    correlating (``GRAIN``). An edge stays where it is when the use does not stand out
    there by ``GRAIN_MARGIN``."""
    t0 = start * RATE

    def line(at: np.ndarray) -> np.ndarray:
        return ref_start * RATE + (at + GRAIN // 2 - t0) * rate - GRAIN // 2

    def place(edge: float, inward: int) -> float:
        near = np.arange(edge - GRAIN_REACH - (GRAIN_CORE if inward < 0 else 0),
                         edge + GRAIN_REACH + (GRAIN_CORE if inward > 0 else 0),
                         GRAIN_STEP).astype(np.int64)
        centre = near + GRAIN // 2
        core = centre > edge + GRAIN_REACH if inward > 0 else centre < edge - GRAIN_REACH
        outer = centre < edge - GRAIN_REACH / 2 if inward > 0 else \
            centre > edge + GRAIN_REACH / 2
        # where the stretch's line really runs near this edge (the landmarks' offset is on
        # 32 ms frames, and a stretch's factor is known to a percent)
        probe = near[core][::4]
        shift, n = _line_shift(y, c, probe, line(probe))
        if not n:
            return edge
        r, _ = _grain_corr(y, c, near, line(near) + shift, GRAIN_LAG)
        inside, outside = float(np.median(r[core])), float(np.median(r[outer]))
        if inside - outside < GRAIN_MARGIN:
            return edge
        w = r - 0.5 * (inside + outside)
        cand = np.nonzero(np.abs(centre - edge) <= GRAIN_REACH)[0]
        if inward > 0:  # present from frame k to the reach's end
            tail = np.cumsum(w[cand][::-1])[::-1]
            k = cand[int(np.argmax(tail))]
            return float(centre[k] - GRAIN_STEP / 2)
        head = np.cumsum(w[cand])  # present from the reach's start to frame k
        k = cand[int(np.argmax(head))]
        return float(centre[k] + GRAIN_STEP / 2)

    a, b = place(start * RATE, 1), place(end * RATE, -1)
    if b - a < MIN_SECONDS * RATE:
        return start, end
    return a / RATE, b / RATE


# -- a time stretch verified by its grains ------------------------------------------------
# The landmarks name a time stretch under a mix only weakly: a VO 10 dB under dialogue and
# music, stretched 3 % by rubberband, reached a match 3-5 times in 10 (bench/audio_rule.py),
# and the waveform search cannot line its samples up. Along the stretch's line its grains
# do line up: each 64 ms frame's best correlation within a grain's jitter has a median of
# 0.35-0.5 over a use 6 dB under a mix, against 0.1-0.2 for the same frames along the
# entry seconds away. ``follow_stretch`` measures that median around a landmark candidate
# at a tempo variant, against the same measure with the line moved along the entry.
# Entry seconds the line moves for that null, every 0.5 s to 3 s either way: against four
# (1.5 and 3 s) music of the cues' own instrument stood 0.107 and 0.124 over their highest
# (bench/register_negatives.py), against these twelve 0.083 and 0.091.
GRAIN_NULLS = tuple(0.5 * k for k in range(-6, 7) if k)
GRAIN_MIN_FRAMES = 25  # frames (every GRAIN_PROBE) within both files, or nothing is said
GRAIN_PROBE = 4 * GRAIN_STEP
GRAIN_ACCEPT = 0.17  # median over the null's highest for a match (``ACCEPT``) ...
GRAIN_REVIEW = 0.12  # ... and for the grey band (``REVIEW``)


def _grain_level(y: np.ndarray, c: np.ndarray, at: np.ndarray, line: np.ndarray
                 ) -> tuple[float, float]:
    """(level, shift): the median over the frames at ``at`` of their best correlation
    within a grain's jitter (``GRAIN_LAG``) of ``line`` moved by ``shift`` entry samples, to
    where the frames' best lags within ``GRAIN_FIND`` put it (a candidate's offset is on
    32 ms landmark frames); nan where too few frames lie within both files."""
    shift, n = _line_shift(y, c, at[::4], line[::4])
    if n < GRAIN_MIN_FRAMES // 4:
        return float("nan"), 0.0
    r, _ = _grain_corr(y, c, at, line + shift, GRAIN_LAG)
    ok = r != 0
    if ok.sum() < GRAIN_MIN_FRAMES:
        return float("nan"), shift
    return float(np.median(r[ok])), shift


# -- ... and by how its short-time spectra change ---------------------------------------------
# A phase vocoder (rubberband's default) gives every frame phases of its own, so its grains
# do not line up with the entry's samples even along the stretch's line: a VO stretched 3 %
# by rubberband 10 dB under a mix was found 6 times in 20, by the landmarks alone, and its
# grains stood under 0.12 over their nulls. Its short-time magnitude spectra keep the
# entry's, and so does how they change: each 64 ms frame's change of log spectrum over
# 20 ms (each band's mean and the frame's own mean taken out), against the entry's along
# the line, the best of +-20 ms. The spectra themselves are not used: a held chord has the
# same spectrum in any piece in its key, and music of a cue's own instrument and key stood
# 0.21-0.22 over the moved lines (bench/audio_rule.py, both splits), as high as the VO's
# uses. The change stood at most 0.077 there (0.033 on TUNE; 0.054 on a fresh split), the
# rubberband VO's uses in a mix 0.08-0.19. Music that holds its notes changes little, and
# its stretches stay the grains'. A second measure of the same candidate: its confidence is
# the better of the two. It reports a match only, no grey band of its own: in the offline
# negative set (bench/register_negatives.py) music of a registered cue's instrument stood
# 0.097 (its grains 0.091), where a grey band from 0.09 made it a review finding.
SPEC_N = 256  # samples a frame (64 ms at RATE) ...
SPEC_HOP = RATE // 100  # ... one every 10 ms
SPEC_BINS = (2, 120)  # 31-1,875 Hz
SPEC_JITTER = 2  # hops either side of the line
SPEC_ACCEPT = 0.12  # median over the null's highest for a match (confidence ``ACCEPT``, 1
# at twice as high); under it the spectral change says nothing


def _log_spectra(x: np.ndarray, first: int, count: int) -> np.ndarray:
    """Log power spectra (``SPEC_BINS``) of ``count`` frames of ``x`` from frame ``first``
    (``SPEC_HOP`` apart; frames past either end of ``x`` are zeros)."""
    lo = first * SPEC_HOP
    span = np.zeros((count - 1) * SPEC_HOP + SPEC_N, np.float64)
    a, b = max(0, lo), min(len(x), lo + len(span))
    if b > a:
        span[a - lo:b - lo] = x[a:b]
    frames = np.lib.stride_tricks.sliding_window_view(span, SPEC_N)[::SPEC_HOP][:count]
    power = np.abs(np.fft.rfft(frames * np.hanning(SPEC_N), axis=1)) ** 2
    return np.log(power[:, SPEC_BINS[0]:SPEC_BINS[1]] + 1e-6)


def _changes(x: np.ndarray, first: int, count: int) -> np.ndarray:
    """How the log spectra (``_log_spectra``) of ``count`` frames from frame ``first``
    change: each frame's next minus its previous."""
    s = _log_spectra(x, first - 1, count + 2)
    return s[2:] - s[:-2]


def _unit_rows(m: np.ndarray) -> np.ndarray:
    """Each band's mean over ``m`` out, then each frame's; rows scaled to unit length."""
    m = m - m.mean(axis=0)
    m -= m.mean(axis=1, keepdims=True)
    return m / (np.linalg.norm(m, axis=1, keepdims=True) + 1e-9)


def _spectral_margins(y: np.ndarray, c: np.ndarray, at: np.ndarray, lines: list[np.ndarray]
                      ) -> list[float]:
    """For each of ``lines`` (entry samples, one per deliverable frame starting at ``at``):
    the median over the frames within both files of their best correlation of spectral
    change (``_changes``) within ``SPEC_JITTER`` hops of the line (nan where under
    ``GRAIN_MIN_FRAMES`` are)."""
    k = np.rint(at / SPEC_HOP).astype(np.int64)
    dv = _unit_rows(_changes(y, int(k[0]), int(k[-1] - k[0]) + 1))[k - k[0]]
    inside = (at >= 0) & (at + SPEC_N <= len(y))
    hops = [np.rint(line / SPEC_HOP).astype(np.int64) for line in lines]
    lo = int(min(h.min() for h in hops)) - SPEC_JITTER
    hi = int(max(h.max() for h in hops)) + SPEC_JITTER + 1
    lo, hi = max(lo, 1), min(hi, (len(c) - SPEC_N) // SPEC_HOP)
    if hi - lo < GRAIN_MIN_FRAMES:
        return [float("nan")] * len(lines)
    ent = _unit_rows(_changes(c, lo, hi - lo))
    out = []
    for h in hops:
        ok = inside & (h - SPEC_JITTER >= lo) & (h + SPEC_JITTER < hi)
        if ok.sum() < GRAIN_MIN_FRAMES:
            out.append(float("nan"))
            continue
        best = np.max([np.einsum("ij,ij->i", dv[ok], ent[h[ok] + j - lo])
                       for j in range(-SPEC_JITTER, SPEC_JITTER + 1)], axis=0)
        out.append(float(np.median(best)))
    return out


def follow_stretch(y: np.ndarray, c: np.ndarray, rate: float, start: float,
                   ref_start: float, end: float) -> Segment | None:
    """The entry ``c`` (whitened) time-stretched in the whitened deliverable ``y`` around a
    hint: deliverable second ``start`` is entry second ``ref_start``, the entry advances
    ``rate`` seconds a second and the use lasts to ``end``. Measured by its grains
    (``_grain_level``) against the same line moved along the entry (``GRAIN_NULLS``);
    confidence ``ACCEPT`` where it stands ``GRAIN_ACCEPT`` over the highest of those,
    ``REVIEW`` at ``GRAIN_REVIEW``, 0 under that. The factor stays the hint's: the level
    hardly changes within the 2.5 % a tempo variant reaches (a held note lines up at any
    of them), so it cannot be measured finer here. The range is the hint's; the caller
    places its edges (``stretched_edges``). In the segment, ``z`` is the margin, ``ncc``
    the median along the line and ``ratio`` that over the highest moved line's."""
    if end - start < MIN_SECONDS:  # under 2.5 s, look-alike notes of another cue stood up
        return None  # to 0.146 over the moved lines (bench/audio_rule.py, TUNE)
    t0 = start * RATE
    at = np.arange(t0, end * RATE - GRAIN, GRAIN_PROBE).astype(np.int64)
    x = (at + GRAIN // 2 - t0).astype(np.float64)
    mid = float(x.mean())
    ref_mid = ref_start * RATE + mid * rate  # the entry's sample at the hint's middle

    def level(move: float = 0.0) -> tuple[float, float]:
        return _grain_level(y, c, at, ref_mid + move * RATE + (x - mid) * rate - GRAIN // 2)

    best, shift = level()
    if not best == best:  # nan: the line runs off the entry
        return None
    nulls = [v for v, _s in (level(m) for m in GRAIN_NULLS) if v == v]
    if len(nulls) < 2:
        return None
    ref_mid += shift
    margin = best - max(nulls)
    # the spectral change along the grains' line (phases aside, the grains place it best)
    # and along the same lines moved
    line = ref_mid + (x - mid) * rate - GRAIN // 2
    spec = _spectral_margins(y, c, at, [line] + [line + m * RATE for m in GRAIN_NULLS])
    spec_nulls = [v for v in spec[1:] if v == v]
    spectral = spec[0] - max(spec_nulls) if spec[0] == spec[0] and len(spec_nulls) >= 2 \
        else float("nan")
    conf = 0.0 if margin < GRAIN_REVIEW else round(min(1.0, REVIEW + (ACCEPT - REVIEW) * (
        margin - GRAIN_REVIEW) / (GRAIN_ACCEPT - GRAIN_REVIEW)), 3)
    if spectral >= SPEC_ACCEPT:
        conf = max(conf, round(min(1.0, ACCEPT * spectral / SPEC_ACCEPT), 3))
    ref0 = (ref_mid - mid * rate) / RATE
    return Segment(entry=-1, offset=0, start=start, end=end, ref_start=round(ref0, 3),
                   ref_end=round(ref0 + (end - start) * rate, 3), z=round(margin, 3),
                   ncc=round(best, 3), ratio=round(best / max(max(nulls), 1e-6), 2),
                   confidence=conf, tempo=rate,
                   spectral=round(spectral, 3) if spectral == spectral else 0.0)
