"""``deliverscan scan``: the command a delivery desk runs.

Its detector flags (``--deep``, ``--verify-limit``, ``--register``…) are not written here:
each detector declares its settings (``detectors.api.Option``) and the ones with a ``flag``
become options of this command; every other setting is reachable with ``--set
DETECTOR.KEY=VALUE``. This module names no detector.

What the operator always sees: the report where it was asked for (stdout table by default,
``-o``/``--report``/``--output-dir`` files too), and, whenever the terminal is not already
showing the table, the closing summary paragraph on stderr (``--quiet`` drops it). Reports are
never written inside a scanned tree. A report piped into ``head`` that stops reading does not
change the exit code.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shlex
import shutil
import signal
import sys
import threading
from collections.abc import Iterator
from typing import Any, TextIO

import click

from detectors.api import Option
from detectors.formats.archive import Limits
from detectors.model import display_path
from detectors.registry import load_all
from scanner import userconfig
from scanner.archives import ArchiveSettings
from scanner.baseline import Baseline, BaselineError
from scanner.cache import default_path as default_cache_path
from scanner.cluster import ClusterError
from scanner.configure import SetupError, configure, parse_setting, root_containing
from scanner.progress import Progress
from scanner.reports import FILE_NAMES, FORMATS, writer_for
from scanner.reports.table import summary_lines
from scanner.resume import ResumeError, load_previous, replay, run_header, written_sequences
from scanner.runner import ScanConfig, StageReport, remove_run_folders, run_scan
from scanner.sequences import Sequencer
from scanner.stored import Reported, StoredResult
from scanner.usererror import UserError

GIVEN = (click.core.ParameterSource.COMMANDLINE, click.core.ParameterSource.ENVIRONMENT)
FROM_CONFIG = click.core.ParameterSource.DEFAULT_MAP
DEFAULT_DIR_FORMATS = ("json", "csv", "html", "junit", "sarif")


# ---- outputs -----------------------------------------------------------------------------------

class SafeStdout:
    """stdout that a reader may stop reading (``| head``): the scan goes on, the exit code is
    still the scan's. After a broken pipe, further output goes to /dev/null."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.broken = False

    def write(self, text: str) -> int:
        if not self.broken:
            try:
                return self.stream.write(text)
            except BrokenPipeError:
                self._break()
        return len(text)

    def flush(self) -> None:
        if not self.broken:
            try:
                self.stream.flush()
            except BrokenPipeError:
                self._break()

    def _break(self) -> None:
        self.broken = True
        with contextlib.suppress(OSError, ValueError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self.stream.fileno())  # so interpreter shutdown cannot fail
            os.close(devnull)

    def isatty(self) -> bool:
        return self.stream.isatty()


def _targets(fmt: str | None, output: str | None, reports: tuple[str, ...],
             output_dir: str | None, formats: str | None) -> list[tuple[str, str]]:
    """(format, path or "-") for every report asked for: the primary one (``--format``/``-o``,
    the table on stdout by default), each ``--report``, each ``--output-dir`` format."""
    out: list[tuple[str, str]] = [(fmt or "table", output or "-")]
    for spec in reports:
        name, sep, path = spec.partition(":")
        if not sep or not path:
            raise click.BadParameter(f"expected FORMAT:PATH, got {spec!r}", param_hint="--report")
        if name not in FORMATS:
            raise click.BadParameter(f"unknown format {name!r}", param_hint="--report")
        out.append((name, path))
    if output_dir is not None:
        names = [n.strip() for n in (formats or ",".join(DEFAULT_DIR_FORMATS)).split(",")
                 if n.strip()]
        for name in names:
            if name not in FORMATS:
                raise click.BadParameter(f"unknown format {name!r}", param_hint="--formats")
            out.append((name, os.path.join(output_dir, FILE_NAMES[name])))
    elif formats is not None:
        raise click.UsageError("--formats goes with --output-dir")
    return out


@contextlib.contextmanager
def _open_outputs(targets: list[tuple[str, str]], stdout: TextIO,
                  append: str | None = None) -> Iterator[list[tuple[str, TextIO]]]:
    with contextlib.ExitStack() as stack:
        opened = []
        for name, path in targets:
            if path == "-":
                opened.append((name, stdout))
                continue
            mode = "a" if path == append else "w"
            try:
                fh: TextIO = stack.enter_context(  # type: ignore[assignment]
                    open(path, mode, encoding="utf-8", newline=""))
            except OSError as exc:
                raise UserError(f"cannot write the {name} report to {path}: "
                                       f"{exc.strerror or exc}") from None
            opened.append((name, fh))
        yield opened


# ---- options -----------------------------------------------------------------------------------

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


def with_detector_flags(command: Any) -> Any:
    for option in reversed(_detector_flags()):
        click.decorators._param_memo(command, option)  # as @click.option would
    return command


class _ScanCommand(click.Command):
    """Loads the user's config file as defaults for this command's options (click's default
    map, as black reads pyproject.toml): flags given on the command line still win."""

    def make_context(self, info_name: str | None, args: list[str],
                     parent: click.Context | None = None, **extra: Any) -> click.Context:
        by_key = {}
        for param in self.params:
            if isinstance(param, click.Option):
                longs = [o for o in param.opts if o.startswith("--")]
                if longs:
                    by_key[longs[0][2:].replace("-", "_")] = param.name
        try:
            cfg = userconfig.load(known_options=set(by_key))
        except userconfig.ConfigFileError as exc:
            raise UserError(str(exc)) from None
        extra.setdefault("default_map", {}).update(
            {by_key[k]: v for k, v in cfg.scan.items()})
        ctx = super().make_context(info_name, args, parent=parent, **extra)
        ctx.meta["deliverscan.userconfig"] = cfg
        return ctx


def detector_settings(ctx: click.Context, values: dict[str, Any], sets: tuple[str, ...],
                      cfg: userconfig.UserConfig | None = None
                      ) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """(explicit, defaults) detector settings: flags and ``--set`` given on this command line;
    the user config's (its ``[detectors.*]`` tables and detector flags under ``[scan]``)."""
    given: dict[str, dict[str, Any]] = {}
    defaults: dict[str, dict[str, Any]] = {
        k: dict(v) for k, v in (cfg.settings if cfg else {}).items()}
    for param, value in values.items():
        if not param.startswith("setting__"):
            continue
        _, detector, key = param.split("__", 2)
        source = ctx.get_parameter_source(param)
        if source in GIVEN:
            given.setdefault(detector, {})[key] = value
        elif source == FROM_CONFIG:
            defaults.setdefault(detector, {})[key] = value
    for text in sets:
        detector, key, value = parse_setting(text)
        given.setdefault(detector, {})[key] = value
    return given, defaults


def _roots(paths: tuple[str, ...], from_file: str | None, null: bool) -> list[str]:
    roots = list(paths)
    if from_file is not None:
        try:
            if from_file == "-":
                data = sys.stdin.buffer.read()
            else:
                with open(from_file, "rb") as fh:
                    data = fh.read()
        except OSError as exc:
            raise UserError(f"--from-file {from_file}: {exc.strerror or exc}") from None
        parts = data.split(b"\0") if null else data.splitlines()
        roots += [os.fsdecode(p) for p in parts if p.strip(b" \t\r\n" if not null else b"")]
    elif null:
        raise click.UsageError("--null goes with --from-file")
    if not roots:
        raise click.UsageError("nothing to scan: give PATHS or --from-file LIST")
    return roots


def _verbose(config: Any, detectors: list[Any], cfg: userconfig.UserConfig,
             targets: list[tuple[str, str]], err: TextIO) -> None:
    """What this run will do, before it starts (``--verbose``)."""
    lines = [f"user config: {cfg.path or 'none (' + userconfig.default_path() + ')'}",
             f"policy: {config.policy.source or 'built-in defaults'}; fail on "
             f"{', '.join(sorted(config.policy.fail_on))}",
             f"roots: {', '.join(display_path(r) for r in config.roots)}",
             f"workers: {config.jobs or 'in this process'}; per-file limit "
             f"{config.options.file_timeout:g} s; cache: {config.cache_path or 'off'}"]
    if config.excludes:
        lines.append(f"excluded: {', '.join(config.excludes)}")
    for item in detectors:
        settings = item.detector.settings(config.options) if hasattr(item.detector, "settings") \
            else config.options.settings.get(item.name, {})
        shown = ", ".join(f"{k}={v}" for k, v in settings.items())
        lines.append(f"detector {item.name} {item.version}" + (f": {shown}" if shown else ""))
    for name, path in targets:
        lines.append(f"report {name} -> {'stdout' if path == '-' else path}")
    for line in lines:
        err.write(f"deliverscan: {line}\n")


def _resume_hint(targets: list[tuple[str, str]]) -> str:
    argv = [a for a in sys.argv[1:] if a != "--resume"]
    cmd = "deliverscan " + " ".join(shlex.quote(a) for a in argv)
    if any(name == "jsonl" and path != "-" for name, path in targets):
        return f"continue with: {cmd} --resume"
    return ("to make a long run resumable, write a JSONL report: "
            f"{cmd} --report jsonl:run.jsonl (then add --resume after an interruption)")


# ---- the command --------------------------------------------------------------------------------

@click.command(cls=_ScanCommand, context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--from-file", type=click.Path(dir_okay=False, allow_dash=True), default=None,
              metavar="LIST", help="Also scan the paths listed in LIST, one per line ('-': stdin).")
@click.option("--null", "-0", is_flag=True,
              help="--from-file LIST is NUL-separated (find -print0).")
@click.option("--format", "fmt", type=click.Choice(sorted(FORMATS)), default=None,
              help="Report format on --output (default: table on stdout).")
@click.option("--output", "-o", type=click.Path(dir_okay=False), default=None,
              help="Write the report here instead of stdout.")
@click.option("--report", "reports", multiple=True, metavar="FORMAT:PATH",
              help="Also write a report in FORMAT to PATH (repeatable).")
@click.option("--output-dir", type=click.Path(file_okay=False), default=None,
              help="Also write report.<format> files here (see --formats).")
@click.option("--formats", default=None, metavar="LIST",
              help=f"Formats --output-dir writes (default: {','.join(DEFAULT_DIR_FORMATS)}).")
@click.option("--exclude", "excludes", multiple=True, metavar="GLOB",
              help="Skip paths or names matching GLOB (repeatable; listed as not scanned).")
@click.option("--follow-symlinks", is_flag=True, help="Follow symlinks (with loop detection).")
@click.option("--fail-on", type=click.Choice(["ai", "review"]), default="ai",
              help="'review' also fails the run on review findings.")
@click.option("--exit-zero", is_flag=True,
              help="Report only: exit 0 even with blocking findings (an incomplete scan is "
                   "still 2).")
@click.option("--baseline", "baseline_path", type=click.Path(dir_okay=False), default=None,
              help="Accept the findings in this baseline; fail only on new ones.")
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
@click.option("--quiet", "-q", is_flag=True, help="No summary, progress or warnings on stderr.")
@click.option("--verbose", "-v", is_flag=True, help="Say what the run will do before it starts.")
@click.option("--color/--no-color", "colour", default=None,
              help="Colour the table (default: on a terminal, unless NO_COLOR is set).")
@click.option("--policy", "policy_path", type=click.Path(dir_okay=False),
              envvar="DELIVERSCAN_POLICY", show_envvar=True,
              help="Policy TOML: fail_on, rule modes, approvals. Never read from the scanned tree.")
@click.option("--jobs", "-j", type=click.IntRange(min=0), default=None,
              help="Worker processes (default: all cores; a few named files: this process, "
                   "under a watchdog; 0 = this process, no time limit).")
@click.option("--memory-limit", type=click.IntRange(min=64), default=2048, show_default=True,
              metavar="MB", help="Per-worker memory limit; a file that exceeds it is an error.")
@click.option("--cache", "cache_path", type=click.Path(dir_okay=False), default=None,
              help="Incremental cache file (default: the user cache dir).")
@click.option("--no-cache", is_flag=True, help="Do not read or write the incremental cache.")
@click.option("--resume", is_flag=True,
              help="Continue a killed run: skip what the --output/--report JSONL file holds.")
@click.option("--allow-empty", is_flag=True,
              help="Accept roots where no file could be checked (default: exit 2, unmounted?).")
@click.option("--sequence-sample", type=click.IntRange(min=1), default=1, metavar="N",
              show_default=True,
              help="Check one frame in N of each image sequence (the first and last always); "
                   "the others are listed as not checked.")
@click.option("--cluster", metavar="ADDRESS", default=None,
              help="Scan on a Dask cluster: tcp://scheduler:8786, or local:N for N local "
                   "worker processes (pip install deliverscan[dask]).")
@click.option("--stages/--no-stages", default=None,
              help="Cheap checks (sniffing, C2PA, metadata) on the whole tree first, then the "
                   "costly ones (pixels, deep reads, large C2PA hashes); default: when someone "
                   "watches (a terminal, --verbose); a batch run takes one pass, faster.")
@click.option("--verify-imf", is_flag=True,
              help="Hash every IMF package asset against its packing list (reads each in "
                   "full).")
@click.option("--sequences/--no-sequences", "group_sequences", default=True,
              help="Report each image sequence as one entry (default) or every frame alone.")
@click.option("--temp-dir", type=click.Path(file_okay=False), default=None,
              help="Where archive members are copied to be read (default: $TMPDIR); never "
                   "inside a scanned root.")
@click.option("--archive-member-limit", type=click.IntRange(min=1), default=None, metavar="MB",
              help="Largest archive member read, uncompressed (default: 16384); a larger "
                   "member is an error.")
@click.option("--archive-depth", type=click.IntRange(min=0), default=None,
              help="Archives inside archives opened this deep (default: 3); deeper is an error.")
@with_detector_flags
def scan(paths: tuple[str, ...], from_file: str | None, null: bool, fmt: str | None,
         output: str | None, reports: tuple[str, ...], output_dir: str | None,
         formats: str | None, excludes: tuple[str, ...], follow_symlinks: bool, fail_on: str,
         exit_zero: bool, baseline_path: str | None, enable: tuple[str, ...],
         disable: tuple[str, ...], sets: tuple[str, ...], show_prompts: bool, timeout: float,
         progress: bool | None, quiet: bool, verbose: bool, colour: bool | None,
         policy_path: str | None, jobs: int | None, memory_limit: int, cache_path: str | None,
         no_cache: bool, resume: bool, allow_empty: bool, temp_dir: str | None,
         archive_member_limit: int | None, archive_depth: int | None, sequence_sample: int,
         group_sequences: bool, verify_imf: bool, stages: bool | None, cluster: str | None,
         **detector_flags: Any) -> None:
    """Scan files and folders for AI-generated media.

    Exit codes: 0 nothing blocking, 1 blocking findings, 2 incomplete scan or usage error."""
    ctx = click.get_current_context()
    cfg: userconfig.UserConfig = ctx.meta["deliverscan.userconfig"]
    roots = _roots(paths, from_file, null)
    targets = _targets(fmt, output, reports, output_dir, formats)
    cache = None if no_cache else (cache_path or default_cache_path())
    for name, path in targets + ([("cache", cache)] if cache else []):
        root = root_containing(path, roots) if path != "-" else None
        if root is not None:
            raise UserError(f"the {name} file {path} lies inside scanned root {root}: "
                            "write it outside the delivery (a scan never writes to what it "
                            "scans)")
    if output_dir is not None:
        try:
            os.makedirs(output_dir, exist_ok=True)
        except OSError as exc:
            raise UserError(f"--output-dir {output_dir}: {exc.strerror or exc}") from None
    resume_path = None
    if resume:
        resume_path = next((p for n, p in targets if n == "jsonl" and p != "-"), None)
        if resume_path is None:
            raise click.UsageError("--resume needs a JSONL output file (--format jsonl -o FILE)")
    used = GIVEN + (FROM_CONFIG,)
    core = {field: value for field, param, value in (
        ("show_prompts", "show_prompts", show_prompts), ("file_timeout", "timeout", timeout))
        if ctx.get_parameter_source(param) in used}
    given, defaults = detector_settings(ctx, detector_flags, sets, cfg)
    try:
        baseline = Baseline.load(baseline_path) if baseline_path else None
        config, detectors = configure(
            roots, policy=policy_path, fail_on_review=fail_on == "review", options=core,
            settings=given, defaults=defaults, defaults_file=cfg.path, excludes=excludes,
            follow_symlinks=follow_symlinks, enable=enable, disable=disable,
            jobs=_default_jobs(roots) if jobs is None else jobs,
            memory_limit=memory_limit * 1024 * 1024, cache_path=cache,
            allow_empty=allow_empty, keep_results=False, baseline=baseline,
            archives=_archive_settings(temp_dir, archive_member_limit, archive_depth),
            sequence_sample=sequence_sample, verify_imf=verify_imf,
            staged=_watched(progress, quiet, verbose) if stages is None else stages,
            cluster=cluster)
        # the run line of a JSONL report (and what --resume checks): every detector's cache
        # token, which costs a rule pack load: only made when a JSONL report is written
        header = run_header(config, detectors) if any(n == "jsonl" for n, _ in targets) \
            else {}
        replayed: list = []
        summarised: frozenset[str] = frozenset()
        if resume_path is not None:
            previous = load_previous(resume_path, header)
            replayed, skip = replay(previous)
            summarised = written_sequences(previous)
            config.skip_paths, config.replay = skip, replayed
    except (SetupError, ResumeError, BaselineError) as exc:
        raise UserError(str(exc)) from None
    err = sys.stderr
    if verbose and not quiet:
        _verbose(config, detectors, cfg, targets, err)
    stdout = SafeStdout(sys.stdout)
    tty = sys.stdout.isatty()
    use_colour = colour if colour is not None else tty and not os.environ.get("NO_COLOR")
    width = shutil.get_terminal_size().columns if tty else None
    show_progress = (err.isatty() if progress is None else progress) and not quiet
    replayed_ids = {id(r) for r in replayed}
    with _open_outputs(targets, stdout, append=resume_path) as outs:  # type: ignore[arg-type]
        writers = []
        for (name, fh), (_, path) in zip(outs, targets, strict=True):
            display = {"colour": use_colour, "width": width} if path == "-" else {}
            writers.append((writer_for(name, fh, **display), path == resume_path))
        for w, resumed in writers:
            start = getattr(w, "start", None)
            if callable(start) and not resumed:
                start(header)
        bar = Progress(err, roots, excludes, follow_symlinks) if show_progress else None

        # JSONL gets every file as it completes (streaming, --resume) and a line per
        # sequence; the other formats get sequences as one result each
        per_file = [(w, resumed) for (w, resumed), (name, _) in zip(writers, targets,
                                                                     strict=True)
                    if name == "jsonl"]
        per_asset = [w for (w, _), (name, _) in zip(writers, targets, strict=True)
                     if name != "jsonl"]

        def to_writers(result: Reported) -> None:
            for w in per_asset:
                deliver(w, result)
            if result.sequence is not None:
                for w, resumed in per_file:
                    add_sequence = getattr(w, "add_sequence", None)
                    if callable(add_sequence) and not (
                            resumed and result.asset.path in summarised):
                        add_sequence(result)

        sequencer = Sequencer(to_writers) if group_sequences else None

        def on_result(result: Reported) -> None:
            for w, resumed in per_file:
                if not (resumed and id(result) in replayed_ids):
                    deliver(w, result)
            if sequencer is not None:
                sequencer.add(result)
            else:
                to_writers(result)

        def on_tick(stage: int, result: Reported) -> None:
            if bar:
                if stage != bar.stage:
                    bar.restart(stage)
                bar.tick(result)

        def on_stage(done: StageReport) -> None:
            if bar:
                bar.clear()
            # on a terminal (or asked): the whole tree's metadata verdicts while stage 2 runs
            if (show_progress or verbose) and not quiet and done.deferred:
                err.write(stage_line(done) + "\n")
                err.flush()

        try:
            with _stop_on_sigterm(), _watchdog(config, roots):
                try:
                    report = run_scan(config, on_reported=on_result, detectors=detectors,
                                      on_stage=on_stage, on_tick=on_tick)
                except ClusterError as exc:
                    raise UserError(str(exc)) from None
        finally:
            if bar:
                bar.close()
            if sequencer is not None:
                sequencer.flush()
        for w, _ in writers:
            w.finish(report)
    if not quiet and ("table", "-") not in targets:
        for line in summary_lines(report, colour=err.isatty() and not os.environ.get("NO_COLOR")):
            err.write(line + "\n")
    if report.summary.interrupted and not quiet:
        total = f" of {bar.total:,}" if bar and bar.total is not None else ""
        err.write(f"deliverscan: interrupted after {report.summary.files:,}{total} files; "
                  f"{_resume_hint(targets)}\n")
    code = report.summary.exit_code
    sys.exit(0 if exit_zero and code == 1 else code)


FEW_FILES = 8  # named files a scan reads in its own process (no worker to start)


def _watched(progress: bool | None, quiet: bool, verbose: bool) -> bool:
    """Someone watches this scan (progress on a terminal, or --verbose): stage it, so the
    whole tree's metadata verdicts come first. A batch run takes one pass: staging costs a
    second walk and a cache round trip per file (2.4 -> 4.6 s for 10,000 files without
    pixel work)."""
    if quiet:
        return False
    return verbose or (sys.stderr.isatty() if progress is None else progress)


def _default_jobs(roots: list[str]) -> int:
    """All cores; but a scan of a few named files (how an asset manager calls it, one asset
    at a time) runs in this process: starting a worker costs more than reading them."""
    if len(roots) <= FEW_FILES and all(os.path.isfile(r) for r in roots):
        return 0
    return os.cpu_count() or 1


@contextlib.contextmanager
def _watchdog(config: ScanConfig, roots: list[str]) -> Iterator[None]:
    """The per-file time limit for a scan in this process (no worker to kill): past the
    limit for all its files, the scan stops with exit 2 and says so. Never a hang."""
    if config.jobs != 0 or config.options.file_timeout <= 0 or \
            not all(os.path.isfile(r) for r in roots):
        yield
        return
    limit = config.options.file_timeout * len(roots) + 5

    def fire() -> None:
        sys.stderr.write(f"deliverscan: {len(roots)} file(s) took longer than {limit:g} s "
                         f"({config.options.file_timeout:g} s per file): stopped; the scan is "
                         "incomplete (exit 2)\n")
        sys.stderr.flush()
        remove_run_folders()  # os._exit runs no ``finally``: the run folder would stay
        os._exit(2)

    timer = threading.Timer(limit, fire)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


def deliver(writer: Any, result: Reported) -> None:
    """A result to a report writer: a stored clean result whole to a writer that takes it
    (``add_stored``: the JSONL line as it is), decoded for the others."""
    if isinstance(result, StoredResult):
        add_stored = getattr(writer, "add_stored", None)
        if callable(add_stored):
            add_stored(result)
            return
        writer.add(result.result)
        return
    writer.add(result)


def stage_line(done: StageReport) -> str:
    """What stage 1 found, while stage 2 runs: the metadata verdicts of the whole tree."""
    found = [f"{done.verdicts[v]:,} {what}" for v, what in (
        ("ai", "AI-marked"), ("review", "for review")) if done.verdicts.get(v)]
    return (f"Stage 1 of 2 (sniffing, C2PA, metadata): {done.files:,} files in "
            f"{done.seconds:.1f} s: {', '.join(found) or 'no AI marker'} so far; stage 2 "
            f"(pixels, deep reads, archives): {done.deferred:,} files")


def _archive_settings(temp_dir: str | None, member_mb: int | None,
                      depth: int | None) -> ArchiveSettings:
    limits = Limits()
    if member_mb is not None:
        limits = dataclasses.replace(limits, max_member_bytes=member_mb * 1024 * 1024)
    if depth is not None:
        limits = dataclasses.replace(limits, max_depth=depth)
    return ArchiveSettings(limits=limits, temp_dir=temp_dir)


@contextlib.contextmanager
def _stop_on_sigterm() -> Iterator[None]:
    """A batch scheduler stops a job with SIGTERM: treat it like Ctrl-C, so the nightly run
    still finishes its reports (marked interrupted, exit 2) and ``--resume`` can continue."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


commands = [scan]
