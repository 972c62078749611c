"""ISO BMFF walker: item lists, mdta keys, freeform items, QuickTime udta text, XMP uuid and
udta/XMP_, HEIF items; moov at the end of a sparse 50 GiB file reached with a few reads;
hostile sizes and nesting reported as problems."""

from __future__ import annotations

import struct
import time
from pathlib import Path

import pytest
from conftest import FIXTURES

from detectors.formats.bmff import XMP_UUID, read_bmff
from detectors.formats.native import Collector, Source

META = FIXTURES / "meta"


def box(btype: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + btype + payload


def data_box(value: str, kind: int = 1) -> bytes:
    raw = value.encode("utf-16-be" if kind == 2 else "utf-8")
    return box(b"data", struct.pack(">II", kind, 0) + raw)


def hdlr(handler: bytes) -> bytes:
    return box(b"hdlr", b"\0" * 8 + handler + b"\0" * 13)


FTYP = box(b"ftyp", b"isom\0\0\2\0isomiso2mp41")


def read(data: bytes) -> Collector:
    out = Collector()
    read_bmff(Source.from_bytes(data), out)
    return out


def read_path(path: Path) -> tuple[Collector, Source]:
    out = Collector()
    src = Source(path.stat().st_size, b"", lambda: open(path, "rb"))  # noqa: SIM115
    read_bmff(src, out)
    src.close()
    return out, src


def kv(out: Collector) -> list[tuple[str, str]]:
    return [(f.key, f.value) for f in out.fields]


def test_ilst_items_including_freeform_and_utf16() -> None:
    ilst = box(b"ilst", box(b"\xa9too", data_box("Google"))
               + box(b"\xa9cmt", data_box("hello", kind=2))
               + box(b"----", box(b"mean", b"\0\0\0\0com.apple.iTunes") + box(b"name", b"\0\0\0\0AIGC")
                     + data_box('{"Label":"1"}'))
               + box(b"covr", data_box("not text", kind=13)))
    meta = box(b"meta", b"\0\0\0\0" + hdlr(b"mdir") + ilst)
    out = read(FTYP + box(b"mdat", b"\0" * 100) + box(b"moov", box(b"udta", meta)))
    assert kv(out) == [("bmff:ilst:©too", "Google"), ("bmff:ilst:©cmt", "hello"),
                       ("bmff:ilst:AIGC", '{"Label":"1"}')]
    assert "com.apple.iTunes:AIGC" in out.fields[2].location
    assert out.problems == []


def test_mdta_keys_resolve_item_indexes() -> None:
    keys = box(b"keys", b"\0\0\0\0" + struct.pack(">I", 2)
               + struct.pack(">I", 8 + 6) + b"mdta" + b"prompt"
               + struct.pack(">I", 8 + 7) + b"mdta" + b"comment")
    ilst = box(b"ilst", box(struct.pack(">I", 2), data_box("c"))
               + box(struct.pack(">I", 1), data_box("p"))
               + box(struct.pack(">I", 9), data_box("orphan")))
    meta = box(b"meta", b"\0\0\0\0" + hdlr(b"mdta") + keys + ilst)
    out = read(FTYP + box(b"moov", meta))
    assert kv(out) == [("bmff:mdta:comment", "c"), ("bmff:mdta:prompt", "p")]
    assert any("key index 9" in n for n in out.notes)


def test_quicktime_meta_without_fullbox_header_and_udta_text_atoms() -> None:
    meta = box(b"meta", hdlr(b"mdir") + box(b"ilst", box(b"\xa9nam", data_box("title"))))
    text_atom = box(b"\xa9cmt", struct.pack(">HH", 5, 0x55C4) + b"hello")
    out = read(box(b"moov", box(b"udta", meta + text_atom)))
    assert kv(out) == [("bmff:ilst:©nam", "title"), ("bmff:udta:©cmt", "hello")]


def test_xmp_uuid_box_anywhere_at_top_level() -> None:
    packet = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
              b'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
              b'xmlns:e="http://iptc.org/std/Iptc4xmpExt/2008-02-29/" '
              b'e:DigitalSourceType="trainedAlgorithmicMedia"/></rdf:RDF></x:xmpmeta>')
    data = FTYP + box(b"mdat", b"\0" * 64) + box(b"moov", b"") + box(b"uuid", XMP_UUID + packet)
    out = read(data)
    assert kv(out) == [("xmp:Iptc4xmpExt:DigitalSourceType", "trainedAlgorithmicMedia")]
    assert "uuid XMP box" in out.fields[0].location


@pytest.mark.parametrize(("name", "key"), [
    ("iptc_dst.mp4", "xmp:Iptc4xmpExt:DigitalSourceType"),   # ExifTool: top-level uuid box
    ("xmp_udta.mov", "xmp:Iptc4xmpExt:DigitalSourceType"),   # ExifTool: moov/udta/XMP_
    ("iptc_dst.avif", "xmp:Iptc4xmpExt:DigitalSourceType"),  # ExifTool: HEIF mime item
    ("comfyui_video.mp4", "bmff:mdta:prompt"),               # ffmpeg use_metadata_tags
    ("comfyui_vhs.mov", "bmff:udta:©cmt"),                   # ffmpeg MOV comment
    ("kling_aigc.mp4", "bmff:ilst:AIGC"),
])
def test_fixtures_written_by_tools(name: str, key: str) -> None:
    out, _ = read_path(META / name)
    assert key in {f.key for f in out.fields}, kv(out)
    assert out.problems == []


def test_moov_at_end_fixture_is_after_mdat() -> None:
    data = (META / "comfyui_video.mp4").read_bytes()
    assert data.index(b"mdat") < data.index(b"moov")
    out, _ = read_path(META / "comfyui_video.mp4")
    assert ("bmff:mdta:encoder", "Lavf59.27.100") in kv(out) or any(
        k == "bmff:mdta:workflow" for k, _ in kv(out))


def test_heif_exif_item() -> None:
    tiff = b"II*\x00\x08\x00\x00\x00\x01\x00" + struct.pack("<HHI", 0x0131, 2, 4) + b"AI!\0" + \
        b"\0\0\0\0"
    exif_item = struct.pack(">I", 6) + b"Exif\0\0" + tiff
    infe = box(b"infe", b"\x02\0\0\0" + struct.pack(">HH", 7, 0) + b"Exif" + b"\0")
    iinf = box(b"iinf", b"\0\0\0\0" + struct.pack(">H", 1) + infe)
    # iloc v0: offset_size 4, length_size 4, base_offset_size 0; offset patched below.
    def build(offset: int) -> bytes:
        iloc = box(b"iloc", b"\0\0\0\0" + bytes([0x44, 0x00]) + struct.pack(">H", 1)
                   + struct.pack(">HHH", 7, 0, 1) + struct.pack(">II", offset, len(exif_item)))
        meta = box(b"meta", b"\0\0\0\0" + hdlr(b"pict") + iinf + iloc)
        return FTYP + meta
    head = build(0)
    data = build(len(head) + 8) + box(b"mdat", exif_item)
    out = read(data)
    assert kv(out) == [("exif:Software", "AI!")]
    assert "HEIF Exif item 7" in out.fields[0].location


def test_sparse_50gib_mp4_with_moov_at_end_reads_kilobytes(tmp_path: Path) -> None:
    size = 50 * 1024**3
    path = tmp_path / "huge.mp4"
    moov = box(b"moov", box(b"udta", box(b"meta", b"\0\0\0\0" + hdlr(b"mdir")
                                          + box(b"ilst", box(b"\xa9too", data_box("Google"))))))
    with path.open("wb") as fh:
        fh.write(FTYP)
        fh.write(struct.pack(">I4sQ", 1, b"mdat", size))  # 64-bit largesize
        fh.seek(len(FTYP) + size)
        fh.write(moov)
    t0 = time.perf_counter()
    out, src = read_path(path)
    elapsed = time.perf_counter() - t0
    assert kv(out) == [("bmff:ilst:©too", "Google")]
    assert out.problems == []
    assert src.bytes_read < 4096  # the proof of bounded work; time only guards against a hang
    assert elapsed < 5


@pytest.mark.parametrize(("data", "problem"), [
    (FTYP + struct.pack(">I4s", 0x7FFFFFFF, b"moov"), "runs past the end"),
    (FTYP + struct.pack(">I4sQ", 1, b"moov", 2**62), "runs past the end"),
    (FTYP + struct.pack(">I4s", 4, b"moov") + b"\0" * 8, "invalid size"),
    (FTYP + box(b"moov", struct.pack(">I4s", 100, b"udta")), "runs past the end of moov"),
])
def test_hostile_boxes(data: bytes, problem: str) -> None:
    out = read(data)
    assert any(problem in p for p in out.problems), out.problems


def test_deep_nesting_is_bounded() -> None:
    inner = box(b"\xa9too", data_box("x"))
    for _ in range(200):
        inner = box(b"udta", inner)
    out = read(box(b"moov", inner))
    assert out.fields == []
    assert any("deeper than" in n for n in out.notes)


def test_box_count_is_bounded() -> None:
    many = box(b"free", b"") * 100_001
    t0 = time.perf_counter()
    out = read(FTYP + many)
    assert any("more than 100000 boxes" in p for p in out.problems)
    assert time.perf_counter() - t0 < 2.0
