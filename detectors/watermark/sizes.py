"""Where an intact mark can be: the size table (``detectors/data/watermark_sizes.toml``) and the
"fits inside" test the detector runs on header dimensions before any pixel is decoded.

The mark survives only at the size a generator wrote, or at a bottom/right crop of it (resizing
and top/left crops destroy it: see the table's header and the bench's survival table), so a
picture is worth decoding only when it fits inside some size a marking generator writes. Pure
arithmetic on the table: no NumPy, so the cheap stage of a scan can ask it."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

DATA = resources.files("detectors.data").joinpath("watermark_sizes.toml")
KINDS = ("image", "video")
TABLE_NAME = "detectors/data/watermark_sizes.toml"


@dataclass(frozen=True)
class SizeRange:
    """Pictures one marking path writes: both sides multiples of ``multiple`` (rounded up before
    the test, since a crop can end anywhere), at most ``max_side`` each and ``max_pixels`` in
    all, in either orientation."""

    name: str
    payloads: tuple[str, ...]
    kinds: tuple[str, ...]
    multiple: int
    max_side: int
    max_pixels: int
    what: str
    native: str
    why: str
    source: str

    def fits(self, width: int, height: int) -> bool:
        """True when a ``width``×``height`` picture is, or is a bottom/right crop of, a size
        this path writes."""
        if width <= 0 or height <= 0:
            return False
        w = -(-width // self.multiple) * self.multiple
        h = -(-height // self.multiple) * self.multiple
        return w <= self.max_side and h <= self.max_side and w * h <= self.max_pixels


def _entry(raw: dict[str, Any]) -> SizeRange:
    try:
        entry = SizeRange(
            name=str(raw["name"]), payloads=tuple(raw["payloads"]), kinds=tuple(raw["kinds"]),
            multiple=int(raw["multiple"]), max_side=int(raw["max_side"]),
            max_pixels=int(raw["max_pixels"]), what=" ".join(str(raw["what"]).split()),
            native=" ".join(str(raw["native"]).split()), why=" ".join(str(raw["why"]).split()),
            source=str(raw["source"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{TABLE_NAME}: bad entry {raw.get('name')!r}: {exc}") from None
    if not set(entry.kinds) <= set(KINDS) or not entry.kinds:
        raise ValueError(f"{TABLE_NAME}: {entry.name}: kinds must be among {KINDS}")
    if entry.multiple < 1 or entry.max_side < entry.multiple or entry.max_pixels < 1:
        raise ValueError(f"{TABLE_NAME}: {entry.name}: multiple/max_side/max_pixels")
    if not entry.source.startswith("https://"):
        raise ValueError(f"{TABLE_NAME}: {entry.name}: every number needs a public source")
    return entry


@cache
def load_sizes(path: Any = DATA) -> tuple[SizeRange, ...]:
    """The size table, checked (every entry names a public source)."""
    with path.open("rb") as fh:
        data = tomllib.load(fh)
    entries = tuple(_entry(raw) for raw in data["size"])
    if not entries or not all(any(k in e.kinds for e in entries) for k in KINDS):
        raise ValueError(f"{TABLE_NAME}: needs entries for images and for video")
    return entries


def admitting(width: int, height: int, kind: str,
              table: tuple[SizeRange, ...] | None = None) -> list[SizeRange]:
    """Entries of ``kind`` that a ``width``×``height`` picture fits inside (empty: no marking
    generator writes a picture that could have become this one without a resize)."""
    entries = load_sizes() if table is None else table
    return [e for e in entries if kind in e.kinds and e.fits(width, height)]


def largest(kind: str, table: tuple[SizeRange, ...] | None = None) -> tuple[int, int]:
    """(longest side, most pixels) any entry of ``kind`` admits: the limits a note quotes."""
    entries = [e for e in (load_sizes() if table is None else table) if kind in e.kinds]
    return max(e.max_side for e in entries), max(e.max_pixels for e in entries)


def outside_reason(width: int, height: int, kind: str,
                   table: tuple[SizeRange, ...] | None = None) -> str | None:
    """None when the picture may carry an intact mark; else the coverage note saying why it is
    not decoded (header dimensions only: nothing is decoded to decide)."""
    if admitting(width, height, kind, table):
        return None
    side, pixels = largest(kind, table)
    what = "frames are" if kind == "video" else "image is"
    noun, verb = what.split()
    return (f"pixel watermark not checked: {width}×{height} {noun} ({width * height / 1e6:.1f} "
            f"MP) {verb} larger than any marking generator writes (at most {side} px a side and "
            f"{pixels / 1e6:.1f} MP, crops included; {TABLE_NAME}), and resizing destroys the "
            "mark")
