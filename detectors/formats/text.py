"""Text files: SVG images, XMP sidecars (read whole, bounded, by the XMP parser) and plain text.
Judged last, after every binary magic."""

from __future__ import annotations

from detectors.formats.registry import Format

SNIFF_BYTES = 4096
_XMP_STARTS = (b"<?xpacket", b"<x:xmpmeta", b"<x:xapmeta", b"<rdf:rdf")


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


def accept(head: bytes) -> str | None:
    if not looks_text(head):
        return None
    lower = head[:SNIFF_BYTES].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if b"<svg" in lower and lower.startswith((b"<?xml", b"<svg", b"<!--", b"<!doctype")):
        return "image/svg+xml"
    if lower.startswith(_XMP_STARTS) or (lower.startswith(b"<?xml")
                                         and b"<x:xmpmeta" in lower[:1024]):
        return "application/rdf+xml"
    return "text/plain"


FORMATS = [Format(
    id="text", label="text", priority=200, accept=accept,
    kinds={"image/svg+xml": "image", "application/rdf+xml": "sidecar", "text/plain": "other"},
    labels={"image/svg+xml": "SVG", "application/rdf+xml": "XMP sidecar"},
    extensions={".svg": ("image/svg+xml",), ".xmp": ("application/rdf+xml",)},
)]
