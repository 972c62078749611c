"""Edit rates, edit-unit arithmetic and timecode labels for composition timelines.

Why exact fractions: an IMF composition mixes edit rates (picture at 24000/1001, audio at
48000/1), and a position converted between them is generally not a whole number of the other's
units. Positions stay ``Fraction`` until they are shown; a timecode label then rounds outwards
(start down, end up) so the range shown always covers the resource.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction


@dataclass(frozen=True)
class Rational:
    """An ST 433 ``RationalType`` (``"24000 1001"``): edit units per second."""

    num: int
    den: int

    def __post_init__(self) -> None:
        if self.num <= 0 or self.den <= 0:
            raise ValueError(f"edit rate {self.num}/{self.den} is not positive")

    @classmethod
    def parse(cls, value: str) -> Rational:
        """``"24 1"`` as the schema writes it; ``"24/1"`` is accepted too (some tools write it).
        Raises ValueError for anything else."""
        parts = value.replace("/", " ").split()
        if len(parts) != 2 or not all(p.isdigit() for p in parts):
            raise ValueError(f"edit rate {value!r} is not two positive integers")
        return cls(int(parts[0]), int(parts[1]))

    @property
    def fraction(self) -> Fraction:
        return Fraction(self.num, self.den)

    @property
    def timecode_base(self) -> int:
        """Frames counted per timecode second: the rate rounded up (24000/1001 counts 24)."""
        return max(1, math.ceil(self.fraction))

    def __str__(self) -> str:
        return f"{self.num}/{self.den}"


def convert(units: int | Fraction, source: Rational, target: Rational) -> Fraction:
    """``units`` edit units at ``source`` rate, expressed in edit units at ``target`` rate."""
    return Fraction(units) * target.fraction / source.fraction


def seconds(units: int | Fraction, rate: Rational) -> float:
    return float(Fraction(units) / rate.fraction)


def timecode(units: int | Fraction, rate: Rational, *, round_up: bool = False) -> str:
    """Non-drop-frame ``HH:MM:SS:FF`` of a timeline position counted from 00:00:00:00.

    Fractional positions round down, or up with ``round_up`` (used for exclusive range ends).
    Hours are not wrapped at 24: a position is a duration from the composition's start."""
    value = Fraction(units)
    frames = math.ceil(value) if round_up else math.floor(value)
    if frames < 0:
        raise ValueError("negative timeline position")
    base = rate.timecode_base
    ff = frames % base
    total_seconds = frames // base
    return (f"{total_seconds // 3600:02d}:{total_seconds // 60 % 60:02d}:"
            f"{total_seconds % 60:02d}:{ff:02d}")


def as_number(value: Fraction) -> int | str:
    """A position for JSON: an int when whole, else ``"num/den"`` (exact, never a float)."""
    return value.numerator if value.denominator == 1 else f"{value.numerator}/{value.denominator}"
