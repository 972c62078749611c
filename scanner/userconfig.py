"""The user's own defaults for ``deliverscan scan``, in the platform's config directory
(``$XDG_CONFIG_HOME/deliverscan/config.toml``, else ``~/.config/deliverscan/config.toml``;
``DELIVERSCAN_CONFIG`` names another file). Never read from a scanned tree or the working
directory: a delivery cannot configure its own scan.

Example::

    [scan]
    policy = "/srv/qc/policy.toml"      # any scan option, by its long name without dashes
    jobs = 8
    exclude = ["*.tmp", "proxies"]
    output_dir = "/srv/qc/reports"
    formats = ["json", "html"]

    [detectors.register]                # detector settings, as in a policy
    path = "/srv/qc/temp-ai.sqlite"

Precedence: built-in defaults < this file < the policy < flags on the command line.
``deliverscan scan --verbose`` says which file was used.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from typing import Any

TOP_KEYS = {"scan", "detectors"}


class ConfigFileError(ValueError):
    """The user config cannot be used; the message names the file."""


@dataclass
class UserConfig:
    path: str | None  # None: no file
    scan: dict[str, Any] = field(default_factory=dict)  # scan option name -> value
    settings: dict[str, dict[str, Any]] = field(default_factory=dict)  # detector -> key -> value


def default_path() -> str:
    explicit = os.environ.get("DELIVERSCAN_CONFIG")
    if explicit:
        return explicit
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return os.path.join(base, "deliverscan", "config.toml")


def load(path: str | None = None, known_options: set[str] | None = None) -> UserConfig:
    """The user config (an empty one when the default file does not exist). ``known_options``
    are the scan command's option names: anything else under ``[scan]`` is an error."""
    path = path or default_path()
    explicit = "DELIVERSCAN_CONFIG" in os.environ
    if not os.path.isfile(path):
        if explicit:
            raise ConfigFileError(f"DELIVERSCAN_CONFIG={path}: no such file")
        return UserConfig(None)
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigFileError(f"{path}: {exc}") from None
    unknown = set(data) - TOP_KEYS
    if unknown:
        raise ConfigFileError(f"{path}: unknown table(s) {', '.join(sorted(unknown))} "
                              f"(known: {', '.join(sorted(TOP_KEYS))})")
    scan = data.get("scan", {})
    detectors = data.get("detectors", {})
    if not isinstance(scan, dict) or not isinstance(detectors, dict) or \
            not all(isinstance(v, dict) for v in detectors.values()):
        raise ConfigFileError(f"{path}: [scan] and [detectors.<name>] must be tables")
    if known_options is not None:
        bad = sorted(set(scan) - known_options)
        if bad:
            raise ConfigFileError(f"{path}: [scan] has unknown option(s) {', '.join(bad)}")
    base = os.path.dirname(os.path.abspath(path))
    for key in ("policy", "cache", "output_dir"):  # paths relative to the config file
        if isinstance(scan.get(key), str):
            scan[key] = os.path.join(base, os.path.expanduser(scan[key]))
    return UserConfig(path, dict(scan), {k: dict(v) for k, v in detectors.items()})
