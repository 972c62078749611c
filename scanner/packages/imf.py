"""IMF packages (SMPTE ST 2067): ASSETMAP, packing lists, compositions and their timelines.

Why the scanner needs this: an IMF delivery is a directory of opaque MXF track files whose
meaning lives in XML. A finding in ``VIDEO_2f1c.mxf`` matters to a distributor as "CPL 'EP203
Final' · MainImageSequence · 00:12:03:10–00:12:07:22", and a delivery check must know when the
package itself is incomplete (a listed file missing, a size or hash that does not match, a CPL
that uses a track file nobody delivered): those facts make the package unprovable, so they are
errors, never silence.

What is read: only the package XML (bounded, defused) and ``lstat`` of the listed files. Hash
verification reads whole files and therefore runs only when asked (``verify=True`` or
:func:`verify_hashes`), streamed in bounded blocks with progress.

Documents and where their elements come from:

- ``ASSETMAP.xml``: SMPTE ST 429-9 (``AssetMap``, namespace ``…/429-9/2007/AM``; ST 2067-2 uses
  it unchanged, there is no IMF-specific AssetMap namespace).
- Packing list: ST 429-8:2007 (``…/429-8/2007/PKL``, SHA-1 implied) and ST 2067-2:2016
  (``…/2067-2/2016/PKL``, adds ``HashAlgorithm``; ST 2067-2:2020 keeps that namespace).
- Composition playlist: ST 2067-3:2013 and :2016 (``…/2067-3/2013``, ``…/2067-3/2016``;
  ST 2067-3:2020 keeps the 2016 namespace). Virtual track sequences come from the core
  constraints (ST 2067-2 ``cc:`` namespaces 2013, 2016, ``/ns/2067-2/2020``) or from
  applications and plug-ins (e.g. ST 2067-201 IAB); they are read by local name, so any
  ``…Sequence`` with track file resources is placed on the timeline.
- Sidecar composition map: ST 2067-9:2018 (``http://www.smpte-ra.org/ns/2067-9/2018``).

Supported shapes and what is reported otherwise (never silently):

- One volume, one chunk per asset, whole files. ``VolumeCount`` > 1, a ``VolumeIndex`` other
  than 1, more than one ``Chunk``, an ``Offset`` other than 0 or a ``Length`` that is not the
  whole file are ``error`` problems naming the asset (its bytes cannot be attributed).
- Supplemental packages: a CPL may use track files of another package (the OV). Inside one
  package such a reference is an :class:`ExternalRef`; :func:`resolve_references` (called by
  :func:`find_packages` for everything it found) marks it resolved when a package of the same
  scan holds the file. An unresolved reference is an ``error`` (the composition cannot be
  checked), a resolved one an ``info`` naming where it was found.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import stat
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace
from fractions import Fraction
from xml.etree.ElementTree import Element

from . import xmlsafe
from .imf_model import (
    ASSETMAP_NAME,
    SHA1_URI,
    VOLINDEX_NAME,
    AssetEntry,
    Chunk,
    Composition,
    ExternalRef,
    HashProgress,
    Marker,
    Package,
    PackingList,
    PklAsset,
    Placement,
    Resource,
    Segment,
    SidecarAsset,
    SidecarMap,
    TrackSequence,
    Use,
    normalise_uuid,
)
from .paths import resolve_uri
from .problems import ERROR, INFO, WARNING, Problem
from .timecode import Rational, as_number, convert
from .xmlsafe import XmlDoc, XmlFailure, child, children, text

NS_AM = "http://www.smpte-ra.org/schemas/429-9/2007/AM"
NS_AM_INTEROP = "http://www.digicine.com/PROTO-ASDCP-AM-20040311#"
NS_PKL = ("http://www.smpte-ra.org/schemas/429-8/2007/PKL",
          "http://www.smpte-ra.org/schemas/2067-2/2016/PKL")
NS_CPL = ("http://www.smpte-ra.org/schemas/2067-3/2013",
          "http://www.smpte-ra.org/schemas/2067-3/2016")
NS_CORE = ("http://www.smpte-ra.org/schemas/2067-2/2013",
           "http://www.smpte-ra.org/schemas/2067-2/2016",
           "http://www.smpte-ra.org/ns/2067-2/2020")
NS_SCM = ("http://www.smpte-ra.org/ns/2067-9/2018",)
NS_OPL = ("http://www.smpte-ra.org/schemas/2067-100/2014",)
XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"

# RFC 6931 / XML Encryption digest URIs. ST 2067-2 specifies SHA-1; the others are verified
# when a PKL declares them, with a warning that the package is outside the standard.
HASH_ALGORITHMS: dict[str, str] = {
    SHA1_URI: "sha1",
    "http://www.w3.org/2001/04/xmldsig-more#sha224": "sha224",
    "http://www.w3.org/2001/04/xmlenc#sha256": "sha256",
    "http://www.w3.org/2001/04/xmldsig-more#sha384": "sha384",
    "http://www.w3.org/2001/04/xmlenc#sha512": "sha512",
}

MAX_TREE_ENTRIES = 200_000
HASH_BLOCK = 1 << 20


class ImfError(Exception):
    """Raised only for misuse or limits of the search itself (not for package content, which
    always becomes :class:`Problem` values)."""


# --------------------------------------------------------------------------------------------
# Small parsers


class _Sink:
    """Collects problems for one package in discovery order."""

    def __init__(self) -> None:
        self.items: list[Problem] = []

    def add(self, severity: str, code: str, message: str, path: str | None = None,
            asset_id: str | None = None) -> None:
        self.items.append(Problem(severity, code, message, path, asset_id))

    def xml(self, failure: XmlFailure, path: str, what: str) -> None:
        self.add(ERROR, f"imf.xml.{failure.code}", f"{what} not read: {failure.message}", path)


def _int(el: Element | None, name: str, sink: _Sink, path: str, *, positive: bool = False,
         required: bool = False) -> int | None:
    value = text(el, name)
    if value is None:
        if required:
            sink.add(ERROR, "imf.xml.missing-element", f"missing {name}", path)
        return None
    if not value.isdigit() or (positive and int(value) == 0):
        kind = "positive" if positive else "non-negative"
        sink.add(ERROR, "imf.xml.bad-number", f"{name} {value!r} is not a {kind} integer", path)
        return None
    return int(value)


def _uuid_of(el: Element | None, name: str, sink: _Sink, path: str,
             required: bool = True) -> str | None:
    raw = text(el, name)
    if raw is None:
        if required:
            sink.add(ERROR, "imf.xml.missing-element", f"missing {name}", path)
        return None
    value = normalise_uuid(raw)
    if value is None:
        sink.add(ERROR, "imf.xml.bad-uuid", f"{name} {raw!r} is not a UUID", path)
    elif not raw.strip().lower().startswith("urn:uuid:"):
        sink.add(WARNING, "imf.xml.bare-uuid", f"{name} {raw!r} lacks the urn:uuid: prefix",
                 path, value)
    return value


def _rate(el: Element | None, name: str, sink: _Sink, path: str) -> Rational | None:
    value = text(el, name)
    if value is None:
        return None
    try:
        return Rational.parse(value)
    except ValueError as exc:
        sink.add(ERROR, "imf.xml.bad-edit-rate", f"{name}: {exc}", path)
        return None


# --------------------------------------------------------------------------------------------
# Loading


def find_assetmap(directory: str) -> str | None:
    """The ASSETMAP file name in ``directory`` (exact ``ASSETMAP.xml`` first, then any
    case variant), or None. Only lists the directory."""
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        return None
    if ASSETMAP_NAME in names:
        return ASSETMAP_NAME
    return next((n for n in names if n.lower() == ASSETMAP_NAME.lower()), None)


def load_package(root: str, *, verify: bool = False,
                 progress: Callable[[HashProgress], None] | None = None,
                 max_xml_bytes: int = xmlsafe.MAX_XML_BYTES) -> Package:
    """Parse and check the package whose root directory is ``root``.

    Reads the package XML and stats the listed files; with ``verify`` also hashes every
    packing-list asset (see :func:`verify_hashes`). Content problems never raise: they are in
    ``Package.problems``. References to other packages stay unresolved until
    :func:`resolve_references` sees the other packages."""
    loader = _Loader(root, max_xml_bytes)
    package = loader.load()
    if verify:
        hashed = verify_hashes(package, progress=progress)
        package = replace(package, base_problems=package.base_problems + hashed, verified=True)
    return package


class _Loader:
    def __init__(self, root: str, max_xml_bytes: int) -> None:
        self.root = root
        self.max_xml = max_xml_bytes
        self.sink = _Sink()
        self.assets: list[AssetEntry] = []
        self.by_id: dict[str, AssetEntry] = {}
        self.pkls: list[PackingList] = []
        self.cpls: list[Composition] = []
        self.scms: list[SidecarMap] = []
        self.refs: list[ExternalRef] = []
        self.assetmap_id: str | None = None
        self.assetmap_name: str | None = None
        self.present: dict[str, os.stat_result] = {}

    # -- orchestration ------------------------------------------------------------------------

    def load(self) -> Package:
        name = self.assetmap_name = find_assetmap(self.root)
        if name is None:
            self.sink.add(ERROR, "imf.assetmap.missing", f"no {ASSETMAP_NAME} in the directory")
        else:
            if name != ASSETMAP_NAME:
                self.sink.add(WARNING, "imf.assetmap.name", f"named {name!r}; ST 2067-2 names "
                              f"it {ASSETMAP_NAME!r}", name)
            self._assetmap(name)
            self._check_presence()
            self._packing_lists()
            self._check_pkl_against_assetmap()
            self._xml_assets()
        extras = self._extra_files(name)
        by_path: dict[str, list[str]] = {}
        for a in self.assets:
            if a.path:
                by_path.setdefault(a.path, []).append(a.id)
        return Package(
            root=self.root, assetmap_path=name, assetmap_id=self.assetmap_id,
            assets=tuple(self.assets), packing_lists=tuple(self.pkls),
            compositions=tuple(self.cpls), sidecar_maps=tuple(self.scms),
            extra_files=tuple(extras), external_refs=tuple(self.refs),
            base_problems=tuple(self.sink.items),
            _by_path={k: tuple(v) for k, v in by_path.items()})

    def _read(self, rel: str) -> XmlDoc | XmlFailure:
        return xmlsafe.read_xml(os.path.join(self.root, *rel.split("/")),
                                max_bytes=self.max_xml)

    # -- ASSETMAP (ST 429-9) ------------------------------------------------------------------

    def _assetmap(self, name: str) -> None:
        full = os.path.join(self.root, name)
        try:
            is_link = stat.S_ISLNK(os.lstat(full).st_mode)
        except OSError as exc:
            self.sink.add(ERROR, "imf.xml.unreadable", f"cannot stat: {exc.strerror}", name)
            return
        if is_link:
            self.sink.add(ERROR, "imf.assetmap.symlink", f"{name} is a symlink: not followed, "
                          "the package is not read", name)
            return
        doc = self._read(name)
        if isinstance(doc, XmlFailure):
            self.sink.xml(doc, name, "ASSETMAP")
            return
        if doc.local != "AssetMap":
            self.sink.add(ERROR, "imf.xml.unexpected-root",
                          f"root element is {doc.local!r}, not AssetMap", name)
            return
        if doc.namespace == NS_AM_INTEROP:
            self.sink.add(WARNING, "imf.assetmap.interop", "Interop DCP AssetMap namespace: "
                          "read as ST 429-9, but this is not an IMF package", name)
        elif doc.namespace != NS_AM:
            self.sink.add(WARNING, "imf.xml.unknown-namespace",
                          f"AssetMap namespace {doc.namespace!r} is not ST 429-9's {NS_AM!r}; "
                          "read by element names", name)
        root = doc.root
        self.assetmap_id = _uuid_of(root, "Id", self.sink, name)
        volumes = _int(root, "VolumeCount", self.sink, name, positive=True)
        if volumes is not None and volumes > 1:
            self.sink.add(ERROR, "imf.assetmap.multi-volume",
                          f"VolumeCount {volumes}: multi-volume packages are not supported; "
                          "only assets on volume 1 are located", name)
        asset_list = child(root, "AssetList")
        if asset_list is None:
            self.sink.add(ERROR, "imf.xml.missing-element", "missing AssetList", name)
            return
        for el in children(asset_list, "Asset"):
            self._assetmap_asset(el, name)

    def _assetmap_asset(self, el: Element, am: str) -> None:
        asset_id = _uuid_of(el, "Id", self.sink, am)
        if asset_id is None:
            return
        if asset_id in self.by_id:
            self.sink.add(ERROR, "imf.assetmap.duplicate-id",
                          f"asset {asset_id} is listed twice; the first entry is used", am,
                          asset_id)
            return
        flag = (text(el, "PackingList") or "false").lower()
        chunk_list = child(el, "ChunkList")
        chunks: list[Chunk] = []
        for c in children(chunk_list, "Chunk") if chunk_list is not None else []:
            chunks.append(Chunk(text(c, "Path") or "",
                                _int(c, "VolumeIndex", self.sink, am, positive=True),
                                _int(c, "Offset", self.sink, am),
                                _int(c, "Length", self.sink, am, positive=True)))
        path = self._chunk_path(asset_id, chunks, am)
        entry = AssetEntry(asset_id, path, flag in ("true", "1"), text(el, "AnnotationText"),
                           tuple(chunks))
        self.assets.append(entry)
        self.by_id[asset_id] = entry

    def _chunk_path(self, asset_id: str, chunks: list[Chunk], am: str) -> str | None:
        if not chunks:
            self.sink.add(ERROR, "imf.assetmap.no-chunk", f"asset {asset_id} has no Chunk",
                          am, asset_id)
            return None
        if len(chunks) > 1:
            self.sink.add(ERROR, "imf.assetmap.chunked",
                          f"asset {asset_id} is split into {len(chunks)} chunks: not "
                          "supported (ST 2067-2 packages use one chunk per asset)", am, asset_id)
            return None
        chunk = chunks[0]
        if chunk.volume_index not in (None, 1):
            self.sink.add(ERROR, "imf.assetmap.other-volume",
                          f"asset {asset_id} is on volume {chunk.volume_index}: multi-volume "
                          "packages are not supported", am, asset_id)
            return None
        if chunk.offset not in (None, 0):
            self.sink.add(ERROR, "imf.assetmap.chunk-offset",
                          f"asset {asset_id} starts at byte {chunk.offset} of its file: partial "
                          "chunks are not supported", am, asset_id)
            return None
        resolved = resolve_uri(self.root, chunk.path, asset_id)
        if resolved.problem is not None:
            self.sink.items.append(replace(resolved.problem, path=resolved.problem.path or am))
        return resolved.rel

    def _check_presence(self) -> None:
        seen: dict[str, str] = {}
        for a in self.assets:
            if a.path is None:
                continue
            if a.path in seen:
                self.sink.add(WARNING, "imf.assetmap.shared-path",
                              f"assets {seen[a.path]} and {a.id} name the same file", a.path,
                              a.id)
            seen.setdefault(a.path, a.id)
            try:
                st = os.lstat(os.path.join(self.root, *a.path.split("/")))
            except FileNotFoundError:
                self.sink.add(ERROR, "imf.asset.missing", f"asset {a.id} is listed in the "
                              "ASSETMAP but the file is not there", a.path, a.id)
                continue
            except OSError as exc:
                self.sink.add(ERROR, "imf.asset.unreadable", f"cannot stat: {exc.strerror}",
                              a.path, a.id)
                continue
            if not stat.S_ISREG(st.st_mode):
                self.sink.add(ERROR, "imf.asset.not-a-file",
                              f"asset {a.id} is not a regular file ({stat.filemode(st.st_mode)})",
                              a.path, a.id)
                continue
            length = a.chunks[0].length if a.chunks else None
            if length is not None and length != st.st_size:
                self.sink.add(ERROR, "imf.assetmap.chunk-length",
                              f"Chunk Length {length} is not the file's size {st.st_size}: "
                              "partial chunks are not supported", a.path, a.id)
            self.present[a.id] = st

    # -- packing lists (ST 429-8, ST 2067-2) --------------------------------------------------

    def _packing_lists(self) -> None:
        flagged = [a for a in self.assets if a.packing_list]
        if not flagged and self.assets:
            self.sink.add(ERROR, "imf.pkl.none", "the ASSETMAP flags no PackingList: the "
                          "package's contents cannot be checked", self.assetmap_name)
        for a in flagged:
            if a.id not in self.present or a.path is None:
                continue
            doc = self._read(a.path)
            if isinstance(doc, XmlFailure):
                self.sink.xml(doc, a.path, "PKL")
                continue
            if doc.local != "PackingList":
                self.sink.add(ERROR, "imf.xml.unexpected-root",
                              f"flagged as PackingList but the root element is {doc.local!r}",
                              a.path, a.id)
                continue
            self.pkls.append(self._parse_pkl(doc, a.path))

    def _parse_pkl(self, doc: XmlDoc, rel: str) -> PackingList:
        if doc.namespace not in NS_PKL:
            self.sink.add(WARNING, "imf.xml.unknown-namespace",
                          f"PackingList namespace {doc.namespace!r} is neither ST 429-8 nor "
                          "ST 2067-2; read by element names", rel)
        is_2067 = doc.namespace == NS_PKL[1]
        root = doc.root
        assets: list[PklAsset] = []
        asset_list = child(root, "AssetList")
        if asset_list is None:
            self.sink.add(ERROR, "imf.xml.missing-element", "missing AssetList", rel)
        ids: set[str] = set()
        for el in children(asset_list, "Asset") if asset_list is not None else []:
            asset_id = _uuid_of(el, "Id", self.sink, rel)
            if asset_id is None:
                continue
            if asset_id in ids:
                self.sink.add(ERROR, "imf.pkl.duplicate-id", f"asset {asset_id} is listed "
                              "twice in this PKL", rel, asset_id)
                continue
            ids.add(asset_id)
            algo_el = child(el, "HashAlgorithm")
            algorithm = algo_el.get("Algorithm") if algo_el is not None else None
            if algorithm is None:
                if is_2067:
                    self.sink.add(WARNING, "imf.pkl.no-hash-algorithm",
                                  "ST 2067-2 PKL asset without HashAlgorithm: SHA-1 assumed",
                                  rel, asset_id)
                algorithm = SHA1_URI
            hash_value = text(el, "Hash")
            if hash_value is None:
                self.sink.add(ERROR, "imf.xml.missing-element", "PKL asset without Hash", rel,
                              asset_id)
            size = _int(el, "Size", self.sink, rel, positive=True, required=True)
            assets.append(PklAsset(asset_id, hash_value, size, text(el, "Type"),
                                   algorithm.strip(), text(el, "OriginalFileName"),
                                   text(el, "AnnotationText")))
        return PackingList(_uuid_of(root, "Id", self.sink, rel), rel, doc.namespace,
                           tuple(assets), text(root, "AnnotationText"), text(root, "Issuer"),
                           text(root, "Creator"), text(root, "IssueDate"),
                           _uuid_of(root, "GroupId", self.sink, rel, required=False))

    def _check_pkl_against_assetmap(self) -> None:
        """Every PKL asset must be locatable and of the declared size; every ASSETMAP asset
        should be in a PKL (else nothing vouches for its integrity)."""
        in_pkl: set[str] = set()
        for pkl in self.pkls:
            for pa in pkl.assets:
                in_pkl.add(pa.id)
                entry = self.by_id.get(pa.id)
                if entry is None:
                    self.sink.add(ERROR, "imf.pkl.not-in-assetmap",
                                  f"PKL lists asset {pa.id} ({pa.original_file_name or pa.type}) "
                                  "but the ASSETMAP does not say where it is", pkl.path, pa.id)
                    continue
                st = self.present.get(pa.id)
                if st is not None and pa.size is not None and st.st_size != pa.size:
                    self.sink.add(ERROR, "imf.asset.size-mismatch",
                                  f"size {st.st_size} bytes, PKL says {pa.size}", entry.path,
                                  pa.id)
                if pa.hash_algorithm not in HASH_ALGORITHMS:
                    self.sink.add(ERROR, "imf.pkl.unknown-hash-algorithm",
                                  f"HashAlgorithm {pa.hash_algorithm!r} is not known: the hash "
                                  "cannot be verified", entry.path, pa.id)
                elif pa.hash_algorithm != SHA1_URI:
                    self.sink.add(WARNING, "imf.pkl.hash-algorithm",
                                  f"HashAlgorithm {pa.hash_algorithm!r}: ST 2067-2 specifies "
                                  f"SHA-1 ({SHA1_URI}); verified with the declared algorithm",
                                  entry.path, pa.id)
        if not self.pkls:
            return
        for a in self.assets:
            if a.id not in in_pkl and not a.packing_list:
                self.sink.add(WARNING, "imf.assetmap.not-in-pkl",
                              f"asset {a.id} is in the ASSETMAP but in no PKL: its size and "
                              "hash are not vouched for", a.path, a.id)

    # -- CPL, SCM and other XML assets --------------------------------------------------------

    def _xml_assets(self) -> None:
        pkl_paths = {p.path for p in self.pkls}
        types = {pa.id: (pa.type or "") for pkl in self.pkls for pa in pkl.assets}
        for a in self.assets:
            if a.path is None or a.id not in self.present or a.path in pkl_paths:
                continue
            kind = types.get(a.id, "")
            if "xml" not in kind.lower() and not a.path.lower().endswith(".xml"):
                continue
            doc = self._read(a.path)
            if isinstance(doc, XmlFailure):
                self.sink.xml(doc, a.path, f"XML asset {a.id}")
                continue
            if doc.local == "CompositionPlaylist":
                self._cpl(doc, a)
            elif doc.local == "SidecarCompositionMap":
                self._scm(doc, a)
            elif doc.local == "OutputProfileList":
                self.sink.add(INFO, "imf.opl.not-interpreted", "Output Profile List (ST "
                              "2067-100): recognised, not interpreted", a.path, a.id)
            elif doc.local == "PackingList":
                self.sink.add(WARNING, "imf.pkl.not-flagged", "a PackingList the ASSETMAP does "
                              "not flag as one: not used", a.path, a.id)
            else:
                self.sink.add(INFO, "imf.xml.other", f"XML asset with root {doc.local!r}: not "
                              "interpreted", a.path, a.id)

    def _cpl(self, doc: XmlDoc, asset: AssetEntry) -> None:
        rel = asset.path or ""
        if doc.namespace not in NS_CPL:
            self.sink.add(WARNING, "imf.xml.unknown-namespace",
                          f"CompositionPlaylist namespace {doc.namespace!r} is not ST 2067-3's; "
                          "read by element names", rel)
        composition = parse_cpl(doc, rel, self.sink)
        if composition.id != asset.id:
            self.sink.add(WARNING, "imf.cpl.id-mismatch", f"CPL Id {composition.id} differs "
                          f"from its ASSETMAP/PKL id {asset.id}", rel, asset.id)
        self.cpls.append(composition)
        kinds: dict[str, list[str]] = {}
        for seg in composition.segments:
            for seq in seg.sequences:
                for res in seq.resources:
                    for r in (res.eyes or (res,)):
                        if r.track_file_id:
                            bucket = kinds.setdefault(r.track_file_id, [])
                            if seq.kind not in bucket:
                                bucket.append(seq.kind)
        for track_file_id, seqs in kinds.items():
            if track_file_id not in self.by_id:
                self.refs.append(ExternalRef(composition.id, rel, track_file_id, tuple(seqs),
                                             composition.title))

    def _scm(self, doc: XmlDoc, asset: AssetEntry) -> None:
        rel = asset.path or ""
        if doc.namespace not in NS_SCM:
            self.sink.add(WARNING, "imf.xml.unknown-namespace",
                          f"SidecarCompositionMap namespace {doc.namespace!r} is not ST "
                          "2067-9's; read by element names", rel)
        root = doc.root
        props = child(root, "Properties")
        assets: list[SidecarAsset] = []
        asset_list = child(root, "SidecarAssetList")
        for el in children(asset_list, "SidecarAsset") if asset_list is not None else []:
            sidecar_id = _uuid_of(el, "Id", self.sink, rel)
            if sidecar_id is None:
                continue
            cpl_list = child(el, "AssociatedCPLList")
            cpl_ids = [normalise_uuid(text(c)) for c in
                       (children(cpl_list, "CPLId") if cpl_list is not None else [])]
            valid = tuple(dict.fromkeys(c for c in cpl_ids if c))
            if len(valid) != len(cpl_ids):
                self.sink.add(ERROR, "imf.xml.bad-uuid", "a CPLId is not a UUID", rel,
                              sidecar_id)
            if sidecar_id not in self.by_id:
                self.sink.add(ERROR, "imf.scm.asset-not-in-package",
                              f"sidecar asset {sidecar_id} is not in this package's ASSETMAP "
                              "(ST 2067-9: sidecar assets are in the same IMP as the map)",
                              rel, sidecar_id)
            assets.append(SidecarAsset(sidecar_id, valid))
        self.scms.append(SidecarMap(
            _uuid_of(root, "Id", self.sink, rel), rel, doc.namespace, tuple(assets),
            text(props, "Annotation") if props is not None else None,
            text(props, "IssueDate") if props is not None else text(root, "IssueDate")))

    # -- files nobody lists -------------------------------------------------------------------

    def _extra_files(self, assetmap: str | None) -> list[str]:
        listed = {a.path for a in self.assets if a.path}
        known = listed | {n for n in (assetmap, VOLINDEX_NAME) if n}
        extras: list[str] = []
        count = 0
        stack: list[tuple[str, str]] = [(self.root, "")]
        while stack:
            directory, prefix = stack.pop()
            try:
                with os.scandir(directory) as it:
                    entries = sorted(it, key=lambda e: os.fsencode(e.name))
            except OSError as exc:
                self.sink.add(ERROR, "imf.tree.unreadable",
                              f"cannot list directory: {exc.strerror or exc}", prefix or ".")
                continue
            if prefix and any(e.name.lower() == ASSETMAP_NAME.lower() for e in entries):
                continue  # a nested package: its own Package lists its files
            subdirs: list[tuple[str, str]] = []
            for entry in entries:
                count += 1
                if count > MAX_TREE_ENTRIES:
                    self.sink.add(ERROR, "imf.tree.too-large", f"more than {MAX_TREE_ENTRIES} "
                                  "entries under the package root: extra files not all listed")
                    return extras
                rel = prefix + entry.name
                try:
                    is_dir = entry.is_dir(follow_symlinks=False)
                except OSError:
                    is_dir = False
                if is_dir:
                    subdirs.append((entry.path, rel + "/"))
                elif rel not in known:
                    extras.append(rel)
            stack.extend(reversed(subdirs))
        return sorted(extras, key=os.fsencode)


# --------------------------------------------------------------------------------------------
# CPL (ST 2067-3) and its timeline


def parse_cpl(doc: XmlDoc, rel: str, sink: _Sink | None = None) -> Composition:
    """Build a :class:`Composition` (with its timeline) from a parsed CPL document."""
    sink = sink if sink is not None else _Sink()
    root = doc.root
    cpl_id = _uuid_of(root, "Id", sink, rel) or f"urn:invalid:{rel}"
    rate = _rate(root, "EditRate", sink, rel)
    if rate is None and text(root, "EditRate") is None:
        sink.add(ERROR, "imf.xml.missing-element", "missing EditRate", rel, cpl_id)
    title = text(root, "ContentTitle")
    if title is None:
        sink.add(WARNING, "imf.xml.missing-element", "missing ContentTitle", rel, cpl_id)
    segments: list[Segment] = []
    seg_list = child(root, "SegmentList")
    if seg_list is None:
        sink.add(ERROR, "imf.xml.missing-element", "missing SegmentList", rel, cpl_id)
    for seg_el in children(seg_list, "Segment") if seg_list is not None else []:
        sequences: list[TrackSequence] = []
        seq_list = child(seg_el, "SequenceList")
        for seq_el in list(seq_list) if seq_list is not None else []:
            if not isinstance(seq_el.tag, str):
                continue
            ns, kind = xmlsafe.split_tag(seq_el.tag)
            res_list = child(seq_el, "ResourceList")
            resources = tuple(_resource(r, rel, sink, kind) for r in
                              (children(res_list, "Resource") if res_list is not None else []))
            sequences.append(TrackSequence(kind, ns, _uuid_of(seq_el, "Id", sink, rel, False),
                                       _uuid_of(seq_el, "TrackId", sink, rel, False), resources))
        segments.append(Segment(_uuid_of(seg_el, "Id", sink, rel, False), tuple(sequences),
                                text(seg_el, "Annotation")))
    ext = child(root, "ExtensionProperties")
    app_ids: list[str] = []
    for el in children(ext, "ApplicationIdentification") if ext is not None else []:
        app_ids.extend((el.text or "").split())
    tc_el = child(root, "CompositionTimecode")
    track_ids = tuple(dict.fromkeys(
        r.track_file_id for s in segments for q in s.sequences for res in q.resources
        for r in (res.eyes or (res,)) if r.track_file_id))
    composition = Composition(
        id=cpl_id, path=rel, namespace=doc.namespace, title=title, edit_rate=rate,
        segments=tuple(segments), track_file_ids=track_ids, annotation=text(root, "Annotation"),
        issuer=text(root, "Issuer"), creator=text(root, "Creator"),
        issue_date=text(root, "IssueDate"), content_kind=text(root, "ContentKind"),
        application_ids=tuple(app_ids),
        timecode_start=text(tc_el, "TimecodeStartAddress") if tc_el is not None else None)
    if rate is None:
        sink.add(ERROR, "imf.cpl.no-timeline", "timeline not computed: no valid EditRate",
                 rel, cpl_id)
        return composition
    try:
        placements, markers, duration = _timeline(composition, rate, sink)
    except _Untimed as exc:
        sink.add(ERROR, "imf.cpl.no-timeline", f"timeline not computed: {exc}", rel, cpl_id)
        return composition
    return replace(composition, placements=tuple(placements), markers=tuple(markers),
                   duration=duration)


def _resource(el: Element, rel: str, sink: _Sink, sequence_kind: str,
              eye: str | None = None) -> Resource:
    xsi = el.get(XSI_TYPE, "")
    kind = xsi.rsplit(":", 1)[-1] if xsi else ""
    eyes = tuple(_resource(e, rel, sink, sequence_kind, name)
                 for name in ("LeftEye", "RightEye") for e in children(el, name))
    markers = tuple(_marker(m, rel, sink) for m in children(el, "Marker"))
    track_file_id = _uuid_of(el, "TrackFileId", sink, rel, required=False)
    if not kind:
        kind = ("StereoImageTrackFileResourceType" if eyes else
                "TrackFileResourceType" if track_file_id else
                "MarkerResourceType" if markers or sequence_kind == "MarkerSequence" else
                "BaseResourceType")
    if (not track_file_id and not eyes and sequence_kind != "MarkerSequence"
            and kind != "MarkerResourceType" and eye is None):
        sink.add(WARNING, "imf.cpl.resource-without-track-file",
                 f"{sequence_kind} resource of type {kind!r} names no TrackFileId: nothing to "
                 "attribute", rel)
    return Resource(
        id=_uuid_of(el, "Id", sink, rel, required=eye is None),
        kind=kind, edit_rate=_rate(el, "EditRate", sink, rel),
        intrinsic_duration=_int(el, "IntrinsicDuration", sink, rel, required=True),
        entry_point=_int(el, "EntryPoint", sink, rel) or 0,
        source_duration=_int(el, "SourceDuration", sink, rel),
        repeat_count=_int(el, "RepeatCount", sink, rel, positive=True) or 1,
        track_file_id=track_file_id, eye=eye, eyes=eyes, markers=markers)


def _marker(el: Element, rel: str, sink: _Sink) -> Marker:
    label = child(el, "Label")
    return Marker(text(label) or "", _int(el, "Offset", sink, rel, required=True) or 0,
                  label.get("scope") if label is not None else None)


class _Untimed(Exception):
    pass


def _timeline(comp: Composition, rate: Rational,
              sink: _Sink) -> tuple[list[Placement], list[Marker], Fraction]:
    """Lay segments end to end; within a segment each sequence starts at the segment's start
    and its resources follow each other. A segment lasts as long as its sequences (ST 2067-3
    requires them equal; a difference is a warning and the longest counts)."""
    placements: list[Placement] = []
    markers: list[Marker] = []
    seg_start = Fraction(0)
    for si, seg in enumerate(comp.segments):
        lengths: list[tuple[str, Fraction]] = []
        for seq in seg.sequences:
            pos = seg_start
            for ri, res in enumerate(seq.resources):
                res_rate = res.edit_rate or rate
                played = res.played_duration
                if played is None or res.intrinsic_duration is None:
                    raise _Untimed(f"segment {si + 1} {seq.kind} resource {ri + 1} has no valid "
                                   "IntrinsicDuration")
                if played < 0:
                    raise _Untimed(f"segment {si + 1} {seq.kind} resource {ri + 1}: EntryPoint "
                                   "lies beyond IntrinsicDuration")
                source = played // res.repeat_count
                if res.entry_point + source > res.intrinsic_duration:
                    sink.add(WARNING, "imf.cpl.beyond-intrinsic",
                             f"segment {si + 1} {seq.kind} resource {ri + 1}: EntryPoint "
                             f"{res.entry_point} + SourceDuration {source} exceeds "
                             f"IntrinsicDuration {res.intrinsic_duration}", comp.path,
                             res.track_file_id)
                end = pos + convert(played, res_rate, rate)
                for sub in (res.eyes or (res,)):
                    if sub.track_file_id is None:
                        continue
                    placements.append(Placement(
                        composition_id=comp.id, segment_index=si, segment_id=seg.id,
                        sequence_kind=seq.kind, sequence_id=seq.id, track_id=seq.track_id,
                        resource_index=ri, resource_id=res.id,
                        track_file_id=sub.track_file_id, edit_rate=res_rate,
                        composition_edit_rate=rate,
                        entry_point=sub.entry_point if sub.eye else res.entry_point,
                        source_duration=source, repeat_count=res.repeat_count,
                        start=pos, end=end, eye=sub.eye))
                for m in res.markers:
                    markers.append(replace(m, position=pos + convert(m.offset, res_rate, rate)))
                pos = end
            if seq.resources:
                lengths.append((seq.kind, pos - seg_start))
        if len({v for _, v in lengths}) > 1:
            shown = ", ".join(f"{k} {as_number(v)}" for k, v in lengths)
            sink.add(WARNING, "imf.cpl.segment-durations",
                     f"segment {si + 1}: sequences differ in duration ({shown} edit units at "
                     f"{rate}); the longest is used", comp.path, seg.id)
        seg_start += max((v for _, v in lengths), default=Fraction(0))
    return placements, markers, seg_start


# --------------------------------------------------------------------------------------------
# Hash verification (explicit, streamed)


def verify_hashes(package: Package, *, progress: Callable[[HashProgress], None] | None = None,
                  stop: Callable[[], bool] | None = None,
                  block_size: int = HASH_BLOCK) -> tuple[Problem, ...]:
    """Hash every packing-list asset that is present at its declared size, in ``block_size``
    reads (never the whole file in memory), and compare with the PKL ``Hash``.

    Returns the problems: ``imf.asset.hash-mismatch`` (error), ``imf.asset.hash-unverified``
    (error: unknown algorithm, bad Hash value, unreadable file, stopped by ``stop``, file
    changed while read). Assets already missing or of the wrong size are skipped: their error
    is already there."""
    entries = {a.id: a for a in package.assets}
    sizes: dict[str, int] = {}
    for a in package.assets:
        if a.path is None:
            continue
        try:
            st = os.lstat(os.path.join(package.root, *a.path.split("/")))
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode):
            sizes[a.id] = st.st_size
    todo: list[tuple[PklAsset, str]] = []
    seen: set[tuple[str, str | None, str]] = set()
    for pkl in package.packing_lists:
        for pa in pkl.assets:
            entry = entries.get(pa.id)
            key = (pa.id, pa.hash, pa.hash_algorithm)
            if entry is None or entry.path is None or key in seen or pa.id not in sizes:
                continue
            if pa.size is not None and sizes[pa.id] != pa.size:
                continue
            seen.add(key)
            todo.append((pa, entry.path))
    problems: list[Problem] = []
    for index, (pa, rel) in enumerate(todo, 1):
        if stop is not None and stop():
            problems.append(Problem(ERROR, "imf.asset.hash-unverified",
                                    "hash not verified: stopped", rel, pa.id))
            continue
        problems.extend(_verify_one(package.root, pa, rel, index, len(todo), progress,
                                    block_size))
    return tuple(problems)


def _verify_one(root: str, pa: PklAsset, rel: str, index: int, count: int,
                progress: Callable[[HashProgress], None] | None,
                block_size: int) -> list[Problem]:
    def unverified(why: str) -> list[Problem]:
        return [Problem(ERROR, "imf.asset.hash-unverified", f"hash not verified: {why}", rel,
                        pa.id)]

    name = HASH_ALGORITHMS.get(pa.hash_algorithm)
    if name is None:
        return unverified(f"unknown HashAlgorithm {pa.hash_algorithm!r}")
    if pa.hash is None:
        return unverified("the PKL gives no Hash")
    try:
        expected = base64.b64decode("".join(pa.hash.split()), validate=True)
    except (binascii.Error, ValueError):
        return unverified(f"Hash {pa.hash!r} is not base64")
    digest = hashlib.new(name)
    if len(expected) != digest.digest_size:
        return unverified(f"Hash is {len(expected)} bytes, a {name.upper()} digest is "
                          f"{digest.digest_size}")
    path = os.path.join(root, *rel.split("/"))
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError as exc:
        return unverified(f"cannot open: {exc.strerror or exc}")
    try:
        total = os.fstat(fd).st_size
        done = 0
        if progress is not None:
            progress(HashProgress(rel, pa.id, 0, total, index, count))
        while True:
            block = os.read(fd, block_size)
            if not block:
                break
            digest.update(block)
            done += len(block)
            if progress is not None:
                progress(HashProgress(rel, pa.id, done, total, index, count))
        changed = done != total or os.fstat(fd).st_size != total
    except OSError as exc:
        return unverified(f"read failed: {exc.strerror or exc}")
    finally:
        os.close(fd)
    if changed:
        return unverified("the file changed size while it was read")
    actual = digest.digest()
    if actual != expected:
        return [Problem(ERROR, "imf.asset.hash-mismatch",
                        f"{name.upper()} is {base64.b64encode(actual).decode()}, the PKL says "
                        f"{base64.b64encode(expected).decode()}", rel, pa.id)]
    return []


# --------------------------------------------------------------------------------------------
# Finding packages, resolving supplementals, attributing files


def find_packages(root: str, *, verify: bool = False,
                  progress: Callable[[HashProgress], None] | None = None,
                  resolve: bool = True, max_dirs: int = MAX_TREE_ENTRIES) -> list[Package]:
    """Every package under ``root`` (``root`` itself included): a directory holding an
    ``ASSETMAP.xml`` is a package root. Lists directories only, never follows a symlink, and
    raises :class:`ImfError` past ``max_dirs`` directories rather than return a partial answer.
    Packages come in path order; with ``resolve`` their cross-package references are resolved
    among themselves (call :func:`resolve_references` again over several roots' packages)."""
    roots = list(_package_dirs(root, max_dirs))
    packages = [load_package(r, verify=verify, progress=progress) for r in roots]
    return resolve_references(packages) if resolve else packages


def _package_dirs(root: str, max_dirs: int) -> Iterator[str]:
    stack = [root]
    seen = 0
    while stack:
        directory = stack.pop()
        seen += 1
        if seen > max_dirs:
            raise ImfError(f"more than {max_dirs} directories under {root!r}: package search "
                           "stopped (raise max_dirs)")
        try:
            with os.scandir(directory) as it:
                entries = sorted(it, key=lambda e: os.fsencode(e.name))
        except OSError:
            continue  # the walker reports unreadable directories
        if any(e.name.lower() == ASSETMAP_NAME.lower() for e in entries):
            yield directory
        subdirs = []
        for e in entries:
            try:
                if e.is_dir(follow_symlinks=False):
                    subdirs.append(e.path)
            except OSError:
                continue
        stack.extend(reversed(subdirs))


_ABSENT = frozenset({"imf.asset.missing", "imf.asset.not-a-file", "imf.asset.unreadable"})


def resolve_references(packages: Sequence[Package]) -> list[Package]:
    """Resolve every package's :class:`ExternalRef` against the others: a reference is
    resolved when another package's ASSETMAP locates the track file and the file is there (it
    is then scanned as part of that package). Idempotent; the order of ``packages`` is kept."""
    where: dict[str, tuple[str, str]] = {}
    for pkg in packages:
        # Absent files do not resolve anything; a size or hash mismatch does (the file is
        # there and gets scanned; the package holding it carries that error itself).
        broken = {p.asset_id for p in pkg.base_problems if p.code in _ABSENT}
        for a in pkg.assets:
            if a.path and a.id not in broken:
                where.setdefault(a.id, (pkg.root, a.path))
    out: list[Package] = []
    for pkg in packages:
        refs = []
        for ref in pkg.external_refs:
            found = where.get(ref.track_file_id)
            refs.append(replace(ref, resolved_root=found[0] if found else None,
                                resolved_path=found[1] if found else None))
        out.append(replace(pkg, external_refs=tuple(refs)))
    return out


def package_of(packages: Iterable[Package], path: str) -> Package | None:
    """The package whose root holds ``path`` (the deepest, for nested packages)."""
    best: Package | None = None
    for pkg in packages:
        if pkg.relative(path) is not None and (
                best is None or len(os.path.abspath(pkg.root)) > len(os.path.abspath(best.root))):
            best = pkg
    return best


def placements_for(package: Package, path: str) -> list[tuple[Composition, Placement]]:
    """Where the compositions of ``package`` play the file at ``path``, in CPL then timeline
    order. Empty when the file is no track file of theirs."""
    ids = set(package.ids_for_path(path))
    return [(c, p) for c in package.compositions for p in c.placements if p.track_file_id in ids]


def uses_of(packages: Sequence[Package], path: str) -> list[Use]:
    """Every use the delivery makes of ``path``: as a track file of any composition in any of
    ``packages`` (so an OV track file shows up under the supplemental's CPL too), as a sidecar
    of a composition, or as a CPL itself."""
    owner = package_of(packages, path)
    if owner is None:
        return []
    ids = set(owner.ids_for_path(path))
    if not ids:
        return []
    rel = owner.relative(path)
    uses: list[Use] = []
    cpls = {c.id: (pkg, c) for pkg in packages for c in pkg.compositions}
    for pkg in packages:
        for comp in pkg.compositions:
            if pkg is owner and comp.path == rel:
                uses.append(Use(pkg.root, comp, "composition playlist"))
            timed = [p for p in comp.placements if p.track_file_id in ids]
            uses.extend(Use(pkg.root, comp, "track file", p) for p in timed)
            if not timed and ids & set(comp.track_file_ids):
                uses.append(Use(pkg.root, comp, "track file"))
    for scm in owner.sidecar_maps:
        for sidecar in scm.assets:
            if sidecar.id in ids:
                for cpl_id in sidecar.cpl_ids:
                    if cpl_id in cpls:
                        pkg, comp = cpls[cpl_id]
                        uses.append(Use(pkg.root, comp, "sidecar"))
    return uses


def sidecar_compositions(packages: Sequence[Package],
                         path: str) -> list[tuple[str, Composition | None]]:
    """The compositions an ST 2067-9 map associates the sidecar at ``path`` with, as (CPL id,
    Composition or None when no package of the scan holds that CPL)."""
    owner = package_of(packages, path)
    if owner is None:
        return []
    ids = set(owner.ids_for_path(path))
    cpls = {c.id: c for pkg in packages for c in pkg.compositions}
    out: list[tuple[str, Composition | None]] = []
    for scm in owner.sidecar_maps:
        for sidecar in scm.assets:
            if sidecar.id in ids:
                out.extend((cpl_id, cpls.get(cpl_id)) for cpl_id in sidecar.cpl_ids)
    return out
