"""Per-file cost of the C2PA detector (``python -m bench.bench_c2pa [--full] [-n N]``).

Runs the real pipeline (``scanner.pipeline.scan_asset``, C2PA detector only, one worker's
Shared so Contexts are reused as in a scan) over committed fixtures, and over sparse multi-GiB
MP4s made in a temp dir. Why: unsigned files must cost no verification, signed files only a
manifest read above the verify limit; these numbers show it.

``--full`` also verifies a 1 GiB sparse MP4 (a full hash read; seconds) for comparison.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import struct
import tempfile
import time
from pathlib import Path
from typing import Any

from detectors.api import Options, Shared
from detectors.c2pa_provenance import C2paDetector
from detectors.model import Asset
from detectors.registry import Loaded
from scanner.pipeline import scan_asset

ROOT = Path(__file__).resolve().parent.parent
FIX = ROOT / "fixtures" / "c2pa"
GIB = 1024**3

CASES: list[tuple[str, str, dict[str, Any]]] = [
    ("unsigned JPEG", "scenarios/unsigned.jpg", {}),
    ("signed JPEG, verify", "formats/ai_created.jpg", {}),
    ("signed JPEG, verify + anchors", "formats/ai_created.jpg", {"anchors": True}),
    ("signed JPEG, no verify (> limit)", "formats/ai_created.jpg", {"verify_limit": 0}),
    ("3-manifest composite JPEG, verify", "scenarios/composite.jpg", {}),
    ("signed MP4, verify", "formats/ai_created.mp4", {}),
    ("signed PDF, verify", "formats/ai_created.pdf", {}),
    ("remote-only JPEG", "scenarios/remote_only.jpg", {}),
]


def _asset(path: Path) -> Asset:
    st = os.stat(path)
    return Asset(str(path), st.st_size, st.st_mtime_ns, "other")


def _options(spec: dict[str, Any]) -> Options:
    opts = Options()
    if spec.get("anchors"):
        opts.trust_anchors = (FIX / "pki" / "root.pem").read_text()
    if "verify_limit" in spec:
        opts.verify_limit = spec["verify_limit"]
    if spec.get("verify_all"):
        opts.verify_all = True
    return opts


def time_case(path: Path, spec: dict[str, Any], n: int) -> tuple[float, float, str]:
    """Median and p95 ms per file over ``n`` scans, and the verdict."""
    loaded = Loaded("c2pa", "builtin", C2paDetector(), True)
    shared = Shared(_options(spec))
    asset = _asset(path)
    try:
        verdict = scan_asset(asset, [loaded], shared).verdict  # warm: Contexts, page cache
        samples = []
        for _ in range(n):
            t0 = time.perf_counter()
            scan_asset(asset, [loaded], shared)
            samples.append((time.perf_counter() - t0) * 1000)
    finally:
        shared.close()
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95) - 1], verdict


def sparse_mp4(path: Path, total: int) -> None:
    """ftyp + the signed fixture's C2PA uuid box + moov + 64-bit mdat, truncated to ``total``."""
    data = (FIX / "formats" / "ai_created.mp4").read_bytes()
    boxes, i = {}, 0
    while i < len(data):
        size, kind = struct.unpack(">I4s", data[i:i + 8])
        boxes[kind] = data[i:i + size]
        i += size
    head = boxes[b"ftyp"] + boxes[b"uuid"] + boxes[b"moov"]
    with path.open("wb") as fh:
        fh.write(head + struct.pack(">I4sQ", 1, b"mdat", total - len(head)))
        fh.truncate(total)


def time_once(path: Path, spec: dict[str, Any]) -> tuple[float, str, str]:
    loaded = Loaded("c2pa", "builtin", C2paDetector(), True)
    shared = Shared(_options(spec))
    try:
        t0 = time.perf_counter()
        result = scan_asset(_asset(path), [loaded], shared)
        ms = (time.perf_counter() - t0) * 1000
    finally:
        shared.close()
    validation = result.findings[0].evidence.get("validation", "") if result.findings else ""
    return ms, result.verdict, validation


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("-n", type=int, default=200, help="scans per small-file case")
    ap.add_argument("--full", action="store_true", help="also verify a 1 GiB sparse MP4")
    args = ap.parse_args()
    print(f"{'case':40} {'median ms':>10} {'p95 ms':>8}  verdict")
    for label, rel, spec in CASES:
        med, p95, verdict = time_case(FIX / rel, spec, args.n)
        print(f"{label:40} {med:10.3f} {p95:8.3f}  {verdict}")
    with tempfile.TemporaryDirectory() as tmp:
        big = Path(tmp) / "big.mp4"
        sparse_mp4(big, 50 * GIB)
        rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        ms, verdict, validation = time_once(big, {})
        rss = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0) / 1024
        print(f"{'50 GiB sparse MP4 (> limit, manifest only)':40} {ms:10.1f} {'':8}  {verdict}; "
              f"{validation}; peak RSS +{rss:.0f} MiB")
        if args.full:
            one = Path(tmp) / "one.mp4"
            sparse_mp4(one, GIB)
            ms, verdict, validation = time_once(one, {"verify_all": True})
            rss = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0) / 1024
            print(f"{'1 GiB sparse MP4, --verify-all':40} {ms:10.1f} {'':8}  {verdict}; "
                  f"{validation}; peak RSS +{rss:.0f} MiB")


if __name__ == "__main__":
    main()
