"""Regression tests, one per way an AI file once passed unseen (named for the bypass).

Each builds the situation from real bytes (fixtures, files written by ExifTool) and runs the
installed ``deliverscan`` command or ``scanner.scan`` exactly as a user would.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

import scanner
from detectors.model import display_path
from fixtures import gen_clutter
from scanner.configure import SetupError
from scanner.policy import Policy
from tests.conftest import FIXTURES

EXE = str(Path(sys.executable).parent / "deliverscan")
AI_MP4 = FIXTURES / "c2pa" / "formats" / "ai_created.mp4"
COMFY_PNG = FIXTURES / "meta" / "comfyui.png"
COMFY_FLAC = FIXTURES / "meta" / "comfyui_audio.flac"
REG = FIXTURES / "register"


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([EXE, *args], capture_output=True, text=True, timeout=180,
                          stdin=subprocess.DEVNULL, env={**os.environ, **(env or {})})


def reports(tmp: Path) -> list[str]:
    out = []
    for fmt in ("json", "jsonl", "csv", "html", "junit", "sarif"):
        out += ["--report", f"{fmt}:{tmp / ('report.' + fmt)}"]
    return out


# --- OS clutter by name -------------------------------------------------------------------

def test_bypass_ai_mp4_renamed_as_appledouble_is_flagged(tmp_path: Path) -> None:
    """An AI MP4 renamed ``._EP203_final_master.mp4`` once gave "Scanned 0 files … NO AI
    MARKERS FOUND (exit 0)". A name never hides a file: only real clutter (name and content)
    is skipped, and every skipped path is named in every report format."""
    tree = tmp_path / "delivery"
    tree.mkdir()
    shutil.copy(AI_MP4, tree / "._EP203_final_master.mp4")
    shutil.copy(COMFY_PNG, tree / "Thumbs.db")
    shutil.copy(COMFY_PNG, tree / ".DS_Store")
    (tree / "sub").mkdir()
    for name in ("._clip.mov", ".DS_Store", "Thumbs.db"):
        shutil.copy(FIXTURES / "clutter" / name, tree / "sub" / name)
    out = tmp_path / "out"
    out.mkdir()
    res = run("scan", str(tree), "--no-cache", "--format", "json", *reports(out))
    assert res.returncode == 1, res.stderr
    doc = json.loads(res.stdout)
    by = {Path(r["path"]).relative_to(tree).as_posix(): r for r in doc["results"]}
    assert by["._EP203_final_master.mp4"]["verdict"] == "ai"
    assert "named like OS clutter" in " ".join(by["._EP203_final_master.mp4"]["notes"])
    assert by["Thumbs.db"]["verdict"] == "ai" and by[".DS_Store"]["verdict"] == "ai"
    clutter = {k: r for k, r in by.items() if k.startswith("sub/")}
    assert sorted(clutter) == ["sub/.DS_Store", "sub/._clip.mov", "sub/Thumbs.db"]
    for r in clutter.values():
        assert r["verdict"] == "skipped" and r["skip_reason"].startswith("OS clutter")
    assert doc["summary"]["clutter_skipped"] == 3
    # every report format names every skipped path
    names = [str(tree / k) for k in clutter]
    for fmt in ("jsonl", "csv", "html", "junit", "sarif"):
        text = (out / f"report.{fmt}").read_text(encoding="utf-8")
        for name in names:
            shown = display_path(name).replace("&", "&amp;") if fmt in ("html", "junit") \
                else name
            assert shown in text or Path(name).as_uri() in text, (fmt, name)
    table = run("scan", str(tree), "--no-cache")
    for name in names:
        assert name in table.stdout


def test_real_clutter_is_recognised_by_content() -> None:
    from detectors.formats.sniff import clutter_reason, sniff

    for name, data in (("._x.mov", gen_clutter.appledouble()), (".DS_Store", gen_clutter.ds_store()),
                       ("Thumbs.db", gen_clutter.thumbs_db())):
        assert clutter_reason(name, sniff(data)[1]) is not None, name
        assert clutter_reason("renamed.bin", sniff(data)[1]) is None


# --- the cache and options that change results --------------------------------------------

@pytest.mark.tool("exiftool")
def test_bypass_cached_native_verdict_not_reused_by_deep_scan(tmp_path: Path) -> None:
    """After a plain scan, ``scan --deep`` returned the cached clean verdict for a file that
    only the deep tier flags (here an IPTC-IIM Credit, which ExifTool reads)."""
    img = tmp_path / "tree" / "still.jpg"
    img.parent.mkdir()
    Image.new("RGB", (64, 48), (10, 20, 30)).save(img)
    subprocess.run(["exiftool", "-q", "-overwrite_original", "-IPTC:Credit=Made with Google AI",
                    str(img)], check=True)
    cache = tmp_path / "cache.sqlite"
    assert run("scan", str(img.parent), "--cache", str(cache)).returncode == 0
    deep = run("scan", str(img.parent), "--cache", str(cache), "--deep", "--format", "json")
    assert deep.returncode == 1, deep.stdout
    assert json.loads(deep.stdout)["results"][0]["findings"][0]["rule"] == "meta.google.credit"


def test_bypass_show_prompts_leaks_into_later_cached_reports(tmp_path: Path) -> None:
    """After one ``--show-prompts`` run, a normal report printed the full prompt."""
    tree = tmp_path / "tree"
    tree.mkdir()
    shutil.copy(COMFY_PNG, tree / "a.png")
    cache = tmp_path / "cache.sqlite"
    full = run("scan", str(tree), "--cache", str(cache), "--show-prompts", "--format", "json")
    redacted = run("scan", str(tree), "--cache", str(cache), "--format", "json")
    value_full = json.loads(full.stdout)["results"][0]["findings"][0]["value"]
    value_red = json.loads(redacted.stdout)["results"][0]["findings"][0]["value"]
    assert "[sha256:" not in value_full and len(value_full) > 200
    assert "[sha256:" in value_red and len(value_red) < 200


def test_bypass_rule_pack_change_reuses_cached_metadata_verdict(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The metadata detector's cache entries ignored the rule pack: a file scanned before a
    rule was added stayed "clean" from the cache after the rule existed."""
    import detectors.rules as rules_mod

    real = rules_mod._files()
    tree = tmp_path / "tree"
    tree.mkdir()
    shutil.copy(COMFY_FLAC, tree / "a.flac")
    cache = str(tmp_path / "c.sqlite")

    def scan_rules(files: list[tuple[str, str]]) -> set[str]:
        monkeypatch.setattr(rules_mod, "_files", lambda: files)
        rules_mod.load_pack.cache_clear()
        try:
            report = scanner.scan([str(tree)], cache_path=cache, disable=("c2pa",))
        finally:
            rules_mod.load_pack.cache_clear()
        return {f.rule for r in report.results for f in r.findings}

    before = scan_rules([(n, _drop_rule(t, "meta.comfyui.prompt")) for n, t in real])
    after = scan_rules(real)
    assert "meta.comfyui.prompt" not in before
    assert "meta.comfyui.prompt" in after


def _drop_rule(text: str, rule_id: str) -> str:
    """The rule file without the ``[[rule]]`` table whose id is ``rule_id``."""
    parts = text.split("\n[[rule]]\n")
    return "\n[[rule]]\n".join(p for p in parts if f'id = "{rule_id}"' not in p.split("\n")[0])


def test_bypass_register_entry_added_after_a_cached_scan(tmp_path: Path) -> None:
    """The register detector's cache entries ignored the register's content: a deliverable
    scanned clean before a temp asset was registered stayed clean from the cache."""
    db = tmp_path / "reg.db"
    tree = tmp_path / "delivery"
    tree.mkdir()
    shutil.copy(REG / "temp_concept.png", tree / "final.png")
    assert run("register", "add", str(REG / "unrelated.png"), "--register", str(db)).returncode == 0
    cache = tmp_path / "cache.sqlite"
    first = run("scan", str(tree), "--register", str(db), "--cache", str(cache))
    assert first.returncode == 0, first.stdout + first.stderr
    assert run("register", "add", str(REG / "temp_concept.png"),
               "--register", str(db)).returncode == 0
    again = run("scan", str(tree), "--register", str(db), "--cache", str(cache))
    assert again.returncode == 1, again.stdout


# --- sniffing -----------------------------------------------------------------------------

def _id3v2(payload: bytes) -> bytes:
    """An ID3v2.3 tag with one TIT2 frame of ``payload`` (sizes as taggers write them)."""
    frame = b"TIT2" + len(payload + b"\0").to_bytes(4, "big") + b"\0\0" + b"\0" + payload
    n = len(frame)
    size = bytes([(n >> 21) & 0x7F, (n >> 14) & 0x7F, (n >> 7) & 0x7F, n & 0x7F])
    return b"ID3\x03\x00\x00" + size + frame


@pytest.mark.parametrize("title", [b"Stem 1", b"x" * 200_000])  # in the head, and past it
def test_bypass_flac_behind_an_id3v2_tag_is_read_as_flac(tmp_path: Path, title: bytes) -> None:
    """A FLAC with an ID3v2 tag in front was sniffed as MP3: its Vorbis comments (a ComfyUI
    prompt) were never read."""
    path = tmp_path / "mix.flac"
    path.write_bytes(_id3v2(title) + COMFY_FLAC.read_bytes())
    report = scanner.scan([str(path)])
    (r,) = report.results
    assert r.asset.media_type == "audio/flac"
    assert "meta.comfyui.prompt" in {f.rule for f in r.findings}
    assert r.verdict == "ai"


# --- configuration reaches the scan ---------------------------------------------------------

def test_bypass_deliverscan_register_env_ignored_by_scan(tmp_path: Path) -> None:
    """DELIVERSCAN_REGISTER was honoured by ``register …`` but silently ignored by ``scan``."""
    db = tmp_path / "reg.db"
    env = {"DELIVERSCAN_REGISTER": str(db)}
    assert run("register", "add", str(REG / "temp_concept.png"), env=env).returncode == 0
    tree = tmp_path / "delivery"
    tree.mkdir()
    shutil.copy(REG / "temp_concept.png", tree / "final.png")
    res = run("scan", str(tree), "--no-cache", env=env)
    assert res.returncode == 1 and "register.exact" in res.stdout, res.stdout + res.stderr


def test_bypass_python_api_ignored_the_policy_detector_options(tmp_path: Path) -> None:
    """``scanner.scan(…, policy=Policy.load(p))`` ignored ``[detectors.*]`` and
    ``policy="file.toml"`` crashed: both now take the CLI's path."""
    policy = tmp_path / "policy.toml"
    policy.write_text("[detectors.c2pa]\nverify_limit_mb = 0\n"
                      '[rules]\n"c2pa.dst.*" = "blocking"\n', encoding="utf-8")
    for given in (str(policy), Policy.load(str(policy)), policy):
        report = scanner.scan([str(AI_MP4)], policy=given, disable=("watermark",))
        (finding,) = [f for f in report.results[0].findings if f.detector == "c2pa"]
        assert finding.evidence["validation"] == "not verified (> verify limit)", given
        assert report.summary.exit_code == 1
    with pytest.raises(SetupError, match="broken.toml:1"):
        broken = tmp_path / "broken.toml"
        broken.write_text("[detectors.c2pa\n", encoding="utf-8")
        scanner.scan([str(AI_MP4)], policy=str(broken))


# --- empty and mistaken set-ups -------------------------------------------------------------

def test_bypass_empty_or_unmounted_root_passes(tmp_path: Path) -> None:
    """An empty or unmounted delivery root passed with exit 0 ("Scanned 0 files")."""
    empty = tmp_path / "mnt" / "delivery"
    empty.mkdir(parents=True)
    res = run("scan", str(empty))
    assert res.returncode == 2 and "empty folder" in res.stderr and "--allow-empty" in res.stderr
    assert run("scan", str(empty), "--allow-empty").returncode == 0
    # a root with files none of which is media: nothing was checked
    (empty / "readme.txt").write_text("hello\n")
    res = run("scan", str(empty), "--no-cache", "--format", "json")
    assert res.returncode == 2, res.stderr
    doc = json.loads(res.stdout)
    assert doc["summary"]["empty_roots"] == [str(empty)]
    assert any("nothing was checked" in w for w in doc["warnings"])
    assert run("scan", str(empty), "--no-cache", "--allow-empty").returncode == 0
    (tmp_path / "mnt" / "other").mkdir()
    with pytest.raises(SetupError, match="empty folder"):
        scanner.scan([str(tmp_path / "mnt" / "other")])


@pytest.mark.parametrize("case", ["missing root", "bad register", "bad anchors"])
def test_bypass_setup_mistakes_fail_once_before_the_scan(tmp_path: Path, case: str) -> None:
    """Setup mistakes became one error per file instead of stopping the run before it starts."""
    tree = tmp_path / "delivery"
    tree.mkdir()
    for i in range(3):
        shutil.copy(COMFY_PNG, tree / f"{i}.png")
    junk = tmp_path / "junk.txt"
    junk.write_text("not what it should be\n")
    args = {"missing root": [str(tmp_path / "not-mounted")],
            "bad register": [str(tree), "--register", str(junk)],
            "bad anchors": [str(tree), "--trust-anchors", str(junk)]}[case]
    res = run("scan", *args, "--format", "json")
    assert res.returncode == 2
    assert res.stdout == ""  # no report of three per-file errors: the scan never started
    assert len([ln for ln in res.stderr.splitlines() if ln.strip()]) <= 3, res.stderr
    assert "Traceback" not in res.stderr
    assert {"missing root": "not-mounted", "bad register": "not a register",
            "bad anchors": "not a PEM bundle"}[case] in res.stderr


# --- the cache: a stored result stands on more than the file's own stat ---------------------

A1111_PNG = FIXTURES / "meta" / "a1111_parameters.png"


def _verdicts(report: scanner.Report, root: Path) -> dict[str, str]:
    return {os.path.relpath(r.asset.path, root): r.verdict for r in report.results}


def _zip_tree(tmp_path: Path) -> Path:
    import zipfile

    tree = tmp_path / "tree"
    (tree / "reel1").mkdir(parents=True)
    Image.new("RGB", (32, 32), (1, 2, 3)).save(tree / "plate.png")
    with zipfile.ZipFile(tree / "reel1" / "turnover.zip", "w") as z:
        z.write(A1111_PNG, "frames/shot.png")
    return tree


@pytest.mark.parametrize("change", ["root spelled relative", "parent folder renamed",
                                    "fail_on widened"])
def test_bypass_cached_archive_reported_skipped_without_its_members(
        tmp_path: Path, change: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A cached archive whose stored expansion named another path or policy was served as
    "skipped: archive holds no media file" with exit 0: its members were never opened."""
    tree = _zip_tree(tmp_path)
    cache = str(tmp_path / "cache.sqlite")
    first = scanner.scan([str(tree)], cache_path=cache)
    assert first.summary.exit_code == 1
    root, kwargs = str(tree), {}
    if change == "root spelled relative":
        monkeypatch.chdir(tmp_path)
        root = "tree"
    elif change == "parent folder renamed":
        (tree / "reel1").rename(tree / "reel2")
    else:
        kwargs = {"fail_on_review": True}
    again = scanner.scan([root], cache_path=cache, **kwargs)
    member = next(r for r in again.results if r.asset.path.endswith("!/frames/shot.png"))
    assert member.verdict == "ai"
    assert again.summary.exit_code == 1


def test_bypass_cached_archive_keeps_members_excluded_by_an_earlier_run(tmp_path: Path) -> None:
    """Members excluded by ``--exclude`` in one run stayed "excluded" once the exclusion was
    dropped: the stored archive's key did not name the exclusions."""
    tree = _zip_tree(tmp_path)
    cache = str(tmp_path / "cache.sqlite")
    assert scanner.scan([str(tree)], cache_path=cache, excludes=("shot.png",)
                        ).summary.exit_code == 0
    again = scanner.scan([str(tree)], cache_path=cache)
    assert again.summary.exit_code == 1
    assert _verdicts(again, tree)["reel1/turnover.zip!/frames/shot.png"] == "ai"


def test_bypass_sidecar_added_beside_a_cached_clean_file(tmp_path: Path) -> None:
    """An AI XMP sidecar put next to an unchanged, cached JPEG left the JPEG "clean" (and
    with the sidecar itself excluded, the run passed): the cache key named only the file."""
    tree = tmp_path / "tree"
    tree.mkdir()
    shutil.copy(FIXTURES / "meta" / "sidecar_asset.jpg", tree)
    cache = str(tmp_path / "cache.sqlite")
    assert _verdicts(scanner.scan([str(tree)], cache_path=cache), tree) == {
        "sidecar_asset.jpg": "clean"}
    shutil.copy(FIXTURES / "meta" / "sidecar_asset.xmp", tree)
    again = scanner.scan([str(tree)], cache_path=cache, excludes=("*.xmp",))
    assert _verdicts(again, tree)["sidecar_asset.jpg"] == "ai"
    assert again.summary.exit_code == 1


def test_bypass_hard_link_under_another_name_serves_the_other_names_result(
        tmp_path: Path) -> None:
    """One inode, two names: ``a_reel.mov`` (unreadable: an error) and ``z_copy.bin`` (not
    media: skipped). The warm run served the skipped result for the ``.mov`` and exited 0."""
    tree = tmp_path / "tree"
    tree.mkdir()
    Image.new("RGB", (32, 32), (1, 2, 3)).save(tree / "clean.png")
    (tree / "a_reel.mov").write_bytes(os.urandom(4096))
    os.link(tree / "a_reel.mov", tree / "z_copy.bin")
    cache = str(tmp_path / "cache.sqlite")
    for _ in range(2):
        report = scanner.scan([str(tree)], cache_path=cache)
        assert _verdicts(report, tree)["a_reel.mov"] == "error"
        assert report.summary.exit_code == 2


def test_bypass_hard_link_in_another_folder_without_its_sidecar(tmp_path: Path) -> None:
    """The same JPEG linked into two folders, only one holding its AI XMP sidecar: the warm
    run served one folder's result for the other."""
    tree = tmp_path / "tree"
    (tree / "a").mkdir(parents=True)
    (tree / "b").mkdir()
    shutil.copy(FIXTURES / "meta" / "sidecar_asset.jpg", tree / "b" / "sidecar_asset.jpg")
    os.link(tree / "b" / "sidecar_asset.jpg", tree / "a" / "sidecar_asset.jpg")
    shutil.copy(FIXTURES / "meta" / "sidecar_asset.xmp", tree / "a" / "sidecar_asset.xmp")
    cache = str(tmp_path / "cache.sqlite")
    for _ in range(2):
        got = _verdicts(scanner.scan([str(tree)], cache_path=cache), tree)
        assert got["a/sidecar_asset.jpg"] == "ai" and got["b/sidecar_asset.jpg"] == "clean"


def test_bypass_python_api_policy_change_served_a_stored_clean(tmp_path: Path) -> None:
    """A ``Policy`` built in code has no source text, so its rule modes were not in the
    stored result's key: after a run with a rule off, the default policy got the stored
    "clean" (exit 0) for an A1111 PNG."""
    tree = tmp_path / "tree"
    tree.mkdir()
    shutil.copy(A1111_PNG, tree / "a1111.png")
    cache = str(tmp_path / "cache.sqlite")
    relaxed = Policy(rule_modes={"meta.a1111.parameters": "off"})
    assert scanner.scan([str(tree)], cache_path=cache, policy=relaxed).summary.exit_code == 0
    assert scanner.scan([str(tree)], cache_path=cache).summary.exit_code == 1


def test_stored_result_with_findings_is_judged_again_under_a_baseline(tmp_path: Path) -> None:
    """A result with findings stored without a baseline was served as it was under
    ``--baseline`` (blocking although the baseline accepts it): the key did not name it."""
    tree = tmp_path / "tree"
    tree.mkdir()
    shutil.copy(A1111_PNG, tree / "a1111.png")
    cache = str(tmp_path / "cache.sqlite")
    report, base = tmp_path / "r.json", tmp_path / "b.json"
    assert run("scan", str(tree), "--no-cache", "-q", "-o", str(report), "--format", "json"
               ).returncode == 1
    assert run("baseline", "create", str(report), "-o", str(base)).returncode == 0
    assert run("scan", str(tree), "--cache", cache, "-q").returncode == 1
    assert run("scan", str(tree), "--cache", cache, "-q", "--baseline", str(base)
               ).returncode == 0


def test_bypass_cache_on_a_file_system_without_change_times(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """exFAT keeps no ctime (the driver reports the mtime): an edit with the mtime set back
    was served the stored "clean". On such file systems (read from the mount table) the cache
    is not used, and the report says so."""
    from scanner import identity

    tree = tmp_path / "tree"
    tree.mkdir()
    shutil.copy(A1111_PNG, tree / "a1111.png")
    table = [("/", "ext4"), (str(tmp_path), "exfat")]
    monkeypatch.setattr(identity, "_mount_table", lambda: table)
    cache = str(tmp_path / "cache.sqlite")
    scanner.scan([str(tree)], cache_path=cache)
    again = scanner.scan([str(tree)], cache_path=cache)
    assert again.summary.cache_hits == 0
    assert any("cache not used on a exfat file system" in w for w in again.warnings)
    monkeypatch.setattr(identity, "_mount_table", lambda: [("/", "ext4")])
    scanner.scan([str(tree)], cache_path=cache)
    assert scanner.scan([str(tree)], cache_path=cache).summary.cache_hits == 1


def test_mount_table_lines_are_read_as_the_kernel_writes_them() -> None:
    from scanner.identity import fstype_of, mounts

    text = ("36 35 98:0 / / rw,relatime shared:1 - ext4 /dev/root rw\n"
            "40 36 8:17 / /media/shuttle\\040drive rw,nosuid - exfat /dev/sdb1 rw\n"
            "41 36 0:50 / /mnt/rclone rw - fuse.rclone remote: rw\n")
    table = mounts(text)
    assert table == [("/", "ext4"), ("/media/shuttle drive", "exfat"),
                     ("/mnt/rclone", "fuse.rclone")]
    assert fstype_of("/media/shuttle drive/ep1", table) == "exfat"
    assert fstype_of("/media/shuttle drivex", table) == "ext4"
