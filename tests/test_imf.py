"""IMF packages: the committed fixtures (``fixtures/gen_imf.py``) parsed, checked and mapped to
timelines, and every hostile or broken shape turned into a problem rather than a crash."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import time
import tracemalloc
from fractions import Fraction
from pathlib import Path

import pytest

from scanner.packages import (
    ERROR,
    INFO,
    WARNING,
    HashProgress,
    ImfError,
    Package,
    Rational,
    find_packages,
    load_package,
    placements_for,
    resolve_references,
    sidecar_compositions,
    uses_of,
    verify_hashes,
)
from scanner.packages.imf import parse_cpl
from scanner.packages.paths import resolve_uri
from scanner.packages.timecode import convert, timecode
from scanner.packages.xmlsafe import XmlDoc, XmlFailure, parse_xml_bytes, read_xml

IMF = Path(__file__).resolve().parents[1] / "fixtures" / "imf"
VALID = IMF / "valid"
OV, VF = IMF / "supplemental" / "OV", IMF / "supplemental" / "VF"

PACKAGES = ["escaping_path", "malformed_xml", "missing_track", "supplemental/OV",
            "supplemental/VF", "valid", "with_ai", "wrong_hash", "wrong_size", "xml_bomb", "xxe_assetmap"]


def codes(pkg: Package, severity: str | None = None) -> list[str]:
    return [p.code for p in pkg.problems if severity is None or p.severity == severity]


def copy_valid(tmp_path: Path) -> Path:
    dest = tmp_path / "valid"
    shutil.copytree(VALID, dest)
    return dest


def edit(path: Path, old: str, new: str, count: int = 1) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) >= count, (path, old)
    path.write_text(text.replace(old, new, count), encoding="utf-8")


def relength(root: Path, name: str) -> None:
    """Keep the ASSETMAP Chunk Length of an edited file true (else: imf.assetmap.chunk-length)."""
    am = root / "ASSETMAP.xml"
    text = am.read_text(encoding="utf-8")
    fixed, n = re.subn(rf"(<Path>{re.escape(name)}</Path>.*?<Length>)\d+(</Length>)",
                       rf"\g<1>{(root / name).stat().st_size}\g<2>", text, count=1, flags=re.S)
    assert n == 1
    am.write_text(fixed, encoding="utf-8")


# --------------------------------------------------------------------------------------------
# Every fixture


def test_every_fixture_package_is_found_and_parsed() -> None:
    packages = find_packages(str(IMF), verify=True)
    assert [os.path.relpath(p.root, IMF).replace(os.sep, "/") for p in packages] == PACKAGES
    for pkg in packages:
        assert pkg.assetmap_path == "ASSETMAP.xml" and pkg.verified
        assert all(p.severity in (ERROR, WARNING, INFO) for p in pkg.problems)
        json.dumps(pkg.to_dict())  # reports can carry it as is
    clean = {os.path.basename(p.root) for p in packages if not p.errors}
    assert clean == {"valid", "with_ai", "OV", "VF"}


def test_valid_package_model() -> None:
    pkg = load_package(str(VALID))
    assert pkg.problems == () and pkg.extra_files == ()
    assert pkg.assetmap_id == "urn:uuid:c30df97b-35d7-5a65-87d0-b264638097b1"
    paths = sorted(p for ps in pkg.asset_paths.values() for p in ps)
    assert paths == sorted(n.name for n in VALID.iterdir() if n.name != "ASSETMAP.xml")
    (pkl,) = pkg.packing_lists
    assert pkl.namespace == "http://www.smpte-ra.org/schemas/2067-2/2016/PKL"
    assert {a.hash_algorithm for a in pkl.assets} == {"http://www.w3.org/2000/09/xmldsig#sha1"}
    assert len(pkl.assets) == 5  # CPL, picture, sound, SCM, QC report (not the PKL itself)
    (cpl,) = pkg.compositions
    assert cpl.title == "EP203 Final" and cpl.edit_rate == Rational(24, 1)
    assert cpl.namespace == "http://www.smpte-ra.org/schemas/2067-3/2016"
    assert [[s.kind for s in seg.sequences] for seg in cpl.segments] == [
        ["MainImageSequence", "MainAudioSequence", "MarkerSequence"],
        ["MainImageSequence", "MainAudioSequence"]]
    assert cpl.segments[0].sequences[0].namespace == "http://www.smpte-ra.org/schemas/2067-2/2016"
    marker_seq = cpl.segments[0].sequences[2]
    assert marker_seq.resources[0].track_file_id is None
    assert [(m.label, m.position) for m in cpl.markers] == [("FFOC", 0), ("FFEC", 96),
                                                            ("LFOC", 119)]
    assert cpl.duration == 132 and cpl.duration_tc == "00:00:05:12"
    assert pkg.role_of(str(VALID / "ASSETMAP.xml")) == "assetmap"
    assert pkg.role_of(str(VALID / pkl.path)) == "pkl"
    assert pkg.role_of(str(VALID / cpl.path)) == "cpl"
    assert pkg.role_of(str(VALID / "EP203_VIDEO.mxf")) == "track file"
    assert pkg.role_of(str(VALID / "EP203_QC_report.txt")) == "sidecar"
    assert pkg.role_of(str(IMF / "wrong_hash" / "VIDEO.mxf")) is None


# --------------------------------------------------------------------------------------------
# Timelines


def test_placements_and_timecodes_are_exact() -> None:
    pkg = load_package(str(VALID))
    video = placements_for(pkg, str(VALID / "EP203_VIDEO.mxf"))
    got = [(p.segment_index, p.entry_point, p.source_duration, p.repeat_count, p.start, p.end,
            p.start_tc, p.end_tc) for _, p in video]
    assert got == [
        (0, 0, 24, 1, 0, 24, "00:00:00:00", "00:00:01:00"),
        # entry point 24, duration 48, repeat 2 at 24 fps, after the first 24 frames
        (0, 24, 48, 2, 24, 120, "00:00:01:00", "00:00:05:00"),
        (1, 48, 12, 1, 120, 132, "00:00:05:00", "00:00:05:12"),
    ]
    comp, second = video[1]
    assert second.describe(comp.title) == \
        "CPL 'EP203 Final' · MainImageSequence · 00:00:01:00–00:00:05:00"
    assert (second.start_seconds, second.end_seconds) == (1.0, 5.0)
    assert second.edit_rate == Rational(24, 1) and second.track_id is not None
    audio = [p for _, p in placements_for(pkg, str(VALID / "EP203_AUDIO_EN.mxf"))]
    assert [(p.edit_rate, p.source_duration, p.repeat_count, p.start, p.end) for p in audio] == [
        (Rational(48000, 1), 12000, 20, 0, 120), (Rational(48000, 1), 12000, 2, 120, 132)]
    assert placements_for(pkg, str(VALID / "EP203_QC_report.txt")) == []
    assert placements_for(pkg, str(OV / "EP204_VIDEO.mxf")) == []  # another package's file


def test_mixed_edit_rates_at_23_976() -> None:
    packages = find_packages(str(IMF / "supplemental"))
    ov = next(p for p in packages if p.root.endswith("OV"))
    assert [c.edit_rate for c in ov.compositions] == [Rational(24000, 1001)] * 2
    sound = [(c.title, p) for c, p in placements_for(ov, str(OV / "EP204_AUDIO_EN.mxf"))]
    (title, main), (_, trailer) = sound
    assert title == "EP204 OV" and main.edit_rate == Rational(48000, 1)
    # 12012 samples × 8 at 48 kHz = 48 edit units at 24000/1001, exactly
    assert (main.start, main.end, main.end_tc, main.end_seconds) == (0, 48, "00:00:02:00", 2.002)
    assert (trailer.repeat_count, trailer.end, trailer.end_seconds) == (4, 24, 1.001)
    picture = placements_for(ov, str(OV / "EP204_VIDEO.mxf"))
    assert [(c.title, p.entry_point, p.source_duration, p.end_tc) for c, p in picture] == [
        ("EP204 OV", 0, 48, "00:00:02:00"), ("EP204 OV Trailer", 12, 24, "00:00:01:00")]


def test_timecode_arithmetic() -> None:
    ntsc = Rational(24000, 1001)
    assert Rational.parse("24000 1001") == ntsc and Rational.parse("24/1") == Rational(24, 1)
    with pytest.raises(ValueError):
        Rational.parse("24")
    with pytest.raises(ValueError):
        Rational.parse("0 1")
    assert ntsc.timecode_base == 24 and Rational(30000, 1001).timecode_base == 30
    assert convert(1001, Rational(48000, 1), ntsc) == Fraction(1, 2)
    assert timecode(Fraction(1, 2), ntsc) == "00:00:00:00"
    assert timecode(Fraction(1, 2), ntsc, round_up=True) == "00:00:00:01"
    assert timecode(24 * 3600 * 25 + 24 * 61 + 5, Rational(24, 1)) == "25:01:01:05"
    assert timecode(17359, Rational(24, 1)) == "00:12:03:07"


def test_stereo_and_unknown_sequences_from_bytes() -> None:
    """ST 2067-2 StereoImageTrackFileResourceType (one placement per eye) and an application
    sequence in its own namespace, placed by local name."""
    left, right, iab = (f"urn:uuid:0000000{i}-0000-4000-8000-00000000000a" for i in (1, 2, 3))
    left_upper = "urn:uuid:" + left[9:].upper()  # ids compare case-insensitively
    doc = parse_xml_bytes(f"""<CompositionPlaylist
      xmlns="http://www.smpte-ra.org/schemas/2067-3/2016"
      xmlns:cc="http://www.smpte-ra.org/ns/2067-2/2020"
      xmlns:iab="http://www.smpte-ra.org/ns/2067-201/2019"
      xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
      <Id>urn:uuid:00000009-0000-4000-8000-000000000000</Id>
      <ContentTitle>Stereo</ContentTitle><EditRate>25 1</EditRate>
      <SegmentList><Segment><Id>urn:uuid:00000008-0000-4000-8000-000000000000</Id>
        <SequenceList>
          <cc:MainImageSequence><Id>urn:uuid:00000007-0000-4000-8000-000000000000</Id>
            <TrackId>urn:uuid:00000006-0000-4000-8000-000000000000</TrackId><ResourceList>
            <Resource xsi:type="cc:StereoImageTrackFileResourceType">
              <Id>urn:uuid:00000005-0000-4000-8000-000000000000</Id>
              <IntrinsicDuration>100</IntrinsicDuration><EntryPoint>10</EntryPoint>
              <SourceDuration>50</SourceDuration>
              <LeftEye><Id>urn:uuid:0000000a-0000-4000-8000-000000000000</Id>
                <IntrinsicDuration>100</IntrinsicDuration><EntryPoint>10</EntryPoint>
                <SourceDuration>50</SourceDuration>
                <SourceEncoding>urn:uuid:0000000b-0000-4000-8000-000000000000</SourceEncoding>
                <TrackFileId>{left_upper}</TrackFileId>
              </LeftEye>
              <RightEye><Id>urn:uuid:0000000c-0000-4000-8000-000000000000</Id>
                <IntrinsicDuration>100</IntrinsicDuration><EntryPoint>11</EntryPoint>
                <SourceDuration>50</SourceDuration>
                <SourceEncoding>urn:uuid:0000000b-0000-4000-8000-000000000000</SourceEncoding>
                <TrackFileId>{right}</TrackFileId>
              </RightEye>
            </Resource></ResourceList></cc:MainImageSequence>
          <iab:IABSequence><Id>urn:uuid:0000000d-0000-4000-8000-000000000000</Id>
            <TrackId>urn:uuid:0000000e-0000-4000-8000-000000000000</TrackId><ResourceList>
            <Resource xsi:type="TrackFileResourceType">
              <Id>urn:uuid:0000000f-0000-4000-8000-000000000000</Id>
              <EditRate>25 1</EditRate><IntrinsicDuration>50</IntrinsicDuration>
              <SourceEncoding>urn:uuid:0000000b-0000-4000-8000-000000000000</SourceEncoding>
              <TrackFileId>{iab}</TrackFileId>
            </Resource></ResourceList></iab:IABSequence>
        </SequenceList></Segment></SegmentList></CompositionPlaylist>""".encode())
    assert isinstance(doc, XmlDoc)
    comp = parse_cpl(doc, "CPL.xml")
    assert [(p.sequence_kind, p.eye, p.track_file_id, p.entry_point, p.start, p.end_tc)
            for p in comp.placements] == [
        ("MainImageSequence", "LeftEye", left, 10, 0, "00:00:02:00"),
        ("MainImageSequence", "RightEye", right, 11, 0, "00:00:02:00"),
        ("IABSequence", None, iab, 0, 0, "00:00:02:00")]
    assert comp.placements[0].describe("Stereo") == \
        "CPL 'Stereo' · MainImageSequence (LeftEye) · 00:00:00:00–00:00:02:00"


# --------------------------------------------------------------------------------------------
# Checks: presence, size, hash


def test_missing_track_file_is_an_error_and_still_attributed() -> None:
    pkg = load_package(str(IMF / "missing_track"))
    (problem,) = pkg.problems
    assert (problem.severity, problem.code, problem.path) == (ERROR, "imf.asset.missing",
                                                              "AUDIO.mxf")
    (comp,) = pkg.compositions
    assert {p.sequence_kind for p in comp.placements} == {"MainImageSequence",
                                                          "MainAudioSequence"}


def test_size_mismatch_is_an_error_without_reading_the_file() -> None:
    pkg = load_package(str(IMF / "wrong_size"))
    (problem,) = pkg.problems
    assert (problem.code, problem.path) == ("imf.asset.size-mismatch", "AUDIO.mxf")
    assert "43065" in problem.message and "44065" in problem.message
    assert verify_hashes(pkg) == ()  # wrong size: not hashed again, its error is there


def test_hash_mismatch_only_with_verify() -> None:
    root = str(IMF / "wrong_hash")
    assert load_package(root).problems == ()
    pkg = load_package(root, verify=True)
    (problem,) = pkg.problems
    assert (problem.severity, problem.code, problem.path) == (ERROR, "imf.asset.hash-mismatch",
                                                              "VIDEO.mxf")
    actual = base64.b64encode(hashlib.sha1((IMF / "wrong_hash" / "VIDEO.mxf").read_bytes())
                              .digest()).decode()
    assert actual in problem.message


def test_hashing_streams_in_bounded_blocks_with_progress(monkeypatch: pytest.MonkeyPatch) -> None:
    pkg = load_package(str(VALID))
    reads: list[int] = []
    real_read = os.read

    def counting_read(fd: int, n: int) -> bytes:
        reads.append(n)
        return real_read(fd, n)

    monkeypatch.setattr(os, "read", counting_read)
    seen: list[HashProgress] = []
    assert verify_hashes(pkg, progress=seen.append, block_size=4096) == ()
    assert reads and max(reads) <= 4096
    files = {(p.path, p.total) for p in seen}
    assert ("EP203_VIDEO.mxf", 84025) in files and len(files) == 5
    finals = [p for p in seen if p.done == p.total]
    assert sorted(p.index for p in finals) == [1, 2, 3, 4, 5] and {p.count for p in seen} == {5}
    video = [p.done for p in seen if p.path == "EP203_VIDEO.mxf"]
    assert video == sorted(video) and len(video) > 84025 // 4096  # one report per block


def test_hashing_can_be_stopped() -> None:
    pkg = load_package(str(VALID))
    problems = verify_hashes(pkg, stop=lambda: True)
    assert len(problems) == 5 and {p.code for p in problems} == {"imf.asset.hash-unverified"}


def test_declared_sha256_is_verified_and_unknown_algorithms_are_errors(tmp_path: Path) -> None:
    root = copy_valid(tmp_path)
    (pkl,) = root.glob("PKL_*.xml")
    video = (root / "EP203_VIDEO.mxf").read_bytes()
    sha1 = base64.b64encode(hashlib.sha1(video).digest()).decode()
    sha256 = base64.b64encode(hashlib.sha256(video).digest()).decode()
    sha1_uri = "http://www.w3.org/2000/09/xmldsig#sha1"
    sha256_uri = "http://www.w3.org/2001/04/xmlenc#sha256"
    edit(pkl, f"<Hash>{sha1}</Hash>", f"<Hash>{sha256}</Hash>")
    text = pkl.read_text()
    pos = text.index(sha1_uri, text.index(sha256))  # the video asset's HashAlgorithm
    pkl.write_text(text[:pos] + sha256_uri + text[pos + len(sha1_uri):])
    relength(root, pkl.name)
    pkg = load_package(str(root), verify=True)
    assert codes(pkg) == ["imf.pkl.hash-algorithm"]  # warning: outside ST 2067-2, but intact
    assert pkg.problems[0].severity == WARNING
    edit(pkl, sha256_uri, "urn:example:crc32")
    relength(root, pkl.name)
    pkg = load_package(str(root), verify=True)
    assert "imf.pkl.unknown-hash-algorithm" in codes(pkg, ERROR)
    assert "imf.asset.hash-unverified" in codes(pkg, ERROR)


# --------------------------------------------------------------------------------------------
# Paths: nothing outside the root


def test_escaping_paths_are_refused_and_never_opened(monkeypatch: pytest.MonkeyPatch) -> None:
    root = IMF / "escaping_path"
    opened: list[str] = []
    real_open = os.open

    def recording_open(path: str, flags: int, *args: int) -> int:
        opened.append(os.path.realpath(path))
        return real_open(path, flags, *args)

    monkeypatch.setattr(os, "open", recording_open)
    pkg = load_package(str(root), verify=True)
    errors = [(p.code, p.message.split(": ")[-1]) for p in pkg.errors]
    assert errors == [
        ("imf.path.escapes", "'../valid/EP203_VIDEO.mxf' (not followed)"),
        ("imf.path.escapes", "'sub/%2E%2E/%2e%2e/valid/EP203_AUDIO_EN.mxf' (not followed)"),
        ("imf.path.absolute", "'/etc/passwd' (not followed)"),
        ("imf.path.absolute", "'file:///etc/hostname' (not followed)"),
        ("imf.path.remote", "'https://example.com/remote.mxf' (not followed)"),
    ]
    assert sum(1 for a in pkg.assets if a.path is None) == 5
    inside = os.path.realpath(root)
    assert opened and all(p.startswith(inside + os.sep) for p in opened), opened


@pytest.mark.parametrize(("uri", "expected"), [
    ("a/../VIDEO.mxf", "VIDEO.mxf"),
    ("./sub/./VIDEO%20ONE.mxf", "sub/VIDEO ONE.mxf"),
    ("file:VIDEO.mxf", "VIDEO.mxf"),
    ("..", "imf.path.escapes"),
    ("%2e%2e/x", "imf.path.escapes"),
    ("a/%2F/b", "imf.path.invalid"),
    ("a%00b", "imf.path.invalid"),
    ("a\\b.mxf", "imf.path.invalid"),
    ("x#frag", "imf.path.invalid"),
    ("%ff.mxf", "imf.path.invalid"),
    ("C:/x.mxf", "imf.path.absolute"),
    ("//server/share/x.mxf", "imf.path.absolute"),
    ("file://localhost/x.mxf", "imf.path.absolute"),
    ("s3://bucket/x.mxf", "imf.path.remote"),
    ("", "imf.path.invalid"),
    (".", "imf.path.invalid"),
])
def test_asset_uri_resolution(tmp_path: Path, uri: str, expected: str) -> None:
    got = resolve_uri(str(tmp_path), uri)
    assert (got.rel if got.problem is None else got.problem.code) == expected


def test_symlinks_out_are_refused_in_are_resolved(tmp_path: Path) -> None:
    root = copy_valid(tmp_path)
    secret = tmp_path / "secret.mxf"
    secret.write_bytes((root / "EP203_AUDIO_EN.mxf").read_bytes())
    (root / "EP203_AUDIO_EN.mxf").unlink()
    (root / "EP203_AUDIO_EN.mxf").symlink_to(secret)
    (root / "media").mkdir()
    (root / "EP203_VIDEO.mxf").rename(root / "media" / "picture.mxf")
    (root / "EP203_VIDEO.mxf").symlink_to(Path("media") / "picture.mxf")
    pkg = load_package(str(root), verify=True)
    assert [(p.severity, p.code) for p in pkg.problems] == [
        (WARNING, "imf.path.symlink"), (ERROR, "imf.path.symlink-escapes")]
    assert pkg.problems[0].path == "media/picture.mxf"
    video_id = pkg.ids_for_path(str(root / "media" / "picture.mxf"))
    assert len(video_id) == 1 and placements_for(pkg, str(root / "media" / "picture.mxf"))
    assert "EP203_VIDEO.mxf" in pkg.extra_files  # the link itself is not an asset path
    # a symlinked ASSETMAP is not followed at all
    os.rename(root / "ASSETMAP.xml", tmp_path / "AM.xml")
    (root / "ASSETMAP.xml").symlink_to(tmp_path / "AM.xml")
    assert codes(load_package(str(root))) == ["imf.assetmap.symlink"]


def test_find_packages_does_not_descend_into_symlinks(tmp_path: Path) -> None:
    (tmp_path / "link").symlink_to(VALID, target_is_directory=True)
    assert find_packages(str(tmp_path)) == []
    copy_valid(tmp_path)
    assert [os.path.basename(p.root) for p in find_packages(str(tmp_path))] == ["valid"]
    with pytest.raises(ImfError):
        find_packages(str(IMF), max_dirs=2)


# --------------------------------------------------------------------------------------------
# Hostile and broken XML


def test_malformed_xml_is_a_problem_not_an_exception(tmp_path: Path) -> None:
    pkg = load_package(str(IMF / "malformed_xml"))
    (problem,) = pkg.problems
    assert (problem.severity, problem.code) == (ERROR, "imf.xml.malformed")
    assert re.search(r"line \d+, column \d+", problem.message) and pkg.compositions == ()
    root = copy_valid(tmp_path)
    (root / "ASSETMAP.xml").write_bytes((root / "ASSETMAP.xml").read_bytes()[:300])
    broken = load_package(str(root))
    assert codes(broken) == ["imf.xml.malformed"] and broken.assets == ()
    assert len(broken.extra_files) == 6  # nothing listed: every file is scanned as an extra
    (root / "ASSETMAP.xml").write_bytes(b"<PackingList/>")
    assert codes(load_package(str(root))) == ["imf.xml.unexpected-root"]


def test_xml_bomb_refused_quickly_in_bounded_memory() -> None:
    bomb = next((IMF / "xml_bomb").glob("CPL_*.xml"))
    tracemalloc.start()
    started = time.perf_counter()
    pkg = load_package(str(IMF / "xml_bomb"))
    direct = read_xml(str(bomb))
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert elapsed < 1.0 and peak < 4 * 1024 * 1024, (elapsed, peak)
    assert codes(pkg) == ["imf.xml.forbidden"] and "DTDForbidden" in pkg.problems[0].message
    assert isinstance(direct, XmlFailure) and direct.code == "forbidden"


def test_external_entity_in_the_assetmap_is_refused() -> None:
    pkg = load_package(str(IMF / "xxe_assetmap"))
    assert codes(pkg) == ["imf.xml.forbidden"] and pkg.assets == ()
    assert "root:" not in json.dumps(pkg.to_dict())  # nothing of /etc/passwd came through


def test_xml_limits() -> None:
    many = b"<a>" + b"<b/>" * 2000 + b"</a>"
    refused = parse_xml_bytes(many, max_elements=1000)
    assert isinstance(refused, XmlFailure) and refused.code == "too-many-elements"
    assert isinstance(parse_xml_bytes(many, max_elements=5000), XmlDoc)
    too_big = load_package(str(VALID), max_xml_bytes=1000)
    assert codes(too_big) == ["imf.xml.too-large"]
    assert isinstance(parse_xml_bytes(b"\xff\xfe<a/>"), XmlFailure)


# --------------------------------------------------------------------------------------------
# Supplemental packages and sidecars


def test_supplemental_package_resolves_only_with_its_ov() -> None:
    (alone,) = find_packages(str(VF))
    (ref,) = alone.external_refs
    assert not ref.resolved and ref.sequences == ("MainImageSequence",)
    (problem,) = alone.problems
    assert (problem.severity, problem.code) == (ERROR, "imf.cpl.track-file-unresolved")
    assert "EP204 VF German" in problem.message
    # the same package among the packages of one scan: the OV holds the picture
    ov, vf = find_packages(str(IMF / "supplemental"))
    (ref,) = vf.external_refs
    assert (ref.resolved_root, ref.resolved_path) == (str(OV), "EP204_VIDEO.mxf")
    assert [(p.severity, p.code) for p in vf.problems] == [(INFO, "imf.cpl.track-file-external")]
    # resolving across roots scanned separately gives the same, and is idempotent
    again = resolve_references(find_packages(str(OV)) + find_packages(str(VF)))
    assert again == resolve_references(again) and again[1].external_refs == vf.external_refs
    # the OV picture is used by three compositions in two packages
    uses = uses_of([ov, vf], str(OV / "EP204_VIDEO.mxf"))
    assert [u.describe() for u in uses] == [
        "CPL 'EP204 OV' · MainImageSequence · 00:00:00:00–00:00:02:00",
        "CPL 'EP204 OV Trailer' · MainImageSequence · 00:00:00:00–00:00:01:00",
        "CPL 'EP204 VF German' · MainImageSequence · 00:00:00:00–00:00:02:00"]
    assert {u.package_root for u in uses} == {str(OV), str(VF)}
    assert [u.role for u in uses_of([ov, vf], str(VF / vf.compositions[0].path))] == [
        "composition playlist"]


def test_an_ov_with_a_missing_file_does_not_resolve_the_supplemental(tmp_path: Path) -> None:
    shutil.copytree(IMF / "supplemental", tmp_path / "s")
    (tmp_path / "s" / "OV" / "EP204_VIDEO.mxf").unlink()
    ov, vf = find_packages(str(tmp_path / "s"))
    assert "imf.asset.missing" in codes(ov, ERROR)
    assert codes(vf, ERROR) == ["imf.cpl.track-file-unresolved"]


def test_sidecar_is_attributed_to_its_composition() -> None:
    pkg = load_package(str(VALID))
    (scm,) = pkg.sidecar_maps
    assert scm.namespace == "http://www.smpte-ra.org/ns/2067-9/2018"
    assert scm.issue_date == "2024-05-01T12:00:00+00:00"
    report = str(VALID / "EP203_QC_report.txt")
    ((cpl_id, comp),) = sidecar_compositions([pkg], report)
    assert comp is not None and comp.title == "EP203 Final" and cpl_id == comp.id
    assert [(u.role, u.describe()) for u in uses_of([pkg], report)] == [
        ("sidecar", "CPL 'EP203 Final' · sidecar")]


# --------------------------------------------------------------------------------------------
# Extra files and unsupported ASSETMAP shapes


def test_extra_files_are_listed_separately(tmp_path: Path) -> None:
    root = copy_valid(tmp_path)
    (root / "notes.txt").write_text("not in the package")
    (root / "sub").mkdir()
    (root / "sub" / "frame.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    nested = root / "nested"
    shutil.copytree(IMF / "wrong_hash", nested)
    pkg = load_package(str(root))
    assert pkg.extra_files == ("notes.txt", "sub/frame.png") and pkg.problems == ()
    assert pkg.role_of(str(root / "notes.txt")) == "extra"
    packages = find_packages(str(root))
    assert [os.path.relpath(p.root, root) for p in packages] == [".", "nested"]


def test_chunks_volumes_and_offsets_are_reported_not_guessed(tmp_path: Path) -> None:
    root = copy_valid(tmp_path)
    am = root / "ASSETMAP.xml"
    edit(am, "<VolumeCount>1</VolumeCount>", "<VolumeCount>2</VolumeCount>")
    text = am.read_text()
    video_at = text.index("<Path>EP203_VIDEO.mxf</Path>")
    audio_at = text.index("<Path>EP203_AUDIO_EN.mxf</Path>")
    report_at = text.index("<Path>EP203_QC_report.txt</Path>")
    # edit from the end so the indexes stay valid
    text = (text[:report_at] + text[report_at:].replace("<Offset>0</Offset>",
                                                        "<Offset>10</Offset>", 1))
    text = (text[:audio_at] + text[audio_at:].replace("<VolumeIndex>1</VolumeIndex>",
                                                      "<VolumeIndex>2</VolumeIndex>", 1))
    chunk = "<Chunk>\n          <Path>EP203_VIDEO.mxf</Path>"
    text = (text[:video_at - 20] + text[video_at - 20:].replace(
        chunk, "<Chunk><Path>EP203_VIDEO.part2.mxf</Path></Chunk>\n        " + chunk, 1))
    am.write_text(text)
    pkg = load_package(str(root))
    assert codes(pkg, ERROR) == ["imf.assetmap.multi-volume", "imf.assetmap.chunked",
                                 "imf.assetmap.other-volume", "imf.assetmap.chunk-offset"]
    unplaced = {a.id for a in pkg.assets if a.path is None}
    assert len(unplaced) == 3
    # the refused files are still there: the scanner scans them as extras
    assert set(pkg.extra_files) == {"EP203_AUDIO_EN.mxf", "EP203_QC_report.txt",
                                    "EP203_VIDEO.mxf"}
    # the composition still names its track files, without a file to attribute them to
    assert set(pkg.compositions[0].track_file_ids) <= {a.id for a in pkg.assets}


def test_asset_ids_match_case_insensitively_and_percent_encoded_paths(tmp_path: Path) -> None:
    root = copy_valid(tmp_path)
    (root / "EP203_VIDEO.mxf").rename(root / "EP203 VIDEO.mxf")
    edit(root / "ASSETMAP.xml", "<Path>EP203_VIDEO.mxf</Path>", "<Path>EP203%20VIDEO.mxf</Path>")
    (cpl,) = root.glob("CPL_*.xml")
    video_id = "urn:uuid:fa87cba9-008c-538f-b61e-af8bef8681a2"
    edit(cpl, video_id, "urn:uuid:" + video_id[9:].upper(), count=3)
    pkg = load_package(str(root))
    assert pkg.problems == ()  # same size; only verify would see the CPL's new hash
    assert len(placements_for(pkg, str(root / "EP203 VIDEO.mxf"))) == 3


def test_an_ov_file_with_a_wrong_hash_still_resolves_the_reference(tmp_path: Path) -> None:
    shutil.copytree(IMF / "supplemental", tmp_path / "s")
    video = tmp_path / "s" / "OV" / "EP204_VIDEO.mxf"
    data = bytearray(video.read_bytes())
    data[-1] ^= 0xFF  # same size, other bytes
    video.write_bytes(bytes(data))
    ov, vf = find_packages(str(tmp_path / "s"), verify=True)
    assert codes(ov, ERROR) == ["imf.asset.hash-mismatch"]
    assert codes(vf) == ["imf.cpl.track-file-external"]
