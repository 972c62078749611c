"""Per-file cost of the C2PA detector (``python -m bench.bench_c2pa [--full] [--unsigned] [-n N]``).

Runs the real pipeline (``scanner.pipeline.scan_asset``, C2PA detector only, one worker's
Shared so Contexts are reused as in a scan) over committed fixtures, and over sparse multi-GiB
MP4s made in a temp dir. Why: unsigned files must cost no verification, signed files only a
manifest read above the verify limit; these numbers show it.

Then unsigned files of every container, tiny (the fixture generator's sources) and realistic
(12-MP JPEG, HD PNG/WebP, 10 s MP4, 60 s WAV, 3 min MP3, 9 MB TIFF...), each scanned with the
structural pre-filter (``detectors.formats.c2pa_locate``) and with the Reader always called;
and a fresh process scanning one unsigned file both ways (what importing c2pa-python costs).

``--full`` also verifies a 1 GiB sparse MP4 (a full hash read; seconds) for comparison;
``--unsigned`` runs only the unsigned comparison.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from detectors.api import Options, Shared
from detectors.c2pa_provenance import C2paDetector
from detectors.formats.c2pa_locate import locate
from detectors.formats.sniff import sniff
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


class ReaderAlways(C2paDetector):
    """The detector without its structural pre-filter (what 1.0 did)."""

    prefilter = False


def time_case(path: Path, spec: dict[str, Any], n: int,
              detector: type[C2paDetector] = C2paDetector) -> tuple[float, float, str]:
    """Median and p95 ms per file over ``n`` scans, and the verdict."""
    loaded = Loaded("c2pa", "builtin", detector(), True)
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


def _ffmpeg(out: Path, args: list[str]) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", *args, str(out)],
                   check=True)


def realistic_unsigned(tmp: Path) -> dict[str, Path]:
    """Unsigned files of typical delivery sizes (made here; nothing is committed)."""
    from PIL import Image  # noqa: PLC0415 - bench-only

    out = {}
    photo = Image.effect_noise((4000, 3000), 60).convert("RGB")
    hd = photo.crop((0, 0, 1920, 1080))
    for name, img, kind, kw in (("photo_12mp.jpg", photo, "JPEG", {"quality": 90}),
                                ("frame_hd.png", hd, "PNG", {}),
                                ("frame_hd.webp", hd, "WEBP", {}),
                                ("scan_9mb.tif", photo.crop((0, 0, 2000, 1500)), "TIFF", {})):
        img.save(tmp / name, kind, **kw)
        out[name] = tmp / name
    lavfi_v = ["-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=25"]
    lavfi_a = ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"]
    jobs = {
        "clip_10s.mp4": [*lavfi_v, *lavfi_a, "-t", "10", "-c:v", "libx264", "-preset",
                         "ultrafast", "-c:a", "aac", "-shortest"],
        "clip_10s_faststart.mov": [*lavfi_v, "-t", "10", "-c:v", "libx264", "-preset",
                                   "ultrafast", "-movflags", "+faststart"],
        "stem_60s.wav": [*lavfi_a, "-t", "60", "-ac", "2", "-c:a", "pcm_s24le"],
        "song_3min.mp3": [*lavfi_a, "-t", "180", "-c:a", "libmp3lame", "-b:a", "128k",
                          "-metadata", "title=bench", "-metadata", "artist=deliverscan"],
        "song_3min.flac": [*lavfi_a, "-t", "180", "-c:a", "flac"],
        "clip_10s.avi": [*lavfi_v, "-t", "10", "-c:v", "mjpeg", "-q:v", "8"],
    }
    for name, args in jobs.items():
        _ffmpeg(tmp / name, args)
        out[name] = tmp / name
    return out


def tiny_unsigned(tmp: Path) -> dict[str, Path]:
    """The fixture generator's unsigned sources, one per container c2pa-python writes."""
    from fixtures import gen_c2pa as gen  # noqa: PLC0415 - bench-only

    out = {}
    for fmt in gen.FORMATS:
        path = tmp / f"tiny.{fmt}"
        path.write_bytes(gen.source(fmt, tmp))
        out[path.name] = path
    return out


def fresh_process_ms(path: Path, detector: str, rounds: int = 5) -> tuple[float, bool]:
    """Median wall ms of a new interpreter that loads the detector and scans one file (the
    worker's view: no ``available()`` self-test, which runs in the main process only)."""
    code = ("import sys, time\n"
            "t0 = time.perf_counter()\n"
            "from bench.bench_c2pa import C2paDetector, ReaderAlways, _asset\n"
            "from detectors.api import Options, Shared\n"
            "from detectors.registry import Loaded\n"
            "from scanner.pipeline import scan_asset\n"
            f"det = {detector}()\n"
            "shared = Shared(Options())\n"
            "scan_asset(_asset(sys.argv[1]), [Loaded('c2pa', 'builtin', det, True)], shared)\n"
            "print((time.perf_counter() - t0) * 1000, 'c2pa' in sys.modules)\n")
    samples, imported = [], False
    for _ in range(rounds):
        out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True,
                             text=True, check=True, cwd=ROOT)
        ms, flag = out.stdout.split()
        samples.append(float(ms))
        imported = flag == "True"
    return statistics.median(samples), imported


def unsigned_section(n: int) -> None:
    print("\nunsigned files: C2PA detector per file, with the structural pre-filter vs the "
          "Reader always (median ms, warm)")
    print(f"{'file':28} {'size':>9} {'locator':>8} {'read KiB':>9} {'prefilter':>10} "
          f"{'reader':>8} {'saved':>6}")
    with tempfile.TemporaryDirectory() as tmp:
        files = {**tiny_unsigned(Path(tmp)), **realistic_unsigned(Path(tmp))}
        for name, path in files.items():
            data = path.read_bytes()
            found = locate(sniff(data[:4096])[1], len(data), data[:65536],
                           lambda p=path: open(p, "rb"))  # noqa: SIM115 - closed by locate
            rounds = n if len(data) < 1024 * 1024 else max(20, n // 5)
            on, _, v_on = time_case(path, {}, rounds)
            off, _, v_off = time_case(path, {}, rounds, ReaderAlways)
            assert v_on == v_off, (name, v_on, v_off)
            print(f"{name:28} {len(data) / 1024:8.0f}K {found.state:>8} "
                  f"{found.bytes_read / 1024:9.1f} {on:10.3f} {off:8.3f} {off / on:5.1f}×")
        jpg = files["photo_12mp.jpg"]
        print("\nfresh process scanning one unsigned JPEG (imports + first scan), ms:")
        for det in ("C2paDetector", "ReaderAlways"):
            ms, imported = fresh_process_ms(jpg, det)
            print(f"  {det:14} {ms:8.1f}  c2pa-python imported: {imported}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("-n", type=int, default=200, help="scans per small-file case")
    ap.add_argument("--full", action="store_true", help="also verify a 1 GiB sparse MP4")
    ap.add_argument("--unsigned", action="store_true",
                    help="only the pre-filter comparison on unsigned files")
    args = ap.parse_args()
    if args.unsigned:
        unsigned_section(args.n)
        return
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
    unsigned_section(args.n)


if __name__ == "__main__":
    main()
