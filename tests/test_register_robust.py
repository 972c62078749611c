"""The register against finishing transforms on real bytes: letterbox bars, a reframe crop,
titles over picture, a PAL speed-up of a temp cue mixed under other music; match confidence
and the review grey band."""

from __future__ import annotations

import wave
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image, ImageDraw

from detectors.fingerprint import audio, extract
from fixtures.gen_register import synth_clip_frames, synth_image, synth_music, write_wav
from scanner.cli import main
from tests.conftest import FIXTURES
from tests.helpers import register_scan

REG = FIXTURES / "register"


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("robust") / "reg.db"
    res = CliRunner().invoke(main, ["register", "add", str(REG / "temp_concept.png"),
                                    str(REG / "temp_cue.wav"), "--register", str(path)])
    assert res.exit_code == 0, res.output
    return path


def test_bars_are_found_and_stripped() -> None:
    pic = synth_image(3, 400, 168)
    frame = np.zeros((300, 400, 3), np.uint8)
    frame[66:234] = pic
    assert extract.bars(frame) == (0, 66, 400, 234)
    assert extract.bars(pic) == (0, 0, 400, 168)
    dark = np.full((300, 400, 3), 5, np.uint8)  # a black frame is not bars
    assert extract.bars(dark) == (0, 0, 400, 300)
    pillar = np.zeros((300, 400, 3), np.uint8)
    pillar[:, 50:350] = synth_image(4, 300, 300)
    assert extract.bars(pillar) == (50, 0, 350, 300)


def test_letterboxed_titled_and_reframed_still_is_matched(db: Path, tmp_path: Path) -> None:
    still = np.asarray(Image.open(REG / "temp_concept.png").convert("RGB"))
    h, w = still.shape[:2]
    # 15 % reframe: scale up, move off-centre
    crop = still[int(h * 0.05):int(h * 0.05) + int(h / 1.15), int(w * 0.08):
                 int(w * 0.08) + int(w / 1.15)]
    reframed = cv2.resize(crop, (w, h), interpolation=cv2.INTER_CUBIC)
    boxed = np.zeros((int(w * 9 / 16) + 60, w, 3), np.uint8)  # bars top and bottom
    y0 = (boxed.shape[0] - h) // 2
    boxed[y0:y0 + h] = still
    titled = Image.fromarray(still.copy())
    d = ImageDraw.Draw(titled)
    d.rectangle([w * 0.1, h * 0.82, w * 0.9, h * 0.95], fill=(0, 0, 0))
    d.text((w * 0.15, h * 0.84), "THE CROSSING", fill=(255, 255, 255), font_size=h // 12)
    for name, pic in (("reframed", reframed), ("boxed", boxed),
                      ("titled", np.asarray(titled))):
        Image.fromarray(pic).save(tmp_path / f"{name}.jpg", quality=80)
        res = register_scan(db, tmp_path / f"{name}.jpg")
        assert res.verdict == "ai", name
        f = res.findings[0]
        assert f.rule in ("register.pdq", "register.local"), name
        assert 0.5 <= f.evidence["confidence"] <= 1.0


def test_pal_speed_up_of_a_cue_under_music_is_found_with_its_speed(db: Path,
                                                                   tmp_path: Path) -> None:
    with wave.open(str(REG / "temp_cue.wav"), "rb") as wf:
        cue = np.frombuffer(wf.readframes(wf.getnframes()), "<i2").astype(np.float32) / 32768
    fast = audio.varispeed(cue, 25 / 24)  # 24 fps material played at 25 fps
    rng = np.random.default_rng(9)
    stem = 0.5 * synth_music(41, 30.0) + rng.normal(0, 0.01, 30 * 8000).astype(np.float32)
    at = int(11.0 * 8000)
    stem[at:at + len(fast)] += 0.5 * fast  # -6 dB against the music
    write_wav(tmp_path / "stem.wav", stem / np.abs(stem).max() * 0.9)
    res = register_scan(db, tmp_path / "stem.wav")
    (f,) = res.findings
    assert f.rule == "register.audio.landmarks"
    assert f.evidence["speed"] == pytest.approx(1.04, abs=0.011)
    d, r = f.evidence["deliverable_range"], f.evidence["register_range"]
    assert d["start_s"] == pytest.approx(11.0, abs=1.0)  # where aligned peaks begin
    assert d["end_s"] == pytest.approx(11.0 + 8.0 / (25 / 24), abs=0.8)
    assert r["start_s"] == pytest.approx(0.0, abs=1.0) and r["end_s"] == pytest.approx(8.0,
                                                                                      abs=0.8)


def test_review_grey_band_by_confidence(db: Path, tmp_path: Path) -> None:
    still = np.asarray(Image.open(REG / "temp_concept.png").convert("RGB"))
    Image.fromarray(still).resize((240, 180)).save(tmp_path / "a.jpg", quality=70)
    assert register_scan(db, tmp_path / "a.jpg").verdict == "ai"
    res = register_scan(db, tmp_path / "a.jpg", review_below=1.01)  # nothing is that sure
    assert res.verdict == "review" and res.findings[0].verdict == "review"


def test_unrelated_programme_has_no_match(db: Path, tmp_path: Path) -> None:
    frames = synth_clip_frames(70, 4.0, 12.0, (256, 144))
    from fixtures.gen_register import write_video

    write_video(tmp_path / "other.mp4", frames, 12.0)
    assert register_scan(db, tmp_path / "other.mp4").findings == ()


def test_still_in_a_key_art_grid_cell_is_found_with_its_region(db: Path,
                                                               tmp_path: Path) -> None:
    still = np.asarray(Image.open(REG / "temp_concept.png").convert("RGB"))  # 320x240
    poster = np.full((900, 1200, 3), 235, np.uint8)
    cells = [(40 + c * 380, 60 + r * 400, 340, 360) for r in range(2) for c in range(3)]
    for k, (x, y, w, h) in enumerate(cells):
        if k == 4:  # the temp still, centre-cropped to the cell's aspect, with a border
            src = still[:, (320 - 204) // 2:(320 - 204) // 2 + 204]
        else:
            src = synth_image(200 + k, w, h)
        poster[y - 6:y + h + 6, x - 6:x + w + 6] = (20, 20, 20)
        poster[y:y + h, x:x + w] = cv2.resize(src, (w, h), interpolation=cv2.INTER_AREA)
    Image.fromarray(poster).save(tmp_path / "poster.jpg", quality=85)
    res = register_scan(db, tmp_path / "poster.jpg")
    (f,) = res.findings
    assert f.rule == "register.pdq" and f.evidence["found_in"].startswith("framed inset")
    r = f.evidence["region"]
    x, y, w, h = cells[4]
    assert abs(r["x"] - x) <= 12 and abs(r["y"] - y) <= 12
    assert abs(r["width"] - w) <= 24 and abs(r["height"] - h) <= 24
    thumbs = f.evidence["thumbnails"]
    assert thumbs["deliverable"].startswith("data:image/jpeg;base64,")
    assert thumbs["registered"].startswith("data:image/jpeg;base64,")
