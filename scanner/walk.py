"""The file walker: roots in, ``Asset`` records out, in a stable order.

It only stats; it never opens files (content sniffing happens in the worker that reads the
file anyway, so each byte is read once). It never follows symlinks unless asked, never touches
FIFOs, sockets or devices, and turns anything it cannot stat or list into an error record rather
than dropping it: a delivery check must not pass files it never saw. Nothing is dropped by
name: OS clutter is recognised by content in the pipeline, and ``--exclude`` matches are
yielded as skipped records, so every report lists every path that was not scanned.
"""

from __future__ import annotations

import fnmatch
import os
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from detectors import remote
from detectors.model import Asset
from detectors.remote import is_remote
from scanner.sequences import SAMPLED, sample_frames

EXCLUDED_TYPE = "inode/x-excluded"


@dataclass
class WalkStats:
    excluded: int = 0
    warnings: list[str] = field(default_factory=list)


def _special_reason(mode: int) -> str | None:
    if stat.S_ISFIFO(mode):
        return "FIFO (named pipe): not opened"
    if stat.S_ISSOCK(mode):
        return "socket: not opened"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device file: not opened"
    return None


def _excluded(path: str, name: str, patterns: tuple[str, ...]) -> str | None:
    """The first pattern that excludes ``path``, or None."""
    return next((p for p in patterns
                 if fnmatch.fnmatchcase(name, p) or fnmatch.fnmatchcase(path, p)), None)


def _sort_key(entry: os.DirEntry[str]) -> bytes:
    return os.fsencode(entry.name)


class Walker:
    def __init__(self, excludes: tuple[str, ...] = (), follow_symlinks: bool = False,
                 sequence_sample: int = 1,
                 on_folder: Callable[[str, list[str]], None] | None = None) -> None:
        self.excludes = tuple(excludes)
        self.follow = follow_symlinks
        self.sample = sequence_sample  # check one frame in N of each image sequence
        self.on_folder = on_folder  # told each folder's names as it is listed (packages)
        self.stats = WalkStats()

    def walk(self, roots: list[str]) -> Iterator[Asset]:
        for root in roots:
            yield from self._root(root)

    def _root(self, root: str) -> Iterator[Asset]:
        if is_remote(root):
            yield from self._remote(root)
            return
        # A root named on the command line is the user's explicit choice: follow it.
        try:
            st = os.stat(root)
        except OSError as exc:
            yield _error(root, f"cannot stat: {exc.strerror or exc}")
            return
        if stat.S_ISDIR(st.st_mode):
            yield from self._dir(root, {(st.st_dev, st.st_ino)})
        else:
            yield from self._file(root, st)

    def _dir(self, path: str, ancestors: set[tuple[int, int]]) -> Iterator[Asset]:
        try:
            with os.scandir(path) as it:
                entries = sorted(it, key=_sort_key)
        except OSError as exc:
            yield _error(path, f"cannot list directory: {exc.strerror or exc}")
            return
        if self.on_folder is not None:
            self.on_folder(path, [e.name for e in entries])
        left_out = sample_frames([e.name for e in entries], self.sample) if self.sample > 1 \
            else set()
        for entry in entries:
            child = entry.path
            if entry.name in left_out and not entry.is_dir(follow_symlinks=False):
                yield Asset(path=child, size=0, mtime_ns=0, kind="image",
                            skip_reason=SAMPLED.format(n=self.sample))
                continue
            pattern = _excluded(child, entry.name, self.excludes) if self.excludes else None
            if pattern is not None:
                self.stats.excluded += 1
                yield Asset(path=child, size=0, mtime_ns=0, kind="other",
                            media_type=EXCLUDED_TYPE,
                            skip_reason=f"excluded by --exclude {pattern!r} (not scanned)")
                continue
            try:
                lst = entry.stat(follow_symlinks=False)
            except OSError as exc:
                yield _error(child, f"cannot stat: {exc.strerror or exc}")
                continue
            if stat.S_ISLNK(lst.st_mode):
                if not self.follow:
                    yield _skipped(child, lst, "symlink: not followed (use --follow-symlinks)")
                    continue
                try:
                    st = os.stat(child)
                except OSError as exc:
                    yield _error(child, f"dangling or unreadable symlink: {exc.strerror or exc}")
                    continue
            else:
                st = lst
            if stat.S_ISDIR(st.st_mode):
                key = (st.st_dev, st.st_ino)
                if key in ancestors:
                    yield _skipped(child, st, "symlink loop: directory already on this path")
                    continue
                yield from self._dir(child, ancestors | {key})
            else:
                yield from self._file(child, st)

    def _remote(self, root: str) -> Iterator[Asset]:
        """An object-store root (``s3://bucket/prefix``): the store's own listing, folder by
        folder in name order like a disk walk (memory bounded by one folder's listing)."""
        try:
            fs = remote.filesystem(root)
            top = dict(fs.info(root))
        except FileNotFoundError:
            yield _error(root, "no such object or prefix")
            return
        except Exception as exc:  # noqa: BLE001 - each backend raises its own types
            yield _error(root, f"cannot list: {type(exc).__name__}: {exc}")
            return
        proto = remote.scheme(root) or ""
        if top.get("type") != "directory":
            yield self._object(root, top)
            return
        yield from self._remote_dir(fs, proto, root.rstrip("/"))

    def _remote_dir(self, fs: Any, proto: str, folder: str) -> Iterator[Asset]:
        try:
            entries = sorted(fs.ls(folder, detail=True), key=lambda e: str(e["name"]))
        except Exception as exc:  # noqa: BLE001
            yield _error(folder, f"cannot list: {type(exc).__name__}: {exc}")
            return
        for entry in entries:  # in name order, a folder walked where it sorts (as on disk)
            name = str(entry["name"]).rstrip("/")
            url = name if remote.scheme(name) else f"{proto}://{name}"
            if url.rstrip("/") == folder:
                continue  # some stores list the prefix itself
            base = url.rsplit("/", 1)[-1]
            pattern = _excluded(url, base, self.excludes) if self.excludes else None
            if pattern is not None:
                self.stats.excluded += 1
                yield Asset(path=url, size=0, mtime_ns=0, kind="other",
                            media_type=EXCLUDED_TYPE,
                            skip_reason=f"excluded by --exclude {pattern!r} (not scanned)")
            elif entry.get("type") == "directory":
                yield from self._remote_dir(fs, proto, url)
            else:
                yield self._object(url, entry)

    def _object(self, url: str, entry: dict[str, Any]) -> Asset:
        dev, ino, mtime, ctime = remote.identity(url, entry)
        return Asset(path=url, size=int(entry.get("size") or 0), mtime_ns=mtime, kind="unknown",
                     dev=dev, inode=ino, ctime_ns=ctime)

    def _file(self, path: str, st: os.stat_result) -> Iterator[Asset]:
        reason = _special_reason(st.st_mode)
        if reason:
            yield _skipped(path, st, reason)
        elif not stat.S_ISREG(st.st_mode):
            yield _skipped(path, st, f"not a regular file ({stat.filemode(st.st_mode)})")
        else:
            yield Asset(path=path, size=st.st_size, mtime_ns=st.st_mtime_ns, kind="unknown",
                        dev=st.st_dev, inode=st.st_ino, ctime_ns=st.st_ctime_ns)


def _skipped(path: str, st: os.stat_result, reason: str) -> Asset:
    return Asset(path=path, size=0, mtime_ns=st.st_mtime_ns, kind="other",
                 media_type="inode/x-special", skip_reason=reason)


def _error(path: str, reason: str) -> Asset:
    return Asset(path=path, size=0, mtime_ns=0, kind="other", media_type="inode/x-unreadable",
                 walk_error=reason)
