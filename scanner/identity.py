"""What, besides a file's own bytes, a cached result stands on: its name and its neighbours.

The incremental cache knows a file by (device, inode, size, mtime, ctime). That is not enough:

- a result depends on the file's *name* (a detector applies by extension; hard links give one
  inode two names, ``a_reel.mov`` and ``z_copy.bin``);
- it depends on *sidecars* beside it (``shot.xmp``, ``shot.c2pa``, ``shot.json``,
  ``shot.jpg.xmp``...): one added, removed or edited next to an unchanged file changes its
  verdict;
- on some file systems ctime is not a change time the kernel keeps (FAT and exFAT keep none:
  the driver reports the modification time, so an edit with the mtime set back looks
  unchanged; FUSE daemons report what they like), so the stat key cannot prove a file
  unchanged there at all.

``context`` digests the first two: the absolute path, and the names and stat of every file in
the same folder named as the file's stem followed by ``.`` or ``_`` (a superset of every
sidecar naming a detector uses, so no detector's naming has to be known here). ``trusted`` answers the
third from the mount table. A cached entry is served only when both still hold.
"""

from __future__ import annotations

import bisect
import collections
import hashlib
import os
import stat
from typing import Any

from detectors.model import Asset
from detectors.remote import filesystem, is_remote

# File systems whose ctime cannot show that a file was written (see the module docstring).
UNTRUSTED_FS = frozenset({"vfat", "msdos", "fat", "exfat", "fuseblk", "fuse", "ntfs",
                          "ntfs3", "udf", "iso9660"})


def _untrusted(fstype: str) -> bool:
    return fstype in UNTRUSTED_FS or fstype.startswith("fuse.")


def mounts(text: str) -> list[tuple[str, str]]:
    """(mount point, file system type) of each line of ``/proc/self/mountinfo``."""
    out = []
    for line in text.splitlines():
        left, sep, right = line.partition(" - ")
        fields = left.split()
        if not sep or len(fields) < 5 or not right.split():
            continue
        point = fields[4].replace("\\040", " ").replace("\\011", "\t").replace("\\134", "\\")
        out.append((point, right.split()[0]))
    return out


def _mount_table() -> list[tuple[str, str]] | None:
    try:
        with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as fh:
            return mounts(fh.read())
    except OSError:
        return None  # not Linux: every file system is taken to keep change times


def fstype_of(path: str, table: list[tuple[str, str]]) -> str:
    """The type of the file system ``path`` is on: the longest mount point containing it."""
    real = os.path.realpath(path)
    best, kind = "", ""
    for point, fstype in table:
        inside = real == point or real.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(best):
            best, kind = point, fstype
    return kind


class Identity:
    """Per scan: which devices the cache may trust, and the context digest of each file."""

    def __init__(self, table: list[tuple[str, str]] | None = None) -> None:
        self._table = table if table is not None else _mount_table()
        self._devices: dict[int, str | None] = {}  # dev -> None (trusted) or a reason
        self._listings: collections.OrderedDict[str, tuple[int, list[str]]] = \
            collections.OrderedDict()
        self.untrusted: dict[str, str] = {}  # reason -> an example path, for the report

    def trusted(self, asset: Asset) -> bool:
        """Whether the stat key can show this file unchanged (remote objects: their ETag or
        version stands in for ctime, see ``detectors.remote.identity``)."""
        if is_remote(asset.path) or self._table is None:
            return True
        if asset.dev not in self._devices:
            kind = fstype_of(os.path.dirname(asset.path) or ".", self._table)
            self._devices[asset.dev] = (
                f"{kind} file system: it keeps no change time, so an edited file cannot be "
                "told from an unchanged one" if _untrusted(kind) else None)
        reason = self._devices[asset.dev]
        if reason is not None:
            self.untrusted.setdefault(reason, asset.path)
        return reason is None

    def context(self, asset: Asset) -> str:
        """Digest of the absolute path and the stat of the file's namesakes in its folder."""
        return self.contexts([asset], fresh=True)[0]

    def contexts(self, assets: list[Asset], fresh: bool = False) -> list[str]:
        """``context`` of each asset, the folder's listing and absolute path worked out once
        per folder of the batch (a warm rescan does this for every file). ``fresh``: list
        the folder again if it changed since it was last listed (one stat of the folder)."""
        folders: dict[str, tuple[Any, list[str] | None, str]] = {}
        out = []
        for a in assets:
            folder, name = os.path.split(a.path)
            known = folders.get(folder)
            if known is None:
                where = folder if is_remote(a.path) else os.path.abspath(folder or ".")
                base = hashlib.sha256(os.fsencode(where))
                known = folders[folder] = (base, self._listing(where, fresh), where)
            base, names, where = known
            h = base.copy()
            h.update(b"/" + os.fsencode(name))
            stem = os.path.splitext(name)[0] or name
            for other, sig in self._namesakes(names, where, stem, name):
                h.update(b"\0" + os.fsencode(other) + b"\0" + sig.encode())
            out.append(h.hexdigest()[:20])
        return out

    def _namesakes(self, names: list[str] | None, folder: str, stem: str,
                   name: str) -> list[tuple[str, str]]:
        """Every other name in the folder that is the stem followed by ``.`` or ``_`` (how
        sidecars are named: ``shot.xmp``, ``shot.jpg.xmp``, ``shot_api.json``), with its
        stat signature."""
        if names is None:
            return [("?", "unlistable")]  # a folder that cannot be listed never matches
        out = []
        for prefix in (stem + ".", stem + "_"):
            for other in names[bisect.bisect_left(names, prefix):]:
                if not other.startswith(prefix):
                    break
                if other != name:
                    out.append((other, self._signature(folder, other)))
        return out

    def _listing(self, folder: str, fresh: bool) -> list[str] | None:
        """Sorted names of ``folder``. A batch of lookups follows the walk that just listed
        the folder, so a kept listing serves it; ``fresh`` checks the folder's mtime first
        (what a store does: it must see a sidecar added while the file was read)."""
        hit = self._listings.get(folder)
        key_time = 0
        if fresh and not is_remote(folder):
            try:
                key_time = os.stat(folder).st_mtime_ns
            except OSError:
                return None
        if hit is not None and (not fresh or hit[0] == key_time):
            self._listings.move_to_end(folder)
            return hit[1]
        try:
            if is_remote(folder):
                names = sorted(p.rstrip("/").rsplit("/", 1)[-1]
                               for p in filesystem(folder).ls(folder, detail=False))
            else:
                key_time = os.stat(folder).st_mtime_ns
                names = sorted(os.listdir(folder))
        except Exception:  # noqa: BLE001 - any backend's failure: no listing, no match
            return None
        self._listings[folder] = (key_time, names)
        while len(self._listings) > 16:
            self._listings.popitem(last=False)
        return names

    @staticmethod
    def _signature(folder: str, name: str) -> str:
        path = f"{folder}/{name}"
        if is_remote(path):
            try:
                entry = filesystem(path).info(path)
            except Exception:  # noqa: BLE001
                return "unreadable"
            return "|".join(str(entry.get(k, "")) for k in (
                "size", "ETag", "etag", "VersionId", "LastModified", "mtime", "updated"))
        try:
            st = os.stat(path, follow_symlinks=False)
        except OSError:
            return "unreadable"
        kind = "d" if stat.S_ISDIR(st.st_mode) else "f"
        return f"{kind}:{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}:{st.st_ino}"
