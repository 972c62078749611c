"""Huge entry counts do not grow memory without bound: scan trees of 20,000 and 200,000
entries (empty files plus small text files, spread over directories) streaming JSONL to
/dev/null, and compare peak RSS.

    .venv/bin/python -m bench.bench_huge_tree            # 20k and 200k entries
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

from bench.run_bench import timed


def make(root: Path, n: int) -> None:
    per_dir = 1000
    for i in range(n):
        d = root / f"d{i // per_dir:04d}"
        if i % per_dir == 0:
            d.mkdir(parents=True)
        (d / f"f{i:06d}.txt").write_bytes(b"" if i % 2 else b"note\n")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", default="20000,200000")
    a = ap.parse_args()
    exe = str(Path(sys.executable).parent / "deliverscan")
    rows = []
    for n in (int(x) for x in a.sizes.split(",")):
        work = Path(tempfile.mkdtemp(prefix="deliverscan-huge-"))
        try:
            make(work / "t", n)
            r = timed([exe, "scan", str(work / "t"), "--format", "jsonl", "-o", "/dev/null",
                       "--no-cache"], work / "out")
            rows.append((n, r))
        finally:
            shutil.rmtree(work, ignore_errors=True)
    print("| entries | wall s | peak RSS MB (largest process) |")
    print("|---:|---:|---:|")
    for n, r in rows:
        print(f"| {n} | {r['seconds']:.1f} | {r['maxrss_kb'] / 1024:.0f} |")
    print(json.dumps([{"entries": n, **r} for n, r in rows]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
