"""Files in object stores (``s3://bucket/key``, ``gs://``, ``az://``, ``memory://``...), read in
place through fsspec: ranged reads of what the readers ask for (the head, trailing boxes, a C2PA
store), never a whole download unless a reader needs a local file (ExifTool, pixel decoders:
``Detector.needs_path``), and then a bounded temporary copy made by the scanner.

fsspec (and s3fs, gcsfs, adlfs for each store) is optional: ``pip install deliverscan[s3]``.
Credentials come only from each backend's standard environment and configuration files; they
are never read, kept or reported by deliverscan.
"""

from __future__ import annotations

import collections
import hashlib
import re
import zlib
from typing import Any

_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*)://")
BLOCK = 256 * 1024  # bytes per ranged read (a header, a box, a chunk of a store)
_FILESYSTEMS: dict[str, Any] = {}
_LISTINGS: collections.OrderedDict[str, frozenset[str] | None] = collections.OrderedDict()


def scheme(path: str) -> str | None:
    m = _SCHEME.match(path)
    return m.group(1).lower() if m else None


def is_remote(path: str) -> bool:
    """A URL of a store fsspec reads (``file://`` is a local path, see ``local_path``)."""
    s = scheme(path)
    return s is not None and s != "file"


def local_path(path: str) -> str:
    """``file:///a/b`` as ``/a/b``; anything else unchanged."""
    return path[len("file://"):] if scheme(path) == "file" else path


def filesystem(url: str) -> Any:
    """The fsspec filesystem serving ``url`` (one per protocol and process)."""
    proto = scheme(url) or "file"
    if proto not in _FILESYSTEMS:
        try:
            import fsspec
        except ImportError:
            raise OSError(f"{url}: reading {proto}:// needs fsspec (pip install "
                          "deliverscan[s3])") from None
        try:
            _FILESYSTEMS[proto] = fsspec.filesystem(proto)
        except (ImportError, ValueError) as exc:
            raise OSError(f"{url}: no fsspec backend for {proto}:// ({exc})") from None
    return _FILESYSTEMS[proto]


def open_remote(url: str) -> Any:
    """A read-only, seekable file object over ``url`` (ranged reads, a small read-ahead)."""
    fs = filesystem(url)
    try:
        return fs.open(url, "rb", block_size=BLOCK, cache_type="readahead")
    except FileNotFoundError:
        raise
    except Exception as exc:  # noqa: BLE001 - each backend raises its own types
        raise OSError(f"{url}: cannot open: {type(exc).__name__}: {exc}") from None


def info(url: str) -> dict[str, Any]:
    fs = filesystem(url)
    try:
        return dict(fs.info(url))
    except FileNotFoundError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise OSError(f"{url}: {type(exc).__name__}: {exc}") from None


def names(folder: str) -> frozenset[str] | None:
    """Names in a remote folder (sidecar lookups), cached for the process's recent folders."""
    if folder in _LISTINGS:
        _LISTINGS.move_to_end(folder)
        return _LISTINGS[folder]
    try:
        fs = filesystem(folder)
        listing: frozenset[str] | None = frozenset(
            p.rstrip("/").rsplit("/", 1)[-1] for p in fs.ls(folder, detail=False))
    except Exception:  # noqa: BLE001 - no listing: every sidecar name is then asked for
        listing = None
    _LISTINGS[folder] = listing
    while len(_LISTINGS) > 8:
        _LISTINGS.popitem(last=False)
    return listing


def identity(url: str, entry: dict[str, Any]) -> tuple[int, int, int, int]:
    """(device, inode, mtime_ns, ctime_ns) standing in for a local file's identity in the
    incremental cache: the store (device), the key (inode), the modification time, and the
    ETag / version id / checksum (as ``ctime``: it changes with every write of the object)."""
    proto = scheme(url) or ""
    head = url[len(proto) + 3:].split("/", 1)[0]
    dev = (zlib.crc32(f"{proto}://{head}".encode()) | 1 << 40)
    ino = int(hashlib.sha1(url.encode("utf-8", "surrogatepass")).hexdigest()[:15], 16)
    mtime = _mtime_ns(entry)
    tag = "|".join(str(entry.get(k, "")) for k in ("ETag", "etag", "VersionId", "version_id",
                                                    "md5Hash", "crc32c", "mtime", "size"))
    ctime = int(hashlib.sha1(tag.encode()).hexdigest()[:15], 16)
    return dev, ino, mtime, ctime


def _mtime_ns(entry: dict[str, Any]) -> int:
    for key in ("LastModified", "last_modified", "mtime", "updated", "created"):
        value = entry.get(key)
        if value is None:
            continue
        if hasattr(value, "timestamp"):
            return int(value.timestamp() * 1e9)
        try:
            return int(float(value) * 1e9)
        except (TypeError, ValueError):
            continue
    return 0
