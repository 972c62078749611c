"""deliverscan's detector library: the model, the detector API and registry, shared
vocabularies, format readers and the built-in detectors. Never imports ``scanner``."""

from detectors.api import (
    AssetContext,
    Detector,
    Incomplete,
    NotApplicable,
    Options,
    Shared,
)
from detectors.model import Asset as Asset
from detectors.model import AssetResult, Coverage, Finding

__all__ = [
    "Asset", "AssetContext", "AssetResult", "Coverage", "Detector", "Finding", "Incomplete",
    "NotApplicable", "Options", "Shared",
]
