"""Containers recognised by their magic bytes but read by the deep tier (ExifTool) only, and
files that are not media at all but must be named correctly (PDF, ZIP, a C2PA store, OS
clutter). A container that gets a native walker moves out of this table into a module of its
own."""

from __future__ import annotations

from collections.abc import Callable

from detectors.formats.registry import Format


def _magic(*prefixes: bytes, at: int = 0) -> Callable[[bytes], bool]:
    return lambda head: any(head[at:at + len(p)] == p for p in prefixes)


def _format(id: str, label: str, media_type: str, kind: str, test: Callable[[bytes], bool],
            priority: int, extensions: tuple[str, ...] = (), **kw: object) -> Format:
    return Format(id=id, label=label, kinds={media_type: kind}, priority=priority,
                  accept=lambda head: media_type if test(head) else None,
                  extensions={ext: (media_type,) for ext in extensions}, **kw)  # type: ignore[arg-type]


def _matroska(head: bytes) -> str | None:
    if not head.startswith(b"\x1a\x45\xdf\xa3"):
        return None
    return "video/webm" if b"webm" in head[:64] else "video/x-matroska"


def _mpeg_ts(head: bytes) -> bool:
    return len(head) > 188 and head[0] == 0x47 and head[188] == 0x47


def _bmp(head: bytes) -> bool:
    return head[:2] == b"BM" and len(head) >= 14 and int.from_bytes(head[2:6], "little") > 14


FORMATS = [
    Format(id="matroska", label="Matroska", priority=91, accept=_matroska,
           kinds={"video/webm": "video", "video/x-matroska": "video"},
           labels={"video/webm": "WebM"},
           extensions={".mkv": ("video/x-matroska",), ".webm": ("video/webm",)}),
    _format("mxf", "MXF", "application/mxf", "video",
            _magic(b"\x06\x0e\x2b\x34\x02\x05\x01\x01\x0d\x01\x02"), 92, (".mxf",)),
    _format("psd", "PSD", "image/vnd.adobe.photoshop", "image", _magic(b"8BPS"), 93, (".psd",)),
    _format("jxl", "JPEG XL", "image/jxl", "image", _magic(b"\xff\x0a"), 96, (".jxl",)),
    _format("flv", "FLV", "video/x-flv", "video", _magic(b"FLV"), 97, (".flv",)),
    _format("asf", "ASF/WMV", "video/x-ms-asf", "video", _magic(b"\x30\x26\xb2\x75"), 98),
    _format("mpeg-ps", "MPEG-PS", "video/mpeg", "video", _magic(b"\x00\x00\x01\xba"), 99,
            (".mpg", ".mpeg")),
    _format("mpeg-ts", "MPEG-TS", "video/mp2t", "video", _mpeg_ts, 100, (".ts", ".m2ts")),
    _format("bmp", "BMP", "image/bmp", "image", _bmp, 101, (".bmp",),
            raster=frozenset({"image/bmp"}), no_metadata="BMP has no metadata container"),
    _format("c2pa-store", "C2PA manifest store", "application/c2pa", "sidecar",
            _magic(b"jumb", at=4), 102, (".c2pa",)),
    _format("pdf", "PDF", "application/pdf", "other", _magic(b"%PDF-"), 103, (".pdf",)),
    # OS clutter: skipped only when the file's name says so too (see sniff.CLUTTER).
    _format("appledouble", "AppleDouble", "application/x-appledouble", "other",
            _magic(b"\x00\x05\x16\x07"), 105),
    _format("applesingle", "AppleSingle", "application/applefile", "other",
            _magic(b"\x00\x05\x16\x00"), 106),
    _format("ds-store", "Finder .DS_Store", "application/x-apple-ds-store", "other",
            _magic(b"\x00\x00\x00\x01Bud1"), 107),
    _format("ole", "OLE compound file", "application/x-ole-storage", "other",
            _magic(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"), 108),
    _format("aac", "AAC (ADTS)", "audio/aac", "audio", _magic(b"\xff\xf1", b"\xff\xf9"), 120,
            (".aac",)),
]
