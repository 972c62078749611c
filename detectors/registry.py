"""Where detectors come from: the built-ins listed here, and third-party detectors registered
under the entry-point group ``deliverscan.detectors`` (like bandit's formatter/plugin groups).

Built-ins are named by import path so that a broken optional dependency of one detector shows
up as "unavailable: <reason>" in ``deliverscan detectors`` instead of breaking the tool.
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points

from detectors.api import Detector

ENTRY_POINT_GROUP = "deliverscan.detectors"

BUILTIN: tuple[str, ...] = (
    "detectors.c2pa_provenance:C2paDetector",
    "detectors.metadata:MetadataDetector",
    "detectors.watermark:WatermarkDetector",
    "detectors.register:RegisterDetector",
)


class Loaded:
    """One detector as loaded: the instance, or why it could not be loaded.

    Availability (``available``/``reason``) is checked on first use, not at load time: a
    check can be costly (the C2PA self-test imports c2pa-python and reads a file), and a
    warm-cache rescan whose files are all cached never needs it in the main process. Each
    worker process checks for itself.
    """

    def __init__(self, name: str, source: str, detector: Detector | None,
                 available: bool | None = None, reason: str = "") -> None:
        self.name = name
        self.source = source
        self.detector = detector
        self._available = available if detector is not None or available is not None else False
        self._reason = reason

    def _check(self) -> None:
        if self._available is not None:
            return
        try:
            ok, why = self.detector.available()  # type: ignore[union-attr]
        except Exception as exc:  # noqa: BLE001
            ok, why = False, f"availability check failed: {exc}"
        self._available, self._reason = bool(ok), why

    @property
    def available(self) -> bool:
        self._check()
        return bool(self._available)

    @property
    def reason(self) -> str:
        self._check()
        return self._reason

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
    return Loaded(det.name, source, det)


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
