"""Content sniffing decides kind from bytes; the extension only produces a note."""

from __future__ import annotations

import io
import struct
import wave

import pytest
from PIL import Image

from detectors.formats.sniff import extension_note, sniff


def _img(fmt: str) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 10, 10)).save(buf, fmt)
    return buf.getvalue()


def _wav() -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\0\0" * 80)
    return buf.getvalue()


def _ftyp(major: bytes, *compat: bytes) -> bytes:
    body = major + b"\0\0\0\0" + b"".join(compat)
    return struct.pack(">I", 8 + len(body)) + b"ftyp" + body + b"\0\0\0\x08free"


@pytest.mark.parametrize("data,kind,mt", [
    (_img("JPEG"), "image", "image/jpeg"),
    (_img("PNG"), "image", "image/png"),
    (_img("GIF"), "image", "image/gif"),
    (_img("WEBP"), "image", "image/webp"),
    (_img("TIFF"), "image", "image/tiff"),
    (_wav(), "audio", "audio/wav"),
    (_ftyp(b"isom", b"isom", b"mp41"), "video", "video/mp4"),
    (_ftyp(b"qt  "), "video", "video/quicktime"),
    (_ftyp(b"M4A ", b"M4A ", b"mp42"), "audio", "audio/mp4"),
    (_ftyp(b"mif1", b"mif1", b"heic"), "image", "image/heif"),
    (_ftyp(b"avif", b"avif", b"mif1"), "image", "image/avif"),
    (b"ID3\x04\0\0\0\0\0\0", "audio", "audio/mpeg"),
    (b"\xff\xfb\x90\x64" + b"\0" * 100, "audio", "audio/mpeg"),
    (b"fLaC\0\0\0\x22", "audio", "audio/flac"),
    (b"RIFF\0\0\0\0AVI LIST", "video", "video/x-msvideo"),
    (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01webm", "video", "video/webm"),
    (b"\x06\x0e\x2b\x34\x02\x05\x01\x01\x0d\x01\x02\x01", "video", "application/mxf"),
    (b"%PDF-1.7\n", "other", "application/pdf"),
    (b"<?xml version='1.0'?>\n<svg xmlns='http://www.w3.org/2000/svg'/>", "image", "image/svg+xml"),
    (b"<?xpacket begin=''?><x:xmpmeta xmlns:x='adobe:ns:meta/'/>", "sidecar", "application/rdf+xml"),
    (b"\0\0\0\x20jumb\0\0\0\x18jumdc2pa", "sidecar", "application/c2pa"),
    (b"hello, this is text\n", "other", "text/plain"),
    (b"", "other", "application/x-empty"),
    (bytes(range(256)), "other", "application/octet-stream"),
])
def test_sniff(data: bytes, kind: str, mt: str) -> None:
    assert sniff(data) == (kind, mt)


def test_extension_mismatch_note() -> None:
    assert extension_note("x.jpg", "image/png") == "extension .jpg but content is image/png"
    assert extension_note("x.JPG", "image/jpeg") is None
    assert extension_note("x.unknownext", "image/png") is None


def test_text_quoting_xmp_is_not_an_xmp_sidecar() -> None:
    code = b'"""generator"""\nXMP = \'<x:xmpmeta xmlns:x="adobe:ns:meta/"/>\'\n'
    assert sniff(code) == ("other", "text/plain")
    assert sniff(b"<?xml version='1.0'?>\n<x:xmpmeta xmlns:x='adobe:ns:meta/'/>")[0] == "sidecar"
