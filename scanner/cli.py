"""The ``deliverscan`` command line."""

from __future__ import annotations

import os
import sys

# Native libraries print chatter about damaged files straight to stderr; keep the terminal for
# the report (workers also silence their stderr; this covers --jobs 0 and the main process).
os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")

import click

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


@main.command("detectors")
def detectors_cmd() -> None:
    """List every detector, its version, and whether it can run here."""
    for item in load_all():
        state = "available" if item.available else f"unavailable: {item.reason}"
        det = item.detector
        default = "" if det is None or getattr(det, "default_enabled", True) else " (off by default)"
        kinds = ",".join(sorted(getattr(det, "kinds", ()))) if det else "-"
        click.echo(f"{item.name:<12} {item.version:<8} {item.source:<10} {kinds:<28} {state}{default}")


def run() -> None:
    """Console entry point. Anything unexpected exits 2 ("incomplete"), never 1, which would
    read as "AI found" to a script."""
    try:
        main(prog_name="deliverscan")
    except SystemExit:
        raise
    except KeyboardInterrupt:
        click.echo("deliverscan: interrupted", err=True)
        sys.exit(2)
    except Exception:  # noqa: BLE001
        import traceback

        traceback.print_exc()
        click.echo("deliverscan: internal error: the scan is incomplete (exit 2)", err=True)
        sys.exit(2)
