"""``deliverscan approve`` (hash, append with comments and order kept, refuse broken policies)
and ``deliverscan policy check`` (valid / stale / expired, exit codes)."""

from __future__ import annotations

import datetime as _dt
import hashlib
import re
import textwrap
import tomllib
from pathlib import Path

from click.testing import CliRunner
from PIL import Image, PngImagePlugin

from scanner.cli import main
from scanner.policy import Policy


def ai_png(path: Path, color: tuple[int, int, int]) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", "AI-MARK prompt")
    Image.new("RGB", (16, 16), color).save(path, pnginfo=info)
    return hashlib.sha256(path.read_bytes()).hexdigest()


def run(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(main, list(args))


def test_approve_creates_policy_with_entry(tmp_path: Path, fake_plugin: Path) -> None:
    sha = ai_png(tmp_path / "d" / "plate.png", (10, 20, 30))
    pol = tmp_path / "policy.toml"
    res = run("approve", str(tmp_path / "d" / "plate.png"), "--policy", str(pol), "--ref",
              "VFX-7", "--by", "Ann Lee", "--reason", "bg plate, contract §4",
              "--expires", "2099-12-31", "--rule", "fake.ai", "--path-glob", "d/*.png")
    assert res.exit_code == 0, res.output
    # Other built-in detectors may see the tEXt chunk too; the approval covers fake.ai only.
    assert re.search(r"waives 1 of \d+ finding\(s\) \(fake\.ai\)", res.output), res.output
    data = tomllib.loads(pol.read_text(encoding="utf-8"))
    assert data["fail_on"] == ["ai"]
    (entry,) = data["approvals"]
    assert entry["sha256"] == sha and entry["ref"] == "VFX-7" and entry["by"] == "Ann Lee"
    assert entry["reason"] == "bg plate, contract §4" and entry["rules"] == ["fake.ai"]
    assert entry["path"] == "d/*.png" and entry["file"] == "plate.png"
    assert entry["date"] == _dt.date.today() and entry["expires"] == _dt.date(2099, 12, 31)
    assert pol.read_text().startswith("# deliverscan policy")
    Policy.load(str(pol))  # valid


def test_approve_appends_keeping_comments_and_order(tmp_path: Path) -> None:
    a = ai_png(tmp_path / "a.png", (1, 2, 3))
    b = ai_png(tmp_path / "b.png", (4, 5, 6))
    pol = tmp_path / "policy.toml"
    original = textwrap.dedent(f"""\
        # Studio X delivery policy -- reviewed by legal
        fail_on = ["ai", "review"]   # review counts too

        [rules]
        "c2pa.*" = "blocking"  # signed AI claims never ship

        # approvals below
        [[approvals]]
        sha256 = "{a}"
        ref = "OLD-1"
        by = "Bo"
        reason = "kept by contract"
        """)
    pol.write_text(original, encoding="utf-8")
    res = run("approve", str(tmp_path / "b.png"), "--policy", str(pol), "--ref", "NEW-2",
              "--by", "Cy", "--reason", "temp VO kept", "--no-scan")
    assert res.exit_code == 0, res.output
    text = pol.read_text(encoding="utf-8")
    assert text.startswith(original)  # every byte before is kept, comments included
    assert text[len(original):].startswith("\n[[approvals]]\n")
    refs = [e["ref"] for e in tomllib.loads(text)["approvals"]]
    assert refs == ["OLD-1", "NEW-2"]
    assert tomllib.loads(text)["approvals"][1]["sha256"] == b
    # Same file, same ref again: not duplicated.
    res = run("approve", str(tmp_path / "b.png"), "--policy", str(pol), "--ref", "NEW-2",
              "--by", "Cy", "--reason", "again", "--no-scan")
    assert res.exit_code == 0 and "already approved" in res.output
    assert pol.read_text(encoding="utf-8") == text


def test_approve_refuses_broken_policy_and_past_expiry(tmp_path: Path) -> None:
    ai_png(tmp_path / "a.png", (1, 2, 3))
    pol = tmp_path / "policy.toml"
    pol.write_text('fail_on = ["ai"]\n[[approvals]]\nsha256 = "nothex"\n')
    before = pol.read_bytes()
    res = run("approve", str(tmp_path / "a.png"), "--policy", str(pol), "--ref", "R",
              "--by", "B", "--reason", "x", "--no-scan")
    assert res.exit_code != 0 and f"{pol}:3" in res.output and "nothing was written" in res.output
    assert pol.read_bytes() == before
    res = run("approve", str(tmp_path / "a.png"), "--policy", str(tmp_path / "new.toml"),
              "--ref", "R", "--by", "B", "--reason", "x", "--expires", "2001-01-01")
    assert res.exit_code == 2 and "already past" in res.output
    assert not (tmp_path / "new.toml").exists()


def test_policy_check_lists_stale_and_expired(tmp_path: Path) -> None:
    tree = tmp_path / "delivery"
    a = ai_png(tree / "a.png", (1, 2, 3))
    gone = hashlib.sha256(b"an edited version").hexdigest()
    pol = tmp_path / "policy.toml"
    pol.write_text(textwrap.dedent(f"""\
        [[approvals]]
        sha256 = "{a}"
        ref = "LIVE-1"
        by = "B"
        reason = "r"
        size = {(tree / "a.png").stat().st_size}

        [[approvals]]
        sha256 = "{gone}"
        file = "old.png"
        ref = "STALE-2"
        by = "B"
        reason = "r"

        [[approvals]]
        sha256 = "{a}"
        ref = "OLD-3"
        by = "B"
        reason = "r"
        expires = 2020-02-02
        """))
    res = run("policy", "check", str(pol), str(tree))
    assert res.exit_code == 1, res.output
    assert "3 approval(s)" in res.output
    assert "expired: approval OLD-3 (line 15)" in res.output
    assert "stale: approval STALE-2 (line 8) old.png" in res.output
    assert "in use: approval LIVE-1 (line 1) → " in res.output and "a.png" in res.output
    # Without the stale and expired ones it passes.
    pol.write_text("\n".join(pol.read_text().splitlines()[:6]) + "\n")
    res = run("policy", "check", str(pol), str(tree))
    assert res.exit_code == 0, res.output


def test_policy_check_invalid_exits_2(tmp_path: Path) -> None:
    pol = tmp_path / "policy.toml"
    pol.write_text('fail_on = ["ai"]\n\n[detectors.c2pa]\nmode = "sometimes"\n')
    res = run("policy", "check", str(pol))
    assert res.exit_code == 2
    assert f"{pol}:4: detectors.c2pa.mode must be one of blocking, overridable, off" in res.output
