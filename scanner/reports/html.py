"""HTML: one self-contained page a producer can open from an email attachment.

No scripts, no external fonts, images or URLs: inline CSS, thumbnails as ``data:`` URIs,
``<details>`` for the expandable evidence. Order follows what a delivery desk asks first: the
verdict, the counts, the flagged assets with their strongest evidence and a preview, the
approvals, the full evidence per asset, then what could not be checked and why.

Previews are the one place a report reads essence: an explicit, bounded read of flagged files
only (size cap, pixel cap, a fixed number of previews), never of clean ones.
"""

from __future__ import annotations

import base64
import html
import io
import os
import stat
from typing import Any, TextIO

from detectors.api import open_readonly
from detectors.model import (
    AI,
    ERROR,
    FAILED,
    NOT_APPLICABLE,
    REVIEW,
    SKIPPED,
    UNAVAILABLE,
    Approval,
    AssetResult,
    Finding,
    Report,
    ScanError,
    truncate,
)
from scanner.reports.table import CLEAN_MEANING, HEADLINE, display_path, strongest

THUMB_SIZE = 240  # longest side, pixels
THUMB_MAX_FILE = 512 * 1024 * 1024  # files larger than this get no preview
THUMB_MAX_PIXELS = 100_000_000  # refuse decompression bombs
MAX_THUMBS = 200  # previews per report (keeps the file mailable)
MAX_CLEAN_LISTED = 2000

CSS = """
:root{--ai:#b3261e;--review:#b26a00;--ok:#1e7b34;--err:#6a1b9a;--mut:#5f6368;--line:#dadce0}
*{box-sizing:border-box}body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",
Roboto,Arial,sans-serif;color:#202124;background:#fff}main{padding:0 24px 40px;max-width:1400px}
.banner{padding:20px 24px;color:#fff}.banner h1{margin:0;font-size:26px}.banner p{margin:4px 0 0}
.fail{background:var(--ai)}.pass{background:var(--ok)}.incomplete{background:var(--err)}
h2{margin:28px 0 10px;font-size:19px;border-bottom:2px solid var(--line);padding-bottom:4px}
.counts{display:flex;flex-wrap:wrap;gap:10px;margin-top:16px}.count{border:1px solid var(--line);
border-radius:8px;padding:8px 14px;min-width:110px}.count b{display:block;font-size:22px}
table{border-collapse:collapse;width:100%}th,td{border-bottom:1px solid var(--line);padding:6px 8px;
text-align:left;vertical-align:top}th{background:#f1f3f4;font-weight:600}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;color:#fff;font-weight:600;
font-size:12px}.b-ai{background:var(--ai)}.b-review{background:var(--review)}
.b-error{background:var(--err)}.b-clean{background:var(--ok)}.b-skipped{background:var(--mut)}
.b-approved{background:var(--ok)}.b-block{background:#202124}
.thumb{display:block;max-width:240px;max-height:240px;border:1px solid var(--line)}
.nothumb{color:var(--mut);font-size:12px;width:120px}
.path{font-family:ui-monospace,Menlo,Consolas,monospace;word-break:break-all}
#flagged+table td:nth-child(2){min-width:200px}
code,pre{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12.5px}
pre{background:#f8f9fa;border:1px solid var(--line);padding:8px;overflow-x:auto;
white-space:pre-wrap;word-break:break-all}
details{border:1px solid var(--line);border-radius:6px;margin:8px 0;padding:0 10px}
summary{cursor:pointer;padding:8px 0;font-weight:600}.mut{color:var(--mut)}
ul.tree{margin:2px 0 2px 18px;padding:0}ul.tree li{list-style:square}
.finding{border-left:4px solid var(--ai);padding:4px 10px;margin:8px 0;background:#fcf8f8}
.finding.review{border-color:var(--review);background:#fdf9f3}
.finding.approved{border-color:var(--ok);background:#f5faf6}
dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;margin:4px 0}
dt{color:var(--mut)}dd{margin:0;word-break:break-word}
"""


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _thumb_image(path: str) -> bytes | None:
    from PIL import Image

    with open_readonly(path) as fh:
        with Image.open(fh) as opened:
            im: Image.Image = opened
            if im.width * im.height > THUMB_MAX_PIXELS:
                return None
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
    except Exception as exc:  # noqa: BLE001 - a preview must never break the report
        return None, f"no preview: {type(exc).__name__}"
    if not data:
        return None, "no preview: format not decodable here"
    return "data:image/jpeg;base64," + base64.b64encode(data).decode("ascii"), ""


def _tree(value: Any, depth: int = 0) -> str:
    if depth > 12:
        return "<span class=mut>…</span>"
    if isinstance(value, dict):
        if not value:
            return "<code>{}</code>"
        items = "".join(f"<li><b>{_e(k)}</b>: {_tree(v, depth + 1)}</li>" for k, v in value.items())
        return f"<ul class=tree>{items}</ul>"
    if isinstance(value, list):
        if not value:
            return "<code>[]</code>"
        items = "".join(f"<li>{_tree(v, depth + 1)}</li>" for v in value)
        return f"<ul class=tree>{items}</ul>"
    return f"<code>{_e(truncate(str(value)))}</code>"


def _approval_text(a: Approval) -> str:
    return (f"{a.ref} by {a.by}" + (f" on {a.date}" if a.date else "")
            + (f", expires {a.expires}" if a.expires else "") + f": {a.reason}")


class _Kept:
    """What the page needs of one non-clean asset (results are not kept by the runner)."""

    def __init__(self, result: AssetResult, thumb: str | None, thumb_note: str) -> None:
        self.result = result
        self.thumb = thumb
        self.thumb_note = thumb_note


class HtmlWriter:
    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.flagged: list[_Kept] = []
        self.problems: list[AssetResult] = []  # error and skipped
        self.clean: list[str] = []
        self.clean_count = 0
        self.unavailable: dict[str, str] = {}
        self.not_applicable: dict[str, int] = {}
        self.failed: dict[str, int] = {}
        self.thumbs = 0

    def add(self, result: AssetResult) -> None:
        for cov in result.coverage:
            if cov.status == UNAVAILABLE:
                self.unavailable.setdefault(cov.detector, "; ".join(cov.notes))
            elif cov.status == NOT_APPLICABLE:
                self.not_applicable[cov.detector] = self.not_applicable.get(cov.detector, 0) + 1
            elif cov.status == FAILED:
                self.failed[cov.detector] = self.failed.get(cov.detector, 0) + 1
        if result.verdict in (AI, REVIEW):
            thumb, note = None, ""
            if self.thumbs < MAX_THUMBS:
                thumb, note = thumbnail(result)
                self.thumbs += thumb is not None
            elif result.asset.kind in ("image", "video"):
                note = f"no preview: limit of {MAX_THUMBS} previews reached"
            self.flagged.append(_Kept(result, thumb, note))
        elif result.verdict in (ERROR, SKIPPED) or result.errors:
            self.problems.append(result)
        else:
            self.clean_count += 1
            if len(self.clean) < MAX_CLEAN_LISTED:
                self.clean.append(result.asset.path)

    # ---- sections ------------------------------------------------------------------------

    def _banner(self, report: Report) -> str:
        s = report.summary
        cls = {0: "pass", 1: "fail"}.get(s.exit_code, "incomplete")
        sub = (f"{s.blocking_assets} blocking asset(s) · {s.approved_findings} approved "
               f"finding(s) · {s.files} files scanned · exit code {s.exit_code}")
        roots = ", ".join(display_path(r) for r in report.roots)
        return (f'<header class="banner {cls}" id="verdict"><h1>{_e(HEADLINE.get(s.exit_code, "?"))}'
                f"</h1><p>{_e(sub)}</p><p>Scanned: <span class=path>{_e(roots)}</span></p></header>")

    def _counts(self, report: Report) -> str:
        s = report.summary
        cards = [("files", s.files)] + [(v, s.verdicts.get(v, 0))
                                        for v in (AI, REVIEW, ERROR, "clean", SKIPPED)]
        cards += [("blocking assets", s.blocking_assets), ("approved findings", s.approved_findings)]
        return "<section class=counts>" + "".join(
            f"<div class=count><b>{n}</b>{_e(label)}</div>" for label, n in cards) + "</section>"

    @staticmethod
    def _pairs(r: AssetResult) -> list[tuple[Finding, Approval | None]]:
        return [(f, f.approval) for f in r.findings]

    def _flagged_table(self) -> str:
        if not self.flagged:
            return "<h2>Flagged assets</h2><p>No AI or review findings.</p>"
        rows = []
        for n, k in enumerate(self.flagged):
            r = k.result
            pairs = self._pairs(r)
            open_f = [f for f, a in pairs if a is None]
            top = strongest(open_f or r.findings)[0]
            approvals = {id(f): a for f, a in pairs}
            preview = (f'<img class=thumb src="{k.thumb}" alt="preview of '
                       f'{_e(os.path.basename(display_path(r.asset.path)))}">'
                       if k.thumb else f"<div class=nothumb>{_e(k.thumb_note or 'no preview')}</div>")
            state = ('<span class="badge b-block">BLOCKING</span>' if r.blocking else
                     '<span class="badge b-approved">APPROVED</span>'
                     if any(a for _, a in pairs) else "<span class=mut>not blocking</span>")
            more = f" <span class=mut>(+{len(r.findings) - 1} more)</span>" if len(r.findings) > 1 else ""
            appr = "".join(f"<div>{_e(_approval_text(a))}</div>" for a in
                           {a.ref: a for _, a in pairs if a}.values()) or "—"
            top_ap = approvals.get(id(top))
            rows.append(
                f"<tr><td>{preview}</td>"
                f'<td><a class=path href="#asset-{n}">{_e(display_path(r.asset.path))}</a>'
                f"<div class=mut>{_e(r.asset.kind)} · {_e(r.asset.media_type)}</div></td>"
                f'<td><span class="badge b-{_e(r.verdict)}">{_e(r.verdict.upper())}</span> {state}</td>'
                f"<td><code>{_e(top.detector)}:{_e(top.rule)}</code> [{_e(top.tier)}]"
                f"{' (approved)' if top_ap else ''}<br><code>{_e(top.location)}</code> = "
                f"<code>{_e(truncate(top.value, 160))}</code><br>{_e(top.message)}{more}</td>"
                f"<td>{appr}</td></tr>")
        return ("<h2 id=flagged>Flagged assets</h2><table><thead><tr><th>Preview</th><th>File</th>"
                "<th>Verdict</th><th>Strongest evidence</th><th>Approval</th></tr></thead><tbody>"
                + "".join(rows) + "</tbody></table>")

    def _approvals(self) -> str:
        rows = []
        for k in self.flagged:
            for f, a in self._pairs(k.result):
                if a is None:
                    continue
                rows.append(f"<tr><td class=path>{_e(display_path(k.result.asset.path))}</td>"
                            f"<td><code>{_e(f.rule)}</code></td><td>{_e(a.ref)}</td>"
                            f"<td>{_e(a.by)}</td><td>{_e(a.date)}</td><td>{_e(a.expires or '—')}</td>"
                            f"<td>{_e(a.reason)}</td><td><code>{_e(a.sha256[:16])}…</code></td></tr>")
        if not rows:
            return "<h2 id=approvals>Approvals</h2><p>No finding was waived by an approval.</p>"
        return ("<h2 id=approvals>Approvals</h2><p>These findings are recorded AI uses approved in "
                "writing; they do not fail the delivery. Approvals are keyed by content (SHA-256): "
                "any edit of the file voids them.</p><table><thead><tr><th>File</th><th>Rule</th>"
                "<th>Ref</th><th>By</th><th>Date</th><th>Expires</th><th>Reason</th>"
                "<th>SHA-256</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>")

    def _finding(self, f: Finding, a: Approval | None) -> str:
        from scanner.explain import CHAIN_KEYS, chain_lines

        cls = "finding" + (" approved" if a else "") + (" review" if f.verdict == REVIEW else "")
        chain = chain_lines(f.evidence)
        evidence = {k: v for k, v in f.evidence.items()
                    if not (chain and (k in CHAIN_KEYS or k in ("path", "manifest_path")))}
        parts = [f"<div class='{cls}'><b>{_e(f.verdict.upper())}</b> "
                 f"<code>{_e(f.detector)}:{_e(f.rule)}</code> [{_e(f.tier)}]",
                 f' <span class="badge b-approved">APPROVED {_e(a.ref)}</span>' if a else "",
                 "<dl>", f"<dt>location</dt><dd><code>{_e(f.location)}</code></dd>",
                 f"<dt>value</dt><dd><code>{_e(f.value)}</code></dd>",
                 f"<dt>message</dt><dd>{_e(f.message)}</dd>"]
        if a:
            parts.append(f"<dt>approval</dt><dd>{_e(_approval_text(a))}</dd>")
        parts.append("</dl>")
        if chain:
            parts.append("<div>C2PA manifest chain:</div><pre class=tree>"
                         + _e("\n".join(chain)) + "</pre>")
        if evidence:
            parts.append("<div>Evidence:</div>" + _tree(evidence))
        parts.append("</div>")
        return "".join(parts)

    def _details(self) -> str:
        if not self.flagged:
            return ""
        out = ["<h2 id=evidence>Evidence per asset</h2>"]
        for n, k in enumerate(self.flagged):
            r = k.result
            out.append(f'<details id="asset-{n}"><summary><span class=path>'
                       f"{_e(display_path(r.asset.path))}</span> — {_e(r.verdict.upper())}, "
                       f"{len(r.findings)} finding(s)</summary>")
            out.append(f"<dl><dt>kind</dt><dd>{_e(r.asset.kind)} ({_e(r.asset.media_type)})</dd>"
                       f"<dt>size</dt><dd>{r.asset.size} bytes</dd>"
                       + (f"<dt>sha256</dt><dd><code>{_e(r.sha256)}</code></dd>" if r.sha256 else "")
                       + "".join(f"<dt>note</dt><dd>{_e(n)}</dd>" for n in r.asset.notes)
                       + "".join(f"<dt>{_e(c.detector)}</dt><dd>{_e(c.status)}"
                                 f"{': ' + _e('; '.join(c.notes)) if c.notes else ''}</dd>"
                                 for c in r.coverage)
                       + "".join(f"<dt>error</dt><dd>{_e(e.source)}: {_e(e.message)}</dd>"
                                 for e in r.errors)
                       + "</dl>")
            for f, a in self._pairs(r):
                out.append(self._finding(f, a))
            out.append("</details>")
        return "".join(out)

    def _coverage(self, report: Report) -> str:
        s = report.summary
        out = ["<h2 id=coverage>Coverage: what could not be checked, and why</h2>",
               f"<p>{_e(CLEAN_MEANING)}</p>"]
        errors = [r for r in self.problems if r.verdict == ERROR or r.errors]
        if errors:
            out.append(f"<h3>Not checked: errors ({len(errors)})</h3><table><thead><tr><th>File</th>"
                       "<th>Detector</th><th>Reason</th></tr></thead><tbody>")
            for r in errors:
                for e in r.errors or (ScanError("?", "unknown error"),):
                    out.append(f"<tr><td class=path>{_e(display_path(r.asset.path))}</td>"
                               f"<td>{_e(e.source)}</td><td>{_e(e.message)}</td></tr>")
            out.append("</tbody></table>")
        else:
            out.append("<p>No errors: every detector that applies to a file finished on it.</p>")
        skipped = [r for r in self.problems if r.verdict == SKIPPED]
        if skipped:
            out.append(f"<details><summary>Skipped files ({len(skipped)})</summary><table><tbody>")
            for r in skipped:
                out.append(f"<tr><td class=path>{_e(display_path(r.asset.path))}</td>"
                           f"<td>{_e(r.asset.skip_reason or 'no detector applies')}</td></tr>")
            out.append("</tbody></table></details>")
        rows = []
        for name in sorted(set(s.detectors) | set(self.unavailable) | set(self.not_applicable)):
            d = s.detectors.get(name, {})
            state = (f"unavailable: {self.unavailable[name]}" if name in self.unavailable
                     else "available")
            rows.append(f"<tr><td>{_e(name)}</td><td>{_e(state)}</td><td>{d.get('applied', 0)}</td>"
                        f"<td>{self.not_applicable.get(name, 0)}</td><td>{d.get('failed', 0)}</td>"
                        f"<td>{d.get('findings', 0)}</td></tr>")
        if rows:
            out.append("<h3>Detectors</h3><table><thead><tr><th>Detector</th><th>State</th>"
                       "<th>Applied</th><th>Not applicable</th><th>Failed</th><th>Findings</th>"
                       "</tr></thead><tbody>" + "".join(rows) + "</tbody></table>")
        if s.clutter_skipped or s.excluded:
            out.append(f"<p>Not scanned on purpose: {s.clutter_skipped} OS clutter file(s), "
                       f"{s.excluded} excluded by pattern.</p>")
        if report.warnings:
            out.append("<h3>Warnings</h3><ul>" + "".join(f"<li>{_e(w)}</li>"
                                                         for w in report.warnings) + "</ul>")
        return "".join(out)

    def _clean(self) -> str:
        if not self.clean_count:
            return ""
        more = self.clean_count - len(self.clean)
        items = "".join(f"<li class=path>{_e(display_path(p))}</li>" for p in self.clean)
        tail = f"<li class=mut>… and {more} more</li>" if more > 0 else ""
        return (f"<details id=clean><summary>Clean files ({self.clean_count})</summary>"
                f"<ul>{items}{tail}</ul></details>")

    def finish(self, report: Report) -> None:
        t = report.tool
        footer = (f"<p class=mut>deliverscan {_e(t.get('version'))} · rules {_e(t.get('rulepack'))}"
                  f" · c2pa-python {_e(t.get('c2pa_python') or 'not installed')} · ExifTool "
                  f"{_e(t.get('exiftool') or 'not found')} · started {_e(report.started)} · "
                  f"finished {_e(report.finished)} · {report.summary.duration_s:.2f} s</p>")
        title = HEADLINE.get(report.summary.exit_code, "?")
        # Blocking first, then AI before review; scan order within each group.
        self.flagged = [k for _, k in sorted(enumerate(self.flagged), key=lambda it: (
            not it[1].result.blocking, it[1].result.verdict != AI, it[0]))]
        page = ("<!DOCTYPE html><html lang=en><head><meta charset=utf-8>"
                "<meta name=viewport content='width=device-width,initial-scale=1'>"
                f"<title>deliverscan: {_e(title)}</title><style>{CSS}</style></head><body>"
                + self._banner(report) + "<main>" + self._counts(report)
                + self._flagged_table() + self._approvals() + self._details()
                + self._coverage(report) + self._clean() + footer + "</main></body></html>\n")
        self.out.write(page)
        self.out.flush()
