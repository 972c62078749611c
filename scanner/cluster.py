"""Scanning on a Dask cluster (``--cluster tcp://scheduler:8786`` or ``--cluster local:N``).

Dask distributed is the engine: we build no scheduler. The client (this process) walks the
roots and looks files up in the cache as in a local scan; only the misses travel, in batches
(one task each) sized so Dask's per-task overhead stays small. On each Dask worker a batch runs
through our own ``WorkerPool`` (one child process), so the per-file time and memory limits and
crash isolation hold there exactly as on one machine. Results come back to the same runner and
report writers in walk order: a cluster report equals a local one apart from timings.

When a Dask worker dies, Dask runs its tasks again elsewhere; a batch that keeps killing
workers (``distributed.scheduler.allowed-failures``) is split file by file, so only the file
that does it becomes ``error``, with the reason. Workers read files from paths (a shared
mount) or object-store URLs, offline and read-only like a local scan: they run the same code.

Dask worker processes must be allowed children (``DASK_DISTRIBUTED__WORKER__DAEMON=False``; a
``local:N`` cluster is started that way).
"""

from __future__ import annotations

import collections
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from detectors.api import Options
from detectors.model import WORKER, ScanError, Scanned
from detectors.registry import Loaded
from scanner.archives import ArchiveSettings
from scanner.workers import WorkerPool, WorkItem

BATCH = 256  # files per task: Dask's ~3 ms per task stays under ~5 % of a batch's cheap work
_POOLS: dict[str, WorkerPool] = {}  # on a Dask worker: one child process per scan config


class ClusterError(RuntimeError):
    """The cluster cannot be used (address unreachable, distributed not installed...)."""


@dataclass(frozen=True)
class TaskConfig:
    """What a Dask worker needs to run a batch as a local scan would (sent once)."""

    key: str
    detectors: list[Loaded]
    options: Options
    archives: ArchiveSettings | None
    timeout: float
    memory_limit: int


def _pool(config: TaskConfig) -> WorkerPool:
    pool = _POOLS.get(config.key)
    if pool is None:
        for old in _POOLS.values():
            old.close()
        _POOLS.clear()
        archives = config.archives
        if archives is not None and archives.temp_dir and not os.path.isdir(archives.temp_dir):
            archives = ArchiveSettings(archives.limits, None, archives.excludes)  # another host
        pool = WorkerPool(1, config.detectors, config.options, timeout=config.timeout,
                          memory_limit=config.memory_limit, archives=archives)
        _POOLS[config.key] = pool
    return pool


def run_batch(config: TaskConfig, items: list[WorkItem]) -> list[tuple[int, Scanned]]:
    """A Dask task: ``items`` through this worker's own child process, with the limits."""
    import multiprocessing

    if multiprocessing.current_process().daemon:
        raise ClusterError("this Dask worker may not start child processes: start workers "
                           "with DASK_DISTRIBUTED__WORKER__DAEMON=False (the per-file time "
                           "and memory limits need them)")
    return [(item.seq, scanned) for item, scanned in _pool(config).map(items)]


class ClusterPool:
    """``WorkerPool``'s interface (``map`` in walk order, ``close``, ``restarts``) on Dask."""

    def __init__(self, address: str, detectors: list[Loaded], options: Options,
                 archives: ArchiveSettings | None, timeout: float, memory_limit: int,
                 batch: int = BATCH) -> None:
        try:
            import dask
            from distributed import Client, LocalCluster
        except ImportError:
            raise ClusterError("--cluster needs Dask distributed (pip install "
                               "deliverscan[dask])") from None
        self.cluster: Any = None
        self.batch = max(1, batch)
        self.restarts = 0
        try:
            if address.startswith("local:"):
                n = int(address.split(":", 1)[1] or "0") or (os.cpu_count() or 1)
                with dask.config.set({"distributed.worker.daemon": False}):
                    self.cluster = LocalCluster(n_workers=n, threads_per_worker=1,
                                                processes=True, dashboard_address=None)
                self.client = Client(self.cluster)
            else:
                self.client = Client(address, timeout=30)
        except (OSError, TimeoutError, ValueError) as exc:
            if self.cluster is not None:
                self.cluster.close()
            raise ClusterError(f"cannot use the cluster {address}: {exc}") from None
        import hashlib
        import pickle

        key = hashlib.sha256(pickle.dumps((options, [d.name for d in detectors],
                                           timeout, memory_limit))).hexdigest()[:16]
        config = TaskConfig(key, detectors, options, archives, timeout, memory_limit)
        self.config = self.client.scatter(config, broadcast=True)
        self.slots = max(2, 2 * sum(self.client.nthreads().values()))

    def map(self, items: Iterable[WorkItem]) -> Iterator[tuple[WorkItem, Scanned]]:
        from distributed import as_completed

        feed = iter(items)
        order: collections.deque[WorkItem] = collections.deque()
        results: dict[int, Scanned] = {}
        waiting: list[WorkItem] = []
        running: dict[Any, list[WorkItem]] = {}
        done = as_completed()
        exhausted = False
        while True:
            while not exhausted and len(running) < self.slots:
                try:
                    item = next(feed)
                except StopIteration:
                    exhausted = True
                    break
                order.append(item)
                if item.done is not None:
                    results[item.seq] = item.done
                    continue
                waiting.append(item)
                if len(waiting) >= self.batch:
                    self._submit(waiting, running, done)
                    waiting = []
            if exhausted and waiting:
                self._submit(waiting, running, done)
                waiting = []
            while order and order[0].seq in results:
                item = order.popleft()
                yield item, results.pop(item.seq)
            if exhausted and not order:
                return
            if not running:
                if waiting:  # feed paused with a part batch: send it
                    self._submit(waiting, running, done)
                    waiting = []
                continue
            future = next(done)
            batch = running.pop(future)
            try:
                for seq, scanned in future.result():
                    results[seq] = scanned
            except Exception as exc:  # noqa: BLE001 - KilledWorker, a lost worker...
                self._failed(batch, exc, results, running, done)

    def _submit(self, batch: list[WorkItem], running: dict[Any, list[WorkItem]],
                done: Any) -> None:
        light = [WorkItem(i.seq, i.asset, i.only, stage=i.stage) for i in batch]
        future = self.client.submit(run_batch, self.config, light, pure=False)
        running[future] = batch
        done.add(future)

    def _failed(self, batch: list[WorkItem], exc: BaseException, results: dict[int, Scanned],
                running: dict[Any, list[WorkItem]], done: Any) -> None:
        """A batch Dask could not run (its workers died, repeatedly): file by file again, so
        only a file that kills workers on its own becomes an error."""
        self.restarts += 1
        if len(batch) > 1:
            for item in batch:
                self._submit([item], running, done)
            return
        (item,) = batch
        results[item.seq] = Scanned(item.asset, errors=(ScanError(
            WORKER, f"the cluster's workers died on this file ({type(exc).__name__}: "
                    f"{exc}); not checked"),))

    def close(self) -> None:
        try:
            self.client.close()
        finally:
            if self.cluster is not None:
                self.cluster.close()
