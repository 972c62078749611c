"""Fuzz harness: seeded mutations of real fixture files against our own parsers and the whole
per-file pipeline (``make fuzz``; a 20-second run is part of ``make test``).

Two kinds of target:
- **parsers** (in-process, fast): each native format reader must either return fields or raise
  its declared error (``FormatError`` / ``Incomplete``). Any other exception (IndexError,
  struct.error, RecursionError, MemoryError, UnicodeError...) is a crash.
- **pipeline** (worker processes): the full ``scan_asset`` with every default detector, through
  ``scanner.workers.WorkerPool`` so that a segfault in native code or a hang is caught and
  reported, never fatal. A result must never be ``clean`` when a detector failed.

Mutations: bit flips, byte sets, "interesting" integers over 2/4/8-byte fields (sizes and
lengths: 0, 1, 0x7fffffff, 0xffffffff...), truncation, region duplication and deletion,
splicing two seeds. Crashes are saved under ``bench/fuzz-crashes/`` to become regression
fixtures. Without atheris this is a plain seeded mutation loop; it is deterministic for a seed.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import random
import shutil
import struct
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CRASHES = ROOT / "bench" / "fuzz-crashes"
SEED_DIRS = [ROOT / "fixtures"]
MAX_SEED = 2 * 1024 * 1024
INTERESTING = [0, 1, 7, 8, 0x7F, 0x80, 0xFF, 0x7FFF, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF,
               0xFFFFFFF0, 2**63 - 1, 2**64 - 1]


def seeds() -> list[Path]:
    out = []
    for d in SEED_DIRS:
        for p in sorted(d.rglob("*")):
            if p.is_file() and not p.is_symlink() and 0 < p.stat().st_size <= MAX_SEED \
                    and p.suffix not in (".py", ".pyc", ".tsv", ".md", ".pem", ".key"):
                out.append(p)
    return out


def mutate(data: bytes, rng: random.Random, other: bytes) -> bytes:
    b = bytearray(data)
    for _ in range(rng.choice((1, 1, 2, 3, 8))):
        if not b:
            b = bytearray(other[:64])
            continue
        op = rng.randrange(7)
        pos = rng.randrange(len(b))
        if op == 0:
            b[pos] ^= 1 << rng.randrange(8)
        elif op == 1:
            b[pos] = rng.randrange(256)
        elif op == 2:
            width, fmt = rng.choice(((2, ">H"), (4, ">I"), (4, "<I"), (8, ">Q")))
            val = rng.choice(INTERESTING) & ((1 << (8 * width)) - 1)
            b[pos:pos + width] = struct.pack(fmt, val)
        elif op == 3:
            del b[rng.randrange(len(b)):]
        elif op == 4:
            end = min(len(b), pos + rng.randrange(1, 512))
            b[pos:pos] = b[pos:end] * rng.randrange(1, 4)
        elif op == 5:
            del b[pos:pos + rng.randrange(1, 256)]
        else:
            cut = rng.randrange(len(other)) if other else 0
            b[pos:] = other[cut:cut + rng.randrange(1, 4096)]
    return bytes(b)


def parser_targets() -> dict[str, Callable[[bytes], object]]:
    """name -> callable(bytes) for each native reader (``detectors.formats.native.read_fields``
    style entry points, when present)."""
    targets: dict[str, Callable[[bytes], object]] = {}
    try:
        native = importlib.import_module("detectors.formats.native")
    except ImportError:
        return targets
    fuzz_entry = getattr(native, "fuzz_targets", None)
    if callable(fuzz_entry):
        targets.update(fuzz_entry())
    return targets


def expected_errors() -> tuple[type[BaseException], ...]:
    errs: list[type[BaseException]] = []
    from detectors.api import Incomplete, NotApplicable

    errs += [Incomplete, NotApplicable]
    try:
        from detectors.formats.native import FormatError

        errs.append(FormatError)
    except ImportError:
        pass
    return tuple(errs)


def save_crash(kind: str, name: str, data: bytes, detail: str) -> Path:
    CRASHES.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256(data).hexdigest()[:16]
    path = CRASHES / f"{kind}-{name}-{digest}{Path(name).suffix or '.bin'}"
    path.write_bytes(data)
    path.with_suffix(path.suffix + ".txt").write_text(detail)
    return path


def fuzz_parsers(seconds: float, seed: int, files: list[Path]) -> tuple[int, list[str]]:
    rng = random.Random(seed)
    targets = parser_targets()
    if not targets:
        return 0, []
    ok_errors = expected_errors()
    blobs = [p.read_bytes() for p in files]
    execs = 0
    crashes: list[str] = []
    deadline = time.monotonic() + seconds
    names = sorted(targets)
    while time.monotonic() < deadline:
        name = names[execs % len(names)]
        data = mutate(rng.choice(blobs), rng, rng.choice(blobs))
        t0 = time.perf_counter()
        try:
            targets[name](data)
        except ok_errors:
            pass
        except Exception:  # noqa: BLE001 - exactly what we are looking for
            detail = traceback.format_exc()
            crashes.append(f"{name}: {detail.strip().splitlines()[-1]} -> "
                           f"{save_crash('parser', name, data, detail)}")
        if time.perf_counter() - t0 > 2.0:
            crashes.append(f"{name}: slow input ({time.perf_counter() - t0:.1f} s) -> "
                           f"{save_crash('slow', name, data, 'took > 2 s')}")
        execs += 1
    return execs, crashes


def fuzz_pipeline(seconds: float, seed: int, files: list[Path], jobs: int = 2,
                  timeout: float = 10.0) -> tuple[int, list[str]]:
    from detectors.api import Options
    from scanner.runner import ScanConfig, select_detectors
    from scanner.walk import Walker
    from scanner.workers import WorkerPool, WorkItem

    rng = random.Random(seed)
    work = Path(tempfile.mkdtemp(prefix="deliverscan-fuzz-"))
    execs = 0
    crashes: list[str] = []
    dets = select_detectors(ScanConfig(roots=[]))
    pool = WorkerPool(jobs, dets, Options(file_timeout=timeout))
    deadline = time.monotonic() + seconds
    try:
        batch_no = 0
        while time.monotonic() < deadline:
            batch_no += 1
            batch_dir = work / f"b{batch_no}"
            batch_dir.mkdir()
            inputs: dict[str, bytes] = {}
            for i in range(32):
                src = rng.choice(files)
                data = mutate(src.read_bytes(), rng, rng.choice(files).read_bytes())
                p = batch_dir / f"{i:02d}{src.suffix}"
                p.write_bytes(data)
                inputs[str(p)] = data
            items = (WorkItem(n, a) for n, a in enumerate(Walker().walk([str(batch_dir)])))
            for _item, result in pool.map(items):
                execs += 1
                worker_err = [e for e in result.errors if e["detector"] == "worker"]
                failed = [c for c in result.coverage if c.status == "failed"]
                if worker_err:
                    data = inputs[result.asset.path]
                    crashes.append(f"pipeline: {worker_err[0]['message']} -> "
                                   f"{save_crash('pipeline', Path(result.asset.path).name, data, worker_err[0]['message'])}")
                if failed and result.verdict == "clean":
                    crashes.append(f"pipeline: failed detector but clean: {result.asset.path}")
            shutil.rmtree(batch_dir, ignore_errors=True)
    finally:
        pool.close()
        shutil.rmtree(work, ignore_errors=True)
    return execs, crashes


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=float, default=1800.0, help="total time budget")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--pipeline-share", type=float, default=0.3,
                    help="share of the time spent on the whole pipeline (rest: parsers)")
    a = ap.parse_args(argv)
    files = seeds()
    t_pipe = a.seconds * a.pipeline_share
    n_parse, c_parse = fuzz_parsers(a.seconds - t_pipe, a.seed, files)
    n_pipe, c_pipe = fuzz_pipeline(t_pipe, a.seed, files)
    print(f"fuzz: {len(files)} seeds; parsers {n_parse} execs, pipeline {n_pipe} execs; "
          f"{len(c_parse) + len(c_pipe)} crashes in {a.seconds:.0f} s (seed {a.seed})")
    for c in c_parse + c_pipe:
        print("  " + c)
    return 1 if c_parse or c_pipe else 0


if __name__ == "__main__":
    sys.exit(main())
