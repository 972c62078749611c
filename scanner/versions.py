"""Versions of the tool and of what its results depend on, for ``--version`` and every report.

Asked of the detectors themselves (``Detector.about()`` through the registry's ``Catalog``): the
application names none of them. The report's ``tool`` object keeps its documented keys
(``c2pa_python``, ``exiftool``, ``rulepack``), filled from what the detectors say.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from detectors.registry import Catalog, Loaded, catalog

# ``about()`` keys that are data versions (rule packs, vocabularies), for ``rulepack``.
DATA_KEYS = ("rules", "dst", "vendors")


def dist_version(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def tool_info(detectors: list[Loaded] | None = None) -> dict[str, str | None]:
    """The report's ``tool`` object, from the detectors that ran (default: all installed)."""
    merged: dict[str, str] = {}
    for about in (catalog() if detectors is None else Catalog(detectors)).about().values():
        for key, value in about.items():
            merged.setdefault(key, value)
    found = merged.get("ExifTool")
    return {
        "name": "deliverscan",
        "version": dist_version("deliverscan") or "0+unknown",
        "c2pa_python": merged.get("c2pa-python"),
        "exiftool": None if found in (None, "not found") else found,
        "rulepack": ", ".join(f"{k} {merged[k]}" for k in DATA_KEYS if k in merged),
    }


def version_lines(cat: Catalog | None = None) -> list[str]:
    """``deliverscan --version``: the tool, then each detector and what it depends on."""
    cat = cat or catalog()
    lines = [f"deliverscan {dist_version('deliverscan') or '0+unknown'}"]
    for name, about in cat.about().items():
        item = cat.get(name)
        parts = ", ".join(f"{k} {v}" for k, v in about.items())
        lines.append(f"{name} {item.version if item else '?'}" + (f" ({parts})" if parts else ""))
    return lines
