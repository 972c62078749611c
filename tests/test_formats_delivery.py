"""Delivery formats read natively: RF64/BW64 (64-bit sizes, C2PA chunk read on its own), BWF
bext/iXML/axml, AIFF/AIFF-C text chunks, MOV/3GP user data and mdta keys (Topaz Video AI),
OpenEXR header attributes (multi-part too), DPX and Cineon headers, and MXF through the deep
tier. Fixtures are ``fixtures/delivery`` (``fixtures/gen_delivery.py``: ffmpeg, oiiotool,
ImageMagick, libsndfile output); hostile variants are cut from them here."""

from __future__ import annotations

import csv
import dataclasses
import json
import struct
import subprocess
from pathlib import Path
from typing import Any

import pytest
from conftest import FIXTURES
from helpers import scan_with

import scanner
from detectors.c2pa_provenance import C2paDetector
from detectors.formats import registry
from detectors.formats.c2pa_locate import ABSENT, UNBOUND, locate, locate_bytes
from detectors.formats.exiftool_tags import exiftool_fields
from detectors.formats.native import Collector, Source
from detectors.formats.sniff import sniff
from detectors.metadata import MetadataDetector
from detectors.model import Field
from detectors.rules import _apply, _State, load_pack

DELIVERY = FIXTURES / "delivery"
EXPECTED = FIXTURES / "delivery_expected.tsv"
GIB = 1024**3


def walk(media_type: str, src: Source) -> Collector:
    reader = registry.native_reader(media_type)
    assert reader is not None, media_type
    out = Collector()
    try:
        reader(src, out)
    finally:
        src.close()
    return out


def read(data: bytes) -> Collector:
    _kind, media_type = sniff(data[:65536])
    reader = registry.native_reader(media_type)
    assert reader is not None, media_type
    out = Collector()
    reader(Source.from_bytes(data), out)
    return out


def fields(name: str) -> dict[str, list[str]]:
    out = read((DELIVERY / name).read_bytes())
    assert out.problems == [], out.problems
    got: dict[str, list[str]] = {}
    for f in out.fields:
        got.setdefault(f.key, []).append(f.value)
    return got


def expected() -> list[dict[str, str]]:
    with EXPECTED.open(encoding="utf-8") as fh:
        lines = [ln for ln in fh if ln.strip()]
    header = lines[0].lstrip("# ").rstrip("\n").split("\t")
    return [dict(zip(header, row, strict=True)) for row in csv.reader(lines[1:], delimiter="\t")]


@pytest.fixture(scope="module")
def report() -> Any:
    return scanner.scan([str(DELIVERY)])


# --- every fixture: its verdict, and clean controls exit 0 ------------------------------------

@pytest.mark.tool("exiftool")
def test_every_fixture_gets_its_expected_verdict(report: Any) -> None:
    rows = {r["file"]: r for r in expected()}
    by_name = {Path(r.asset.path).name: r for r in report.results}
    assert set(by_name) == set(rows), set(by_name) ^ set(rows)
    for name, row in rows.items():
        result = by_name[name]
        assert result.verdict == row["verdict"], (name, result.verdict, result.findings,
                                                  result.errors)
        rules = {f.rule for f in result.findings}
        assert set(row["rules"].split()) <= rules, (name, rules)
        assert not result.errors, (name, result.errors)


@pytest.mark.tool("exiftool")
def test_clean_controls_exit_zero(tmp_path: Path) -> None:
    for row in expected():
        if row["verdict"] == "clean" and row["marker_key"] == "-":
            (tmp_path / row["file"]).write_bytes((DELIVERY / row["file"]).read_bytes())
    report = scanner.scan([str(tmp_path)])
    assert report.summary.files == 7
    assert report.summary.verdict == "clean" and report.summary.exit_code == 0


# --- RF64 / BW64 -------------------------------------------------------------------------------

def test_ffmpeg_rf64_is_clean_with_no_c2pa_store() -> None:
    """ffmpeg -rf64 always output: c2pa-rs refuses RF64, so the structure walk decides."""
    data = (DELIVERY / "rf64_clean.wav").read_bytes()
    assert data[:4] == b"RF64" and data[4:8] == b"\xff" * 4
    found = locate_bytes("audio/wav", data)
    assert found.state == ABSENT and found.unbound is not None, found
    result = scan_with(C2paDetector(), DELIVERY / "rf64_clean.wav")
    assert result.verdict == "clean" and not result.errors
    notes = [n for c in result.coverage for n in c.notes]
    assert "no C2PA store" in notes, notes
    assert [c.status for c in result.coverage] == ["applied"]


def test_rf64_bext_fields() -> None:
    got = fields("rf64_bext_suno.wav")
    assert got["riff:bext:Originator"] == ["Suno"]
    assert got["riff:bext:Description"] == ["Temp score cue 3, generated with Suno v4"]
    assert got["riff:bext:OriginatorReference"] == ["SUNO-4a1b2c3d"]
    assert got["riff:bext:CodingHistory"] == ["A=PCM,F=8000,W=24,M=mono,T=Suno v4 export"]
    assert got["riff:INFO:ICMT"][0].startswith("made with suno;")


def test_rf64_c2pa_chunk_is_read_on_its_own_and_says_so() -> None:
    data = (DELIVERY / "rf64_c2pa.wav").read_bytes()
    found = locate_bytes("audio/wav", data)
    assert found.state == UNBOUND and found.unbound is not None
    offset, length = found.unbound.span or (0, 0)
    assert data[offset - 8:offset - 4] == b"C2PA" and offset + length <= len(data)
    result = scan_with(C2paDetector(), DELIVERY / "rf64_c2pa.wav")
    assert result.verdict == "ai" and not result.errors
    [finding] = [f for f in result.findings if f.rule == "c2pa.dst.trainedAlgorithmicMedia"]
    assert finding.tier == "declared"  # not verified: never passes as verified
    assert "binding to the audio not checked" in finding.evidence["validation"]
    # Over the verify limit: the store alone, and the reason says so.
    result = scan_with(C2paDetector(), DELIVERY / "rf64_c2pa.wav", verify_limit_mb=0)
    [finding] = [f for f in result.findings if f.rule == "c2pa.dst.trainedAlgorithmicMedia"]
    assert "verify limit" in finding.evidence["validation"]


def test_rf64_c2pa_chunk_that_is_not_a_store_is_a_review_not_a_pass(tmp_path: Path) -> None:
    data = bytearray((DELIVERY / "rf64_c2pa.wav").read_bytes())
    found = locate_bytes("audio/wav", bytes(data))
    assert found.unbound is not None and found.unbound.span is not None
    offset, length = found.unbound.span
    data[offset:offset + length] = b"\x5a" * length
    path = tmp_path / "junk_store.wav"
    path.write_bytes(bytes(data))
    result = scan_with(C2paDetector(), path)
    assert result.verdict == "review"
    assert [f.rule for f in result.findings] == ["c2pa.unreadable"]


def rf64_with_hole(path: Path, data_len: int, tail: bytes) -> None:
    """An RF64 whose ``data`` chunk is ``data_len`` bytes (a hole: sparse) followed by
    ``tail``; sizes in ds64 as ffmpeg writes them."""
    fmt = b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, 8000, 16000, 2, 16)
    pad = data_len & 1  # an odd data chunk is followed by its pad byte
    total = 4 + 36 + len(fmt) + 8 + data_len + pad + len(tail)
    ds64 = b"ds64" + struct.pack("<IQQQI", 28, total, data_len, data_len // 2, 0)
    with path.open("wb") as fh:
        fh.write(b"RF64" + b"\xff" * 4 + b"WAVE" + ds64 + fmt + b"data" + b"\xff" * 4)
        fh.seek(12 + 36 + len(fmt) + 8 + data_len + pad)
        fh.write(tail)


def _chunk(cid: bytes, data: bytes) -> bytes:
    return cid + struct.pack("<I", len(data)) + data + (b"\0" if len(data) % 2 else b"")


@pytest.mark.parametrize("with_c2pa", [False, True])
def test_sparse_5_gib_rf64_costs_a_few_header_reads(tmp_path: Path, with_c2pa: bool) -> None:
    """ds64's 64-bit data size steps over 5 GiB of samples to the chunks after them."""
    signed = (DELIVERY / "rf64_c2pa.wav").read_bytes()
    found = locate_bytes("audio/wav", signed)
    assert found.unbound is not None and found.unbound.span is not None
    offset, length = found.unbound.span
    info = _chunk(b"LIST", b"INFO" + _chunk(b"ICMT", b"after five gigabytes\0"))
    tail = info + (_chunk(b"C2PA", signed[offset:offset + length]) if with_c2pa else b"")
    path = tmp_path / "printmaster.wav"
    rf64_with_hole(path, 5 * GIB + 1, tail)
    size = path.stat().st_size
    head = path.read_bytes()[:65536] if size < 65536 else path.open("rb").read(65536)
    src = Source(size, head, lambda: path.open("rb"))
    out = walk("audio/wav", src)
    assert [(f.key, f.value) for f in out.fields] == [("riff:INFO:ICMT", "after five gigabytes")]
    assert out.problems == [] and src.bytes_read <= 1024, (out.problems, src.bytes_read)
    located = locate("audio/wav", size, head, lambda: path.open("rb"))
    assert located.state == (UNBOUND if with_c2pa else ABSENT)
    assert located.bytes_read <= 1024, located
    result = scan_with(C2paDetector(), path)
    assert result.verdict == ("ai" if with_c2pa else "clean") and not result.errors
    result = scan_with(MetadataDetector(), path)
    assert result.verdict == "clean" and not result.errors


@pytest.mark.parametrize(("label", "cut"), [
    ("cut inside the C2PA chunk", lambda d: d[:-100]),
    ("cut inside data", lambda d: d[:200]),
    ("ds64 form size past the end", lambda d: d[:20] + struct.pack("<Q", 1 << 40) + d[28:]),
    ("data size -1 without ds64", lambda d: d[:12] + b"JUNK" + d[16:]),
])
def test_hostile_rf64_is_an_error_never_clean(tmp_path: Path, label: str, cut: Any) -> None:
    path = tmp_path / "bad.wav"
    path.write_bytes(cut((DELIVERY / "rf64_c2pa.wav").read_bytes()))
    result = scan_with(C2paDetector(), path)
    assert result.verdict in ("error", "review"), (label, result)
    result = scan_with(MetadataDetector(), path)
    assert result.verdict == "error", (label, result)


def test_ds64_table_sizes_a_chunk_over_4_gib(tmp_path: Path) -> None:
    """A non-``data`` chunk whose 32-bit size is -1 takes its size from the ds64 table."""
    fmt = b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, 8000, 16000, 2, 16)
    big = 4 * GIB + 10
    tail = _chunk(b"LIST", b"INFO" + _chunk(b"ICMT", b"after the big chunk\0"))
    total = 4 + 48 + len(fmt) + 8 + big + len(tail)
    ds64 = b"ds64" + struct.pack("<IQQQI4sQ", 40, total, 0, 0, 1, b"FLLR", big)
    path = tmp_path / "table.wav"
    with path.open("wb") as fh:
        fh.write(b"RF64" + b"\xff" * 4 + b"WAVE" + ds64 + fmt + b"FLLR" + b"\xff" * 4)
        fh.seek(12 + 48 + len(fmt) + 8 + big)
        fh.write(tail)
    size = path.stat().st_size
    src = Source(size, b"", lambda: path.open("rb"))
    out = walk("audio/wav", src)
    assert [(f.key, f.value) for f in out.fields] == [("riff:INFO:ICMT", "after the big chunk")]
    assert out.problems == []


def test_bw64_adm_axml_fields() -> None:
    got = fields("bw64_adm.wav")
    assert got["riff:axml:coreMetadata/title/title"] == ["Lighthouse printmaster"]
    key = "riff:axml:coreMetadata/format/audioFormatExtended/audioProgramme@audioProgrammeName"
    assert got[key] == ["Main mix"]
    assert locate_bytes("audio/wav", (DELIVERY / "bw64_adm.wav").read_bytes()).state == ABSENT


def test_bwf_ixml_and_axml_xmp() -> None:
    got = fields("bwf_ixml.wav")
    assert got["riff:iXML:PROJECT"] == ["LIGHTHOUSE"]
    assert got["riff:iXML:NOTE"] == ["Temp VO line 12, generated with ElevenLabs v2"]
    assert got["riff:iXML:USER"] == ["replace before final mix"]
    assert got["riff:iXML:TRACK_LIST/TRACK/NAME"] == ["VO"]
    assert got["riff:iXML"][0].startswith("<?xml")  # the whole document, as before
    assert got["xmp:Iptc4xmpExt:DigitalSourceType"][0].endswith("trainedAlgorithmicMedia")
    assert got["riff:bext:Originator"] == ["SoundDevices"]


@pytest.mark.parametrize(("xml", "problem", "note"), [
    (b'<!DOCTYPE x [<!ENTITY a "b">]><BWFXML><NOTE>&a;</NOTE></BWFXML>', "refused", ""),
    (b"<BWFXML><NOTE>unclosed</BWFXML>", "", "not well-formed"),
    (b"<BWFXML>" + b"<A>" * 40 + b"deep" + b"</A>" * 40 + b"</BWFXML>", "", "deeper"),
])
def test_hostile_ixml(xml: bytes, problem: str, note: str) -> None:
    wav = (DELIVERY / "rf64_clean.wav").read_bytes()
    data = wav + _chunk(b"iXML", xml)
    data = data[:20] + struct.pack("<Q", len(data) - 8) + data[28:]
    out = read(data)
    assert [f.key for f in out.fields][:1] == ["riff:iXML"]  # the text is still a field
    if problem:
        assert any(problem in p for p in out.problems), out.problems
    if note:
        assert any(note in n for n in out.notes), out.notes


# --- AIFF --------------------------------------------------------------------------------------

def test_aiff_text_chunks_and_id3() -> None:
    assert fields("aiff_clean.aiff") == {"aiff:NAME": ["Cue 3"]}
    got = fields("aiff_suno.aiff")
    assert got["aiff:ANNO"][0].startswith("made with suno;")
    assert got["id3:TXXX:comment"][0].startswith("made with suno;")
    assert fields("aifc_comt.aifc") == {"aiff:COMT": [
        "printmaster v2", "Temp score generated with Udio, replace before QC"]}
    assert fields("aiff_libsndfile.aiff") == {"aiff:APPL:m3ga": ["Suno v4 (libsndfile-1.2.2)"]}


def test_aiff_skips_sound_data_by_seeking(tmp_path: Path) -> None:
    data = (DELIVERY / "aiff_suno.aiff").read_bytes()
    at = data.index(b"SSND")
    n = struct.unpack_from(">I", data, at + 4)[0]
    big = 3 * GIB
    path = tmp_path / "big.aiff"
    with path.open("wb") as fh:
        fh.write(data[:4] + struct.pack(">I", len(data) - 8 - n + big) + data[8:at + 4]
                 + struct.pack(">I", big))
        fh.seek(at + 8 + big)
        fh.write(data[at + 8 + n:])
    src = Source(path.stat().st_size, b"", lambda: path.open("rb"))
    out = walk("audio/aiff", src)
    assert "id3:TXXX:comment" in {f.key for f in out.fields}, out.problems
    assert out.problems == [] and src.bytes_read < 8192, src.bytes_read


@pytest.mark.parametrize(("label", "mutate", "problem"), [
    ("truncated in SSND", lambda d: d[:200], "runs past"),
    ("COMT count past its records", lambda d: d.replace(b"COMT\x00\x00\x00", b"COMT\x00\x00\x00", 1)
     [:d.index(b"COMT") + 8] + b"\x00\x09" + d[d.index(b"COMT") + 10:], "truncated"),
    ("bad chunk id", lambda d: d[:12] + b"\x01\x02\x03\x04" + d[16:], "invalid chunk id"),
])
def test_hostile_aiff_is_a_problem(label: str, mutate: Any, problem: str) -> None:
    out = read(mutate((DELIVERY / "aifc_comt.aifc").read_bytes()))
    assert any(problem in p for p in out.problems), (label, out.problems)


# --- MOV / 3GP ---------------------------------------------------------------------------------

def test_topaz_videoai_mdta_key_and_3gpp_udta() -> None:
    got = fields("topaz_videoai.mov")
    assert got["bmff:mdta:videoai"][0].startswith("Enhanced using prob-4; mode: auto;")
    got = fields("udta_3gpp.3gp")
    assert got["bmff:udta:titl"] == ["Previs shot 12"]
    assert got["bmff:udta:dscp"] == ["Previs made with Runway Gen-3, not for final"]
    assert fields("mov_clean.mov") == {}


# --- OpenEXR, DPX, Cineon ----------------------------------------------------------------------

def test_exr_header_attributes() -> None:
    got = fields("exr_a1111.exr")
    assert got["exr:comments"][0].startswith("photo of a lighthouse")
    assert "Steps: 20, Sampler: DPM++ 2M Karras" in got["exr:comments"][0]
    assert got["exr:owner"] == ["studio"]
    assert set(fields("exr_clean.exr")) == {"exr:Software", "exr:capDate"}
    out = read((DELIVERY / "exr_multipart.exr").read_bytes())
    parts = [(f.value, f.location.split(" attribute")[0]) for f in out.fields
             if f.key == "exr:comments"]
    assert parts == [("matte painted in Midjourney, upscaled", "EXR part 2")]
    assert [f.value for f in out.fields if f.key == "exr:name"] == ["beauty", "matte"]


@pytest.mark.parametrize(("label", "mutate", "problem"), [
    ("header cut", lambda d: d[:60], "past the end"),
    ("cut before the end of the header", lambda d: d[:d.index(b"owner") + 3], "truncated"),
    ("attribute size past the end",
     lambda d: d.replace(b"comments\x00string\x00", b"comments\x00string\x00\xff\xff\xff\x7f", 1),
     "past the end"),
    ("endless name", lambda d: d[:8] + b"A" * 400, "longer than 31"),
])
def test_hostile_exr_is_a_problem(label: str, mutate: Any, problem: str) -> None:
    out = read(mutate((DELIVERY / "exr_a1111.exr").read_bytes()))
    assert any(problem in p for p in out.problems), (label, out.problems)


def test_dpx_both_byte_orders_and_cineon() -> None:
    clean = fields("dpx_clean.dpx")
    assert (DELIVERY / "dpx_clean.dpx").read_bytes()[:4] == b"SDPX"
    assert clean["dpx:Project"] == ["LIGHTHOUSE"] and clean["dpx:Copyright"] == ["(c) Studio"]
    marked = fields("dpx_marked.dpx")
    assert (DELIVERY / "dpx_marked.dpx").read_bytes()[:4] == b"XPDS"
    assert marked["dpx:ImageDescription"] == ["Made in Midjourney v6"]
    assert marked["dpx:InputDeviceName"] == ["Midjourney v6"]
    assert marked["dpx:SlateInformation"] == ["SC12 TK3"]
    cin = fields("cineon_marked.cin")
    assert cin["cineon:Label"] == ["Concept plate, Midjourney v6 upscale"]
    assert cin["cineon:InputDeviceName"] == ["Midjourney v6"]
    assert cin["cineon:SlateInformation"] == ["SC12 TK3"]
    assert "cineon:Label" not in fields("cineon_clean.cin")


@pytest.mark.parametrize("name", ["dpx_marked.dpx", "cineon_marked.cin"])
def test_truncated_film_headers_are_errors(tmp_path: Path, name: str) -> None:
    out = read((DELIVERY / name).read_bytes()[:1000])
    assert out.problems, out.fields
    path = tmp_path / name
    path.write_bytes((DELIVERY / name).read_bytes()[:1000])
    assert scan_with(MetadataDetector(), path).verdict == "error"


# --- MXF through the deep tier -----------------------------------------------------------------

@pytest.mark.tool("exiftool")
def test_mxf_identification_maps_to_mxf_keys() -> None:
    from tests import tools

    exe = tools.require("exiftool")
    raw = subprocess.run([exe, "-j", "-a", "-G3:1:4", "-u",
                          str(DELIVERY / "mxf_identification.mxf")],
                         capture_output=True, check=True).stdout
    got = {f.key: f.value for f in exiftool_fields(json.loads(raw)[0])}
    assert got["mxf:ApplicationName"] == "ComfyUI"
    assert got["mxf:ApplicationSupplierName"] == "Comfy Org"
    assert got["mxf:ApplicationVersionString"] == "0.3.40"


# --- the rule edits the report proposes make the marked fixtures fire --------------------------

PROPOSED: dict[str, tuple[str, ...]] = {
    "meta.freetext.ai-mention": ("aiff:ANNO", "aiff:COMT", "aiff:NAME", "riff:iXML:*",
                                 "riff:axml:*", "bmff:udta:dscp", "bmff:udta:titl",
                                 "exr:comments", "dpx:ImageDescription", "dpx:Project",
                                 "dpx:UserData", "cineon:Label", "cineon:SlateInformation",
                                 "mxf:Description", "mxf:MainTitle"),
    "meta.suno.comment": ("aiff:ANNO", "aiff:COMT"),
    "meta.tool.agent": ("aiff:APPL:m3ga", "exr:software", "dpx:Creator",
                        "dpx:InputDeviceName", "cineon:InputDeviceName", "mxf:ApplicationName",
                        "bmff:mdta:encoder"),
    "meta.a1111.parameters": ("exr:comments", "exr:parameters", "aiff:ANNO", "aiff:COMT"),
    "meta.comfyui.vhs-comment": ("aiff:ANNO", "aiff:COMT", "exr:comments"),
}


@pytest.mark.parametrize(("rule_id", "field"), [
    ("meta.freetext.ai-mention", Field("aiff:COMT", "Temp score generated with Udio", "x")),
    ("meta.freetext.ai-mention", Field("riff:iXML:NOTE", "generated with ElevenLabs v2", "x")),
    ("meta.freetext.ai-mention", Field("bmff:udta:dscp", "Previs made with Runway Gen-3", "x")),
    ("meta.freetext.ai-mention", Field("exr:comments", "matte painted in Midjourney", "x")),
    ("meta.freetext.ai-mention", Field("dpx:ImageDescription", "Made in Midjourney v6", "x")),
    ("meta.freetext.ai-mention", Field("cineon:Label", "Concept plate, Midjourney v6", "x")),
    ("meta.suno.comment", Field("aiff:ANNO", "made with suno; created=2026-01-15", "x")),
    ("meta.tool.agent", Field("aiff:APPL:m3ga", "Suno v4 (libsndfile-1.2.2)", "x")),
    ("meta.tool.agent", Field("dpx:InputDeviceName", "Midjourney v6", "x")),
    ("meta.tool.agent", Field("mxf:ApplicationName", "ComfyUI", "x")),
    ("meta.a1111.parameters", Field("exr:comments", "a cat\nSteps: 20, Sampler: Euler a, CFG", "x")),
])
def test_proposed_rule_fields_fire_on_the_fixture_values(rule_id: str, field: Field) -> None:
    rule = next(r for r in load_pack().rules if r.id == rule_id)
    widened = dataclasses.replace(rule, fields=rule.fields + PROPOSED[rule_id])
    assert any(k == field.key or (k.endswith("*") and field.key.startswith(k[:-1]))
               for k in widened.fields)
    assert _apply(widened, field, [], _State([])) is not None
