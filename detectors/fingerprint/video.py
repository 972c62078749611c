"""Video frame sampling for fingerprinting (PyAV): a steady rate plus scene cuts, with exact
frame numbers, and every frame of a short window for frame-accurate boundaries.

Why this shape: matching needs a hashed frame per second or so, not every frame, and decoding
is most of a scan's cost. So the sampler decodes as little as the codec allows:

- intra-only codecs (ProRes, DNxHD/HR, JPEG 2000, MJPEG...): every frame is its own picture, so
  only the packets of the sampled frames are read and decoded (the container's index jumps
  between them);
- long-GOP codecs (H.264, HEVC, MPEG-2...) whose keyframes come a sampling step apart or
  closer (broadcast and mezzanine long-GOP): only the keyframes are decoded, each a whole
  picture on its own, one a step, checked as they come (``_keyframe_pictures``);
- other long-GOP streams: every reference frame must be decoded, but non-reference frames
  (most B-frames) are skipped; decoding uses FFmpeg's threads;
- scaling to the small working size happens in FFmpeg's scaler together with the colour
  conversion, never on a full-size RGB copy.

Cut checks on 32x32 thumbnails at ``CUT_RATE`` (long-GOP: there the frames are decoded anyway)
give shots their first frame; intra-only streams and keyframe sampling compare each sample
with the one before and flag the first sample of a new shot instead; the matcher then refines every matched range to the exact
frame with :func:`frames_between`, which decodes every frame of a window walked outward from
the run's outer samples (``matcher.Register.refine``).
"""

from __future__ import annotations

import functools
import heapq
import math
import os
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from detectors.api import open_readonly

CUT_RATE = 4.0  # thumbnails per second for the cut check (long-GOP)
CUT_THRESHOLD = 28.0  # mean absolute difference (0-255) between 32x32 grey thumbnails
# Bhattacharyya distance (0-1) of 512-bin colour histograms over which two intra-only samples
# a second apart lie in different shots. Thumbnails cannot tell a cut from a second of a fast
# pan at that distance (within-shot 20-112, cuts 24-108 on the programme benchmark); colours
# can (within-shot at most 0.14, cuts 0.57-0.97). A cut within one scene's colours is missed,
# and then the matcher's periodic check covers the shot as before.
SHOT_COLOURS = 0.4
AHEAD = 6  # sampled frames ``prefetched`` decodes ahead of the matcher
REORDER_PROBE = 64  # packets read to tell whether a container gives decode times only
LOWRES_CODECS = ("jpeg2000",)  # decoders that can stop at a coarser resolution level
LOWRES_MAX = 3


class VideoError(Exception):
    """The video could not be opened or decoded."""


@dataclass
class Frame:
    t: float  # seconds from the first frame
    rgb: np.ndarray  # HxWx3 uint8, downscaled
    cut: bool  # sampled because a cut was detected (intra-only: the first sample of a shot)
    index: int = -1  # frame number from the first frame (at the stream's rate)


@dataclass
class VideoInfo:
    fps: float
    frames: int
    width: int
    height: int
    codec: str = ""
    intra_only: bool = False

    @property
    def duration(self) -> float:
        return self.frames / self.fps if self.fps > 0 else 0.0


def timecode(seconds: float) -> str:
    """HH:MM:SS.mmm (wall-clock time from the start of the file)."""
    ms = int(round(max(seconds, 0.0) * 1000))
    h, rem = divmod(ms, 3_600_000)
    m, rem = divmod(rem, 60_000)
    s, ms = divmod(rem, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}.{ms:03d}"


def _av() -> Any:
    import av  # noqa: PLC0415 - loaded with the (opt-in) register detector

    return av


class _Reader:
    """One open video stream with its time base and rate."""

    def __init__(self, path: str) -> None:
        av = _av()
        self.path = path
        self.fh = open_readonly(path)
        try:
            self.c = av.open(self.fh, mode="r")
        except Exception as exc:  # noqa: BLE001 - FFmpeg errors come in many types
            self.fh.close()
            raise VideoError(f"FFmpeg cannot open this video: {exc}") from exc
        if not self.c.streams.video:
            self.close()
            raise VideoError("no video stream")
        self.s = self.c.streams.video[0]
        rate = self.s.average_rate or self.s.guessed_rate or self.s.base_rate
        fps = Fraction(rate) if rate else Fraction(0)
        self.fps = float(fps) if fps > 0 and math.isfinite(float(fps)) else 25.0
        self.tb = float(self.s.time_base) if self.s.time_base else 1.0 / self.fps
        self.t0 = float(self.s.start_time or 0) * self.tb
        cc = self.s.codec_context
        self.codec = str(cc.name)
        try:
            self.intra = bool(cc.codec.intra_only)
        except AttributeError:  # pragma: no cover - older PyAV
            self.intra = False
        self.width, self.height = int(cc.width or 0), int(cc.height or 0)
        self.lowres = 0
        self.restamp = False  # frame times from sorted packet times (``stamped_in_decode_order``)
        self.frames = int(self.s.frames or 0)
        if not self.frames and self.s.duration:
            self.frames = int(round(float(self.s.duration) * self.tb * self.fps))
        if not self.frames and self.c.duration:
            self.frames = int(round(self.c.duration / 1_000_000 * self.fps))

    def reopen(self) -> None:
        """The same file again, read from its start (after a seek that cannot be trusted)."""
        threads = self.s.thread_type
        self.close()
        fresh = _Reader(self.path)
        self.fh, self.c, self.s = fresh.fh, fresh.c, fresh.s
        self.s.thread_type = threads
        if self.lowres:
            self.s.codec_context.options = {"lowres": str(self.lowres)}

    def reduce(self, max_side: int) -> None:
        """Decode a wavelet codec at the smallest resolution level still at least
        ``max_side`` on its long side: a JPEG 2000 codestream holds its half, quarter...
        resolutions, and decoding one skips the finer levels' work (1080p: 177 ms a frame
        in full, 65 ms at half size, which is still above the 512 px that is hashed)."""
        if self.codec not in LOWRES_CODECS or not self.width or not self.height:
            return
        n = 0
        while n < LOWRES_MAX and max(self.width, self.height) >> (n + 1) >= max_side:
            n += 1
        if n:
            self.lowres = n
            self.s.codec_context.options = {"lowres": str(n)}

    def stamped_in_decode_order(self) -> bool:
        """Whether this stream reorders its pictures but its container gives each packet its
        decode time as its presentation time (``pts == dts``); then frames are re-timed as
        they come (``decode``), and the caller must decode every frame (none skipped).

        Why: FFmpeg writes H.264 with B-frames into MXF without the index's temporal
        offsets, and a copy of such a file into MP4 keeps those times. Decoded as they are,
        frame times come out permuted (0, 2, 3, 1...): a full decode at 25 fps sampled 71
        of 100 frames, and in and out points were a frame or two off. Streams that do not
        reorder, or whose container tells presentation times apart (MP4's composition
        offsets, MXF's temporal offsets for MPEG-2), are left as they are."""
        if not self.intra and self.s.codec_context.has_b_frames:
            st = os.stat(self.path)
            self.restamp = _decode_times_only(self.path, st.st_size, st.st_mtime_ns)
        return self.restamp

    def decode(self) -> Iterator[Any]:
        """Every frame from where the container stands, in presentation order; where the
        packets carry decode times (``restamp``), each frame gets the smallest packet time
        fed and not yet given out: the decoder hands frames over in presentation order, so
        the k-th frame out is the k-th smallest time in (exact from a keyframe on, as long
        as no frame is skipped)."""
        if not self.restamp:
            yield from self.c.decode(self.s)
            return
        times: list[int] = []
        for pkt in self.c.demux(self.s):
            if pkt.pts is not None and pkt.size:
                heapq.heappush(times, int(pkt.pts))
            for fr in pkt.decode():
                fr.pts = heapq.heappop(times) if times else None
                yield fr

    def close(self) -> None:
        try:
            self.c.close()
        except Exception:  # noqa: BLE001
            pass
        self.fh.close()

    def time(self, frame: Any, fallback: int) -> tuple[float, int]:
        """Seconds from the first frame and the frame number."""
        if frame.pts is None:
            return fallback / self.fps, fallback
        t = float(frame.pts) * self.tb - self.t0
        return t, int(round(t * self.fps))

    def small(self, frame: Any, max_side: int) -> np.ndarray:
        w, h = int(frame.width), int(frame.height)
        scale = min(1.0, max_side / max(w, h))
        nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
        return np.ascontiguousarray(frame.reformat(width=nw, height=nh, format="rgb24",
                                                   interpolation="AREA").to_ndarray())


@functools.lru_cache(maxsize=64)
def _decode_times_only(path: str, size: int, mtime_ns: int) -> bool:
    """Whether the first ``REORDER_PROBE`` timed packets of the video stream all have
    pts == dts (``_Reader.stamped_in_decode_order``). Once per file version: the sampler
    and every boundary window open the file again, and this probe is an open of its own."""
    probe = _Reader(path)
    try:
        seen = 0
        for pkt in probe.c.demux(probe.s):
            if pkt.pts is None or pkt.dts is None:
                continue
            if pkt.pts != pkt.dts:
                return False
            seen += 1
            if seen >= REORDER_PROBE:
                break
        return seen > 1
    finally:
        probe.close()


def has_picture(path: str) -> bool:
    """Whether FFmpeg finds a video stream (False for audio-only MXF/MOV or an unreadable
    file: the caller's next step reports what is wrong with it)."""
    try:
        _Reader(path).close()
    except VideoError:
        return False
    return True


def info(path: str) -> VideoInfo:
    r = _Reader(path)
    try:
        return VideoInfo(r.fps, r.frames, r.width, r.height, r.codec, r.intra)
    finally:
        r.close()


def _colours(rgb: np.ndarray) -> np.ndarray:
    """Normalised 8x8x8-bin RGB histogram."""
    q = (rgb >> 5).astype(np.intp)
    h = np.bincount(((q[..., 0] << 6) | (q[..., 1] << 3) | q[..., 2]).ravel(),
                    minlength=512).astype(np.float64)
    return h / max(1.0, float(h.sum()))


def _bhattacharyya(p: np.ndarray, q: np.ndarray) -> float:
    return math.sqrt(max(0.0, 1.0 - float(np.sqrt(p * q).sum())))


def _thumb(frame: Any) -> np.ndarray:
    return frame.reformat(width=32, height=32, format="gray",
                          interpolation="AREA").to_ndarray().astype(np.int16)


def sample(path: str, rate: float = 1.0, max_side: int = 512, cuts: bool = True,
           max_seconds: float | None = None, fast: bool = True, last: bool = False
           ) -> Iterator[Frame]:
    """Frames at ``rate`` per second, plus the first frame after each detected cut.

    ``fast`` lets the decoder skip what sampling does not need (see the module text).
    ``last`` (only without ``fast``, which may not decode it) adds the final frame when it
    was not sampled: a registered clip's tail is otherwise up to a sampling step from its
    nearest hash, and an insert cut from the tail of a fast-moving clip ends on frames that
    match nothing (the sweep benchmark's out points two frames short)."""
    av = _av()
    r = _Reader(path)
    try:
        s = r.s
        if fast:
            r.reduce(max_side)
        intra = fast and r.intra
        # frame threads hold pictures back: with packets skipped, each sample would cost
        # two or three decodes; an intra picture splits into slices instead
        s.thread_type = "SLICE" if intra else "AUTO"
        # (re-timed frames must all be decoded, and keyframes alone cannot be re-timed)
        restamp = r.stamped_in_decode_order()
        if fast and not intra and not restamp:
            s.codec_context.skip_frame = "NONREF"
        step = 1.0 / rate
        cut_step = 1.0 / CUT_RATE
        keyed = fast and not intra and not restamp and _keyframes_cover(r, step)
        do_cuts = cuts and not intra
        # intra-only: nothing between samples is decoded, so a sample whose colours differ
        # from the one before as a cut's do is flagged itself (a new shot since the last one)
        shots = cuts and intra
        prev_colours: np.ndarray | None = None
        next_t, next_cut_t = 0.0, 0.0
        prev_thumb: np.ndarray | None = None
        last_emit = -1e9
        count = -1
        half = 0.5 / r.fps

        resume = -1e9  # after keyframe sampling stopped: what was sampled up to then

        def frames() -> Iterator[Any]:
            if not intra:
                yield from r.decode()
                return
            yield from _intra_frames(r, lambda: next_t)

        def new_shot(small: np.ndarray) -> bool:
            """Whether a sample's colours differ from the one before as a cut's do."""
            nonlocal prev_colours
            colours = _colours(small)
            flagged = prev_colours is not None and _bhattacharyya(
                colours, prev_colours) > SHOT_COLOURS
            prev_colours = colours
            return flagged

        if keyed:
            try:
                for fr in _keyframe_pictures(r, step):
                    t, index = r.time(fr, 0)
                    if max_seconds is not None and t > max_seconds:
                        return
                    small = r.small(fr, max_side)
                    last_emit = t
                    # as for intra-only streams: nothing between samples is decoded
                    yield Frame(t, small, cuts and new_shot(small), index)
                return
            except _NotKeyframes:
                # the stream was not what its index said: the rest the usual way, from
                # the last sample on (decoded from the start: a seek that trusted the
                # same index could land past that sample)
                resume = last_emit
                next_t = max(0.0, resume + step)
                r.reopen()
                s = r.s
                s.codec_context.skip_frame = "NONREF"
            except av.error.FFmpegError as exc:
                raise VideoError(f"decode failed after {timecode(max(last_emit, 0))}: "
                                 f"{exc}") from exc

        final: tuple[Any, float, int] | None = None  # the newest frame not yielded
        try:
            for fr in frames():
                count += 1
                t, index = r.time(fr, count)
                if max_seconds is not None and t > max_seconds:
                    final = None
                    break
                if t <= resume + half:
                    continue
                final = (fr, t, index) if last and not fast else None
                want = t + half >= next_t
                check = do_cuts and t + half >= next_cut_t
                if not (want or check):
                    continue
                is_cut = False
                if check:
                    next_cut_t = t + cut_step
                    thumb = _thumb(fr)
                    if prev_thumb is not None:
                        is_cut = float(np.abs(thumb - prev_thumb).mean()) > CUT_THRESHOLD
                    prev_thumb = thumb
                if want or (is_cut and t - last_emit > cut_step):
                    if want:
                        next_t += step * max(1, math.floor((t + half - next_t) / step) + 1)
                    last_emit = t
                    final = None
                    small = r.small(fr, max_side)
                    flagged = shots and new_shot(small)
                    yield Frame(t, small, (is_cut and not want) or flagged, index)
            if final is not None:
                fr, t, index = final
                yield Frame(t, r.small(fr, max_side), False, index)
        except av.error.FFmpegError as exc:
            raise VideoError(f"decode failed after {timecode(max(last_emit, 0))}: "
                             f"{exc}") from exc
    finally:
        r.close()


class _NotKeyframes(Exception):
    """A long-GOP stream's keyframes are not each a whole picture a step or less apart."""


def _keyframes_cover(r: _Reader, step: float) -> bool:
    """Whether sampling the keyframes alone is worth trying (``_keyframe_pictures``): the
    container's index lists every frame, the first a keyframe, and no two keyframes (nor
    the last one and the end) more than ``step`` apart; or it has no index to say (MXF
    through FFmpeg), and the sampler finds out from the stream. Only a hint either way:
    the sampler checks the stream itself as it goes, and steps back at the first
    keyframe gap over a step (a 2 s GOP: within its first seconds)."""
    entries: Any = getattr(r.s, "index_entries", None)
    try:
        listed = list(entries) if entries is not None else []
    except TypeError:
        return False
    if not listed:
        return True
    if r.frames <= 0 or len(listed) < r.frames:
        return False
    ts = np.array([e.timestamp for e in listed], np.int64)
    key = np.array([bool(e.is_keyframe) for e in listed])
    if not key[0]:
        return False
    gaps = np.diff(np.r_[ts[key], ts.max()]) * r.tb
    return bool((gaps <= step + 0.5 / r.fps).all())


def _intra_picture(frame: Any) -> bool:
    """Whether the decoder made a whole picture of it (an I picture: no reference needed)."""
    kind = frame.pict_type  # FFmpeg's AV_PICTURE_TYPE_I (1); a name in older PyAV
    if isinstance(kind, int):
        return int(kind) == 1
    return str(getattr(kind, "name", kind)).upper() == "I"


def _keyframe_pictures(r: _Reader, step: float) -> Iterator[Any]:
    """The keyframes of a long-GOP stream, thinned so that none is more than ``step`` after
    the one before, each decoded on its own; raises ``_NotKeyframes`` where the stream is
    not what its index said (a keyframe that decodes to a picture that needs others, a
    gap over ``step``, a tail longer than that after the last keyframe).

    Why: a long-GOP sampler otherwise decodes every reference frame, about half of them.
    Where a master's keyframes come every second or closer (broadcast and mezzanine
    long-GOP: XDCAM, XAVC, H.264 with a one-second GOP), the keyframes alone are a sample a
    second at a fraction of that: an H.264 programme with a one-second GOP against 10,000
    entries 7.5-9.4 s -> 4.3-5.3 s, the same findings (``bench/results/register.md``)."""
    limit = step + 0.5 / r.fps
    last: float | None = None  # time of the newest keyframe decoded
    pending: tuple[Any, float] | None = None  # the newest keyframe not decoded
    end = 0.0  # the latest time of any packet

    def decoded(frames: Iterable[Any]) -> Iterator[Any]:
        for fr in frames:
            if not _intra_picture(fr):
                raise _NotKeyframes(f"a keyframe decoded to a {fr.pict_type} picture")
            yield fr

    for pkt in r.c.demux(r.s):
        if pkt.pts is None:
            if pkt.size:
                raise _NotKeyframes("a packet without a time")
            continue
        t = float(pkt.pts) * r.tb - r.t0
        end = max(end, t)
        if not pkt.is_keyframe or not pkt.size:
            continue
        if last is None:
            if t > limit:
                raise _NotKeyframes(f"the first keyframe {t:.2f} s in")
            yield from decoded(pkt.decode())
            last = t
            continue
        if t - last > limit and pending is not None:
            yield from decoded(pending[0].decode())
            last, pending = pending[1], None
        if t - last > limit:
            raise _NotKeyframes(f"keyframes {t - last:.2f} s apart")
        pending = (pkt, t)
    if pending is not None:
        yield from decoded(pending[0].decode())
        last = pending[1]
    yield from decoded(r.s.codec_context.decode(None))  # what the decoder still holds
    if last is None or end - last > limit:
        raise _NotKeyframes("the last keyframe is over a step before the end")


class _Failed:
    """An exception the decoding thread met, carried to the caller to be raised there."""

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


_DONE = object()


def prefetched(frames: Iterator[Frame], ahead: int = AHEAD) -> Iterator[Frame]:
    """``frames`` as they come, decoded on a thread of their own up to ``ahead`` frames before
    the caller asks for them; its errors are raised here, in order.

    Why: a long-GOP stream decodes every reference frame, and while the matcher hashed a
    sample, FFmpeg's threads had nothing to do: an H.264 programme against the benchmark's
    10,000-entry register went 9.4-10.2 s -> 8.1-8.4 s wall (``bench/results/register.md``).
    An intra-only stream gains nothing (both cores are busy already) and loses nothing.
    Decoding and the scaler release the GIL. The generator runs and is closed on that thread
    (a generator runs on one thread at a time); a caller that stops early stops it within
    one frame."""
    out: queue.Queue[Any] = queue.Queue(maxsize=max(1, ahead))
    stop = threading.Event()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                out.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def run() -> None:
        try:
            for fr in frames:
                if not put(fr):
                    return
            put(_DONE)
        except BaseException as exc:  # noqa: BLE001 - every error is the caller's to see
            put(_Failed(exc))
        finally:
            close = getattr(frames, "close", None)
            if close is not None:
                close()

    worker = threading.Thread(target=run, name="video-decode", daemon=True)
    worker.start()
    try:
        while True:
            item = out.get()
            if item is _DONE:
                return
            if isinstance(item, _Failed):
                raise item.exc
            yield item
    finally:
        stop.set()
        worker.join()

SEEK_AHEAD = 0.25  # seconds to the next sample beyond which the sampler jumps by the index


def _intra_frames(r: _Reader, want: Callable[[], float]) -> Iterator[Any]:
    """Decoded pictures of an intra-only stream at (or just after) the times ``want()``
    names, reading only their packets.

    Every packet is a whole picture, so the rest need not be decoded, nor even read: where
    the next sample is more than ``SEEK_AHEAD`` away the container's index (MOV, MP4, MXF)
    jumps there, which saves reading most of a large master. Fail closed: if a jump lands
    after the wanted time (a broken index), the file is read again in order from its start;
    if a packet has no time, or the index only lands far before the wanted time, jumping
    stops and the rest is read in order."""
    half = 0.5 / r.fps
    jump = r.c.format.name not in ("rawvideo", "image2")
    last_t = 0.0  # time of the last packet read in order
    while True:
        target = want()
        landed: float | None = None
        if jump and target - last_t > SEEK_AHEAD:
            try:
                r.c.seek(int((target + r.t0) / r.tb), stream=r.s, backward=True,
                         any_frame=False)
                r.s.codec_context.flush_buffers()
                landed = target
            except Exception:  # noqa: BLE001 - FFmpeg errors come in many types
                jump = False
        restart = False
        for pkt in r.c.demux(r.s):
            if pkt.pts is None or not pkt.size:
                if pkt.size and jump:  # no time: read this file in order from here on
                    jump = False
                yield from pkt.decode()
                continue
            t = float(pkt.pts) * r.tb - r.t0
            if landed is not None:
                if t + SEEK_AHEAD < landed:  # a coarse index: jumping does not help here
                    jump = False
                if t > landed + half:  # overshot: read in order from the start instead
                    jump, restart = False, True
                    r.reopen()
                    break
                landed = None
            last_t = t
            target = want()
            if t + half < target:
                if jump and target - t > SEEK_AHEAD:
                    restart = True
                    break
                continue
            yield from pkt.decode()
        if not restart:
            return


def frames_between(path: str, start: float, end: float, max_side: int = 256
                   ) -> Iterator[Frame]:
    """Every frame shown from ``start`` to ``end`` seconds (a short window: boundaries)."""
    av = _av()
    r = _Reader(path)
    try:
        r.reduce(max_side)
        r.stamped_in_decode_order()
        s = r.s
        s.thread_type = "AUTO"
        target = max(0.0, start - 0.5 / r.fps)
        try:
            r.c.seek(int((target + r.t0) / r.tb), stream=s, backward=True, any_frame=False)
            for fr in r.decode():
                t, index = r.time(fr, 0)
                if t + 0.5 / r.fps < start:
                    continue
                if t > end + 0.5 / r.fps:
                    break
                yield Frame(t, r.small(fr, max_side), False, index)
        except av.error.FFmpegError as exc:
            raise VideoError(f"decode failed near {timecode(start)}: {exc}") from exc
    finally:
        r.close()
