"""Per-file cost of the metadata tiers (``python -m bench.bench_metadata [-n N]``).

Why: the native tier exists because ExifTool costs ~2.5 ms per file even kept open; this puts
the two side by side on the same files (the committed ``fixtures/meta`` plus the shared corpus
when present), and adds the cases where the native tier must not touch essence: a 12-MP PNG with
text after IDAT (vs Pillow, which decodes to reach it) and a sparse 50 GiB MP4 with moov at the
end. It also times ``mutagen`` on the audio files, the question being whether it beats our own
ID3/Vorbis readers (it does not, see the table). Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import struct
import subprocess
import tempfile
import time
import zlib
from collections.abc import Callable
from pathlib import Path

from detectors.api import AssetContext, Options, Shared
from detectors.formats.native import Collector, Source
from detectors.formats.sniff import sniff
from detectors.metadata import NATIVE, MetadataDetector
from detectors.model import Asset
from scanner.pipeline import classify

ROOT = Path(__file__).resolve().parent.parent
META = ROOT / "fixtures" / "meta"
CORPUS = Path(os.environ.get("DELIVERSCAN_CORPUS", ROOT.parent / "shared" / "corpus"))


def _files() -> list[Path]:
    out = [p for p in sorted(META.iterdir()) if p.suffix != ".xmp"]
    if CORPUS.is_dir():
        out += [p for p in sorted(CORPUS.iterdir())
                if p.suffix.lower() in (".png", ".jpg", ".webp", ".wav", ".mp3", ".mp4", ".mov",
                                        ".avif") and p.stat().st_size > 0]
    return [p for p in out if sniff(p.read_bytes()[:4096])[1] in NATIVE]


def _per_file(fn: Callable[[Path], object], files: list[Path], rounds: int) -> float:
    """Best round's mean per-file time (ms), page cache warm (best-of resists a busy machine)."""
    for p in files:
        fn(p)
    samples = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        for p in files:
            fn(p)
        samples.append((time.perf_counter() - t0) / len(files) * 1000)
    return min(samples)


def _native_reader(p: Path) -> object:
    st = p.stat()
    with open(p, "rb") as fh:
        head = fh.read(64 * 1024)
    media = sniff(head[:4096])[1]
    src = Source(st.st_size, head, lambda: open(p, "rb"))
    out = Collector()
    NATIVE[media](src, out)
    src.close()
    return out


def _detector(shared: Shared) -> Callable[[Path], object]:
    det = MetadataDetector()

    def run(p: Path) -> object:
        st = p.stat()
        ctx = AssetContext(Asset(str(p), st.st_size, st.st_mtime_ns, "other"), shared)
        asset = classify(ctx.asset, ctx)
        ctx.asset = asset
        return list(det.detect(asset, ctx))

    return run


def _chunk(ctype: bytes, data: bytes) -> bytes:
    return (struct.pack(">I", len(data)) + ctype + data
            + struct.pack(">I", zlib.crc32(ctype + data) & 0xFFFFFFFF))


def _big_png(path: Path) -> None:
    w, h = 4000, 3000
    row = os.urandom(w * 3)
    stream = zlib.compress(b"".join(b"\0" + row for _ in range(h)), 0)
    with path.open("wb") as fh:
        fh.write(b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)))
        for i in range(0, len(stream), 65536):
            fh.write(_chunk(b"IDAT", stream[i:i + 65536]))
        fh.write(_chunk(b"tEXt", b"parameters\0Steps: 20, Sampler: Euler") + _chunk(b"IEND", b""))


def _box(t: bytes, p: bytes) -> bytes:
    return struct.pack(">I", 8 + len(p)) + t + p


def _sparse_mp4(path: Path, size: int) -> None:
    item = _box(b"\xa9too", _box(b"data", struct.pack(">II", 1, 0) + b"Google"))
    hdlr = _box(b"hdlr", b"\0" * 8 + b"mdirappl" + b"\0" * 9)
    moov = _box(b"moov", _box(b"udta", _box(b"meta", b"\0" * 4 + hdlr + _box(b"ilst", item))))
    with path.open("wb") as fh:
        fh.write(_box(b"ftyp", b"isom\0\0\2\0isom"))
        fh.write(struct.pack(">I4sQ", 1, b"mdat", size))
        fh.seek(fh.tell() - 16 + size)
        fh.write(moov)


def _once(fn: Callable[[], object], n: int = 5) -> float:
    best = 1e9
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", "--rounds", type=int, default=20)
    args = ap.parse_args()
    files = _files()
    rows: list[tuple[str, str, str]] = []
    shared = Shared(Options())
    rows.append((f"native readers, {len(files)} files", f"{_per_file(_native_reader, files, args.rounds):.3f}",
                 "Source + reader only"))
    rows.append(("native tier detector (readers + rule pack)",
                 f"{_per_file(_detector(shared), files, args.rounds):.3f}", "what a scan pays"))
    exe = shutil.which("exiftool")
    if exe:
        from detectors.formats.exiftool import ExifToolDriver
        from detectors.formats.exiftool_tags import exiftool_fields

        with ExifToolDriver(exe) as drv:
            ms = _per_file(lambda p: exiftool_fields(drv.read(str(p))), files,
                           max(2, args.rounds // 5))
            rows.append((f"ExifTool {drv.version} stay_open driver", f"{ms:.3f}",
                         "-j -a -G3:1:4 -u, one -executeN per file"))
        with tempfile.TemporaryDirectory() as tmp:
            for i, p in enumerate(files):
                os.symlink(p, Path(tmp) / f"{i:04d}{p.suffix}")
            cmd = [exe, "-r", "-j", "-a", "-G3:1:4", "-u", "-api", "LargeFileSupport=1", tmp]
            best = 1e9
            for _ in range(3):
                t0 = time.perf_counter()
                out = subprocess.run(cmd, capture_output=True, check=False).stdout
                best = min(best, time.perf_counter() - t0)
            assert len(json.loads(out)) == len(files)
            rows.append(("ExifTool -r over the same files (one process)",
                         f"{best / len(files) * 1000:.3f}", "includes start-up"))
    try:
        import mutagen

        audio = [p for p in files if p.suffix in (".mp3", ".flac", ".ogg", ".opus")]
        ours = _per_file(_native_reader, audio, args.rounds)
        theirs = _per_file(lambda p: mutagen.File(p), audio, args.rounds)
        rows.append((f"own ID3/Vorbis readers, {len(audio)} audio files", f"{ours:.3f}", ""))
        rows.append((f"mutagen {mutagen.version_string} on the same files", f"{theirs:.3f}",
                     "mutagen.File(path)"))
    except ImportError:
        rows.append(("mutagen", "-", "not installed"))
    with tempfile.TemporaryDirectory() as tmp:
        png = Path(tmp) / "big.png"
        _big_png(png)
        ms = _once(lambda: _native_reader(png))
        rows.append(("12-MP PNG, text after IDAT: native", f"{ms:.3f}",
                     f"{png.stat().st_size // 2**20} MiB file, IDAT skipped"))
        if exe:
            ms = _once(lambda: subprocess.run([exe, "-j", "-PNG:Parameters", str(png)],
                                              capture_output=True, check=True), 3)
            rows.append(("12-MP PNG: ExifTool spawned", f"{ms:.3f}", "one process per file"))

        def pillow() -> None:
            from PIL import Image

            with Image.open(png) as im:
                assert "parameters" in im.text

        rows.append(("12-MP PNG: Pillow `.text`", f"{_once(pillow, 3):.3f}", "decodes all pixels"))
        mp4 = Path(tmp) / "huge.mp4"
        _sparse_mp4(mp4, 50 * 1024**3)
        ms = _once(lambda: _native_reader(mp4))
        rows.append(("50 GiB sparse MP4, moov at end: native", f"{ms:.3f}", "a few header reads"))
        if exe:
            from detectors.formats.exiftool import ExifToolDriver

            with ExifToolDriver(exe) as drv:
                ms = _once(lambda: drv.read(str(mp4)), 3)
            rows.append(("50 GiB sparse MP4: ExifTool stay_open", f"{ms:.3f}", ""))
    shared.close()
    print("| case | ms per file | note |")
    print("|---|---:|---|")
    for case, ms, note in rows:
        print(f"| {case} | {ms} | {note} |")


if __name__ == "__main__":
    main()
