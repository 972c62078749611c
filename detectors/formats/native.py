"""Plumbing shared by the native metadata readers: bounded random access to one file, a collector
for what they find, and bounded text/zlib helpers.

Why our own plumbing instead of Pillow/mutagen: the readers must *seek over* essence (IDAT, mdat,
``data``) and stop at fixed budgets on hostile files; a library that decodes or reads ahead cannot
promise either. Every reader takes a :class:`Source` and a :class:`Collector` and never raises for
a malformed structure: it records a *problem* (the file could not be read completely, so the asset
must not pass as clean) and keeps what it found before.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from detectors.formats.fields import Field

# Total bytes a native reader may pull from one file (metadata, never essence). Generous because
# XMP packets and ComfyUI workflows can reach megabytes; a file that needs more is an error.
READ_BUDGET = 64 * 1024 * 1024
# Largest single metadata value we inflate or keep (a zTXt bomb stops here).
INFLATE_LIMIT = 16 * 1024 * 1024


class FormatError(Exception):
    """A structure could not be read (truncated, inconsistent, over a bound)."""


class Source:
    """Bounded random access to one file.

    Reads inside ``head`` (the pipeline's first 64 KiB) cost nothing; the file is opened lazily
    through ``opener`` only when a reader needs bytes beyond it. ``bytes_read`` counts what came
    from the file, so tests can prove that essence was skipped.
    """

    def __init__(self, size: int, head: bytes = b"", opener: Callable[[], BinaryIO] | None = None,
                 budget: int = READ_BUDGET) -> None:
        self.size = size
        self.head = head
        self._opener = opener
        self._fh: BinaryIO | None = None
        self.budget = budget
        self.bytes_read = 0

    @classmethod
    def from_bytes(cls, data: bytes) -> Source:
        return cls(len(data), data)

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
        if self.bytes_read + n > self.budget:
            raise FormatError(f"metadata read budget of {self.budget} bytes exceeded")
        if self._fh is None:
            if self._opener is None:
                raise FormatError(f"read past end of data at {offset}")
            self._fh = self._opener()
        self._fh.seek(offset)
        data = self._fh.read(n)
        self.bytes_read += len(data)
        return data

    def exact(self, offset: int, n: int, what: str) -> bytes:
        """Exactly ``n`` bytes or :class:`FormatError` naming ``what`` was truncated."""
        data = self.read(offset, n)
        if len(data) != n:
            raise FormatError(f"{what} truncated at offset {offset} (needs {n} bytes, "
                              f"file ends at {self.size})")
        return data

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


@dataclass
class Collector:
    """What a reader found: fields, problems (incomplete read) and notes (qualified 'no's)."""

    fields: list[Field] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # Parsed structures other code may want (e.g. PNG IHDR for the stealth reader).
    facts: dict[str, Any] = field(default_factory=dict)

    def add(self, key: str, value: str, location: str) -> None:
        if value is None:
            return
        self.fields.append(Field(key, value, location))

    def problem(self, text: str) -> None:
        if text not in self.problems:
            self.problems.append(text)

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)


def inflate(data: bytes, limit: int = INFLATE_LIMIT, wbits: int = zlib.MAX_WBITS) -> tuple[bytes, bool]:
    """Decompress at most ``limit`` bytes; returns (data, complete). Never expands a bomb."""
    d = zlib.decompressobj(wbits)
    out = d.decompress(data, limit)
    complete = d.eof and not d.unconsumed_tail
    return out, complete


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
