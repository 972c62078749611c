"""Content sniffing: what a file is, from its first bytes, never from its name.

A PNG named ``.jpg`` is a PNG; a text file named ``.mov`` is "other". Which formats exist and
how each is recognised is declared by the format modules (``detectors.formats.registry``);
this module asks them in order, looks past ID3v2 prefixes, and uses the extension only to say
when it disagrees with the content (a note a QC engineer wants to see) and, with the content,
to tell OS clutter.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Callable

from detectors.formats import registry
from detectors.formats.id3 import tag_end

SNIFF_BYTES = 4096
# How many ID3v2 tags in a row we look past to find the real container.
MAX_ID3_PREFIXES = 4

# OS clutter: skipped only when the name *and* the content say so. A file merely named like
# clutter (an MP4 renamed ``._master.mp4``) is scanned like any other.
CLUTTER: tuple[tuple[str, str, str], ...] = (
    # (name glob, case-insensitive; media type sniffed from content; what it is)
    ("._*", "application/x-appledouble", "AppleDouble resource fork (macOS)"),
    ("._*", "application/applefile", "AppleSingle file (macOS)"),
    (".ds_store", "application/x-apple-ds-store", "Finder folder settings (macOS)"),
    ("thumbs.db", "application/x-ole-storage", "Explorer thumbnail cache (Windows)"),
    ("ehthumbs.db", "application/x-ole-storage", "Explorer thumbnail cache (Windows)"),
)
CLUTTER_TYPES = frozenset(t for _, t, _ in CLUTTER)


def extensions() -> dict[str, tuple[str, ...]]:
    """Extension -> media types it may legitimately hold (from the format declarations)."""
    return registry.extensions()


def _after_id3(h: bytes, read_at: Callable[[int, int], bytes] | None) -> tuple[str, str]:
    """What an ID3v2 tag is in front of: FLAC, AAC, WAV... taggers (and c2pa-rs) put ID3v2
    before other containers too, so the tag alone does not make a file MP3."""
    pos = 0
    follow = b""
    for _ in range(MAX_ID3_PREFIXES):
        end = tag_end(h, pos) if pos + 10 <= len(h) else None
        if end is None and pos + 10 > len(h) and read_at is not None:
            probe = read_at(pos, 10)
            end = tag_end(probe, 0) if probe[:3] == b"ID3" else None
            end = end + pos if end is not None else None
        if end is None:
            break
        pos = end
        follow = h[pos:pos + SNIFF_BYTES] if pos + 16 <= len(h) else (
            read_at(pos, SNIFF_BYTES) if read_at is not None else b"")
        if not follow.startswith(b"ID3"):
            break
    if follow and not follow.startswith(b"ID3"):
        kind, media_type = sniff(follow)
        if kind in ("audio", "video", "image"):
            return kind, media_type
    return "audio", "audio/mpeg"


def sniff(head: bytes, read_at: Callable[[int, int], bytes] | None = None) -> tuple[str, str]:
    """Return ``(kind, media_type)`` for a file starting with ``head``: the first declared
    format whose ``accept`` recognises it. ``read_at(offset, n)``, when given, reads beyond
    the head (to look past a large ID3v2 tag)."""
    if len(head) == 0:
        return "other", "application/x-empty"
    if head.startswith(b"ID3"):
        return _after_id3(head, read_at)
    for fmt in registry.formats():
        media_type = fmt.accept(head)
        if media_type is not None:
            return registry.kind_of(media_type), media_type
    return "other", "application/octet-stream"


def extension_note(path: str, media_type: str) -> str | None:
    """A note when the name's extension promises something else than the content is."""
    ext = os.path.splitext(path)[1].lower()
    expected = registry.extensions().get(ext)
    if expected is None or media_type in expected:
        return None
    return f"extension {ext} but content is {media_type}"


def clutter_reason(path: str, media_type: str) -> str | None:
    """Why a file is skipped as OS clutter: its name and its content both say so."""
    name = os.path.basename(path).lower()
    for pattern, clutter_type, what in CLUTTER:
        if media_type == clutter_type and fnmatch.fnmatchcase(name, pattern):
            return f"OS clutter: {what}, recognised by name and content (not scanned)"
    return None


def named_like_clutter(path: str) -> bool:
    name = os.path.basename(path).lower()
    return any(fnmatch.fnmatchcase(name, pattern) for pattern, _, _ in CLUTTER)
