"""Where detectors come from: the built-ins listed here, and third-party detectors registered
under the entry-point group ``deliverscan.detectors`` (like bandit's formatter/plugin groups).

Built-ins are named by import path so that a broken optional dependency of one detector shows
up as "unavailable: <reason>" in ``deliverscan detectors`` instead of breaking the tool.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from importlib.metadata import entry_points

from detectors.api import Detector

ENTRY_POINT_GROUP = "deliverscan.detectors"

BUILTIN: tuple[str, ...] = (
    "detectors.c2pa_provenance:C2paDetector",
    "detectors.metadata:MetadataDetector",
    "detectors.watermark:WatermarkDetector",
    "detectors.register:RegisterDetector",
)


@dataclass
class Loaded:
    """One detector as loaded: the instance, or why it could not be loaded."""

    name: str
    source: str  # "builtin" or "plugin:<distribution>"
    detector: Detector | None
    available: bool
    reason: str = ""

    @property
    def version(self) -> str:
        return getattr(self.detector, "version", "?") if self.detector else "?"


def _instantiate(obj: object) -> Detector:
    det = obj() if isinstance(obj, type) else obj
    for attr in ("name", "version", "kinds", "detect"):
        if not hasattr(det, attr):
            raise TypeError(f"{obj!r} lacks required detector attribute {attr!r}")
    return det  # type: ignore[return-value]


def _load_builtin(spec: str) -> Loaded | None:
    module_name, _, attr = spec.partition(":")
    short = module_name.rsplit(".", 1)[-1]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            return None  # not part of this build
        return Loaded(short, "builtin", None, False, f"import failed: {exc}")
    except Exception as exc:  # noqa: BLE001 - a broken detector must not break the tool
        return Loaded(short, "builtin", None, False, f"import failed: {exc}")
    return _wrap(getattr(module, attr), "builtin")


def _wrap(obj: object, source: str) -> Loaded:
    try:
        det = _instantiate(obj)
    except Exception as exc:  # noqa: BLE001
        return Loaded(getattr(obj, "name", str(obj)), source, None, False, f"failed to load: {exc}")
    try:
        ok, why = det.available()
    except Exception as exc:  # noqa: BLE001
        ok, why = False, f"availability check failed: {exc}"
    return Loaded(det.name, source, det, ok, why)


def load_all(include_plugins: bool = True) -> list[Loaded]:
    """Every detector this installation knows, built-ins first, then plugins by name."""
    out: list[Loaded] = []
    for spec in BUILTIN:
        loaded = _load_builtin(spec)
        if loaded is not None:
            out.append(loaded)
    if include_plugins:
        seen = {item.name for item in out}
        for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            dist = getattr(ep.dist, "name", "?") if ep.dist else "?"
            try:
                loaded = _wrap(ep.load(), f"plugin:{dist}")
            except Exception as exc:  # noqa: BLE001
                loaded = Loaded(ep.name, f"plugin:{dist}", None, False, f"failed to load: {exc}")
            if loaded.name in seen:
                loaded = Loaded(loaded.name, loaded.source, None, False,
                                "name clashes with an already loaded detector")
            seen.add(loaded.name)
            out.append(loaded)
    return out
