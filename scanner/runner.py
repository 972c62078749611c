"""Runs one scan: walk → pipeline → policy → summary, streaming each result to listeners.

``ScanConfig`` is everything a scan needs; the CLI and the Python API (``scanner.scan``) both
build one and call ``run_scan``.
"""

from __future__ import annotations

import datetime as _dt
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from detectors.api import Options, Shared
from detectors.model import AssetResult, Report, Summary
from detectors.registry import Loaded, load_all
from scanner.aggregate import add_to_summary, exit_code, overall_verdict
from scanner.hashing import sha256_file
from scanner.pipeline import scan_asset
from scanner.policy import Policy
from scanner.versions import tool_info
from scanner.walk import Walker


@dataclass
class ScanConfig:
    roots: list[str]
    options: Options = field(default_factory=Options)
    policy: Policy = field(default_factory=Policy.default)
    excludes: tuple[str, ...] = ()
    follow_symlinks: bool = False
    enable: tuple[str, ...] = ()  # detectors enabled on top of the defaults
    disable: tuple[str, ...] = ()
    keep_results: bool = True  # False for streaming-only runs over huge trees
    jobs: int = 1


def select_detectors(config: ScanConfig, loaded: list[Loaded] | None = None) -> list[Loaded]:
    """Detectors for this run: defaults, plus explicitly enabled, minus disabled."""
    chosen = []
    for item in loaded if loaded is not None else load_all():
        det = item.detector
        default_on = bool(getattr(det, "default_enabled", True)) if det else True
        if item.name in config.disable:
            continue
        if default_on or item.name in config.enable:
            chosen.append(item)
    return chosen


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def iter_results(config: ScanConfig, detectors: list[Loaded], walker: Walker,
                 shared: Shared) -> Iterator[AssetResult]:
    for asset in walker.walk(config.roots):
        yield scan_asset(asset, detectors, shared)


def run_scan(config: ScanConfig,
             on_result: Callable[[AssetResult], None] | None = None,
             detectors: list[Loaded] | None = None,
             results: Iterable[AssetResult] | None = None) -> Report:
    started = _now()
    t0 = time.perf_counter()
    detectors = detectors if detectors is not None else select_detectors(config)
    walker = Walker(config.excludes, config.follow_symlinks)
    shared = Shared(config.options)
    summary = Summary()
    kept: list[AssetResult] = []
    try:
        stream = results if results is not None else iter_results(config, detectors, walker, shared)
        for result in stream:
            if result.sha256 is None and config.policy.needs_hash(result):
                try:
                    result.sha256 = sha256_file(result.asset.path)
                except OSError as exc:
                    result.errors.append({"detector": "hash",
                                          "message": f"cannot hash for approvals: {exc}"})
            config.policy.apply(result)
            add_to_summary(summary, result)
            if on_result is not None:
                on_result(result)
            if config.keep_results:
                kept.append(result)
    finally:
        shared.close()
    summary.clutter_skipped = walker.stats.clutter_skipped
    summary.excluded = walker.stats.excluded
    summary.duration_s = round(time.perf_counter() - t0, 3)
    summary.verdict = overall_verdict(summary)
    summary.exit_code = exit_code(summary)
    return Report(tool=tool_info(), started=started, finished=_now(), roots=list(config.roots),
                  summary=summary, results=kept,
                  warnings=list(config.policy.warnings) + walker.stats.warnings)
