"""Generator sidecars: a ComfyUI graph or an A1111 infotext saved in a JSON/text file beside a
frame that carries none. The sidecar itself is scanned and flagged (never "skipped: not a media
file"), the frame beside it gets the same finding naming the sidecar, ordinary JSON and text
stay unflagged, and reading is bounded (a 2 GB JSON is not loaded, deep nesting does not
recurse) without ever letting a real graph pass: what cannot be judged is an error.

Real bytes throughout: the committed fixtures (``fixtures/gen_sidecars.py`` writes them as the
tools do) and files built here the same way.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from helpers import scan_with

import scanner
from detectors import api
from detectors.api import open_readonly
from detectors.formats import gen_sidecar
from detectors.formats.sniff import sniff
from detectors.metadata import MetadataDetector, generator_sidecars, read_generator_sidecar
from detectors.model import Asset, AssetResult
from fixtures.gen_sidecars import A1111, PROMPT, WORKFLOW
from tests.conftest import FIXTURES

SIDECARS = FIXTURES / "sidecars"
EXE = str(Path(sys.executable).parent / "deliverscan")


def scan_one(path: Path | str, **options: Any) -> AssetResult:
    return scan_with(MetadataDetector(), path, **options)


def rules_of(result: AssetResult) -> set[str]:
    return {f.rule for f in result.findings}


def notes_of(result: AssetResult) -> tuple[str, ...]:
    return next(c for c in result.coverage if c.detector == "metadata").notes


# --- the sidecar files themselves -----------------------------------------------------------

@pytest.mark.parametrize(("name", "rule", "key"), [
    ("exr_api/shot_v001.1001_api.json", "meta.comfyui.prompt", "sidecar:comfyui:prompt"),
    ("exr_api/shot_v001.1001_ui.json", "meta.comfyui.workflow", "sidecar:comfyui:workflow"),
    ("saver_json/lighthouse_00001.json", "meta.comfyui.workflow", "sidecar:comfyui:workflow"),
    ("sidecar_only/workflow_api.json", "meta.comfyui.prompt", "sidecar:comfyui:prompt"),
    ("sidecar_only/workflow.json", "meta.comfyui.workflow", "sidecar:comfyui:workflow"),
    ("a1111_txt/00012-1234567890.txt", "meta.a1111.parameters", "sidecar:a1111:parameters"),
])
def test_generator_sidecar_is_flagged_on_itself(name: str, rule: str, key: str) -> None:
    result = scan_one(SIDECARS / name)
    assert result.asset.kind == "other"
    assert result.verdict == "ai", (result.verdict, result.errors, notes_of(result))
    (finding,) = result.findings
    assert (finding.rule, finding.location, finding.tier) == (rule, key, "declared")
    assert "[sha256:" in finding.value  # a prompt/workflow: excerpt + hash, not the whole text
    assert finding.evidence["found_in"].startswith(("JSON ", "text "))


def test_sniffing_names_json_and_keeps_ini_and_subtitles_text() -> None:
    assert sniff((SIDECARS / "exr_api/shot_v001.1001_api.json").read_bytes()[:4096]) == (
        "other", "application/json")
    assert sniff(b"\xef\xbb\xbf\n [ {\"3\": 1} ]") == ("other", "application/json")
    for text in (b"[Script Info]\nTitle: reel 3\n", b"[network]\nhost = a\n", b"{ hello }"):
        assert sniff(text) == ("other", "text/plain"), text


# --- attribution to the asset beside it -----------------------------------------------------

def test_exr_frame_beside_comfyui_json_gets_both_findings() -> None:
    first = scan_one(SIDECARS / "exr_api" / "shot_v001.1001.exr")
    assert first.verdict == "ai"
    assert {(f.rule, f.location) for f in first.findings} == {
        ("meta.comfyui.prompt", "sidecar shot_v001.1001_api.json: sidecar:comfyui:prompt"),
        ("meta.comfyui.workflow", "sidecar shot_v001.1001_ui.json: sidecar:comfyui:workflow")}
    assert {"sidecar shot_v001.1001_api.json read",
            "sidecar shot_v001.1001_ui.json read"} <= set(notes_of(first))
    # HQ-Image-Save writes the graph beside the first frame only; the others have no sidecar
    second = scan_one(SIDECARS / "exr_api" / "shot_v001.1002.exr")
    assert second.findings == ()


@pytest.mark.parametrize(("frame", "rule", "sidecar"), [
    ("saver_json/lighthouse_00001.tif", "meta.comfyui.workflow", "lighthouse_00001.json"),
    ("a1111_txt/00012-1234567890.png", "meta.a1111.parameters", "00012-1234567890.txt"),
])
def test_frame_beside_a_sidecar_names_it(frame: str, rule: str, sidecar: str) -> None:
    result = scan_one(SIDECARS / frame)
    assert result.verdict == "ai" and not result.errors
    (finding,) = result.findings
    assert finding.rule == rule
    assert finding.location.startswith(f"sidecar {sidecar}: sidecar:")
    assert finding.evidence["found_in"].startswith(f"sidecar {sidecar}")


def test_upper_case_sidecar_name_is_found(tmp_path: Path) -> None:
    shutil.copy(SIDECARS / "saver_json" / "lighthouse_00001.tif", tmp_path / "PLATE_0001.tif")
    shutil.copy(SIDECARS / "saver_json" / "lighthouse_00001.json", tmp_path / "PLATE_0001.JSON")
    result = scan_one(tmp_path / "PLATE_0001.tif")
    assert [f.location.split(":")[0] for f in result.findings] == ["sidecar PLATE_0001.JSON"]


def test_ordinary_json_beside_a_frame_leaves_it_clean() -> None:
    result = scan_one(SIDECARS / "controls" / "plate_0001.tif")
    assert result.verdict == "clean" and result.findings == () and not result.errors
    assert "sidecar plate_0001.json: not a generator graph or infotext" in notes_of(result)


def test_broken_json_beside_a_frame_is_not_a_sidecar_nor_an_error(tmp_path: Path) -> None:
    shutil.copy(SIDECARS / "controls" / "plate_0001.tif", tmp_path / "shot.tif")
    shutil.copy(SIDECARS / "controls" / "broken.json", tmp_path / "shot.json")
    result = scan_one(tmp_path / "shot.tif")
    assert (result.verdict, result.findings, result.errors) == ("clean", (), ())


# --- clean controls -------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["render_settings.json", "README.txt", "LH_101_R3.edl",
                                  "plate_0001.json", "grade_notes.txt", "node_graph.json",
                                  "broken.json"])
def test_ordinary_json_and_text_are_not_flagged(name: str) -> None:
    result = scan_one(SIDECARS / "controls" / name)
    assert result.findings == () and not result.errors
    assert result.verdict == "skipped"  # as before: not media, and no generator sidecar
    assert any("not a generator sidecar" in n for n in notes_of(result)), notes_of(result)


# --- whole deliveries -----------------------------------------------------------------------

def test_sidecar_only_delivery_fails_the_scan(tmp_path: Path) -> None:
    """A delivery holding only the graph files once passed ("skipped: not a media file",
    "nothing checked"); now each is flagged and the run exits 1."""
    tree = tmp_path / "delivery"
    shutil.copytree(SIDECARS / "sidecar_only", tree)
    report = scanner.scan([str(tree)])
    assert report.summary.exit_code == 1
    assert report.summary.empty_roots == []
    verdicts = {Path(r.asset.path).name: r.verdict for r in report.results}
    assert verdicts == {"workflow.json": "ai", "workflow_api.json": "ai"}
    res = subprocess.run([EXE, "scan", str(tree), "--no-cache", "--format", "json"],
                         capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert res.returncode == 1, res.stderr
    doc = json.loads(res.stdout)
    assert {f["rule"] for r in doc["results"] for f in r["findings"]} == {
        "meta.comfyui.prompt", "meta.comfyui.workflow"}


def test_delivery_of_exr_frames_with_the_graph_beside_them(tmp_path: Path) -> None:
    tree = tmp_path / "delivery"
    shutil.copytree(SIDECARS / "exr_api", tree / "comp")
    shutil.copytree(SIDECARS / "controls", tree / "docs")
    report = scanner.scan([str(tree)])
    assert report.summary.exit_code == 1
    flagged = sorted(Path(r.asset.path).name for r in report.results if r.verdict == "ai")
    assert flagged == ["shot_v001.1001.exr", "shot_v001.1001_api.json",
                       "shot_v001.1001_ui.json"]
    docs = [r for r in report.results if "/docs/" in r.asset.path]
    assert docs and all(r.verdict in ("skipped", "clean") for r in docs), [
        (r.asset.path, r.verdict) for r in docs]


def test_graph_renamed_as_media_is_flagged_and_an_error(tmp_path: Path) -> None:
    path = tmp_path / "shot_v001.1001.exr"
    shutil.copy(SIDECARS / "exr_api" / "shot_v001.1001_api.json", path)
    result = scan_one(path)
    assert rules_of(result) == {"meta.comfyui.prompt"} and result.verdict == "ai"
    assert any("not the media its .exr name promises" in e.message for e in result.errors)


# --- forms the tools write ------------------------------------------------------------------

def test_concatenated_documents_and_wrappers_and_json_strings(tmp_path: Path) -> None:
    """HQ-Image-Save writes one JSON per extra_pnginfo key back to back into _ui.json; other
    savers wrap both graphs ({"prompt": ..., "workflow": ...}) or store them as JSON strings."""
    cases = {
        "concat.json": json.dumps({"note": "x"}, indent=2) + json.dumps(WORKFLOW, indent=2),
        "wrapped.json": json.dumps({"prompt": PROMPT, "workflow": WORKFLOW}),
        "strings.json": json.dumps({"prompt": json.dumps(PROMPT), "extra": {"n": 1}}),
        "listed.json": json.dumps([{"job": 1, "graph": {"prompt": PROMPT}}]),
        "bom.json": "\ufeff" + json.dumps(PROMPT, indent=2),
    }
    expect = {"concat.json": {"meta.comfyui.workflow"},
              "wrapped.json": {"meta.comfyui.prompt", "meta.comfyui.workflow"},
              "strings.json": {"meta.comfyui.prompt"}, "listed.json": {"meta.comfyui.prompt"},
              "bom.json": {"meta.comfyui.prompt"}}
    for name, text in cases.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
        result = scan_one(tmp_path / name)
        assert rules_of(result) == expect[name], (name, result.errors, notes_of(result))
    wrapped = scan_one(tmp_path / "wrapped.json")
    assert sorted(f.evidence["found_in"].rsplit(" at ", 1)[1] for f in wrapped.findings) == [
        "$.prompt", "$.workflow"]


def test_a1111_txt_is_the_infotext_plus_newline_and_matches_the_png_chunk() -> None:
    raw = (SIDECARS / "a1111_txt" / "00012-1234567890.txt").read_bytes()
    assert raw == (A1111 + "\n").encode("utf8")
    path = SIDECARS / "a1111_txt" / "00012-1234567890.txt"
    res = read_generator_sidecar(functools.partial(open_readonly, str(path)), len(raw), b"",
                                 "text x")
    (field,) = res.fields
    assert (field.key, field.value) == ("sidecar:a1111:parameters", A1111)


# --- bounds and fail-closed -----------------------------------------------------------------

def _sparse(path: Path, head: bytes, size: int) -> None:
    with open(path, "wb") as fh:
        fh.write(head)
        fh.truncate(size)


def test_a_2_gb_json_is_not_loaded(tmp_path: Path) -> None:
    path = tmp_path / "cache_dump.json"
    _sparse(path, b'{"frames": [' + b"1001, " * 1000, 2 * 1024 ** 3)
    t0 = time.perf_counter()
    with open(path, "rb") as fh:
        head = fh.read(4096)  # the pipeline's head; the reader continues after it
    res = read_generator_sidecar(functools.partial(open_readonly, str(path)),
                                 path.stat().st_size, head, "JSON cache_dump.json")
    assert res.facts["bytes_read"] == gen_sidecar.MAX_BYTES  # 16 MiB of 2 GiB
    # what was not read could hold a graph: incomplete, never "not a sidecar"
    assert res.fields == [] and any("could not be checked in full" in p for p in res.problems)
    result = scan_one(path)
    assert result.verdict == "error" and any("over the" in e.message for e in result.errors)
    assert time.perf_counter() - t0 < 30


def test_a_huge_json_with_graph_keys_is_an_error_not_a_pass(tmp_path: Path) -> None:
    path = tmp_path / "workflow_api.json"
    _sparse(path, json.dumps(PROMPT, indent=2)[:-2].encode() + b', "pad": "', 64 * 1024 ** 2)
    result = scan_one(path)
    assert result.verdict == "error" and result.findings == ()
    assert any("over the 16777216-byte sidecar limit" in e.message for e in result.errors)


def test_deep_nesting_is_bounded_and_never_hides_a_graph(tmp_path: Path) -> None:
    plain = tmp_path / "deep.json"
    plain.write_text("[" * 200_000 + "]" * 200_000)
    assert scan_one(plain).verdict == "skipped"  # no RecursionError, no graph keys: not one
    padded = tmp_path / "padded_api.json"
    padded.write_text(json.dumps(PROMPT)[:-1] + ', "pad": ' + "[" * 200_000 + "]" * 200_000
                      + "}")
    result = scan_one(padded)
    assert result.verdict == "error" and any("nested too deeply" in e.message
                                             for e in result.errors)
    # deeper than the walk goes but parseable: a graph down there is not silently missed
    doc: Any = PROMPT
    for _ in range(gen_sidecar.MAX_DEPTH + 5):
        doc = {"wrap": doc}
    buried = tmp_path / "buried.json"
    buried.write_text(json.dumps(doc))
    result = scan_one(buried)
    assert result.verdict == "error" and any("graph keys beyond" in e.message
                                             for e in result.errors)


def test_truncated_graph_is_an_error_on_itself_and_on_its_frame(tmp_path: Path) -> None:
    text = json.dumps(PROMPT, indent=2)
    (tmp_path / "shot.1001_api.json").write_text(text[: len(text) // 2])
    shutil.copy(SIDECARS / "exr_api" / "shot_v001.1001.exr", tmp_path / "shot.1001.exr")
    own = scan_one(tmp_path / "shot.1001_api.json")
    assert own.verdict == "error" and any("not valid JSON" in e.message for e in own.errors)
    frame = scan_one(tmp_path / "shot.1001.exr")
    assert frame.verdict == "error"
    assert any("sidecar shot.1001_api.json" in e.message for e in frame.errors)


def test_recognised_graph_that_no_rule_judges_is_an_error(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail closed if the rule pack stops covering sidecar keys: the reader recognised a
    graph, so "no finding" must not become "clean"."""
    import detectors.rules as rules_mod
    from detectors.rules import load_pack

    files = [(name, text.replace('"sidecar:comfyui:prompt"', '"sidecar:none"'))
             for name, text in rules_mod._files()]
    monkeypatch.setattr(rules_mod, "_files", lambda: files)
    load_pack.cache_clear()
    try:
        result = scan_one(SIDECARS / "sidecar_only" / "workflow_api.json")
    finally:
        monkeypatch.undo()
        load_pack.cache_clear()
    assert result.verdict == "error" and result.findings == ()
    assert any("no rule judged" in e.message for e in result.errors)


# --- cost of the lookup ---------------------------------------------------------------------

def test_sidecar_lookup_lists_each_directory_once(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """1,000 frames in one folder: the sidecar names (xmp, json, _api.json, _ui.json, txt) are
    answered from one cached listing, not a listing (or a stat per name) per frame."""
    folder = tmp_path / "seq"
    folder.mkdir()
    src = (SIDECARS / "exr_api" / "shot_v001.1002.exr").read_bytes()
    for i in range(1000):
        (folder / f"shot.{1001 + i:04d}.exr").write_bytes(src)
    shutil.copy(SIDECARS / "exr_api" / "shot_v001.1001_api.json", folder / "shot.1001_api.json")
    listings: list[str] = []
    real = os.listdir

    def counting(path: Any = ".") -> list[str]:
        listings.append(os.fspath(path))
        return real(path)

    monkeypatch.setattr(os, "listdir", counting)
    shared = api.Shared(api.Options())
    t0 = time.perf_counter()
    found = 0
    for i in range(1000):
        frame = folder / f"shot.{1001 + i:04d}.exr"
        asset = Asset(str(frame), len(src), 0, "image")
        found += len(generator_sidecars(asset, api.AssetContext(asset, shared)))
    per_file = (time.perf_counter() - t0) / 1000
    assert found == 1
    assert listings.count(str(folder)) == 1, listings[:5]
    assert per_file < 0.001, per_file  # measured: ~10-20 us per frame
