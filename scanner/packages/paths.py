"""Turning an ASSETMAP ``Path`` (a URI, ST 429-9 Annex A) into a file inside the package root.

Why so strict: the ASSETMAP is data from the delivery, and a path in it is an instruction to
read a file. Nothing it names may lead outside the package root: absolute paths, ``..`` that
climbs out, remote or absolute ``file:`` URIs and symlinks pointing outside are problems, and
the file is not touched. Percent-encoding is decoded per segment so ``%2F`` cannot smuggle a
separator and ``%2e%2e`` is just ``..``.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from .problems import ERROR, WARNING, Problem


@dataclass(frozen=True)
class Resolved:
    """``rel`` is the POSIX path relative to the package root that the scanner sees for this
    asset (a symlink inside the root resolves to its target), or None when refused."""

    rel: str | None
    problem: Problem | None = None


def _refuse(code: str, message: str, uri: str, asset_id: str | None) -> Resolved:
    return Resolved(None, Problem(ERROR, code, f"{message}: {uri!r} (not followed)",
                                  None, asset_id))


def _within(path: str, root_real: str) -> bool:
    return path == root_real or path.startswith(root_real.rstrip(os.sep) + os.sep)


def resolve_uri(root: str, uri: str, asset_id: str | None = None) -> Resolved:
    """Resolve ``uri`` against the package ``root`` (a directory path) without following any
    symlink out of it. Only stats, never opens."""
    raw = uri.strip()
    if not raw:
        return _refuse("imf.path.invalid", "empty Path", uri, asset_id)
    if any(ord(c) < 0x20 or c == "\x7f" for c in raw):
        return _refuse("imf.path.invalid", "control character in Path", uri, asset_id)
    if "\\" in raw:
        return _refuse("imf.path.invalid", "backslash in Path (a URI uses '/')", uri, asset_id)
    parts = urlsplit(raw)
    if parts.scheme:
        if len(parts.scheme) == 1:
            return _refuse("imf.path.absolute", "absolute (drive-letter) path", uri, asset_id)
        if parts.scheme.lower() != "file":
            return _refuse("imf.path.remote", f"{parts.scheme}: URI (only paths inside the "
                           "package are read)", uri, asset_id)
        if parts.netloc or parts.path.startswith("/"):
            return _refuse("imf.path.absolute", "absolute file: URI", uri, asset_id)
    elif parts.netloc:
        return _refuse("imf.path.absolute", "network-path reference", uri, asset_id)
    if parts.query or parts.fragment:
        return _refuse("imf.path.invalid", "query or fragment in Path ('?' and '#' in a file "
                       "name must be percent-encoded)", uri, asset_id)
    if parts.path.startswith("/"):
        return _refuse("imf.path.absolute", "absolute path", uri, asset_id)
    segments: list[str] = []
    for encoded in parts.path.split("/"):
        try:
            segment = unquote(encoded, errors="strict")
        except UnicodeDecodeError:
            return _refuse("imf.path.invalid", "percent-encoding is not UTF-8", uri, asset_id)
        if "/" in segment or "\x00" in segment or "\\" in segment:
            return _refuse("imf.path.invalid", "encoded separator or NUL in a Path segment",
                           uri, asset_id)
        if segment in ("", "."):
            continue
        if segment == "..":
            if not segments:
                return _refuse("imf.path.escapes", "Path leads outside the package root",
                               uri, asset_id)
            segments.pop()
            continue
        segments.append(segment)
    if not segments:
        return _refuse("imf.path.invalid", "Path names the package root itself", uri, asset_id)
    return _check_links(root, segments, uri, asset_id)


def _check_links(root: str, segments: list[str], uri: str, asset_id: str | None) -> Resolved:
    """Walk the components with lstat: a symlink whose target leaves the root is refused; one
    that stays inside resolves to its target (the scanner walks targets, not links)."""
    root_real = os.path.realpath(root)
    current = root
    link_seen: str | None = None
    for depth, segment in enumerate(segments, 1):
        current = os.path.join(current, segment)
        try:
            st = os.lstat(current)
        except OSError:
            break  # missing: reported by the presence check, with the path as listed
        if stat.S_ISLNK(st.st_mode):
            target = os.path.realpath(current)
            if not _within(target, root_real):
                return _refuse("imf.path.symlink-escapes",
                               "symlink in Path points outside the package root", uri, asset_id)
            link_seen = "/".join(segments[:depth])
    rel = "/".join(segments)
    if link_seen is None:
        return Resolved(rel)
    real = os.path.realpath(os.path.join(root, *segments))
    if not _within(real, root_real):
        return _refuse("imf.path.symlink-escapes", "symlink in Path points outside the "
                       "package root", uri, asset_id)
    target_rel = os.path.relpath(real, root_real).replace(os.sep, "/")
    return Resolved(target_rel, Problem(
        WARNING, "imf.path.symlink", f"Path {uri!r} goes through the symlink {link_seen!r}; "
        f"the asset is taken to be its target {target_rel!r} (the walker does not follow "
        "symlinks)", target_rel, asset_id))
