"""The ``deliverscan`` command line."""

from __future__ import annotations

import contextlib
import os
import sys

# Native libraries print chatter about damaged files straight to stderr; keep the terminal for
# the report (workers also silence their stderr; this covers --jobs 0 and the main process).
os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
from collections.abc import Iterator
from typing import TextIO

import click

from detectors.registry import load_all
from scanner.cache import default_path as default_cache_path
from scanner.configure import SetupError, configure
from scanner.progress import Progress
from scanner.reports import FORMATS, writer_for
from scanner.resume import ResumeError, load_previous, replay, run_header
from scanner.runner import run_scan
from scanner.versions import tool_info


def _version_text() -> str:
    info = tool_info()
    return (f"deliverscan {info['version']}\n"
            f"c2pa-python {info['c2pa_python'] or 'not installed'}\n"
            f"ExifTool {info['exiftool'] or 'not found'}\n"
            f"rule pack: {info['rulepack']}")


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        click.echo(_version_text())
        ctx.exit(0)


# Commands that live in their own modules, imported only when used: ``deliverscan scan`` must
# not pay for OpenCV (register) at start-up.
LAZY_COMMANDS = {
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
              callback=_print_version, help="Versions of the tool, c2pa-python, ExifTool, rules.")
def main() -> None:
    """Find AI-generated media in a delivery before it ships.

    Exit codes: 0 nothing blocking, 1 blocking findings, 2 incomplete scan or usage error.
    """


def _parse_reports(fmt: str | None, output: str | None,
                   reports: tuple[str, ...]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for spec in reports:
        name, sep, path = spec.partition(":")
        if not sep or not path:
            raise click.BadParameter(f"expected FORMAT:PATH, got {spec!r}", param_hint="--report")
        if name not in FORMATS:
            raise click.BadParameter(f"unknown format {name!r}", param_hint="--report")
        out.append((name, path))
    if fmt is not None or output is not None or not out:
        out.insert(0, (fmt or "table", output or "-"))
    return out


@contextlib.contextmanager
def _open_outputs(targets: list[tuple[str, str]],
                  append: str | None = None) -> Iterator[list[tuple[str, TextIO]]]:
    with contextlib.ExitStack() as stack:
        opened = []
        for name, path in targets:
            if path == "-":
                opened.append((name, sys.stdout))
            else:
                mode = "a" if path == append else "w"
                fh = stack.enter_context(open(path, mode, encoding="utf-8", newline=""))
                opened.append((name, fh))
        yield opened


def _explicit(**values: object) -> dict[str, object]:
    """The values of ``Options`` fields whose flag was given (command line or environment):
    defaults < policy file < flags given on this command line."""
    ctx = click.get_current_context()
    given = (click.core.ParameterSource.COMMANDLINE, click.core.ParameterSource.ENVIRONMENT)
    return {field: value for field, (param, value) in values.items()
            if ctx.get_parameter_source(param) in given}


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--format", "fmt", type=click.Choice(sorted(FORMATS)), default=None,
              help="Report format on --output (default: table on stdout).")
@click.option("--output", "-o", type=click.Path(dir_okay=False), default=None,
              help="Write the report here instead of stdout.")
@click.option("--report", "reports", multiple=True, metavar="FORMAT:PATH",
              help="Also write a report in FORMAT to PATH (repeatable).")
@click.option("--exclude", "excludes", multiple=True, metavar="GLOB",
              help="Skip paths or names matching GLOB (repeatable).")
@click.option("--follow-symlinks", is_flag=True, help="Follow symlinks (with loop detection).")
@click.option("--fail-on", type=click.Choice(["ai", "review"]), default="ai",
              help="'review' also fails the run on review findings.")
@click.option("--enable", "enable", multiple=True, metavar="DETECTOR",
              help="Enable a detector that is off by default.")
@click.option("--disable", "disable", multiple=True, metavar="DETECTOR",
              help="Disable a detector.")
@click.option("--verify-limit", type=int, default=256, show_default=True, metavar="MB",
              help="Verify C2PA signatures (full read) only for files up to this size.")
@click.option("--verify-all", is_flag=True, help="Verify C2PA of every file, whatever its size.")
@click.option("--trust-anchors", type=click.Path(exists=True, dir_okay=False),
              help="PEM file of C2PA trust anchors (makes 'valid' signers 'trusted').")
@click.option("--deep", is_flag=True, help="Read every format with ExifTool too (slower).")
@click.option("--show-prompts", is_flag=True, help="Show prompts/workflows whole in reports.")
@click.option("--timeout", type=float, default=30.0, show_default=True,
              help="Per-file time limit in seconds (6 h when the register detector is on).")
@click.option("--progress/--no-progress", default=None,
              help="Progress on stderr (default: when stderr is a terminal).")
@click.option("--policy", "policy_path", type=click.Path(dir_okay=False),
              envvar="DELIVERSCAN_POLICY", show_envvar=True,
              help="Policy TOML: fail_on, rule modes, approvals. Never read from the scanned tree.")
@click.option("--register", "register_path", type=click.Path(dir_okay=False),
              envvar="DELIVERSCAN_REGISTER", show_envvar=True,
              help="Temp-AI asset register (SQLite) to match content against.")
@click.option("--jobs", "-j", type=click.IntRange(min=0), default=None,
              help="Worker processes (default: all cores; 0 = in this process, no time limit).")
@click.option("--memory-limit", type=click.IntRange(min=64), default=2048, show_default=True,
              metavar="MB", help="Per-worker memory limit; a file that exceeds it is an error.")
@click.option("--cache", "cache_path", type=click.Path(dir_okay=False), default=None,
              help="Incremental cache file (default: the user cache dir).")
@click.option("--no-cache", is_flag=True, help="Do not read or write the incremental cache.")
@click.option("--resume", is_flag=True,
              help="Continue a killed run: skip what the --output/--report JSONL file holds.")
@click.option("--allow-empty", is_flag=True,
              help="Accept roots where no file could be checked (default: exit 2, unmounted?).")
def scan(paths: tuple[str, ...], fmt: str | None, output: str | None, reports: tuple[str, ...],
         excludes: tuple[str, ...], follow_symlinks: bool, fail_on: str,
         enable: tuple[str, ...], disable: tuple[str, ...], verify_limit: int, verify_all: bool,
         trust_anchors: str | None, deep: bool, show_prompts: bool, timeout: float,
         progress: bool | None, policy_path: str | None, register_path: str | None,
         jobs: int | None, memory_limit: int, cache_path: str | None, no_cache: bool,
         resume: bool, allow_empty: bool) -> None:
    """Scan files and folders for AI-generated media."""
    targets = _parse_reports(fmt, output, reports)
    resume_path = None
    if resume:
        resume_path = next((p for n, p in targets if n == "jsonl" and p != "-"), None)
        if resume_path is None:
            raise click.UsageError("--resume needs a JSONL output file (--format jsonl -o FILE)")
    explicit = _explicit(verify_limit=("verify_limit", verify_limit * 1024 * 1024),
                         verify_all=("verify_all", verify_all), deep=("deep", deep),
                         show_prompts=("show_prompts", show_prompts),
                         file_timeout=("timeout", timeout))
    try:
        config, detectors = configure(
            list(paths), policy=policy_path, fail_on_review=fail_on == "review",
            options=explicit, trust_anchors=trust_anchors, register=register_path,
            excludes=excludes, follow_symlinks=follow_symlinks, enable=enable,
            disable=disable, jobs=(os.cpu_count() or 1) if jobs is None else jobs,
            memory_limit=memory_limit * 1024 * 1024,
            cache_path=None if no_cache else (cache_path or default_cache_path()),
            allow_empty=allow_empty, keep_results=False)
        header = run_header(config, detectors)
        replayed: list = []
        if resume_path is not None:
            replayed, skip = replay(load_previous(resume_path, header))
            config.skip_paths, config.replay = skip, replayed
    except (SetupError, ResumeError) as exc:
        raise click.UsageError(str(exc)) from None
    show_progress = sys.stderr.isatty() if progress is None else progress
    replayed_ids = {id(r) for r in replayed}
    with _open_outputs(targets, append=resume_path) as outs:
        writers = [(writer_for(name, fh), path == resume_path) for (name, fh), (_, path)
                   in zip(outs, targets, strict=True)]
        for w, resumed in writers:
            start = getattr(w, "start", None)
            if callable(start) and not resumed:
                start(header)
        bar = Progress(sys.stderr, paths, excludes, follow_symlinks) if show_progress else None

        def on_result(result):  # type: ignore[no-untyped-def]
            for w, resumed in writers:
                if not (resumed and id(result) in replayed_ids):
                    w.add(result)
            if bar:
                bar.tick()

        try:
            report = run_scan(config, on_result=on_result, detectors=detectors)
        finally:
            if bar:
                bar.close()
        for w, _ in writers:
            w.finish(report)
    sys.exit(report.summary.exit_code)


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
