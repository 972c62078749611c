"""Delivery packages whose files only make sense together (IMF today).

Why a package layer: a track file's finding is reported against the compositions that play it,
and a package that is incomplete or corrupt cannot be proven clean. This package reads the
package XML safely, checks the package against the files on disk and maps files to timelines;
the walker, aggregator and reports decide what to do with that.
"""

from .imf import (
    ImfError,
    find_packages,
    load_package,
    package_of,
    placements_for,
    resolve_references,
    sidecar_compositions,
    uses_of,
    verify_hashes,
)
from .imf_model import (
    AssetEntry,
    Composition,
    ExternalRef,
    HashProgress,
    Package,
    PackingList,
    Placement,
    SidecarMap,
    Use,
)
from .problems import ERROR, INFO, WARNING, Problem
from .timecode import Rational, timecode

__all__ = [
    "ERROR", "INFO", "WARNING", "AssetEntry", "Composition", "ExternalRef", "HashProgress",
    "ImfError", "Package", "PackingList", "Placement", "Problem", "Rational", "SidecarMap", "Use",
    "find_packages", "load_package", "package_of", "placements_for", "resolve_references",
    "sidecar_compositions", "timecode", "uses_of", "verify_hashes",
]
