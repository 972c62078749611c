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
from collections.abc import Mapping
from typing import Any

from detectors.api import ConfigError, Options
from detectors.registry import Loaded, load_all
from scanner.policy import Policy, PolicyError
from scanner.runner import ScanConfig, select_detectors

# Content matching decodes whole programmes (a 2-hour master takes about as long as it plays):
# the 30 s hostile-file limit would cut every long master off.
REGISTER_TIMEOUT = 6 * 3600.0
OPTION_FIELDS = frozenset(f.name for f in dataclasses.fields(Options)) - {"extra"}


class SetupError(ValueError):
    """The scan cannot start as asked; the message says why, in one line."""


def load_policy(policy: Policy | str | os.PathLike[str] | None,
                fail_on_review: bool = False) -> Policy:
    if policy is None:
        return Policy.default(fail_on_review=fail_on_review)
    if not isinstance(policy, Policy):
        try:
            policy = Policy.load(os.fspath(policy))
        except PolicyError as exc:
            raise SetupError(str(exc)) from None
    if fail_on_review:
        policy = dataclasses.replace(policy, fail_on=frozenset({"ai", "review"}))
    return policy


def _read_text(path: str, what: str) -> str:
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read()
    except (OSError, UnicodeError) as exc:
        raise SetupError(f"{what} {path}: cannot read: "
                         f"{getattr(exc, 'strerror', None) or exc}") from None


def check_roots(roots: list[str]) -> None:
    """Every root must exist; an empty directory is a mistake (an unmounted share, a wrong
    path) unless ``--allow-empty`` says otherwise (the caller skips this check then)."""
    if not roots:
        raise SetupError("nothing to scan: give at least one file or folder")
    for root in roots:
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


def configure(roots: list[str], *, policy: Policy | str | os.PathLike[str] | None = None,
              fail_on_review: bool = False, options: Mapping[str, Any] | None = None,
              trust_anchors: str | None = None, register: str | None = None,
              excludes: tuple[str, ...] = (), follow_symlinks: bool = False,
              enable: tuple[str, ...] = (), disable: tuple[str, ...] = (), jobs: int = 0,
              memory_limit: int = 2 * 1024**3, cache_path: str | None = None,
              allow_empty: bool = False, loaded: list[Loaded] | None = None,
              **config: Any) -> tuple[ScanConfig, list[Loaded]]:
    """Build the scan configuration and the detectors it runs, or raise :class:`SetupError`.

    ``options`` holds the ``detectors.api.Options`` fields the caller set explicitly (they win
    over the policy); ``trust_anchors`` and ``register`` are file paths. Extra keyword
    arguments go to ``ScanConfig`` unchanged (``keep_results``, ``skip_paths``, ``replay``).
    """
    roots = [os.fspath(r) for r in roots]
    explicit = dict(options or {})
    unknown = set(explicit) - OPTION_FIELDS
    if unknown:
        raise SetupError(f"unknown option(s) {', '.join(sorted(unknown))} "
                         f"(known: {', '.join(sorted(OPTION_FIELDS))})")
    pol = load_policy(policy, fail_on_review)
    opts = Options()
    try:
        pol.configure(opts)
    except OSError as exc:
        raise SetupError(f"policy {pol.source}: {exc}") from None
    for key, value in explicit.items():
        setattr(opts, key, value)
    if trust_anchors:
        opts.trust_anchors = _read_text(trust_anchors, "trust anchors")
    if register:
        opts.extra["register"] = register
    enable = tuple(enable)
    if opts.extra.get("register") and "register" not in enable and "register" not in disable:
        enable = (*enable, "register")
    if "register" in enable and "file_timeout" not in explicit:
        opts.file_timeout = REGISTER_TIMEOUT

    loaded = load_all() if loaded is None else loaded
    known = {item.name for item in loaded}
    for name in (*enable, *disable):
        if name not in known:
            raise SetupError(f"unknown detector {name!r} (known: {', '.join(sorted(known))})")
    if not allow_empty:
        check_roots(roots)
    else:
        for root in roots:
            if not os.path.lexists(root):
                raise SetupError(f"{root}: no such file or folder")
    pol.warn_if_inside(roots)
    cfg = ScanConfig(roots=roots, options=opts, policy=pol, excludes=tuple(excludes),
                     follow_symlinks=follow_symlinks, enable=enable, disable=tuple(disable),
                     jobs=jobs, memory_limit=memory_limit, cache_path=cache_path,
                     allow_empty=allow_empty, **config)
    chosen = select_detectors(cfg, loaded)
    for item in chosen:
        check = getattr(item.detector, "check_options", None)
        if item.detector is None or not callable(check):
            continue
        try:
            check(opts)
        except ConfigError as exc:
            source = (f" ({'--trust-anchors ' + trust_anchors})" if trust_anchors
                      and item.name == "c2pa" else "")
            raise SetupError(f"{item.name}: {exc}{source}") from None
    return cfg, chosen


__all__ = ["REGISTER_TIMEOUT", "SetupError", "check_roots", "configure", "load_policy"]
