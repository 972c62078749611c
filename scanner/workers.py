"""Worker processes: parallel detectors with per-file time and memory limits and crash isolation.

Why our own pool and not ``concurrent.futures``: a process pool there cannot kill the one task
that hangs, and one worker dying (a segfault in a native reader, an OOM kill) breaks the whole
pool. Here each worker announces the file it starts; the parent enforces the deadline and the
memory limit per file, kills and replaces the worker, reports *that* file as ``error`` and
re-queues the rest of the worker's batch. Results come back in walk order (a bounded reorder
window), so reports are deterministic whatever the scheduling.

Workers are spawned (not forked): a C2PA ``Context`` inherited through ``fork`` is unusable, and
each worker builds its own per-process resources (``detectors.api.Shared``).
"""

from __future__ import annotations

import collections
import contextlib
import ctypes
import dataclasses
import multiprocessing as mp
import os
import signal
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any

from detectors.api import Options, Shared
from detectors.model import WORKER, Asset, ScanError, Scanned
from detectors.registry import Loaded
from scanner.archives import ArchiveSettings
from scanner.pipeline import scan_asset

PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
MAX_BOOT_FAILURES = 3


@dataclass(frozen=True)
class WorkItem:
    seq: int
    asset: Asset
    only: tuple[str, ...] | None = None  # run just these detectors (the rest came from cache)
    done: Scanned | None = None  # already known (cache hit): passes through in order
    cached: Any = None  # scanner.cache.CachedParts merged by the runner; not used by workers
    stage: int | None = None  # 1: the cheap pass of a staged scan


def _die_with_parent() -> None:
    """Linux: the kernel kills this worker when the parent dies (no orphans after kill -9)."""
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


MALLOC_ARENAS = 2  # glibc arenas a worker may keep (glibc's default: 8 per core)


def _few_malloc_arenas() -> None:
    """glibc: at most ``MALLOC_ARENAS`` malloc arenas in this worker. Every thread that
    allocates (FFmpeg's frame threads inside OpenCV, NumPy, the outbox) gets an arena of its
    own by default, and what a large decoded frame left in one stays mapped: on the realistic
    benchmark tree this held the two workers' peak at 135 + 112 MB PSS against 113 + 108 MB
    with two arenas, at the same speed. Elsewhere (musl, macOS) nothing happens."""
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.mallopt(-8, MALLOC_ARENAS)  # M_ARENA_MAX


def _quiet_native_stderr() -> None:
    """Native libraries (libjpeg, FFmpeg inside OpenCV...) print chatter about hostile files
    straight to fd 2. Everything a worker has to say travels in its results, so the worker's
    stderr goes to /dev/null unless DELIVERSCAN_DEBUG is set."""
    if os.environ.get("DELIVERSCAN_DEBUG"):
        return
    os.environ.setdefault("OPENCV_LOG_LEVEL", "SILENT")
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    with contextlib.suppress(OSError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)


# Video and audio files, and any file from this size on, are handed to a worker alone and
# nothing is queued behind them: a master or a stem takes seconds to hours (a 20 MB H.264
# minute is the slowest file of the delivery benchmark), a still milliseconds; stills of
# image sequences (DPX, EXR: 12-50 MB a frame) still travel in batches.
LARGE_FILE = 64 * 1024 * 1024
HEAVY_KINDS = frozenset({"video", "audio"})
SEND_EVERY = 0.05  # seconds: finished results travel in small bundles, not one message each


class _Outbox:
    """Sends finished results from a thread of its own, bundled over ``SEND_EVERY``: many tiny
    files cost the parent one wake-up per bundle, yet a result never waits behind the next
    file (a slow 50 GB clip must not hold back the ten stills read before it: progress, the
    JSONL lines a killed run keeps, and what Ctrl-C can report all depend on them)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._items: list[tuple[int, Scanned]] = []
        self._cond = threading.Condition()
        self._closed = False
        self._flush = False
        self._thread = threading.Thread(target=self._run, name="outbox", daemon=True)
        self._thread.start()

    def put(self, seq: int, result: Scanned) -> None:
        with self._cond:
            self._items.append((seq, result))
            self._cond.notify()

    def flush(self) -> None:
        """Send now: the worker has finished what it was given (the parent hands out the
        next batch only when results come back, so waiting here would idle the worker)."""
        with self._cond:
            self._flush = True
            self._cond.notify()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._thread.join()

    def _run(self) -> None:
        try:
            while True:
                with self._cond:
                    self._cond.wait_for(lambda: self._items or self._closed)
                    if not self._items and self._closed:
                        return
                    # let a burst of quick files gather into one message
                    self._cond.wait_for(lambda: self._closed or self._flush,
                                        timeout=SEND_EVERY)
                    items, self._items = self._items, []
                    self._flush = False
                if items:
                    self._conn.send(("done", items))
        except BaseException:  # noqa: BLE001 - a result that cannot travel must not hang the
            os._exit(3)  # parent waiting for it: dying is seen at once and the files re-queued


def _worker_main(conn: Connection, state: Any, detectors: list[Loaded],
                 options: Options, archives: ArchiveSettings | None = None) -> None:
    """``state`` is shared memory ``[seq, started]`` of the file in hand (seq -1: none), which
    the parent reads for deadlines and to know which file a crash hit, without a message (and
    a parent wake-up) per file."""
    _die_with_parent()
    _few_malloc_arenas()
    _quiet_native_stderr()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides what Ctrl-C means
    shared = Shared(options)

    def heartbeat() -> None:  # the file in hand (an archive) is still moving: restart its clock
        state[1] = time.monotonic()

    shared.heartbeat = heartbeat
    by_name = {d.name: d for d in detectors}
    conn.send(("ready", os.getpid()))
    outbox = _Outbox(conn)
    try:
        while True:
            batch = conn.recv()
            if batch is None:
                break
            for item in batch:
                state[0] = -1.0  # seq first, so a reader never pairs this seq with an old time
                state[1] = time.monotonic()
                state[0] = float(item.seq)
                dets = detectors if item.only is None else [by_name[n] for n in item.only]
                result = scan_asset(item.asset, dets, shared, archives, stage=item.stage)
                state[0] = -1.0
                outbox.put(item.seq, result)
            outbox.flush()
    except (EOFError, BrokenPipeError, KeyboardInterrupt):
        pass
    finally:
        outbox.close()
        shared.close()


class _Worker:
    def __init__(self, ctx: mp.context.BaseContext, detectors: list[Loaded],
                 options: Options, archives: ArchiveSettings | None = None) -> None:
        parent, child = ctx.Pipe(duplex=True)
        self.conn: Connection = parent
        self.state = ctx.Array("d", [-1.0, 0.0], lock=False)
        self.proc = ctx.Process(target=_worker_main,  # type: ignore[attr-defined]
                                args=(child, self.state, detectors, options, archives),
                                daemon=True, name="deliverscan-worker")
        self.proc.start()
        child.close()
        self.ready = False
        self.inflight: collections.deque[WorkItem] = collections.deque()

    @property
    def current(self) -> tuple[int, float] | None:
        """(seq, monotonic start) of the file the worker is reading, from shared memory."""
        seq = self.state[0]
        started = self.state[1]
        if seq < 0 or self.state[0] != seq:
            return None
        return int(seq), started

    def rss(self) -> int:
        try:
            with open(f"/proc/{self.proc.pid}/statm") as fh:
                return int(fh.read().split()[1]) * PAGE
        except (OSError, ValueError, IndexError):
            return 0

    def kill(self) -> None:
        with contextlib.suppress(Exception):
            self.proc.kill()
        self.proc.join(5)
        self.conn.close()


def _died_how(proc: mp.process.BaseProcess) -> str:
    code = proc.exitcode
    if code is not None and code < 0:
        try:
            return f"killed by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exited with code {code}"


def _heavy(item: WorkItem) -> bool:
    """A file whose scan takes seconds or more: video, audio, or ``LARGE_FILE`` and over."""
    return item.asset.kind in HEAVY_KINDS or item.asset.size >= LARGE_FILE


class WorkerPool:
    """Run ``scan_asset`` for work items in ``jobs`` worker processes; yield results in order.
    The pool can serve several ``map`` calls; ``close()`` it when done."""

    def __init__(self, jobs: int, detectors: list[Loaded], options: Options,
                 timeout: float = 30.0, memory_limit: int = 2 * 1024**3, batch: int = 8,
                 window: int = 2000, archives: ArchiveSettings | None = None) -> None:
        self.jobs = max(1, jobs)
        self.detectors = detectors
        self.options = options
        self.archives = archives
        self.timeout = timeout
        self.memory_limit = memory_limit
        self.batch = batch
        self.window = max(window, batch * self.jobs * 2)
        self._ctx = mp.get_context("spawn")
        self._workers: list[_Worker] = []
        self._boot_failures = 0
        self._tries: dict[int, int] = {}
        self.restarts = 0

    def _spawn(self) -> _Worker:
        w = _Worker(self._ctx, self.detectors, self.options, self.archives)
        self._workers.append(w)
        return w

    def close(self) -> None:
        for w in self._workers:
            with contextlib.suppress(Exception):
                w.conn.send(None)
        deadline = time.monotonic() + 2
        for w in self._workers:
            w.proc.join(max(0.0, deadline - time.monotonic()))
            if w.proc.is_alive():
                w.kill()
        self._workers.clear()

    def _fail(self, w: _Worker, reason: str | None, results: dict[int, tuple[WorkItem, Scanned]],
              pending: collections.deque[WorkItem]) -> None:
        """Worker ``w`` is gone or killed: its current file errors, the rest is re-queued.
        ``reason`` None means the worker died on its own: say how."""
        w.kill()
        if reason is None:
            reason = f"worker process {_died_how(w.proc)} while reading this file"
        if not w.ready:
            self._boot_failures += 1
            if self._boot_failures >= MAX_BOOT_FAILURES:
                raise RuntimeError(f"worker processes fail to start ({reason})")
        current = w.current
        culprit_seq = current[0] if current else None
        requeue = []
        for item in w.inflight:
            if culprit_seq is None:
                # died between files, holding none: each file it had gets two more tries
                self._tries[item.seq] = self._tries.get(item.seq, 0) + 1
            if item.seq == culprit_seq or self._tries.get(item.seq, 0) > 2:
                results[item.seq] = (item, Scanned(item.asset,
                                                   errors=(ScanError(WORKER, reason),)))
            else:
                requeue.append(item)
        pending.extendleft(reversed(requeue))
        self._workers.remove(w)
        self.restarts += 1

    def _may_take(self, w: _Worker, pending: int) -> bool:
        """Whether ``w`` gets another batch now. An idle worker always does. A busy one gets a
        second batch (it then waits in the pipe, never the worker) only while there is a full
        batch for every worker and it holds no heavy file: a delivery of a few masters must
        not queue behind one worker while the other has nothing, nor stills behind a master."""
        if not w.inflight:
            return True
        return (len(w.inflight) < 2 * self.batch and pending >= self.batch * self.jobs
                and not any(_heavy(i) for i in w.inflight))

    def _batch(self, pending: collections.deque[WorkItem]) -> list[WorkItem]:
        """The next batch: up to ``batch`` files but no more than a fair share of what is
        pending, and a heavy file (``_heavy``) alone: its scan dwarfs a message."""
        share = max(1, min(self.batch, -(-len(pending) // self.jobs)))
        out = [pending.popleft()]
        while len(out) < share and pending and not _heavy(out[0]) and not _heavy(pending[0]):
            out.append(pending.popleft())
        return out

    def map(self, items: Iterable[WorkItem]) -> Iterator[tuple[WorkItem, Scanned]]:
        feed = iter(items)
        pending: collections.deque[WorkItem] = collections.deque()
        results: dict[int, tuple[WorkItem, Scanned]] = {}
        order: collections.deque[int] = collections.deque()  # seqs in feed order
        exhausted = False
        try:
            while True:
                # read ahead: cache hits go straight to results, the rest waits in ``pending``
                while not exhausted and len(order) < self.window \
                        and len(pending) < self.batch * self.jobs * 2:
                    try:
                        item = next(feed)
                    except StopIteration:
                        exhausted = True
                        break
                    order.append(item.seq)
                    if item.done is not None:
                        results[item.seq] = (item, item.done)
                    else:
                        pending.append(item)
                # grow the pool with the work: a warm-cache rescan needs no worker at all, a
                # scan of three files one (each costs an interpreter start and imports)
                busy = sum(1 for w in self._workers if w.inflight or not w.ready)
                if pending and len(self._workers) < self.jobs and \
                        (busy == len(self._workers) or len(pending) > self.batch):
                    self._spawn()
                # hand out batches to ready workers
                for w in self._workers:
                    if not w.ready or not pending or not self._may_take(w, len(pending)):
                        continue
                    batch = self._batch(pending)
                    w.inflight.extend(batch)
                    try:  # what the runner keeps for an item (cache parts) stays here
                        w.conn.send([dataclasses.replace(i, cached=None) if i.cached is not None
                                     else i for i in batch])
                    except (BrokenPipeError, OSError):
                        pass  # noticed below through the sentinel
                # emit what is ready, in order
                while order and order[0] in results:
                    yield results.pop(order.popleft())
                if exhausted and not order and not pending:
                    return
                if self._workers:
                    self._wait(results, pending)
        except BaseException:
            self.close()  # interrupted mid-way: workers hold files we will not wait for
            raise

    def _wait(self, results: dict[int, tuple[WorkItem, Scanned]],
              pending: collections.deque[WorkItem]) -> None:
        now = time.monotonic()
        currents = [w.current for w in self._workers]
        deadlines = [c[1] + self.timeout - now for c in currents if c]
        tick = max(0.01, min([0.5, *deadlines]))
        handles = {}
        for w in self._workers:
            handles[w.conn] = w
            handles[w.proc.sentinel] = w
        ready = wait(list(handles), timeout=tick)
        for handle in ready:
            w = handles[handle]  # type: ignore[index]
            if w not in self._workers:
                continue
            if handle is w.conn:
                self._drain(w, results, pending)
            elif not w.proc.is_alive() or w.proc.exitcode is not None:
                self._drain(w, results, pending)
                if w in self._workers:
                    self._fail(w, None, results, pending)
        now = time.monotonic()
        for w in list(self._workers):
            current = w.current
            if current and now - current[1] > self.timeout:
                self._fail(w, f"timed out after {self.timeout:g} s (per-file limit)", results,
                           pending)
            elif current and self.memory_limit and w.rss() > self.memory_limit:
                self._fail(w, f"exceeded the memory limit of {self.memory_limit // 2**20} MB",
                           results, pending)

    def _drain(self, w: _Worker, results: dict[int, tuple[WorkItem, Scanned]],
               pending: collections.deque[WorkItem]) -> None:
        try:
            while w.conn.poll():
                msg = w.conn.recv()
                if msg[0] == "ready":
                    w.ready = True
                elif msg[0] == "done":
                    for seq, result in msg[1]:
                        item = next(i for i in w.inflight if i.seq == seq)
                        w.inflight.remove(item)
                        results[seq] = (item, result)
        except (EOFError, OSError):
            if w in self._workers:
                self._fail(w, None, results, pending)
