"""The register: CLI add/list/remove/info, idempotence, and the register detector finding
registered stills, clips and cues in transformed deliverables (with regions and timecodes),
and not finding unrelated material."""

from __future__ import annotations

import json
import shutil
import subprocess
import wave
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from helpers import register_scan
from PIL import Image

from detectors.fingerprint import audio as audio_fp
from fixtures.gen_register import (
    ffmpeg_filter,
    synth_clip_frames,
    synth_image,
    synth_music,
    write_video,
    write_wav,
)
from scanner.cli import main
from tests.conftest import FIXTURES

REG = FIXTURES / "register"


@pytest.fixture(scope="module")
def register_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("reg") / "reg.db"
    res = CliRunner().invoke(main, ["register", "add", str(REG / "temp_concept.png"),
                                    str(REG / "temp_cue.wav"), str(REG / "temp_clip.mp4"),
                                    "--register", str(db), "--tool", "Midjourney",
                                    "--note", "previs"])
    assert res.exit_code == 0, res.output
    return db


def _entries(db: Path) -> list[dict]:
    res = CliRunner().invoke(main, ["register", "list", "--json", "--register", str(db)])
    assert res.exit_code == 0, res.output
    return [json.loads(line) for line in res.output.splitlines()]


def test_add_list_info_remove_and_idempotence(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    media = tmp_path / "media"
    (media / "sub").mkdir(parents=True)
    shutil.copy(REG / "temp_concept.png", media / "sub" / "a.png")
    shutil.copy(REG / "temp_cue.wav", media / "cue.wav")
    (media / "notes.txt").write_text("not media")
    runner = CliRunner()
    res = runner.invoke(main, ["register", "add", str(media), "--register", str(db),
                               "--tool", "Suno", "--note", "temp score"])
    assert res.exit_code == 0, res.output
    rows = _entries(db)
    assert [(r["kind"], Path(r["path"]).name) for r in rows] == [("audio", "cue.wav"),
                                                                 ("image", "a.png")]
    assert all(r["tool"] == "Suno" and r["note"] == "temp score" and r["added"] for r in rows)
    assert "not image/video/audio" in res.output
    # same bytes under another name: nothing added
    shutil.copy(REG / "temp_concept.png", tmp_path / "copy.png")
    res = runner.invoke(main, ["register", "add", str(tmp_path / "copy.png"),
                               "--register", str(db)])
    assert res.exit_code == 0 and "already registered as #2" in res.output
    assert len(_entries(db)) == 2
    info = json.loads(runner.invoke(main, ["register", "info", "--json", "--register",
                                           str(db)]).output)
    assert info["kinds"] == {"audio": 1, "image": 1} and info["counts"]["pdq"] == 19  # 8 dihedral, 6 crops, 5 cells
    one = json.loads(runner.invoke(main, ["register", "info", rows[0]["sha256"][:12], "--json",
                                          "--register", str(db)]).output)
    assert one["id"] == 1 and one["fingerprints"]["audio"] > 500
    assert one["fingerprints"]["waveform"] == 1 and info["waveform_minutes"] == pytest.approx(
        8 / 60, abs=0.01)  # the 8 s cue's one track, kept for the waveform search
    res = runner.invoke(main, ["register", "remove", "1", "--register", str(db)])
    assert res.exit_code == 0 and "removed #1" in res.output
    assert [r["id"] for r in _entries(db)] == [2]
    after = json.loads(runner.invoke(main, ["register", "info", "--json", "--register",
                                            str(db)]).output)["counts"]
    assert after["audio"] == 0 and after["waveform"] == 0
    res = runner.invoke(main, ["register", "remove", "1", "--register", str(db)])
    assert res.exit_code == 2


def test_add_reports_undecodable_media(tmp_path: Path) -> None:
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    res = CliRunner().invoke(main, ["register", "add", str(bad), "--register",
                                    str(tmp_path / "r.db")])
    assert res.exit_code == 2 and "error" in res.output


def test_registration_keeps_other_detectors_evidence(tmp_path: Path, corpus: Path) -> None:
    db = tmp_path / "r.db"
    src = corpus / "c2pa-rs__cloud.jpg"  # carries a remote C2PA reference in its XMP
    CliRunner().invoke(main, ["register", "add", str(src), "--register", str(db)])
    (row,) = _entries(db)
    assert row["registration_findings"], "the other detectors' findings are stored"
    assert row["registration_verdict"] in ("ai", "review")
    shutil.copy(src, tmp_path / "final.jpg")
    (Image.open(src).convert("RGB").resize((300, 300))
     .save(tmp_path / "final.jpg", quality=70))
    res = register_scan(db, tmp_path / "final.jpg")
    (f,) = res.findings
    assert f.evidence["registration_findings"] == row["registration_findings"]
    assert "at registration it was flagged" in f.message


def test_image_flipped_jpeg_is_matched(register_db: Path, tmp_path: Path) -> None:
    rgb = np.asarray(Image.open(REG / "temp_concept.png").convert("RGB"))
    Image.fromarray(rgb[:, ::-1]).resize((240, 180)).save(tmp_path / "final.jpg", quality=60)
    res = register_scan(register_db, tmp_path / "final.jpg")
    assert res.verdict == "ai"
    (f,) = res.findings
    assert (f.detector, f.rule, f.tier, f.verdict) == ("register", "register.pdq", "matched", "ai")
    assert f.evidence["entry"]["tool"] == "Midjourney" and f.evidence["entry"]["note"] == "previs"
    assert f.evidence["variant"] == "flipy" and f.evidence["distance"] <= 31
    assert Path(f.evidence["entry"]["path"]).name == "temp_concept.png"
    assert len(f.evidence["entry"]["sha256"]) == 64


def test_identical_file_is_an_exact_match(register_db: Path, tmp_path: Path) -> None:
    shutil.copy(REG / "temp_concept.png", tmp_path / "renamed.png")
    res = register_scan(register_db, tmp_path / "renamed.png")
    assert [f.rule for f in res.findings] == ["register.exact"]


def test_composited_element_is_found_with_its_region(register_db: Path, tmp_path: Path) -> None:
    frame = synth_image(50, 1280, 720)
    element = np.asarray(Image.open(REG / "temp_concept.png").convert("RGB"))
    scaled = cv2.resize(element, (720, 540), interpolation=cv2.INTER_AREA)  # 42 % of the frame
    frame[100:640, 400:1120] = scaled
    Image.fromarray(frame).save(tmp_path / "comp.jpg", quality=85)
    res = register_scan(register_db, tmp_path / "comp.jpg")
    (f,) = res.findings
    assert f.rule == "register.local" and f.tier == "matched"
    region = f.evidence["region"]
    assert abs(region["x"] - 400) <= 10 and abs(region["y"] - 100) <= 10
    assert abs(region["width"] - 720) <= 15 and abs(region["height"] - 540) <= 15
    assert f.location.startswith("image:region[")


def test_unrelated_media_is_not_matched(register_db: Path, tmp_path: Path) -> None:
    assert register_scan(register_db, REG / "unrelated.png").findings == ()
    write_wav(tmp_path / "other.wav", synth_music(77, 20.0))
    res = register_scan(register_db, tmp_path / "other.wav")
    assert res.findings == () and res.verdict == "clean"
    write_video(tmp_path / "other.mp4", synth_clip_frames(9, 4.0, 12.0, (192, 144)), 12.0)
    assert register_scan(register_db, tmp_path / "other.mp4").findings == ()


def test_audio_cue_under_dialogue_in_a_stem_has_timecodes(register_db: Path,
                                                          tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    stem = 0.3 * synth_music(31, 40.0) + rng.normal(0, 0.02, 40 * 8000).astype(np.float32)
    cue = synth_music(3, 8.0)
    at = int(21.25 * 8000)
    stem[at:at + len(cue)] += 0.5 * cue
    write_wav(tmp_path / "stem.wav", stem / np.abs(stem).max() * 0.9)
    res = register_scan(register_db, tmp_path / "stem.wav")
    (f,) = res.findings
    assert f.rule == "register.audio.landmarks"
    d, r = f.evidence["deliverable_range"], f.evidence["register_range"]
    assert d["start_s"] == pytest.approx(21.25, abs=1.0) and d["end_s"] == pytest.approx(29.25,
                                                                                         abs=1.0)
    assert f.evidence["offset_s"] == pytest.approx(-21.25, abs=0.1)
    assert r["start_s"] == pytest.approx(0.0, abs=1.0)
    assert d["start"].startswith("00:00:2") and f.location.startswith("audio:00:00:2")


def test_video_clip_and_still_inside_a_program_have_timecodes(register_db: Path,
                                                              tmp_path: Path) -> None:
    fps = 12.0
    size = (256, 192)
    program = synth_clip_frames(60, 6.0, fps, size)  # other material
    clip = synth_clip_frames(4, 4.0, fps, (192, 144))  # the registered clip, upscaled
    program += [cv2.resize(f, size, interpolation=cv2.INTER_LINEAR) for f in clip]
    program += synth_clip_frames(61, 4.0, fps, size)
    still = cv2.resize(np.asarray(Image.open(REG / "temp_concept.png").convert("RGB")), size)
    program += [still] * int(2 * fps)  # the registered still held for 2 s at 14 s
    program += synth_clip_frames(62, 3.0, fps, size)
    write_video(tmp_path / "program.mp4", program, fps)
    res = register_scan(register_db, tmp_path / "program.mp4")
    by_name = {Path(f.evidence["entry"]["path"]).name: f for f in res.findings}
    assert set(by_name) == {"temp_clip.mp4", "temp_concept.png"}, [f.message for f in res.findings]
    clip_f = by_name["temp_clip.mp4"]
    assert clip_f.rule == "register.video.pdq"
    assert clip_f.evidence["deliverable_range"]["start_s"] == pytest.approx(6.0, abs=1.0)
    assert clip_f.evidence["deliverable_range"]["end_s"] == pytest.approx(10.0, abs=1.0)
    assert clip_f.evidence["offset_s"] == pytest.approx(6.0, abs=1.0)
    assert clip_f.evidence["register_range"]["start"].startswith("00:00:0")
    still_f = by_name["temp_concept.png"]
    assert still_f.evidence["deliverable_range"]["start_s"] == pytest.approx(14.0, abs=1.0)
    assert still_f.evidence["deliverable_range"]["end_s"] == pytest.approx(16.0, abs=1.0)
    assert still_f.location.startswith("video:00:00:1")


def test_register_file_is_portable_and_errors_are_not_clean(register_db: Path,
                                                            tmp_path: Path) -> None:
    moved = tmp_path / "elsewhere" / "copy.db"
    moved.parent.mkdir()
    shutil.copy(register_db, moved)
    shutil.copy(REG / "temp_concept.png", tmp_path / "x.png")
    assert [f.rule for f in register_scan(moved, tmp_path / "x.png").findings] == ["register.exact"]
    res = register_scan(tmp_path / "missing.db", tmp_path / "x.png")
    assert res.verdict == "error" and "register not found" in res.errors[0].message
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not sqlite at all" * 100)
    res = register_scan(junk, tmp_path / "x.png")
    assert res.verdict == "error" and "not a register" in res.errors[0].message


def test_scan_cli_register_option(register_db: Path, tmp_path: Path) -> None:
    rgb = np.asarray(Image.open(REG / "temp_concept.png").convert("RGB"))
    Image.fromarray(rgb).resize((200, 150)).save(tmp_path / "final.jpg", quality=75)
    res = CliRunner().invoke(main, ["scan", str(tmp_path), "--register", str(register_db),
                                    "--format", "json"])
    report = json.loads(res.stdout)
    (result,) = report["results"]
    assert result["verdict"] == "ai" and res.exit_code == 1
    assert result["findings"][0]["rule"] == "register.pdq"


def test_video_soundtrack_is_checked_for_registered_audio(register_db: Path,
                                                          tmp_path: Path) -> None:
    import av  # PyAV, a dependency: decodes (and here encodes) non-WAV audio
    sr = 48000
    with wave.open(str(REG / "temp_cue.wav"), "rb") as w:  # the registered cue, 8 kHz
        cue8 = np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float32) / 32768
    cue = np.interp(np.arange(len(cue8) * 6) / 6, np.arange(len(cue8)), cue8).astype(np.float32)
    track = np.zeros(sr * 14, dtype=np.float32)
    track[3 * sr:3 * sr + len(cue)] = 0.8 * cue
    path = tmp_path / "master.mp4"
    with av.open(str(path), "w") as out:
        vs = out.add_stream("mpeg4", rate=12)
        vs.width, vs.height, vs.pix_fmt = 160, 120, "yuv420p"
        aus = out.add_stream("aac", rate=sr)
        aus.layout = "mono"
        pic = synth_image(70, 160, 120)
        for _ in range(14 * 12):
            for pkt in vs.encode(av.VideoFrame.from_ndarray(pic, format="rgb24")):
                out.mux(pkt)
        for pkt in vs.encode(None):
            out.mux(pkt)
        step = 1024
        for i in range(0, len(track), step):
            frame = av.AudioFrame.from_ndarray(track[None, i:i + step], format="fltp",
                                               layout="mono")
            frame.sample_rate = sr
            for pkt in aus.encode(frame):
                out.mux(pkt)
        for pkt in aus.encode(None):
            out.mux(pkt)
    res = register_scan(register_db, path)
    (f,) = res.findings
    assert f.rule == "register.audio.landmarks" and f.location.startswith("audio-track:")
    assert f.evidence["deliverable_range"]["start_s"] == pytest.approx(3.0, abs=1.0)
    assert Path(f.evidence["entry"]["path"]).name == "temp_cue.wav"


def test_still_composited_into_a_shot_is_found_with_region(register_db: Path,
                                                           tmp_path: Path) -> None:
    fps = 12.0
    size = (640, 360)
    element = cv2.resize(np.asarray(Image.open(REG / "temp_concept.png").convert("RGB")),
                         (320, 240), interpolation=cv2.INTER_AREA)  # 33 % of the frame
    frames = synth_clip_frames(80, 4.0, fps, size)
    bg = synth_image(81, *size)
    for i in range(int(6 * fps)):
        f = bg.copy()
        f[60:300, 250 + i // 4:570 + i // 4] = element
        frames.append(f)
    write_video(tmp_path / "shot.mp4", frames, fps)
    res = register_scan(register_db, tmp_path / "shot.mp4")
    (f,) = res.findings
    # by its local features, or (its edges are steps in colour) as a window whose PDQ is
    # the still's
    assert f.rule == "register.video.local" or (
        f.rule == "register.video.pdq" and f.evidence["found_in"] == "picture-in-picture window")
    assert f.evidence["deliverable_range"]["start_s"] == pytest.approx(4.0, abs=1.0)
    region = f.evidence["region"]
    assert region["x"] == pytest.approx(250 / 640, abs=0.03)
    assert region["width"] == pytest.approx(0.5, abs=0.03)


@pytest.mark.tool("ffmpeg")
def test_temp_audio_on_a_later_track_of_a_master_is_found(register_db: Path,
                                                          tmp_path: Path) -> None:
    """Masters carry stems as separate tracks: a cue on track 3 of a MOV (tracks 1 and 2
    other music) is found there, and the finding names the track."""
    sr = 8000
    with wave.open(str(REG / "temp_cue.wav"), "rb") as w:
        cue = np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float32) / 32768
    tracks = []
    for k in range(3):
        x = 0.5 * synth_music(300 + k, 16.0, sr)
        if k == 2:
            x = np.zeros(16 * sr, dtype=np.float32)
            x[4 * sr:4 * sr + len(cue)] = 0.8 * cue[: 12 * sr]
        p = tmp_path / f"t{k}.wav"
        write_wav(p, x, sr)
        tracks.append(p)
    still = tmp_path / "still.png"
    Image.fromarray(synth_image(71, 160, 120)).save(still)
    master = tmp_path / "master.mov"
    inputs = [a for p in tracks for a in ("-i", str(p))]
    maps = [a for k in range(1, 4) for a in ("-map", str(k))]
    subprocess.run(["ffmpeg", "-v", "error", "-loop", "1", "-framerate", "12", "-i",
                    str(still), *inputs, "-map", "0", *maps, "-t", "16", "-c:v", "mjpeg",
                    "-c:a", "pcm_s16le", "-ar", "48000", str(master)], check=True)
    res = register_scan(register_db, master)
    (f,) = res.findings
    assert f.rule == "register.audio.landmarks"
    assert f.location.startswith("audio-track-3:")
    assert f.evidence["audio_stream"].startswith("track 3")
    assert f.evidence["deliverable_range"]["start_s"] == pytest.approx(4.0, abs=1.0)


class _Counted:
    """A file object that counts the bytes read through it (what PyAV pulls from a file)."""

    def __init__(self, fh: Any, tally: list[int]) -> None:
        self.fh, self.tally = fh, tally

    def read(self, n: int = -1) -> bytes:
        data = self.fh.read(n)
        self.tally[0] += len(data)
        return bytes(data)

    def seek(self, offset: int, whence: int = 0) -> int:
        return int(self.fh.seek(offset, whence))

    def tell(self) -> int:
        return int(self.fh.tell())

    def __enter__(self) -> _Counted:
        return self

    def __exit__(self, *exc: object) -> None:
        self.fh.close()


@pytest.mark.tool("ffmpeg")
def test_the_audio_pass_steps_over_the_picture(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """A master's picture is nearly all its bytes. The audio pass reads the audio packets
    and steps over the rest (on a file server, the difference is most of a scan's reading),
    and hears exactly what it hears in the same audio packets without the picture."""
    sr = 8000
    tracks = []
    for k in range(2):
        p = tmp_path / f"t{k}.wav"
        write_wav(p, 0.5 * synth_music(310 + k, 6.0, sr), sr)
        tracks += ["-i", str(p)]
    master, bare = tmp_path / "master.mov", tmp_path / "bare.mov"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i",
                    "testsrc2=size=1280x720:rate=25:duration=6", *tracks, "-map", "0",
                    "-map", "1", "-map", "2", "-c:v", "mjpeg", "-q:v", "1", "-c:a",
                    "pcm_s16le", "-ar", "48000", str(master)], check=True)
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(master), "-map", "0:a", "-c", "copy",
                    str(bare)], check=True)
    assert bare.stat().st_size < 0.2 * master.stat().st_size
    tally = [0]
    opener = audio_fp.open_readonly
    monkeypatch.setattr(audio_fp, "open_readonly", lambda p: _Counted(opener(p), tally))
    heard = audio_fp.stream_landmarks(str(master), proxy=True)
    assert tally[0] < 2 * bare.stat().st_size, (tally[0], master.stat().st_size)
    alone = audio_fp.stream_landmarks(str(bare), proxy=True)
    assert len(heard) == len(alone) == 2
    for a, b in zip(heard, alone, strict=True):
        assert len(a.landmarks.hashes) > 100
        assert np.array_equal(a.landmarks.hashes, b.landmarks.hashes)
        assert np.array_equal(a.landmarks.frames, b.landmarks.frames)
        assert a.landmarks.proxy is not None and b.landmarks.proxy is not None
        assert np.array_equal(a.landmarks.proxy, b.landmarks.proxy)


@pytest.mark.tool("ffmpeg")
def test_temp_audio_registered_from_a_later_track_is_found(tmp_path: Path) -> None:
    """A temp clip registered with its VO on track 2 (music on track 1): the VO alone in a
    final's stem is found."""
    sr = 8000
    music, vo = 0.5 * synth_music(401, 14.0, sr), 0.5 * synth_music(402, 14.0, sr)
    write_wav(tmp_path / "m.wav", music, sr)
    write_wav(tmp_path / "v.wav", vo, sr)
    still = tmp_path / "still.png"
    Image.fromarray(synth_image(72, 160, 120)).save(still)
    temp = tmp_path / "temp_clip.mov"
    subprocess.run(["ffmpeg", "-v", "error", "-loop", "1", "-framerate", "12", "-i",
                    str(still), "-i", str(tmp_path / "m.wav"), "-i", str(tmp_path / "v.wav"),
                    "-map", "0", "-map", "1", "-map", "2", "-t", "14", "-c:v", "mjpeg",
                    "-c:a", "pcm_s16le", str(temp)], check=True)
    db = tmp_path / "reg.db"
    res = CliRunner().invoke(main, ["register", "add", str(temp), "--register", str(db)])
    assert res.exit_code == 0, res.output
    stem = np.zeros(20 * sr, dtype=np.float32)
    stem[5 * sr:5 * sr + 10 * sr] = vo[2 * sr:12 * sr]
    write_wav(tmp_path / "final_dialogue_stem.wav", stem, sr)
    found = register_scan(db, tmp_path / "final_dialogue_stem.wav").findings
    assert [f.rule for f in found] == ["register.audio.landmarks"]
    assert found[0].evidence["deliverable_range"]["start_s"] == pytest.approx(5.0, abs=1.0)


@pytest.mark.tool("ffmpeg")
def test_audio_only_mxf_is_checked_not_refused(register_db: Path, tmp_path: Path) -> None:
    """An audio-only MXF (Avid OP-Atom, IMF audio track files) sniffs as a video container
    with no picture: its audio is checked instead of the scan ending incomplete."""
    mxf = tmp_path / "A01_dialogue.mxf"
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(REG / "temp_cue.wav"), "-af",
                    "adelay=3000,apad=pad_dur=3", "-ar", "48000", "-c:a", "pcm_s24le", "-f",
                    "mxf_opatom", str(mxf)], check=True)
    res = register_scan(register_db, mxf)
    assert [f.rule for f in res.findings] == ["register.audio.landmarks"]
    assert res.findings[0].evidence["deliverable_range"]["start_s"] == pytest.approx(3.0, abs=1.0)
    # ... and such a file can be registered: its audio is the temp material
    db = tmp_path / "reg.db"
    out = CliRunner().invoke(main, ["register", "add", str(mxf), "--register", str(db)])
    assert out.exit_code == 0, out.output
    found = register_scan(db, REG / "temp_cue.wav").findings
    assert [f.rule for f in found] == ["register.audio.landmarks"]


def _buried_cue_wav(tmp_path: Path, level_db: float = -15.0, speed: float = 1.0,
                    tempo: float = 1.0) -> Path:
    """30 s of music and dialogue at 48 kHz stereo 24-bit with 5 s of the registered cue
    (``temp_cue.wav``, from 2 s in) at 12 s, ``level_db`` under the rest, played ``speed``
    times as fast (a varispeed: ``speed`` x 5 s of the cue), or time-stretched to ``tempo``
    (ffmpeg atempo: pitch kept)."""
    from fixtures.gen_register import synth_babble, write_buried_wav

    sr = 8000
    rest = 0.3 * synth_music(41, 30.0) + 0.5 * synth_babble(30.0, 42)
    used = synth_music(3, 8.0)[2 * sr:]
    if speed != 1.0:
        used = audio_fp.varispeed(used, speed)
    if tempo != 1.0:
        used = ffmpeg_filter(used, sr, f"atempo={tempo}")
    out = tmp_path / "mix.wav"
    write_buried_wav(out, rest, used[:5 * sr], 12.0, level_db, sr)
    return out


def test_cue_15_db_under_a_mix_is_found_by_its_waveform(register_db: Path,
                                                        tmp_path: Path) -> None:
    res = register_scan(register_db, _buried_cue_wav(tmp_path))
    (f,) = res.findings
    assert f.rule == "register.audio.waveform" and f.verdict == "ai"
    assert Path(f.evidence["entry"]["path"]).name == "temp_cue.wav"
    d, r = f.evidence["deliverable_range"], f.evidence["register_range"]
    assert d["start_s"] == pytest.approx(12.0, abs=0.3) and d["end_s"] == pytest.approx(17.0,
                                                                                        abs=0.3)
    assert r["start_s"] == pytest.approx(2.0, abs=0.3) and r["end_s"] == pytest.approx(7.0,
                                                                                       abs=0.3)
    assert f.evidence["offset_s"] == pytest.approx(10.0, abs=0.001)
    assert f.evidence["waveform_z"] >= f.evidence["min_z"]
    assert f.evidence["peak_ratio"] >= f.evidence["min_peak_ratio"]
    assert "registered waveform is in the mix" in f.message


def test_a_pal_speed_up_under_a_mix_is_followed_by_its_waveform(
        register_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from detectors.fingerprint import matcher, waveform

    mix = _buried_cue_wav(tmp_path, -10.0, 25 / 24)
    # the landmarks alone put it in the grey band: 10 dB under, at 4 % off their speed grid
    with monkeypatch.context() as mp:
        mp.setattr(matcher, "HINTS_MAX", 0)
        mp.setattr(matcher, "HINTS_PER_MINUTE", 0)
        (f,) = register_scan(register_db, mix).findings
    assert f.verdict == "review" and f.evidence["speed"] == 1.04
    # followed at the speed found, the registered samples line up again
    (f,) = register_scan(register_db, mix).findings
    assert f.verdict == "ai" and f.evidence["match_confidence"] >= 0.5
    assert Path(f.evidence["entry"]["path"]).name == "temp_cue.wav"
    assert f.evidence["speed"] == pytest.approx(25 / 24, abs=1e-4)
    assert f.evidence["waveform_z"] >= waveform.ACCEPT_Z
    assert "registered waveform lines up at 104.16" in f.message
    # the edges are the waveform's, which the landmarks' (12.32-16.68 s) lay inside: within
    # a frame at 25 fps in both files (with one gain for all frequencies, 0.06-0.07 s off)
    d, r = f.evidence["deliverable_range"], f.evidence["register_range"]
    assert d["start_s"] == pytest.approx(12.0, abs=0.04) and d["end_s"] == pytest.approx(
        17.0, abs=0.04)
    assert r["start_s"] == pytest.approx(2.0, abs=0.04) and r["end_s"] == pytest.approx(
        2.0 + 5.0 * 25 / 24, abs=0.04)


def test_a_time_stretch_under_a_mix_is_found_with_its_tempo(register_db: Path,
                                                            tmp_path: Path) -> None:
    (f,) = register_scan(register_db, _buried_cue_wav(tmp_path, -6.0, tempo=0.96)).findings
    assert f.rule == "register.audio.landmarks" and f.verdict == "ai"
    assert Path(f.evidence["entry"]["path"]).name == "temp_cue.wav"
    assert f.evidence["tempo"] == 0.96 and f.evidence["speed"] == 1.0
    assert "time-stretched to 96 % tempo" in f.message
    # edges placed by the waveform's grains (the landmarks alone: 0.33 s late, 0.07 s past)
    d, r = f.evidence["deliverable_range"], f.evidence["register_range"]
    assert d["start_s"] == pytest.approx(12.0, abs=0.1) and d["end_s"] == pytest.approx(17.0,
                                                                                        abs=0.1)
    assert r["start_s"] == pytest.approx(2.0, abs=0.1) and r["end_s"] == pytest.approx(6.8,
                                                                                       abs=0.1)


def test_a_stretch_between_tempo_variants_is_confirmed_by_its_grains(
        register_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A 2.5 % time stretch 10 dB under a mix lies between the landmarks' tempo variants:
    alone they match it at tempo 1, at 0.55, with a range 0.29 s late and 0.11 s early. A
    candidate at the 1.04 variant is verified by its grains (``waveform.follow_stretch``),
    which gives the match the stretch's tempo and line; its edges are then placed along
    the stretch, within 0.1 s. (The candidate verified is the second grid's, which runs to
    the use's end, where its grains are weaker: 0.54, so the match keeps its 0.55; the
    first grid's, 0.9 s shorter, scored 0.65.)"""
    from detectors.fingerprint import matcher, waveform

    mix = _buried_cue_wav(tmp_path, -10.0, tempo=1.025)
    end = 12.0 + 5.0 / 1.025
    with monkeypatch.context() as mp:
        mp.setattr(matcher, "HINTS_MAX", 0)
        mp.setattr(matcher, "HINTS_PER_MINUTE", 0)
        (f,) = register_scan(register_db, mix).findings
    assert "tempo" not in f.evidence and "grain_margin" not in f.evidence
    before = f.evidence["match_confidence"]
    d = f.evidence["deliverable_range"]
    assert d["start_s"] - 12.0 > 0.2 and end - d["end_s"] > 0.1
    (f,) = register_scan(register_db, mix).findings
    assert f.rule == "register.audio.landmarks" and f.verdict == "ai"
    assert f.evidence["grain_margin"] >= waveform.GRAIN_ACCEPT
    assert f.evidence["match_confidence"] >= before and f.evidence["tempo"] == 1.04
    assert "its 64 ms grains stand" in f.message and "104 % tempo" in f.message
    assert "short-time spectra" in f.message and "spectral_margin" in f.evidence
    d = f.evidence["deliverable_range"]
    assert d["start_s"] == pytest.approx(12.0, abs=0.1) and d["end_s"] == pytest.approx(end,
                                                                                       abs=0.1)


def test_a_stretch_only_its_grains_confirm_is_a_finding_of_its_own(
        register_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where the landmarks report nothing (their decision floor raised out of reach here),
    a candidate at a tempo variant that its grains verify is reported on its own, rule
    ``register.audio.grains``, with the evidence a person checks: the margin over the
    moved lines, the median correlation and the candidate's tempo."""
    from detectors.fingerprint import audio_match, waveform

    mix = _buried_cue_wav(tmp_path, -10.0, tempo=1.025)
    monkeypatch.setattr(audio_match, "REVIEW_EXCESS", 1000.0)
    (f,) = register_scan(register_db, mix).findings
    assert f.rule == "register.audio.grains" and f.verdict == "ai"
    assert Path(f.evidence["entry"]["path"]).name == "temp_cue.wav"
    assert f.evidence["grain_margin"] >= f.evidence["min_grain_margin"] == waveform.GRAIN_ACCEPT
    assert f.evidence["tempo"] == 1.04 and f.evidence["speed"] == 1.0
    assert "follows a time stretch to 104 % tempo: its 64 ms grains stand" in f.message
    assert f.evidence["min_spectral_margin"] == waveform.SPEC_ACCEPT
    # the grains place its in and out points within 0.1 s: the second grid's candidate runs
    # to 0.2 s of the use's end (the first grid's stopped 1 s inside, and its out point
    # stayed there)
    d = f.evidence["deliverable_range"]
    assert d["start_s"] == pytest.approx(12.0, abs=0.1)
    assert d["end_s"] == pytest.approx(12.0 + 5.0 / 1.025, abs=0.1)


def test_without_stored_waveforms_a_scan_says_so(register_db: Path, tmp_path: Path) -> None:
    import sqlite3

    mix = _buried_cue_wav(tmp_path)
    old = tmp_path / "old.db"
    shutil.copy(register_db, old)
    with sqlite3.connect(old) as db:  # a register written before waveforms were stored
        db.execute("DROP TABLE waveform")
    res = register_scan(old, mix)
    assert not any(f.rule == "register.audio.waveform" for f in res.findings)
    notes = [n for c in res.coverage for n in c.notes]
    assert any("1 registered audio entry has no stored waveform" in n for n in notes), notes


def test_a_large_register_searches_waveforms_where_the_landmarks_name_an_entry(
        register_db: Path, tmp_path: Path) -> None:
    """Over ``waveform_minutes`` of registered sound the waveform search keeps to the areas
    the landmarks' weak candidates name: the cue 15 dB under the mix leaves a few aligned
    hits, too few for a landmark match, enough to be searched, and is found as before."""
    mix = _buried_cue_wav(tmp_path)
    whole = register_scan(register_db, mix)
    res = register_scan(register_db, mix, waveform_minutes=0.05)  # the fixture holds 8 s
    (f,) = res.findings
    assert f.rule == "register.audio.waveform"
    assert f.evidence == whole.findings[0].evidence
    notes = [n for c in res.coverage for n in c.notes]
    assert any("searched only where the landmarks named an entry" in n for n in notes), notes
    assert not [n for c in whole.coverage for n in c.notes]


def test_the_short_list_reads_and_whitens_only_the_entries_it_names(register_db: Path) -> None:
    from detectors.fingerprint import matcher, waveform

    reg = matcher.Register(str(register_db), waveform_whole_s=0.0)
    try:
        assert reg.shortlist and reg.waveform_search
        ((cue, _track, raw),) = list(reg.store.waveforms())
        image = next(e.id for e in reg.entries.values() if e.kind == "image")
        got = reg._tracks_of([cue, image, 10_000])
        assert list(got) == [cue] and np.array_equal(got[cue][0], waveform.whiten(raw))
        assert reg._waves is None  # the whole register's sound was never read
        assert reg._tracks_of([cue])[cue][0] is got[cue][0]  # kept between sounds
        assert reg._tracks_of([image]) == {}
    finally:
        reg.close()
