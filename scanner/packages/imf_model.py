"""The IMF package model: plain frozen dataclasses a scanner reads and reports.

Why separate from the parsing: the walker, aggregator and reports only need these shapes (what a
package holds, where a composition plays a file, what went wrong), not how XML became them.
Identifiers are normalised ``urn:uuid:`` strings in lower case so references match whatever
case a tool wrote; timeline positions are exact fractions (see :mod:`.timecode`).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from .problems import ERROR, INFO, Problem
from .timecode import Rational, as_number, seconds, timecode

ASSETMAP_NAME = "ASSETMAP.xml"
VOLINDEX_NAME = "VOLINDEX.xml"
SHA1_URI = "http://www.w3.org/2000/09/xmldsig#sha1"

_UUID = re.compile(
    r"^(?:urn:uuid:)?([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$")


@dataclass(frozen=True)
class Chunk:
    """One ``ChunkList/Chunk`` of an ASSETMAP asset, as written."""

    path: str
    volume_index: int | None = None
    offset: int | None = None
    length: int | None = None


@dataclass(frozen=True)
class AssetEntry:
    """One ASSETMAP ``Asset``. ``path`` is where the scanner finds it, relative to the package
    root; None when the Path was refused or the chunking is unsupported."""

    id: str
    path: str | None
    packing_list: bool = False
    annotation: str | None = None
    chunks: tuple[Chunk, ...] = ()


@dataclass(frozen=True)
class PklAsset:
    id: str
    hash: str | None
    size: int | None
    type: str | None
    hash_algorithm: str = SHA1_URI
    original_file_name: str | None = None
    annotation: str | None = None


@dataclass(frozen=True)
class PackingList:
    id: str | None
    path: str
    namespace: str
    assets: tuple[PklAsset, ...]
    annotation: str | None = None
    issuer: str | None = None
    creator: str | None = None
    issue_date: str | None = None
    group_id: str | None = None


@dataclass(frozen=True)
class Marker:
    """A ``Marker`` of a MarkerSequence; ``position`` is in composition edit units."""

    label: str
    offset: int
    scope: str | None = None
    position: Fraction | None = None


@dataclass(frozen=True)
class Resource:
    """A ``Resource`` of a sequence (ST 2067-3 ``BaseResourceType`` and its extensions).
    Stereo image resources (ST 2067-2 ``StereoImageTrackFileResourceType``) carry one
    sub-resource per eye in ``eyes``."""

    id: str | None
    kind: str
    edit_rate: Rational | None
    intrinsic_duration: int | None
    entry_point: int = 0
    source_duration: int | None = None
    repeat_count: int = 1
    track_file_id: str | None = None
    eye: str | None = None
    eyes: tuple[Resource, ...] = ()
    markers: tuple[Marker, ...] = ()

    @property
    def played_duration(self) -> int | None:
        """SourceDuration (default IntrinsicDuration − EntryPoint) × RepeatCount, in the
        resource's own edit units."""
        source = self.source_duration
        if source is None and self.intrinsic_duration is not None:
            source = self.intrinsic_duration - self.entry_point
        return None if source is None else source * self.repeat_count


@dataclass(frozen=True)
class TrackSequence:
    """A virtual track's sequence in one segment. ``kind`` is the element's local name
    (``MainImageSequence``, ``MainAudioSequence``, ``SubtitlesSequence``, ``MarkerSequence``,
    ``IABSequence``, …), ``namespace`` tells which document defined it."""

    kind: str
    namespace: str
    id: str | None
    track_id: str | None
    resources: tuple[Resource, ...]


@dataclass(frozen=True)
class Segment:
    id: str | None
    sequences: tuple[TrackSequence, ...]
    annotation: str | None = None


@dataclass(frozen=True)
class Placement:
    """Where a composition plays (part of) a track file.

    ``start``/``end`` are composition edit units from the composition's first edit unit
    (``end`` exclusive, like an EDL record-out), exact fractions when rates are mixed; the
    ``*_tc`` labels are non-drop ``HH:MM:SS:FF`` at the composition edit rate (start rounded
    down, end rounded up)."""

    composition_id: str
    segment_index: int
    segment_id: str | None
    sequence_kind: str
    sequence_id: str | None
    track_id: str | None
    resource_index: int
    resource_id: str | None
    track_file_id: str
    edit_rate: Rational
    composition_edit_rate: Rational
    entry_point: int
    source_duration: int
    repeat_count: int
    start: Fraction
    end: Fraction
    eye: str | None = None

    @property
    def start_tc(self) -> str:
        return timecode(self.start, self.composition_edit_rate)

    @property
    def end_tc(self) -> str:
        return timecode(self.end, self.composition_edit_rate, round_up=True)

    @property
    def start_seconds(self) -> float:
        return seconds(self.start, self.composition_edit_rate)

    @property
    def end_seconds(self) -> float:
        return seconds(self.end, self.composition_edit_rate)

    @property
    def duration(self) -> Fraction:
        return self.end - self.start

    def describe(self, title: str | None) -> str:
        """``CPL 'EP203 Final' · MainImageSequence · 00:12:03:10–00:12:07:22``."""
        name = f"CPL {title!r}" if title else f"CPL {self.composition_id}"
        eye = f" ({self.eye})" if self.eye else ""
        return f"{name} · {self.sequence_kind}{eye} · {self.start_tc}–{self.end_tc}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "composition_id": self.composition_id, "segment_index": self.segment_index,
            "segment_id": self.segment_id, "sequence": self.sequence_kind,
            "sequence_id": self.sequence_id, "track_id": self.track_id,
            "resource_index": self.resource_index, "resource_id": self.resource_id,
            "track_file_id": self.track_file_id, "eye": self.eye,
            "edit_rate": str(self.edit_rate),
            "composition_edit_rate": str(self.composition_edit_rate),
            "entry_point": self.entry_point, "source_duration": self.source_duration,
            "repeat_count": self.repeat_count,
            "start": as_number(self.start), "end": as_number(self.end),
            "start_tc": self.start_tc, "end_tc": self.end_tc,
            "start_seconds": round(self.start_seconds, 6),
            "end_seconds": round(self.end_seconds, 6),
        }


@dataclass(frozen=True)
class Composition:
    """A parsed CPL. ``placements`` is empty when the timeline could not be computed (a
    problem says why); ``track_file_ids`` is known regardless."""

    id: str
    path: str
    namespace: str
    title: str | None
    edit_rate: Rational | None
    segments: tuple[Segment, ...]
    placements: tuple[Placement, ...] = ()
    markers: tuple[Marker, ...] = ()
    track_file_ids: tuple[str, ...] = ()
    duration: Fraction | None = None
    annotation: str | None = None
    issuer: str | None = None
    creator: str | None = None
    issue_date: str | None = None
    content_kind: str | None = None
    application_ids: tuple[str, ...] = ()
    timecode_start: str | None = None

    @property
    def duration_tc(self) -> str | None:
        return None if self.duration is None else _tc_or_none(self.duration, self.edit_rate,
                                                               round_up=True)

    def placements_of(self, track_file_id: str) -> list[Placement]:
        return [p for p in self.placements if p.track_file_id == track_file_id]

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "path": self.path, "title": self.title,
                "edit_rate": None if self.edit_rate is None else str(self.edit_rate),
                "duration": None if self.duration is None else as_number(self.duration),
                "duration_tc": self.duration_tc, "content_kind": self.content_kind,
                "application_ids": list(self.application_ids),
                "track_file_ids": list(self.track_file_ids),
                "placements": [p.to_dict() for p in self.placements],
                "markers": [{"label": m.label, "offset": m.offset,
                             "position": None if m.position is None else as_number(m.position),
                             "timecode": None if m.position is None
                             else _tc_or_none(m.position, self.edit_rate)}
                            for m in self.markers]}


@dataclass(frozen=True)
class SidecarAsset:
    id: str
    cpl_ids: tuple[str, ...]


@dataclass(frozen=True)
class SidecarMap:
    """An ST 2067-9 Sidecar Composition Map: sidecar assets of this package (QC reports,
    artwork, …) associated with compositions (of this package or another)."""

    id: str | None
    path: str
    namespace: str
    assets: tuple[SidecarAsset, ...]
    annotation: str | None = None
    issue_date: str | None = None


@dataclass(frozen=True)
class ExternalRef:
    """A CPL's reference to a track file this package's ASSETMAP does not list."""

    cpl_id: str
    cpl_path: str
    track_file_id: str
    sequences: tuple[str, ...]
    cpl_title: str | None = None
    resolved_root: str | None = None
    resolved_path: str | None = None

    @property
    def resolved(self) -> bool:
        return self.resolved_root is not None


@dataclass(frozen=True)
class HashProgress:
    """Reported while hashing: ``done``/``total`` bytes of the current file, which is number
    ``index`` (from 1) of ``count``."""

    path: str
    asset_id: str
    done: int
    total: int
    index: int
    count: int


@dataclass(frozen=True)
class Use:
    """How a delivery uses a file: as a composition's ``track file`` (with its placement, or
    None when the timeline could not be computed), as a ``sidecar`` (ST 2067-9), or as the
    ``composition playlist`` itself."""

    package_root: str
    composition: Composition
    role: str
    placement: Placement | None = None

    def describe(self) -> str:
        if self.placement is not None:
            return self.placement.describe(self.composition.title)
        name = (f"CPL {self.composition.title!r}" if self.composition.title
                else f"CPL {self.composition.id}")
        return f"{name} · {self.role}"


@dataclass(frozen=True)
class Package:
    """One IMF package: the directory holding an ``ASSETMAP.xml``.

    ``assets`` follows the ASSETMAP; ``extra_files`` are files under the root that no ASSETMAP
    lists (they still get scanned). ``problems`` joins what loading found with the state of
    the external references, so it is current after :func:`resolve_references`."""

    root: str
    assetmap_path: str | None
    assetmap_id: str | None = None
    assets: tuple[AssetEntry, ...] = ()
    packing_lists: tuple[PackingList, ...] = ()
    compositions: tuple[Composition, ...] = ()
    sidecar_maps: tuple[SidecarMap, ...] = ()
    extra_files: tuple[str, ...] = ()
    external_refs: tuple[ExternalRef, ...] = ()
    base_problems: tuple[Problem, ...] = ()
    verified: bool = False
    _by_path: dict[str, tuple[str, ...]] = field(default_factory=dict, repr=False,
                                                 compare=False, hash=False)

    @property
    def problems(self) -> tuple[Problem, ...]:
        refs: list[Problem] = []
        for ref in self.external_refs:
            kinds = ", ".join(ref.sequences)
            cpl = f"CPL {ref.cpl_title!r} ({ref.cpl_id})" if ref.cpl_title else f"CPL {ref.cpl_id}"
            if ref.resolved:
                refs.append(Problem(
                    INFO, "imf.cpl.track-file-external",
                    f"{cpl} uses track file {ref.track_file_id} ({kinds}) from "
                    f"another package: found at {ref.resolved_path!r} in {ref.resolved_root!r}",
                    ref.cpl_path, ref.track_file_id))
            else:
                refs.append(Problem(
                    ERROR, "imf.cpl.track-file-unresolved",
                    f"{cpl} uses track file {ref.track_file_id} ({kinds}) that "
                    "neither this package's ASSETMAP nor any package in the scan lists: the "
                    "composition cannot be checked (supplemental package without its OV?)",
                    ref.cpl_path, ref.track_file_id))
        return self.base_problems + tuple(refs)

    @property
    def errors(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity == ERROR)

    @property
    def asset_paths(self) -> dict[str, tuple[str, ...]]:
        """Asset id → path(s) relative to the root (empty when refused or unsupported)."""
        return {a.id: (a.path,) if a.path else () for a in self.assets}

    def asset(self, asset_id: str) -> AssetEntry | None:
        wanted = normalise_uuid(asset_id) or asset_id
        return next((a for a in self.assets if a.id == wanted), None)

    def composition(self, cpl_id: str) -> Composition | None:
        wanted = normalise_uuid(cpl_id) or cpl_id
        return next((c for c in self.compositions if c.id == wanted), None)

    def relative(self, path: str) -> str | None:
        """``path`` (absolute, or relative to the working directory as the walker yields it)
        relative to the root, POSIX separators; None when outside."""
        rel = os.path.relpath(os.path.abspath(path), os.path.abspath(self.root))
        if rel == os.curdir or rel == os.pardir or rel.startswith(os.pardir + os.sep):
            return None
        return rel.replace(os.sep, "/")

    def ids_for_path(self, path: str) -> tuple[str, ...]:
        rel = self.relative(path)
        if rel is None:
            return ()
        if self._by_path:
            return self._by_path.get(rel, ())
        return tuple(a.id for a in self.assets if a.path == rel)

    def role_of(self, path: str) -> str | None:
        """What ``path`` is to this package: ``assetmap``, ``volindex``, ``pkl``, ``cpl``,
        ``scm``, ``track file``, ``sidecar``, ``asset`` (listed, none of those), ``extra``
        (under the root, unlisted) or None (not under the root / unknown)."""
        rel = self.relative(path)
        if rel is None:
            return None
        if rel == self.assetmap_path:
            return "assetmap"
        if rel == VOLINDEX_NAME:
            return "volindex"
        ids = set(self.ids_for_path(path))
        if ids:
            if any(p.path == rel for p in self.packing_lists):
                return "pkl"
            if any(c.path == rel for c in self.compositions):
                return "cpl"
            if any(s.path == rel for s in self.sidecar_maps):
                return "scm"
            if any(ids & set(c.track_file_ids) for c in self.compositions):
                return "track file"
            if any(a.id in ids for s in self.sidecar_maps for a in s.assets):
                return "sidecar"
            return "asset"
        if rel in self.extra_files:
            return "extra"
        return None

    def to_dict(self) -> dict[str, Any]:
        return {"root": self.root, "assetmap": self.assetmap_path,
                "assetmap_id": self.assetmap_id, "verified": self.verified,
                "assets": {a.id: a.path for a in self.assets},
                "packing_lists": [p.id for p in self.packing_lists],
                "compositions": [c.to_dict() for c in self.compositions],
                "extra_files": list(self.extra_files),
                "external_refs": [{"cpl_id": r.cpl_id, "track_file_id": r.track_file_id,
                                   "resolved_root": r.resolved_root,
                                   "resolved_path": r.resolved_path}
                                  for r in self.external_refs],
                "problems": [p.to_dict() for p in self.problems]}


def normalise_uuid(value: str | None) -> str | None:
    """``urn:uuid:`` + lower-case UUID, or None when ``value`` is not a UUID."""
    if value is None:
        return None
    m = _UUID.match(value.strip().lower())
    return f"urn:uuid:{m.group(1)}" if m else None


def _tc_or_none(units: Fraction, rate: Rational | None, *, round_up: bool = False) -> str | None:
    return None if rate is None else timecode(units, rate, round_up=round_up)
