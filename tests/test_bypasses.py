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
