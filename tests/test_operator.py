"""What the operator sees must be true, and the comforts the field's tools have: one test per
point, each running the installed ``deliverscan`` on real files as a delivery desk would."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from PIL import Image, PngImagePlugin

from detectors.model import AssetResult, Report, Summary
from scanner.headline import headline
from scanner.progress import Progress
from scanner.reports.table import TableWriter
from tests.conftest import FIXTURES

EXE = str(Path(sys.executable).parent / "deliverscan")
PLUGIN_DIR = Path(__file__).resolve().parent / "plugin_fixture"
A1111 = "a castle, Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1, Size: 512x512, Model: x"


def run(*args: str, env: dict[str, str] | None = None,
        stdin: bytes = b"") -> subprocess.CompletedProcess[str]:
    """The installed command; output decoded as UTF-8 (names may hold any character)."""
    p = subprocess.run([EXE, *args], capture_output=True, timeout=180, input=stdin,
                       env={**os.environ, **(env or {})})
    return subprocess.CompletedProcess(p.args, p.returncode, p.stdout.decode("utf-8", "replace"),
                                       p.stderr.decode("utf-8", "replace"))


def ai_png(path: Path, colour: tuple[int, int, int] = (200, 30, 30)) -> Path:
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", A1111)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (32, 24), colour).save(path, pnginfo=info)
    return path


def clean_png(path: Path, colour: tuple[int, int, int] = (10, 120, 10)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (32, 24), colour).save(path)
    return path


def sha(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def approval(path: Path, ref: str = "ART-1") -> str:
    return (f'[[approvals]]\nsha256 = "{sha(path)}"\nref = "{ref}"\nby = "Producer"\n'
            'reason = "key art approved"\n')


# --- headlines ---------------------------------------------------------------------------------

def test_headline_never_contradicts_the_counts(tmp_path: Path) -> None:
    """Approved-only AI once showed green "NO AI MARKERS FOUND" above "2 ai"; review items
    with exit 0 said the same; 2,450 blocking files behind "SCAN INCOMPLETE" were unsaid."""
    def text(**kw: object) -> str:
        s = Summary(**kw)  # type: ignore[arg-type]
        return headline(s).text

    assert text(verdicts={"ai": 2}, approved_findings=2) == \
        "NOT BLOCKED: 2 approved AI uses (not blocking)"
    assert text(verdicts={"review": 3, "clean": 5}) == "NOT BLOCKED: 3 files for review"
    assert text(verdicts={"ai": 2450, "error": 25}, blocking_assets=2450, exit_code=2) == \
        "SCAN INCOMPLETE: 2,450 files block the delivery; 25 files could not be checked"
    assert text(verdicts={"clean": 4}) == "NO AI MARKERS FOUND"
    assert text(verdicts={"ai": 1}, blocking_assets=1, exit_code=1) == \
        "BLOCKED: 1 file blocks the delivery"


def test_same_headline_in_every_format_and_on_stderr(tmp_path: Path) -> None:
    tree = tmp_path / "delivery"
    approved = ai_png(tree / "key_art.png")
    ai_png(tree / "ep1" / "plate.png", (1, 2, 3))
    clean_png(tree / "ep1" / "clean.png")
    (tree / "ep1" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    policy = tmp_path / "policy.toml"
    policy.write_text(approval(approved))
    out = tmp_path / "out"
    res = run("scan", str(tree), "--no-cache", "--policy", str(policy), "--output-dir",
              str(out), "--formats", "json,junit,sarif,html,csv", "--format", "json",
              "-o", str(tmp_path / "r.json"))
    assert res.returncode == 2, res.stderr
    words = ("SCAN INCOMPLETE: 1 file blocks the delivery; 1 approved AI use (not blocking); "
             "1 file could not be checked")
    doc = json.loads((tmp_path / "r.json").read_text())
    assert doc["headline"]["text"] == words
    assert doc["errors"] and doc["errors"][0]["path"].endswith("broken.png")
    assert f"Verdict: {words} (exit 2)" in res.stderr  # the summary, since stdout has no table
    junit = ET.parse(out / "report.junit.xml").getroot()
    assert {p.get("name"): p.get("value") for p in junit.iter("property")}["headline"] == words
    sarif = json.loads((out / "report.sarif").read_text())
    assert sarif["runs"][0]["properties"]["headline"] == words
    table = run("scan", str(tree), "--no-cache", "--policy", str(policy))
    assert f"Verdict: {words} (exit 2)" in table.stdout
    assert sorted(os.listdir(out)) == ["report.csv", "report.html", "report.json",
                                      "report.junit.xml", "report.sarif"]
    assert (out / "report.csv").read_bytes().startswith(b"\xef\xbb\xbfpath,")  # Excel: BOM
    assert b"\r\n" in (out / "report.csv").read_bytes()


# --- where output goes -----------------------------------------------------------------------

def test_summary_always_on_stderr_unless_quiet_and_report_does_not_steal_stdout(
        tmp_path: Path) -> None:
    tree = tmp_path / "d"
    ai_png(tree / "a.png")
    res = run("scan", str(tree), "--no-cache", "--report", f"csv:{tmp_path / 'r.csv'}")
    assert res.stdout.startswith("AI ")  # --report is "also write": the table stays
    assert (tmp_path / "r.csv").is_file()
    res = run("scan", str(tree), "--no-cache", "-o", str(tmp_path / "r.txt"))
    assert res.stdout == "" and "Verdict: BLOCKED" in res.stderr
    res = run("scan", str(tree), "--no-cache", "-o", str(tmp_path / "r.txt"), "--quiet")
    assert res.stdout == "" and res.stderr == "" and res.returncode == 1


def test_report_inside_the_scanned_tree_is_refused(tmp_path: Path) -> None:
    tree = tmp_path / "d"
    ai_png(tree / "a.png")
    for args in (("-o", str(tree / "report.json")), ("--output-dir", str(tree / "qc")),
                 ("--cache", str(tree / "c.sqlite"))):
        res = run("scan", str(tree), *args)
        assert res.returncode == 2 and "lies inside scanned root" in res.stderr, args
    assert sorted(os.listdir(tree)) == ["a.png"]  # nothing was written


# --- names, errors, exit codes ----------------------------------------------------------------

def test_valid_non_ascii_names_are_shown_as_written(tmp_path: Path) -> None:
    tree = tmp_path / "d"
    name = "Szene_Übergang_ç_渋谷.png"
    ai_png(tree / name)
    res = run("scan", str(tree), "--no-cache", "--report", f"junit:{tmp_path / 'j.xml'}")
    assert name in res.stdout and "\\x" not in res.stdout
    assert name in (tmp_path / "j.xml").read_text(encoding="utf-8")
    assert name in run("explain", str(tree / name)).stdout


def test_user_mistakes_are_one_line_not_a_traceback(tmp_path: Path) -> None:
    tree = tmp_path / "d"
    clean_png(tree / "a.png")
    bad = tmp_path / "bad.sqlite"
    bad.write_text("this is not a database\n")
    cases = [("scan", str(tree), "-o", "/nonexistent/dir/report.json"),
             ("register", "add", str(tree), "--register", str(bad)),
             ("scan", str(tree), "--set", "metadata.deep=perhaps"),
             ("scan", str(tree), "--set", "nosuch.key=1")]
    for args in cases:
        res = run(*args)
        assert res.returncode == 2, (args, res.stderr)
        assert "Traceback" not in res.stderr, (args, res.stderr)
        assert len(res.stderr.strip().splitlines()) <= 3, (args, res.stderr)


def test_exit_codes_mean_what_the_readme_says(tmp_path: Path) -> None:
    bad_policy = tmp_path / "invalid.toml"
    bad_policy.write_text("fail_on = [\n")
    tree = tmp_path / "d"
    clean_png(tree / "a.png")
    res = run("approve", str(tree / "a.png"), "--policy", str(bad_policy), "--ref", "T",
              "--by", "B", "--reason", "R")
    assert res.returncode == 2 and "invalid.toml" in res.stderr  # was 1, "AI found"
    # a clean scan whose report reader stops early (| head) still exits 0
    for i in range(3000):
        (tree / f"notes_{i:04d}.txt").write_text("x\n")
    proc = subprocess.Popen([EXE, "scan", str(tree), "--no-cache"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    assert proc.stdout is not None
    proc.stdout.readline()
    proc.stdout.close()  # as `head -1` does
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err.decode()
    assert b"Traceback" not in err and b"BrokenPipe" not in err


def test_exit_zero_is_report_only_but_incomplete_stays_2(tmp_path: Path) -> None:
    tree = tmp_path / "d"
    ai_png(tree / "a.png")
    assert run("scan", str(tree), "--no-cache").returncode == 1
    assert run("scan", str(tree), "--no-cache", "--exit-zero").returncode == 0
    (tree / "cut.mov").write_bytes(b"")
    assert run("scan", str(tree), "--no-cache", "--exit-zero").returncode == 2


# --- detectors and what they read ----------------------------------------------------------------

def test_detectors_shows_per_format_coverage_and_what_needs_exiftool(tmp_path: Path) -> None:
    res = run("detectors", "--json")
    doc = json.loads(res.stdout)
    mxf = next(r for r in doc["formats"] if r["media_type"] == "application/mxf")
    assert mxf["detectors"]["metadata"]["state"] == "yes"
    # without ExifTool on PATH: the formats only ExifTool reads are said to be unreadable
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    os.symlink(sys.executable, bin_dir / "python3")
    env = {"PATH": f"{bin_dir}:{_no_exiftool(tmp_path)}"}
    res = run("detectors", env=env)
    assert "MXF (application/mxf)" in res.stdout
    assert "needs ExifTool, not found" in res.stdout
    assert "metadata" in res.stdout and "available" in res.stdout


def _no_exiftool(tmp_path: Path) -> str:
    """A directory with the system's programs but ExifTool."""
    d = tmp_path / "usrbin"
    d.mkdir()
    for name in os.listdir("/usr/bin"):
        if name != "exiftool":
            os.symlink(os.path.join("/usr/bin", name), d / name)
    return str(d)


# --- comfort -------------------------------------------------------------------------------------

def test_colour_on_request_and_never_with_no_color(tmp_path: Path) -> None:
    tree = tmp_path / "d"
    ai_png(tree / "a.png")
    assert "\033[" in run("scan", str(tree), "--no-cache", "--color").stdout
    assert "\033[" not in run("scan", str(tree), "--no-cache").stdout  # not a terminal
    assert "\033[" not in run("scan", str(tree), "--no-cache", "--no-color").stdout


def test_table_fits_the_terminal_without_cutting_tokens(tmp_path: Path) -> None:
    import io

    from detectors.model import Asset, Finding

    long_value = "masterpiece, " * 30
    f = Finding("metadata", "meta.a1111.parameters", "ai", "declared", "png:text:parameters",
                long_value, "AUTOMATIC1111 / Forge generation parameters in the PNG text")
    asset = Asset("/mnt/delivery/ep101/plates/shot_0100.png", 10, 0, "image", "image/png")
    r = AssetResult(asset, "ai", (f,), blocking=True)
    out = io.StringIO()
    w = TableWriter(out, width=60)
    w.add(r)
    w.finish(Report({}, "", "", ["/mnt/delivery"], Summary(files=1, verdicts={"ai": 1},
                                                          blocking_assets=1, exit_code=1), []))
    lines = out.getvalue().splitlines()
    assert all(len(ln) <= 60 or " " not in ln.strip() for ln in lines), lines
    assert "masterpiece," in out.getvalue()  # words whole, never split
    assert any("AI* / REVIEW*" in ln for ln in lines)  # the legend


def test_progress_line_says_percent_rate_eta_findings_and_the_file(tmp_path: Path) -> None:
    import io

    from detectors.model import Asset

    out = io.StringIO()
    p = Progress(out, [str(tmp_path)], (), False)
    p.total = 3800
    p.t0 -= 10
    p.done = 362
    p.tick(AssetResult(Asset(str(tmp_path / "ep1/a.mov"), 1, 0, "video"), "ai"))
    line = p.line("ep1/a.mov")
    assert line.startswith("363/3,800 files 10%") and "ETA" in line and "/s" in line
    assert "1 ai" in line and line.endswith("ep1/a.mov")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_ctrl_c_says_how_far_and_how_to_continue(tmp_path: Path, sig: signal.Signals) -> None:
    tree = tmp_path / "d"
    tree.mkdir()
    for i in range(5):
        (tree / f"f{i}.bin").write_bytes(b"plain")
    (tree / "z_slow.bin").write_bytes(b"SLEEP")  # the test plugin sleeps on it
    out = tmp_path / "run.jsonl"
    env = {**os.environ, "PYTHONPATH": str(PLUGIN_DIR)}

    def default_signals() -> None:
        # a shell without job control starts background jobs with SIGINT ignored, and Python
        # keeps that; a terminal user's Ctrl-C arrives with the default disposition
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)

    proc = subprocess.Popen([EXE, "scan", str(tree), "--no-cache", "--jobs", "1", "--no-stages",
                             "--format", "jsonl", "-o", str(out)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env, preexec_fn=default_signals)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if out.exists() and out.read_text().count('"type": "result"') >= 5:
            break
        time.sleep(0.1)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    text = err.decode()
    assert proc.returncode == 2, text
    assert "interrupted after 5" in text and "--resume" in text, text
    summary = json.loads(out.read_text().splitlines()[-1])
    assert summary["type"] == "summary" and summary["summary"]["interrupted"] is True


def test_paths_from_a_list_or_stdin_nul_separated_too(tmp_path: Path) -> None:
    a = ai_png(tmp_path / "one dir" / "new\nline.png")
    b = clean_png(tmp_path / "two" / "b.png")
    listing = tmp_path / "list.txt"
    listing.write_bytes(str(b).encode() + b"\n")
    res = run("scan", "--from-file", str(listing), "--no-cache", "--format", "json")
    assert [r["path"] for r in json.loads(res.stdout)["results"]] == [str(b)]
    nul = os.fsencode(str(a)) + b"\0" + os.fsencode(str(b)) + b"\0"
    res = run("scan", "--from-file", "-", "-0", "--no-cache", "--format", "json", stdin=nul)
    assert [r["path"] for r in json.loads(res.stdout)["results"]] == [str(a), str(b)]
    assert res.returncode == 1


def test_user_config_gives_defaults_flags_win_and_verbose_says_so(tmp_path: Path) -> None:
    conf = tmp_path / "xdg" / "deliverscan" / "config.toml"
    conf.parent.mkdir(parents=True)
    conf.write_text('[scan]\nexclude = ["*.tmp"]\njobs = 1\nfail_on = "review"\n')
    tree = tmp_path / "d"
    clean_png(tree / "a.png")
    (tree / "x.tmp").write_text("x")
    env = {"XDG_CONFIG_HOME": str(tmp_path / "xdg")}
    res = run("scan", str(tree), "--no-cache", "--verbose", "--format", "json", env=env)
    assert f"user config: {conf}" in res.stderr and "fail on ai, review" in res.stderr
    doc = json.loads(res.stdout)
    assert any(r["path"].endswith("x.tmp") and "excluded" in r.get("skip_reason", "")
               for r in doc["results"])
    res = run("scan", str(tree), "--no-cache", "--verbose", "--fail-on", "ai", env=env)
    assert "fail on ai\n" in res.stderr  # the flag wins
    conf.write_text("[scan]\nno_such_option = 1\n")
    res = run("scan", str(tree), env=env)
    assert res.returncode == 2 and "no_such_option" in res.stderr


def test_baseline_gates_a_legacy_archive_on_new_ai_only(tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    old = ai_png(archive / "2019" / "old_concept.png")
    clean_png(archive / "2019" / "photo.png")
    report = tmp_path / "reviewed.json"
    first = run("scan", str(archive), "--no-cache", "--format", "json", "-o", str(report))
    assert first.returncode == 1
    baseline = tmp_path / "baseline.json"
    made = run("baseline", "create", str(report), "-o", str(baseline))
    assert made.returncode == 0 and "1 finding(s) in 1 file(s)" in made.stderr
    res = run("scan", str(archive), "--no-cache", "--baseline", str(baseline), "--format", "json")
    assert res.returncode == 0, res.stdout
    doc = json.loads(res.stdout)
    (f,) = [f for r in doc["results"] for f in r["findings"]]
    assert f["approval"]["source"] == "baseline" and doc["summary"]["baselined_findings"] == 1
    assert "accepted by the baseline" in doc["headline"]["text"]
    shutil.move(old, archive / "renamed.png")  # a rename keeps the acceptance (by content)
    ai_png(archive / "2024" / "new_gen.png", (9, 9, 9))  # new AI fails the run
    res = run("scan", str(archive), "--no-cache", "--baseline", str(baseline), "--format", "json")
    assert res.returncode == 1
    blocking = [r["path"] for r in json.loads(res.stdout)["results"] if r["blocking"]]
    assert [Path(p).name for p in blocking] == ["new_gen.png"]


def test_explain_several_files_and_the_whole_manifest_store(tmp_path: Path) -> None:
    signed = FIXTURES / "c2pa" / "formats" / "ai_created.jpg"
    plain = clean_png(tmp_path / "plain.png")
    res = run("explain", str(signed), str(plain))
    assert res.returncode == 1
    assert str(signed) in res.stdout and str(plain) in res.stdout
    assert "manifest store with 1 manifest(s)" in res.stdout
    full = run("explain", str(signed), "--full").stdout
    assert "claim_generator_info" in full and "validation" in full
    doc = json.loads(run("explain", str(signed), str(plain), "--format", "json").stdout)
    assert isinstance(doc, list) and doc[0]["explain"]["c2pa"]["manifest_store"]["manifests"]


def test_a_few_named_files_run_in_process_under_a_watchdog(tmp_path: Path) -> None:
    """How an asset manager calls it (one file): no worker to start, yet never a hang."""
    slow = tmp_path / "z_slow.bin"
    slow.write_bytes(b"SLEEP")  # the test plugin sleeps on it
    temp = tmp_path / "temp"
    temp.mkdir()
    env = {**os.environ, "PYTHONPATH": str(PLUGIN_DIR), "TMPDIR": str(temp)}
    start = time.monotonic()
    res = subprocess.run([EXE, "scan", str(slow), "--no-cache", "--timeout", "1"],
                         capture_output=True, text=True, env=env, timeout=120)
    assert res.returncode == 2, res.stderr
    assert "took longer than 6 s (1 s per file): stopped" in res.stderr
    assert time.monotonic() - start < 100  # a hang guard (the plugin sleeps 600 s)
    # stopped at once, it still removed its run folder from the temp folder
    assert sorted(p.name for p in temp.iterdir()) == []
    fine = tmp_path / "ok" / "a.png"
    clean_png(fine)
    res = subprocess.run([EXE, "scan", str(fine), "--no-cache", "--verbose"],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert "workers: in this process" in res.stderr
    many = subprocess.run([EXE, "scan", str(fine.parent), "--no-cache", "--verbose"],
                          capture_output=True, text=True, timeout=120)
    assert "workers: " in many.stderr and "workers: in this process" not in many.stderr
