"""Per-asset pipeline: sniff the content, run every applicable detector with containment,
aggregate into an ``AssetResult``.

``scan_asset`` is a plain top-level function of (asset, detectors, shared) so that it can run in
this process or in a worker process unchanged.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence

from detectors.api import AssetContext, Incomplete, NotApplicable, Shared
from detectors.formats.sniff import (
    EXTENSIONS,
    SNIFF_BYTES,
    clutter_reason,
    extension_note,
    named_like_clutter,
    sniff,
)
from detectors.model import (
    APPLIED,
    FAILED,
    NOT_APPLICABLE,
    UNAVAILABLE,
    Asset,
    AssetResult,
    Coverage,
)
from detectors.registry import Loaded
from scanner.aggregate import MEDIA_KINDS, asset_verdict

NOT_MEDIA = "not a media file: no detector reads this kind (not scanned for media markers)"


def classify(asset: Asset, ctx: AssetContext) -> Asset:
    """Decide kind and media type from the file's first bytes (read once, kept in ``ctx``).

    An empty file has no content to go by: its name is all we have, so a zero-byte ``.mov``
    stays a (broken) video rather than quietly becoming "other". OS clutter is skipped only
    when name and content agree; a media file merely named like clutter is scanned."""
    kind, media_type = sniff(ctx.head[:SNIFF_BYTES], ctx.read_at)
    if not ctx.head:
        named = EXTENSIONS.get(asset.ext, ())
        if named and named[0].split("/")[0] in ("image", "video", "audio"):
            kind = named[0].split("/")[0]
            media_type = named[0]
    notes = list(asset.notes)
    note = extension_note(asset.path, media_type)
    if note:
        notes.append(note)
    clutter = clutter_reason(asset.path, media_type)
    if clutter is None and named_like_clutter(asset.path):
        notes.append(f"named like OS clutter, but the content is {media_type}: scanned")
    return dataclasses.replace(asset, kind=kind, media_type=media_type, notes=tuple(notes),
                               skip_reason=clutter)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror}" + (f": {exc.filename}" if exc.filename else "")
    text = str(exc) or type(exc).__name__
    return text if isinstance(exc, Incomplete) else f"{type(exc).__name__}: {text}"


def scan_asset(asset: Asset, detectors: Sequence[Loaded], shared: Shared) -> AssetResult:
    if asset.skip_reason:
        result = AssetResult(asset=asset, verdict="skipped")
        result.verdict = asset_verdict(result)
        return result
    if asset.walk_error:
        result = AssetResult(asset=asset, verdict="error",
                             errors=[{"detector": "walker", "message": asset.walk_error}])
        return result

    ctx = AssetContext(asset, shared)
    try:
        asset = classify(asset, ctx)
    except OSError as exc:
        return AssetResult(asset=asset, verdict="error",
                           errors=[{"detector": "reader", "message": f"cannot read: {_describe(exc)}"}])
    ctx.asset = asset
    if asset.skip_reason:  # OS clutter, recognised by name and content
        return AssetResult(asset=asset, verdict="skipped")
    result = AssetResult(asset=asset, verdict="clean")
    if not ctx.head and asset.kind in MEDIA_KINDS:
        result.errors.append({"detector": "reader",
                              "message": f"empty file (0 bytes) named as {asset.media_type}"})
        result.verdict = asset_verdict(result)
        return result
    for loaded in detectors:
        det = loaded.detector
        if det is None or not loaded.available:
            result.coverage.append(Coverage(loaded.name, UNAVAILABLE, [loaded.reason]))
            continue
        try:
            applies = det.applies(asset, ctx)
        except Exception as exc:  # noqa: BLE001 - a plugin bug must not stop the scan
            applies = True
            result.errors.append({"detector": det.name, "message": f"applies() failed: {exc}"})
        if not applies:
            result.coverage.append(Coverage(det.name, NOT_APPLICABLE, [f"kind {asset.kind}"]))
            continue
        cov = Coverage(det.name, APPLIED)
        start = time.perf_counter()
        try:
            for finding in det.detect(asset, ctx):
                result.findings.append(finding)
        except NotApplicable as exc:
            cov.status = NOT_APPLICABLE
            cov.notes.append(str(exc))
        except Exception as exc:  # noqa: BLE001 - contained: error for this detector only
            cov.status = FAILED
            message = _describe(exc)
            cov.notes.append(message)
            result.errors.append({"detector": det.name, "message": message})
        cov.seconds = time.perf_counter() - start
        cov.notes.extend(ctx.take_notes())
        result.coverage.append(cov)
    result.verdict = asset_verdict(result)
    if result.verdict == "skipped":
        result.asset = dataclasses.replace(asset, skip_reason=NOT_MEDIA)
    return result
