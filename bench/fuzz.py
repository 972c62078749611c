"""Fuzz harness: seeded mutations of real fixture files against our own parsers and the whole
per-file pipeline (``make fuzz``; a short fixed-seed run is part of ``make test``).

Two kinds of target:
- **parsers** (in-process, fast): ``bench.fuzz_targets.fuzz_targets()`` - one per native
  reader (PNG, stealth, JPEG, GIF, TIFF, RIFF, BMFF, MP3, FLAC, Ogg), the structures inside them
  (XMP packets, EXIF/IFD, ID3v2, Vorbis comments), sniffing, the rule pack on untrusted values
  and the metadata detector's read-then-match path. A target must return or raise its declared
  error (``FormatError`` / ``Incomplete``); anything else (IndexError, struct.error,
  RecursionError, MemoryError, UnicodeError...) is a crash, and so is an input that takes more
  than ``--slow`` seconds twice in a row (a hang is cut by SIGALRM) or more memory than
  ``--memory-mb`` (address-space limit, so the allocation fails as MemoryError).
- **pipeline** (worker processes): the full ``scan_asset`` with every default detector through
  ``scanner.workers.WorkerPool``, so a segfault in native code or a hang is caught and
  reported, never fatal. Crashes: a worker killed or timed out, a detector failing with an
  undeclared exception type, a ``clean`` verdict although a detector failed.

Each target fuzzes the seeds that suit it (``fuzz_targets.fuzz_seed``: files of its media type, XMP
packets cut out of files, field values a reader found...), sometimes a foreign file. Mutations:
bit flips, byte sets, "interesting" integers over 2/4/8-byte fields (sizes: 0, 1, 0x7fffffff,
0xffffffff...), format tokens (chunk/box ids, XML and JSON fragments), truncation, region
duplication and deletion, splicing two seeds. The input sequence is deterministic for a seed;
``--execs`` bounds the count (the test uses this). Crashes are minimised and saved under
``bench/fuzz-crashes/``; each one found becomes a file in ``fixtures/fuzz_regressions``.

``--atheris TARGET`` runs one parser target under atheris (coverage-guided, libFuzzer) instead,
when atheris is installed; the seeded loop needs nothing beyond the project's dependencies.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import resource
import shutil
import signal
import struct
import sys
import tempfile
import time
import traceback
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

ROOT = Path(__file__).resolve().parent.parent
CRASHES = ROOT / "bench" / "fuzz-crashes"
SEED_DIRS = [ROOT / "fixtures"]
MAX_SEED = 2 * 1024 * 1024
INTERESTING = [0, 1, 7, 8, 0x7F, 0x80, 0xFF, 0x7FFF, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF,
               0xFFFFFFF0, 2**63 - 1, 2**64 - 1]
# Tokens of the formats we parse: a mutation that writes one can create a chunk/box/tag.
TOKENS = [
    b"IHDR", b"IDAT", b"IEND", b"tEXt", b"zTXt", b"iTXt", b"eXIf", b"XML:com.adobe.xmp\x00",
    b"parameters\x00", b"Raw profile type exif\x00", b"Raw profile type xmp\x00",
    b"moov", b"udta", b"meta", b"hdlr", b"mdta", b"keys", b"ilst", b"data", b"uuid", b"----",
    b"iinf", b"iloc", b"idat", b"infe", b"XMP_", b"\xa9too", b"\xa9cmt", b"mean", b"name",
    b"RIFF", b"RF64", b"ds64", b"LIST", b"INFO", b"bext", b"iXML", b"_PMX", b"XMP ", b"EXIF",
    b"id3 ", b"C2PA", b"ID3\x03\x00\x00", b"ID3\x04\x00\x40", b"TXXX", b"COMM", b"GEOB",
    b"PRIV", b"APIC", b"3DI", b"TAG", b"fLaC", b"OggS", b"\x03vorbis", b"OpusTags",
    b"\xff\xe1", b"\xff\xfe", b"\xff\xda", b"Exif\x00\x00", b"II*\x00", b"MM\x00*",
    b"II+\x00\x08\x00\x00\x00", b"http://ns.adobe.com/xap/1.0/\x00",
    b"http://ns.adobe.com/xmp/extension/\x00", b"\x21\xfe", b"\x21\xff\x0bXMP DataXMP",
    b"<x:xmpmeta xmlns:x='adobe:ns:meta/'>", b"<rdf:RDF xmlns:rdf="
    b"'http://www.w3.org/1999/02/22-rdf-syntax-ns#'>", b"<rdf:Description ", b"<rdf:li>",
    b"<rdf:Bag>", b"<rdf:Seq>", b"rdf:parseType='Resource'", b"<!DOCTYPE x [<!ENTITY a 'b'>]>",
    b"&#0;", b"&#xd800;", b"UNICODE\x00", b"ASCII\x00\x00\x00", b"JIS\x00\x00\x00\x00\x00",
    b"stealth_pnginfo", b"stealth_pngcomp", b"Steps: 20, Sampler: Euler, ",
    b'{"3": {"class_type": "KSampler", "inputs": {}}}', b'{"nodes": [], "links": []}',
    b"[" * 64, b"{\"a\":" * 64, b"\\ud800", b"1e999999", b"9" * 5000,
    b"http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia",
    b"Made with Google AI", b"made with suno", b"midjourney", b"\x00" * 16, b"\xff" * 16,
]


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
        op = rng.randrange(9)
        pos = rng.randrange(len(b))
        if op == 0:
            b[pos] ^= 1 << rng.randrange(8)
        elif op == 1:
            b[pos] = rng.randrange(256)
        elif op == 2:
            width, fmt = rng.choice(((2, ">H"), (4, ">I"), (4, "<I"), (8, ">Q"), (2, "<H"),
                                     (8, "<Q")))
            val = rng.choice(INTERESTING) & ((1 << (8 * width)) - 1)
            if rng.random() < 0.3:
                val = (int.from_bytes(b[pos:pos + width].ljust(width, b"\0"),
                                      "big" if fmt[0] == ">" else "little")
                       + rng.choice((-2, -1, 1, 2, 16))) % (1 << (8 * width))
            b[pos:pos + width] = struct.pack(fmt, val)
        elif op == 3:
            del b[rng.randrange(len(b)):]
        elif op == 4:
            end = min(len(b), pos + rng.randrange(1, 512))
            b[pos:pos] = b[pos:end] * rng.randrange(1, 4)
        elif op == 5:
            del b[pos:pos + rng.randrange(1, 256)]
        elif op == 6:
            tok = rng.choice(TOKENS)
            if rng.random() < 0.5:
                b[pos:pos] = tok
            else:
                b[pos:pos + len(tok)] = tok
        elif op == 7:
            # a size field near a token: where chunk/box lengths live
            tok = rng.choice(TOKENS[:52])
            at = bytes(b).find(tok[:4], pos)
            if at >= 4:
                val = rng.choice(INTERESTING) & 0xFFFFFFFF
                fmt = ">I" if rng.random() < 0.6 else "<I"
                where = at - 4 if rng.random() < 0.7 else at + 4
                b[where:where + 4] = struct.pack(fmt, val)
        else:
            cut = rng.randrange(len(other)) if other else 0
            b[pos:] = other[cut:cut + rng.randrange(1, 4096)]
    return bytes(b)


def parser_targets() -> dict[str, Callable[[bytes], object]]:
    """name -> callable(bytes) from ``bench.fuzz_targets``."""
    from bench.fuzz_targets import fuzz_targets

    return dict(fuzz_targets())


def target_seeds(name: str, files: list[Path]) -> list[bytes]:
    """Seeds for one target (``fuzz_targets.fuzz_seed``), or every file when it gives none."""
    from bench.fuzz_targets import fuzz_seed

    blobs = [p.read_bytes() for p in files]
    out = [s for s in (fuzz_seed(name, b) for b in blobs) if s]
    return out or blobs


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


class Hang(Exception):
    """Raised by SIGALRM inside a target that runs far too long."""


def _alarm(_signo: int, _frame: FrameType | None) -> None:
    raise Hang("hang: interrupted by the fuzz harness")


def signature(name: str, exc: BaseException) -> str:
    """Where the crash comes from: target, exception type, innermost frame in our code."""
    where = "?"
    for fr in reversed(traceback.extract_tb(exc.__traceback__)):
        if (fr.filename.startswith(str(ROOT)) and "/bench/" not in fr.filename
                and "site-packages" not in fr.filename):
            where = f"{Path(fr.filename).relative_to(ROOT)}:{fr.lineno}"
            break
    return f"{name}: {type(exc).__name__} at {where}"


def save_crash(kind: str, name: str, data: bytes, detail: str) -> Path:
    CRASHES.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256(data).hexdigest()[:16]
    path = CRASHES / f"{kind}-{name}-{digest}{Path(name).suffix or '.bin'}"
    path.write_bytes(data)
    path.with_suffix(path.suffix + ".txt").write_text(detail)
    return path


def run_one(fn: Callable[[bytes], object], data: bytes, ok: tuple[type[BaseException], ...],
            hang_after: float) -> tuple[BaseException | None, float]:
    """Run a target once: (undeclared exception or None, seconds)."""
    signal.setitimer(signal.ITIMER_REAL, hang_after)
    t0 = time.perf_counter()
    try:
        fn(data)
    except ok:
        pass
    except Exception as exc:  # noqa: BLE001 - exactly what we are looking for
        return exc, time.perf_counter() - t0
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    return None, time.perf_counter() - t0


def minimize(fn: Callable[[bytes], object], data: bytes, sig: str, name: str,
             ok: tuple[type[BaseException], ...], seconds: float = 20.0) -> bytes:
    """Shrink a crashing input while it still crashes with the same signature (delta
    debugging over byte ranges, time-boxed): regression fixtures stay small and readable."""
    deadline = time.monotonic() + seconds

    def same(candidate: bytes) -> bool:
        exc, _ = run_one(fn, candidate, ok, 5.0)
        return exc is not None and not isinstance(exc, Hang) and signature(name, exc) == sig

    step = len(data) // 2
    while step >= 1 and time.monotonic() < deadline:
        i = 0
        shrunk = False
        while i < len(data) and time.monotonic() < deadline:
            candidate = data[:i] + data[i + step:]
            if candidate and same(candidate):
                data = candidate
                shrunk = True
            else:
                i += step
        if not shrunk:
            step //= 2
    return data


@dataclass
class Report:
    execs: dict[str, int] = field(default_factory=dict)
    crashes: dict[str, list[str]] = field(default_factory=dict)  # signature -> saved paths
    counts: dict[str, int] = field(default_factory=dict)  # signature -> occurrences
    slowest: dict[str, float] = field(default_factory=dict)
    busy: dict[str, float] = field(default_factory=dict)  # seconds spent in each target
    found: dict[str, int] = field(default_factory=dict)  # inputs kept for new coverage

    def crash(self, sig: str, path: str | None) -> None:
        self.counts[sig] = self.counts.get(sig, 0) + 1
        paths = self.crashes.setdefault(sig, [])
        if path and len(paths) < 3:
            paths.append(path)

    @property
    def total(self) -> int:
        return sum(self.execs.values())


class EdgeCoverage:
    """Line-to-line edges executed in ``detectors/`` (``sys.settrace``, pure Python): an input
    that reaches a new edge joins its target's corpus, so the loop digs into structures that
    blind mutation rarely reaches (a HEIF ``infe`` box of the right version, an ID3 frame
    with the right flags...). Costs ~3x in speed; deterministic for a seed."""

    # Line events traced per run: a loop over 100 000 chunks repeats the same edges, and
    # tracing all of it would make such inputs 30x slower.
    EVENTS = 20_000

    def __init__(self) -> None:
        self.prefix = str(ROOT / "detectors") + os.sep
        self.seen: set[tuple[str, int, int]] = set()
        self.current: set[tuple[str, int, int]] = set()
        self.left = self.EVENTS

    def _call(self, frame: FrameType, event: str, arg: object) -> Callable[..., object] | None:
        filename = frame.f_code.co_filename
        if self.left <= 0 or not filename.startswith(self.prefix):
            return None
        current = self.current
        prev = frame.f_lineno

        def line(frame: FrameType, event: str, arg: object) -> Callable[..., object] | None:
            nonlocal prev
            if event == "line":
                self.left -= 1
                if self.left <= 0:
                    sys.settrace(None)  # no more 'call' events either, for the rest of the run
                    return None
                current.add((filename, prev, frame.f_lineno))
                prev = frame.f_lineno
            return line

        return line

    def run(self, fn: Callable[[], tuple[BaseException | None, float]]
            ) -> tuple[tuple[BaseException | None, float], bool]:
        """Run ``fn`` traced; returns its result and whether it reached a new edge."""
        self.current = set()
        self.left = self.EVENTS
        old = sys.gettrace()
        sys.settrace(self._call)
        try:
            result = fn()
        finally:
            sys.settrace(old)
        new = not self.current <= self.seen
        if new:
            self.seen |= self.current
        return result, new


def _limit_memory(mb: int) -> None:
    """Cap the address space ``mb`` above what the harness already maps, so an unbounded
    allocation in a reader fails as MemoryError (a crash) instead of swapping the machine."""
    if mb <= 0:
        return
    with open("/proc/self/statm") as fh:
        vsize = int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    want = vsize + mb * 1024 * 1024
    if hard != resource.RLIM_INFINITY:
        want = min(want, hard)
    resource.setrlimit(resource.RLIMIT_AS, (want, hard))


MAX_CORPUS = 4000  # inputs kept per target (seeds + those that found new edges)


def fuzz_parsers(seconds: float, seed: int, files: list[Path], execs: int | None = None,
                 only: list[str] | None = None, slow: float = 2.0, save: bool = True,
                 minimize_crashes: bool = True, report: Report | None = None,
                 guided: bool = True, fair_time: bool = False) -> Report:
    """Run the parser targets until ``seconds`` pass (or ``execs`` runs): in turn, or with
    ``fair_time`` the one that has used the least time so far (the rule pack costs 30x a
    chunk walker per input). Each target has its own random stream, so the inputs a target
    sees are the same for a seed whatever the scheduling. ``guided``: inputs that reach new
    code edges are kept and mutated further."""
    report = report or Report()
    targets = parser_targets()
    names = sorted(n for n in targets if not only or n in only)
    if not names:
        return report
    ok = expected_errors()
    corpora = {n: target_seeds(n, files) for n in names}
    every = [p.read_bytes() for p in files]
    cov = {n: EdgeCoverage() for n in names} if guided else {}
    rngs = {n: random.Random(f"{seed}:{n}") for n in names}
    old = signal.signal(signal.SIGALRM, _alarm)
    deadline = time.monotonic() + seconds
    n = 0
    try:
        while time.monotonic() < deadline and (execs is None or n < execs):
            if fair_time:
                name = min(names, key=lambda t: (report.busy.get(t, 0.0), t))
            else:
                name = names[n % len(names)]
            n += 1
            rng = rngs[name]
            corpus = corpora[name]
            base = rng.choice(corpus) if rng.random() < 0.9 else rng.choice(every)
            data = mutate(base, rng, rng.choice(corpus))
            if guided:
                (exc, dt), new = cov[name].run(
                    lambda: run_one(targets[name], data, ok, max(10.0, 5 * slow)))  # noqa: B023
                if new and exc is None:
                    report.found[name] = report.found.get(name, 0) + 1
                    if len(corpus) < MAX_CORPUS:
                        corpus.append(data)
                    else:
                        corpus[rng.randrange(len(corpus))] = data
            else:
                exc, dt = run_one(targets[name], data, ok, max(10.0, 5 * slow))
            report.execs[name] = report.execs.get(name, 0) + 1
            report.busy[name] = report.busy.get(name, 0.0) + dt
            if dt > report.slowest.get(name, 0.0):
                report.slowest[name] = dt
            if exc is None and dt > slow:
                exc2, dt2 = run_one(targets[name], data, ok, max(10.0, 5 * slow))
                if exc2 is None and dt2 > slow:  # twice: not a scheduling hiccup
                    sig = f"{name}: slow input ({min(dt, dt2):.1f} s)"
                    path = save_crash("slow", name, data, sig) if save else None
                    report.crash(f"{name}: slow input", str(path) if path else None)
                    continue
                exc = exc2
            if exc is None:
                continue
            sig = signature(name, exc)
            detail = "".join(traceback.format_exception(exc))
            first = sig not in report.counts
            if first and minimize_crashes and not isinstance(exc, Hang):
                data = minimize(targets[name], data, sig, name, ok)
            path = save_crash("parser", name, data, detail) if save and (
                first or report.counts[sig] < 3) else None
            report.crash(sig, str(path) if path else None)
    finally:
        signal.signal(signal.SIGALRM, old)
    return report


# Exception types a detector may legitimately end with (``_describe`` in scanner.pipeline
# prefixes any other type's name to the message).
_BUG_TYPES = ("IndexError", "KeyError", "TypeError", "AttributeError", "ValueError",
              "RecursionError", "MemoryError", "UnicodeDecodeError", "UnicodeEncodeError",
              "UnicodeError", "ZeroDivisionError", "OverflowError", "AssertionError",
              "error", "struct.error", "NameError", "UnboundLocalError", "StopIteration")


def fuzz_pipeline(seconds: float, seed: int, files: list[Path], jobs: int = 2,
                  timeout: float = 10.0, report: Report | None = None,
                  batch: int = 32) -> Report:
    """Mutated files through the worker pool with every default detector."""
    from detectors.api import Options
    from scanner.aggregate import assemble
    from scanner.policy import Policy
    from scanner.runner import ScanConfig, select_detectors
    from scanner.walk import Walker
    from scanner.workers import WorkerPool, WorkItem

    rng = random.Random(seed)
    report = report or Report()
    work = Path(tempfile.mkdtemp(prefix="deliverscan-fuzz-"))
    dets = select_detectors(ScanConfig(roots=[]))
    pool = WorkerPool(jobs, dets, Options(file_timeout=timeout), timeout=timeout * 1.5)
    blobs = [(p, p.read_bytes()) for p in files]
    deadline = time.monotonic() + seconds
    try:
        batch_no = 0
        while time.monotonic() < deadline:
            batch_no += 1
            batch_dir = work / f"b{batch_no}"
            batch_dir.mkdir()
            inputs: dict[str, bytes] = {}
            for i in range(batch):
                src, data = rng.choice(blobs)
                data = mutate(data, rng, rng.choice(blobs)[1])
                p = batch_dir / f"{i:02d}{src.suffix}"
                p.write_bytes(data)
                inputs[str(p)] = data
            items = (WorkItem(n, a) for n, a in enumerate(Walker().walk([str(batch_dir)])))
            for _item, scanned in pool.map(items):
                result = assemble(scanned, Policy.default())
                report.execs["pipeline"] = report.execs.get("pipeline", 0) + 1
                data = inputs.get(result.asset.path, b"")
                name = Path(result.asset.path).name
                problems = []
                for err in result.errors:
                    msg = err.message
                    if err.source == "worker":
                        problems.append((f"pipeline: worker {msg.split(' while ')[0]}", msg))
                    elif msg.split(":", 1)[0] in _BUG_TYPES:
                        problems.append((f"pipeline: {err.source} {msg.split(':', 1)[0]}",
                                         msg))
                failed = [c for c in result.coverage if c.status == "failed"]
                if failed and result.verdict == "clean":
                    problems.append(("pipeline: failed detector but clean", str(failed)))
                for sig, msg in problems:
                    keep = report.counts.get(sig, 0) < 3
                    path = save_crash("pipeline", name, data, msg) if keep else None
                    report.crash(sig, str(path) if path else None)
                    if keep and sig.startswith("pipeline: worker"):
                        # a native crash may depend on what the worker read before: keep the
                        # whole batch (walk order = read order) to replay it
                        replay = CRASHES / f"batch-{batch_no}-seed{seed}"
                        shutil.copytree(batch_dir, replay, dirs_exist_ok=True)
            shutil.rmtree(batch_dir, ignore_errors=True)
    finally:
        pool.close()
        shutil.rmtree(work, ignore_errors=True)
    return report


def run_atheris(target: str, seconds: float, files: list[Path]) -> int:  # pragma: no cover
    """Coverage-guided fuzzing of one parser target with atheris (optional dependency)."""
    import atheris

    with atheris.instrument_imports(include=["detectors"]):
        targets = parser_targets()
    fn = targets[target]
    ok = expected_errors()
    corpus = Path(tempfile.mkdtemp(prefix=f"deliverscan-atheris-{target}-"))
    for i, s in enumerate(target_seeds(target, files)):
        (corpus / f"seed{i:04d}").write_bytes(s)

    def one(data: bytes) -> None:
        try:
            fn(data)
        except ok:
            pass

    CRASHES.mkdir(parents=True, exist_ok=True)
    atheris.Setup([sys.argv[0], str(corpus), f"-max_total_time={int(seconds)}",
                   "-timeout=10", "-rss_limit_mb=2048", f"-artifact_prefix={CRASHES}/atheris-"],
                  one)
    atheris.Fuzz()
    return 0


def _worst_files() -> dict[str, Callable[[], bytes]]:
    """Hostile files built to hit each reader's bounds (``--worst``), made one at a time."""
    def chunk(t: bytes, d: bytes) -> bytes:
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))

    def box(t: bytes, body: bytes) -> bytes:
        return struct.pack(">I", 8 + len(body)) + t + body

    def png(*chunks: bytes, w: int = 1, h: int = 1, color: int = 2, il: int = 0) -> bytes:
        return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, color, 0,
                                                                    0, il))
                + b"".join(chunks) + chunk(b"IEND", b""))

    def syncsafe(n: int) -> bytes:
        return bytes([(n >> 21) & 0x7F, (n >> 14) & 0x7F, (n >> 7) & 0x7F, n & 0x7F])

    gif = b"GIF89a\x01\x00\x01\x00\x00\x00\x00"
    ftyp = box(b"ftyp", b"isom\x00\x00\x00\x00isom")

    def ztxt_png() -> bytes:  # five 16 MiB text values for the rule pack
        bomb = zlib.compress(b"a cat, x, y, z\n" * (1 << 20), 9)
        return png(*[chunk(b"zTXt", k + b"\x00\x00" + bomb) for k in (
            b"parameters", b"Comment", b"Description", b"prompt", b"Title")])

    def stealth_png() -> bytes:  # 16 MP RGBA, a stealth header asking for every pixel
        w = h = 4000
        raw = bytearray(h * (1 + 4 * w))
        length = struct.pack(">I", w * h - 200)
        for y, bit in enumerate("".join(f"{b:08b}" for b in b"stealth_pnginfo" + length)):
            raw[y * (1 + 4 * w) + 4] = int(bit)
        return png(chunk(b"IDAT", zlib.compress(bytes(raw), 6)), w=w, h=h, color=6)

    def tiff() -> bytes:  # 4096 entries, all pointing at one 30 KB string
        n = 4096
        entry = struct.pack("<HHII", 0x010E, 2, 30_000, 8 + 2 + n * 12 + 4)
        return (b"II*\x00\x08\x00\x00\x00" + struct.pack("<H", n) + entry * n + b"\0" * 4
                + b"A" * 30_000)

    def mp3() -> bytes:  # one TIT2 frame of 16 MiB of NULs (a list of empty values)
        frame = b"\x01" + b"\x00" * ((16 << 20) - 64)
        body = b"TIT2" + syncsafe(len(frame)) + b"\x00\x00" + frame
        return b"ID3\x04\x00\x00" + syncsafe(len(body)) + body

    tiny_image = b"\x2c" + b"\x00" * 9 + b"\x02" + b"\x01x" * 199_000 + b"\x00"
    return {
        "png-250k-chunks.png": lambda: png(chunk(b"abCd", b"") * 250_000),
        "png-5-ztxt-16MiB.png": ztxt_png,
        "stealth-16MP.png": stealth_png,
        "riff-5M-forms.wav": lambda: b"RIFF\x04\x00\x00\x00WAVE" + b"RIFF\x04\0\0\0AVIX" * 5_000_000,
        "bmff-200k-boxes.mp4": lambda: ftyp + box(b"free", b"") * 200_000,
        "bmff-100k-udta-text.mp4": lambda: ftyp + box(b"moov", box(
            b"udta", box(b"\xa9cmt", b"\x00\x00\x00\x00") * 100_000)),
        "gif-xmp-no-trailer-17MiB.gif": lambda: (gif + b"\x21\xff\x0bXMP DataXMP"
                                                 + b"a" * (17 << 20)),
        "gif-tiny-sub-blocks.gif": lambda: gif + tiny_image * 40 + b"\x3b",
        "tiff-4096-entries-one-string.tif": tiff,
        "mp3-16MiB-nul-frame.mp3": mp3,
        "ogg-20k-streams.ogg": lambda: b"".join(
            b"OggS\x00\x02" + b"\x00" * 8 + struct.pack("<I", i) + b"\x00" * 8 + b"\x01\x00"
            for i in range(20_000)),
    }


def run_worst() -> int:
    """Time the metadata path (sniff, native reader, rule pack) on each worst-case file, read
    from disk as the detector reads it; the peak RSS is the process's high-water mark."""
    from detectors.api import open_readonly
    from detectors.formats.native import Collector, Source
    from detectors.formats.sniff import sniff
    from detectors.metadata import NATIVE
    from detectors.rules import load_pack

    load_pack()
    work = Path(tempfile.mkdtemp(prefix="deliverscan-worst-"))
    try:
        for name, make in _worst_files().items():
            path = work / name
            path.write_bytes(make())
            size = path.stat().st_size
            with open_readonly(str(path)) as fh:
                head = fh.read(64 * 1024)
            src = Source(size, head, lambda p=str(path): open_readonly(p))
            out = Collector()
            t0 = time.perf_counter()
            NATIVE[sniff(head)[1]](src, out)
            t_read = time.perf_counter() - t0
            notes: list[str] = []
            hits = load_pack().evaluate(out.fields, notes)
            t_all = time.perf_counter() - t0
            src.close()
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
            said = (out.problems + out.notes + notes)[:1]
            print(f"{name:34s} {size / 2**20:7.1f} MiB  read {t_read:5.2f} s  +rules "
                  f"{t_all - t_read:5.2f} s  {len(out.fields):6d} fields {len(hits):3d} hits  "
                  f"peak {rss:5d} MiB  {said[0][:90] if said else ''}")
            path.unlink()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=1800.0, help="total time budget")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--pipeline-share", type=float, default=0.3,
                    help="share of the time spent on the whole pipeline (rest: parsers)")
    ap.add_argument("--execs", type=int, default=None, help="stop the parser loop after N runs")
    ap.add_argument("--targets", default="", help="comma-separated parser targets (default all)")
    ap.add_argument("--slow", type=float, default=2.0, help="seconds that make an input slow")
    ap.add_argument("--memory-mb", type=int, default=3072,
                    help="address space allowed above the harness's own (0: no limit); the "
                         "pipeline's workers inherit it, so a native library that asks for "
                         "gigabytes on a tiny file fails there instead of being lazily granted")
    ap.add_argument("--jobs", type=int, default=2, help="pipeline worker processes")
    ap.add_argument("--blind", action="store_true",
                    help="no coverage feedback (plain mutation of the seeds, ~3x faster)")
    ap.add_argument("--json", type=Path, help="write the per-target summary here")
    ap.add_argument("--atheris", metavar="TARGET", help="coverage-guided run of one target")
    ap.add_argument("--worst", action="store_true",
                    help="time the metadata path on hostile files built to hit every bound")
    a = ap.parse_args(argv)
    if a.worst:
        return run_worst()
    files = seeds()
    if a.atheris:
        return run_atheris(a.atheris, a.seconds, files)
    only = [t for t in a.targets.split(",") if t] or None
    t_pipe = 0.0 if only else a.seconds * a.pipeline_share
    t0 = time.monotonic()
    report = Report()
    if a.memory_mb:
        parser_targets()  # import everything first: the limit is measured above that
        _limit_memory(a.memory_mb)
    fuzz_parsers(a.seconds - t_pipe, a.seed, files, execs=a.execs, only=only, slow=a.slow,
                 report=report, guided=not a.blind, fair_time=a.execs is None)
    if t_pipe > 0:
        fuzz_pipeline(t_pipe, a.seed, files, jobs=a.jobs, report=report)
    wall = time.monotonic() - t0
    print(f"fuzz: {len(files)} seed files, seed {a.seed}, {wall:.0f} s: {report.total} execs, "
          f"{len(report.counts)} distinct crashes")
    for name in sorted(report.execs):
        busy = report.busy.get(name, 0.0)
        print(f"  {name:10s} {report.execs[name]:9d} execs  "
              f"{report.found.get(name, 0):5d} new-coverage inputs  "
              f"mean {busy / report.execs[name] * 1000:7.2f} ms  "
              f"slowest {report.slowest.get(name, 0.0) * 1000:8.1f} ms")
    for sig, n in sorted(report.counts.items()):
        print(f"  CRASH x{n} {sig}")
        for p in report.crashes.get(sig, []):
            print(f"      {p}")
    if a.json:
        a.json.write_text(json.dumps({
            "seed": a.seed, "seconds": wall, "seed_files": len(files), "execs": report.execs,
            "slowest_s": report.slowest, "busy_s": report.busy,
            "new_coverage_inputs": report.found, "crashes": report.counts, "saved": report.crashes},
            indent=2))
    return 1 if report.counts else 0


if __name__ == "__main__":
    sys.exit(main())
