"""Per-asset pipeline: sniff the content, run every applicable detector with containment, and
return the raw ``Scanned`` record (asset + one ``Outcome`` per detector). The verdict is not
decided here: the aggregator builds the result once, after the cache and the policy.

``scan_asset`` is a plain top-level function of (asset, detectors, shared) so that it can run in
this process or in a worker process unchanged.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
import time
from collections.abc import Sequence

from detectors.api import (
    AssetContext,
    Incomplete,
    NotApplicable,
    Options,
    Shared,
    open_readonly,
)
from detectors.formats import registry
from detectors.formats.sniff import (
    SNIFF_BYTES,
    clutter_reason,
    extension_note,
    named_like_clutter,
    sniff,
)
from detectors.model import (
    APPLIED,
    ARCHIVE,
    FAILED,
    MEDIA_KINDS,
    NOT_APPLICABLE,
    READ,
    UNAVAILABLE,
    WALK,
    Asset,
    Finding,
    Outcome,
    ScanError,
    Scanned,
)
from detectors.registry import Loaded
from detectors.remote import is_remote
from scanner.archives import COPY_CHUNK, ArchiveSettings, Nesting, scan_archive


def classify(asset: Asset, ctx: AssetContext) -> Asset:
    """Decide kind and media type from the file's first bytes (read once, kept in ``ctx``).

    An empty file has no content to go by: its name is all we have, so a zero-byte ``.mov``
    stays a (broken) video rather than quietly becoming "other". OS clutter is skipped only
    when name and content agree; a media file merely named like clutter is scanned."""
    kind, media_type = sniff(ctx.head[:SNIFF_BYTES], ctx.read_at)
    if not ctx.head:
        named = registry.extensions().get(asset.ext, ())
        if named and registry.kind_of(named[0]) in MEDIA_KINDS:
            kind = registry.kind_of(named[0])
            media_type = named[0]
    notes = list(asset.notes)
    note = extension_note(asset.path, media_type)
    if note:
        notes.append(note)
    clutter = clutter_reason(asset.path, media_type)
    if clutter is None and named_like_clutter(asset.path):
        notes.append(f"named like OS clutter, but the content is {media_type}: scanned")
    dims = registry.dimensions(media_type, ctx.head) if kind == "image" else None
    return dataclasses.replace(asset, kind=kind, media_type=media_type, notes=tuple(notes),
                               skip_reason=clutter, pixels=dims[:2] if dims else None)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror}" + (f": {exc.filename}" if exc.filename else "")
    text = str(exc) or type(exc).__name__
    return text if isinstance(exc, Incomplete) else f"{type(exc).__name__}: {text}"


def run_detector(loaded: Loaded, asset: Asset, ctx: AssetContext) -> Outcome:
    """One detector on one asset, contained: whatever it does, the result is an outcome."""
    det = loaded.detector
    if det is None or not loaded.available:
        return Outcome(loaded.name, UNAVAILABLE, notes=(loaded.reason,))
    applies_error = None
    try:
        applies = det.applies(asset, ctx)
    except Exception as exc:  # noqa: BLE001 - a plugin bug must not stop the scan
        applies = True
        applies_error = f"applies() failed: {exc}"
    if not applies:
        return Outcome(det.name, NOT_APPLICABLE, notes=(f"kind {asset.kind}",))
    findings: list[Finding] = []
    status, error, notes = APPLIED, applies_error, []
    start = time.perf_counter()
    try:
        for finding in det.detect(asset, ctx):
            findings.append(finding)
    except NotApplicable as exc:
        status = NOT_APPLICABLE
        notes.append(str(exc))
    except Exception as exc:  # noqa: BLE001 - contained: error for this detector only
        status = FAILED
        notes.append(_describe(exc))
        error = "; ".join(filter(None, (applies_error, _describe(exc))))
    notes.extend(ctx.take_notes())
    return Outcome(det.name, status, tuple(findings), tuple(notes), error,
                   time.perf_counter() - start)


def _needs_path(loaded: Loaded, asset: Asset, options: Options) -> bool:
    det = loaded.detector
    needs = getattr(det, "needs_path", None)
    if det is None or not callable(needs):
        return True  # a plugin that does not say: give it a file
    try:
        return bool(needs(asset, options))
    except Exception:  # noqa: BLE001
        return True


def _local_copy(asset: Asset, settings: ArchiveSettings) -> str:
    """``asset`` (in an object store) copied to the scan's temporary folder, bounded."""
    limit = settings.limits.max_member_bytes
    if asset.size > limit:
        raise OSError(f"{asset.size:,} bytes: over the {limit:,}-byte limit for a local copy")
    fd, path = tempfile.mkstemp(prefix="remote-", suffix=asset.ext[:16],
                                dir=settings.temp_dir)
    try:
        with os.fdopen(fd, "wb") as out, open_readonly(asset.path) as src:
            done = 0
            while chunk := src.read(COPY_CHUNK):
                done += len(chunk)
                if done > limit:
                    raise OSError(f"over the {limit:,}-byte limit for a local copy")
                out.write(chunk)
    except BaseException:
        os.unlink(path)
        raise
    return path


def stage_of(loaded: Loaded, asset: Asset, options: Options) -> int:
    """The detector's stage for this file (1 cheap, 2 costly; a plugin without ``stage``
    runs in stage 1)."""
    det = loaded.detector
    stage = getattr(det, "stage", None)
    if det is None or not callable(stage):
        return 1
    try:
        return 2 if stage(asset, options) == 2 else 1
    except Exception:  # noqa: BLE001 - a plugin bug: run it at once, where it is contained
        return 1


def triage(loaded: Loaded, asset: Asset, ctx: AssetContext) -> Outcome | None:
    """Stage 1's look at a costly detector: its cheap tests only (``applies``, then
    ``precheck``: header dimensions and the like). An outcome when it will not read the file
    (kept, so stage 2 skips it), None when stage 2 must run it."""
    det = loaded.detector
    if det is None or not loaded.available:
        return Outcome(loaded.name, UNAVAILABLE, notes=(loaded.reason,))
    try:
        if det.applies(asset, ctx):
            precheck = getattr(det, "precheck", None)
            why = precheck(asset, ctx) if callable(precheck) else None
            if why is None:
                return None
            return Outcome(det.name, NOT_APPLICABLE, notes=(why, *ctx.take_notes()))
    except NotApplicable as exc:
        return Outcome(det.name, NOT_APPLICABLE, notes=(str(exc), *ctx.take_notes()))
    except Exception:  # noqa: BLE001 - decided again (and reported) when stage 2 runs it
        return None
    return Outcome(det.name, NOT_APPLICABLE, notes=(f"kind {asset.kind}", *ctx.take_notes()))


def scan_asset(asset: Asset, detectors: Sequence[Loaded], shared: Shared,
               archives: ArchiveSettings | None = None, nesting: Nesting | None = None,
               stage: int | None = None) -> Scanned:
    """Sniff ``asset`` and run ``detectors`` on it; the raw material of its result. An archive
    is looked inside: each member is scanned the same way (``Scanned.members``). ``stage=1``
    runs only what is cheap for this file: a costly detector is triaged (``triage``) and, when
    it applies, left out of the outcomes (``Scanned.deferred``) for stage 2; an archive is
    left whole to stage 2."""
    if asset.skip_reason:
        return Scanned(asset)
    if asset.walk_error:
        return Scanned(asset, errors=(ScanError(WALK, asset.walk_error),))
    ctx = AssetContext(asset, shared)
    try:
        asset = classify(asset, ctx)
    except OSError as exc:
        return Scanned(asset, errors=(ScanError(READ, f"cannot read: {_describe(exc)}"),))
    ctx.asset = asset
    if asset.skip_reason:  # OS clutter, recognised by name and content
        return Scanned(asset)
    if not ctx.head and asset.kind in MEDIA_KINDS:
        return Scanned(asset, errors=(ScanError(
            READ, f"empty file (0 bytes) named as {asset.media_type}"),))
    if stage != 1 and is_remote(asset.path) and asset.extracted is None and (
            asset.kind == ARCHIVE or any(_needs_path(d, asset, shared.options)
                                         for d in detectors)):
        # an object-store file a reader needs on disk (ExifTool, a decoder, an archive):
        # a bounded temporary copy, removed once the file is scanned
        try:
            copy = _local_copy(asset, archives or ArchiveSettings())
        except OSError as exc:
            return Scanned(asset, errors=(ScanError(READ, f"cannot copy for reading: "
                                                          f"{_describe(exc)}"),))
        try:
            return scan_asset(dataclasses.replace(asset, extracted=copy), detectors, shared,
                              archives, nesting, stage)
        finally:
            try:
                os.unlink(copy)
            except OSError:
                pass
    if asset.kind == ARCHIVE:
        if stage == 1:
            return Scanned(asset, deferred=("archive",))
        settings = archives or ArchiveSettings()

        def member(a: Asset, n: Nesting) -> Scanned:
            return scan_asset(a, detectors, shared, settings, n)

        return scan_archive(asset, member, settings, shared.heartbeat, nesting)
    if stage != 1:
        return Scanned(asset, tuple(run_detector(d, asset, ctx) for d in detectors))
    outcomes: list[Outcome] = []
    deferred: list[str] = []
    for d in detectors:
        if stage_of(d, asset, shared.options) == 1:
            outcomes.append(run_detector(d, asset, ctx))
            continue
        triaged = triage(d, asset, ctx)
        if triaged is None:
            deferred.append(d.name)
        else:
            outcomes.append(triaged)
    return Scanned(asset, tuple(outcomes), deferred=tuple(deferred))
