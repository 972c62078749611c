"""ID3 (v2.2/2.3/2.4, v1, appended) and Vorbis comments (FLAC, Ogg Vorbis/Opus): frames that can
carry a declaration are read, pictures skipped by offset, unsync/compression handled, hostile
sizes reported."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import pytest
from conftest import FIXTURES

from detectors.formats.flac import read_flac
from detectors.formats.id3 import parse_id3v2
from detectors.formats.mp3 import read_mp3
from detectors.formats.native import Collector, Source
from detectors.formats.ogg import read_ogg

META = FIXTURES / "meta"


def syncsafe(n: int) -> bytes:
    return bytes([(n >> 21) & 0x7F, (n >> 14) & 0x7F, (n >> 7) & 0x7F, n & 0x7F])


def tag(major: int, frames: bytes, flags: int = 0) -> bytes:
    return b"ID3" + bytes([major, 0, flags]) + syncsafe(len(frames)) + frames


def f23(fid: bytes, payload: bytes, flags: int = 0) -> bytes:
    return fid + struct.pack(">IH", len(payload), flags) + payload


def f24(fid: bytes, payload: bytes, flags: int = 0) -> bytes:
    return fid + syncsafe(len(payload)) + struct.pack(">H", flags) + payload


def f22(fid: bytes, payload: bytes) -> bytes:
    return fid + len(payload).to_bytes(3, "big") + payload


def mp3(data: bytes) -> list[tuple[str, str]]:
    out = Collector()
    read_mp3(Source.from_bytes(data), out)
    assert out.problems == [], out.problems
    return [(f.key, f.value) for f in out.fields]


def test_v23_text_txxx_comm_url_geob_priv() -> None:
    frames = (f23(b"TIT2", b"\x01" + "Song \u00e9".encode("utf-16"))
              + f23(b"TXXX", b"\x00prompt\x00{\"1\": 2}")
              + f23(b"COMM", b"\x01eng" + "".encode("utf-16") + b"\0\0" + "made with suno".encode("utf-16"))
              + f23(b"WOAS", b"https://suno.com/song/x")
              + f23(b"GEOB", b"\x00application/c2pa\x00manifest.c2pa\x00c2pa manifest store\x00" + b"J" * 100)
              + f23(b"PRIV", b"com.example\x00\x01\x02")
              + f23(b"APIC", b"\x00image/jpeg\x00\x03\x00" + b"\xff" * 500))
    assert mp3(tag(3, frames) + b"\xff\xfb\x90\x00") == [
        ("id3:TIT2", "Song \u00e9"), ("id3:TXXX:prompt", '{"1": 2}'),
        ("id3:COMM", "made with suno"), ("id3:WOAS", "https://suno.com/song/x"),
        ("id3:GEOB:c2pa manifest store", "application/c2pa; manifest.c2pa; 152 bytes"),
        ("id3:PRIV:com.example", "14 bytes")]


def test_v24_syncsafe_multi_values_and_frame_flags() -> None:
    comp = zlib.compress(b"\x03compressed text")
    frames = (f24(b"TPE1", b"\x03A\x00B")
              + f24(b"TXXX", b"\x03workflow\x00{}")
              + f24(b"TIT3", syncsafe(len(b"\x03compressed text")) + comp, flags=0x0009)
              + f24(b"TENC", b"\x03x\xff\x00y", flags=0x0002))  # frame unsynchronisation
    assert mp3(tag(4, frames)) == [("id3:TPE1", "A / B"), ("id3:TXXX:workflow", "{}"),
                                   ("id3:TIT3", "compressed text"), ("id3:TENC", "x\ufffdy")]


def test_v22_frame_ids_are_mapped() -> None:
    frames = f22(b"TT2", b"\x00title") + f22(b"TXX", b"\x00prompt\x00{}") + \
        f22(b"COM", b"\x00eng\x00made with suno")
    assert mp3(tag(2, frames)) == [("id3:TIT2", "title"), ("id3:TXXX:prompt", "{}"),
                                   ("id3:COMM", "made with suno")]


def test_v23_tag_level_unsynchronisation() -> None:
    frame = f23(b"TXXX", b"\x00d\x00a\xff\xe0b")  # 0xFF 0xE0 looks like an MPEG sync
    unsynced = frame.replace(b"\xff", b"\xff\x00")
    assert mp3(tag(3, unsynced, flags=0x80)) == [("id3:TXXX:d", "a\xff\xe0b")]


def test_v1_and_appended_v2_tags() -> None:
    v1 = b"TAG" + b"t".ljust(30, b"\0") + b"a".ljust(30, b"\0") + b"".ljust(30, b"\0") + \
        b"2026" + b"made with suno".ljust(30, b"\0") + b"\x0c"
    appended = tag(4, f24(b"TSSE", b"\x03Suno v4"))
    footer = b"3DI" + appended[3:10]
    data = b"\xff\xfb\x90\x00" * 10 + appended + footer + v1
    assert mp3(data) == [("id3:TSSE", "Suno v4"), ("id3v1:title", "t"), ("id3v1:artist", "a"),
                         ("id3v1:comment", "made with suno")]


def test_picture_frames_are_skipped_not_read(tmp_path: Path) -> None:
    frames = f23(b"APIC", b"\x00image/jpeg\x00\x03\x00" + b"\xff" * 5_000_000) + \
        f23(b"TXXX", b"\x00prompt\x00{}")
    path = tmp_path / "cover.mp3"
    path.write_bytes(tag(3, frames) + b"\xff\xfb\x90\x00")
    out = Collector()
    src = Source(path.stat().st_size, b"", lambda: open(path, "rb"))  # noqa: SIM115
    read_mp3(src, out)
    src.close()
    assert [(f.key, f.value) for f in out.fields] == [("id3:TXXX:prompt", "{}")]
    assert src.bytes_read < 4096


@pytest.mark.parametrize(("data", "problem"), [
    (tag(3, f23(b"TXXX", b"\x00a\x00b"))[:-2], "past the end"),
    (b"ID3\x03\x00\x00" + syncsafe(10) + struct.pack(">4sIH", b"TXXX", 0x7FFFFFFF, 0), "past the end"),
    (tag(3, f23(b"TXXX", b"\x00\x00\x00\x00", flags=0x0080)), "corrupt or too large"),
])
def test_hostile_id3(data: bytes, problem: str) -> None:
    out = Collector()
    read_mp3(Source.from_bytes(data), out)
    assert any(problem in p for p in out.problems), out.problems


def test_invalid_frame_id_stops_with_note() -> None:
    out = Collector()
    parse_id3v2(Source.from_bytes(tag(3, b"t!t2" + b"\0" * 20)), 0, "", out)
    assert out.fields == [] and any("invalid frame id" in n for n in out.notes)


def test_suno_fixture_and_ffmpeg_txxx() -> None:
    out = Collector()
    read_mp3(Source.from_bytes((META / "suno.mp3").read_bytes()), out)
    got = dict((f.key, f.value) for f in out.fields)
    assert got["id3:COMM"].startswith("made with suno; created=")
    assert got["id3:WOAS"].startswith("https://suno.com/song/")
    out = Collector()
    read_mp3(Source.from_bytes((META / "comfyui_audio.mp3").read_bytes()), out)
    assert {"id3:TXXX:prompt", "id3:TXXX:workflow"} <= {f.key for f in out.fields}


# --- Vorbis comments ----------------------------------------------------------------------

def comments(*entries: str, vendor: str = "test") -> bytes:
    out = struct.pack("<I", len(vendor)) + vendor.encode() + struct.pack("<I", len(entries))
    for e in entries:
        raw = e.encode()
        out += struct.pack("<I", len(raw)) + raw
    return out


def flac_block(btype: int, data: bytes, last: bool = False) -> bytes:
    return bytes([btype | (0x80 if last else 0)]) + len(data).to_bytes(3, "big") + data


def test_flac_blocks_and_id3_prefix() -> None:
    body = (b"fLaC" + flac_block(0, b"\0" * 34) + flac_block(6, b"\0" * 1000)
            + flac_block(4, comments("PROMPT={}", "Comment=made with suno",
                                     "METADATA_BLOCK_PICTURE=AAAA"), last=True) + b"\xff\xf8")
    prefix = tag(3, f23(b"TXXX", b"\x00workflow\x00{}"))
    out = Collector()
    read_flac(Source.from_bytes(prefix + body), out)
    assert [(f.key, f.value) for f in out.fields] == [
        ("id3:TXXX:workflow", "{}"), ("vorbis:prompt", "{}"), ("vorbis:comment", "made with suno")]
    assert out.problems == []


@pytest.mark.parametrize("name", ["comfyui_audio.flac", "comfyui_audio.opus"])
def test_ffmpeg_written_comments(name: str) -> None:
    reader = read_flac if name.endswith(".flac") else read_ogg
    out = Collector()
    reader(Source.from_bytes((META / name).read_bytes()), out)
    assert {"vorbis:prompt", "vorbis:workflow"} <= {f.key for f in out.fields}
    assert out.problems == []


def test_ogg_vorbis_suno() -> None:
    out = Collector()
    read_ogg(Source.from_bytes((META / "suno.ogg").read_bytes()), out)
    got = {f.key: f.value for f in out.fields}
    # ffmpeg's Ogg muxer writes the `comment` tag as DESCRIPTION.
    assert got["vorbis:description"].startswith("made with suno")
    assert "Ogg stream" in out.fields[0].location


def test_ogg_stops_after_headers(tmp_path: Path) -> None:
    data = (META / "suno.ogg").read_bytes()
    path = tmp_path / "long.ogg"
    path.write_bytes(data + data[data.index(b"OggS", 200):] * 50)
    out = Collector()
    src = Source(path.stat().st_size, b"", lambda: open(path, "rb"))  # noqa: SIM115
    read_ogg(src, out)
    src.close()
    assert src.bytes_read < len(data)


@pytest.mark.parametrize(("reader", "data", "problem"), [
    (read_flac, b"fLaC" + flac_block(4, b"\xff\xff\xff\x7f", last=True), "truncated"),
    (read_flac, b"fLaC" + bytes([4]) + (1000).to_bytes(3, "big"), "runs past the end"),
    (read_flac, b"OggS", "no fLaC marker"),
    (read_ogg, b"OggS\0\2" + b"\0" * 20 + b"\x01" + b"\x05", "truncated"),
    (read_ogg, b"NotOgg" * 10, "lost page sync"),
])
def test_hostile_vorbis(reader, data: bytes, problem: str) -> None:  # type: ignore[no-untyped-def]
    out = Collector()
    reader(Source.from_bytes(data), out)
    assert any(problem in p for p in out.problems), out.problems
