"""Versions of the tool and of what it relies on, for ``--version`` and every report."""

from __future__ import annotations

import shutil
import subprocess
from functools import cache
from importlib.metadata import PackageNotFoundError, version


def _dist_version(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


@cache
def exiftool_version(path: str | None = None) -> str | None:
    exe = path or shutil.which("exiftool")
    if not exe:
        return None
    try:
        out = subprocess.run([exe, "-ver"], capture_output=True, text=True, timeout=20,
                             stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def rulepack_version() -> str:
    try:
        from detectors.rules import pack_version  # the metadata rule pack
    except ImportError:
        pack_version = None
    from detectors.vocab import dst_version, vendor_version

    parts = [f"dst {dst_version()}", f"vendors {vendor_version()}"]
    if pack_version is not None:
        try:
            parts.insert(0, f"rules {pack_version()}")
        except Exception as exc:  # noqa: BLE001 - a broken rule pack is reported, not fatal here
            parts.insert(0, f"rules unavailable ({exc})")
    return ", ".join(parts)


def tool_info() -> dict[str, str | None]:
    return {
        "name": "deliverscan",
        "version": _dist_version("deliverscan") or "0+unknown",
        "c2pa_python": _dist_version("c2pa-python"),
        "exiftool": exiftool_version(),
        "rulepack": rulepack_version(),
    }
