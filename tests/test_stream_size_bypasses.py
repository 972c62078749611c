"""Regression tests, one per way a marked clip once hid behind the stream walks that rule a
video out by size or count its picture streams without a decoder (found by review). Each
builds the file from the marked fixture clip (320×256, flagged ``ai``) with ffmpeg and byte
patches, and runs the real scanner: the clip must be flagged, or the file an error."""

from __future__ import annotations

import struct
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from scanner.runner import ScanConfig, run_scan
from tests.conftest import FIXTURES

pytestmark = pytest.mark.tool("ffmpeg")
MARKED_CLIP = FIXTURES / "watermark" / "svd_h264.mp4"
CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"edts", b"dinf", b"mvex", b"moof",
              b"traf"}
Box = tuple[tuple[bytes, ...], int, int, int]  # path, start, body, end


def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args], check=True)


def _verdict(path: Path) -> tuple[str, int]:
    report = run_scan(ScanConfig(roots=[str(path)]))
    return report.results[0].verdict, report.summary.exit_code


def _boxes(d: bytes, start: int, end: int, path: tuple[bytes, ...] = ()) -> Iterator[Box]:
    p = start
    while p + 8 <= end:
        size, kind = struct.unpack(">I4s", d[p:p + 8])
        head = 8
        if size == 1:
            size, head = struct.unpack(">Q", d[p + 8:p + 16])[0], 16
        elif size == 0:
            size = end - p
        yield (*path, kind), p, p + head, p + size
        if kind in CONTAINERS:
            yield from _boxes(d, p + head, p + size, (*path, kind))
        elif kind == b"stsd":
            yield from _boxes(d, p + head + 8, p + size, (*path, kind))
        elif kind in (b"avc1", b"avc3"):
            yield from _boxes(d, p + head + 78, p + size, (*path, kind))
        p += size


def _find(d: bytes, name: bytes) -> list[Box]:
    return [b for b in _boxes(d, 0, len(d)) if b[0][-1] == name]


def _ue(v: int) -> str:
    v += 1
    return "0" * (v.bit_length() - 1) + format(v, "b")


def _sps(w: int, h: int) -> bytes:
    """A baseline-profile SPS for a ``w`` × ``h`` picture (cropped to it)."""
    mbw, mbh = -(-w // 16), -(-h // 16)
    bits = "01000010" + "11000000" + format(40, "08b") + _ue(0) + _ue(0) + _ue(2) + _ue(1) + "0"
    bits += _ue(mbw - 1) + _ue(mbh - 1) + "1" + "1"
    cr, cb = (mbw * 16 - w) // 2, (mbh * 16 - h) // 2
    bits += ("1" + _ue(0) + _ue(cr) + _ue(0) + _ue(cb)) if (cr or cb) else "0"
    bits += "0" + "1"
    bits += "0" * (-len(bits) % 8)
    return b"\x67" + int(bits, 2).to_bytes(len(bits) // 8, "big")


def _claim_4k(d: bytearray) -> None:
    """Sample entries and avcC SPS claim 4096×2160 (the stream's own SPS stays 320×256)."""
    for _, _, body, _ in _find(bytes(d), b"avc1"):
        d[body + 24:body + 28] = struct.pack(">HH", 4096, 2160)
    for _, _, body, _ in _find(bytes(d), b"avcC"):
        n = int.from_bytes(d[body + 6:body + 8], "big")
        fake = _sps(4096, 2160)
        d[body + 8:body + 8 + n] = fake + bytes(n - len(fake))


def test_bypass_fragmented_mp4_with_its_real_sps_in_the_fragments(tmp_path: Path) -> None:
    """A fragmented MP4 keeps no samples in moov: the avcC said 4K, the fragments' own SPS
    (what FFmpeg decodes) 320×256; the clip was ruled out by size, clean, exit 0."""
    frag = tmp_path / "frag.mp4"
    _ffmpeg("-i", str(MARKED_CLIP), "-c", "copy", "-bsf:v", "h264_mp4toannexb", "-movflags",
            "frag_keyframe+empty_moov", str(frag))
    d = bytearray(frag.read_bytes())
    _claim_4k(d)
    frag.write_bytes(bytes(d))
    assert _verdict(frag) == ("ai", 1)


def test_bypass_avcc_read_where_ffmpeg_reads_a_palette_header(tmp_path: Path) -> None:
    """Depth 8 with colour table 0: FFmpeg reads a palette header first and takes the real
    avcC from inside a 'free' box; the walk took a forged 4K avcC after it."""
    d = bytearray(MARKED_CLIP.read_bytes())
    [(_, ep, eb, ee)] = _find(bytes(d), b"avc1")
    [(_, _, cb, ce)] = _find(bytes(d), b"avcC")
    children, fields = bytes(d[eb + 78:ee]), bytearray(d[eb:eb + 78])
    fields[24:28] = struct.pack(">HH", 4096, 2160)
    fields[74:78] = struct.pack(">HH", 8, 0)
    real = bytes(d[cb:ce])
    n = int.from_bytes(real[6:8], "big")
    fake = bytearray(real)
    fake[8:8 + n] = _sps(4096, 2160) + bytes(n - len(_sps(4096, 2160)))
    free = struct.pack(">I4s", 8 + len(children), b"free") + children
    forged = struct.pack(">I4s", 8 + len(fake), b"avcC") + bytes(fake)
    entry = struct.pack(">I4s", 8 + 78 + len(free) + len(forged), b"avc1") + bytes(fields) + \
        free + forged
    delta = len(entry) - (ee - ep)
    parents = [b for b in _boxes(bytes(d), 0, len(d)) if b[1] < ep < b[3] and b[0][-1] != b"avc1"]
    d[ep:ee] = entry
    for _, p, _, _ in parents:
        d[p:p + 4] = struct.pack(">I", struct.unpack(">I", d[p:p + 4])[0] + delta)
    path = tmp_path / "palette.mp4"
    path.write_bytes(bytes(d))
    assert _verdict(path) == ("ai", 1)


@pytest.mark.parametrize("handler", [b"meta", b"tmcd", b"text"])
def test_bypass_video_track_under_another_handler(tmp_path: Path, handler: bytes) -> None:
    """FFmpeg goes by the sample entry for handlers other than vide/soun/subp/clcp: the
    marked 'avc1' track under a 'meta' handler was a second video stream nobody checked."""
    clean = tmp_path / "clean.mp4"
    _ffmpeg("-f", "lavfi", "-i", "testsrc=size=320x256:rate=25", "-frames:v", "6", "-c:v",
            "libx264", "-pix_fmt", "yuv420p", str(clean))
    two = tmp_path / "two.mp4"
    _ffmpeg("-i", str(clean), "-i", str(MARKED_CLIP), "-map", "0:v", "-map", "1:v", "-c",
            "copy", str(two))
    d = bytearray(two.read_bytes())
    body = [b for b in _find(bytes(d), b"hdlr") if b[0][-2] == b"mdia"][1][2]
    assert d[body + 8:body + 12] == b"vide"
    d[body + 8:body + 12] = handler
    two.write_bytes(bytes(d))
    assert _verdict(two) == ("error", 2)


def _two_stream_avi(tmp_path: Path) -> bytearray:
    clean = tmp_path / "clean.avi"
    _ffmpeg("-f", "lavfi", "-i", "testsrc=size=320x256:rate=25", "-frames:v", "6", "-c:v",
            "mjpeg", "-q:v", "3", str(clean))
    two = tmp_path / "two.avi"
    _ffmpeg("-i", str(clean), "-i", str(MARKED_CLIP), "-map", "0:v", "-map", "1:v", "-c",
            "copy", str(two))
    return bytearray(two.read_bytes())


@pytest.mark.parametrize("trick", ["strl swallowing the next", "second list renamed odml"])
def test_bypass_avi_stream_headers_hidden_from_a_strict_walk(tmp_path: Path, trick: str) -> None:
    """FFmpeg reads an AVI's header flat (every strh before movi is a stream); a walk that
    honoured LIST sizes and types counted one video stream of two."""
    d = _two_stream_avi(tmp_path)
    a, b = [i for i in range(len(d)) if d[i:i + 4] == b"LIST" and d[i + 8:i + 12] == b"strl"][:2]
    if trick == "strl swallowing the next":
        size_b = int.from_bytes(d[b + 4:b + 8], "little")
        d[a + 4:a + 8] = ((b + 8 + size_b) - (a + 8)).to_bytes(4, "little")
    else:
        d[b + 8:b + 12] = b"odml"
    path = tmp_path / "trick.avi"
    path.write_bytes(bytes(d))
    assert _verdict(path) == ("error", 2)


def test_bypass_matroska_tracks_inside_an_element_ffmpeg_resyncs_into(tmp_path: Path) -> None:
    """An element with a 5-byte ID wraps the real Tracks (two video tracks) and a forged
    Tracks (one) follows: FFmpeg rejects the ID, resyncs into the wrapper and finds both."""
    clean = tmp_path / "clean.mp4"
    _ffmpeg("-f", "lavfi", "-i", "testsrc=size=320x256:rate=6", "-frames:v", "6", "-c:v",
            "libx264", "-g", "1", "-bf", "0", "-pix_fmt", "yuv420p", str(clean))
    two = tmp_path / "two.mkv"
    _ffmpeg("-i", str(clean), "-i", str(MARKED_CLIP), "-map", "0:v", "-map", "1:v", "-c",
            "copy", str(two))
    d = two.read_bytes()

    def vint(p: int, keep: bool) -> tuple[int, int]:
        n = 8 - d[p].bit_length() + 1
        raw = int.from_bytes(d[p:p + n], "big")
        return (raw if keep else raw & ((1 << (7 * n)) - 1)), n

    def size8(v: int) -> bytes:
        return ((1 << 56) | v).to_bytes(8, "big")

    _, n = vint(0, True)
    s, m = vint(n, False)
    seg = n + m + s
    _, n = vint(seg, True)
    _, m = vint(seg + n, False)
    body = seg + n + m
    elements, p = [], body
    while p < len(d):
        ident, n = vint(p, True)
        s, m = vint(p + n, False)
        elements.append((ident, p, p + n + m + s))
        p += n + m + s
    out = bytearray(d[:body])
    for ident, p, e in elements:
        chunk = d[p:e]
        if ident == 0x114D9B74:  # SeekHead -> Void
            chunk = b"\xec" + size8(e - p - 9) + bytes(e - p - 9)
        if ident == 0x1654AE6B:  # Tracks
            fake = bytearray(chunk)
            hits = [k for k in range(len(fake) - 2) if fake[k:k + 3] == b"\x83\x81\x01"]
            fake[hits[1] + 2] = 2  # the second track "audio"
            chunk = b"\x08\x11\x22\x33\x44" + size8(len(chunk)) + chunk + bytes(fake)
        out += chunk
    sp = seg + (8 - d[seg].bit_length() + 1)
    _, m = vint(sp, False)
    out[sp:sp + m] = ((1 << (7 * m)) | (len(out) - body)).to_bytes(m, "big")
    path = tmp_path / "trick.mkv"
    path.write_bytes(bytes(out))
    assert _verdict(path) == ("error", 2)
