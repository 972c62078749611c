"""The HTML report as a person sees it: rendered by a real headless Chromium (Debian
``chromium``), offline, with the flagged thumbnails visible on screen. The screenshot is kept
under test-artifacts/ for a human look. Skips when Chromium is not installed."""

from __future__ import annotations

import os
import shutil
import subprocess
import textwrap
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image, PngImagePlugin

from scanner.cli import main

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = shutil.which("chromium")

# Distinct saturated colours: one per flagged image, counted on the screenshot.
COLOURS = {"blocking.png": (255, 0, 255), "approved.png": (0, 255, 255)}


def _png(path: Path, colour: tuple[int, int, int]) -> str:
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", "AI-MARK prompt")
    Image.new("RGB", (320, 240), colour).save(path, pnginfo=info)
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def _count(shot: Image.Image, colour: tuple[int, int, int], tol: int = 24) -> int:
    px = np.asarray(shot.convert("RGB"), dtype=np.int16)
    return int((np.abs(px - np.array(colour, dtype=np.int16)) <= tol).all(axis=2).sum())


@pytest.mark.tool("chromium")
def test_html_report_renders_with_visible_thumbnails(tmp_path: Path, fake_plugin: Path) -> None:
    tree = tmp_path / "delivery"
    tree.mkdir()
    shas = {name: _png(tree / name, colour) for name, colour in COLOURS.items()}
    Image.new("RGB", (16, 16), (250, 250, 250)).save(tree / "clean.png")
    policy = tmp_path / "policy.toml"
    policy.write_text(textwrap.dedent(f"""\
        [[approvals]]
        sha256 = "{shas['approved.png']}"
        ref = "ART-9"
        by = "Producer"
        reason = "key art approved"
        """))
    report = tmp_path / "report.html"
    res = CliRunner().invoke(main, ["scan", str(tree), "--jobs", "0", "--no-cache",
                                    "--policy", str(policy), "-o",
                                    str(tmp_path / "t.txt"), "--report", f"html:{report}"])
    assert res.exception is None or isinstance(res.exception, SystemExit), res.output
    assert res.exit_code == 1, res.output

    ARTIFACTS.mkdir(exist_ok=True)
    shot_path = ARTIFACTS / "html-report.png"
    shot_path.unlink(missing_ok=True)
    profile = tmp_path / "chromium-profile"
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--hide-scrollbars", "--run-all-compositor-stages-before-draw",
           "--virtual-time-budget=5000", f"--user-data-dir={profile}", "--window-size=1280,1400",
           f"--screenshot={shot_path}", report.as_uri()]
    subprocess.run(cmd, capture_output=True, timeout=120, check=False,
                   stdin=subprocess.DEVNULL, env={**os.environ, "HOME": str(tmp_path)})
    assert shot_path.is_file(), "chromium wrote no screenshot"

    with Image.open(shot_path) as shot:
        shot.load()
        # Thumbnails are at most 240x180 for a 320x240 image; both must be on screen whole.
        for name, colour in COLOURS.items():
            seen = _count(shot, colour)
            assert seen >= 0.9 * 240 * 180, f"{name}: only {seen} pixels of its colour visible"
        # The verdict banner (red for blocking) spans the top of the page.
        top = shot.convert("RGB").crop((0, 0, shot.width, 60))
        red = _count(top, (179, 38, 30))
        assert red > 0.5 * shot.width * 60
