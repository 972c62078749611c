"""``deliverscan scan``: the command a delivery desk runs.

Its detector flags (``--deep``, ``--verify-limit``, ``--register``…) are not written here:
each detector declares its settings (``detectors.api.Option``) and the ones with a ``flag``
become options of this command; every other setting is reachable with ``--set
DETECTOR.KEY=VALUE``. This module names no detector.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from typing import Any, TextIO

import click

from detectors.api import Option
from detectors.model import AssetResult
from detectors.registry import load_all
from scanner.cache import default_path as default_cache_path
from scanner.configure import SetupError, configure, parse_setting
from scanner.progress import Progress
from scanner.reports import FORMATS, writer_for
from scanner.resume import ResumeError, load_previous, replay, run_header
from scanner.runner import run_scan

GIVEN = (click.core.ParameterSource.COMMANDLINE, click.core.ParameterSource.ENVIRONMENT)


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


def _param_name(detector: str, key: str) -> str:
    return f"setting__{detector}__{key}"


def _flag_option(detector: str, opt: Option) -> click.Option:
    """A detector's declared flag as a click option (only given values count)."""
    assert opt.flag is not None
    name = _param_name(detector, opt.key)
    if opt.type is bool:
        return click.Option([opt.flag, name], is_flag=True, default=False, help=opt.help,
                            envvar=opt.envvar, show_envvar=opt.envvar is not None)
    kind: Any = click.Path(dir_okay=False) if opt.path else opt.type
    return click.Option([opt.flag, name], type=kind, default=None, metavar=opt.metavar,
                        help=opt.help, envvar=opt.envvar, show_envvar=opt.envvar is not None)


def _detector_flags() -> list[click.Option]:
    """One option per declared flag of every installed detector (first one wins a clash)."""
    taken = {"--set", "--timeout", "--show-prompts", "--policy", "--enable", "--disable"}
    out = []
    for item in load_all():
        for opt in getattr(item.detector, "options", ()) or ():
            if opt.flag and opt.flag not in taken:
                taken.add(opt.flag)
                out.append(_flag_option(item.name, opt))
    return out


def _with_detector_flags(command: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(_detector_flags()):
        click.decorators._param_memo(command, option)  # as @click.option would
    return command


def _given_settings(ctx: click.Context, values: dict[str, Any],
                    sets: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """Detector settings given on this command line: declared flags, then ``--set``."""
    out: dict[str, dict[str, Any]] = {}
    for param, value in values.items():
        if param.startswith("setting__") and ctx.get_parameter_source(param) in GIVEN:
            _, detector, key = param.split("__", 2)
            out.setdefault(detector, {})[key] = value
    for text in sets:
        detector, key, value = parse_setting(text)
        out.setdefault(detector, {})[key] = value
    return out


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--format", "fmt", type=click.Choice(sorted(FORMATS)), default=None,
              help="Report format on --output (default: table on stdout).")
@click.option("--output", "-o", type=click.Path(dir_okay=False), default=None,
              help="Write the report here instead of stdout.")
@click.option("--report", "reports", multiple=True, metavar="FORMAT:PATH",
              help="Also write a report in FORMAT to PATH (repeatable).")
@click.option("--exclude", "excludes", multiple=True, metavar="GLOB",
              help="Skip paths or names matching GLOB (repeatable; listed as not scanned).")
@click.option("--follow-symlinks", is_flag=True, help="Follow symlinks (with loop detection).")
@click.option("--fail-on", type=click.Choice(["ai", "review"]), default="ai",
              help="'review' also fails the run on review findings.")
@click.option("--enable", "enable", multiple=True, metavar="DETECTOR",
              help="Enable a detector that is off by default.")
@click.option("--disable", "disable", multiple=True, metavar="DETECTOR",
              help="Disable a detector.")
@click.option("--set", "sets", multiple=True, metavar="DETECTOR.KEY=VALUE",
              help="A detector setting (deliverscan detectors --verbose lists them).")
@click.option("--show-prompts", is_flag=True, help="Show prompts/workflows whole in reports.")
@click.option("--timeout", type=float, default=30.0, show_default=True,
              help="Per-file time limit in seconds (longer when a detector needs it, e.g. "
                   "the register's 6 h).")
@click.option("--progress/--no-progress", default=None,
              help="Progress on stderr (default: when stderr is a terminal).")
@click.option("--policy", "policy_path", type=click.Path(dir_okay=False),
              envvar="DELIVERSCAN_POLICY", show_envvar=True,
              help="Policy TOML: fail_on, rule modes, approvals. Never read from the scanned tree.")
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
@_with_detector_flags
def scan(paths: tuple[str, ...], fmt: str | None, output: str | None, reports: tuple[str, ...],
         excludes: tuple[str, ...], follow_symlinks: bool, fail_on: str,
         enable: tuple[str, ...], disable: tuple[str, ...], sets: tuple[str, ...],
         show_prompts: bool, timeout: float, progress: bool | None, policy_path: str | None,
         jobs: int | None, memory_limit: int, cache_path: str | None, no_cache: bool,
         resume: bool, allow_empty: bool, **detector_flags: Any) -> None:
    """Scan files and folders for AI-generated media."""
    ctx = click.get_current_context()
    targets = _parse_reports(fmt, output, reports)
    resume_path = None
    if resume:
        resume_path = next((p for n, p in targets if n == "jsonl" and p != "-"), None)
        if resume_path is None:
            raise click.UsageError("--resume needs a JSONL output file (--format jsonl -o FILE)")
    core = {field: value for field, param, value in (
        ("show_prompts", "show_prompts", show_prompts), ("file_timeout", "timeout", timeout))
        if ctx.get_parameter_source(param) in GIVEN}
    try:
        config, detectors = configure(
            list(paths), policy=policy_path, fail_on_review=fail_on == "review",
            options=core, settings=_given_settings(ctx, detector_flags, sets),
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

        def on_result(result: AssetResult) -> None:
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


commands = [scan]
