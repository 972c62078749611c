"""RIFF walker: LIST/INFO after ``data``, bext, iXML, _PMX XMP, WebP EXIF/XMP, embedded id3,
RF64 ds64 sizes, AVI INFO, pad bytes; bombs and bogus sizes bounded and reported."""

from __future__ import annotations

import struct
import time
from pathlib import Path

import pytest
from conftest import CORPUS, FIXTURES

from detectors.formats.native import Collector, Source
from detectors.formats.riff import read_riff

META = FIXTURES / "meta"


def ck(cid: bytes, data: bytes, pad: bool = True) -> bytes:
    return cid + struct.pack("<I", len(data)) + data + (b"\0" if pad and len(data) % 2 else b"")


def riff(form: bytes, *chunks: bytes) -> bytes:
    body = form + b"".join(chunks)
    return b"RIFF" + struct.pack("<I", len(body)) + body


FMT = ck(b"fmt ", struct.pack("<HHIIHH", 1, 1, 8000, 16000, 2, 16))


def info(*items: tuple[bytes, str]) -> bytes:
    return ck(b"LIST", b"INFO" + b"".join(ck(k, v.encode() + b"\0") for k, v in items))


def read(data: bytes) -> Collector:
    out = Collector()
    read_riff(Source.from_bytes(data), out)
    return out


def read_path(path: Path) -> tuple[Collector, Source]:
    out = Collector()
    src = Source(path.stat().st_size, b"", lambda: open(path, "rb"))  # noqa: SIM115
    read_riff(src, out)
    src.close()
    return out, src


def kv(out: Collector) -> dict[str, str]:
    return {f.key: f.value for f in out.fields}


def test_info_after_data_odd_sizes_padded() -> None:
    data = riff(b"WAVE", FMT, ck(b"data", b"\1\2\3"), info((b"ICMT", "ab"), (b"ISFT", "Lavf")))
    out = read(data)
    assert kv(out) == {"riff:INFO:ICMT": "ab", "riff:INFO:ISFT": "Lavf"}
    assert "LIST/INFO item 'ICMT'" in out.fields[0].location
    assert out.problems == []


def test_missing_pad_byte_is_tolerated() -> None:
    data = riff(b"WAVE", FMT, ck(b"data", b"\1\2\3", pad=False), info((b"ICMT", "x")))
    assert kv(read(data)) == {"riff:INFO:ICMT": "x"}


def test_bext_ixml_pmx_and_id3_chunks() -> None:
    bext = bytearray(602)
    bext[0:11] = b"Description"
    bext[256:262] = b"Origin"
    packet = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
              b'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
              b'xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmp:CreatorTool="Suno"/></rdf:RDF>'
              b'</x:xmpmeta>')
    frame = b"TSSE" + struct.pack(">I", 5) + b"\0\0" + b"\0Suno"
    tag = b"ID3\x03\0\0" + bytes([0, 0, 0, len(frame)]) + frame
    data = riff(b"WAVE", FMT, ck(b"bext", bytes(bext) + b"A=PCM\r\n"), ck(b"data", b"\0" * 4),
                ck(b"iXML", b"<BWFXML><NOTE>n</NOTE></BWFXML>"), ck(b"_PMX", packet),
                ck(b"id3 ", tag))
    out = read(data)
    assert kv(out) == {"riff:bext:Description": "Description", "riff:bext:Originator": "Origin",
                       "riff:bext:CodingHistory": "A=PCM\r\n",
                       "riff:iXML": "<BWFXML><NOTE>n</NOTE></BWFXML>", "riff:iXML:NOTE": "n",
                       "xmp:xmp:CreatorTool": "Suno", "id3:TSSE": "Suno"}


def test_rf64_ds64_sizes() -> None:
    ds64 = ck(b"ds64", struct.pack("<QQQI", 0, 8, 2, 0))
    body = b"WAVE" + ds64 + FMT + b"data" + struct.pack("<I", 0xFFFFFFFF) + b"\0" * 8 + \
        info((b"ICMT", "after 64-bit data"))
    data = b"RF64" + struct.pack("<I", 0xFFFFFFFF) + body
    out = read(data)
    assert kv(out) == {"riff:INFO:ICMT": "after 64-bit data"}


def test_webp_exif_and_xmp_chunks() -> None:
    out, _ = read_path(META / "comfyui_anim.webp")
    got = kv(out)
    assert got["exif:Make"].startswith("workflow:{")
    assert got["exif:Model"].startswith("prompt:{")
    out, _ = read_path(META / "iptc_dst.webp")
    assert kv(out)["xmp:Iptc4xmpExt:DigitalSourceType"].endswith("trainedAlgorithmicMedia")


@pytest.mark.parametrize(("name", "key"), [
    ("freetext.wav", "riff:bext:Description"),
    ("freetext.wav", "riff:INFO:ICMT"),
    ("freetext.wav", "riff:iXML"),
    ("xmp_pmx.wav", "xmp:Iptc4xmpExt:DigitalSourceType"),
    ("tc260.avi", "riff:INFO:AIGC"),
])
def test_fixtures(name: str, key: str) -> None:
    out, _ = read_path(META / name)
    assert key in kv(out), kv(out)
    assert out.problems == []


def test_list_after_large_data_costs_one_header_read(tmp_path: Path) -> None:
    path = tmp_path / "big.wav"
    data_len = 2 * 1024**3
    tail = info((b"ICMT", "after two gigabytes"))
    with path.open("wb") as fh:
        fh.write(b"RIFF" + struct.pack("<I", 4 + len(FMT) + 8 + data_len + len(tail)) + b"WAVE")
        fh.write(FMT + b"data" + struct.pack("<I", data_len))
        fh.seek(12 + len(FMT) + 8 + data_len)
        fh.write(tail)
    out, src = read_path(path)
    assert kv(out) == {"riff:INFO:ICMT": "after two gigabytes"}
    assert src.bytes_read < 1024


def test_nested_list_bomb_is_bounded() -> None:
    inner = b""
    for _ in range(1000):
        inner = ck(b"LIST", b"INFO" + inner)
    t0 = time.perf_counter()
    out = read(riff(b"WAVE", FMT, ck(b"data", b""), inner))
    assert time.perf_counter() - t0 < 0.5
    assert out.fields == [] and out.problems == []
    assert any("nested LIST inside INFO" in n for n in out.notes)
    corpus = CORPUS / "c2pa-rs__riff_bomb_1000.wav"
    if corpus.is_file():
        out, _ = read_path(corpus)
        assert out.fields == [] and out.problems == []


def test_generic_list_nesting_bounded() -> None:
    inner = info((b"ICMT", "deep"))
    for _ in range(10):
        inner = ck(b"LIST", b"adtl" + inner)
    out = read(riff(b"WAVE", FMT, inner))
    assert out.fields == []
    assert any("nested deeper" in n for n in out.notes)


@pytest.mark.parametrize(("data", "problem"), [
    (b"RIFX\0\0\0\0WAVE", "not a RIFF file"),
    (riff(b"WAVE", FMT, b"LIST" + struct.pack("<I", 0xFFFFFFF0)), "runs past the end"),
    (riff(b"WAVE", FMT, b"\x01\x02\x03\x04" + struct.pack("<I", 4) + b"abcd"), "invalid chunk id"),
    (riff(b"WAVE", FMT, ck(b"data", b"\0" * 16))[:-8], "runs past the end"),
])
def test_hostile_riff(data: bytes, problem: str) -> None:
    out = read(data)
    assert any(problem in p for p in out.problems), out.problems


def test_chunk_count_bounded() -> None:
    data = riff(b"WAVE", FMT, ck(b"JUNK", b"") * 100_001)
    out = read(data)
    assert any("more than 100000 chunks" in p for p in out.problems)
