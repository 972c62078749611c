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

from detectors.api import Options
from detectors.registry import load_all
from scanner.cache import default_path as default_cache_path
from scanner.policy import Policy, PolicyError
from scanner.progress import Progress
from scanner.reports import FORMATS, writer_for
from scanner.resume import load_previous, replay
from scanner.runner import ScanConfig, run_scan, select_detectors
from scanner.versions import tool_info

REGISTER_TIMEOUT = 6 * 3600.0


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


def _read_anchors(path: str | None) -> str | None:
    if not path:
        return None
    with open(path, encoding="utf-8") as fh:
        return fh.read()


_PARAM_FOR_OPTION = {"verify_limit": "verify_limit", "verify_all": "verify_all", "deep": "deep",
                     "show_prompts": "show_prompts", "file_timeout": "timeout"}


def _explicit_flags_win(options: Options, **values: object) -> None:
    """Defaults < policy file < flags given on this command line."""
    ctx = click.get_current_context()
    for attr, value in values.items():
        source = ctx.get_parameter_source(_PARAM_FOR_OPTION[attr])
        if source in (click.core.ParameterSource.COMMANDLINE,
                      click.core.ParameterSource.ENVIRONMENT):
            setattr(options, attr, value)


def _load_policy(path: str | None, roots: tuple[str, ...], fail_on: str) -> Policy:
    if not path:
        return Policy.default(fail_on_review=fail_on == "review")
    try:
        policy = Policy.load(path)
    except PolicyError as exc:
        raise click.UsageError(str(exc)) from None
    if fail_on == "review":
        policy.fail_on = frozenset({"ai", "review"})
    policy.warn_if_inside(roots)
    return policy


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
def scan(paths: tuple[str, ...], fmt: str | None, output: str | None, reports: tuple[str, ...],
         excludes: tuple[str, ...], follow_symlinks: bool, fail_on: str,
         enable: tuple[str, ...], disable: tuple[str, ...], verify_limit: int, verify_all: bool,
         trust_anchors: str | None, deep: bool, show_prompts: bool, timeout: float,
         progress: bool | None, policy_path: str | None, register_path: str | None,
         jobs: int | None, memory_limit: int, cache_path: str | None, no_cache: bool,
         resume: bool) -> None:
    """Scan files and folders for AI-generated media."""
    targets = _parse_reports(fmt, output, reports)
    replayed: list = []
    skip: frozenset[str] = frozenset()
    resume_path = None
    if resume:
        resume_path = next((p for n, p in targets if n == "jsonl" and p != "-"), None)
        if resume_path is None:
            raise click.UsageError("--resume needs a JSONL output file (--format jsonl -o FILE)")
        replayed, skip = replay(load_previous(resume_path))
    options = Options(verify_limit=verify_limit * 1024 * 1024, verify_all=verify_all,
                      trust_anchors=_read_anchors(trust_anchors), deep=deep,
                      show_prompts=show_prompts, file_timeout=timeout)
    policy = _load_policy(policy_path, paths, fail_on)
    policy.configure(options)
    _explicit_flags_win(options, verify_limit=verify_limit * 1024 * 1024,
                        verify_all=verify_all, deep=deep, show_prompts=show_prompts,
                        file_timeout=timeout)
    if trust_anchors:
        options.trust_anchors = _read_anchors(trust_anchors)
    if register_path:
        options.extra["register"] = register_path
    if options.extra.get("register") and "register" not in enable:
        enable = (*enable, "register")
    if "register" in enable and click.get_current_context().get_parameter_source(
            "timeout") == click.core.ParameterSource.DEFAULT:
        # content matching decodes whole programmes (a 2-hour master takes about as long as
        # it plays): the 30 s hostile-file limit would cut every long master off
        options.file_timeout = REGISTER_TIMEOUT
    config = ScanConfig(roots=list(paths), options=options, policy=policy,
                        excludes=excludes, follow_symlinks=follow_symlinks, enable=enable,
                        disable=disable, keep_results=False,
                        jobs=(os.cpu_count() or 1) if jobs is None else jobs,
                        memory_limit=memory_limit * 1024 * 1024,
                        cache_path=None if no_cache else (cache_path or default_cache_path()),
                        skip_paths=skip, replay=replayed)
    loaded = load_all()
    known = {item.name for item in loaded}
    for name in enable + disable:
        if name not in known:
            raise click.BadParameter(f"unknown detector {name!r}", param_hint="--enable/--disable")
    show_progress = sys.stderr.isatty() if progress is None else progress
    replayed_ids = {id(r) for r in replayed}
    with _open_outputs(targets, append=resume_path) as outs:
        writers = [(writer_for(name, fh), path == resume_path) for (name, fh), (_, path)
                   in zip(outs, targets, strict=True)]
        bar = Progress(sys.stderr, paths, excludes, follow_symlinks) if show_progress else None

        def on_result(result):  # type: ignore[no-untyped-def]
            for w, resumed in writers:
                if not (resumed and id(result) in replayed_ids):
                    w.add(result)
            if bar:
                bar.tick()

        try:
            report = run_scan(config, on_result=on_result,
                              detectors=select_detectors(config, loaded))
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
