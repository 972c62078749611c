"""Audio landmark fingerprint (Wang 2003, "Shazam" style) with streaming decode.

Why landmarks: pairs of spectral peaks (f1, f2, dt) survive lossy coding, resampling, gain and
being mixed under dialogue, and a cue found inside a longer stem shows up as many pairs agreeing
on one time offset; that offset is the timecode we report.

Decode: WAV through the standard library ``wave`` (PCM 8/16/24/32-bit) with our own
anti-aliased resampler; anything else (MP3, AAC, FLAC, the audio track of a video...) through
PyAV's bundled FFmpeg when it is installed. Everything is streamed in blocks: memory does not
grow with the length of the file (only the peak list does, about 1 MB per hour).
"""

from __future__ import annotations

import wave
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from detectors.api import open_readonly
from detectors.fingerprint import waveform

SR = 8000  # analysis rate: the band where music and speech landmarks live
NFFT = 1024
HOP = 256  # 32 ms frames
FRAME_S = HOP / SR
BLOCK_FRAMES = 1875  # spectrogram columns per block (60 s)
PEAK_DF = 12  # neighbourhood half-size in bins for a local maximum
PEAK_DT = 6  # ... and in frames
PEAKS_PER_S = 30  # density cap: strongest local maxima kept per second
MIN_BIN, MAX_BIN = 8, 500  # ~60 Hz .. 3.9 kHz
FANOUT = 6
TARGET_DT = (1, 48)  # frames after the anchor
DT_MASK = 0x3F  # a hash's low bits: frames from anchor to target (TARGET_DT fits)
TARGET_DF = 96  # bins either side
REGISTER_SHIFTS = 4  # analysis-grid phases stored per registered audio
# Playback speeds (per mille) at which registered audio is also fingerprinted: varispeed,
# PAL speed-up (25/24 = +4.2 %) and slow-down move every spectral peak by the same factor, and
# a landmark hash keeps exact frequency bins, so the register carries the cue at 1 % steps
# over +-5 % (registration pays, once; a scan costs the same).
REGISTER_SPEEDS = (1000, 990, 1010, 980, 1020, 970, 1030, 960, 1040, 950, 1050)
# Analysis-grid phases stored per speed variant (speed 1 keeps ``REGISTER_SHIFTS``). Two
# would find speech at a varispeed far more often (a VO 10 dB under a mix, 5 % slow: by the
# landmarks 0 -> 3 of 10), but the decision rule's thresholds count hits and were set with
# one: against an hour of registered cues a 3 s chance match of unrelated music reached
# ``ai`` at speed 0.99 (bench/results/audio-rule.md, "Tried, not kept"). So one, and a scan
# analyses the deliverable on a second grid half a hop later instead, measured on its own
# (``audio_match.HALF_S``).
VARIANT_SHIFTS = 1
SPEED_MAX_SECONDS = 1800.0  # longer registered audio is kept at its own speed only
WAV_BLOCK = 1 << 16  # sample frames per read


@dataclass(frozen=True)
class Density:
    """Landmark analysis density: peaks kept per second, the local-maximum neighbourhood
    (half-sizes in frames and bins) and targets paired per anchor. Registers use the module
    constants; a scan analyses the deliverable denser (``audio_match.QUERY``). ``None``
    below means the registered density."""

    peaks_per_s: int = PEAKS_PER_S
    peak_dt: int = PEAK_DT
    peak_df: int = PEAK_DF
    fanout: int = FANOUT


class DecodeError(Exception):
    """The audio could not be decoded (corrupt, unsupported, or PyAV missing)."""


@dataclass
class Landmarks:
    """Hashes (24-bit ints) and their anchor frame numbers, plus the decoded duration."""

    hashes: np.ndarray  # uint32
    frames: np.ndarray  # int32, anchor frame index (FRAME_S seconds each)
    duration: float
    peaks: int
    speed: np.ndarray | None = None  # int32 per mille per hash (registered variants); None = 1000
    # the decoded sound at ``waveform.RATE`` (mono, float16) when asked for: what the
    # waveform search (``waveform.py``) correlates registered audio with
    proxy: np.ndarray | None = None
    # when asked for, the same sound analysed on a grid half a hop later: frame k of ``half``
    # starts at (k + 1/2) hops (a scan's deliverable; see ``audio_match.candidates``)
    half: Landmarks | None = None


def _lowpass(ratio: float) -> np.ndarray:
    """Windowed-sinc low-pass for decimating by ``ratio`` (input/output rate)."""
    taps = int(16 * ratio) | 1
    cutoff = 0.45 / ratio  # cycles per input sample, under the output Nyquist
    n = np.arange(taps) - (taps - 1) / 2
    h = 2 * cutoff * np.sinc(2 * cutoff * n) * np.hamming(taps)
    return (h / h.sum()).astype(np.float64)


class Resampler:
    """Streaming low-pass + linear-interpolation resampler to ``SR`` (for stdlib-decoded WAV)."""

    def __init__(self, rate_in: int, rate_out: int = SR) -> None:
        self.step = rate_in / rate_out
        self.h = _lowpass(self.step) if rate_in > rate_out else np.ones(1)
        self.tail = np.zeros(0)
        self.tail_start = 0  # absolute input index of tail[0]
        self.m = 0  # next output sample number

    def feed(self, x: np.ndarray) -> np.ndarray:
        buf = np.concatenate([self.tail, x.astype(np.float64)])
        if len(buf) < len(self.h) + 1:
            self.tail = buf
            return np.zeros(0, dtype=np.float32)
        f = np.convolve(buf, self.h[::-1], mode="valid")  # f[j] ~ input index tail_start + j
        last = self.tail_start + len(f) - 2  # need f[i] and f[i + 1]
        m_end = int(np.floor(last / self.step)) + 1 if last >= 0 else self.m
        m_end = max(m_end, self.m)
        p = np.arange(self.m, m_end) * self.step - self.tail_start
        i = np.floor(p).astype(np.int64)
        frac = p - i
        out = f[i] * (1 - frac) + f[np.minimum(i + 1, len(f) - 1)] * frac
        self.m = m_end
        keep = min(max(int(np.floor(m_end * self.step)) - self.tail_start, 0), len(f) - 1)
        self.tail = buf[keep:]
        self.tail_start += keep
        return out.astype(np.float32)

    def flush(self) -> np.ndarray:
        """The last samples held back by the filter (feeds silence through it)."""
        return self.feed(np.zeros(len(self.h) + int(self.step) + 1))


def _pcm_to_float(raw: bytes, width: int, channels: int) -> np.ndarray:
    if width == 1:
        a = (np.frombuffer(raw, dtype=np.uint8).astype(np.float32) - 128.0) / 128.0
    elif width == 2:
        a = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
    elif width == 3:
        b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        v = np.where(v & 0x800000, v - 0x1000000, v)
        a = v.astype(np.float32) / 8388608.0
    elif width == 4:
        a = np.frombuffer(raw, dtype="<i4").astype(np.float32) / 2147483648.0
    else:
        raise DecodeError(f"unsupported PCM width {width}")
    return a.reshape(-1, channels).mean(axis=1)


def _wav_blocks(path: str) -> Iterator[np.ndarray]:
    with open_readonly(path) as fh, wave.open(fh, "rb") as w:
        channels, width, rate = w.getnchannels(), w.getsampwidth(), w.getframerate()
        if channels < 1 or rate < 1000:
            raise DecodeError(f"implausible WAV header ({channels} ch, {rate} Hz)")
        rs = Resampler(rate) if rate != SR else None
        read = 0
        while True:
            raw = w.readframes(WAV_BLOCK)
            if not raw:
                break
            read += len(raw) // (width * channels)
            mono = _pcm_to_float(raw, width, channels)
            yield rs.feed(mono) if rs else mono
        if rs:
            before = rs.m
            tail = rs.flush()
            wanted = int(round(read / rs.step))  # output length of the real input
            yield tail[: max(wanted - before, 0)]


def _av_streams(path: str, which: int | None = None
               ) -> Iterator[tuple[list[Any], Iterator[tuple[int, np.ndarray]]]]:
    """The audio streams of a container (all, or the ``which``-th) and a generator of
    (position in that list, mono float32 block at ``SR``) over one demux pass."""
    try:
        import av  # noqa: PLC0415 - optional dependency
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise DecodeError("PyAV is not installed: only WAV audio can be decoded") from exc
    with open_readonly(path) as fh:
        try:
            container = av.open(fh, mode="r")
        except Exception as exc:  # noqa: BLE001 - FFmpeg errors come in many types
            raise DecodeError(f"cannot open: {exc}") from exc
        with container:
            streams = list(container.streams.audio)
            if not streams:
                raise DecodeError("no audio stream")
            if which is not None:
                streams = [streams[which]]
            pos = {s.index: k for k, s in enumerate(streams)}
            _skip_others(container, set(pos))

            def blocks() -> Iterator[tuple[int, np.ndarray]]:
                resamplers = [av.AudioResampler(format="flt", layout="mono", rate=SR)
                              for _ in streams]
                try:
                    for pkt in container.demux(*streams):
                        k = pos[pkt.stream.index]
                        for frame in pkt.decode():
                            for out in resamplers[k].resample(frame):
                                yield k, out.to_ndarray().reshape(-1).astype(np.float32)
                    for k, rs in enumerate(resamplers):
                        for out in rs.resample(None):
                            yield k, out.to_ndarray().reshape(-1).astype(np.float32)
                except av.error.FFmpegError as exc:
                    raise DecodeError(f"decode failed: {exc}") from exc
            yield streams, blocks()


def _skip_others(container: Any, keep: set[int]) -> None:
    """Tell the demuxer to step over every stream but ``keep``'s packets instead of reading
    them. Why: a master's picture is nearly all its bytes, and the audio pass read every one
    of them to throw them away (a 60 s ProRes MOV with three audio tracks: 625 MB read, 0.5
    CPU-s and 0.7 s; skipped, 0.06 CPU-s and 0.12 s, the same audio packets). On a file
    server that is most of a scan's reading. An FFmpeg or PyAV without it reads as before."""
    try:
        from av.stream import Discard  # noqa: PLC0415 - PyAV is optional here

        for stream in container.streams:
            if stream.index not in keep:
                stream.discard = Discard.all
    except (ImportError, AttributeError, TypeError, ValueError):
        return


def _av_blocks(path: str, stream_index: int | None = None) -> Iterator[np.ndarray]:
    for _streams, blocks in _av_streams(path, stream_index or 0):
        for _k, block in blocks:
            yield block


def pyav_available() -> bool:
    try:
        import av  # noqa: F401, PLC0415
    except ImportError:
        return False
    return True


def has_audio_stream(path: str) -> bool:
    """Whether a container (e.g. a video) carries audio that PyAV can read."""
    return audio_streams(path) > 0


def audio_streams(path: str) -> int:
    """How many audio streams a container carries (0 if PyAV cannot read it)."""
    try:
        import av  # noqa: PLC0415
    except ImportError:
        return 0
    try:
        with open_readonly(path) as fh, av.open(fh, mode="r") as c:
            return len(c.streams.audio)
    except Exception:  # noqa: BLE001
        return 0


def union(parts: list[Landmarks]) -> Landmarks:
    """Landmarks of several tracks of one file on its one timeline (speeds kept)."""
    if len(parts) == 1:
        return parts[0]
    speed = [p.speed if p.speed is not None else np.full(len(p.hashes), 1000, np.int32)
             for p in parts]
    return Landmarks(np.concatenate([p.hashes for p in parts]),
                     np.concatenate([p.frames for p in parts]),
                     max(p.duration for p in parts), sum(p.peaks for p in parts),
                     np.concatenate(speed))


def decode(path: str, is_wav: bool, stream: int | None = None) -> Iterator[np.ndarray]:
    """Mono float32 blocks at ``SR``. WAV via the standard library when it can read it;
    ``stream``: which audio stream of a container (0-based, default the first)."""
    if is_wav and not stream:
        try:
            yield from _wav_blocks(path)
            return
        except (wave.Error, EOFError, DecodeError) as exc:
            wav_error = exc
        try:
            yield from _av_blocks(path)
        except DecodeError as exc:
            raise DecodeError(f"WAV: {wav_error}; FFmpeg: {exc}") from exc
        return
    yield from _av_blocks(path, stream)


def _spectrogram(x: np.ndarray) -> np.ndarray:
    """Log-magnitude STFT (frames x bins) of samples whose length is a multiple of HOP."""
    n = (len(x) - NFFT) // HOP + 1
    if n <= 0:
        return np.zeros((0, NFFT // 2 + 1), dtype=np.float32)
    idx = np.arange(NFFT)[None, :] + HOP * np.arange(n)[:, None]
    frames = x[idx] * np.hanning(NFFT).astype(np.float32)
    mag = np.abs(np.fft.rfft(frames, axis=1)).astype(np.float32)
    return np.log(mag + 1e-6)


_KERNEL = np.ones((2 * PEAK_DT + 1, 2 * PEAK_DF + 1), dtype=np.uint8)


def _peaks(spec: np.ndarray, first: int, lo: int, hi: int, density: Density | None = None
           ) -> list[tuple[int, int, float]]:
    """Local maxima of ``spec`` rows lo..hi (frames), density-capped per second."""
    if spec.shape[0] == 0:
        return []
    kernel, cap = _KERNEL, PEAKS_PER_S
    if density is not None:
        kernel = np.ones((2 * density.peak_dt + 1, 2 * density.peak_df + 1), dtype=np.uint8)
        cap = density.peaks_per_s
    band = np.ascontiguousarray(spec[:, MIN_BIN:MAX_BIN])
    local_max = cv2.dilate(band, kernel)
    floor = np.median(band) + 2.0  # well above the typical level: ignore noise-floor wiggles
    t, f = np.nonzero((band == local_max) & (band > floor))
    keep = (t >= lo) & (t < hi)
    t, f = t[keep], f[keep]
    if t.size == 0:
        return []
    vals = band[t, f]
    per_sec = int(round(1 / FRAME_S))
    out: list[tuple[int, int, float]] = []
    sec = t // per_sec
    for s in np.unique(sec):
        sel = np.nonzero(sec == s)[0]
        if sel.size > cap:
            sel = sel[np.argsort(-vals[sel])[:cap]]
        out.extend((int(first + t[i]), int(f[i] + MIN_BIN), float(vals[i])) for i in sel)
    return out


class _Builder:
    """Landmarks of one signal fed block by block: peaks in ~60 s spectrogram blocks with a
    margin so that peaks at block edges see their whole neighbourhood, paired at the end.

    Push-style (not a generator consumer) so that one demux pass can feed every audio stream
    of a container its own builder."""

    def __init__(self, max_seconds: float | None = None, density: Density | None = None,
                 proxy: bool = False, half: bool = False) -> None:
        self.density = density
        # the grid half a hop later: a builder fed the same samples less the first half hop
        self.half = _Builder(max_seconds, density) if half else None
        self.half_skip = HOP // 2
        self.proxy = Resampler(SR, waveform.RATE) if proxy else None
        self.proxy_parts: list[np.ndarray] = []
        self.margin = max(PEAK_DT, density.peak_dt if density else 0)
        self.need = (BLOCK_FRAMES + 2 * self.margin - 1) * HOP + NFFT
        self.start_frame = -self.margin  # frame of pending[0] (negative: leading silence)
        self.pending = np.zeros(self.margin * HOP, dtype=np.float32)
        # blocks not yet joined to ``pending``: decoders hand over a few hundred samples at a
        # time, and joining each to a buffer of up to a minute copied that minute every time
        self.parts: list[np.ndarray] = []
        self.buffered = len(self.pending)  # samples in pending and parts
        self.peaks: list[tuple[int, int, float]] = []
        self.total = 0
        self.limit = int(max_seconds * SR) if max_seconds else None
        self.done = False

    def feed(self, block: np.ndarray) -> bool:
        """Add samples; False once ``max_seconds`` are in (the rest is not wanted)."""
        if self.done:
            return False
        if self.half is not None:
            skip = min(self.half_skip, len(block))
            self.half_skip -= skip
            self.half.feed(block[skip:])
        self.total += len(block)
        if self.limit is not None and self.total > self.limit:
            block = block[: max(len(block) - (self.total - self.limit), 0)]
            self.done = True
        self.parts.append(block)
        if self.proxy is not None:  # half precision: 29 MB per track-hour, ample for a
            self.proxy_parts.append(self.proxy.feed(block).astype(np.float16))  # correlation
        self.buffered += len(block)
        if self.buffered < self.need:
            return not self.done
        self._join()
        while len(self.pending) >= self.need:
            spec = _spectrogram(self.pending[:self.need])
            self.peaks.extend(_peaks(spec, self.start_frame, self.margin,
                                     self.margin + BLOCK_FRAMES, self.density))
            self.pending = self.pending[BLOCK_FRAMES * HOP:]
            self.start_frame += BLOCK_FRAMES
        self.buffered = len(self.pending)
        return not self.done

    def _join(self) -> None:
        self.pending = np.concatenate([self.pending, *self.parts])
        self.parts = []

    def finish(self) -> Landmarks:
        self._join()
        tail = np.concatenate([self.pending,
                               np.zeros(self.margin * HOP + NFFT, dtype=np.float32)])
        spec = _spectrogram(tail)
        peaks = self.peaks + _peaks(spec, self.start_frame, self.margin, spec.shape[0],
                                    self.density)
        total = min(self.total, self.limit) if self.limit else self.total
        duration = total / SR
        last_frame = int(duration / FRAME_S)
        lm = _pair([p for p in peaks if 0 <= p[0] <= last_frame], duration, self.density)
        if self.proxy is not None:
            parts = [*self.proxy_parts, self.proxy.flush().astype(np.float16)]
            lm.proxy = np.concatenate(parts)[: total * waveform.RATE // SR]
        if self.half is not None:
            lm.half = self.half.finish()
        return lm


def landmarks_from_blocks(blocks: Iterator[np.ndarray], max_seconds: float | None = None,
                          density: Density | None = None, proxy: bool = False,
                          half: bool = False) -> Landmarks:
    """Landmarks of a stream of mono blocks at ``SR`` (and its proxy, and its landmarks on
    the grid half a hop later, when asked for)."""
    b = _Builder(max_seconds, density, proxy, half)
    for block in blocks:
        if not b.feed(block):
            break
    return b.finish()


@dataclass
class StreamLandmarks:
    """The landmarks of one audio stream of a container."""

    number: int  # 1-based among the container's audio streams
    label: str  # what a person sees in a player: number, title, language, channels
    landmarks: Landmarks


def stream_landmarks(path: str, density: Density | None = None, proxy: bool = False,
                     half: bool = False) -> list[StreamLandmarks]:
    """Landmarks of every audio stream of a container, in one demux pass (with each
    stream's proxy for the waveform search when asked for).

    Why every stream: masters carry stems and languages as separate tracks (MXF and MOV often
    one mono track per channel); reading only the first would let temp audio on track 3 pass
    unseen. One pass, because re-reading a large master once per track costs more than all
    the audio decoding together."""
    for streams, blocks in _av_streams(path):
        builders = [_Builder(density=density, proxy=proxy, half=half) for _ in streams]
        for k, block in blocks:
            builders[k].feed(block)
        out = []
        for n, s in enumerate(streams, 1):
            meta = {k.lower(): v for k, v in (s.metadata or {}).items()}
            bits = [f"track {n}"]
            bits += [str(meta[k]) for k in ("title", "handler_name", "language")
                     if meta.get(k) and str(meta[k]) not in ("und", "SoundHandler")][:2]
            bits.append(f"{s.codec_context.channels or '?'} ch")
            out.append(StreamLandmarks(n, ", ".join(bits), builders[n - 1].finish()))
        return out
    return []  # pragma: no cover - _av_streams yields once or raises


def _pair(peaks: list[tuple[int, int, float]], duration: float,
          density: Density | None = None) -> Landmarks:
    fanout = density.fanout if density else FANOUT
    per_s = density.peaks_per_s if density else PEAKS_PER_S
    if not peaks:
        return Landmarks(np.zeros(0, np.uint32), np.zeros(0, np.int32), duration, 0)
    arr = np.array([(p[0], p[1]) for p in peaks], dtype=np.int64)
    arr = arr[np.lexsort((arr[:, 1], arr[:, 0]))]
    t, f = arr[:, 0], arr[:, 1]
    hashes: list[np.ndarray] = []
    frames: list[np.ndarray] = []
    n = len(t)
    # For each anchor, the first FANOUT peaks in its target zone (vectorised over a window).
    window = per_s * 2 + 8
    for k in range(1, window + 1):
        j = np.arange(n) + k
        ok = j < n
        a = np.nonzero(ok)[0]
        b = j[ok]
        dt = t[b] - t[a]
        df = f[b] - f[a]
        good = (dt >= TARGET_DT[0]) & (dt <= TARGET_DT[1]) & (np.abs(df) <= TARGET_DF)
        hashes.append(np.stack([a[good], b[good]], axis=1))
    pairs = np.concatenate(hashes) if hashes else np.zeros((0, 2), np.int64)
    if len(pairs):
        # keep the FANOUT nearest targets per anchor
        order = np.lexsort((pairs[:, 1], pairs[:, 0]))
        pairs = pairs[order]
        first = np.r_[0, np.nonzero(np.diff(pairs[:, 0]))[0] + 1]
        rank = np.arange(len(pairs)) - np.repeat(first, np.diff(np.r_[first, len(pairs)]))
        pairs = pairs[rank < fanout]
    a, b = pairs[:, 0], pairs[:, 1]
    h = ((f[a] & 0x1FF) << 15) | ((f[b] & 0x1FF) << 6) | ((t[b] - t[a]) & DT_MASK)
    frames.append(t[a])
    return Landmarks(h.astype(np.uint32), t[a].astype(np.int32), duration, n)


def _skip(blocks: Iterator[np.ndarray], n: int) -> Iterator[np.ndarray]:
    for b in blocks:
        if n >= len(b):
            n -= len(b)
            continue
        yield b[n:]
        n = 0


def merge(parts: list[Landmarks]) -> Landmarks:
    """Union of landmark sets (deduplicated), e.g. of several analysis-grid phases."""
    hashes = np.concatenate([p.hashes for p in parts])
    frames = np.concatenate([p.frames for p in parts])
    pairs = np.unique(np.stack([hashes.astype(np.int64), frames.astype(np.int64)], axis=1),
                      axis=0) if len(hashes) else np.zeros((0, 2), np.int64)
    return Landmarks(pairs[:, 0].astype(np.uint32), pairs[:, 1].astype(np.int32),
                     max(p.duration for p in parts), sum(p.peaks for p in parts))


def fingerprint(path: str, is_wav: bool, max_seconds: float | None = None,
                shifts: int = 1, stream: int | None = None, density: Density | None = None,
                proxy: bool = False, half: bool = False) -> Landmarks:
    """Landmarks of a whole file (streamed).

    ``shifts`` > 1 also analyses the audio with the frame grid moved by fractions of a hop and
    keeps the union: a cue placed at any sample offset inside a deliverable then meets a grid
    phase close to its own (the register pays this, once per entry, instead of every scan)."""
    parts = [landmarks_from_blocks(decode(path, is_wav, stream), max_seconds, density, proxy,
                                   half)]
    for k in range(1, shifts):
        parts.append(landmarks_from_blocks(_skip(decode(path, is_wav, stream),
                                                 k * HOP // shifts), max_seconds))
    if shifts == 1:
        return parts[0]
    out = merge(parts)
    out.proxy, out.half = parts[0].proxy, parts[0].half
    return out


def fingerprint_samples(x: np.ndarray, shifts: int = 1) -> Landmarks:
    """Landmarks of mono float32 samples already at ``SR`` (tests, benchmark)."""
    x = x.astype(np.float32)
    parts = [landmarks_from_blocks(iter([x[k * HOP // shifts:]])) for k in range(shifts)]
    return merge(parts) if shifts > 1 else parts[0]


def varispeed(x: np.ndarray, speed: float) -> np.ndarray:
    """``x`` played ``speed`` times as fast (pitch and tempo together, like tape or a PAL
    speed-up): sample n of the result is sample n * speed of the input."""
    n = int(len(x) / speed)
    return np.interp(np.arange(n) * speed, np.arange(len(x)), x).astype(np.float32)


def fingerprint_speeds(path: str, is_wav: bool, speeds: tuple[int, ...] = REGISTER_SPEEDS,
                       shifts: int = REGISTER_SHIFTS, stream: int | None = None) -> Landmarks:
    """Landmarks of registered audio at its own speed (all grid phases) and at ``speeds``
    (per mille, ``VARIANT_SHIFTS`` phases), each hash tagged with its speed. Holds the decoded
    audio in memory (8 kHz mono: 115 MB an hour), so audio longer than ``SPEED_MAX_SECONDS``
    keeps only speed 1. The result's ``proxy`` is the sound for the waveform search (its
    first ``SPEED_MAX_SECONDS``: what the register stores)."""
    own = fingerprint(path, is_wav, shifts=shifts, stream=stream, proxy=True)
    own.speed = np.full(len(own.hashes), 1000, np.int32)
    if own.proxy is not None:
        own.proxy = own.proxy[: int(SPEED_MAX_SECONDS * waveform.RATE)]
    if own.duration > SPEED_MAX_SECONDS or len(speeds) <= 1:
        return own
    x = np.concatenate([b for b in decode(path, is_wav, stream)]
                       or [np.zeros(0, np.float32)])
    return with_speeds(own, x, speeds)


def with_speeds(own: Landmarks, x: np.ndarray, speeds: tuple[int, ...] = REGISTER_SPEEDS,
                shifts: int = VARIANT_SHIFTS) -> Landmarks:
    """``own`` (speed 1, tagged) with the landmarks of ``x`` (samples at ``SR``) played at
    each other of ``speeds``, each at ``shifts`` grid phases: what registration stores (the
    benchmarks call it on samples they made)."""
    parts = [own]
    for sp in speeds:
        if sp == 1000:
            continue
        lm = fingerprint_samples(varispeed(x, sp / 1000), shifts=shifts)
        lm.speed = np.full(len(lm.hashes), sp, np.int32)
        parts.append(lm)
    return Landmarks(np.concatenate([p.hashes for p in parts]),
                     np.concatenate([p.frames for p in parts]), own.duration,
                     sum(p.peaks for p in parts),
                     np.concatenate([p.speed for p in parts if p.speed is not None]),
                     own.proxy)
