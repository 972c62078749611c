"""Regression tests, one per way a file that could not be fully read once passed (named for the
bug): an incomplete scan must exit 2 whatever else the file holds, and a cut or oversized file
is never clean.

Each builds its input in ``tmp_path`` from committed fixtures (or ffmpeg, as ``make setup``
installs it) and runs the installed ``deliverscan`` command as a delivery desk would.
"""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path
from typing import Any

import pytest

from detectors.model import Summary
from scanner.aggregate import add_brief, exit_code
from scanner.headline import headline
from tests.conftest import FIXTURES

EXE = str(Path(sys.executable).parent / "deliverscan")
CLEAN_PNG = FIXTURES / "watermark" / "clean_512.png"
WORKFLOW_JSON = FIXTURES / "sidecars" / "saver_json" / "lighthouse_00001.json"
INFOTEXT_TXT = FIXTURES / "sidecars" / "a1111_txt" / "00012-1234567890.txt"
EXR_SCANLINE = FIXTURES / "sidecars" / "exr_api" / "shot_v001.1001.exr"  # 8 chunks
EXR_MULTIPART = FIXTURES / "delivery" / "exr_multipart.exr"
DPX_MARKED = FIXTURES / "delivery" / "dpx_marked.dpx"  # little-endian (XPDS)
INFOTEXT = (b"a lighthouse\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1, Size: 512x512, "
            b"Model hash: abcd1234, Model: sd15")


def scan(*args: str) -> tuple[int, dict[str, Any]]:
    """The installed command on ``args``; (exit code, JSON report)."""
    p = subprocess.run([EXE, "scan", *args, "--no-cache", "-q", "-j0", "--format", "json"],
                       capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert p.stdout, p.stderr
    return p.returncode, json.loads(p.stdout)


def by_name(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {Path(r["path"]).name: r for r in report["results"]}


def errors_of(result: dict[str, Any]) -> str:
    return " | ".join(e["message"] for e in result["errors"])


def png_with_text(keyword: bytes, value: bytes, cut: float = 1.0) -> bytes:
    """The clean PNG fixture with a tEXt chunk right after IHDR, then cut to ``cut`` of its
    length (inside IDAT for 0.6)."""
    src = CLEAN_PNG.read_bytes()
    data = keyword + b"\x00" + value
    chunk = (struct.pack(">I", len(data)) + b"tEXt" + data
             + struct.pack(">I", zlib.crc32(b"tEXt" + data)))
    after_ihdr = 8 + 8 + 13 + 4
    whole = src[:after_ihdr] + chunk + src[after_ihdr:]
    return whole[:int(len(whole) * cut)]


# --- E1: a flagged file that could not be fully read ------------------------------------------

def test_e1_review_file_cut_in_its_pixels_is_incomplete(tmp_path: Path) -> None:
    """A PNG with a review-level comment, cut inside IDAT, was verdict ``review`` with errors
    and exit 0: the review finding outranked the error and the exit code only counted
    ``error`` verdicts, so the unread part of the file went unsaid. The verdict stays
    ``review``; the run is incomplete (2) and says a flagged file was not checked in full."""
    (tmp_path / "plate.png").write_bytes(png_with_text(b"Comment", b"made with Suno v4", 0.6))
    code, doc = scan(str(tmp_path))
    (result,) = doc["results"]
    assert result["verdict"] == "review", result
    assert "truncated" in errors_of(result) or "past the end" in errors_of(result)
    assert code == 2 and doc["summary"]["exit_code"] == 2
    assert doc["summary"]["incomplete"] == 1
    assert doc["headline"]["status"] == "incomplete"
    assert "1 flagged file could not be checked in full" in doc["headline"]["facts"]


def test_e1_summary_counts_incomplete_files_whatever_their_verdict() -> None:
    """The summary is also built from stored briefs: a flagged brief that could not be fully
    read makes the run incomplete, and a brief stored before the ``i`` key existed (only
    results without errors are stored) counts by its verdict alone."""
    def brief(verdict: str, **extra: Any) -> dict[str, Any]:
        return {"v": verdict, "k": "image", "m": "image/png", "s": 10, "r": None, "b": False,
                "d": {}, "a": 0, "bl": 0, **extra}

    s = Summary()
    add_brief(s, brief("review", i=True))
    add_brief(s, brief("clean"))
    assert exit_code(s) == 2
    old = Summary()
    add_brief(old, brief("review"))  # an old stored brief: no "i"
    add_brief(old, brief("clean"))
    assert exit_code(old) == 0
    s.exit_code = exit_code(s)
    assert headline(s).text == ("SCAN INCOMPLETE: 1 file for review; 1 flagged file could not "
                                "be checked in full")


# --- E2: --exit-zero and an incomplete scan ---------------------------------------------------

def test_e2_exit_zero_keeps_an_incomplete_ai_file_at_2(tmp_path: Path) -> None:
    """``--exit-zero`` turns only "blocking findings" (1) into 0; an AI-flagged file cut in its
    pixels used to count as blocking only, so the incomplete scan dropped to 0."""
    (tmp_path / "cut.png").write_bytes(png_with_text(b"parameters", INFOTEXT, 0.6))
    code, doc = scan(str(tmp_path / "cut.png"), "--exit-zero")
    (result,) = doc["results"]
    assert result["verdict"] == "ai" and result["errors"], result
    assert code == 2 and doc["summary"]["exit_code"] == 2
    # a whole AI file is still waved through by --exit-zero (the flag's job)
    (tmp_path / "whole.png").write_bytes(png_with_text(b"parameters", INFOTEXT))
    code, doc = scan(str(tmp_path / "whole.png"), "--exit-zero")
    assert doc["results"][0]["verdict"] == "ai" and not doc["results"][0]["errors"]
    assert code == 0 and doc["summary"]["exit_code"] == 1


# --- D1: a generator sidecar larger than the read bound ---------------------------------------

def test_d1_sidecar_over_the_read_bound_is_incomplete(tmp_path: Path) -> None:
    """A 17 MB ComfyUI workflow JSON with the graph after the first 16 MiB, and a 17 MB text
    with the A1111 infotext after them, were skipped as "not a media file" (exit 0) with a
    note: what was not read can hold the graph. Both are errors now, the scan incomplete."""
    side = tmp_path / "side"
    side.mkdir()
    shutil.copy(CLEAN_PNG, side / "clean.png")
    workflow = WORKFLOW_JSON.read_text()
    (side / "big_workflow.json").write_text(
        '{"padding": ' + json.dumps(["x" * 1000] * 17000) + ', "workflow": ' + workflow + "}")
    padding = "grade note, reel 3\n" * (17 * 1024 * 1024 // 19)
    (side / "notes.txt").write_text(padding + INFOTEXT_TXT.read_text())
    code, doc = scan(str(side))
    results = by_name(doc)
    assert results["clean.png"]["verdict"] == "clean"
    for name in ("big_workflow.json", "notes.txt"):
        assert results[name]["verdict"] == "error", results[name]
        assert "could not be checked in full" in errors_of(results[name])
    assert code == 2


# --- D2: DPX and EXR cut after their header ---------------------------------------------------

@pytest.mark.tool("ffmpeg")
def test_d2_dpx_cut_in_its_pixel_data_is_incomplete(tmp_path: Path) -> None:
    """Only the DPX header is read, so a frame cut in its pixel data (even by one byte) was
    clean. The header's total file size (offset 16, byte order from the magic) says what is
    missing."""
    whole = tmp_path / "d.dpx"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=256x256",
                    "-frames:v", "1", "-pix_fmt", "rgb48be", str(whole)], check=True,
                   timeout=120, stdin=subprocess.DEVNULL)
    data = whole.read_bytes()
    trunc = tmp_path / "trunc"
    trunc.mkdir()
    (trunc / "d_half.dpx").write_bytes(data[:200000])
    (trunc / "d_one_short.dpx").write_bytes(data[:-1])
    marked = DPX_MARKED.read_bytes()
    (trunc / "marked_one_short.dpx").write_bytes(marked[:-1])  # little-endian header
    code, doc = scan(str(trunc))
    results = by_name(doc)
    assert "header says 394880 bytes, file has 200000" in errors_of(results["d_half.dpx"])
    assert results["d_half.dpx"]["verdict"] == "error"
    assert results["d_one_short.dpx"]["verdict"] == "error"
    assert results["marked_one_short.dpx"]["verdict"] == "ai"  # flagged, and incomplete
    assert f"header says {len(marked)} bytes" in errors_of(results["marked_one_short.dpx"])
    assert code == 2
    code, doc = scan(str(whole))
    assert (code, doc["results"][0]["verdict"]) == (0, "clean")


def test_d2_exr_cut_in_its_offset_table_or_pixels_is_incomplete(tmp_path: Path) -> None:
    """Only the EXR header was read, so a file cut inside its chunk offset table or its pixel
    data was clean. The offset tables must fit, point inside the file, and the last chunk
    must end inside it (single-part scanline: the count from dataWindow and compression;
    multi-part: chunkCount)."""
    scanline = EXR_SCANLINE.read_bytes()
    multipart = EXR_MULTIPART.read_bytes()
    cut = tmp_path / "cut"
    cut.mkdir()
    (cut / "in_table.exr").write_bytes(scanline[:400])  # the table runs 392..456
    (cut / "in_pixels.exr").write_bytes(scanline[:len(scanline) * 2 // 3])
    (cut / "one_short.exr").write_bytes(scanline[:-1])
    (cut / "multipart_one_short.exr").write_bytes(multipart[:-1])
    code, doc = scan(str(cut))
    results = by_name(doc)
    for name, result in results.items():
        assert result["verdict"] in ("error", "review"), (name, result)
        assert "truncated" in errors_of(result), (name, errors_of(result))
    # "matte painted in Midjourney" in part 2: flagged for review, and incomplete
    assert results["multipart_one_short.exr"]["verdict"] == "review"
    assert f"file has {len(scanline) - 1}" in errors_of(results["one_short.exr"])
    assert code == 2
    whole = tmp_path / "whole"
    whole.mkdir()
    shutil.copy(EXR_SCANLINE, whole / "scanline.exr")
    shutil.copy(FIXTURES / "delivery" / "exr_clean.exr", whole / "clean.exr")
    code, doc = scan(str(whole))
    assert code == 0 and {r["verdict"] for r in doc["results"]} == {"clean"}, doc["results"]


def test_d2_exr_tile_count_follows_the_levels() -> None:
    """A tiled EXR's table length comes from its levels (OpenEXR ImfTiledMisc); a wrong count
    would read pixel data as offsets. 100x100 in 32x32 tiles: 16 tiles at one level; mip-map
    levels 100, 50, 25, 12, 6, 3, 1 rounded down (16+4+1+1+1+1+1); 128, 64 ... 1 rounded up."""
    from detectors.formats.exr import _tile_count

    assert _tile_count(100, 100, 32, 32, 0x00) == 16
    assert _tile_count(100, 100, 32, 32, 0x01) == 25
    assert _tile_count(100, 100, 32, 32, 0x11) == 16 + 4 + 1 + 1 + 1 + 1 + 1 + 1
    assert _tile_count(64, 16, 16, 16, 0x02) == sum(
        -(-(64 >> x) // 16) * -(-max(1, 16 >> y) // 16) for x in range(7) for y in range(5))
