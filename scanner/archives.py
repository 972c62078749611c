"""Looking inside archives: every member becomes an asset of its own, scanned like a file of the
tree and named ``turnover.zip!/plates/bg.exr`` in every report; the archive's own result is the
worst of its members'.

Members are copied one at a time into a private temporary directory (detectors, c2pa-python
and ExifTool read files, not streams), hashed on the way (approvals key on content), scanned and
deleted. Small files that may be another member's sidecar (``.xmp``, ``.c2pa``, ``.json``,
``.txt``) stay until the archive is done, so they are found beside the member they describe: a
ZIP's are copied first, a TAR stream's only when stored before their media file (they are
scanned on their own either way). Archives inside archives are opened up to the nesting limit.
The copy never uses a member's name as a path: each goes into a numbered folder under the
temporary directory, so ``../`` or absolute names cannot escape.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import hashlib
import lzma
import os
import shutil
import tarfile
import tempfile
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

from detectors.formats import registry
from detectors.formats.archive import (
    ArchiveError,
    Budget,
    Limits,
    Member,
    MemberError,
    open_members,
)
from detectors.formats.sniff import SNIFF_BYTES, sniff
from detectors.model import ARCHIVE, READ, Asset, ScanError, Scanned

SIDECAR_EXTS = frozenset({".xmp", ".c2pa", ".json", ".txt"})
SIDECAR_KEEP = 4 * 2**20  # sidecar-like members up to this size stay for the archive's time
UNKNOWN = "application/octet-stream"
COPY_CHUNK = 1024 * 1024
EXCLUDED_TYPE = "inode/x-excluded"
# What reading a member can raise besides our own errors: damaged data in each format.
READ_ERRORS = (MemberError, zipfile.BadZipFile, zlib.error, EOFError, OSError, lzma.LZMAError,
               tarfile.TarError, ValueError, NotImplementedError, RuntimeError)


@dataclass(frozen=True)
class ArchiveSettings:
    """How archives are opened in a scan (the CLI's ``--archive-*`` options)."""

    limits: Limits = field(default_factory=Limits)
    temp_dir: str | None = None  # where member copies go (default: the system's temp dir)
    excludes: tuple[str, ...] = ()  # --exclude globs, matched against member paths too


ScanMember = Callable[[Asset, "Nesting"], Scanned]


@dataclass
class Nesting:
    """State shared by an archive and the archives nested in it."""

    settings: ArchiveSettings
    budget: Budget
    root_tmp: str
    heartbeat: Callable[[], None]
    depth: int = 0
    slots: int = 0

    def slot(self) -> str:
        """A fresh, empty folder for the members of one archive folder."""
        self.slots += 1
        path = os.path.join(self.root_tmp, str(self.slots))
        os.mkdir(path, 0o700)
        return path


def scan_archive(asset: Asset, scan_member: ScanMember, settings: ArchiveSettings,
                 heartbeat: Callable[[], None], nesting: Nesting | None = None) -> Scanned:
    """The archive ``asset`` with every member scanned by ``scan_member`` (the pipeline)."""
    if nesting is None:
        root_tmp = tempfile.mkdtemp(prefix="deliverscan-archive-", dir=settings.temp_dir)
        try:
            return _scan(asset, scan_member, Nesting(settings, Budget(settings.limits),
                                                     root_tmp, heartbeat))
        finally:
            shutil.rmtree(root_tmp, ignore_errors=True)
    if nesting.depth >= settings.limits.max_depth:
        return Scanned(asset, errors=(ScanError(READ, (
            f"archive nested {nesting.depth + 1} deep: over the limit of "
            f"{settings.limits.max_depth}, not opened")),))
    inner = dataclasses.replace(nesting, depth=nesting.depth + 1)
    try:
        return _scan(asset, scan_member, inner)
    finally:
        nesting.slots = inner.slots


def _scan(asset: Asset, scan_member: ScanMember, nesting: Nesting) -> Scanned:
    results: list[Scanned] = []
    errors: list[ScanError] = []
    folders: dict[str, str] = {}  # member folder -> its temporary folder
    kept: dict[int, str] = {}  # member's index -> copy kept (sidecars)

    def folder_of(name: str) -> str:
        parent = _parent(name)
        if parent not in folders:
            folders[parent] = nesting.slot()
        return folders[parent]

    try:
        with open_members(asset.fs_path, asset.media_type, nesting.budget,
                          name=os.path.basename(asset.path)) as entries:
            if isinstance(entries, list):  # random access: sidecars first
                for i in _sidecars(entries, folder_of):
                    copy = _keep(entries[i], folder_of(entries[i].name), nesting)
                    if copy:
                        kept[i] = copy
            for i, member in enumerate(entries):
                nesting.heartbeat()
                scanned = _member(asset, member, scan_member, nesting, folder_of, kept.get(i))
                if scanned is not None:
                    results.append(scanned)
    except ArchiveError as exc:
        errors.append(ScanError(READ, str(exc)))
    except READ_ERRORS as exc:
        errors.append(ScanError(READ, f"damaged archive: {type(exc).__name__}: {exc}"))
    if not results and not errors:
        asset = dataclasses.replace(asset, skip_reason="empty archive: nothing inside")
    return Scanned(asset, errors=tuple(errors), members=tuple(results))


def _parent(name: str) -> str:
    return name.replace("\\", "/").rstrip("/").rpartition("/")[0]


def _safe_name(name: str) -> str:
    """The member's own file name for its copy (extension kept: some readers go by it)."""
    base = name.replace("\\", "/").rstrip("/").rpartition("/")[2].replace("\0", "_")
    if base in ("", ".", ".."):
        base = "member"
    raw = os.fsencode(base)
    if len(raw) > 200:
        stem, ext = os.path.splitext(base)
        base = stem[:100] + ext[-50:]
    return base


def _sidecar_like(m: Member) -> bool:
    return (m.type == "file" and m.problem is None and m.size is not None
            and m.size <= SIDECAR_KEEP
            and os.path.splitext(m.name)[1].lower() in SIDECAR_EXTS)


def _sidecars(entries: list[Member], folder_of: Callable[[str], str]) -> list[int]:
    """The sidecar-like members to keep beside the others, by index. Of entries that would be
    copied to one place (a name stored twice) the last is kept, as an extractor leaves it; the
    earlier ones are each read from their own bytes, in a folder of their own, when their turn
    comes."""
    last: dict[str, int] = {}
    for i, m in enumerate(entries):
        if _sidecar_like(m):
            last[os.path.join(folder_of(m.name), _safe_name(m.name))] = i
    return sorted(last.values())


def _keep(m: Member, folder: str, nesting: Nesting) -> str | None:
    """Copy a sidecar-like member now; None when it cannot be (its own scan says why)."""
    dest = os.path.join(folder, _safe_name(m.name))
    if os.path.lexists(dest):
        return None
    try:
        _copy(m, dest, nesting)
    except READ_ERRORS:
        _remove(dest)
        return None
    return dest


def _copy(m: Member, dest: str, nesting: Nesting) -> tuple[int, str]:
    """Copy a member's bytes to ``dest`` (a new file), returning its size and SHA-256."""
    digest = hashlib.sha256()
    size = 0
    with m.open() as src, open(dest, "xb") as out:
        since = 0
        while True:
            chunk = src.read(COPY_CHUNK)
            if not chunk:
                break
            digest.update(chunk)
            out.write(chunk)
            size += len(chunk)
            since += len(chunk)
            if since >= 64 * COPY_CHUNK:
                nesting.heartbeat()  # a long copy is progress, not a hang
                since = 0
    return size, digest.hexdigest()


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _member(archive: Asset, m: Member, scan_member: ScanMember, nesting: Nesting,
            folder_of: Callable[[str], str], kept: str | None) -> Scanned | None:
    """One member scanned from its own bytes (``kept``: the copy made already, a sidecar)."""
    logical = f"{archive.path}!/{m.name}"
    base = Asset(path=logical, size=m.size or 0, mtime_ns=0, kind="other", container=archive.path,
                 notes=(m.note,) if m.note else ())
    if m.type == "dir":
        return None
    pattern = next((p for p in nesting.settings.excludes
                    if fnmatch.fnmatchcase(_safe_name(m.name), p)
                    or fnmatch.fnmatchcase(logical, p)), None)
    if pattern is not None:
        return Scanned(dataclasses.replace(base, media_type=EXCLUDED_TYPE, skip_reason=(
            f"excluded by --exclude {pattern!r} (not scanned)")))
    if m.type != "file":
        what = "symlink" if m.type == "link" else "special file"
        return Scanned(dataclasses.replace(base, media_type="inode/x-special", skip_reason=(
            f"{what} inside the archive: not followed")))
    if m.problem is not None:
        return _unread(base, m.problem)
    dest = kept
    sha: str | None = None
    if dest is not None:
        size = os.path.getsize(dest)
    else:
        dest = os.path.join(folder_of(m.name), _safe_name(m.name))
        if os.path.lexists(dest):  # two members with one name: a second folder
            dest = os.path.join(nesting.slot(), _safe_name(m.name))
        if m.compressed is not None:  # ZIP: a first look costs one small extra read
            try:
                with m.open() as fh:
                    head = fh.read(SNIFF_BYTES)
            except READ_ERRORS as exc:
                return _unread(base, f"cannot read: {_why(exc)}")
            kind, media_type = sniff(head)
            if kind == "other" and media_type == UNKNOWN:
                # bytes no format claims: nothing for a detector, no copy needed
                return Scanned(dataclasses.replace(base, media_type=UNKNOWN))
        try:
            size, sha = _copy(m, dest, nesting)
        except READ_ERRORS as exc:
            _remove(dest)
            return _unread(base, f"cannot read: {_why(exc)}")
    member = dataclasses.replace(base, size=size, kind="unknown", extracted=dest)
    try:
        scanned = scan_member(member, nesting)
    finally:
        if kept is None:
            _remove(dest)
    if sha is None:
        sha = _sha_of(dest) if os.path.exists(dest) else None
    return dataclasses.replace(scanned, sha256=sha) if sha else scanned


def _unread(base: Asset, why: str) -> Scanned:
    """A member whose bytes could not be read: an error, its kind guessed from its name (the
    only thing known about it), said so in a note."""
    named = registry.extensions().get(base.ext, ())
    kind = registry.kind_of(named[0]) if named else "other"
    media_type = named[0] if named else UNKNOWN
    notes = (f"kind from the name ({base.ext}): the content could not be read",) if named else ()
    return Scanned(dataclasses.replace(base, kind=kind, media_type=media_type,
                                       notes=base.notes + notes),
                   errors=(ScanError(READ, why),))


def _sha_of(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(COPY_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _why(exc: BaseException) -> str:
    if isinstance(exc, MemberError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def is_archive(asset: Asset) -> bool:
    return asset.kind == ARCHIVE
