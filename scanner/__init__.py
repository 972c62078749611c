"""deliverscan, the application: walk → detect → aggregate → report.

Python API::

    import scanner
    report = scanner.scan(["delivery/"], fail_on_review=True)
    report.summary.exit_code
"""

from __future__ import annotations

from typing import Any

from detectors.model import Report


def scan(paths: list[str] | str, *, excludes: tuple[str, ...] = (), follow_symlinks: bool = False,
         fail_on_review: bool = False, enable: tuple[str, ...] = (),
         disable: tuple[str, ...] = (), policy: Any = None, jobs: int = 0,
         cache_path: str | None = None, allow_empty: bool = False,
         settings: dict[str, dict[str, Any]] | None = None, archives: Any = None,
         sequence_sample: int = 1, verify_imf: bool = False, cluster: str | None = None,
         **options: Any) -> Report:
    """Scan files and folders; the same code path as ``deliverscan scan``.

    ``policy`` is a ``Policy`` or the path of a policy file (its detector settings, rule
    modes and approvals apply as on the command line). ``settings`` are detectors' own
    settings, as in a policy's ``[detectors.<name>]`` tables (``{"metadata": {"deep": True},
    "register": {"path": "temp-ai.sqlite"}}``; ``deliverscan detectors --verbose`` lists them);
    ``options`` are the core ones (``file_timeout``, ``show_prompts``). Both win over the
    policy. ``jobs=0`` runs detectors in this process; ``jobs=N`` uses N worker processes with
    per-file time and memory limits, like the CLI. No cache unless ``cache_path`` is given.
    ``archives`` (``scanner.archives.ArchiveSettings``) sets archive limits and the folder
    members are copied to; ``sequence_sample`` checks one frame in N of image sequences;
    ``verify_imf`` hashes every IMF package asset against its packing list; ``cluster`` runs
    the scan on a Dask cluster (``"tcp://scheduler:8786"`` or ``"local:N"``).
    Setup mistakes raise ``scanner.configure.SetupError`` before any file is read."""
    from scanner.configure import configure
    from scanner.runner import run_scan

    roots = [paths] if isinstance(paths, str) else list(paths)
    config, detectors = configure(
        roots, policy=policy, fail_on_review=fail_on_review, options=options,
        settings=settings, excludes=tuple(excludes), follow_symlinks=follow_symlinks,
        enable=tuple(enable), disable=tuple(disable), jobs=jobs, cache_path=cache_path,
        allow_empty=allow_empty, sequence_sample=sequence_sample, verify_imf=verify_imf,
        cluster=cluster,
        **({"archives": archives} if archives is not None else {}))
    return run_scan(config, detectors=detectors)


__all__ = ["scan"]
