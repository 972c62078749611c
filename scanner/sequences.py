"""Image sequences (``shot040_comp_v003.1001.exr`` … ``.1200.exr``, DPX scans, TIFF/PNG frames)
reported as one logical asset.

A VFX or scan delivery holds thousands of frames; one report row per frame hides the one that
matters. Frames are still scanned one by one (every frame by default; ``--sequence-sample N``
checks one frame in N plus the first and the last, and lists the others as not checked). Report
writers then get one result per sequence: the worst verdict of its frames, every finding with
its frame number and file, the frame ranges missing in between, and the resolutions when they
differ ("200 frames, 1 flagged: 1101"). The run's counts and exit code are the frames' own:
grouping only changes how results are shown.

Grouping is streaming: results arrive in walk order, a folder's files together, so the
sequences of one folder are formed when the walk leaves it.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import NamedTuple

from detectors.formats import registry
from detectors.model import (
    APPLIED,
    FAILED,
    SKIPPED,
    VERDICT_ORDER,
    Asset,
    AssetResult,
    Coverage,
    Finding,
    ScanError,
)
from detectors.model import Sequence as SequenceInfo
from scanner.stored import Reported, full

MIN_FRAMES = 5  # fewer numbered files (v001, v002, v003 of a still) are not a sequence
MAX_BUFFER = 50_000  # results held for one folder before its sequences are cut
MAX_RANGES = 50  # missing ranges listed (the count covers all)
# name, frame number (3+ digits) right before the extension
FRAME = re.compile(r"^(?P<prefix>.*?)(?P<digits>\d{3,})(?P<ext>\.[A-Za-z][A-Za-z0-9]{1,4})$")
SAMPLED = "not checked: --sequence-sample {n} checks one frame in {n} (first and last always)"


class FrameName(NamedTuple):
    folder: str
    prefix: str
    ext: str
    number: int
    digits: str


def parse_frame(path: str) -> FrameName | None:
    """The frame number in ``path``'s name when it could be one frame of a still sequence."""
    dot = path.rfind(".")
    if dot < 1 or not path[dot - 1].isdigit():  # most names: no digit before the extension
        return None
    folder, name = os.path.split(path)
    m = FRAME.match(name)
    if m is None:
        return None
    ext = m["ext"].lower()
    types = registry.extensions().get(ext, ())
    if not any(registry.kind_of(t) == "image" for t in types):
        return None
    return FrameName(folder, m["prefix"], ext, int(m["digits"]), m["digits"])


def sample_frames(names: Sequence[str], every: int) -> set[str]:
    """The names (of one folder) left out when only one frame in ``every`` is checked: never
    the first or the last of a sequence, never a file that is not a frame."""
    if every <= 1:
        return set()
    runs: dict[tuple[str, str], list[tuple[int, str]]] = {}
    for name in names:
        f = parse_frame(name)
        if f is not None:
            runs.setdefault((f.prefix, f.ext), []).append((f.number, name))
    out: set[str] = set()
    for frames in runs.values():
        frames.sort()
        if len(frames) < MIN_FRAMES or len(frames) * 2 < frames[-1][0] - frames[0][0] + 1:
            continue  # not a sequence (see ``_dense``)
        last = len(frames) - 1
        out.update(name for i, (_, name) in enumerate(frames) if i % every and i != last)
    return out


def _key(result: Reported) -> tuple[str, str, str] | None:
    if result.asset.kind != "image" and result.verdict not in ("error", SKIPPED):
        return None
    if result.asset.skip_reason and not result.asset.skip_reason.startswith("not checked: "):
        return None  # clutter, excluded...: listed on their own
    f = parse_frame(result.asset.path)
    return (f.folder, f.prefix, f.ext) if f else None


def _ranges(numbers: Iterable[int]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for n in sorted(numbers):
        if out and n == out[-1][1] + 1:
            out[-1] = (out[-1][0], n)
        else:
            out.append((n, n))
    return out


def _fmt(ranges: Iterable[tuple[int, int]]) -> str:
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in ranges)


def group(frames: Sequence[AssetResult]) -> AssetResult:
    """One result for the frames of one sequence (same folder, name and extension)."""
    named: list[tuple[FrameName, AssetResult]] = []
    for r in frames:
        name = parse_frame(r.asset.path)
        assert name is not None  # only frames are grouped
        named.append((name, r))
    named.sort(key=lambda x: x[0].number)
    first_name, last_name = named[0][0], named[-1][0]
    numbers = [f.number for f, _ in named]
    first, last = numbers[0], numbers[-1]
    missing = _ranges(set(range(first, last + 1)) - set(numbers)) if last - first < 10**7 else []
    pattern = f"{first_name.prefix}[{first_name.digits}-{last_name.digits}]{first_name.ext}"
    path = os.path.join(first_name.folder, pattern)
    verdicts = Counter(r.verdict for _, r in named)
    verdict = next(v for v in VERDICT_ORDER if verdicts.get(v))
    findings: list[Finding] = []
    errors: list[ScanError] = []
    shown: list[tuple[int, AssetResult]] = []
    for f, r in named:
        for finding in r.findings:
            findings.append(dataclasses.replace(finding, evidence={
                **finding.evidence, "frame": f.number, "file": r.asset.path}))
        errors.extend(ScanError(e.source, f"frame {f.number}: {e.message}") for e in r.errors)
        if r.verdict != "clean":
            shown.append((f.number, r))
    sizes = Counter(f"{r.asset.pixels[0]}x{r.asset.pixels[1]}" for _, r in named
                    if r.asset.pixels)
    flagged = [n for n, r in shown if r.verdict in ("ai", "review")]
    unread = [n for n, r in shown if r.verdict == "error"]
    sampled = [n for n, r in shown if r.verdict == SKIPPED]
    note = f"image sequence: {len(named):,} frames {first}-{last}"
    if flagged:
        note += f", {len(flagged)} flagged: {_fmt(_ranges(flagged))}"
    if unread:
        note += f", {len(unread)} could not be checked: {_fmt(_ranges(unread))}"
    if sampled:
        note += f", {len(sampled)} not checked (sampled)"
    if missing:
        gap = sum(b - a + 1 for a, b in missing)
        note += f", {gap:,} missing: {_fmt(missing[:MAX_RANGES])}" + (
            " …" if len(missing) > MAX_RANGES else "")
    if len(sizes) > 1:
        note += ", mixed resolutions: " + ", ".join(f"{k} ×{n}" for k, n in sizes.most_common())
    media = Counter(r.asset.media_type for _, r in named).most_common(1)[0][0]
    asset = Asset(path=path, size=sum(r.asset.size for _, r in named), mtime_ns=0,
                  kind="image", media_type=media, notes=(note,),
                  pixels=named[0][1].asset.pixels if len(sizes) == 1 else None,
                  skip_reason=named[0][1].asset.skip_reason if verdict == SKIPPED else None)
    info = SequenceInfo(pattern, first, last, len(named), tuple(missing), tuple(shown),
                        tuple(sizes.most_common()))
    return AssetResult(asset, verdict, tuple(findings), tuple(errors),
                       _coverage([r for _, r in named]), None,
                       any(r.blocking for _, r in named), info)


def _coverage(frames: Sequence[AssetResult]) -> tuple[Coverage, ...]:
    """Per detector: failed on any frame, else applied to any, else what the first frame says;
    with the notes of the frames (the first few distinct ones)."""
    by: dict[str, list[Coverage]] = {}
    for r in frames:
        for c in r.coverage:
            by.setdefault(c.detector, []).append(c)
    out = []
    for det, covs in by.items():
        states = {c.status for c in covs}
        status = FAILED if FAILED in states else APPLIED if APPLIED in states else covs[0].status
        notes: list[str] = []
        for c in covs:
            for n in c.notes:
                if n not in notes and len(notes) < 5:
                    notes.append(n)
        count = sum(1 for c in covs if c.status == status)
        out.append(Coverage(det, status, (f"{count} of {len(frames)} frames {status}", *notes)))
    return tuple(out)


def _dense(frames: list[Reported]) -> bool:
    """Numbered files that are mostly consecutive (half of the range at least): a sequence,
    not a folder of ``asset00002.png``, ``asset00008.png``... of unrelated stills."""
    numbers = [f.number for f in (parse_frame(r.asset.path) for r in frames) if f is not None]
    return len(numbers) * 2 >= max(numbers) - min(numbers) + 1


class Sequencer:
    """Sits between the runner and the report writers: passes results on in walk order, with
    the frames of each sequence replaced by one result (at the first frame's place)."""

    def __init__(self, emit: Callable[[Reported], None], min_frames: int = MIN_FRAMES) -> None:
        self.emit = emit
        self.min_frames = min_frames
        self.folder: str | None = None
        self.held: list[Reported] = []

    def add(self, result: Reported) -> None:
        folder = os.path.dirname(result.asset.path)
        if folder != self.folder:
            self.flush()
            self.folder = folder
        self.held.append(result)
        if len(self.held) >= MAX_BUFFER:
            self.flush()

    def flush(self) -> None:
        held, self.held = self.held, []
        runs: dict[tuple[str, str, str], list[int]] = {}
        for i, r in enumerate(held):
            k = _key(r)
            if k is not None:
                runs.setdefault(k, []).append(i)
        starts: dict[int, list[int]] = {}
        inside: set[int] = set()
        for idx in runs.values():
            if len(idx) >= self.min_frames and _dense([held[j] for j in idx]):
                starts[idx[0]] = idx
                inside.update(idx)
        for i, r in enumerate(held):
            if i in starts:
                self.emit(group([full(held[j]) for j in starts[i]]))
            elif i not in inside:
                self.emit(r)


def grouped(results: Iterable[AssetResult], min_frames: int = MIN_FRAMES) -> list[AssetResult]:
    """``results`` with sequences grouped (for the Python API: ``grouped(report.results)``)."""
    out: list[AssetResult] = []
    seq = Sequencer(lambda r: out.append(full(r)), min_frames)
    for r in results:
        seq.add(r)
    seq.flush()
    return out
