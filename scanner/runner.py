"""Runs one scan: walk → (cache) → pipeline in workers → policy → summary, streaming each
result to listeners in walk order.

``ScanConfig`` is everything a scan needs; the CLI and the Python API (``scanner.scan``) both
build one and call ``run_scan``.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import functools
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from detectors.api import Options, Shared, default_token, sha256_file
from detectors.model import (
    ARCHIVE,
    HASH,
    WORKER,
    Asset,
    AssetResult,
    Report,
    ScanError,
    Scanned,
    Summary,
)
from detectors.registry import Loaded, load_all
from scanner.aggregate import (
    add_brief,
    add_to_summary,
    assemble,
    assemble_archive,
    brief_of,
    exit_code,
    overall_verdict,
)
from scanner.archives import ArchiveSettings
from scanner.baseline import Baseline
from scanner.cache import ScanCache
from scanner.package_scan import PackageScan
from scanner.pipeline import scan_asset
from scanner.policy import Policy
from scanner.stored import (
    Reported,
    StoredArchive,
    StoredResult,
    body_of,
    expansion,
    final_key,
    full,
    member_storable,
    storable,
    stored_archive,
    stored_result,
)
from scanner.versions import dist_version, tool_info
from scanner.walk import Walker
from scanner.workers import WorkerPool, WorkItem


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
    # 0 = run detectors in this process (no per-file time limit); N = N worker processes with
    # per-file time/memory limits and crash isolation (the CLI default: all cores).
    jobs: int = 0
    memory_limit: int = 2 * 1024**3
    cache_path: str | None = None
    skip_paths: frozenset[str] = frozenset()  # already done (``--resume``)
    replay: list[AssetResult] = field(default_factory=list)  # their results, re-reported
    # A root in which no file was checked (all skipped, or nothing there) fails the run
    # (exit 2) unless this is set: an unmounted share must not pass as a clean delivery.
    allow_empty: bool = False
    hash_all: bool = False  # content hash of every read file (explain), not only as needed
    baseline: Baseline | None = None  # findings accepted in an earlier, reviewed scan
    archives: ArchiveSettings = field(default_factory=ArchiveSettings)  # limits, temp dir
    sequence_sample: int = 1  # check one frame in N of image sequences (1: every frame)
    verify_imf: bool = False  # hash every IMF asset against its packing list (a full read)
    # Cheap detectors over the whole tree first, costly ones after (see ``run_scan``); the
    # CLI stages, the Python API does not unless asked.
    staged: bool = False
    # A Dask scheduler ("tcp://host:8786") or "local:N" (a LocalCluster of N workers): the
    # files that need reading are scanned there (scanner.cluster); None: this machine.
    cluster: str | None = None


def _under(path: str, root: str) -> bool:
    base = root.rstrip(os.sep) or os.sep
    return path == root or path == base or path.startswith(base.rstrip(os.sep) + os.sep)


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


def detector_tokens(detectors: list[Loaded], options: Options) -> dict[str, str]:
    """Cache tokens of the loaded detectors: what each one's results depend on besides the
    file. Availability is not checked here (that is the workers' job): an unavailable
    detector's coverage is never cached anyway."""
    out = {}
    for item in detectors:
        if item.detector is None:
            continue
        token = getattr(item.detector, "cache_token", None)
        text = token(options) if callable(token) else default_token(item.detector, options)
        # and the release of the code: a fix shipped without a detector version bump must
        # not leave the old code's "clean" in place
        dist = "deliverscan" if item.source == "builtin" else item.source.partition(":")[2]
        out[item.name] = f"{text}|{dist}={dist_version(dist) or '?'}"
    return out


def _judging(config: ScanConfig) -> str:
    """What, besides the policy, judges a stored result: the baseline's entries and the
    exclusions (they decide which archive members are read)."""
    b = config.baseline
    entries = [sorted(b.by_path), sorted(b.by_content)] if b is not None else None
    return json.dumps([entries, sorted(config.excludes),
                       sorted(config.archives.excludes or config.excludes)])


# A work item whose clean result the cache holds as reported (see ``scanner.stored``).
STORED = Scanned(Asset("", 0, 0, "other"))
WARM_PROBE = 512  # files a staged scan looks at before deciding the tree is unchanged
# This process's run folders while their scans run: a watchdog that ends the process at once
# (``scan_cmd._watchdog``: no unwinding, no ``finally``) removes them first
# (``remove_run_folders``).
RUN_FOLDERS: set[str] = set()


def remove_run_folders() -> None:
    """Remove the run folders of this process's scans (what ``os._exit`` would leave)."""
    for path in list(RUN_FOLDERS):
        shutil.rmtree(path, ignore_errors=True)


def _nested(scanned: Scanned) -> int:
    """Results an archive's nested archives add beyond its direct members."""
    return sum(len(m.members) + _nested(m) for m in scanned.members if m.members)


class _Engine:
    """Feeds walked assets through the cache and the workers, in walk order."""

    def __init__(self, config: ScanConfig, detectors: list[Loaded], walker: Walker,
                 archives: ArchiveSettings, cache_path: str | None = None,
                 pool: WorkerPool | None = None, stage: int | None = None,
                 private: bool = False) -> None:
        self.config = config
        self.archives = archives
        self.detectors = detectors
        self.walker = walker
        self.stage = stage  # 1: the cheap pass of a staged scan (see ``run_scan``)
        self.order = {d.name: i for i, d in enumerate(detectors)}
        self.cache = ScanCache(cache_path, private) if cache_path else None
        self.pool = pool
        self.dispatched = 0  # files handed to detectors (not served from the cache)
        self.final_key = final_key(config.policy.digest, config.policy.fail_on,
                                   config.hash_all, _judging(config))

    @functools.cached_property
    def tokens(self) -> dict[str, str]:
        """Every detector's cache token (only a scan with a cache needs them)."""
        return detector_tokens(self.detectors, self.config.options)

    def _items(self) -> Iterator[WorkItem]:
        seq = 0
        chunk: list[Asset] = []
        walked = (a for a in self.walker.walk(self.config.roots)
                  if a.path not in self.config.skip_paths)
        while True:
            chunk.clear()
            for asset in walked:
                chunk.append(asset)
                if len(chunk) >= 256:
                    break
            if not chunk:
                return
            cacheable = [a for a in chunk if not (a.skip_reason or a.walk_error)]
            found = dict(zip(map(id, cacheable), self.cache.lookup_many(
                cacheable, self.tokens, self.final_key, want_final=self.stage != 1),
                strict=True)) if self.cache and cacheable else {}
            for asset in chunk:
                seq += 1
                parts = found.get(id(asset))
                if parts is None and (asset.skip_reason or asset.walk_error):
                    yield WorkItem(seq, asset, stage=self.stage)  # nothing to read
                    continue
                if parts is None:
                    self.dispatched += 1
                    yield WorkItem(seq, asset, stage=self.stage)
                    continue
                missing = tuple(n for n in self.tokens if n not in parts.valid)
                if parts.kind == ARCHIVE and (missing or parts.verdict is None):
                    # looked inside again, whole: a detector changed, or what was stored
                    # names another path, policy or exclusion (an archive's outcomes alone
                    # say nothing of its members)
                    self.dispatched += 1
                    yield WorkItem(seq, asset, stage=self.stage)
                    continue
                if missing:
                    self.dispatched += 1
                    yield WorkItem(seq, asset, only=missing, cached=parts, stage=self.stage)
                    continue
                if parts.verdict is not None:  # a clean result, reported as it is
                    yield WorkItem(seq, asset, done=STORED, cached=parts)
                    continue
                known = dataclasses.replace(asset, kind=parts.kind, media_type=parts.media_type,
                                            notes=parts.notes, pixels=parts.pixels)
                yield WorkItem(seq, asset, done=Scanned(known, sha256=parts.sha256),
                               cached=parts)

    def results(self, shared: Shared) -> Iterator[Scanned | StoredResult | StoredArchive]:
        items = self._items()
        if self.pool is not None or self.config.jobs > 0:
            if self.pool is None:
                self.pool = new_pool(self.config, self.detectors, self.archives)
            pairs: Iterable[tuple[WorkItem, Scanned]] = self.pool.map(items)
        else:
            pairs = self._serial(items, shared)
        for item, scanned in pairs:
            yield self._finish(item, scanned)

    def _serial(self, items: Iterable[WorkItem],
                shared: Shared) -> Iterator[tuple[WorkItem, Scanned]]:
        by_name = {d.name: d for d in self.detectors}
        for item in items:
            if item.done is not None:
                yield item, item.done
                continue
            dets = self.detectors if item.only is None else [by_name[n] for n in item.only]
            yield item, scan_asset(item.asset, dets, shared, self.archives, stage=item.stage)

    def _finish(self, item: WorkItem,
                scanned: Scanned) -> Scanned | StoredResult | StoredArchive:
        """Merge cached outcomes in (detector order), and store what was newly read. A clean
        result stored as reported comes back as it is (``StoredResult``)."""
        parts = item.cached
        if scanned is STORED and parts is not None:
            if parts.verdict == ARCHIVE:
                return stored_archive(item.asset, parts)
            return stored_result(item.asset, parts)
        if parts is not None:
            outcomes = sorted((*parts.per_detector.values(), *scanned.outcomes),
                              key=lambda o: self.order.get(o.detector, len(self.order)))
            scanned = dataclasses.replace(scanned, outcomes=tuple(outcomes),
                                          sha256=scanned.sha256 or parts.sha256)
        if self.cache and not (item.asset.skip_reason or item.asset.walk_error) and \
                scanned.asset.kind != ARCHIVE:  # an archive is always looked inside again
            if item.done is None and not any(e.source == WORKER for e in scanned.errors):
                self.cache.store(item.asset, scanned, self.tokens)
        return scanned

    def content_hash(self, scanned: Scanned) -> tuple[str | None, list[ScanError]]:
        """The asset's SHA-256 when the policy needs it (or ``hash_all``), computed at most
        once per file version (kept in the cache)."""
        asset = scanned.asset
        if scanned.sha256 is not None or asset.skip_reason or asset.walk_error:
            return scanned.sha256, []
        findings = [f for o in scanned.outcomes for f in o.findings]
        baseline = self.config.baseline
        wanted = self.config.hash_all or self.config.policy.needs_hash(findings) or bool(
            findings and baseline is not None and baseline.needs_hash)
        if not wanted:
            return None, []
        try:
            sha = sha256_file(asset.path)
        except OSError as exc:
            return None, [ScanError(HASH, f"cannot hash for approvals: {exc}")]
        if self.cache is not None:
            self.cache.set_sha256(asset, sha)
        return sha, []

    @property
    def findings_ok(self) -> bool:
        """Results with findings may be stored too when only the policy's rule modes judge
        them: no approvals (dated, per content) and no baseline."""
        return not self.config.policy.approvals and self.config.baseline is None

    def keep_archive(self, archive: Asset, results: list[AssetResult]) -> None:
        """Store an archive looked inside (members, then its own result), for the next scan."""
        if self.cache is None or self.final_key is None or not results or archive.dev == 0 \
                or not all(member_storable(r, self.findings_ok) for r in results):
            return
        text, brief = expansion(archive, results)
        self.cache.set_archive(archive, self.tokens, self.final_key, text, brief)

    def keep_final(self, result: AssetResult) -> None:
        """Store a result as reported, for the next scan (``scanner.stored``)."""
        if self.cache is None or self.final_key is None or \
                not storable(result, self.findings_ok):
            return
        self.cache.set_final(result.asset, self.final_key, result.verdict, body_of(result),
                             json.dumps(brief_of(result), ensure_ascii=False))

    def assembled(self, scanned: Scanned) -> Iterator[AssetResult]:
        """The results of one scanned asset: an archive's members first (depth first), then
        the archive's own, so that in a JSONL file an archive's line means all its members'
        lines are there too (what ``--resume`` relies on)."""
        policy, baseline = self.config.policy, self.config.baseline
        if scanned.asset.kind != ARCHIVE:
            sha, errors = self.content_hash(scanned)
            yield assemble(scanned, policy, sha, errors, baseline)
            return
        children = []
        for member in scanned.members:
            for result in self.assembled(member):
                if result.asset.path == member.asset.path:
                    children.append(result)
                yield result
        yield assemble_archive(scanned, children)

    def close(self) -> None:
        if self.cache is not None:
            self.cache.close()


def new_pool(config: ScanConfig, detectors: list[Loaded],
             archives: ArchiveSettings) -> Any:
    """Worker processes on this machine, or a Dask cluster (``config.cluster``)."""
    if config.cluster:
        from scanner.cluster import ClusterPool

        return ClusterPool(config.cluster, detectors, config.options, archives,
                           config.options.file_timeout, config.memory_limit)
    return WorkerPool(config.jobs, detectors, config.options,
                      timeout=config.options.file_timeout, memory_limit=config.memory_limit,
                      archives=archives)


@dataclass(frozen=True)
class StageReport:
    """What the cheap first stage of a staged scan found, for the operator (``on_stage``)."""

    files: int
    seconds: float
    verdicts: dict[str, int]  # so far: costly detectors and archives not yet run
    deferred: int  # files (archives included) that stage 2 reads


def _stage_one(config: ScanConfig, detectors: list[Loaded], archives: ArchiveSettings,
               cache_path: str, pool: WorkerPool | None, shared: Shared,
               on_tick: Callable[[int, Reported], None] | None
               ) -> tuple[StageReport | None, int]:
    """The cheap pass over the whole tree: every stage-1 detector and each costly one's
    ``applies`` test, stored in the cache that the full pass then reads (so nothing is read
    twice). Returns what it found and how many files came from the user's cache; None when
    the first ``WARM_PROBE`` files were all unchanged and clean (a warm rescan: no stage)."""
    t0 = time.perf_counter()
    walker = Walker(config.excludes, config.follow_symlinks, config.sequence_sample)
    engine = _Engine(config, detectors, walker, archives, cache_path, pool, stage=1,
                     private=config.cache_path is None)
    verdicts: dict[str, int] = {}
    files = deferred = 0
    try:
        for scanned in engine.results(shared):
            files += 1
            if files == WARM_PROBE and not engine.dispatched:
                return None, 0  # a warm rescan: one pass serves it (twice would be waste)
            if isinstance(scanned, StoredArchive):  # unchanged: nothing to do
                continue
            if isinstance(scanned, StoredResult):  # clean and unchanged: nothing to do
                verdicts[scanned.verdict] = verdicts.get(scanned.verdict, 0) + 1
                if on_tick is not None:
                    on_tick(1, scanned)
                continue
            deferred += bool(scanned.deferred)
            result = assemble(scanned, config.policy)
            if scanned.deferred != ("archive",):  # an archive is looked inside in stage 2
                verdicts[result.verdict] = verdicts.get(result.verdict, 0) + 1
            if not scanned.deferred:  # complete already: stage 2 reports it as stored
                engine.keep_final(result)
            if on_tick is not None:
                on_tick(1, result)
        hits = engine.cache.hits if engine.cache is not None else 0
    finally:
        engine.close()
    return StageReport(files, round(time.perf_counter() - t0, 3), verdicts, deferred), hits


def run_scan(config: ScanConfig,
             on_result: Callable[[AssetResult], None] | None = None,
             detectors: list[Loaded] | None = None,
             on_stage: Callable[[StageReport], None] | None = None,
             on_tick: Callable[[int, Reported], None] | None = None,
             on_reported: Callable[[Reported], None] | None = None) -> Report:
    """Scan, calling ``on_result`` for each result in walk order. Ctrl-C stops cleanly: what
    was done is reported and the run counts as incomplete (exit 2).

    A staged scan (``config.staged``, a folder among the roots) first runs the cheap
    detectors over the whole tree (``on_tick(1, result)`` per file, ``on_stage`` at the end:
    metadata verdicts within seconds), then the full pass, which reads the cheap outcomes
    back from the cache and runs only the costly detectors that apply (``on_tick(2, ...)``
    and ``on_result``). ``on_reported`` gets results as they are: a clean result served from
    the cache as a ``StoredResult`` (report writers take its line without decoding it);
    ``on_result`` always gets the full ``AssetResult``."""
    started = _now()
    t0 = time.perf_counter()
    detectors = detectors if detectors is not None else select_detectors(config)
    packages = PackageScan(verify=config.verify_imf)
    walker = Walker(config.excludes, config.follow_symlinks, config.sequence_sample,
                    on_folder=packages.on_folder)
    shared = Shared(config.options)
    summary = Summary()
    kept: list[AssetResult] = []
    warnings = list(config.policy.warnings)
    run_tmp = tempfile.mkdtemp(prefix="deliverscan-", dir=config.archives.temp_dir)
    RUN_FOLDERS.add(run_tmp)
    # archive members are copied under this run's own folder, removed at the end even when a
    # worker was killed mid-copy
    archives = dataclasses.replace(config.archives, temp_dir=run_tmp,
                                   excludes=config.archives.excludes or config.excludes)
    staged = config.staged and any(os.path.isdir(r) for r in config.roots)
    cache_path = config.cache_path or (os.path.join(run_tmp, "stages.sqlite") if staged
                                       else None)
    pool: Any = None

    def close_run(engine: _Engine | None) -> None:
        """What the run opened, closed, and its folder removed: at its end, or when it
        cannot start (a cluster it cannot reach, a cache it cannot open; its folder stayed
        in the temp folder)."""
        shared.close()
        if engine is not None:
            engine.close()
        if pool is not None:
            pool.close()
        shutil.rmtree(run_tmp, ignore_errors=True)
        RUN_FOLDERS.discard(run_tmp)

    try:
        if config.jobs > 0 or config.cluster:
            pool = new_pool(config, detectors, archives)
        engine = _Engine(config, detectors, walker, archives, cache_path, pool,
                         private=config.cache_path is None)
    except BaseException:
        close_run(None)
        raise
    checked = [False] * len(config.roots)
    user_hits: int | None = None

    def take(result: Reported) -> None:
        if isinstance(result, StoredResult):
            add_brief(summary, result.brief)
        else:
            add_to_summary(summary, result)
        if result.verdict != "skipped":
            for i, root in enumerate(config.roots):
                if not checked[i] and _under(result.asset.path, root):
                    checked[i] = True
        if on_reported is not None:
            on_reported(result)
        if on_result is not None:
            on_result(full(result))
        if config.keep_results:
            kept.append(result.result if isinstance(result, StoredResult) else result)

    interrupted = False
    try:
        if staged:
            assert cache_path is not None
            report, hits = _stage_one(config, detectors, archives, cache_path, pool, shared,
                                      on_tick)
            if report is not None:
                user_hits = hits if config.cache_path else 0
                if on_stage is not None:
                    on_stage(report)
        for replayed in config.replay:
            take(replayed)
        for scanned in engine.results(shared):
            built: Iterable[Reported]
            if isinstance(scanned, StoredArchive):
                built = scanned.results
            elif isinstance(scanned, StoredResult):
                built = [scanned]
            else:
                built = engine.assembled(scanned)
            expanded: list[AssetResult] = []
            for one in built:
                annotated = packages.annotate(one)
                if annotated is one and isinstance(one, AssetResult):
                    engine.keep_final(one)
                    expanded.append(one)
                if on_tick is not None:
                    on_tick(2, annotated)
                take(annotated)
            if isinstance(scanned, Scanned) and scanned.asset.kind == ARCHIVE and \
                    len(expanded) == len(scanned.members) + 1 + _nested(scanned):
                engine.keep_archive(scanned.asset, expanded)
        for result in packages.results():  # once every package and file is known
            take(result)
    except KeyboardInterrupt:
        interrupted = True
        warnings.append("interrupted: the scan is incomplete; the report holds what was done")
    finally:
        close_run(engine)
    summary.cache_hits = user_hits if user_hits is not None else (
        engine.cache.hits if engine.cache is not None else 0)
    summary.excluded = walker.stats.excluded
    summary.duration_s = round(time.perf_counter() - t0, 3)
    summary.interrupted = interrupted
    summary.verdict = overall_verdict(summary)
    if not config.allow_empty and not interrupted:
        summary.empty_roots = [r for r, ok in zip(config.roots, checked, strict=True) if not ok]
        for root in summary.empty_roots:
            warnings.append(f"nothing was checked under {root}: no file any detector reads "
                            "(empty or unmounted?); pass --allow-empty to accept that")
    summary.exit_code = 2 if interrupted else exit_code(summary)
    if pool is not None and pool.restarts:
        warnings.append(f"{pool.restarts} worker process(es) replaced during the scan")
    warnings.extend(w for w in config.policy.warnings if w not in warnings)
    warnings.extend(packages.warnings)
    if engine.cache is not None and config.cache_path:
        warnings.extend(f"cache not used on a {reason} (e.g. {path}): every file there is read"
                        for reason, path in engine.cache.identity.untrusted.items())
    return Report(tool=tool_info(detectors), started=started, finished=_now(), roots=list(config.roots),
                  summary=summary, results=kept, warnings=warnings + walker.stats.warnings)
