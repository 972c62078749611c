"""Where detectors come from: the entry-point group ``deliverscan.detectors`` (as bandit loads
its plugins). Built-in detectors are declared there too, in deliverscan's own
``pyproject.toml``, so there is one mechanism: adding a detector is one module, one entry-point
line and its test.

A detector that cannot be imported or instantiated shows up as "unavailable: <reason>" in
``deliverscan detectors`` (and as unavailable coverage on every file) instead of breaking the
tool. The ``Catalog`` answers what the application needs to know about detectors without
naming any: their settings, their rule ids, the versions of what they depend on.
"""

from __future__ import annotations

import functools
import importlib
import sys
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points

from detectors.api import Detector, Option, RuleInfo

ENTRY_POINT_GROUP = "deliverscan.detectors"
OWN_DIST = "deliverscan"


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


def load_spec(spec: str, source: str = "builtin") -> Loaded:
    """A detector from ``module:Class`` (tests and tools); import errors become unavailable."""
    module_name, _, attr = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # noqa: BLE001 - a broken detector must not break the tool
        return Loaded(module_name.rsplit(".", 1)[-1], source, None, False,
                      f"import failed: {exc}")
    return _wrap(getattr(module, attr), source)


def _wrap(obj: object, source: str) -> Loaded:
    try:
        det = _instantiate(obj)
    except Exception as exc:  # noqa: BLE001
        return Loaded(getattr(obj, "name", str(obj)), source, None, False, f"failed to load: {exc}")
    return Loaded(det.name, source, det)


@functools.lru_cache(maxsize=4)
def _entry_points(path: tuple[str, ...]) -> tuple[tuple[EntryPoint, str], ...]:
    """(entry point, distribution name) of every detector the distributions on ``path``
    (``sys.path``) declare, read once per path: the lookup parses the metadata of every
    installed distribution (~9 ms of a one-file scan's start-up each time)."""
    found = [(ep, getattr(ep.dist, "name", "?") if ep.dist else "?")
             for ep in entry_points(group=ENTRY_POINT_GROUP)]
    return tuple(sorted(found, key=lambda pair: (pair[1] != OWN_DIST, pair[0].name)))


def load_all(include_plugins: bool = True) -> list[Loaded]:
    """Every detector this installation knows, by run order then name (deliverscan's own
    first among equals); ``include_plugins=False`` keeps deliverscan's own only."""
    out: list[Loaded] = []
    seen: set[str] = set()
    for ep, dist in _entry_points(tuple(sys.path)):
        source = "builtin" if dist == OWN_DIST else f"plugin:{dist}"
        if source != "builtin" and not include_plugins:
            continue
        try:
            loaded = _wrap(ep.load(), source)
        except Exception as exc:  # noqa: BLE001
            loaded = Loaded(ep.name, source, None, False, f"failed to load: {exc}")
        if loaded.name in seen:
            loaded = Loaded(loaded.name, loaded.source, None, False,
                            "name clashes with an already loaded detector")
        seen.add(loaded.name)
        out.append(loaded)
    out.sort(key=lambda item: (getattr(item.detector, "order", 100), item.source != "builtin",
                               item.name))
    return out


@dataclass
class Catalog:
    """What the loaded detectors declare: settings, rules and versions."""

    loaded: list[Loaded]

    def get(self, name: str) -> Loaded | None:
        return next((d for d in self.loaded if d.name == name), None)

    def names(self) -> list[str]:
        return [d.name for d in self.loaded]

    def options(self, name: str) -> dict[str, Option]:
        item = self.get(name)
        declared = getattr(item.detector, "options", ()) if item and item.detector else ()
        return {o.key: o for o in declared or ()}

    def rules(self) -> list[RuleInfo]:
        out: list[RuleInfo] = []
        for item in self.loaded:
            declared = self._declared(item)
            if declared:
                out.extend(declared)
        return out

    def undeclared(self) -> list[str]:
        """Detectors that do not list their rules (their rule ids cannot be checked)."""
        return [item.name for item in self.loaded if self._declared(item) is None]

    def rule(self, rule_id: str) -> RuleInfo | None:
        return next((r for r in self.rules() if r.id == rule_id), None)

    def about(self) -> dict[str, dict[str, str]]:
        out = {}
        for item in self.loaded:
            hook = getattr(item.detector, "about", None)
            try:
                out[item.name] = dict(hook()) if callable(hook) else {}
            except Exception as exc:  # noqa: BLE001 - a broken data file is reported, not fatal
                out[item.name] = {"error": f"{type(exc).__name__}: {exc}"}
        return out

    @staticmethod
    def _declared(item: Loaded) -> list[RuleInfo] | None:
        hook = getattr(item.detector, "rules", None)
        if item.detector is None or not callable(hook):
            return None
        try:
            found = hook()
        except Exception:  # noqa: BLE001 - e.g. an invalid rule pack: the detector is unavailable
            return []
        return None if found is None else list(found)


def catalog(loaded: list[Loaded] | None = None) -> Catalog:
    return Catalog(load_all() if loaded is None else loaded)
