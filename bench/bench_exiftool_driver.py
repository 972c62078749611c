"""Per-file cost of the ExifTool driver against plain ``exiftool -r -j`` on the same small files.

    .venv/bin/python -m bench.bench_exiftool_driver              # 300 synthetic files
    .venv/bin/python -m bench.bench_exiftool_driver --dir ../shared/corpus

Prints a Markdown table (best of ``--repeat`` runs): wall time and CPU time per file. On a
shared machine trust the CPU column more than the wall column.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import struct
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from PIL import Image, PngImagePlugin

from detectors.formats.exiftool import COMMON_ARGS, ExifToolDriver, find_exiftool
from detectors.formats.exiftool_tags import exiftool_fields


def make_files(root: Path, n: int) -> list[Path]:
    """Small files of the kinds a delivery holds: JPEG with EXIF, PNG with text, WAV, MP4."""
    files: list[Path] = []
    exif = Image.Exif()
    exif[0x0131] = "AI generated;txt2img;flux"
    for i in range(n):
        kind = i % 10
        if kind < 4:
            p = root / f"img{i:04d}.jpg"
            Image.new("RGB", (320, 240), (i % 255, 40, 90)).save(p, exif=exif, quality=80)
        elif kind < 8:
            p = root / f"gen{i:04d}.png"
            info = PngImagePlugin.PngInfo()
            info.add_text("parameters", f"prompt {i}\nSteps: 20, Seed: {i}")
            Image.new("RGB", (256, 256), (20, i % 255, 90)).save(p, pnginfo=info)
        elif kind == 8:
            p = root / f"snd{i:04d}.wav"
            fmt = struct.pack("<HHIIHH", 1, 1, 8000, 16000, 2, 16)
            info = b"INFO" + b"ISFT" + struct.pack("<I", 6) + b"Lavf1\0"
            body = (b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt + b"data"
                    + struct.pack("<I", 8000) + b"\0" * 8000
                    + b"LIST" + struct.pack("<I", len(info)) + info)
            p.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
        else:
            p = root / f"vid{i:04d}.mp4"
            src = root / "_src.mp4"
            if not src.exists():
                ffmpeg = shutil.which("ffmpeg")
                if ffmpeg is None:
                    continue
                subprocess.run([ffmpeg, "-v", "error", "-f", "lavfi", "-i",
                                "testsrc=s=160x120:d=1", "-metadata", "comment=x", "-y",
                                str(src)], check=True)
            shutil.copyfile(src, p)
        files.append(p)
    src = root / "_src.mp4"
    if src.exists():
        src.unlink()
    return files


def _cpu_self() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _cpu_children() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _cpu_pid(pid: int | None) -> float:
    """CPU seconds of a live child (not yet in RUSAGE_CHILDREN)."""
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def best(fn: Callable[[], object], repeat: int, pid: Callable[[], int | None] = lambda: None
         ) -> tuple[float, float]:
    """Best wall time of ``repeat`` runs, and the CPU (ours + ExifTool's) of that run."""
    runs = []
    for _ in range(repeat):
        c0, k0, p0 = _cpu_self(), _cpu_children(), _cpu_pid(pid())
        t0 = time.perf_counter()
        fn()
        wall = time.perf_counter() - t0
        runs.append((wall, _cpu_self() - c0 + _cpu_children() - k0 + _cpu_pid(pid()) - p0))
    return min(runs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=300)
    ap.add_argument("--dir", help="measure these files instead of synthetic ones")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    exe = find_exiftool()
    if exe is None:
        raise SystemExit("exiftool not found")
    with tempfile.TemporaryDirectory(prefix="bench-exiftool-") as tmp:
        if args.dir:
            root = Path(args.dir).resolve()
            files = sorted(p for p in root.rglob("*") if p.is_file())
        else:
            root = Path(tmp) / "files"
            root.mkdir()
            files = make_files(root, args.files)
        n = len(files)
        out = Path(tmp) / "out.json"
        rows: list[tuple[str, tuple[float, float]]] = []

        def cli(extra: list[str]) -> Callable[[], object]:
            def run() -> None:
                with open(out, "wb") as fh:
                    subprocess.run([exe, "-r", *extra, str(root)], stdout=fh,
                                   stderr=subprocess.DEVNULL, check=False)
            return run

        rows.append(("`exiftool -r -j DIR` (one process, incl. start-up)",
                     best(cli(["-j"]), args.repeat)))
        rows.append((f"`exiftool -r {' '.join(COMMON_ARGS)} DIR`",
                     best(cli(list(COMMON_ARGS)), args.repeat)))

        def cold() -> None:
            with ExifToolDriver(exe) as d:
                d.read_many(files)

        rows.append(("driver, cold (start-up + read_many)", best(cold, args.repeat)))
        with ExifToolDriver(exe) as d:
            d.read_many(files[:1])
            rows.append(("driver, warm read_many (pipelined)",
                         best(lambda: d.read_many(files), args.repeat, lambda: d.pid)))
            rows.append(("driver, warm read() one by one",
                         best(lambda: [d.read_many([p]) for p in files], args.repeat,
                              lambda: d.pid)))
            results = d.read_many(files)
            errors = sum(isinstance(r, Exception) for r in results)
            tags = [r for r in results if isinstance(r, dict)]
            rows.append(("exiftool_fields() on the results",
                         best(lambda: [exiftool_fields(t) for t in tags], args.repeat)))
        sample = files[: min(20, n)]
        spawn = best(lambda: [subprocess.run([exe, *COMMON_ARGS, str(p)], capture_output=True,
                                             check=False) for p in sample], 1)
        rows.append(("spawn `exiftool ARGS file` per file (20-file sample, scaled)",
                     (spawn[0] * n / len(sample), spawn[1] * n / len(sample))))

        print(f"ExifTool {d.version}, {n} files ({errors} errors), {os.cpu_count()} CPUs, "
              f"best of {args.repeat}\n")
        print("| mode | wall s | wall ms/file | CPU ms/file (ours + ExifTool) |\n"
              "|---|---:|---:|---:|")
        for name, (wall, cpu) in rows:
            print(f"| {name} | {wall:.3f} | {wall * 1000 / n:.2f} | {cpu * 1000 / n:.2f} |")


if __name__ == "__main__":
    main()
