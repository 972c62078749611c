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
    sys.exit(2 if missing else 0)


@register.command("info")
@click.argument("ref", required=False)
@_register_opt
@click.option("--json", "as_json", is_flag=True, help="JSON output.")
def info_cmd(ref: str | None, register_path: str, as_json: bool) -> None:
    """Summary of the register, or everything about one entry (id or SHA-256 prefix)."""
    with _open(register_path) as store:
        if ref is None:
            entries = store.entries()
            kinds: dict[str, int] = {}
            for e in entries:
                kinds[e.kind] = kinds.get(e.kind, 0) + 1
            data: dict[str, Any] = {"register": register_path,
                                    "size": os.path.getsize(register_path),
                                    "kinds": kinds, "counts": store.counts()}
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


commands = [register]
