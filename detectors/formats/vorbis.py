"""Vorbis comments → ``vorbis:<key>`` fields (key lower-cased): the comment structure FLAC
(``flac.py``) and Ogg (``ogg.py``) both carry."""

from __future__ import annotations

import struct

from detectors.formats.native import Collector, utf8

MAX_COMMENTS = 100_000
_SKIP_KEYS = {"metadata_block_picture", "coverart"}


def parse_comments(data: bytes, where: str, out: Collector) -> None:
    """A Vorbis comment structure: vendor string, then ``KEY=value`` entries (little-endian)."""
    try:
        (vlen,) = struct.unpack_from("<I", data, 0)
        p = 4 + vlen
        (count,) = struct.unpack_from("<I", data, p)
        p += 4
    except struct.error:
        out.problem(f"{where}: truncated Vorbis comment header")
        return
    if p > len(data) or count > MAX_COMMENTS:
        out.problem(f"{where}: Vorbis comment header is inconsistent")
        return
    for i in range(count):
        if p + 4 > len(data):
            out.problem(f"{where}: Vorbis comment list truncated at entry {i}")
            return
        (n,) = struct.unpack_from("<I", data, p)
        p += 4
        if p + n > len(data):
            out.problem(f"{where}: Vorbis comment entry {i} runs past its block")
            return
        entry = utf8(data[p:p + n])
        p += n
        key, sep, value = entry.partition("=")
        if not sep or key.lower() in _SKIP_KEYS:
            continue
        out.add(f"vorbis:{key.lower()}", value, f"{where} entry {i} '{key}'")
