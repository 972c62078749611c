"""Fingerprint primitives on real bytes: PDQ against the reference, the PDQ index, audio
landmarks with offsets, video sampling with timecodes, local features with regions."""

from __future__ import annotations

import sqlite3
import wave
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageOps

from detectors.fingerprint import audio, features, pdq, video, vocabulary
from detectors.fingerprint.extract import Fingerprint, load_rgb
from detectors.fingerprint.index import PdqIndex
from detectors.fingerprint.store import RegisterStore
from fixtures.gen_register import synth_image, synth_music
from tests.conftest import CORPUS, FIXTURES

REG = FIXTURES / "register"


def _real_images() -> list[Path]:
    found = sorted(REG.glob("*.png"))
    if CORPUS.is_dir():
        found += sorted(p for p in CORPUS.iterdir() if p.suffix in (".png", ".jpg", ".webp"))
    return found


def test_pdq_matches_reference_bit_for_bit() -> None:
    import pdqhash  # test extra: make setup installs it
    checked = 0
    for path in _real_images():
        try:
            rgb = load_rgb(str(path))
        except Exception:  # noqa: BLE001 - corpus holds deliberately broken files
            continue
        # also odd sizes, so that every box-window parity and decimation grid is exercised
        for arr in (rgb, rgb[: max(5, rgb.shape[0] * 2 // 3), : max(5, rgb.shape[1] - 7)]):
            arr = np.ascontiguousarray(arr)
            ref, ref_q = pdqhash.compute_dihedral(arr)
            mine = pdq.pdq_rgb(arr)
            assert mine.quality == ref_q, path
            ref_bytes = [np.packbits(r.astype(np.uint8)).tobytes() for r in ref]
            dists = [pdq.hamming(a, b) for a, b in zip(ref_bytes, mine.hashes, strict=True)]
            # float summation order differs (we use float64 prefix sums); only coefficients
            # within rounding of the median may flip, and only on flat (low-quality) images
            assert max(dists) <= (0 if ref_q >= 50 else 4), (path, dists)
            checked += 1
    assert checked >= 4


def test_pdq_dihedral_variants_match_real_transforms() -> None:
    rgb = load_rgb(str(REG / "temp_concept.png"))
    reg = pdq.pdq_dihedral_pixels(rgb)
    im = Image.fromarray(rgb)
    t = Image.Transpose
    for variant, op in ((1, t.ROTATE_90), (2, t.ROTATE_180), (3, t.ROTATE_270),
                        (4, t.FLIP_TOP_BOTTOM), (5, t.FLIP_LEFT_RIGHT), (6, t.TRANSPOSE),
                        (7, t.TRANSVERSE)):
        q = pdq.pdq_rgb(np.asarray(im.transpose(op)), dihedral=False).hash
        assert pdq.hamming(reg.hashes[variant], q) == 0, pdq.DIHEDRAL[variant]
        assert pdq.hamming(reg.hashes[0], q) > 60


def test_pdq_robust_to_jpeg_and_resize_but_not_to_other_content(tmp_path: Path) -> None:
    rgb = load_rgb(str(REG / "temp_concept.png"))
    small = tmp_path / "small.jpg"
    ImageOps.contain(Image.fromarray(rgb), (160, 160)).save(small, quality=50)
    a = pdq.pdq_rgb(rgb, dihedral=False)
    b = pdq.pdq_rgb(load_rgb(str(small)), dihedral=False)
    other = pdq.pdq_rgb(load_rgb(str(REG / "unrelated.png")), dihedral=False)
    assert a.quality == 100
    assert pdq.hamming(a.hash, b.hash) <= 20
    assert pdq.hamming(a.hash, other.hash) >= 80


def test_pdq_hex_roundtrip_and_tiny_images() -> None:
    h = pdq.pdq_rgb(synth_image(5, 64, 48)).hash
    assert pdq.from_hex(pdq.to_hex(h)) == h and len(pdq.to_hex(h)) == 64
    tiny = pdq.pdq_rgb(np.zeros((3, 3, 3), np.uint8))
    assert tiny.quality == 0 and tiny.hash == bytes(32)
    with pytest.raises(ValueError):
        pdq.from_hex("00")


def test_index_finds_every_hash_within_the_radius_nearest_first() -> None:
    rng = np.random.default_rng(7)
    base = rng.integers(0, 256, (5000, 32), dtype=np.uint8)
    base[100] = base[17]  # a duplicate: ties are ordered by row
    idx = PdqIndex(base)
    bits = np.unpackbits(base, axis=1)
    for row, flips, radius in ((0, 27, 31), (17, 5, 40), (4999, 60, 72), (3, 0, 0), (9, 40, 40)):
        q = bits[row].copy()
        q[rng.choice(256, flips, replace=False)] ^= 1
        got = idx.query(np.packbits(q).tobytes(), radius)
        d = (bits != q).sum(axis=1)  # bit by bit, nothing shared with the index
        expect = sorted(((int(r), int(d[r])) for r in np.flatnonzero(d <= radius)),
                        key=lambda x: (x[1], x[0]))
        assert got == expect and (row, flips) in got
    assert idx.query(base[17].tobytes(), 0) == [(17, 0), (100, 0)]
    assert PdqIndex(np.zeros((0, 32), np.uint8)).query(bytes(32), 256) == []


def _write_wav(path: Path, x: np.ndarray, sr: int, width: int = 2, channels: int = 1) -> None:
    x = np.clip(x, -1, 1)
    if width == 2:
        raw = (x * 32767).astype("<i2")
        data = np.repeat(raw[:, None], channels, axis=1).tobytes()
    else:  # 24-bit
        v = (x * 8388607).astype(np.int32)
        b = np.stack([v & 255, (v >> 8) & 255, (v >> 16) & 255], axis=1).astype(np.uint8)
        data = np.repeat(b[:, None, :], channels, axis=1).tobytes()
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(sr)
        w.writeframes(data)


def _resample(x: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    n = int(len(x) * sr_out / sr_in)
    return np.interp(np.arange(n) * sr_in / sr_out, np.arange(len(x)), x).astype(np.float32)


def _offsets(reg: audio.Landmarks, q: audio.Landmarks) -> tuple[int, float]:
    table: dict[int, list[int]] = {}
    for h, f in zip(reg.hashes.tolist(), reg.frames.tolist(), strict=True):
        table.setdefault(h, []).append(f)
    deltas = [g - f for h, f in zip(q.hashes.tolist(), q.frames.tolist(), strict=True)
              for g in table.get(h, [])]
    if not deltas:
        return 0, 0.0
    vals, counts = np.unique(deltas, return_counts=True)
    return int(counts.max()), float(vals[np.argmax(counts)]) * audio.FRAME_S


def test_audio_landmarks_find_cue_inside_longer_stem_with_offset(tmp_path: Path) -> None:
    cue = synth_music(3, 8.0)
    reg = audio.fingerprint(str(REG / "temp_cue.wav"), is_wav=True, shifts=audio.REGISTER_SHIFTS)
    assert reg.duration == pytest.approx(8.0, abs=0.01) and len(reg.hashes) > 500
    # a 30 s stem at 44.1 kHz, 24-bit stereo: other music, then the cue at 12.5 s, -6 dB
    rng = np.random.default_rng(1)
    stem = 0.5 * synth_music(99, 30.0)
    start = int(12.5 * audio.SR)
    stem[start:start + len(cue)] += 0.5 * cue
    stem += rng.normal(0, 0.01, len(stem)).astype(np.float32)
    path = tmp_path / "stem.wav"
    _write_wav(path, _resample(stem, audio.SR, 44100), 44100, width=3, channels=2)
    q = audio.fingerprint(str(path), is_wav=True)
    hits, offset = _offsets(reg, q)
    assert q.duration == pytest.approx(30.0, abs=0.05)
    assert hits >= 80
    assert offset == pytest.approx(-12.5, abs=0.1)  # registered time = stem time - 12.5 s
    # other music in the same scale and tempo grid agrees by chance far less
    unrelated = audio.fingerprint_samples(synth_music(42, 30.0))
    assert _offsets(reg, unrelated)[0] < hits / 3


def test_landmarks_do_not_depend_on_how_the_audio_arrives() -> None:
    """Decoders hand over a few hundred samples at a time; the landmarks of 75 s (two
    analysis blocks of a minute) are those of the samples in one piece, and a length limit
    cuts where it says, whatever the block sizes."""
    x = 0.5 * synth_music(8, 75.0, audio.SR)
    whole = audio.landmarks_from_blocks(iter([x]))
    rng = np.random.default_rng(4)
    cuts = np.sort(rng.choice(len(x), 3000, replace=False))
    for blocks in (np.split(x, cuts), np.array_split(x, 2)):
        got = audio.landmarks_from_blocks(iter(blocks))
        assert got.duration == whole.duration and got.peaks == whole.peaks
        assert np.array_equal(got.hashes, whole.hashes)
        assert np.array_equal(got.frames, whole.frames)
    limited = audio.landmarks_from_blocks(iter(np.split(x, cuts)), max_seconds=61.0)
    assert limited.duration == 61.0
    assert np.array_equal(limited.hashes,
                          audio.landmarks_from_blocks(iter([x[:61 * audio.SR]])).hashes)


def test_resampler_keeps_pitch_and_length() -> None:
    sr_in = 48000
    t = np.arange(sr_in * 2) / sr_in
    tone = np.sin(2 * np.pi * 1000 * t).astype(np.float32)
    rs = audio.Resampler(sr_in)
    out = np.concatenate([rs.feed(tone[i:i + 7000]) for i in range(0, len(tone), 7000)]
                         + [rs.flush()])
    assert 0 <= len(out) - 2 * audio.SR <= 20
    spec = np.abs(np.fft.rfft(out[1000:9000]))
    assert np.argmax(spec) * audio.SR / 8000 == pytest.approx(1000, abs=2)
    # 6 kHz is above the 4 kHz output Nyquist: filtered out, not aliased to 2 kHz
    alias = np.sin(2 * np.pi * 6000 * t).astype(np.float32)
    rs2 = audio.Resampler(sr_in)
    out2 = np.concatenate([rs2.feed(alias[i:i + 7000]) for i in range(0, len(alias), 7000)])
    assert np.abs(out2[1000:-1000]).max() < 0.05


def test_audio_decode_errors_are_reported(tmp_path: Path) -> None:
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunk")
    with pytest.raises(audio.DecodeError):
        audio.fingerprint(str(bad), is_wav=True)


def test_video_sampling_timecodes_and_cuts() -> None:
    clip = str(REG / "temp_clip.mp4")
    info = video.info(clip)
    assert info.fps == pytest.approx(12.0) and info.frames == 48
    frames = list(video.sample(clip, rate=1.0, max_side=96))
    times = [round(f.t, 3) for f in frames]
    assert times[:4] == [0.0, 1.0, 2.0, 3.0]
    assert all(max(f.rgb.shape[:2]) <= 96 for f in frames)
    # the clip cuts to its second shot at frame 24 (2.0 s), which is also a 1 fps sample
    frames4 = list(video.sample(clip, rate=0.4, max_side=96, fast=False))
    cut = [(round(f.t, 3), f.index) for f in frames4 if f.cut]
    assert cut == [(2.0, 24)]
    # skipping non-reference frames may miss the cut frame itself; the matcher refines
    fast = [f.t for f in video.sample(clip, rate=0.4, max_side=96) if f.cut]
    assert len(fast) == 1 and 2.0 <= fast[0] <= 2.0 + 1 / video.CUT_RATE
    window = list(video.frames_between(clip, 1.9, 2.1, max_side=64))
    assert [f.index for f in window] == [23, 24, 25]


def test_timecode_format() -> None:
    assert video.timecode(0) == "00:00:00.000"
    assert video.timecode(3725.5004) == "01:02:05.500"


def test_local_features_find_scaled_element_and_its_region() -> None:
    element = synth_image(11, 400, 300)
    reg = features.extract(element, features.REGISTER_SIDE, features.REGISTER_FEATURES)
    decoy = features.extract(synth_image(12, 400, 300), features.REGISTER_SIDE,
                             features.REGISTER_FEATURES)
    index = features.FeatureIndex([(1, reg), (2, decoy)])
    frame = synth_image(13, 960, 540)
    small = cv2.resize(element, (576, 432), interpolation=cv2.INTER_AREA)  # 48 % of the area
    frame[60:492, 300:876] = small
    _, enc = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 80])
    q = features.extract(cv2.imdecode(enc, cv2.IMREAD_COLOR), features.QUERY_SIDE,
                         features.QUERY_FEATURES)
    found = index.query(q)
    assert [m.ref for m in found] == [1]
    x0, y0, x1, y1 = found[0].region
    assert abs(x0 - 300) <= 8 and abs(y0 - 60) <= 8 and abs(x1 - 876) <= 8 and abs(y1 - 492) <= 8
    assert found[0].scale == pytest.approx(1.44, rel=0.03)
    assert index.query(features.extract(synth_image(14, 960, 540), 1024, 3000)) == []


def test_large_register_short_lists_by_visual_words_and_still_finds_the_element(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Past EXACT_UP_TO registered frames only a short list chosen by visual words is
    verified: the element is still found, with its region, and far fewer frames are matched
    than the register holds."""
    element = synth_image(11, 400, 300)
    items = [(1, features.extract(element, features.REGISTER_SIDE, features.REGISTER_FEATURES))]
    items += [(100 + k, features.extract(synth_image(200 + k, 320, 240), features.REGISTER_SIDE,
                                         600)) for k in range(200)]
    index = features.FeatureIndex(items)
    assert index.inverted is not None
    verified: list[int] = []
    real_match = features._match

    def counting(rows: list[tuple[int, features.Features]], *a: object) -> object:
        verified.append(len(rows))
        return real_match(rows, *a)  # type: ignore[arg-type]

    monkeypatch.setattr(features, "_match", counting)
    frame = synth_image(13, 960, 540)
    frame[60:276, 60:348] = cv2.resize(element, (288, 216), interpolation=cv2.INTER_AREA)
    q = features.extract(frame, features.QUERY_SIDE, features.QUERY_FEATURES)
    found = index.query(q)
    assert [m.ref for m in found][:1] == [1]
    x0, y0, x1, y1 = found[0].region
    assert abs(x0 - 60) <= 8 and abs(y0 - 60) <= 8 and abs(x1 - 348) <= 8 and abs(y1 - 276) <= 8
    assert verified and verified[0] <= features.SHORTLIST + 5 * features.REGION_SHORTLIST
    assert found[0].min_inliers == features.MIN_INLIERS_SHORTLIST
    assert index.query(features.extract(synth_image(14, 960, 540), 1024, 3000)) == []


def test_register_keeps_visual_words_and_reads_registers_without_them(tmp_path: Path) -> None:
    """Words are stored at registration for the shipped vocabulary; a register written
    before they were (no table) or for another vocabulary gets them computed instead."""
    f = features.extract(synth_image(21, 400, 300), features.REGISTER_SIDE,
                         features.REGISTER_FEATURES)
    db = str(tmp_path / "r.db")
    with RegisterStore(db, readonly=False, create=True) as store:
        store.add(sha256="a" * 64, media_type="image/png", path="a.png", size=1, tool="t",
                  note="", added="now", verdict="clean", evidence=[],
                  fp=Fingerprint("image", 400, 300, features=[(None, f)]))
    with RegisterStore(db) as store:
        ((eid, got, words),) = store.feature_items()
    assert words is not None
    assert np.array_equal(words, vocabulary.load().words(f.descriptors))
    assert np.array_equal(got.descriptors, f.descriptors)
    con = sqlite3.connect(db)
    with con:
        con.execute("UPDATE feature_words SET vocab = 'another'")
    with RegisterStore(db) as store:
        assert store.feature_items()[0][2] is None
    with con:
        con.execute("DROP TABLE feature_words")
    con.close()
    with RegisterStore(db) as store:  # read-only: the table is not created, words are None
        ((_, got2, words2),) = store.feature_items()
    assert words2 is None and np.array_equal(got2.descriptors, f.descriptors)
    with RegisterStore(db, readonly=False) as store:
        assert store.remove(eid)
