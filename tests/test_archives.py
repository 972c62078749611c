"""Archives are looked inside: members judged one by one (``archive!/member``), the archive the
worst of them, limits that hold against bombs, and nothing that passes unseen (fixtures made by
``fixtures/gen_archives.py``)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import jsonschema
import pytest

import scanner
from detectors.formats.archive import Limits
from detectors.model import ARCHIVE, Report
from scanner.archives import ArchiveSettings
from scanner.configure import SetupError, configure
from scanner.resume import replay

ROOT = Path(__file__).resolve().parents[1]
ARCHIVES = ROOT / "fixtures" / "archives"
EXE = str(Path(sys.executable).with_name("deliverscan"))
SCHEMA = json.loads((ROOT / "scanner" / "schema" / "report.schema.json").read_text())


def _scan(*paths: Path, **kw: object) -> tuple[Report, dict[str, tuple[str, str]]]:
    report = scanner.scan([str(p) for p in paths], **kw)  # type: ignore[arg-type]
    prefix = str(ARCHIVES) + os.sep
    by = {r.asset.path.removeprefix(prefix): (r.verdict, r.asset.kind) for r in report.results}
    return report, by


def test_turnover_members_are_judged_one_by_one() -> None:
    report, by = _scan(ARCHIVES / "turnover.zip")
    z = "turnover.zip!/"
    assert by[z + "plates/bg_017.png"] == ("ai", "image")  # A1111 infotext
    assert by[z + "plates/c2pa_signed.jpg"] == ("ai", "image")  # C2PA, signature verified
    assert by[z + "plates/sidecar_asset.jpg"] == ("ai", "image")  # by its XMP sidecar member
    assert by[z + "plates/sidecar_asset.xmp"][0] == "ai"
    assert by[z + "plates/clean_plate.png"] == ("clean", "image")
    assert by[z + "audio/stems.tar.gz!/vo/temp_score.mov"] == ("ai", "video")  # nested tar.gz
    assert by[z + "audio/stems.tar.gz!/vo/vo_take3.wav"] == ("clean", "audio")
    assert by[z + "audio/stems.tar.gz"] == ("ai", ARCHIVE)
    assert by[z + "__MACOSX/plates/._clean_plate.png"][0] == "skipped"  # AppleDouble by content
    assert by[z + "docs/README.txt"][0] == "skipped"
    assert by["turnover.zip"] == ("ai", ARCHIVE)
    results = {r.asset.path: r for r in report.results}
    archive = results[str(ARCHIVES / "turnover.zip")]
    assert archive.blocking and not archive.findings
    assert "8 member(s) checked one by one (5 ai, 1 clean, 2 skipped)" in archive.asset.notes[-1]
    # evidence names the member; the member names its archive; content hashes for approvals
    signed = results[str(ARCHIVES / "turnover.zip") + "!/plates/c2pa_signed.jpg"]
    assert signed.asset.container == str(ARCHIVES / "turnover.zip")
    assert signed.findings[0].tier == "verified"
    assert signed.sha256 == _sha(ROOT / "fixtures" / "c2pa" / "formats" / "ai_created.jpg")
    # members are the files: 5 blocking files, 2 archives, exit 1
    s = report.summary
    assert (s.blocking_assets, s.archives, s.exit_code) == (5, 2, 1)
    assert s.files == 9 and s.verdicts == {"ai": 5, "clean": 2, "skipped": 2}


def _sha(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("name", ["clean_turnover.tar.zst", "clean_turnover.tar.bz2",
                                  "clean_turnover.tar.xz", "clean_turnover.tgz"])
def test_clean_turnover_in_every_compression_is_clean(name: str) -> None:
    report, by = _scan(ARCHIVES / name)
    assert by == {name + "!/ep203/plate.png": ("clean", "image"),
                  name + "!/ep203/vo.wav": ("clean", "audio"),
                  name + "!/ep203/ref.mp4": ("clean", "video"),
                  name: ("clean", ARCHIVE)}
    assert report.summary.exit_code == 0


def test_a_single_gzipped_clip_is_its_own_member() -> None:
    _, by = _scan(ARCHIVES / "clip.mov.gz")
    assert by == {"clip.mov.gz!/clip.mov": ("ai", "video"), "clip.mov.gz": ("ai", ARCHIVE)}


@pytest.mark.parametrize(("name", "member", "why"), [
    ("encrypted.zip", "encrypted.zip!/plate.png", "encrypted: cannot be checked"),
    ("overlap_bomb.zip", None, "members overlap"),
    ("ratio_bomb.bin.bz2", None, "expands more than 1000x"),
    ("sources.7z", None, "7-Zip archives cannot be looked inside"),
    ("truncated.zip", None, "damaged ZIP"),
    ("truncated.tar.gz", None, "cannot decompress: EOFError"),
    ("nested_deep.zip", "nested_deep.zip!/level5.zip!/level4.zip!/level3.zip!/level2.zip",
     "nested 4 deep: over the limit of 3"),
])
def test_what_cannot_be_read_is_an_error_never_clean(name: str, member: str | None,
                                                     why: str) -> None:
    start = time.monotonic()
    report, by = _scan(ARCHIVES / name)
    assert time.monotonic() - start < 60  # a hang guard, not a speed claim
    assert by[name][0] == "error"
    where = member or name
    result = next(r for r in report.results if r.asset.path == str(ARCHIVES / where))
    assert result.verdict == "error" and any(why in e.message for e in result.errors)
    assert report.summary.exit_code == 2


def test_member_names_never_escape_the_private_copy(tmp_path: Path) -> None:
    work = tmp_path / "tmp"
    work.mkdir()
    settings = ArchiveSettings(temp_dir=str(work))
    report, by = _scan(ARCHIVES / "escape.zip", archives=settings)
    assert by["escape.zip!/../../escaped_ai.png"] == ("ai", "image")
    assert by["escape.zip!//abs/clean.png"] == ("clean", "image")
    assert list(work.iterdir()) == []  # every copy removed
    assert not list(tmp_path.rglob("escaped_ai.png")) and not Path("/abs/clean.png").exists()


def test_links_and_fifos_inside_are_listed_never_followed() -> None:
    report, by = _scan(ARCHIVES / "links.tar")
    assert by["links.tar!/links/plate_link.png"][0] == "skipped"
    assert by["links.tar!/links/pipe"][0] == "skipped"
    assert by["links.tar!/plate.png"] == ("clean", "image")
    reasons = {r.asset.path.rsplit("/", 1)[-1]: r.asset.skip_reason for r in report.results}
    assert reasons["plate_link.png"] == "symlink inside the archive: not followed"
    assert reasons["pipe"] == "special file inside the archive: not followed"


def test_limits_on_members_and_sizes() -> None:
    few = ArchiveSettings(limits=Limits(max_members=3))
    report, by = _scan(ARCHIVES / "turnover.zip", archives=few)
    assert by["turnover.zip"][0] == "error"
    assert "over the limit of 3" in report.results[-1].errors[0].message
    small = ArchiveSettings(limits=Limits(max_member_bytes=50))
    report, by = _scan(ARCHIVES / "clean_turnover.tgz", archives=small)
    errors = [r for r in report.results if r.verdict == "error"]
    assert {os.path.basename(r.asset.path) for r in errors} == {
        "plate.png", "vo.wav", "ref.mp4", "clean_turnover.tgz"}
    assert any("member limit" in e.message for r in errors for e in r.errors)


def test_excludes_apply_inside_archives() -> None:
    report, by = _scan(ARCHIVES / "turnover.zip", excludes=("*.tar.gz",))
    assert by["turnover.zip!/audio/stems.tar.gz"][0] == "skipped"
    assert not any("temp_score" in p for p in by)


def test_an_archive_is_looked_inside_again_when_it_or_a_detector_changes(
        tmp_path: Path) -> None:
    tree = tmp_path / "d"
    tree.mkdir()
    shutil.copy(ARCHIVES / "clip.mov.gz", tree / "a.gz")
    cache = str(tmp_path / "cache.sqlite")
    first = scanner.scan([str(tree)], cache_path=cache)
    second = scanner.scan([str(tree)], cache_path=cache)  # served as stored
    assert [(r.asset.path, r.verdict) for r in first.results] == \
        [(r.asset.path, r.verdict) for r in second.results]
    assert second.summary.exit_code == 1 and second.summary.cache_hits == 1
    # a detector setting changes: the stored members are not reused (no half-old archive)
    third = scanner.scan([str(tree)], cache_path=cache, settings={"metadata": {"deep": True}})
    assert third.summary.cache_hits == 0 and third.summary.exit_code == 1
    shutil.copy(ARCHIVES / "clean_turnover.tgz", tree / "a.gz")  # the archive changes
    fourth = scanner.scan([str(tree)], cache_path=cache)
    assert fourth.summary.cache_hits == 0 and fourth.summary.exit_code == 0


def test_resume_drops_the_members_of_an_archive_it_did_not_finish() -> None:
    def rec(path: str, archive: str | None = None, kind: str = "image") -> dict:
        d = {"path": path, "kind": kind, "size": 1, "verdict": "clean", "findings": [],
             "errors": [], "coverage": []}
        if archive:
            d["archive"] = archive
        return d

    records = [rec("a.zip!/x.png", "a.zip"), rec("a.zip", kind=ARCHIVE),
               rec("b.zip!/y.png", "b.zip"), rec("b.zip!/in.tar!/z.png", "b.zip!/in.tar"),
               rec("b.zip!/in.tar", "b.zip", ARCHIVE), rec("c.png")]
    results, done = replay(records)  # killed inside b.zip: its line is missing
    assert done == {"a.zip!/x.png", "a.zip", "c.png"}
    assert [r.asset.path for r in results] == ["a.zip!/x.png", "a.zip", "c.png"]


def test_temporary_copies_never_go_inside_a_scanned_root(tmp_path: Path) -> None:
    (tmp_path / "a.png").write_bytes((ROOT / "fixtures" / "meta" / "clean.png").read_bytes())
    with pytest.raises(SetupError, match="lies inside scanned root"):
        configure([str(tmp_path)], archives=ArchiveSettings(temp_dir=str(tmp_path)))


def test_workers_report_members_and_json_follows_the_schema(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    res = subprocess.run([EXE, "scan", str(ARCHIVES / "turnover.zip"), "--no-cache", "-j", "1",
                          "--format", "json", "-o", str(out), "--temp-dir", str(tmp_path)],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 1, res.stderr
    doc = json.loads(out.read_text())
    jsonschema.validate(doc, SCHEMA)
    members = [r for r in doc["results"] if r.get("archive")]
    assert len(members) == 10 and doc["summary"]["archives"] == 2
    assert "Looked inside 2 archives" in res.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]  # the run's copies are gone


def test_approval_by_content_covers_a_member(tmp_path: Path) -> None:
    sha = _sha(ROOT / "fixtures" / "meta" / "comfyui_vhs.mov")
    policy = tmp_path / "p.toml"
    policy.write_text(f'[[approvals]]\nsha256 = "{sha}"\nref = "TEMP-1"\nby = "Ann"\n'
                      'reason = "temp score kept by contract"\n')
    report, by = _scan(ARCHIVES / "clip.mov.gz", policy=str(policy))
    assert report.summary.exit_code == 0 and report.summary.approved_findings == 1
