"""SMPTE timecode (ST 12-1) at a file's own frame rate, from its own start timecode.

Why: an editor or a QC operator finds a shot by the timecode burnt into their timeline, not by
seconds from the start of the file. A QuickTime ``tmcd`` track or an MXF timecode component
gives the first frame's label (e.g. 10:00:00:00); every reported frame is that label plus its
frame index, counted at the nominal rate (24, 25, 30, 60) and, for 29.97/59.94, with the
drop-frame rule (labels ;00 and ;01 — ;00-;03 at 59.94 — skipped each minute except every
tenth), so the label matches the wall clock the way an NLE shows it.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from fractions import Fraction

_TC = re.compile(r"^(\d{1,2})[:;.](\d{2})[:;.](\d{2})([:;.,])(\d{2,3})$")


class TimecodeError(ValueError):
    """Not a timecode, or not valid at the given rate."""


def _rate(fps: float | Fraction) -> Fraction:
    """Exact rate: 29.97... as 30000/1001, 23.976... as 24000/1001, others as given."""
    if isinstance(fps, Fraction):
        return fps
    for num in (24000, 30000, 48000, 60000, 120000):
        if abs(fps - num / 1001) < 0.005:
            return Fraction(num, 1001)
    return Fraction(fps).limit_denominator(1001)


@dataclass(frozen=True)
class Timing:
    """How a file labels its frames: exact rate, nominal (counting) rate, drop-frame, start."""

    rate: Fraction
    start_frame: int = 0  # the first frame's label as a frame count
    drop: bool = False
    source: str = "assumed"  # where the start label came from: tmcd, mxf, bext, assumed

    @property
    def nominal(self) -> int:
        return max(1, round(float(self.rate)))

    @property
    def fps(self) -> float:
        return float(self.rate)

    @classmethod
    def make(cls, fps: float | Fraction, start: str | None = None, source: str = "assumed"
             ) -> Timing:
        """Timing from a rate and an optional start label (';' before the frames = drop)."""
        rate = _rate(fps if fps and fps > 0 else 25)
        ntsc = rate.denominator == 1001 and round(float(rate)) in (30, 60)
        drop = ntsc and (start is None or ";" in start or "," in start or "." in start[-4:])
        t = cls(rate, 0, drop, source if start else "assumed")
        if start:
            try:
                return cls(rate, t.parse(start), drop, source)
            except TimecodeError:
                return t
        return t

    # -- frames <-> labels -----------------------------------------------------------------
    def label(self, frames: int) -> str:
        """HH:MM:SS:FF of a frame count from 00:00:00:00 (';' before FF when drop-frame);
        wraps at 24 hours like a timecode generator."""
        n = self.nominal
        per_day = 24 * 3600 * n
        if self.drop:
            d = 2 * (n // 30)  # labels skipped per minute
            per_10min = 10 * 60 * n - 9 * d
            per_day = 144 * per_10min
            frames %= per_day
            tens, rem = divmod(frames, per_10min)
            extra = 9 * d * tens
            if rem > d:
                extra += d * ((rem - d) // (60 * n - d))
            frames += extra
        frames %= 24 * 3600 * n
        ff = frames % n
        secs = frames // n
        sep = ";" if self.drop else ":"
        return f"{secs // 3600:02d}:{secs // 60 % 60:02d}:{secs % 60:02d}{sep}{ff:02d}"

    def parse(self, text: str) -> int:
        """Frame count of a label (the inverse of :meth:`label`)."""
        mt = _TC.match(text.strip())
        if not mt:
            raise TimecodeError(f"not a timecode: {text!r}")
        hh, mm, ss, ff = (int(mt.group(i)) for i in (1, 2, 3, 5))
        n = self.nominal
        if mm > 59 or ss > 59 or ff >= n:
            raise TimecodeError(f"{text!r} is not valid at {n} fps")
        total = (hh * 3600 + mm * 60 + ss) * n + ff
        if self.drop:
            d = 2 * (n // 30)
            minutes = hh * 60 + mm
            if mm % 10 and ss == 0 and ff < d:
                raise TimecodeError(f"{text!r} is a skipped drop-frame label")
            total -= d * (minutes - minutes // 10)
        return total

    # -- seconds <-> frames ----------------------------------------------------------------
    def frame_at(self, seconds: float) -> int:
        """Index (from the file's first frame) of the frame shown at ``seconds``."""
        return int(math.floor(seconds * self.fps + 1e-6))

    def seconds(self, frame: int) -> float:
        return float(frame / self.rate)

    def at(self, seconds: float) -> str:
        """The label of the frame shown at ``seconds`` from the start of the file."""
        return self.label(self.start_frame + self.frame_at(seconds))

    @classmethod
    def from_description(cls, d: dict[str, object]) -> Timing:
        """The timing :meth:`describe` wrote (a register entry keeps it); 25 fps if absent."""
        num, _, den = str(d.get("rate") or "25").partition("/")
        try:
            rate = Fraction(int(num), int(den or 1))
        except (ValueError, ZeroDivisionError):
            rate = Fraction(25)
        start = d.get("start")
        t = cls.make(rate, str(start) if start else None, str(d.get("start_source") or "assumed"))
        if isinstance(d.get("drop_frame"), bool) and d["drop_frame"] != t.drop:
            t = cls(t.rate, t.start_frame, bool(d["drop_frame"]), t.source)
        return t

    def describe(self) -> dict[str, object]:
        rate = (f"{self.rate.numerator}/{self.rate.denominator}"
                if self.rate.denominator != 1 else str(self.rate.numerator))
        return {"rate": rate, "fps": round(self.fps, 3), "drop_frame": self.drop,
                "start": self.label(self.start_frame), "start_source": self.source}


def probe(path: str) -> Timing:
    """The timing of a media file: video rate and start timecode (QuickTime ``tmcd``, MXF
    timecode component: FFmpeg reports both as ``timecode`` metadata), or for audio-only
    files the Broadcast WAV time reference at an assumed 25 fps."""
    import av  # noqa: PLC0415 - heavy; only the register detector needs it

    from detectors.api import open_readonly  # noqa: PLC0415

    try:
        with open_readonly(path) as fh, av.open(fh, mode="r") as c:
            tc: str | None = None
            source = "assumed"
            video = c.streams.video[0] if c.streams.video else None
            for s in ([video] if video is not None else []) + list(c.streams):
                if s is not None and s.metadata.get("timecode"):
                    tc = str(s.metadata["timecode"])
                    source = "tmcd" if s.type == "data" or s is video else "stream"
                    break
            if tc is None and c.metadata.get("timecode"):
                tc, source = str(c.metadata["timecode"]), "container"
            if video is not None:
                rate = video.average_rate or video.guessed_rate or video.base_rate
                fps = Fraction(rate) if rate else Fraction(25)
                return Timing.make(fps, tc, source)
            ref = c.metadata.get("time_reference")
            audio = c.streams.audio[0] if c.streams.audio else None
            if ref and audio is not None and audio.rate:
                t = Timing.make(25)
                secs = int(ref) / audio.rate
                return Timing(t.rate, t.frame_at(secs), False, "bext")
            if tc:
                return Timing.make(25, tc, source)
    except Exception:  # noqa: BLE001 - unreadable: the caller's decode reports the error
        pass
    return Timing.make(25)
