"""The HTML report as a person sees it: rendered by a real headless Chromium (Debian
``chromium``), offline. Screenshots (and the 2,000-file page itself) are kept under
test-artifacts/ for a human look.

The big test builds a realistic delivery at test time (2,000 small real PNG/JPEG files in
episode folders, with AI files, approved ones, review items, unreadable files, OS clutter,
non-ASCII names and a very long path), runs the real CLI on it, and drives Chromium over the
DevTools protocol (``--remote-debugging-pipe``): load time, a full-page screenshot, document
order and layout read from the live page, and the verdict filters clicked."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import re
import select
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image, PngImagePlugin

from scanner.cli import main
from scanner.reports import html as html_report
from scanner.reports.html_assets import NOT_DECODABLE

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
FIXTURES = ROOT / "fixtures"
CHROMIUM = shutil.which("chromium")

# Distinct saturated colours: one per flagged image, counted on the screenshot.
COLOURS = {"blocking.png": (255, 0, 255), "approved.png": (0, 255, 255)}
XMP_COMPOSITE = (  # IPTC digital source type "composite": the metadata detector says review
    '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-'
    'syntax-ns#"><rdf:Description rdf:about="" xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt'
    '/2008-02-29/" Iptc4xmpExt:DigitalSourceType="http://cv.iptc.org/newscodes/digitalsourcetype/'
    'composite"/></rdf:RDF></x:xmpmeta>')
A1111 = "Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1, Size: 512x512, Model: sd_xl_base_1.0"


def _png(path: Path, colour: tuple[int, int, int], text: str = "AI-MARK prompt",
         key: str = "parameters", size: tuple[int, int] = (320, 240)) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    info = PngImagePlugin.PngInfo()
    if key.startswith("XML:"):
        info.add_itxt(key, text)
    else:
        info.add_text(key, text)
    Image.new("RGB", size, colour).save(path, pnginfo=info)
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _count(shot: Image.Image, colour: tuple[int, int, int], tol: int = 24) -> int:
    px = np.asarray(shot.convert("RGB"), dtype=np.int16)
    return int((np.abs(px - np.array(colour, dtype=np.int16)) <= tol).all(axis=2).sum())


def _scan(*args: str) -> int:
    res = CliRunner().invoke(main, ["scan", "--jobs", "0", "--no-cache", *args])
    assert res.exception is None or isinstance(res.exception, SystemExit), res.output
    return res.exit_code


class Chromium:
    """Headless Chromium driven over the DevTools protocol on a pipe (fds 3 and 4 of the
    child, as ``--remote-debugging-pipe`` wants them): no port, no network, no extra package."""

    def __init__(self, tmp: Path, width: int = 1280, height: int = 900) -> None:
        assert CHROMIUM
        cmd_r, self.cmd_w = os.pipe()
        self.res_r, res_w = os.pipe()
        args = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--hide-scrollbars", "--remote-debugging-pipe",
                f"--user-data-dir={tmp / 'chromium-profile'}", f"--window-size={width},{height}",
                "about:blank"]
        self.proc = subprocess.Popen(
            ["bash", "-c", f'exec "$0" "$@" 3<&{cmd_r} 4>&{res_w}', *args],
            pass_fds=(cmd_r, res_w), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, env={**os.environ, "HOME": str(tmp)})
        os.close(cmd_r)
        os.close(res_w)
        self.width = width
        self.buf = b""
        self.next_id = 0
        self.events: list[dict[str, Any]] = []
        try:
            target = next(t for t in self.send("Target.getTargets")["targetInfos"]
                          if t["type"] == "page")
            self.session = self.send("Target.attachToTarget", targetId=target["targetId"],
                                     flatten=True)["sessionId"]
            self.page("Page.enable")
        except BaseException:
            self.close()
            raise

    def _read(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self.buf:
            left = deadline - time.monotonic()
            assert left > 0, "chromium did not answer in time"
            if select.select([self.res_r], [], [], left)[0]:
                chunk = os.read(self.res_r, 1 << 20)
                assert chunk, "chromium closed the pipe"
                self.buf += chunk
        msg, _, self.buf = self.buf.partition(b"\0")
        return json.loads(msg)

    def send(self, method: str, session: str | None = None, timeout: float = 30,
             **params: Any) -> dict[str, Any]:
        self.next_id += 1
        msg: dict[str, Any] = {"id": self.next_id, "method": method, "params": params}
        if session:
            msg["sessionId"] = session
        os.write(self.cmd_w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read(deadline)
            if reply.get("id") == self.next_id:
                assert "error" not in reply, reply
                return reply.get("result", {})
            self.events.append(reply)

    def page(self, method: str, **params: Any) -> dict[str, Any]:
        return self.send(method, self.session, **params)

    def wait_event(self, name: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not any(e.get("method") == name for e in self.events):
            self.events.append(self._read(deadline))
        self.events = [e for e in self.events if e.get("method") != name]

    def load(self, url: str, scripts: bool = True) -> float:
        """Open ``url``; seconds until the load event (layout included)."""
        self.page("Emulation.setScriptExecutionDisabled", value=not scripts)
        start = time.monotonic()
        self.page("Page.navigate", url=url)
        self.wait_event("Page.loadEventFired")
        self.js("document.body.getBoundingClientRect().height")  # force a full layout
        return time.monotonic() - start

    def js(self, expression: str) -> Any:
        """Evaluated in the page (by the protocol, so it works with page scripts off)."""
        res = self.page("Runtime.evaluate", expression=expression, returnByValue=True)
        assert "exceptionDetails" not in res, res
        return res["result"].get("value")

    def screenshot(self, path: Path) -> None:
        """The whole page, top to bottom, at the window's width."""
        height = int(self.page("Page.getLayoutMetrics")["cssContentSize"]["height"])
        self.page("Emulation.setDeviceMetricsOverride", width=self.width, height=height,
                  deviceScaleFactor=1, mobile=False)
        data = self.page("Page.captureScreenshot", format="png")["data"]
        path.write_bytes(base64.b64decode(data))
        self.page("Emulation.clearDeviceMetricsOverride")

    def close(self) -> None:
        try:
            self.send("Browser.close", timeout=10)
        except (AssertionError, OSError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self.cmd_w)
        os.close(self.res_r)


@pytest.fixture
def chromium(tmp_path: Path) -> Any:
    browser = Chromium(tmp_path)
    yield browser
    browser.close()


@pytest.mark.tool("chromium")
def test_html_report_renders_with_visible_thumbnails(tmp_path: Path, fake_plugin: Path,
                                                    chromium: Chromium) -> None:
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
    assert _scan(str(tree), "--policy", str(policy), "-o", str(tmp_path / "t.txt"),
                 "--report", f"html:{report}") == 1

    ARTIFACTS.mkdir(exist_ok=True)
    shot_path = ARTIFACTS / "html-report.png"
    shot_path.unlink(missing_ok=True)
    # Over the DevTools pipe, like the big test: the command line's --screenshot mode with a
    # virtual time budget hung for 120 s now and then on a fresh CI machine.
    chromium.load(report.as_uri())
    chromium.screenshot(shot_path)
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


# ---- a realistic delivery of 2,000 files ---------------------------------------------------

TOTAL = 2000
LONG_DIR = ("ep103/plates/VENDOR_DELIVERY_2026-01-05_FINAL/reel_02/sc_042_the_long_corridor/"
            "sh_0420/comp/v012")
LONG_NAME = "SHOW_ep103_sc042_sh0420_comp_roto_paint_cleanup_grade_v012_final_for_delivery.png"
# Flagged images: name -> colour (visible as a preview on the screenshot).
AI_FILES = {
    "ep101/vfx/comp/sky_replace_v003.png": (255, 0, 255),
    "ep102/vfx/comp/Szene_Übergang_ç.png": (0, 160, 255),
    f"{LONG_DIR}/{LONG_NAME}": (255, 140, 0),
    "ep101/plates/bg_plate_v001.png": (0, 255, 160),  # approved (VFX-2001), with its copy
    "ep104/plates/bg_plate_v001_copy.png": (0, 255, 160),
    "ep105/stills/keyart_teaser.png": (255, 230, 0),  # approved (ART-77)
}
APPROVED = {"VFX-2001": ["ep101/plates/bg_plate_v001.png", "ep104/plates/bg_plate_v001_copy.png"],
            "ART-77": ["ep105/stills/keyart_teaser.png"]}
REVIEW_FILES = {"ep103/vfx/roto/roto_cleanup_v002.png": (120, 0, 255)}
FIXTURE_COPIES = {  # real files whose real detectors flag them (C2PA HEIC/AVIF, IPTC review)
    "ep104/stills/phone_ref_ai.heic": "c2pa/formats/ai_created.heic",
    "ep104/stills/web_ref_ai.avif": "c2pa/formats/ai_created.avif",
    "ep102/stills/comp_poster.jpg": "meta/iptc_composite.jpg",
}
UNREADABLE = ("ep102/plates/truncated_plate.png", "ep105/audio/empty_take.mov")
CLUTTER = {"ep101/._clip.mov": "clutter/._clip.mov", "ep102/.DS_Store": "clutter/.DS_Store",
           "ep103/stills/Thumbs.db": "clutter/Thumbs.db"}
OTHER_SKIPS = ("ep101/notes/readme.txt", "ep102/vfx/render_cache.tmp", "ep105/link_plate.png")


def build_delivery(tree: Path) -> dict[str, str]:
    """The delivery; returns the approvals' sha256 by ref."""
    shas = {rel: _png(tree / rel, colour, A1111) for rel, colour in AI_FILES.items()}
    for rel, colour in REVIEW_FILES.items():
        _png(tree / rel, colour, XMP_COMPOSITE, key="XML:com.adobe.xmp")
    for rel in (*FIXTURE_COPIES, *CLUTTER, *UNREADABLE, *OTHER_SKIPS):
        (tree / rel).parent.mkdir(parents=True, exist_ok=True)
    for rel, src in {**FIXTURE_COPIES, **CLUTTER}.items():
        shutil.copyfile(FIXTURES / src, tree / rel)
    (tree / UNREADABLE[0]).write_bytes((FIXTURES / "meta" / "clean.png").read_bytes()[:100])
    (tree / UNREADABLE[1]).write_bytes(b"")
    (tree / OTHER_SKIPS[0]).write_text("delivery notes\n")
    (tree / OTHER_SKIPS[1]).write_bytes(b"cache")
    (tree / OTHER_SKIPS[2]).symlink_to(tree / "ep101/plates/bg_plate_v001.png")
    special = len(AI_FILES) + len(REVIEW_FILES) + len(FIXTURE_COPIES) + len(UNREADABLE) \
        + len(CLUTTER) + len(OTHER_SKIPS)
    folders = [f"ep{ep}/{sub}" for ep in range(101, 106)
               for sub in ("plates", "vfx/comp", "vfx/roto", "stills")]
    names = ("Grüße_aus_Köln", "café_crème", "shot")
    for i in range(TOTAL - special):
        folder = tree / folders[i % len(folders)]
        folder.mkdir(parents=True, exist_ok=True)
        colour = (40 + i % 200, 90 + i // 200 % 150, 170)
        stem = f"{names[i % 3] if i % 50 == 0 else 'sh'}{i:04d}_v001"
        if i % 2:
            Image.new("RGB", (24, 16), colour).save(folder / f"{stem}.png")
        else:
            Image.new("RGB", (24, 16), colour).save(folder / f"{stem}.jpg", quality=80)
    return {ref: shas[files[0]] for ref, files in APPROVED.items()}


def _section(page: str, start: str, end: str) -> str:
    return page[page.index(start):page.index(end)]


@pytest.mark.tool("chromium")
def test_html_report_of_a_2000_file_delivery(tmp_path: Path, chromium: Chromium) -> None:
    tree = tmp_path / "delivery"
    shas = build_delivery(tree)
    assert sum(1 for p in tree.rglob("*") if not p.is_dir()) == TOTAL
    policy = tmp_path / "policy.toml"
    policy.write_text("".join(textwrap.dedent(f"""\
        [[approvals]]
        sha256 = "{sha}"
        ref = "{ref}"
        by = "Ann Lee"
        reason = "{ref}: approved by the studio"
        date = 2026-01-05
        expires = 2099-01-01
        """) for ref, sha in shas.items()))
    ARTIFACTS.mkdir(exist_ok=True)
    html_path = ARTIFACTS / "html-report-2000.html"
    shot_path = ARTIFACTS / "html-report-2000.png"
    for p in (html_path, shot_path):
        p.unlink(missing_ok=True)
    doc_path = tmp_path / "report.json"
    code = _scan(str(tree), "--policy", str(policy), "--exclude", "*.tmp",
                 "-o", str(tmp_path / "table.txt"), "--report", f"html:{html_path}",
                 "--report", f"json:{doc_path}")
    assert code == 2  # unreadable files: incomplete outranks the blocking findings
    doc = json.loads(doc_path.read_text(encoding="utf-8"))
    assert doc["summary"]["files"] == TOTAL
    head = doc["headline"]

    page = html_path.read_text(encoding="utf-8")
    size = len(page.encode("utf-8"))
    assert size < 5_000_000, f"{size} bytes"
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", page)
    assert "url(" not in page and "@import" not in page

    # The banner: the same title and facts as every other format (and the table's verdict).
    banner = page[:page.index("<main>")]
    assert f"<h1>{head['title']}</h1>" in banner and head["status"] == "incomplete"
    assert head["facts"] and all(f"<li>{fact}</li>" in banner for fact in head["facts"])
    assert head["text"] in (tmp_path / "table.txt").read_text(encoding="utf-8")

    # Errors come before the flagged files, with the reason per file.
    errors = _section(page, "id=errors", "id=flagged")
    for rel in UNREADABLE:
        assert Path(rel).name in errors
    assert "empty file (0 bytes)" in errors

    # Every flagged file is in the flagged table (names unescaped), each approval once.
    flagged = _section(page, "id=flagged", "id=approvals")
    flagged_names = [Path(p).name for p in (*AI_FILES, *REVIEW_FILES, *FIXTURE_COPIES)]
    for name in flagged_names:
        assert name in flagged, name
    assert "Szene_Übergang_ç.png" in flagged and LONG_NAME in flagged
    approvals = _section(page, "id=approvals", "id=evidence")
    assert approvals.count("<tr class=it>") == len(APPROVED)
    for ref, files in APPROVED.items():
        assert approvals.count(f"<b>{ref}</b>") == 1, ref
        for rel in files:
            assert Path(rel).name in approvals

    # Every skipped path with its reason, clutter included; clean files grouped by folder.
    skipped = _section(page, "id=skipped", "id=clean")
    for rel in (*CLUTTER, *OTHER_SKIPS):
        assert Path(rel).name in skipped, rel
    assert "OS clutter" in skipped and "symlink" in skipped and "excluded" in skipped
    assert "Grüße_aus_Köln0000_v001.jpg" in page[page.index("id=clean"):]

    # Rendered: load time, layout, full-page screenshot.
    seconds = chromium.load(html_path.as_uri(), scripts=False)
    chromium.screenshot(shot_path)
    print(f"\nHTML {size / 1e6:.2f} MB, loaded and laid out in {seconds:.2f} s")
    assert seconds < 10
    layout = chromium.js("""(() => {
        const top = id => document.getElementById(id).getBoundingClientRect().top + scrollY;
        const rows = [...document.querySelectorAll('#flagged ~ table tbody')];
        return {banner: document.querySelector('header').innerText,
                bannerTop: document.querySelector('header').getBoundingClientRect().top,
                errors: top('errors'), flagged: top('flagged'), approvals: top('approvals'),
                page: document.documentElement.scrollWidth, win: innerWidth,
                rows: rows.length, blocking: rows.filter(r => r.matches('.r-blocking')).length,
                thumbs: [...document.images].filter(i => i.complete && i.naturalWidth).length,
                wide: [...document.querySelectorAll('td')].filter(
                    td => td.scrollWidth > td.clientWidth + 1).length};
    })()""")
    assert layout["bannerTop"] == 0 and layout["banner"].startswith(head["title"])
    assert all(fact in layout["banner"] for fact in head["facts"])
    assert layout["errors"] < layout["flagged"] < layout["approvals"]
    assert layout["page"] <= layout["win"], "the page scrolls sideways"
    assert layout["wide"] == 0, "a table cell overflows"
    assert layout["rows"] == len(flagged_names)
    assert layout["thumbs"] == len(flagged_names)  # HEIC and AVIF included
    assert layout["blocking"] == doc["summary"]["blocking_assets"]
    # Name first and whole; the path under it copies whole (the root shown as "…" included).
    long_cell = chromium.js(f"""(() => {{
        const f = [...document.querySelectorAll('#flagged ~ table .file')].find(
            e => e.querySelector('.fn').textContent === {json.dumps(LONG_NAME)});
        getSelection().selectAllChildren(f.querySelector('.dir'));
        return {{copied: getSelection().toString(),
                 root: f.querySelector('.root').getBoundingClientRect().width}};
    }})()""")
    assert long_cell["copied"] == str(tree / LONG_DIR / LONG_NAME)
    assert long_cell["root"] < 20  # just the "…"

    # The verdict filters are CSS: with scripts off, clicking a chip shows just that part.
    chromium.js("document.getElementById('s-blocking').click()")
    shown = chromium.js("""[...document.querySelectorAll('#flagged ~ table tbody')]
        .filter(r => r.offsetParent !== null).length""")
    assert shown == doc["summary"]["blocking_assets"]
    assert chromium.js("document.getElementById('errors').offsetParent") is None
    chromium.js("document.getElementById('s-error').click()")
    assert chromium.js("document.getElementById('errors').offsetParent") is not None
    assert chromium.js("document.getElementById('flagged').offsetParent") is None

    with Image.open(shot_path) as shot:
        shot.load()
        rgb = shot.convert("RGB")
        assert rgb.width == 1280
        top = rgb.crop((0, 0, rgb.width, 60))
        assert _count(top, (106, 27, 154)) > 0.5 * rgb.width * 60  # incomplete: purple
        for rel, colour in {**AI_FILES, **REVIEW_FILES}.items():
            assert _count(rgb, colour) >= 0.9 * 240 * 180, rel


@pytest.mark.parametrize("missing_heif", [False, True])
def test_heic_and_avif_previews(tmp_path: Path, missing_heif: bool,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    """AVIF through Pillow itself, HEIC through pillow-heif; without pillow-heif the HEIC
    preview says why it is missing, and the report is still written."""
    tree = tmp_path / "d"
    tree.mkdir()
    for name in ("ai_created.heic", "ai_created.avif"):
        shutil.copyfile(FIXTURES / "c2pa" / "formats" / name, tree / name)
    shutil.copyfile(FIXTURES / "meta" / "iptc_dst.avif", tree / "iptc_dst.avif")
    if missing_heif:
        monkeypatch.setitem(sys.modules, "pillow_heif", None)
    report = tmp_path / "r.html"
    assert _scan(str(tree), "-o", str(report), "--format", "html") == 1
    page = report.read_text(encoding="utf-8")
    previews = dict(re.findall(r'<img class=thumb src="data:image/jpeg;base64,([A-Za-z0-9+/=]+)" '
                               r'alt="preview of ([^"]+)"', page))
    names = {v: k for k, v in previews.items()}
    expected = {"ai_created.avif", "iptc_dst.avif"} | (set() if missing_heif
                                                         else {"ai_created.heic"})
    assert set(names) == expected
    for name, data in names.items():
        with Image.open(io.BytesIO(base64.b64decode(data))) as im:
            assert im.format == "JPEG" and max(im.size) >= 16, name
    if missing_heif:
        assert NOT_DECODABLE in page


@pytest.mark.tool("chromium")
def test_search_box_is_an_enhancement(tmp_path: Path, fake_plugin: Path, chromium: Chromium,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """With the inline script on, a search box filters every list; with scripts off there is
    no box, every row is shown and the page says to use Find."""
    monkeypatch.setattr(html_report, "INLINE_SCRIPT", True)
    tree = tmp_path / "d"
    _png(tree / "a" / "sky_ai.png", (255, 0, 0))
    _png(tree / "b" / "crowd_ai.png", (0, 0, 255))
    (tree / "b" / "notes.bin").write_bytes(b"REVIEW-MARK")
    for i in range(30):
        Image.new("RGB", (8, 8), (i, i, i)).save(tree / ("a" if i % 2 else "b") / f"clean_{i}.png")
    report = tmp_path / "r.html"
    assert _scan(str(tree), "-o", str(report), "--format", "html") == 1
    page = report.read_text(encoding="utf-8")
    assert page.count("<script>") == 1 and "src=" not in page.split("<script>")[1]

    visible = """[...document.querySelectorAll('.it')].filter(e => !e.closest('.nomatch')
        && !e.classList.contains('nomatch')).length"""
    chromium.load(report.as_uri(), scripts=False)
    assert chromium.js("document.querySelector('#find input')") is None
    assert "Ctrl+F" in chromium.js("document.getElementById('find').textContent")
    everything = chromium.js(visible)
    assert chromium.js("[...document.querySelectorAll('#flagged ~ table tbody')]"
                       ".filter(r => r.offsetParent !== null).length") == 3

    chromium.load(report.as_uri(), scripts=True)
    assert chromium.js(visible) == everything
    chromium.js("""(() => {const q = document.querySelector('#find input');
        q.value = 'CROWD'; q.dispatchEvent(new Event('input'));})()""")
    # The flagged row and its evidence match; nothing else does.
    assert chromium.js(visible) == 2
    assert chromium.js("[...document.querySelectorAll('#flagged ~ table tbody')]"
                       ".filter(r => r.offsetParent !== null).map(r => r.textContent)"
                       ".join()").count("crowd_ai.png") >= 1
    chromium.js("""(() => {const q = document.querySelector('#find input');
        q.value = 'clean_1'; q.dispatchEvent(new Event('input'));})()""")
    # Clean files clean_1, clean_10..clean_19 match; their folder groups open.
    assert chromium.js(visible) == 11
    assert chromium.js("[...document.querySelectorAll('details.grp')].filter(d => d.open)"
                       ".length") >= 1


@pytest.mark.parametrize("name", ["c2pa/formats/ai_created.heic", "c2pa/formats/ai_created.avif",
                                  "meta/a1111_parameters.png"])
def test_preview_pixel_cap(tmp_path: Path, name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Images over the pixel cap are not decoded, and the page says why."""
    from detectors.model import Asset, AssetResult
    from scanner.reports import html_assets

    path = tmp_path / Path(name).name
    shutil.copyfile(FIXTURES / name, path)
    result = AssetResult(Asset(str(path), path.stat().st_size, 0, "image"), "ai")
    assert html_assets.thumbnail(result)[0] is not None
    monkeypatch.setattr(html_assets, "THUMB_MAX_PIXELS", 100)
    assert html_assets.thumbnail(result) == (None, "no preview: over 100 pixels")
