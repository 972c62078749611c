"""deliverscan, the application: walk → detect → aggregate → report.

Python API::

    import scanner
    report = scanner.scan(["delivery/"], fail_on_review=True)
    report.summary.exit_code
"""

from __future__ import annotations

from typing import Any

from detectors.api import Options
from detectors.model import Report


def scan(paths: list[str] | str, *, excludes: tuple[str, ...] = (), follow_symlinks: bool = False,
         fail_on_review: bool = False, enable: tuple[str, ...] = (),
         disable: tuple[str, ...] = (), policy: Any = None, jobs: int = 0,
         cache_path: str | None = None, **options: Any) -> Report:
    """Scan files and folders; same behaviour as ``deliverscan scan``. ``options`` are the
    fields of ``detectors.api.Options`` (``verify_limit``, ``deep``, ``trust_anchors``, …).
    ``jobs=0`` runs detectors in this process; ``jobs=N`` uses N worker processes with
    per-file time and memory limits, like the CLI. No cache unless ``cache_path`` is given."""
    from scanner.policy import Policy
    from scanner.runner import ScanConfig, run_scan

    roots = [paths] if isinstance(paths, str) else list(paths)
    config = ScanConfig(roots=roots, options=Options(**options),
                        policy=policy or Policy.default(fail_on_review=fail_on_review),
                        excludes=tuple(excludes), follow_symlinks=follow_symlinks,
                        enable=tuple(enable), disable=tuple(disable), jobs=jobs,
                        cache_path=cache_path)
    return run_scan(config)


__all__ = ["scan"]
