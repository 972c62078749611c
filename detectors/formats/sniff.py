"""Content sniffing: what a file is, from its first bytes, never from its name.

A PNG named ``.jpg`` is a PNG; a text file named ``.mov`` is "other". The extension is only used
to say when it disagrees with the content (a note a QC engineer wants to see).
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Callable

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

# ISO BMFF major/compatible brands → (kind, media type)
_BMFF_BRANDS: dict[bytes, tuple[str, str]] = {
    b"heic": ("image", "image/heic"), b"heix": ("image", "image/heic"),
    b"heim": ("image", "image/heic"), b"heis": ("image", "image/heic"),
    b"hevc": ("image", "image/heic"), b"hevx": ("image", "image/heic"),
    b"mif1": ("image", "image/heif"), b"msf1": ("image", "image/heif"),
    b"avif": ("image", "image/avif"), b"avis": ("image", "image/avif"),
    b"M4A ": ("audio", "audio/mp4"), b"M4B ": ("audio", "audio/mp4"),
    b"M4P ": ("audio", "audio/mp4"), b"F4A ": ("audio", "audio/mp4"),
    b"qt  ": ("video", "video/quicktime"),
    b"crx ": ("image", "image/x-canon-cr3"),
    b"jp2 ": ("image", "image/jp2"), b"jxl ": ("image", "image/jxl"),
}
_QT_TOP = {b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot", b"uuid"}

# Extension → media types it may legitimately hold (for the mismatch note only).
EXTENSIONS: dict[str, tuple[str, ...]] = {
    ".jpg": ("image/jpeg",), ".jpeg": ("image/jpeg",), ".jpe": ("image/jpeg",),
    ".png": ("image/png",), ".gif": ("image/gif",), ".webp": ("image/webp",),
    ".tif": ("image/tiff",), ".tiff": ("image/tiff",), ".dng": ("image/tiff",),
    ".heic": ("image/heic", "image/heif"), ".heif": ("image/heif", "image/heic"),
    ".avif": ("image/avif",), ".svg": ("image/svg+xml",), ".psd": ("image/vnd.adobe.photoshop",),
    ".exr": ("image/x-exr",), ".dpx": ("image/x-dpx",), ".bmp": ("image/bmp",),
    ".jxl": ("image/jxl",), ".jp2": ("image/jp2",),
    ".mp4": ("video/mp4",), ".m4v": ("video/mp4",), ".mov": ("video/quicktime", "video/mp4"),
    ".avi": ("video/x-msvideo",), ".mkv": ("video/x-matroska",), ".webm": ("video/webm",),
    ".mxf": ("application/mxf",), ".ts": ("video/mp2t",), ".m2ts": ("video/mp2t",),
    ".flv": ("video/x-flv",), ".mpg": ("video/mpeg",), ".mpeg": ("video/mpeg",),
    ".wav": ("audio/wav",), ".bwf": ("audio/wav",), ".mp3": ("audio/mpeg",),
    ".m4a": ("audio/mp4",), ".flac": ("audio/flac",), ".ogg": ("audio/ogg", "video/ogg"),
    ".opus": ("audio/ogg",), ".aif": ("audio/aiff",), ".aiff": ("audio/aiff",),
    ".aac": ("audio/aac",),
    ".xmp": ("application/rdf+xml",), ".c2pa": ("application/c2pa",),
    ".pdf": ("application/pdf",), ".zip": ("application/zip",),
}


def _riff(head: bytes) -> tuple[str, str]:
    form = head[8:12]
    if form == b"WEBP":
        return "image", "image/webp"
    if form == b"WAVE":
        return "audio", "audio/wav"
    if form == b"AVI ":
        return "video", "video/x-msvideo"
    return "other", "application/x-riff"


def _bmff(head: bytes) -> tuple[str, str] | None:
    if head[4:8] != b"ftyp":
        if head[4:8] in _QT_TOP and len(head) >= 8:
            return "video", "video/quicktime"
        return None
    size = int.from_bytes(head[0:4], "big")
    major = head[8:12]
    brands = [major]
    end = min(max(size, 16), len(head))
    brands += [head[i:i + 4] for i in range(16, end - 3, 4)]
    for brand in brands:
        if brand in _BMFF_BRANDS:
            return _BMFF_BRANDS[brand]
    return "video", "video/mp4"


def _mpeg_audio_sync(head: bytes) -> bool:
    # MPEG-1/2 layer I-III frame header: 11 set sync bits, valid version/layer/bitrate fields.
    if len(head) < 4 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0:
        return False
    version = (head[1] >> 3) & 3
    layer = (head[1] >> 1) & 3
    bitrate = head[2] >> 4
    rate = (head[2] >> 2) & 3
    return version != 1 and layer != 0 and bitrate not in (0, 15) and rate != 3


def _looks_text(head: bytes) -> bool:
    if not head:
        return False
    sample = head[:1024]
    if b"\x00" in sample:
        return False
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start > len(sample) - 4  # cut inside a multi-byte sequence
    return True


def _id3_end(h: bytes, at: int) -> int | None:
    """Offset just past an ID3v2 tag starting at ``at`` (syncsafe size, optional footer)."""
    hdr = h[at:at + 10]
    if len(hdr) < 10 or hdr[:3] != b"ID3" or any(b & 0x80 for b in hdr[6:10]):
        return None
    size = hdr[6] << 21 | hdr[7] << 14 | hdr[8] << 7 | hdr[9]
    return at + 10 + size + (10 if hdr[5] & 0x10 else 0)


def _after_id3(h: bytes, read_at: Callable[[int, int], bytes] | None) -> tuple[str, str]:
    """What an ID3v2 tag is in front of: FLAC, AAC, WAV... taggers (and c2pa-rs) put ID3v2
    before other containers too, so the tag alone does not make a file MP3."""
    pos = 0
    follow = b""
    for _ in range(MAX_ID3_PREFIXES):
        end = _id3_end(h, pos) if pos + 10 <= len(h) else None
        if end is None and pos + 10 > len(h) and read_at is not None:
            probe = read_at(pos, 10)
            end = _id3_end(probe, 0) if probe[:3] == b"ID3" else None
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
    """Return ``(kind, media_type)`` for a file starting with ``head``. ``read_at(offset, n)``,
    when given, reads beyond the head (to look past a large ID3v2 tag)."""
    h = head
    if len(h) == 0:
        return "other", "application/x-empty"
    if h.startswith(b"\xff\xd8\xff"):
        return "image", "image/jpeg"
    if h.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image", "image/png"
    if h[:6] in (b"GIF87a", b"GIF89a"):
        return "image", "image/gif"
    if h[:4] in (b"RIFF", b"RF64", b"BW64"):
        if h[:4] != b"RIFF" and h[8:12] == b"WAVE":
            return "audio", "audio/wav"
        return _riff(h)
    if h[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "image", "image/tiff"
    bmff = _bmff(h) if len(h) >= 12 else None
    if bmff:
        return bmff
    if h.startswith(b"ID3"):
        return _after_id3(h, read_at)
    if h.startswith(b"fLaC"):
        return "audio", "audio/flac"
    if h.startswith(b"OggS"):
        return ("video", "video/ogg") if b"\x80theora" in h[:SNIFF_BYTES] else ("audio", "audio/ogg")
    if h[:4] == b"FORM" and h[8:12] in (b"AIFF", b"AIFC"):
        return "audio", "audio/aiff"
    if h.startswith(b"\x1a\x45\xdf\xa3"):
        return ("video", "video/webm") if b"webm" in h[:64] else ("video", "video/x-matroska")
    if h.startswith(b"\x06\x0e\x2b\x34\x02\x05\x01\x01\x0d\x01\x02"):
        return "video", "application/mxf"
    if h[:4] == b"8BPS":
        return "image", "image/vnd.adobe.photoshop"
    if h[:4] == b"\x76\x2f\x31\x01":
        return "image", "image/x-exr"
    if h[:4] in (b"SDPX", b"XPDS"):
        return "image", "image/x-dpx"
    if h[:2] == b"\xff\x0a":
        return "image", "image/jxl"
    if h[:3] == b"FLV":
        return "video", "video/x-flv"
    if h[:4] == b"\x30\x26\xb2\x75":
        return "video", "video/x-ms-asf"
    if h[:4] == b"\x00\x00\x01\xba":
        return "video", "video/mpeg"
    if len(h) > 188 and h[0] == 0x47 and h[188] == 0x47:
        return "video", "video/mp2t"
    if h[:2] == b"BM" and len(h) >= 14 and int.from_bytes(h[2:6], "little") > 14:
        return "image", "image/bmp"
    if h[4:8] == b"jumb":
        return "sidecar", "application/c2pa"
    if h[:4] == b"\x00\x05\x16\x07":
        return "other", "application/x-appledouble"
    if h[:4] == b"\x00\x05\x16\x00":
        return "other", "application/applefile"
    if h[:8] == b"\x00\x00\x00\x01Bud1":
        return "other", "application/x-apple-ds-store"
    if h[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        return "other", "application/x-ole-storage"
    if h.startswith(b"%PDF-"):
        return "other", "application/pdf"
    if h.startswith(b"PK\x03\x04"):
        return "other", "application/zip"
    if _mpeg_audio_sync(h):
        return "audio", "audio/mpeg"
    if h[:2] in (b"\xff\xf1", b"\xff\xf9"):
        return "audio", "audio/aac"
    if _looks_text(h):
        text = h[:SNIFF_BYTES].lstrip(b"\xef\xbb\xbf \t\r\n")
        lower = text[:SNIFF_BYTES].lower()
        if b"<svg" in lower and (lower.startswith(b"<?xml") or lower.startswith(b"<svg")
                                 or lower.startswith(b"<!--") or lower.startswith(b"<!doctype")):
            return "image", "image/svg+xml"
        if lower.startswith((b"<?xpacket", b"<x:xmpmeta", b"<x:xapmeta", b"<rdf:rdf")) or (
                lower.startswith(b"<?xml") and b"<x:xmpmeta" in lower[:1024]):
            return "sidecar", "application/rdf+xml"
        return "other", "text/plain"
    return "other", "application/octet-stream"


def extension_note(path: str, media_type: str) -> str | None:
    """A note when the name's extension promises something else than the content is."""
    ext = os.path.splitext(path)[1].lower()
    expected = EXTENSIONS.get(ext)
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
