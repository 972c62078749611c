"""HTML: one self-contained page a delivery desk opens from an email attachment.

No external fonts, images or URLs: inline CSS, thumbnails as ``data:`` URIs, ``<details>`` for
what is long. Order follows what the desk asks first: the verdict in words (``headline``, the
same words as every format), then the files that could not be checked, the flagged files
(blocking first) with their evidence in plain words before the technical details, the
approvals (one row each, with the files they waive), the full evidence, counts per folder,
coverage, every file not scanned and why, and the clean files. Filtering by verdict is pure
CSS (see ``html_assets``), so the page reads the same with scripts off.

Previews (``html_assets.thumbnail``) are the one place a report reads essence: an explicit,
bounded read of flagged files only (size cap, pixel cap, a fixed number of previews).
"""

from __future__ import annotations

import html
import os
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TextIO

from detectors.model import (
    AI,
    ARCHIVE,
    CLEAN,
    ERROR,
    NOT_APPLICABLE,
    PACKAGE,
    REVIEW,
    SKIPPED,
    STAGES,
    UNAVAILABLE,
    Approval,
    AssetResult,
    Finding,
    Report,
    ScanError,
    display_path,
    truncate,
)
from scanner.headline import headline
from scanner.reports.html_assets import CSS, FILTERS, SEARCH_JS, thumbnail
from scanner.reports.table import CLEAN_MEANING, strongest

MAX_THUMBS = 200  # previews per report (keeps the file mailable)
MAX_CLEAN_LISTED = 2000
FINDINGS_IN_ROW = 3  # the rest are in the full evidence
# The search box is the page's only script (inline: the page never loads anything); everything
# else works without it (filters are CSS).
INLINE_SCRIPT = True
FLAGGED = "f-ai f-review f-blocking"  # the filters flagged rows show under


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _tree(value: Any, depth: int = 0) -> str:
    if depth > 12:
        return "<span class=mut>…</span>"
    if isinstance(value, dict) and value:
        items = "".join(f"<li><b>{_e(k)}</b>: {_tree(v, depth + 1)}</li>" for k, v in value.items())
    elif isinstance(value, list) and value:
        items = "".join(f"<li>{_tree(v, depth + 1)}</li>" for v in value)
    else:
        return f"<code>{_e(truncate(str(value)))}</code>"
    return f"<ul class=tree>{items}</ul>"


def _section(shown_in: str, anchor: str, title: str, body: str) -> str:
    """A section; ``shown_in``: the filters it stays visible under (``f-ai f-review``...)."""
    return f"<section class='sec {shown_in}'><h2 id={anchor}>{_e(title)}</h2>{body}</section>"


def _table(cols: Sequence[tuple[str, str]], rows: Sequence[str], cls: str = "tbl") -> str:
    """``cols``: (header, width; "" flexible), a header starting "#" is a number column.
    ``rows``: ``<tr>``s, or whole ``<tbody>``s when ``cls`` is ""."""
    widths = "".join(f"<col style='width:{w}'>" if w else "<col>" for _, w in cols)
    heads = "".join(f"<th class=num>{_e(h[1:])}</th>" if h.startswith("#") else f"<th>{_e(h)}</th>"
                    for h, _ in cols)
    body = "".join(rows) if not cls else "<tbody>" + "".join(rows) + "</tbody>"
    return (f"<table class='{cls or 'tbl'}'><colgroup>{widths}</colgroup><thead><tr>{heads}</tr>"
            f"</thead>{body}</table>")


_THUMB_URI = re.compile(r"^data:image/jpeg;base64,[A-Za-z0-9+/=]{1,200000}$")


def _thumbs(ev: dict[str, Any]) -> str:
    """A register match: the matched region of the deliverable beside the registered temp
    asset (small JPEGs the detector made), so a person checks it at a glance."""
    t = ev.get("thumbnails")
    if not isinstance(t, dict):
        return ""
    cells = [f"<figure class=pair><img src='{uri}' alt='{_e(label)}' loading=lazy>"
             f"<figcaption>{_e(label)}</figcaption></figure>"
             for key, label in (("deliverable", "in the deliverable"),
                                ("registered", "registered temp asset"))
             if isinstance(uri := t.get(key), str) and _THUMB_URI.match(uri)]
    reg = ev.get("region") or {}
    px = reg.get("pixels") or (reg if reg.get("units") == "pixels" else None)
    cap = (f"<div class=mut>region x={_e(px['x'])} y={_e(px['y'])} {_e(px['width'])}×"
           f"{_e(px['height'])} px{' at ' + _e(reg['at']) if reg.get('at') else ''}</div>"
           if px else "")
    return f"<div class=pairs>{''.join(cells)}</div>{cap}" if cells else ""


def _n(count: int) -> str:
    return f"{count:,}"


def _tech(f: Finding) -> str:
    frame = f"<b>frame {_e(f.evidence['frame'])}</b> · " if "frame" in f.evidence else ""
    if f.evidence.get("imf"):
        frame = f"<b>IMF: {_e('; '.join(f.evidence['imf'][:3]))}</b> · " + frame
    return (f"<p class=tech>{frame}<code>{_e(f.detector)}:{_e(f.rule)}</code> · {_e(f.tier)} · "
            f"<code>{_e(f.location)}</code> = <code>{_e(truncate(f.value, 160))}</code></p>")


@dataclass
class _Kept:
    """What the page needs of one flagged asset (results are not kept by the runner)."""

    result: AssetResult
    thumb: str | None
    thumb_note: str

    @property
    def rows(self) -> str:  # the filters this asset's rows show under
        return f"r-{self.result.verdict}" + (" r-blocking" if self.result.blocking else "")


class HtmlWriter:
    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.flagged: list[_Kept] = []
        self.errors: list[AssetResult] = []  # any verdict, with errors
        self.skipped: dict[str, list[str]] = {}  # reason -> paths, every one listed
        self.clean: list[str] = []
        self.clean_count = 0
        self.dirs: dict[str, Counter[str]] = {}  # folder -> verdict counts (and "blocking")
        self.unavailable: dict[str, str] = {}
        self.not_applicable: Counter[str] = Counter()
        self.failures: dict[str, Counter[str]] = {}  # detector -> failure message -> files
        self.thumbs = 0
        self.prefixes: list[str] = []  # scan roots with a trailing "/", longest first

    def add(self, result: AssetResult) -> None:
        for cov in result.coverage:
            if cov.status == UNAVAILABLE:
                self.unavailable.setdefault(cov.detector, "; ".join(cov.notes))
            elif cov.status == NOT_APPLICABLE:
                self.not_applicable[cov.detector] += 1
        for err in (e for e in result.errors if e.source not in STAGES):  # detectors' failures
            self.failures.setdefault(err.source, Counter())[truncate(err.message, 200)] += 1
        counts = self.dirs.setdefault(os.path.dirname(result.asset.path), Counter())
        counts[result.verdict] += 1
        counts["blocking"] += result.blocking
        if result.errors or result.verdict == ERROR:
            self.errors.append(result)
        if result.verdict in (AI, REVIEW):
            thumb, note = None, ""
            if self.thumbs < MAX_THUMBS:
                shown = result  # a sequence: its first flagged frame
                if result.sequence is not None:
                    shown = next((fr for _, fr in result.sequence.frames
                                  if fr.verdict in (AI, REVIEW)), result)
                thumb, note = thumbnail(shown)
                self.thumbs += thumb is not None
            elif result.asset.kind in ("image", "video"):
                note = f"no preview: limit of {MAX_THUMBS} previews reached"
            self.flagged.append(_Kept(result, thumb, note))
        elif result.verdict == SKIPPED:
            reason = result.asset.skip_reason or "no detector applies"
            self.skipped.setdefault(reason, []).append(result.asset.path)
        elif result.verdict == CLEAN:
            self.clean_count += 1
            if len(self.clean) < MAX_CLEAN_LISTED:
                self.clean.append(result.asset.path)

    # ---- sections ------------------------------------------------------------------------

    def _file(self, path: str) -> str:
        """The name first (bold, whole), then the path (muted, wrapping after each ``/``): the
        scan root shrinks to "…" (shown on hover, the banner names it) but is still there when
        the path is copied (one click selects it all)."""
        shown = display_path(path)
        name = shown.rpartition("/")[2] or shown
        root = next((p[:-1] for p in self.prefixes if path.startswith(p) and p != "/"), "")
        lead = f"<span class=root>{_e(display_path(root))}</span>" if root else ""
        return (f"<div class=file title='{_e(shown)}'><span class=fn>{_e(name)}</span><span "
                f"class=dir>{lead}{_e(display_path(path[len(root):])).replace('/', '/<wbr>')}"
                "</span></div>")

    def _banner(self, report: Report) -> str:
        s, h = report.summary, headline(report.summary)
        facts = "".join(f"<li>{_e(f)}</li>" for f in h.facts)
        roots = ", ".join(display_path(r) for r in report.roots)
        return (f'<header class="banner {h.status}" id=verdict><h1>{_e(h.title)}</h1>'
                + (f"<ul>{facts}</ul>" if facts else "")
                + f"<p>{_n(s.files)} files scanned in <span class=copy>{_e(roots)}</span> · "
                f"finished {_e(report.finished)} · exit code {s.exit_code}</p></header>")

    def _bar(self, report: Report) -> str:
        v = report.summary.verdicts
        counts = {"blocking": report.summary.blocking_assets, "error": len(self.errors),
                  **{k: v.get(k, 0) for k in (AI, REVIEW, SKIPPED, CLEAN)}}
        chips = ['<input type=radio name=show id=s-all checked><label for=s-all>Everything '
                 f"<b>{_n(report.summary.files)}</b></label>"]
        chips += [f"<input type=radio name=show id=s-{key}><label for=s-{key}"
                  f"{'' if counts[key] else ' class=zero'}>{_e(label)} <b>{_n(counts[key])}</b>"
                  "</label>" for key, label in FILTERS.items()]
        return (f"<nav class=bar aria-label=Show><span class=chips>{''.join(chips)}</span><span "
                "class=hint id=find>To find a file: Ctrl+F / ⌘F (collapsed lists open on a "
                "match)</span></nav>")

    def _errors(self) -> str:
        # the headline's words and count (files whose verdict is error), then the flagged files
        # a detector could only partly read, which the same list shows marked "also AI"
        unread = sum(1 for r in self.errors if r.verdict == ERROR)
        partly = len(self.errors) - unread
        title = f"Could not be checked ({_n(unread)})" + (
            f" and {_n(partly)} flagged, only partly checked" if partly else "")
        if not self.errors:
            return _section("f-error", "errors", title, "<p class=none>None: every detector "
                            "that applies to a file finished on it.</p>")
        rows = []
        for r in sorted(self.errors, key=lambda r: r.asset.path):
            reasons = "".join(f"<div><b>{_e(e.source)}</b>: {_e(e.message)}</div>"
                              for e in r.errors or (ScanError("?", "unknown error"),))
            also = (f' <span class="badge b-{_e(r.verdict)}">also {_e(r.verdict.upper())}</span>'
                    if r.verdict != ERROR else "")
            rows.append(f"<tr class=it><td>{self._file(r.asset.path)}</td>"
                        f"<td>{_e(r.asset.kind)}{also}</td><td>{reasons}</td></tr>")
        return _section("f-error", "errors", title, "<p class=lead>These files were not (fully) "
                        "checked: the delivery cannot pass until they are fixed or re-delivered."
                        "</p>" + _table((("File", "38%"), ("Kind", "110px"), ("Why", "")), rows))

    def _flagged_row(self, n: int, k: _Kept) -> str:
        r = k.result
        name = os.path.basename(display_path(r.asset.path))
        preview = (f'<img class=thumb src="{k.thumb}" alt="preview of {_e(name)}">' if k.thumb
                   else f"<div class=nothumb>{_e(k.thumb_note or 'no preview')}</div>")
        approvals = {f.approval for f in r.findings if f.approval}
        state = ('<span class="badge b-block">BLOCKING</span>' if r.blocking else
                 '<span class="badge b-approved">APPROVED</span>' if approvals else
                 "<div class=mut>not blocking</div>")
        ordered = sorted(strongest(r.findings), key=lambda f: f.approval is not None)
        evidence = "".join(
            f"<div class=fd><p class=msg>{_e(f.message)}"
            + (f" <span class=tag>APPROVED {_e(f.approval.ref)}</span>" if f.approval else "")
            + f"</p>{_tech(f)}</div>" for f in ordered[:FINDINGS_IN_ROW])
        more = len(ordered) - FINDINGS_IN_ROW
        link = f"+{more} more finding(s): full evidence" if more > 0 else "full evidence"
        appr = "".join(f"<div><b>{_e(a.ref)}</b> by {_e(a.by)}</div>" for a in
                       sorted(approvals, key=lambda a: a.ref)) or "<span class=mut>—</span>"
        # a sequence says which frames; an archive which members (its evidence is theirs)
        seq = (f"<div class=seq>{_e(r.asset.notes[-1])}</div>"
               if (r.sequence is not None or r.asset.kind in (ARCHIVE, PACKAGE)) and r.asset.notes
               else "")
        return (f"<tbody class='row it {k.rows}'><tr><td>{preview}</td><td>"
                f"{self._file(r.asset.path)}<div class=mut>{_e(r.asset.kind)} · "
                f"{_e(r.asset.media_type)}</div>{seq}</td><td>"
                f'<span class="badge b-{_e(r.verdict)}">'
                f"{_e(r.verdict.upper())}</span>{state}</td><td>{evidence}<a href="
                f"'#asset-{n}-body'>{_e(link)}</a></td><td>{appr}</td></tr></tbody>")

    def _flagged(self) -> str:
        if not self.flagged:
            return _section(FLAGGED, "flagged", "Flagged files", "<p>No AI or review findings.</p>")
        cols = (("Preview", "258px"), ("File", "24%"), ("Verdict", "118px"), ("Evidence", ""),
                ("Approval", "13%"))
        return _section(FLAGGED, "flagged", f"Flagged files: AI and review "
                        f"({_n(len(self.flagged))})", "<p class=lead>Blocking files first. What "
                        "was found in words, then the technical detail (detector:rule · tier · "
                        "where = value). Paths: … is the scanned folder (hover to see it); click "
                        "a grey path to select it for copying.</p>" + _table(cols, [
                            self._flagged_row(n, k) for n, k in enumerate(self.flagged)], ""))

    def _approvals(self) -> str:
        waived: dict[Approval, dict[str, set[str]]] = {}
        for k in self.flagged:
            for f in k.result.findings:
                if f.approval:
                    waived.setdefault(f.approval, {}).setdefault(k.result.asset.path, set()).add(
                        f.rule)
        title = f"Approvals ({_n(len(waived))})"
        if not waived:
            return _section("f-ai f-review", "approvals", title,
                            "<p>No finding was waived by an approval.</p>")
        rows = []
        for a, files in sorted(waived.items(), key=lambda it: it[0].ref):
            listed = "".join(f"<li>{self._file(p)}<div class=mut>waives <code>"
                             f"{'</code>, <code>'.join(_e(r) for r in sorted(rules))}</code>"
                             f"</div></li>" for p, rules in sorted(files.items()))
            rows.append(f"<tr class=it><td><b>{_e(a.ref)}</b></td><td>{_e(a.by)}</td>"
                        f"<td>{_e(a.date or '—')}</td><td>{_e(a.expires or 'never')}</td>"
                        f"<td>{_e(a.reason)}</td><td><code class=nowrap title='{_e(a.sha256)}'>"
                        f"{_e(a.sha256[:12])}…</code></td><td><ul class=files>{listed}</ul></td>"
                        "</tr>")
        cols = (("Ref", "9%"), ("Approved by", "10%"), ("Date", "8%"), ("Expires", "8%"),
                ("Reason", "20%"), ("SHA-256", "9%"), ("Files and rules it waives", ""))
        return _section("f-ai f-review", "approvals", title, "<p class=lead>Recorded AI uses "
                        "approved in writing: they do not fail the delivery. Approvals are keyed "
                        "by content (SHA-256): any edit of the file voids them.</p>"
                        + _table(cols, rows))

    def _finding(self, f: Finding) -> str:
        from scanner.explain import CHAIN_KEYS, chain_lines

        a = f.approval
        cls = "finding" + (" approved" if a else "") + (" review" if f.verdict == REVIEW else "")
        chain = chain_lines(f.evidence)
        evidence = {k: v for k, v in f.evidence.items() if k != "thumbnails"
                    and not (chain and (k in CHAIN_KEYS or k in ("path", "manifest_path")))}
        parts = [f"<div class='{cls}'><p class=msg><b>{_e(f.verdict.upper())}</b> "
                 f"{_e(f.message)}", f' <span class="badge b-approved">APPROVED {_e(a.ref)}</span>'
                 if a else "", "</p><dl>",
                 f"<dt>rule</dt><dd><code>{_e(f.detector)}:{_e(f.rule)}</code> [{_e(f.tier)}]</dd>",
                 f"<dt>location</dt><dd><code>{_e(f.location)}</code></dd>",
                 f"<dt>value</dt><dd><code>{_e(f.value)}</code></dd>"]
        if a:
            parts.append(f"<dt>approval</dt><dd>{_e(a.ref)} by {_e(a.by)}, {_e(a.date or '—')}, "
                         f"expires {_e(a.expires or 'never')}: {_e(a.reason)}</dd>")
        parts.append("</dl>")
        if chain:
            parts.append("<div>C2PA manifest chain:</div><pre class=tree>"
                         + _e("\n".join(chain)) + "</pre>")
        parts.append(_thumbs(f.evidence))
        if evidence:
            parts.append("<div>Evidence:</div>" + _tree(evidence))
        return "".join(parts) + "</div>"

    def _details(self) -> str:
        out = [] if self.flagged else ["<p class=mut>Nothing flagged.</p>"]
        for n, k in enumerate(self.flagged):
            r = k.result
            out.append(f"<details class='row it {k.rows}' id=asset-{n}><summary>"
                       f"{_e(os.path.basename(display_path(r.asset.path)))} — "
                       f"{_e(r.verdict.upper())}, {len(r.findings)} finding(s)</summary>"
                       f"<div id=asset-{n}-body><dl><dt>path</dt><dd><code class=copy>"
                       f"{_e(display_path(r.asset.path))}</code></dd>"
                       f"<dt>kind</dt><dd>{_e(r.asset.kind)} ({_e(r.asset.media_type)})</dd>"
                       f"<dt>size</dt><dd>{_n(r.asset.size)} bytes</dd>"
                       + (f"<dt>sha256</dt><dd><code class=copy>{_e(r.sha256)}</code></dd>"
                          if r.sha256 else "")
                       + "".join(f"<dt>note</dt><dd>{_e(note)}</dd>" for note in r.asset.notes)
                       + "".join(f"<dt>{_e(c.detector)}</dt><dd>{_e(c.status)}"
                                 f"{': ' + _e('; '.join(c.notes)) if c.notes else ''}</dd>"
                                 for c in r.coverage)
                       + "".join(f"<dt>error</dt><dd>{_e(e.source)}: {_e(e.message)}</dd>"
                                 for e in r.errors) + "</dl>")
            out.extend(self._finding(f) for f in strongest(r.findings))
            out.append("</div></details>")
        return _section(FLAGGED, "evidence", "Full evidence per flagged file", "".join(out))

    def _group(self, path: str) -> str:
        """The top-level folder ``path`` is in under its scan root (how deliveries are cut:
        one folder per episode or reel)."""
        for p in self.prefixes:
            if path.startswith(p):
                head, sep, _ = path[len(p):].partition("/")
                lead = os.path.basename(p[:-1]) + "/" if len(self.prefixes) > 1 else ""
                return display_path(lead + head + "/") if sep else (lead or "(top level)")
        return display_path(os.path.dirname(path) + "/")

    def _folders(self) -> str:
        per: dict[str, Counter[str]] = {}
        for folder, counts in self.dirs.items():
            per.setdefault(self._group(folder + "/x"), Counter()).update(counts)
        if len(per) < 2:
            return ""
        keys = ("blocking", AI, REVIEW, ERROR, SKIPPED, CLEAN)
        hot = ("blocking", ERROR)  # shown red when not zero
        rows = [f"<tr><td><b>{_e(name)}</b></td><td class=num>{_n(sum(c[k] for k in keys[1:]))}"
                "</td>" + "".join(f"<td class='num{' hot' if c[k] and k in hot else ''}'>"
                                  f"{_n(c[k]) if c[k] else '·'}</td>" for k in keys) + "</tr>"
                for name, c in sorted(per.items())]
        cols = [("Folder", ""), ("#Files", "")] + [("#" + FILTERS[k], "") for k in keys]
        return _section("", "folders", "By folder", _table(cols, rows, "narrow"))

    def _coverage(self, report: Report) -> str:
        s = report.summary
        rows = []
        for name in sorted(set(s.detectors) | set(self.unavailable) | set(self.not_applicable)):
            d = s.detectors.get(name, {})
            state = (f"unavailable: {self.unavailable[name]}" if name in self.unavailable
                     else "available")
            why = "".join(f"<div class=mut>{_e(msg)} ({_n(n)} file(s))</div>"
                          for msg, n in self.failures.get(name, Counter()).most_common(5))
            rows.append(f"<tr><td><b>{_e(name)}</b></td><td>{_e(state)}</td><td class=num>"
                        f"{_n(d.get('applied', 0))}</td><td class=num>"
                        f"{_n(self.not_applicable[name])}</td><td><b>{_n(d.get('failed', 0))}"
                        f"</b>{why}</td><td class=num>{_n(d.get('findings', 0))}</td></tr>")
        cols = (("Detector", "14%"), ("State", "22%"), ("#Applied", "9%"),
                ("#Not applicable", "11%"), ("Failed (why)", ""), ("#Findings", "9%"))
        out = [f"<p>{_e(CLEAN_MEANING)}</p>", _table(cols, rows) if rows else ""]
        if s.clutter_skipped or s.excluded:
            out.append(f"<p>Not scanned on purpose: {_n(s.clutter_skipped)} OS clutter "
                       f"file(s), {_n(s.excluded)} excluded by pattern (listed below).</p>")
        if report.warnings:
            out.append("<h3>Warnings</h3><ul>" + "".join(f"<li>{_e(w)}</li>"
                                                         for w in report.warnings) + "</ul>")
        return _section("", "coverage", "Coverage: what each detector checked", "".join(out))

    def _skipped(self) -> str:
        total = sum(len(p) for p in self.skipped.values())
        out = [] if total else ["<p class=mut>Every file was scanned.</p>"]
        for reason, paths in sorted(self.skipped.items()):
            items = "".join(f"<li class=it>{self._file(p)}</li>" for p in sorted(paths))
            out.append(f"<details class=grp><summary>{_e(reason)} ({_n(len(paths))})</summary>"
                       f"<ul class=files>{items}</ul></details>")
        return _section("f-skipped", "skipped", f"Not scanned ({_n(total)})", "".join(out))

    def _clean(self) -> str:
        if not self.clean_count:
            return ""
        per: dict[str, list[str]] = {}
        for p in sorted(self.clean):
            per.setdefault(self._group(p), []).append(p)
        out = [f"<p class=lead>{_e(CLEAN_MEANING)}</p>"]
        for name, paths in per.items():
            items = "".join(f"<li class=it>{self._file(p)}</li>" for p in paths)
            out.append(f"<details class=grp><summary>{_e(name)} ({_n(len(paths))} listed)"
                       f"</summary><ul class=files>{items}</ul></details>")
        more = self.clean_count - len(self.clean)
        if more > 0:
            out.append(f"<p class=mut>… and {_n(more)} more clean files (not listed).</p>")
        return _section("f-clean", "clean", f"Clean files ({_n(self.clean_count)})", "".join(out))

    def finish(self, report: Report) -> None:
        t = report.tool
        footer = (f"<footer class=mut>deliverscan {_e(t.get('version'))} · "
                  f"{_e(t.get('rulepack'))} · c2pa-python "
                  f"{_e(t.get('c2pa_python') or 'not installed')} · ExifTool "
                  f"{_e(t.get('exiftool') or 'not found')} · started {_e(report.started)} · "
                  f"finished {_e(report.finished)} · "
                  f"{report.summary.duration_s:.2f} s</footer>")
        h = headline(report.summary)
        self.prefixes = sorted((r.rstrip("/") + "/" for r in report.roots), key=len,
                               reverse=True)
        # Blocking first, then AI before review; scan order within each group.
        self.flagged = [k for _, k in sorted(enumerate(self.flagged), key=lambda it: (
            not it[1].result.blocking, it[1].result.verdict != AI, it[0]))]
        script = f"<script>{SEARCH_JS}</script>" if INLINE_SCRIPT else ""
        page = ("<!DOCTYPE html><html lang=en><head><meta charset=utf-8>"
                "<meta name=viewport content='width=device-width,initial-scale=1'>"
                f"<title>deliverscan: {_e(h.text)}</title><style>{CSS}</style></head><body>"
                + self._banner(report) + "<main>" + self._bar(report) + self._errors()
                + self._flagged() + self._approvals() + self._details() + self._folders()
                + self._coverage(report) + self._skipped() + self._clean() + footer
                + "</main>" + script + "</body></html>\n")
        self.out.write(page)
        self.out.flush()
