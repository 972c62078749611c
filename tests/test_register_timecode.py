"""SMPTE timecodes of register matches: labels at the file's rate (drop-frame at 29.97),
start timecodes read from ffmpeg-made QuickTime/MXF/MP4 files, frame-accurate in and out points
in a real H.264 programme, and the EDL/CSV export of a JSON report."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from detectors.fingerprint import timecode as tc
from fixtures.gen_register import synth_clip_frames
from scanner.cli import main
from tests.conftest import FIXTURES

REG = FIXTURES / "register"
needs_ffmpeg = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg missing")


def test_labels_non_drop_and_drop_frame() -> None:
    t25 = tc.Timing.make(25, "10:00:00:00", "tmcd")
    assert t25.start_frame == 10 * 3600 * 25 and not t25.drop
    assert t25.at(3.24) == "10:00:03:06" and t25.at(0.0) == "10:00:00:00"
    df = tc.Timing.make(30000 / 1001)
    assert df.rate == Fraction(30000, 1001) and df.drop
    # the drop-frame rule: ;00 and ;01 skipped every minute but each tenth
    assert df.label(1799) == "00:00:59;29" and df.label(1800) == "00:01:00;02"
    assert df.label(17982) == "00:10:00;00" and df.label(17981) == "00:09:59;29"
    assert df.label(107892) == "01:00:00;00"  # one hour of 29.97 is 107,892 frames
    for n in (0, 1799, 1800, 17981, 17982, 123456, 2_589_407):
        assert df.parse(df.label(n)) == n
    with pytest.raises(tc.TimecodeError):
        df.parse("00:01:00;00")  # a label drop-frame skips
    df60 = tc.Timing.make(60000 / 1001)
    assert df60.label(3600) == "00:01:00;04"
    nd = tc.Timing.make(30000 / 1001, "01:00:00:00")  # ':' before the frames: non-drop
    assert not nd.drop and nd.label(nd.start_frame + 1800) == "01:01:00:00"
    t24 = tc.Timing.make(24000 / 1001)
    assert t24.nominal == 24 and not t24.drop and t24.label(24 * 3600) == "01:00:00:00"
    for t in (t25, df, nd, t24, tc.Timing.make(30000 / 1001, "09:59:59;28", "tmcd")):
        assert tc.Timing.from_description(t.describe()) == t  # as a register entry keeps it


@needs_ffmpeg
def test_start_timecode_from_tmcd_and_mxf(tmp_path: Path) -> None:
    src = ["-f", "lavfi", "-i", "testsrc2=size=160x120:rate={}", "-t", "1"]

    def make(name: str, rate: str, codec: list[str], tcode: str) -> tc.Timing:
        args = [a.format(rate) for a in src]
        subprocess.run(["ffmpeg", "-v", "error", "-y", *args, *codec, "-timecode", tcode,
                        str(tmp_path / name)], check=True)
        return tc.probe(str(tmp_path / name))

    mov = make("a.mov", "30000/1001", ["-c:v", "prores", "-pix_fmt", "yuv422p10le"], "01:00:00;00")
    assert mov.drop and mov.rate == Fraction(30000, 1001) and mov.source == "tmcd"
    assert mov.label(mov.start_frame) == "01:00:00;00"
    mxf = make("a.mxf", "25", ["-c:v", "mpeg2video", "-b:v", "2M"], "10:00:00:00")
    assert (mxf.fps, mxf.label(mxf.start_frame), mxf.drop) == (25.0, "10:00:00:00", False)
    assert mxf.source == "container"
    mp4 = make("a.mp4", "24000/1001", ["-c:v", "libx264"], "00:59:59:00")
    assert mp4.rate == Fraction(24000, 1001) and mp4.label(mp4.start_frame) == "00:59:59:00"
    plain = make("b.mp4", "25", ["-c:v", "libx264"], "00:00:00:00")
    assert plain.label(plain.start_frame) == "00:00:00:00"


@needs_ffmpeg
def test_inserted_still_has_frame_accurate_smpte_in_and_out(tmp_path: Path) -> None:
    db = tmp_path / "reg.db"
    runner = CliRunner()
    res = runner.invoke(main, ["register", "add", str(REG / "temp_concept.png"),
                               "--register", str(db), "--tool", "Midjourney"])
    assert res.exit_code == 0, res.output
    fps, size = 25, (320, 240)
    still = np.asarray(Image.open(REG / "temp_concept.png").convert("RGB").resize(size))
    frames = synth_clip_frames(90, 81 / fps, fps, size)  # frames 0-80
    frames += [still] * 63  # frames 81-143: 10:00:03:06 - 10:00:05:18
    frames += synth_clip_frames(91, 3.0, fps, size)
    raw = np.stack(frames).tobytes()
    deliv = tmp_path / "delivery"
    deliv.mkdir()
    out = deliv / "programme.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24",
                    "-s", f"{size[0]}x{size[1]}", "-r", str(fps), "-i", "-", "-c:v", "libx264",
                    "-preset", "veryfast", "-crf", "20", "-pix_fmt", "yuv420p",
                    "-timecode", "10:00:00:00", str(out)], input=raw, check=True)
    res = runner.invoke(main, ["scan", str(deliv), "--register", str(db), "--format", "json"])
    report = json.loads(res.stdout)
    (f,) = report["results"][0]["findings"]
    d = f["evidence"]["deliverable_range"]
    assert abs(d["start_frame"] - 81) <= 1 and abs(d["end_frame"] - 143) <= 1, d
    assert (d["start"], d["end"], d["out"]) == ("10:00:03:06", "10:00:05:18", "10:00:05:19")
    assert d["rate"] == "25" and f["evidence"]["timecode"]["start_source"] == "tmcd"
    assert f["location"] == "video:10:00:03:06-10:00:05:18"
    (tmp_path / "report.json").write_text(res.stdout)
    res = runner.invoke(main, ["register", "export-matches", str(tmp_path / "report.json"),
                               "-o", str(tmp_path / "m.edl")])
    assert res.exit_code == 0, res.output
    edl = (tmp_path / "m.edl").read_text()
    assert edl.startswith("TITLE: ") and "FCM: NON-DROP FRAME" in edl
    event = [ln for ln in edl.splitlines() if ln.startswith("001 ")][0]
    # source: the still from 00:00:00:00 for its 63 frames; record: in the programme
    assert event.split()[-4:] == ["00:00:00:00", "00:00:02:13", "10:00:03:06", "10:00:05:19"]
    assert "* FROM CLIP NAME: temp_concept.png" in edl
    res = runner.invoke(main, ["register", "export-matches", str(tmp_path / "report.json"),
                               "-o", "-"])
    (row,) = list(csv.DictReader(io.StringIO(res.stdout)))
    assert (row["rec_in"], row["rec_out"], row["tool"]) == ("10:00:03:06", "10:00:05:19",
                                                            "Midjourney")
    res = runner.invoke(main, ["register", "export-matches", str(tmp_path / "report.json"),
                               "-o", str(tmp_path / "m.txt")])
    assert res.exit_code == 2


@needs_ffmpeg
def test_pulled_down_delivery_has_drop_frame_in_and_out_across_a_minute(tmp_path: Path
                                                                        ) -> None:
    """A 23.976 cut delivered at 29.97 by 3:2 pulldown (FFmpeg's ``telecine``: frames A B C
    D become AA BB BC CD DD), its timecode drop-frame from 00:00:59;00: the insert's in and
    out fall on frames that mix its fields with its neighbours', and its labels are past
    the minute whose ;00 and ;01 drop-frame skips."""
    db = tmp_path / "reg.db"
    runner = CliRunner()
    res = runner.invoke(main, ["register", "add", str(REG / "temp_concept.png"),
                               "--register", str(db)])
    assert res.exit_code == 0, res.output
    fps, size = 24000 / 1001, (320, 240)
    still = np.asarray(Image.open(REG / "temp_concept.png").convert("RGB").resize(size))
    frames = synth_clip_frames(92, 42.5 / fps, fps, size)  # 23.976 frames 0-41
    frames += [still] * 45  # frames 42-86
    frames += synth_clip_frames(93, 40.5 / fps, fps, size)
    assert len(frames) == 127
    deliv = tmp_path / "delivery"
    deliv.mkdir()
    out = deliv / "programme.mov"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24",
                    "-s", f"{size[0]}x{size[1]}", "-r", "24000/1001", "-i", "-",
                    "-vf", "telecine=pattern=23", "-c:v", "prores", "-pix_fmt", "yuv422p10le",
                    "-timecode", "00:00:59;00", str(out)],
                   input=np.stack(frames).tobytes(), check=True)
    timing = tc.probe(str(out))
    assert timing.rate == Fraction(30000, 1001) and timing.drop
    res = runner.invoke(main, ["scan", str(deliv), "--register", str(db), "--format", "json"])
    (f,) = json.loads(res.stdout)["results"][0]["findings"]
    d = f["evidence"]["deliverable_range"]
    # frame 42's first field is field 105, in frame 52 with frame 41's last; frame 86's
    # last is field 216, in frame 108 with frame 87's first
    assert abs(d["start_frame"] - 52) <= 1 and abs(d["end_frame"] - 108) <= 1, d
    # 00:00:59;00 + 52 frames: 30 to 00:01:00;02 (;00 and ;01 skipped), 22 more
    assert d["start"] == {51: "00:01:00;23", 52: "00:01:00;24", 53: "00:01:00;25"}[
        d["start_frame"]]
    assert d["end"] == {107: "00:01:02;19", 108: "00:01:02;20", 109: "00:01:02;21"}[
        d["end_frame"]]
    assert (d["rate"], d["drop_frame"]) == ("30000/1001", True)
    # the editor's EDL: drop-frame, the still's source side counted at the same rate
    (tmp_path / "report.json").write_text(res.stdout)
    res = runner.invoke(main, ["register", "export-matches", str(tmp_path / "report.json"),
                               "-o", str(tmp_path / "m.edl")])
    assert res.exit_code == 0, res.output
    edl = (tmp_path / "m.edl").read_text()
    assert "FCM: DROP FRAME" in edl
    event = [ln for ln in edl.splitlines() if ln.startswith("001 ")][0]
    n = d["end_frame"] - d["start_frame"] + 1
    assert event.split()[-4:] == ["00:00:00;00", f"00:00:{n // 30:02d};{n % 30:02d}",
                                  d["start"], d["out"]]
