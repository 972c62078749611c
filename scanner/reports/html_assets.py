"""What the HTML report embeds, kept apart from the markup code: its inline style, its
(optional) script, and the previews of flagged files (``data:`` URIs).

Filtering by verdict needs no script: the "Show" chips are radio buttons, and ``:has()`` rules
hide the sections and rows that do not match. A browser without ``:has()`` shows every row
and hides the chips. The search box is the one thing that needs a script; the script adds the
box itself, so with scripts off nothing inert is shown (the page says to use Find instead).
"""

from __future__ import annotations

import base64
import io
import os
import stat
from typing import Any

from detectors.api import open_readonly
from detectors.model import AssetResult

THUMB_SIZE = 240  # longest side, pixels
THUMB_MAX_FILE = 512 * 1024 * 1024  # files larger than this get no preview
THUMB_MAX_PIXELS = 100_000_000  # refuse decompression bombs
NOT_DECODABLE = "no preview: format not decodable here"

# Filter name -> the label on its chip. Sections carry ``sec f-NAME`` for every filter they
# show under, rows ``row r-NAME``: a filter hides every section and row without its class.
FILTERS = {"blocking": "Blocking", "ai": "AI", "review": "Review", "error": "Not checked",
           "skipped": "Not scanned", "clean": "Clean"}

_FILTER_CSS = "".join(
    f"body:has(#s-{k}:checked) .sec:not(.f-{k}),body:has(#s-{k}:checked) .row:not(.r-{k})"
    "{display:none}" for k in FILTERS)

CSS = """
:root{--ai:#b3261e;--review:#a05a00;--ok:#1e7b34;--err:#6a1b9a;--mut:#5f6368;--line:#dadce0;
--soft:#f6f7f8}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;
color:#202124;background:#fff}
main{padding:0 24px 40px}
.banner{padding:18px 24px 16px;color:#fff}
.banner h1{margin:0;font-size:32px;letter-spacing:.02em;line-height:1.15}
.banner ul{margin:8px 0 0;padding:0 0 0 20px;font-size:17px;font-weight:500}
.banner p{margin:8px 0 0;opacity:.92;overflow-wrap:anywhere}
.fail{background:var(--ai)}.pass{background:var(--ok)}.incomplete{background:var(--err)}
.bar{position:sticky;top:0;z-index:2;background:#fff;border-bottom:1px solid var(--line);
padding:10px 0;display:flex;flex-wrap:wrap;gap:6px 8px;align-items:center}
.chips{display:flex;flex-wrap:wrap;gap:6px}
.bar input[type=radio]{position:absolute;opacity:0;width:1px;height:1px}
.bar label{border:1px solid var(--line);border-radius:16px;padding:3px 12px;cursor:pointer;
user-select:none;white-space:nowrap;background:#fff}
.bar label b{margin-left:4px}
.bar input:checked+label{background:#202124;border-color:#202124;color:#fff}
.bar input:focus-visible+label{outline:2px solid #1a73e8;outline-offset:1px}
.bar .zero{color:var(--mut)}
.hint{color:var(--mut);font-size:12.5px;margin-left:auto}
#find input{font:inherit;padding:4px 10px;border:1px solid #9aa0a6;border-radius:16px;width:300px}
@supports not selector(:has(a)){.bar .chips{display:none}}
h2{margin:26px 0 8px;font-size:19px;border-bottom:2px solid var(--line);padding-bottom:4px}
h3{margin:18px 0 6px;font-size:15px}
.lead{margin:4px 0 10px;color:#3c4043}
table{border-collapse:collapse;width:100%}
th,td{border-bottom:1px solid var(--line);padding:7px 8px;text-align:left;vertical-align:top}
th{background:#f1f3f4;font-weight:600;font-size:13px}
.tbl{table-layout:fixed}
.tbl td,.tbl th{overflow-wrap:break-word}
tbody.row.r-blocking>tr>td:first-child{box-shadow:inset 4px 0 0 var(--ai)}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;color:#fff;font-weight:700;
font-size:12px;white-space:nowrap;margin:0 4px 4px 0}
.b-ai{background:var(--ai)}.b-review{background:var(--review)}.b-error{background:var(--err)}
.b-clean{background:var(--ok)}.b-skipped{background:var(--mut)}.b-approved{background:var(--ok)}
.b-block{background:#202124}
.thumb{display:block;max-width:240px;max-height:240px;border:1px solid var(--line)}
.nothumb{color:var(--mut);font-size:12px}
.file .fn{display:block;font-weight:700;overflow-wrap:anywhere}
.file .dir{display:block;color:var(--mut);font:12px/1.4 ui-monospace,Menlo,Consolas,monospace;
overflow-wrap:break-word;user-select:all}
.file .dir:hover{color:#202124;background:var(--soft)}
.root{font-size:0}.root::before{content:"…";font-size:12px}
.dir:hover .root{font-size:inherit}.dir:hover .root::before{content:none}
.nowrap{white-space:nowrap}
table.narrow{width:auto;min-width:50%}
.copy{user-select:all;overflow-wrap:anywhere}
.msg{margin:0 0 2px;font-weight:500}
.tech{margin:0;color:var(--mut);font-size:12.5px;overflow-wrap:anywhere}
.fd{padding:2px 0 6px;margin:0 0 4px;border-bottom:1px dashed var(--line)}
.fd:last-of-type{border-bottom:0}
.tag{font-size:12px;font-weight:700;color:var(--ok);white-space:nowrap}
code,pre{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12.5px}
code{overflow-wrap:anywhere}
pre{background:#f8f9fa;border:1px solid var(--line);padding:8px;overflow-x:auto;
white-space:pre-wrap;overflow-wrap:anywhere}
details{border:1px solid var(--line);border-radius:6px;margin:6px 0;padding:0 10px}
summary{cursor:pointer;padding:7px 0;font-weight:600;overflow-wrap:anywhere}
.mut{color:var(--mut)}
.seq{margin-top:4px;font-size:13px;color:#3c4043}
.pairs{display:flex;gap:8px}.pair{margin:0}.pair img{max-width:160px;border:1px solid #ccc}
a{color:#1a56c4}
ul.tree{margin:2px 0 2px 18px;padding:0}ul.tree li{list-style:square}
ul.files{margin:0 0 8px;padding:0;list-style:none;columns:340px auto;column-gap:24px}
ul.files li{break-inside:avoid;padding:3px 0;border-bottom:1px solid #f1f3f4}
.finding{border-left:4px solid var(--ai);padding:4px 10px;margin:8px 0;background:#fcf8f8}
.finding.review{border-color:var(--review);background:#fdf9f3}
.finding.approved{border-color:var(--ok);background:#f5faf6}
dl{display:grid;grid-template-columns:max-content minmax(0,1fr);gap:2px 12px;margin:4px 0}
dt{color:var(--mut)}dd{margin:0;overflow-wrap:anywhere}
.num{text-align:right;font-variant-numeric:tabular-nums}
td.hot{color:var(--ai);font-weight:700}
.none{color:var(--ok);font-weight:600}
.nomatch{display:none!important}
footer{margin-top:30px}
@media (max-width:800px){main{padding:0 10px 30px}.bar{position:static}
table.narrow{display:block;overflow-x:auto}.tbl thead{display:none}
.tbl,.tbl tbody,.tbl tr,.tbl td{display:block;width:auto}.tbl td{border:0;padding:3px 8px}
.tbl tr{border-bottom:1px solid var(--line);padding:6px 0}.hint{margin-left:0}}
@media print{.bar{display:none}details{border:0}}
""" + _FILTER_CSS

# Progressive enhancement: replaces the "use Find" hint with a search box over every listed
# file (flagged rows, evidence, errors, approvals, skipped and clean lists: paths and rules).
SEARCH_JS = """
(function(){var box=document.getElementById('find');if(!box)return;
var q=document.createElement('input');q.type='search';q.placeholder='Search paths and rules';
q.setAttribute('aria-label','Search paths and rules');box.replaceChildren(q);
var items=[].slice.call(document.querySelectorAll('.it')).map(function(el){
return [el,el.textContent.toLowerCase()];});
var groups=[].slice.call(document.querySelectorAll('details.grp'));
q.addEventListener('input',function(){var t=q.value.trim().toLowerCase();
items.forEach(function(p){p[0].classList.toggle('nomatch',!!t&&p[1].indexOf(t)<0);});
groups.forEach(function(d){var hit=d.querySelector('.it:not(.nomatch)');
d.classList.toggle('nomatch',!!t&&!hit);if(t&&hit)d.open=true;});});})();
"""


class TooManyPixels(Exception):
    """An image over THUMB_MAX_PIXELS: not decoded (a decompression bomb, or just huge)."""


def _open_image(fh: Any) -> Any:
    """A Pillow image for ``fh``: Pillow's own decoders (AVIF too, since Pillow 11.2),
    then pillow-heif for HEIC/HEIF (used directly, never registered: the detectors' view of
    Pillow must not change mid-scan). None when nothing here decodes the format."""
    from PIL import Image, UnidentifiedImageError

    try:
        return Image.open(fh)
    except UnidentifiedImageError:
        pass
    try:
        import pillow_heif
    except ImportError:
        return None
    fh.seek(0)
    if not pillow_heif.is_supported(fh):
        return None
    heif = pillow_heif.open_heif(fh, convert_hdr_to_8bit=True)
    if heif.size[0] * heif.size[1] > THUMB_MAX_PIXELS:
        raise TooManyPixels
    return heif.to_pillow()


def _thumb_image(path: str) -> bytes | None:
    from PIL import Image

    with open_readonly(path) as fh:
        opened = _open_image(fh)
        if opened is None:
            return None
        with opened:
            im: Image.Image = opened
            if im.width * im.height > THUMB_MAX_PIXELS:
                raise TooManyPixels
            im.draft("RGB", (THUMB_SIZE * 2, THUMB_SIZE * 2))
            im.seek(0)
            if im.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
                im = im.convert("F").point(lambda v: v / 256).convert("L")
            im = im.convert("RGB")
            im.thumbnail((THUMB_SIZE, THUMB_SIZE))
            buf = io.BytesIO()
            im.save(buf, "JPEG", quality=80)
            return buf.getvalue()


def _thumb_video(path: str) -> bytes | None:
    """A frame a tenth of the way in (past fades from black), else the first frame."""
    import cv2

    cap = cv2.VideoCapture(path)
    try:
        if not cap.isOpened():
            return None
        frames = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        if frames > 10:
            cap.set(cv2.CAP_PROP_POS_FRAMES, frames // 10)
        ok, frame = cap.read()
        if not ok:
            cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, frame = cap.read()
        if not ok or frame is None:
            return None
        h, w = frame.shape[:2]
        scale = THUMB_SIZE / max(h, w)
        if scale < 1:
            frame = cv2.resize(frame, (max(1, int(w * scale)), max(1, int(h * scale))),
                               interpolation=cv2.INTER_AREA)
        ok, buf = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 80])
        return bytes(buf) if ok else None
    finally:
        cap.release()


def thumbnail(result: AssetResult) -> tuple[str | None, str]:
    """(data URI, note) for a flagged image or video; bounded and never fatal."""
    asset = result.asset
    if asset.kind not in ("image", "video"):
        return None, ""
    if asset.size > THUMB_MAX_FILE:
        return None, "no preview: file too large"
    try:
        st = os.stat(asset.path, follow_symlinks=False)
        if not stat.S_ISREG(st.st_mode):
            return None, "no preview: not a regular file"
        data = _thumb_image(asset.path) if asset.kind == "image" else _thumb_video(asset.path)
    except TooManyPixels:
        return None, f"no preview: over {THUMB_MAX_PIXELS:,} pixels"
    except Exception as exc:  # noqa: BLE001 - a preview must never break the report
        return None, f"no preview: {type(exc).__name__}"
    if not data:
        return None, NOT_DECODABLE
    return "data:image/jpeg;base64," + base64.b64encode(data).decode("ascii"), ""
