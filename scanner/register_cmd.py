"""``deliverscan register``: build and inspect the temp-AI asset register (a SQLite file).

``add`` walks the given paths like a scan, runs the other (default) detectors on each media
file so the entry keeps what they said (e.g. "Midjourney output, C2PA"), fingerprints it, and
stores it keyed by content SHA-256 (adding the same bytes again changes nothing).
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import sys
from fractions import Fraction
from typing import Any

import click

from detectors.api import sha256_file
from detectors.fingerprint.extract import MediaError, fingerprint_file
from detectors.fingerprint.store import Entry, RegisterError, RegisterStore
from detectors.model import MEDIA_KINDS, AssetResult, display_path
from scanner.aggregate import NOT_MEDIA
from scanner.configure import SetupError, configure
from scanner.runner import run_scan
from scanner.usererror import UserError

_register_opt = click.option(
    "--register", "register_path", required=True, type=click.Path(dir_okay=False),
    envvar="DELIVERSCAN_REGISTER", show_envvar=True, help="The register file (SQLite).")


def _open(path: str, write: bool = False, create: bool = False) -> RegisterStore:
    try:
        return RegisterStore(path, readonly=not write, create=create)
    except RegisterError as exc:
        raise UserError(str(exc)) from None


def _pack_file_warning(store: RegisterStore) -> None:
    """Say when the landmark pack's file beside the register could not be written: scans
    then read the pack from the database (into memory, or its tables past 22 hours of
    sound)."""
    if store.pack_file_error:
        click.echo(f"warning: the landmark pack file could not be brought up to date "
                   f"({store.pack_file_error}); scans read the pack from the register "
                   "instead, more slowly ('deliverscan register pack' tries again)", err=True)


@click.group("register")
def register() -> None:
    """Temp-AI asset register: fingerprints of the production's own AI material."""


@register.command("add")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@_register_opt
@click.option("--note", default="", help="Free text kept with every entry added.")
@click.option("--tool", default="", help="Tool that made it (e.g. Midjourney, Suno).")
@click.option("--exclude", "excludes", multiple=True, metavar="GLOB",
              help="Skip paths or names matching GLOB (repeatable).")
@click.option("--follow-symlinks", is_flag=True, help="Follow symlinks (with loop detection).")
def add_cmd(paths: tuple[str, ...], register_path: str, note: str, tool: str,
            excludes: tuple[str, ...], follow_symlinks: bool) -> None:
    """Fingerprint images, video and audio under PATHS into the register."""
    try:
        config, detectors = configure(list(paths), excludes=excludes,
                                      follow_symlinks=follow_symlinks, disable=("register",),
                                      allow_empty=True, keep_results=False)
    except SetupError as exc:
        raise UserError(str(exc)) from None
    counts = {"failed": 0, "added": 0, "same": 0, "skipped": 0}
    today = _dt.datetime.now(_dt.UTC).date().isoformat()
    with _open(register_path, write=True, create=True) as store:

        def add(result: AssetResult) -> None:
            """Each file as the scan path classified and judged it."""
            asset = result.asset
            shown = display_path(asset.path)
            if asset.walk_error or (result.verdict == "error" and asset.kind not in MEDIA_KINDS):
                reason = "; ".join(e.message for e in result.errors) or asset.walk_error
                click.echo(f"error  {shown}: {reason}", err=True)
                counts["failed"] += 1
                return
            if asset.container is not None and asset.kind in MEDIA_KINDS:
                # its copy is gone once scanned: the register needs the file itself
                click.echo(f"error  {shown}: inside an archive; extract it and register the "
                           "files", err=True)
                counts["failed"] += 1
                return
            if asset.kind not in MEDIA_KINDS:
                why = f"not image/video/audio ({asset.kind})"
                if asset.skip_reason and asset.skip_reason != NOT_MEDIA:
                    why = asset.skip_reason  # a symlink, FIFO, OS clutter...
                click.echo(f"skip   {shown}: {why}", err=True)
                counts["skipped"] += 1
                return
            try:
                sha = sha256_file(asset.path)
                existing = store.by_sha(sha)
                if existing is not None:
                    click.echo(f"same   {shown}: already registered as #{existing.id} "
                               f"({existing.path})")
                    counts["same"] += 1
                    return
                fp = fingerprint_file(asset.path, asset.kind, asset.media_type)
            except (OSError, MediaError) as exc:
                click.echo(f"error  {shown}: {exc}", err=True)
                counts["failed"] += 1
                return
            evidence = [f.to_dict() for f in result.findings]
            eid = store.add(sha256=sha, media_type=asset.media_type,
                            path=display_path(os.path.abspath(asset.path)),
                            size=asset.size, tool=tool, note=note, added=today,
                            verdict=result.verdict, evidence=evidence, fp=fp)
            flagged = f", detectors said: {result.verdict}" if evidence else ""
            click.echo(f"added  #{eid} {asset.kind} {shown}{flagged}")
            counts["added"] += 1

        run_scan(config, on_result=add, detectors=detectors)
    _pack_file_warning(store)
    failed, added, same, skipped = (counts[k] for k in ("failed", "added", "same", "skipped"))
    click.echo(f"{added} added, {same} already registered, {skipped} skipped, "
               f"{failed} failed", err=True)
    sys.exit(2 if failed else 0)


def _row(e: Entry) -> dict[str, Any]:
    return {"id": e.id, "sha256": e.sha256, "kind": e.kind, "media_type": e.media_type,
            "path": e.path, "size": e.size, "tool": e.tool, "note": e.note, "added": e.added,
            "width": e.width, "height": e.height, "duration": e.duration,
            "registration_verdict": e.verdict, "registration_findings": e.evidence,
            "notes": e.notes}


@register.command("list")
@_register_opt
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def list_cmd(register_path: str, as_json: bool) -> None:
    """List the registered entries."""
    with _open(register_path) as store:
        for e in store.entries():
            if as_json:
                click.echo(json.dumps(_row(e), sort_keys=True))
                continue
            length = f"{e.duration:.1f}s" if e.duration else (
                f"{e.width}x{e.height}" if e.width else "")
            click.echo(f"#{e.id:<5} {e.kind:<6} {e.sha256[:12]} {e.added} {length:<10} "
                       f"{e.tool or '-':<12} {e.verdict:<7} {e.path}"
                       + (f"  [{e.note}]" if e.note else ""))


@register.command("remove")
@click.argument("refs", nargs=-1, required=True)
@_register_opt
def remove_cmd(refs: tuple[str, ...], register_path: str) -> None:
    """Remove entries by id or SHA-256 (prefix of 8+ hex digits)."""
    missing = 0
    with _open(register_path, write=True) as store:
        for ref in refs:
            entry = store.get(ref)
            if entry is None:
                click.echo(f"no entry {ref!r} (or the prefix is ambiguous)", err=True)
                missing += 1
                continue
            store.remove(entry.id)
            click.echo(f"removed #{entry.id} {entry.path}")
    _pack_file_warning(store)
    sys.exit(2 if missing else 0)


@register.command("pack")
@_register_opt
def pack_cmd(register_path: str) -> None:
    """Rebuild the landmark pack that scans look audio up in, and the packed PDQ rows they
    open the register with, where they are not current (a 'register add' cut short, a
    register written by an earlier version). 'register add' and 'register remove' keep
    them current themselves."""
    with _open(register_path, write=True) as store:  # a writable open packs the PDQ rows
        current, rows = store.pack_state()
        had_file = store.pack_file_current()
        store.pack_audio()
        has_file = store.pack_file_current()
        hashes = store.counts()["pdq"]
        repacked = store.pdq_repacked
    click.echo(f"landmark pack {'already current' if current else 'rebuilt'}: "
               f"{rows:,} landmarks")
    if rows:
        click.echo(f"landmark pack file {store.pack_path}: "
                   + ("already current" if had_file else "written" if has_file else
                      "not written"))
    click.echo(f"PDQ rows {'packed' if repacked else 'already packed'}: {hashes:,} hashes")
    _pack_file_warning(store)
    if rows and not has_file:
        sys.exit(2)


@register.command("info")
@click.argument("ref", required=False)
@_register_opt
@click.option("--json", "as_json", is_flag=True, help="JSON output.")
def info_cmd(ref: str | None, register_path: str, as_json: bool) -> None:
    """Summary of the register, or everything about one entry (id or SHA-256 prefix)."""
    with _open(register_path) as store:
        if ref is None:
            entries, counts = store.entries(), store.counts()
            kinds: dict[str, int] = {}
            for e in entries:
                kinds[e.kind] = kinds.get(e.kind, 0) + 1
            data: dict[str, Any] = {"register": register_path,
                                    "size": os.path.getsize(register_path),
                                    "kinds": kinds, "counts": counts,
                                    "waveform_minutes": round(store.waveform_seconds() / 60, 2),
                                    "landmark_pack": "current" if store.pack_current() else
                                    "not current: scans read the audio table (slower); "
                                    "'deliverscan register pack' rebuilds it",
                                    "landmark_pack_file": (
                                        "none needed (no audio)" if not
                                        counts["audio"] else "current"
                                        if store.pack_file_current() else
                                        f"missing or not current ({store.pack_path}): "
                                        "scans read the pack into memory, or its tables "
                                        "past 22 hours of sound; 'deliverscan register "
                                        "pack' writes it"),
                                    "pdq_packed": "current" if store.pdq_packed_current() else
                                    "not current: scans read the pdq table (slower); "
                                    "'deliverscan register pack' packs it"}
        else:
            entry = store.get(ref)
            if entry is None:
                raise UserError(f"no entry {ref!r} (or the prefix is ambiguous)")
            data = _row(entry)
            data["fingerprints"] = store.per_entry_counts(entry.id)
    if as_json:
        click.echo(json.dumps(data, indent=2, sort_keys=True))
        return
    for key, value in data.items():
        if isinstance(value, (dict, list)):
            value = json.dumps(value, sort_keys=True)
        click.echo(f"{key:<22} {value}")


_EXPORT_COLUMNS = ("event", "deliverable", "rule", "kind", "rec_in", "rec_out", "rec_last",
                   "start_frame", "end_frame", "rate", "drop_frame", "entry_id", "entry_path",
                   "entry_sha256", "tool", "src_in", "src_out", "region_x", "region_y",
                   "region_width", "region_height", "confidence", "message")


def _reel(text: str) -> str:
    """An EDL reel name: CMX3600 allows 8 characters of A-Z, 0-9 and _."""
    out = "".join(c if c.isalnum() and c.isascii() else "_" for c in text.upper())
    return (out or "AX")[:8]


def matched_ranges(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Every register match of a JSON report as one row (time ranges and still regions)."""
    rows: list[dict[str, Any]] = []
    for result in report.get("results") or []:
        frames = [result, *(result.get("sequence") or {}).get("frames", [])]
        for res in frames:
            for f in res.get("findings") or []:
                if f.get("detector") != "register":
                    continue
                ev = f.get("evidence") or {}
                d = ev.get("deliverable_range") or {}
                r = ev.get("register_range") or {}
                entry = ev.get("entry") or {}
                reg = ev.get("region") or {}
                px = reg.get("pixels") or (reg if reg.get("units") == "pixels" else {})
                rows.append({
                    "event": len(rows) + 1, "deliverable": res.get("path", ""),
                    "rule": f.get("rule", ""), "kind": str(f.get("location", "")).split(":")[0],
                    "rec_in": d.get("start", ""), "rec_out": d.get("out", ""),
                    "rec_last": d.get("end", ""), "start_frame": d.get("start_frame", ""),
                    "end_frame": d.get("end_frame", ""), "rate": d.get("rate", ""),
                    "drop_frame": d.get("drop_frame", ""), "entry_id": entry.get("id", ""),
                    "entry_path": entry.get("path", ""), "entry_sha256": entry.get("sha256", ""),
                    "tool": entry.get("tool", ""), "src_in": r.get("start", ""),
                    "src_out": r.get("out", ""), "region_x": px.get("x", ""),
                    "region_y": px.get("y", ""), "region_width": px.get("width", ""),
                    "region_height": px.get("height", ""),
                    "confidence": ev.get("confidence", ""), "message": f.get("message", "")})
    return rows


def edl(rows: list[dict[str, Any]], title: str) -> str:
    """CMX3600 EDL of the timed matches: one cut event per matched range, the source being the
    registered temp asset (its own timecode when it has one) and the record side the
    deliverable; a comment line names the deliverable and the entry."""
    timed = [r for r in rows if r["rec_in"] and r["rec_out"]]
    drop = any(r["drop_frame"] is True for r in timed)
    lines = [f"TITLE: {title[:70]}", f"FCM: {'DROP FRAME' if drop else 'NON-DROP FRAME'}", ""]
    for n, r in enumerate(timed, 1):
        track = "V" if r["kind"] == "video" else "A"
        still_in, still_out = _still_source(r)
        src_in = r["src_in"] or still_in
        src_out = r["src_out"] or still_out
        lines.append(f"{n:03d}  {_reel('TEMP' + str(r['entry_id'])):<8} {track:<5} C        "
                     f"{src_in} {src_out} {r['rec_in']} {r['rec_out']}")
        lines.append(f"* FROM CLIP NAME: {os.path.basename(str(r['entry_path']))}")
        lines.append(f"* DELIVERABLE: {r['deliverable']}")
        lines.append(f"* REGISTER #{r['entry_id']} {str(r['entry_sha256'])[:16]} {r['rule']}"
                     + (f" TOOL {r['tool']}" if r["tool"] else ""))
        lines.append("")
    return "\r\n".join(lines) + "\r\n"


def _still_source(r: dict[str, Any]) -> tuple[str, str]:
    """A still has no source timecode: its source side runs from 00:00:00:00 for as many
    frames as it is on screen in the deliverable, labelled as the record side is
    (``00:00:00;00`` in a drop-frame list)."""
    from detectors.fingerprint.timecode import Timing  # noqa: PLC0415

    try:
        num, _, den = str(r["rate"] or "25").partition("/")
        timing = Timing.make(Fraction(int(num), int(den or 1)))
        timing = Timing(timing.rate, 0, bool(r["drop_frame"] is True), "assumed")
        return timing.label(0), timing.label(int(r["end_frame"]) - int(r["start_frame"]) + 1)
    except (ValueError, TypeError, ZeroDivisionError):
        return "00:00:00:00", "00:00:00:00"


@register.command("export-matches")
@click.argument("report_path", metavar="REPORT.json", type=click.Path(exists=True,
                                                                      dir_okay=False))
@click.option("-o", "--output", "output", required=True, type=click.Path(dir_okay=False),
              help="matches.edl (CMX3600) or matches.csv; '-' writes CSV to stdout.")
def export_matches_cmd(report_path: str, output: str) -> None:
    """Matched ranges of a JSON scan report as an EDL (CMX3600) or CSV for the edit suite."""
    import csv  # noqa: PLC0415
    import io  # noqa: PLC0415

    try:
        with open(report_path, encoding="utf-8") as fh:
            report = json.load(fh)
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot read {report_path}: {exc}") from None
    if not isinstance(report, dict) or "results" not in report:
        raise UserError(f"{report_path} is not a JSON scan report (scan --format json)")
    rows = matched_ranges(report)
    if output.lower().endswith(".edl"):
        text = edl(rows, f"deliverscan register matches {os.path.basename(report_path)}")
    elif output == "-" or output.lower().endswith(".csv"):
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=_EXPORT_COLUMNS, lineterminator="\r\n")
        w.writeheader()
        w.writerows(rows)
        text = buf.getvalue()
    else:
        raise UserError("the output must end in .edl or .csv")
    if output == "-":
        click.echo(text, nl=False)
    else:
        with open(output, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        click.echo(f"{len(rows)} match(es) written to {output}", err=True)


commands = [register]
