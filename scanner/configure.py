"""From what a user asked for to a ready ``ScanConfig``: one code path for the command line and
the Python API (``scanner.scan``), so both behave alike.

Precedence: built-in defaults < the policy file < values given explicitly (command-line flags,
keyword arguments). Setup mistakes (a root that does not exist or an empty one, a policy that
does not parse, an unknown detector, a register that is not a register, trust anchors that are
not certificates) are found here, before the first file is read, as one :class:`SetupError`:
the CLI prints it and exits 2 instead of reporting the same mistake once per file.
"""

from __future__ import annotations

import dataclasses
import os
import stat
import tempfile
from collections.abc import Mapping
from typing import Any

from detectors import remote
from detectors.api import ConfigError, Options
from detectors.registry import Catalog, Loaded, load_all
from detectors.remote import is_remote
from scanner.archives import ArchiveSettings
from scanner.policy import Policy, PolicyError
from scanner.runner import ScanConfig, select_detectors

CORE_OPTIONS = frozenset(f.name for f in dataclasses.fields(Options)) - {"settings"}


class SetupError(ValueError):
    """The scan cannot start as asked; the message says why, in one line."""


def load_policy(policy: Policy | str | os.PathLike[str] | None,
                fail_on_review: bool = False, cat: Catalog | None = None) -> Policy:
    if policy is None:
        return Policy.default(fail_on_review=fail_on_review)
    if not isinstance(policy, Policy):
        try:
            policy = Policy.load(os.fspath(policy), cat)
        except PolicyError as exc:
            raise SetupError(str(exc)) from None
    if fail_on_review:
        policy = dataclasses.replace(policy, fail_on=frozenset({"ai", "review"}))
    return policy


def check_roots(roots: list[str]) -> None:
    """Every root must exist; an empty directory is a mistake (an unmounted share, a wrong
    path) unless ``--allow-empty`` says otherwise (the caller skips this check then)."""
    if not roots:
        raise SetupError("nothing to scan: give at least one file or folder")
    for root in roots:
        if is_remote(root):
            _check_remote(root)
            continue
        try:
            st = os.stat(root)
        except OSError as exc:
            raise SetupError(f"{root}: {exc.strerror or exc} (a root that does not exist or "
                             "cannot be reached: unmounted?)") from None
        if stat.S_ISDIR(st.st_mode):
            try:
                with os.scandir(root) as it:
                    empty = next(it, None) is None
            except OSError as exc:
                raise SetupError(f"{root}: cannot list: {exc.strerror or exc}") from None
            if empty:
                raise SetupError(f"{root} is an empty folder (unmounted?); pass --allow-empty "
                                 "to accept a delivery with nothing in it")


def _check_remote(root: str, allow_empty: bool = False) -> None:
    """An object-store root must be reachable (fsspec, credentials) and, unless allowed,
    hold something: a wrong bucket or prefix must not pass as an empty delivery."""
    try:
        fs = remote.filesystem(root)
        if not fs.exists(root):
            raise SetupError(f"{root}: no such object or prefix (or no access to it)")
        if not allow_empty and fs.isdir(root) and not fs.ls(root, detail=False):
            raise SetupError(f"{root} is an empty prefix; pass --allow-empty to accept it")
    except SetupError:
        raise
    except OSError as exc:
        raise SetupError(str(exc)) from None
    except Exception as exc:  # noqa: BLE001 - each backend raises its own types
        raise SetupError(f"{root}: cannot reach it: {type(exc).__name__}: {exc}") from None


def parse_setting(text: str) -> tuple[str, str, str]:
    """``DETECTOR.KEY=VALUE`` (``--set``) as its three parts."""
    name, sep, value = text.partition("=")
    detector, dot, key = name.strip().partition(".")
    if not sep or not dot or not detector or not key:
        raise SetupError(f"--set {text!r}: expected DETECTOR.KEY=VALUE")
    return detector, key.strip(), value


def _apply_settings(opts: Options, given: Mapping[str, Mapping[str, Any]], cat: Catalog,
                    base_dir: str | None = None, where: str = "") -> None:
    """Detector settings, checked against each detector's declared options (file paths
    relative to ``base_dir`` when given: a config file's own directory)."""
    for name, values in given.items():
        if cat.get(name) is None:
            raise SetupError(f"unknown detector {name!r} (known: {', '.join(cat.names())})")
        specs = cat.options(name)
        for key, value in values.items():
            spec = specs.get(key)
            if spec is None:
                raise SetupError(f"{name} has no setting {key!r} "
                                 f"(known: {', '.join(specs) or 'none'})")
            try:
                parsed = spec.parse(value)
            except ValueError as exc:
                raise SetupError(f"{where}{name}.{key} {exc}") from None
            if spec.path and parsed is not None and base_dir is not None:
                parsed = os.path.join(base_dir, os.path.expanduser(parsed))
            if spec.path and parsed is not None and not os.path.isfile(parsed):
                raise SetupError(f"{where}{spec.flag or name + '.' + key} {parsed}: no such file")
            opts.settings.setdefault(name, {})[key] = parsed


def configure(roots: list[str], *, policy: Policy | str | os.PathLike[str] | None = None,
              fail_on_review: bool = False, options: Mapping[str, Any] | None = None,
              settings: Mapping[str, Mapping[str, Any]] | None = None,
              defaults: Mapping[str, Mapping[str, Any]] | None = None,
              defaults_file: str | None = None,
              excludes: tuple[str, ...] = (), follow_symlinks: bool = False,
              enable: tuple[str, ...] = (), disable: tuple[str, ...] = (), jobs: int = 0,
              memory_limit: int = 2 * 1024**3, cache_path: str | None = None,
              allow_empty: bool = False, loaded: list[Loaded] | None = None,
              **config: Any) -> tuple[ScanConfig, list[Loaded]]:
    """Build the scan configuration and the detectors it runs, or raise :class:`SetupError`.

    ``options`` holds the core ``Options`` fields the caller set explicitly (``file_timeout``,
    ``show_prompts``); ``settings`` the detectors' own ones (``{"c2pa": {"verify_all":
    True}}``), checked against what each declares. Both win over the policy; ``defaults`` (the
    user config's detector settings, from ``defaults_file``) lose to it. Extra keyword
    arguments go to ``ScanConfig`` unchanged (``keep_results``, ``skip_paths``, ``replay``).
    """
    roots = [os.fspath(r) for r in roots]
    cat = Catalog(load_all() if loaded is None else loaded)
    explicit = dict(options or {})
    unknown = set(explicit) - CORE_OPTIONS
    if unknown:
        raise SetupError(f"unknown option(s) {', '.join(sorted(unknown))} (core options: "
                         f"{', '.join(sorted(CORE_OPTIONS))}; detector settings go in "
                         "settings={detector: {key: value}})")
    pol = load_policy(policy, fail_on_review, cat)
    opts = Options()
    if defaults:
        _apply_settings(opts, defaults, cat, os.path.dirname(os.path.abspath(defaults_file or ".")),
                        where=f"{defaults_file}: " if defaults_file else "")
    pol.configure(opts)
    for key, value in explicit.items():
        setattr(opts, key, value)
    _apply_settings(opts, settings or {}, cat)

    enable = tuple(enable)
    for name in (*enable, *disable):
        if cat.get(name) is None:
            raise SetupError(f"unknown detector {name!r} (known: {', '.join(cat.names())})")
    for item in cat.loaded:  # an opt-in detector is on when its switching setting is given
        given = opts.settings.get(item.name, {})
        if any(spec.enables and given.get(key) is not None
               for key, spec in cat.options(item.name).items()):
            if item.name not in enable and item.name not in disable:
                enable = (*enable, item.name)
    if not allow_empty:
        check_roots(roots)
    else:
        for root in roots:
            if is_remote(root):
                _check_remote(root, allow_empty=True)
            elif not os.path.lexists(root):
                raise SetupError(f"{root}: no such file or folder")
    pol.warn_if_inside(roots)
    arch = config.get("archives") or ArchiveSettings()
    temp = arch.temp_dir or tempfile.gettempdir()
    inside = root_containing(temp, roots)
    if inside is not None:
        raise SetupError(f"the temporary folder {temp} (where archive members are copied to be "
                         f"read) lies inside scanned root {inside}: set TMPDIR or --temp-dir "
                         "to a folder outside the delivery")
    if arch.temp_dir is not None and not os.path.isdir(arch.temp_dir):
        raise SetupError(f"--temp-dir {arch.temp_dir}: no such folder")
    cfg = ScanConfig(roots=roots, options=opts, policy=pol, excludes=tuple(excludes),
                     follow_symlinks=follow_symlinks, enable=enable, disable=tuple(disable),
                     jobs=jobs, memory_limit=memory_limit, cache_path=cache_path,
                     allow_empty=allow_empty, **config)
    chosen = select_detectors(cfg, cat.loaded)
    if "file_timeout" not in explicit:  # a detector that needs longer per file gets it
        needed = [getattr(d.detector, "file_time_needed", None) for d in chosen]
        opts.file_timeout = max([opts.file_timeout, *(n for n in needed if n)])
    for item in chosen:
        check = getattr(item.detector, "check_options", None)
        if item.detector is None or not callable(check):
            continue
        try:
            check(opts)
        except ConfigError as exc:
            raise SetupError(f"{item.name}: {exc}") from None
    return cfg, chosen


def root_containing(path: str, roots: list[str]) -> str | None:
    """The scanned root ``path`` lies in, if any (reports, caches and temporary copies must
    not: a scan never writes to what it scans)."""
    full = os.path.realpath(path)
    for root in roots:
        if is_remote(root):
            continue  # a local file is never inside an object store
        base = os.path.realpath(root)
        if full == base or full.startswith(base.rstrip(os.sep) + os.sep):
            return root
    return None


__all__ = ["CORE_OPTIONS", "SetupError", "check_roots", "configure", "load_policy",
           "parse_setting", "root_containing"]
