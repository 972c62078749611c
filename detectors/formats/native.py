"""Plumbing shared by the format walkers: bounded random access to one file (the one reader
all of them use), a collector for what they find, and bounded text/zlib helpers.

Why our own plumbing instead of Pillow/mutagen: the readers must *seek over* essence (IDAT, mdat,
``data``) and stop at fixed budgets on hostile files; a library that decodes or reads ahead cannot
promise either. Every reader takes a :class:`Source` and a :class:`Collector` and never raises for
a malformed structure: it records a *problem* (the file could not be read completely, so the asset
must not pass as clean) and keeps what it found before.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from detectors.model import Field

# Total bytes a native reader may pull from one file (metadata, never essence). Generous because
# XMP packets and ComfyUI workflows can reach megabytes; a file that needs more is an error.
READ_BUDGET = 64 * 1024 * 1024
# Structure units (chunks, boxes, segments, IFD entries, GIF blocks) one walk may visit.
MAX_UNITS = 200_000
# Largest single metadata value a walker reads whole (an XMP packet, an ID3 tag).
VALUE_LIMIT = 16 * 1024 * 1024
_MIN_WINDOW = 512  # first read-ahead of a dense run (doubles up to _MAX_WINDOW)
_MAX_WINDOW = 64 * 1024  # so a walk that stops reads at most this much it did not need
_ADJACENT = 64  # a read starting this close after the buffer continues a dense walk
_SMALL = 256  # only header-sized reads trigger read-ahead; larger ones are read exactly
# Largest single metadata value we inflate or keep (a zTXt bomb stops here).
INFLATE_LIMIT = 16 * 1024 * 1024
# Everything one file may inflate (64 small zTXt bombs must not make 1 GiB of text).
INFLATE_TOTAL = 64 * 1024 * 1024
_INFLATE_PIECE = 64 * 1024
# What one file's readers may produce (a 64 KiB TIFF whose IFDs all point at the same 60 KiB
# string must not become gigabytes of fields; an XMP packet with 1-MiB namespace URIs neither).
MAX_FIELDS = 250_000
TEXT_BUDGET = 128 * 1024 * 1024
KEY_LIMIT = 1024
MAX_MESSAGES = 200
MESSAGE_LIMIT = 2000


class FormatError(Exception):
    """A structure could not be read (truncated, inconsistent, over a bound)."""


class Source:
    """Bounded random access to one file: the one reader every format walker uses (metadata
    readers and C2PA-carrier visitors alike).

    Reads inside ``head`` (the pipeline's first 64 KiB) cost nothing; the file is opened lazily
    through ``opener`` only when a walker needs bytes beyond it. A small read that continues where
    the last one ended (a dense run of chunk headers) reads ahead through a window that doubles
    up to 64 KiB; any other read (after a jump over essence, or a large value) reads exactly what
    was asked, so a walk costs few system calls and never reads essence it skips. ``bytes_read`` counts what
    came from the file, so tests can prove that essence was skipped; ``budget`` bounds it and
    ``max_units`` bounds the structure units (chunks, boxes, IFD entries) a walk may ``tick``.
    A file whose size changed since it was listed is refused.
    """

    def __init__(self, size: int, head: bytes = b"", opener: Callable[[], BinaryIO] | None = None,
                 budget: int = READ_BUDGET, max_units: int = MAX_UNITS) -> None:
        self.size = size
        self.head = head
        self._opener = opener
        self._fh: BinaryIO | None = None
        self.budget = budget
        self.bytes_read = 0
        self.max_units = max_units
        self.units = 0
        self._buf = b""
        self._at = 0
        self._window = _MIN_WINDOW // 2

    @classmethod
    def from_bytes(cls, data: bytes) -> Source:
        return cls(len(data), data)

    def tick(self, n: int = 1, what: str = "structure units") -> None:
        """Count ``n`` structure units walked; past ``max_units`` the walk stops."""
        self.units += n
        if self.units > self.max_units:
            raise FormatError(f"more than {self.max_units} {what}")

    def read(self, offset: int, n: int) -> bytes:
        """Up to ``n`` bytes at ``offset`` (short only at end of file)."""
        if offset < 0 or n < 0:
            raise FormatError(f"negative read at {offset}")
        n = max(0, min(n, self.size - offset))
        if n == 0:
            return b""
        end = offset + n
        if end <= len(self.head):
            return self.head[offset:end]
        rel = offset - self._at
        if 0 <= rel and rel + n <= len(self._buf):
            return self._buf[rel:rel + n]
        if n < _SMALL and self._buf and 0 <= rel <= len(self._buf) + _ADJACENT:
            # a small read where the last one ended (a dense run of chunk headers): read ahead
            self._window = min(self._window * 2, _MAX_WINDOW)
            want = min(max(n, self._window), self.size - offset)
        else:
            # a jump over essence: read just what was asked, never what was skipped
            self._window = _MIN_WINDOW // 2
            want = n
        if self.bytes_read + want > self.budget:
            want = n
            if self.bytes_read + n > self.budget:
                raise FormatError(f"metadata read budget of {self.budget} bytes exceeded")
        self._buf = self._pread(offset, want)
        self._at = offset
        self.bytes_read += len(self._buf)
        return self._buf[:n]

    def _pread(self, offset: int, n: int) -> bytes:
        if self._fh is None:
            if self._opener is None:
                raise FormatError(f"read past end of data at {offset}")
            self._fh = self._opener()
            try:
                fileno = self._fh.fileno()
            except (AttributeError, OSError, ValueError):
                fileno = -1
            if fileno >= 0 and os.fstat(fileno).st_size != self.size:
                raise FormatError("the file changed size since it was listed")
        try:
            return os.pread(self._fh.fileno(), n, offset)
        except (AttributeError, OSError, ValueError):  # an in-memory file (tests, fuzzing)
            self._fh.seek(offset)
            return self._fh.read(n)

    def exact(self, offset: int, n: int, what: str) -> bytes:
        """Exactly ``n`` bytes or :class:`FormatError` naming ``what`` was truncated."""
        data = self.read(offset, n)
        if len(data) != n:
            raise FormatError(f"{what} truncated at offset {offset} (needs {n} bytes, "
                              f"file ends at {self.size})")
        return data

    def value(self, offset: int, n: int, what: str, limit: int = VALUE_LIMIT) -> bytes:
        """A metadata value of ``n`` bytes, refused past ``limit``."""
        if n > limit:
            raise FormatError(f"{what} of {n} bytes at {hexoff(offset)} is over the "
                              f"{limit}-byte limit")
        return self.exact(offset, n, what)

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


@dataclass
class Collector:
    """What a reader found: fields, problems (incomplete read) and notes (qualified 'no's).

    Bounded whatever the input: at most ``MAX_FIELDS`` fields and ``TEXT_BUDGET`` characters
    of keys, values and locations (:meth:`add` raises :class:`FormatError` past them, which
    ends the walk as a problem), ``MAX_MESSAGES`` problems and notes of at most
    ``MESSAGE_LIMIT`` characters; keys and locations are cut at ``KEY_LIMIT`` characters.
    """

    fields: list[Field] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # Parsed structures other code may want (e.g. PNG IHDR for the stealth reader).
    facts: dict[str, Any] = field(default_factory=dict)
    # What ``inflate`` may still produce for this file.
    inflate_left: int = INFLATE_TOTAL
    # Characters of keys, values and locations this file may still produce.
    text_left: int = TEXT_BUDGET

    def add(self, key: str, value: str, location: str) -> None:
        if value is None:
            return
        cost = len(key) + len(value) + len(location)
        if len(self.fields) >= MAX_FIELDS:
            raise FormatError(f"more than {MAX_FIELDS} metadata fields")
        if cost > self.text_left:
            raise FormatError(f"more than {TEXT_BUDGET} characters of metadata")
        self.text_left -= cost
        self.fields.append(Field(_cut(key, KEY_LIMIT), value, _cut(location, KEY_LIMIT)))

    def problem(self, text: str) -> None:
        _message(self.problems, text)

    def note(self, text: str) -> None:
        _message(self.notes, text)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else f"{text[:limit]}… [{len(text) - limit} more chars]"


def _message(messages: list[str], text: str) -> None:
    """Append a problem/note once; a flood of them ends in one 'more omitted' line."""
    if len(messages) > MAX_MESSAGES:
        return
    text = _cut(text, MESSAGE_LIMIT)
    if len(messages) == MAX_MESSAGES:
        messages.append(f"more than {MAX_MESSAGES} messages; the rest omitted")
    elif text not in messages:
        messages.append(text)


def inflate(data: bytes, limit: int = INFLATE_LIMIT, wbits: int = zlib.MAX_WBITS,
            out: Collector | None = None) -> tuple[bytes, bool]:
    """Decompress at most ``limit`` bytes (and at most what is left of ``out``'s per-file
    budget); returns (data, complete). Never expands a bomb, never raises: a corrupt stream
    gives what inflated before the damage and ``complete`` False."""
    if out is not None:
        limit = min(limit, out.inflate_left)
    d = zlib.decompressobj(wbits)
    buf = bytearray()
    pos = 0
    pending = b""
    try:
        while not d.eof and len(buf) < limit:
            if not pending:
                if pos >= len(data):
                    break
                pending = data[pos:pos + _INFLATE_PIECE]
                pos += _INFLATE_PIECE
            buf += d.decompress(pending, limit - len(buf))
            pending = d.unconsumed_tail
    except zlib.error:
        pass
    if out is not None:
        out.inflate_left -= len(buf)
    return bytes(buf), d.eof


def latin1(data: bytes) -> str:
    return data.decode("latin-1")


def utf8(data: bytes) -> str:
    return data.decode("utf-8", "replace")


def text(data: bytes) -> str:
    """Decode text of unknown encoding: UTF-8 when valid (most writers), else Latin-1."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def strip_nul(value: str) -> str:
    return value.split("\x00", 1)[0] if "\x00" in value else value


def hexoff(offset: int) -> str:
    return f"0x{offset:x}"
