"""Which container formats deliverscan knows, built from what each format module declares.

Like Pillow's format plugins: every module under ``detectors/formats/`` that is a container
format ends with ``FORMATS = [Format(...)]`` (found by walking the package: nothing to register)
declaring how it is recognised (``accept`` on the
file's first bytes), its media types and file extensions, and what it can do: its bounded
metadata walk (``read``), its C2PA-carrier visitor (``c2pa``), its pixel dimensions from the
header (``dimensions``), whether common decoders read its pixels (``raster``). Sniffing, the
metadata detector's native tier, the C2PA pre-filter, the watermark detector's header check
and the fuzz targets are all built from these declarations, so a new container is one module
plus its test.

Format modules import this module for ``Format``; it imports them only when first asked
(``formats()``), so there is no import circle.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

Reader = Callable[[Any, Any], None]  # (Source, Collector) -> None


@dataclass(frozen=True)
class Format:
    """One container format (several media types when its content says which, e.g. RIFF)."""

    id: str  # short stable name: "png", "riff", "bmff" (fuzz targets, notes)
    label: str  # what a person calls it: "PNG", "WAV/AVI/WebP (RIFF)"
    kinds: dict[str, str]  # media type -> asset kind ("image", "video", "audio", ...)
    accept: Callable[[bytes], str | None]  # first bytes -> the media type, or None
    priority: int = 100  # sniffing order (lower first): specific magic before heuristics
    extensions: dict[str, tuple[str, ...]] | None = None  # ".ext" -> media types it may hold
    read: Reader | None = None  # bounded native metadata walk; None: the deep tier reads it
    c2pa: Callable[[Any], tuple[str, str]] | None = None  # Source -> (state, why)
    dimensions: Callable[[bytes], tuple[int, int, int] | None] | None = None  # head -> w, h, n
    raster: frozenset[str] = frozenset()  # media types OpenCV/Pillow decode in every variant
    no_metadata: str = ""  # why no tier has anything to read ("BMP has no metadata container")
    labels: dict[str, str] | None = None  # a media type's own label, when not ``label``

    def label_of(self, media_type: str) -> str:
        return (self.labels or {}).get(media_type, self.label)


def format_modules() -> list[str]:
    """The modules of this package that declare ``FORMATS`` (by name, sorted)."""
    import detectors.formats as package

    out = []
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"detectors.formats.{info.name}")
        if isinstance(getattr(module, "FORMATS", None), list):
            out.append(info.name)
    return out


@cache
def formats() -> tuple[Format, ...]:
    """Every declared format, in sniffing order (priority, then module name)."""
    found: list[tuple[int, str, int, Format]] = []
    for name in format_modules():
        module = importlib.import_module(f"detectors.formats.{name}")
        for index, fmt in enumerate(module.FORMATS):
            found.append((fmt.priority, name, index, fmt))
    found.sort(key=lambda item: item[:3])
    return tuple(item[3] for item in found)


@cache
def _by_type() -> dict[str, Format]:
    out: dict[str, Format] = {}
    for fmt in formats():
        for media_type in fmt.kinds:
            out.setdefault(media_type, fmt)
    return out


def format_of(media_type: str) -> Format | None:
    """The format a sniffed media type belongs to."""
    return _by_type().get(media_type)


def kind_of(media_type: str) -> str:
    fmt = format_of(media_type)
    return fmt.kinds[media_type] if fmt else "other"


def label(media_type: str) -> str:
    fmt = format_of(media_type)
    return fmt.label_of(media_type) if fmt else media_type


@cache
def extensions() -> dict[str, tuple[str, ...]]:
    """File extension -> media types a file so named may legitimately hold."""
    out: dict[str, tuple[str, ...]] = {}
    for fmt in formats():
        for ext, types in (fmt.extensions or {}).items():
            out[ext] = out.get(ext, ()) + tuple(t for t in types if t not in out.get(ext, ()))
    return out


@cache
def signature() -> str:
    """A digest of what the declarations say (formats, media types, kinds, extensions,
    capabilities): a cache of classifications and readings made under other declarations
    (a new container module, a type that became an archive) must not be reused."""
    import hashlib

    parts = [(f.id, sorted(f.kinds.items()), f.priority, sorted((f.extensions or {}).items()),
              f.read is not None, f.c2pa is not None, sorted(f.raster)) for f in formats()]
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:16]


def native_reader(media_type: str) -> Reader | None:
    fmt = format_of(media_type)
    return fmt.read if fmt else None


def dimensions(media_type: str, head: bytes) -> tuple[int, int, int] | None:
    """(width, height, frames) from the header bytes, or None (ask a decoder)."""
    fmt = format_of(media_type)
    return fmt.dimensions(head) if fmt and fmt.dimensions else None


def is_raster(media_type: str) -> bool:
    fmt = format_of(media_type)
    return fmt is not None and media_type in fmt.raster
