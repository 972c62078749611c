"""Helpers shared by test modules (importable as ``helpers``: pytest puts tests/ on sys.path)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from detectors.api import Detector, Options, Shared
from detectors.model import Asset, AssetResult, Scanned
from detectors.registry import Loaded, load_spec
from scanner.aggregate import assemble
from scanner.pipeline import scan_asset
from scanner.policy import Policy
from scanner.walk import Walker


def scan_loaded(loaded: list[Loaded], path: Path | str, options: Options | None = None,
                policy: Policy | None = None) -> AssetResult:
    """The real per-file pipeline (sniffing, containment, coverage) and aggregation."""
    shared = Shared(options or Options())
    try:
        st = os.stat(path)
        asset = Asset(str(path), st.st_size, st.st_mtime_ns, "other")
        return assemble(scan_asset(asset, loaded, shared), policy or Policy.default())
    finally:
        shared.close()


def judged(scanned: Scanned) -> AssetResult:
    """The result the aggregator builds from a raw scan under the default policy."""
    return assemble(scanned, Policy.default())


def options_for(detector: str, **given: Any) -> Options:
    """``Options`` with the core fields given, the rest as ``detector``'s own settings."""
    core = {k: given.pop(k) for k in ("file_timeout", "show_prompts") if k in given}
    return Options(**core, settings={detector: given} if given else {})


def scan_with(detector: Detector, path: Path | str, **options: Any) -> AssetResult:
    """The real per-file pipeline with one detector (``options``: core fields or its own
    settings, e.g. ``deep=True``)."""
    return scan_loaded([Loaded(detector.name, "builtin", detector, True)], path,
                       options_for(detector.name, **options))


def register_scan(db: Path | str, path: Path | str, **settings: Any) -> AssetResult:
    """``path`` scanned by the register detector alone against the register at ``db`` (plus
    its other ``settings``), walked as a scan walks it, judged under the default policy."""
    det = load_spec("detectors.register:RegisterDetector")
    assert det is not None and det.available
    shared = Shared(Options(settings={"register": {"path": str(db), **settings}}))
    try:
        (asset,) = list(Walker().walk([str(path)]))
        return judged(scan_asset(asset, [det], shared))
    finally:
        shared.close()
