"""Delivery packages in a scan (IMF today, ``scanner.packages``): found as the walker lists a
folder holding an ``ASSETMAP.xml``, they tell each file's result how compositions use it (a
finding in a track file names the composition and the timeline range where it plays), and each
package gets one result of its own: its compositions, every package problem (an asset the
packing list names but the folder lacks, a size or hash that differs, XML that cannot be read,
a path that escapes) as errors, and the worst verdict of its files. A package that is
incomplete or damaged cannot be proven clean.

Packages are loaded when the walk reaches them, so a file's notes name the compositions known
by then (a supplemental package walked later adds its uses only to the package results, which
are made at the end with every cross-package reference resolved).
"""

from __future__ import annotations

import dataclasses
import os
from collections import Counter
from typing import TYPE_CHECKING

from detectors.model import (
    AI,
    CLEAN,
    ERROR,
    PACKAGE,
    REVIEW,
    SKIPPED,
    Asset,
    AssetResult,
    ScanError,
)
from scanner.stored import Reported, full

if TYPE_CHECKING:  # the IMF layer is imported when a package is met (most scans meet none)
    from scanner.packages import Package, Problem

IMF_TYPE = "application/x-imf-package"
ASSETMAP = "assetmap.xml"
MAX_USES_SHOWN = 6
PACKAGE_XML = frozenset({"assetmap", "volindex", "pkl", "cpl", "scm"})


class PackageScan:
    """The packages met during one scan, and what their files turned out to be."""

    def __init__(self, verify: bool = False) -> None:
        self.verify = verify
        self.packages: list[Package] = []
        self.warnings: list[str] = []
        self._files: dict[str, Counter[str]] = {}  # package root -> verdict counts
        self._blocking: Counter[str] = Counter()

    def on_folder(self, path: str, names: list[str]) -> None:
        """Walker hook: a folder was listed; an ``ASSETMAP.xml`` makes it a package root."""
        if not any(n.lower() == ASSETMAP for n in names):
            return
        from scanner.packages import load_package

        try:
            self.packages.append(load_package(path))
        except (OSError, ValueError) as exc:  # content problems are values; this is I/O
            self.warnings.append(f"IMF package {path}: cannot be read: {exc}")

    def annotate(self, reported: Reported) -> Reported:
        """``reported`` with how the packages known so far use its file."""
        if not self.packages or reported.asset.container is not None:
            return reported
        from scanner.packages import package_of, uses_of

        path = reported.asset.path
        package = package_of(self.packages, path)
        if package is None:
            return reported
        result = full(reported)
        counts = self._files.setdefault(package.root, Counter())
        counts[result.verdict] += 1
        self._blocking[package.root] += result.blocking
        role = package.role_of(path)
        if role in PACKAGE_XML and result.verdict == SKIPPED:
            return dataclasses.replace(result, asset=dataclasses.replace(
                result.asset, skip_reason=f"IMF package XML ({role}): read as the package"))
        uses = uses_of(self.packages, path)
        if not uses:
            if role in ("extra", None) and result.verdict != SKIPPED:
                note = "IMF: inside the package but not listed in its ASSETMAP"
                return dataclasses.replace(result, asset=dataclasses.replace(
                    result.asset, notes=(*result.asset.notes, note)))
            return result
        said = [u.describe() for u in uses]
        note = f"IMF {uses[0].role}: " + "; ".join(said[:MAX_USES_SHOWN]) + (
            f" (+{len(said) - MAX_USES_SHOWN} more)" if len(said) > MAX_USES_SHOWN else "")
        findings = tuple(dataclasses.replace(f, evidence={**f.evidence, "imf": said})
                         for f in result.findings)
        return dataclasses.replace(result, findings=findings, asset=dataclasses.replace(
            result.asset, notes=(*result.asset.notes, note)))

    def results(self) -> list[AssetResult]:
        """One result per package, made once every package of the scan is known."""
        if not self.packages:
            return []
        from scanner.packages import resolve_references, verify_hashes

        self.packages = resolve_references(self.packages)
        out = []
        for package in self.packages:
            problems = list(package.problems)
            if self.verify:
                problems += verify_hashes(package)
            out.append(self._result(package, problems))
        return out

    def _result(self, package: Package, problems: list[Problem]) -> AssetResult:
        from scanner.packages import ERROR as PROBLEM_ERROR
        from scanner.packages import WARNING

        counts = self._files.get(package.root, Counter())
        errors = tuple(ScanError("imf", f"{p.message} [{p.code}]") for p in problems
                       if p.severity == PROBLEM_ERROR)
        verdict = next((v for v in (AI, REVIEW, ERROR, CLEAN) if counts.get(v)), SKIPPED)
        if errors and verdict not in (AI, REVIEW):
            verdict = ERROR
        titles = ", ".join(
            f"{c.title or c.id!r} ({c.duration_tc})" if c.duration_tc else repr(c.title or c.id)
            for c in package.compositions) or "none readable"
        checked = ", ".join(f"{n} {v}" for v, n in counts.most_common())
        notes = [f"IMF package: {len(package.compositions)} composition(s): {titles}; "
                 f"{len(package.assets)} asset(s) in the ASSETMAP"
                 + (f"; files checked: {checked}" if checked else "")
                 + ("; hashes verified" if self.verify else "")]
        notes += [f"IMF warning: {p.message} [{p.code}]" for p in problems
                  if p.severity == WARNING]
        size = 0
        for rel in package.asset_paths.values():
            for r in rel:
                try:
                    size += os.path.getsize(os.path.join(package.root, r))
                except OSError:
                    pass
        asset = Asset(path=package.root, size=size, mtime_ns=0, kind=PACKAGE,
                      media_type=IMF_TYPE, notes=tuple(notes),
                      skip_reason=None if verdict != SKIPPED else
                      "IMF package with no file checked")
        return AssetResult(asset, verdict, (), errors, (), None,
                           bool(self._blocking.get(package.root)))
