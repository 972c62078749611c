"""Measure what a scale-out capacity model rests on (``docs/scale-out.md``), on this machine:

- Dask's overhead per task (a LocalCluster of 2 workers, no-op tasks, many in flight);
- files per second per worker core for the cheap stage (sniffing, C2PA, native metadata) and
  for a costly one (pixel watermark decode) through ``scanner.cluster.run_batch``, as a Dask
  worker runs a batch;
- bytes moved per file between client and workers (pickled work items and results);
- bytes and requests per file read from an object store (moto's S3 server on 127.0.0.1), and
  the same for the files read from disk;
- a capacity model: the cluster size for 10 M files in an 8-hour night, and where the
  scheduler or the storage saturates as workers are added.

    .venv/bin/python -m bench.bench_cluster [--files 2000] [--out bench/results/scale-out.md]

Takes ~2 minutes. Needs the [dask] and [s3] extras (make setup installs them).
"""

from __future__ import annotations

import argparse
import math
import os
import pickle
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from scanner.cluster import BATCH

ROOT = Path(__file__).resolve().parents[1]


def task_overhead(n: int = 400) -> float:
    """Seconds of scheduler + transport per task, with many tasks in flight."""
    import dask
    from distributed import Client, LocalCluster, wait

    with dask.config.set({"distributed.worker.daemon": False}), \
            LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                         dashboard_address=None) as cluster, Client(cluster) as client:
        client.submit(len, [1]).result()  # warm
        t0 = time.perf_counter()
        futures = [client.submit(len, [i], pure=False) for i in range(n)]
        wait(futures)
        elapsed = time.perf_counter() - t0
    return elapsed / n * 2  # two workers take tasks at once: per task per worker


def per_file(paths: list[str], kind: str) -> tuple[float, int, int]:
    """(files/s on one worker core, mean bytes sent per file, mean bytes back per file)."""
    from detectors.api import Options
    from detectors.model import Asset
    from detectors.registry import load_all
    from scanner.cluster import TaskConfig, run_batch
    from scanner.workers import WorkItem

    loaded = [d for d in load_all() if d.name != "register"]
    if kind == "cheap":
        loaded = [d for d in loaded if d.name != "watermark"]
    config = TaskConfig(kind, loaded, Options(), None, 60.0, 2 * 1024**3)
    items = []
    for i, p in enumerate(paths):
        st = os.stat(p)
        items.append(WorkItem(i, Asset(p, st.st_size, st.st_mtime_ns, "unknown", dev=st.st_dev,
                                       inode=st.st_ino, ctime_ns=st.st_ctime_ns)))
    run_batch(config, items[:8])  # start the worker's child process, warm its imports
    t0 = time.perf_counter()
    out = []
    for i in range(0, len(items), BATCH):
        out += run_batch(config, items[i:i + BATCH])
    elapsed = time.perf_counter() - t0
    sent = sum(len(pickle.dumps(items[i:i + BATCH])) for i in range(0, len(items), BATCH))
    back = len(pickle.dumps(out))
    return len(items) / elapsed, sent // len(items), back // len(items)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def store_reads(tree: Path) -> dict[str, float]:
    """Bytes and requests per file when the tree is read from S3 (moto) instead of disk."""
    port = _free_port()
    server = subprocess.Popen([str(Path(sys.executable).parent / "moto_server"), "-H",
                               "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)
    os.environ.update({"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
                       "AWS_DEFAULT_REGION": "us-east-1",
                       "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}"})
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        import s3fs

        import scanner
        from detectors import remote

        fs = s3fs.S3FileSystem()
        fs.mkdir("bench")
        fs.put(str(tree) + "/", "bench/", recursive=True)
        counts = {"bytes": 0, "opens": 0, "reads": 0}
        real_open = remote.open_remote

        class Counting:
            def __init__(self, fh: Any) -> None:
                self.fh = fh

            def read(self, n: int = -1) -> bytes:
                data = self.fh.read(n)
                counts["bytes"] += len(data)
                counts["reads"] += 1
                return bytes(data)

            def __getattr__(self, name: str) -> Any:
                return getattr(self.fh, name)

            def __enter__(self) -> Counting:
                return self

            def __exit__(self, *exc: object) -> None:
                self.fh.close()

        def counting_open(url: str) -> Any:
            counts["opens"] += 1
            return Counting(real_open(url))

        remote.open_remote = counting_open  # type: ignore[assignment]
        import detectors.api as api

        api.open_remote = counting_open  # type: ignore[assignment]
        t0 = time.perf_counter()
        report = scanner.scan(["s3://bench"], disable=("watermark",))
        elapsed = time.perf_counter() - t0
        files = report.summary.files
        on_disk = sum(p.stat().st_size for p in tree.rglob("*") if p.is_file())
        return {"files": files, "bytes_per_file": counts["bytes"] / files,
                "opens_per_file": counts["opens"] / files,
                "reads_per_file": counts["reads"] / files, "files_per_s": files / elapsed,
                "share_of_bytes": counts["bytes"] / max(on_disk, 1)}
    finally:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=30)


def _duration(seconds: float) -> str:
    """Hours, or minutes below an hour (0.0 h said nothing)."""
    return f"{seconds / 3600:,.1f} h" if seconds >= 3600 else f"{seconds / 60:,.0f} min"


def model(overhead: float, cheap: float, costly: float, batch: int, bytes_per_file: float,
          storage_bps: float, costly_share: float) -> list[str]:
    """Files per second a cluster of N worker cores sustains: the least of what the cores do,
    what the scheduler hands out (batches per second x batch) and what storage delivers."""
    per_core = 1 / ((1 - costly_share) / cheap + costly_share / costly)
    sched = batch / overhead
    store = storage_bps / max(bytes_per_file, 1)
    lines = ["| worker cores | cores give files/s | scheduler limit | storage limit | "
             "files/s | 10 M files take |", "|---:|---:|---:|---:|---:|---:|"]
    for n in (2, 8, 32, 128, 512, 2048):
        rate = min(n * per_core, sched, store)
        bound = "cores" if rate == n * per_core else ("scheduler" if rate == sched else "storage")
        lines.append(f"| {n} | {n * per_core:,.0f} | {sched:,.0f} | {store:,.0f} | "
                     f"{rate:,.0f} ({bound}) | {_duration(10_000_000 / rate)} |")
    need = math.ceil(10_000_000 / (8 * 3600) / per_core)
    lines.append("")
    lines.append(f"Cores for 10 M files in an 8-hour night at this mix: **{need:,.0f}** "
                 f"({per_core:,.0f} files/s per core; {costly_share:.0%} of files in the costly "
                 "stage).")
    # the realistic tree of `make bench` is far costlier: ~65 % of its files are stills or
    # clips at a size a marking generator writes, all pixel-decoded
    heavy = 1 / (0.35 / cheap + 0.65 / costly)
    lines.append(f"At the mix of `make bench`'s realistic tree (65 % of files pixel-decoded): "
                 f"{heavy:,.0f} files/s per core, **{math.ceil(10_000_000 / (8 * 3600) / heavy)}"
                 "** cores.")
    return lines


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--files", type=int, default=2000)
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "scale-out.md"))
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-cluster-"))
    try:
        tree = work / "tree"
        subprocess.run([sys.executable, "-m", "bench.make_tree", str(tree), "--files",
                        str(args.files), "--masters", ""], check=True, cwd=ROOT,
                       stdout=subprocess.DEVNULL)
        files = sorted(str(p) for p in tree.rglob("*") if p.is_file())
        marked = sorted(str(p) for p in (ROOT / "fixtures" / "watermark").rglob("*")
                        if p.is_file() and p.suffix in (".png", ".jpg", ".webp"))
        overhead = task_overhead()
        cheap, sent, back = per_file(files, "cheap")
        costly, _, _ = per_file((marked * 20)[:200], "costly")
        s3 = store_reads(tree)
        load = os.getloadavg()[0]
        lines = [
            "# Scale-out measurements", "",
            f"Recorded {time.strftime('%Y-%m-%d')} on this machine ({os.cpu_count()} cores, "
            f"load average {load:.1f} at the end), `python -m bench.bench_cluster --files "
            f"{args.files}`.", "",
            "| quantity | value |", "|---|---:|",
            f"| Dask overhead per task (LocalCluster, 2 workers) | {overhead * 1000:.2f} ms |",
            f"| cheap stage, one worker core | {cheap:,.0f} files/s |",
            f"| costly stage (pixel decode of marked stills), one worker core | "
            f"{costly:,.1f} files/s |",
            f"| batch of {BATCH} files (the default): overhead share (cheap stage) | "
            f"{overhead / (BATCH / cheap):.1%} |",
            f"| client → worker per file (pickled work item) | {sent} bytes |",
            f"| worker → client per file (pickled result) | {back} bytes |",
            f"| object store: bytes read per file (ranged reads) | "
            f"{s3['bytes_per_file']:,.0f} bytes ({s3['share_of_bytes']:.0%} of the tree) |",
            f"| object store: opens / reads per file | {s3['opens_per_file']:.2f} / "
            f"{s3['reads_per_file']:.2f} |",
            f"| object store scan, in process (moto on 127.0.0.1) | "
            f"{s3['files_per_s']:,.0f} files/s |",
            "", "## Capacity model (1 GB/s storage, 2 % of files costly)", "",
            *model(overhead, cheap, costly, BATCH, s3["bytes_per_file"], 1e9, 0.02), "",
        ]
        Path(args.out).write_text("\n".join(lines) + "\n")
        print("\n".join(lines))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
