"""A delivery as a facility hands it over, judged file by file: RF64/BW64 and AIFF stems, EXR and
DPX frame sequences, a ZIP turnover and a tar.zst, IMF packages, ComfyUI graphs beside EXR
renders. Clean files clean, marked ones flagged with evidence naming the frame, member or
composition; sequences and archive members grouped in the reports."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIX = ROOT / "fixtures"
EXE = str(Path(sys.executable).with_name("deliverscan"))
# MXF track files and DPX/Cineon are also read by the deep tier: ExifTool (make setup)
pytestmark = pytest.mark.tool("exiftool")


def _delivery(root: Path) -> Path:
    d = root / "EP203_delivery"
    stems = d / "audio" / "stems"
    stems.mkdir(parents=True)
    for name in ("rf64_clean.wav", "bw64_adm.wav", "aiff_clean.aiff", "rf64_bext_suno.wav"):
        shutil.copy(FIX / "delivery" / name, stems / name)
    comp = d / "vfx" / "shot040"
    comp.mkdir(parents=True)
    for n in range(1001, 1007):  # one frame of the comp is a generator's output
        src = "exr_a1111.exr" if n == 1004 else "exr_clean.exr"
        shutil.copy(FIX / "delivery" / src, comp / f"shot040_comp_v003.{n}.exr")
    scans = d / "scans" / "A001C003"
    scans.mkdir(parents=True)
    for n in range(101, 106):
        shutil.copy(FIX / "delivery" / "dpx_clean.dpx", scans / f"A001C003_{n:06d}.dpx")
    shutil.copytree(FIX / "sidecars" / "exr_api", d / "vfx" / "renders")
    turnovers = d / "turnovers"
    turnovers.mkdir()
    shutil.copy(FIX / "archives" / "turnover.zip", turnovers / "ep203_turnover.zip")
    shutil.copy(FIX / "archives" / "clean_turnover.tar.zst", turnovers / "vo.tar.zst")
    for pkg in ("valid", "with_ai"):
        shutil.copytree(FIX / "imf" / pkg, d / "imf" / pkg)
    return d


def test_a_delivery_is_judged_file_by_file(tmp_path: Path) -> None:
    d = _delivery(tmp_path)
    res = subprocess.run([EXE, "scan", str(d), "--no-cache", "--format", "json"],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 1, res.stderr  # blocking AI, nothing unreadable
    doc = json.loads(res.stdout)
    by = {r["path"].removeprefix(str(d) + "/"): r for r in doc["results"]}
    verdict = {p: r["verdict"] for p, r in by.items()}
    # stems: RF64/BW64/AIFF read natively, clean; the Suno originator in a BWF bext flagged
    for name in ("rf64_clean.wav", "bw64_adm.wav", "aiff_clean.aiff"):
        assert verdict[f"audio/stems/{name}"] == "clean", by[f"audio/stems/{name}"]
    assert verdict["audio/stems/rf64_bext_suno.wav"] == "ai"
    # the comp is one entry naming its generated frame; the scans one clean entry
    comp = by["vfx/shot040/shot040_comp_v003.[1001-1006].exr"]
    assert comp["verdict"] == "ai" and "1 flagged: 1004" in comp["notes"][0]
    assert {f["evidence"]["frame"] for f in comp["findings"]} == {1004}
    assert verdict["scans/A001C003/A001C003_[000101-000105].dpx"] == "clean"
    # the ComfyUI graph saved beside the first render: on itself and on that frame
    assert verdict["vfx/renders/shot_v001.1001_api.json"] == "ai"
    renders = [p for p in verdict if p.startswith("vfx/renders/shot_v001.")
               and p.endswith(".exr")]
    assert renders and all(verdict[p] in ("ai", "clean") for p in renders)
    # archives: members judged one by one, the archive the worst of them
    assert verdict["turnovers/ep203_turnover.zip"] == "ai"
    assert verdict["turnovers/ep203_turnover.zip!/plates/bg_017.png"] == "ai"
    assert verdict["turnovers/vo.tar.zst"] == "clean"
    # IMF: packages are units; the AI key art names the composition it ships with
    assert verdict["imf/valid"] == "clean" and verdict["imf/with_ai"] == "ai"
    art = by["imf/with_ai/EP205_keyart.png"]
    assert art["findings"][0]["evidence"]["imf"] == ["CPL 'EP205 Final' · sidecar"]
    # every file accounted for; nothing could not be checked
    assert doc["summary"]["verdicts"].get("error", 0) == 0
    assert doc["summary"]["archives"] == 3 and doc["summary"]["packages"] == 2
