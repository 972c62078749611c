"""Text files: SVG images, XMP sidecars (read whole, bounded, by the XMP parser), JSON and plain
text. Judged last, after every binary magic.

JSON is told from other text by its first token only (an object, or an array of values), so an
INI ``[section]`` or an ASS ``[Script Info]`` stays plain text. Neither is media: whether a JSON
or text file is a *generator sidecar* (a ComfyUI graph, an A1111 infotext) is decided by the
metadata detector reading its content (``detectors.formats.gen_sidecar``), never here from the
first 4 KiB, because a graph's telling keys can sit past them.
"""

from __future__ import annotations

import re

from detectors.formats.registry import Format

SNIFF_BYTES = 4096
_XMP_STARTS = (b"<?xpacket", b"<x:xmpmeta", b"<x:xapmeta", b"<rdf:rdf")
_SPACE = b" \t\r\n"
# What may follow "[" in a JSON array: a value (object, array, string, number, literal) or "]".
_ARRAY_VALUE = re.compile(rb'[{\["\]\-0-9]|(?:true|false|null)[ \t\r\n]*[,\]]')


def looks_text(head: bytes) -> bool:
    """UTF-8 without NUL bytes in the first KiB (a multi-byte sequence cut at the end is fine)."""
    if not head:
        return False
    sample = head[:1024]
    if b"\x00" in sample:
        return False
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start > len(sample) - 4
    return True


def json_start(text: bytes) -> bool:
    """Whether text (BOM and leading space stripped) opens a JSON object or array."""
    if text[:1] == b"{":
        return text[1:].lstrip(_SPACE)[:1] in (b'"', b"}", b"")
    if text[:1] == b"[":
        rest = text[1:].lstrip(_SPACE)
        return not rest or _ARRAY_VALUE.match(rest) is not None
    return False


def accept(head: bytes) -> str | None:
    if not looks_text(head):
        return None
    start = head[:SNIFF_BYTES].lstrip(b"\xef\xbb\xbf \t\r\n")
    lower = start.lower()
    if b"<svg" in lower and lower.startswith((b"<?xml", b"<svg", b"<!--", b"<!doctype")):
        return "image/svg+xml"
    if lower.startswith(_XMP_STARTS) or (lower.startswith(b"<?xml")
                                         and b"<x:xmpmeta" in lower[:1024]):
        return "application/rdf+xml"
    if json_start(start):
        return "application/json"
    return "text/plain"


FORMATS = [Format(
    id="text", label="text", priority=200, accept=accept,
    kinds={"image/svg+xml": "image", "application/rdf+xml": "sidecar",
           "application/json": "other", "text/plain": "other"},
    labels={"image/svg+xml": "SVG", "application/rdf+xml": "XMP sidecar",
            "application/json": "JSON"},
    extensions={".svg": ("image/svg+xml",), ".xmp": ("application/rdf+xml",),
                ".json": ("application/json",)},
)]
