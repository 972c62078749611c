"""Helpers shared by test modules (importable as ``helpers``: pytest puts tests/ on sys.path)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from detectors.api import Detector, Options, Shared
from detectors.model import Asset, AssetResult
from detectors.registry import Loaded
from scanner.pipeline import scan_asset


def scan_with(detector: Detector, path: Path | str, **options: Any) -> AssetResult:
    """The real per-file pipeline (sniffing, containment, coverage) with one detector."""
    loaded = Loaded(detector.name, "builtin", detector, True)
    shared = Shared(Options(**options))
    try:
        st = os.stat(path)
        return scan_asset(Asset(str(path), st.st_size, st.st_mtime_ns, "other"), [loaded], shared)
    finally:
        shared.close()
