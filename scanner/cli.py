"""The ``deliverscan`` command line."""

from __future__ import annotations

import json
import os
import sys
from typing import Any

# Native libraries print chatter about damaged files straight to stderr; keep the terminal for
# the report (workers also silence their stderr; this covers --jobs 0 and the main process).
os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")

import click

from detectors.formats import registry
from detectors.formats.archive import UNSUPPORTED
from detectors.model import ARCHIVE
from detectors.registry import load_all
from scanner.versions import version_lines


def _version_text() -> str:
    return "\n".join(version_lines())


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        click.echo(_version_text())
        ctx.exit(0)


# Commands that live in their own modules, imported only when used: ``deliverscan scan`` must
# not pay for OpenCV (register) at start-up, and ``--version`` not for loading detectors.
LAZY_COMMANDS = {
    "scan": "scanner.scan_cmd:scan",
    "approve": "scanner.policy_cmd:approve",
    "policy": "scanner.policy_cmd:policy",
    "explain": "scanner.explain:explain",
    "register": "scanner.register_cmd:register",
    "rules": "scanner.rules_cmd:rules",
    "baseline": "scanner.baseline:baseline",
}


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *LAZY_COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in LAZY_COMMANDS and cmd_name not in self.commands:
            import importlib

            module_name, _, attr = LAZY_COMMANDS[cmd_name].partition(":")
            try:
                module = importlib.import_module(module_name)
            except ModuleNotFoundError as exc:
                if exc.name != module_name:
                    raise
                return None
            self.add_command(getattr(module, attr), cmd_name)
        return super().get_command(ctx, cmd_name)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--version", is_flag=True, expose_value=False, is_eager=True,
              callback=_print_version, help="Versions of the tool, its detectors and their data.")
def main() -> None:
    """Find AI-generated media in a delivery before it ships.

    Exit codes: 0 nothing blocking, 1 blocking findings, 2 incomplete scan or usage error.
    """


def _coverage_rows(loaded: list[Any]) -> list[dict[str, Any]]:
    """Per media type (every format sniffing knows): what each detector can do with it here."""
    from detectors.formats import registry

    rows = []
    for fmt in registry.formats():
        for media_type, kind in fmt.kinds.items():
            if kind not in ("image", "video", "audio") and media_type not in (
                    "application/pdf", "application/c2pa", "application/rdf+xml",
                    "application/json", "text/plain"):
                continue
            row: dict[str, Any] = {"media_type": media_type, "label": fmt.label_of(media_type),
                                   "kind": kind, "detectors": {}}
            for item in loaded:
                hook = getattr(item.detector, "covers", None)
                if item.detector is None or not item.available:
                    state, why = "no", f"detector unavailable: {item.reason}"
                elif callable(hook):
                    try:
                        state, why = hook(media_type, kind)
                    except Exception as exc:  # noqa: BLE001 - a listing must not crash
                        state, why = "no", f"cannot tell: {exc}"
                else:
                    kinds = getattr(item.detector, "kinds", ())
                    state, why = ("yes", "") if kind in kinds else ("no", "")
                row["detectors"][item.name] = {"state": state, "detail": why}
            rows.append(row)
    return rows


@main.command("detectors")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--verbose", "-v", is_flag=True, help="Also each detector's settings.")
def detectors_cmd(as_json: bool, verbose: bool) -> None:
    """List every detector, whether it can run here, and which formats each one reads."""
    loaded = load_all()
    rows = _coverage_rows(loaded)
    if as_json:
        click.echo(json.dumps({
            "detectors": [{
                "name": item.name, "version": item.version, "source": item.source,
                "available": item.available, "reason": item.reason,
                "default_enabled": bool(getattr(item.detector, "default_enabled", True)),
                "kinds": sorted(getattr(item.detector, "kinds", ())),
                "settings": [{"key": o.key, "type": o.type.__name__, "default": o.default,
                              "flag": o.flag, "help": o.help}
                             for o in getattr(item.detector, "options", ()) or ()],
            } for item in loaded],
            "formats": rows}, indent=2, ensure_ascii=False, default=str))
        return
    for item in loaded:
        state = "available" if item.available else f"unavailable: {item.reason}"
        det = item.detector
        default = "" if det is None or getattr(det, "default_enabled", True) else " (off by default)"
        kinds = ",".join(sorted(getattr(det, "kinds", ()))) if det else "-"
        click.echo(f"{item.name:<12} {item.version:<8} {item.source:<10} {kinds:<28} {state}{default}")
        if verbose:
            for o in getattr(det, "options", ()) or ():
                flag = f" ({o.flag})" if o.flag else ""
                click.echo(f"    {item.name}.{o.key} = {o.default!r}{flag}: {o.help}")
    names = [item.name for item in loaded]
    click.echo("\nFormats read on this machine (yes / partial / no):")
    click.echo(f"  {'format':<36} {'kind':<7} " + " ".join(f"{n:<9}" for n in names))
    gaps = []
    for row in rows:
        marks = [row["detectors"][n]["state"] for n in names]
        label = f"{row['label']} ({row['media_type']})"[:36]
        click.echo(f"  {label:<36} {row['kind']:<7} " + " ".join(f"{m:<9}" for m in marks))
        for n in names:
            d = row["detectors"][n]
            if d["state"] != "yes" and "needs" in d["detail"]:
                gaps.append(f"  {row['label']}: {n}: {d['detail']}")
    if gaps:
        click.echo("\nNot readable here:")
        for line in dict.fromkeys(gaps):
            click.echo(line)
    opened = [fmt.label_of(t) for fmt in registry.formats() for t, k in fmt.kinds.items()
              if k == ARCHIVE and t not in UNSUPPORTED]
    click.echo(f"\nArchives looked inside (each member judged as a file): {', '.join(opened)}; "
               f"not opened (an error, never clean): {', '.join(UNSUPPORTED.values())}")
    click.echo("IMF packages (a folder with ASSETMAP.xml): checked against the ASSETMAP and "
               "packing list; findings name composition and timecode")


def run() -> None:
    """Console entry point. Exit codes mean what the README says, always: 0 nothing blocking,
    1 blocking findings, 2 incomplete scan or usage error. A user mistake is one line on
    stderr, never a traceback (``DELIVERSCAN_DEBUG=1`` shows it); anything unexpected exits 2,
    never 1, which would read as "AI found" to a script."""
    try:
        main(prog_name="deliverscan", standalone_mode=False)
    except click.exceptions.Exit as exc:  # --help, --version, ctx.exit()
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(2)
    except click.exceptions.Abort:
        click.echo("deliverscan: aborted", err=True)
        sys.exit(2)
    except SystemExit:
        raise
    except KeyboardInterrupt:
        click.echo("deliverscan: interrupted", err=True)
        sys.exit(2)
    except BrokenPipeError:
        sys.exit(2)
    except Exception as exc:  # noqa: BLE001
        if os.environ.get("DELIVERSCAN_DEBUG"):
            import traceback

            traceback.print_exc()
        click.echo(f"deliverscan: internal error: {type(exc).__name__}: {exc} (exit 2; set "
                   "DELIVERSCAN_DEBUG=1 for the traceback)", err=True)
        sys.exit(2)
