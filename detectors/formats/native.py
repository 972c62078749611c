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

from detectors.model import Field

# Total bytes a native reader may pull from one file (metadata, never essence). Generous because
# XMP packets and ComfyUI workflows can reach megabytes; a file that needs more is an error.
READ_BUDGET = 64 * 1024 * 1024
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


# --- fuzz entry points (bench/fuzz.py, tests/test_fuzz.py) ---------------------------------------

# Media types (from ``sniff``) whose files seed each format target; other targets get bespoke seeds
# from ``fuzz_seed``.
FUZZ_MEDIA: dict[str, tuple[str, ...]] = {
    "png": ("image/png",),
    "jpeg": ("image/jpeg",),
    "gif": ("image/gif",),
    "tiff": ("image/tiff",),
    "riff": ("image/webp", "audio/wav", "video/x-msvideo"),
    "bmff": ("video/mp4", "video/quicktime", "audio/mp4", "image/heic", "image/heif",
             "image/avif"),
    "mp3": ("audio/mpeg",),
    "flac": ("audio/flac",),
    "ogg": ("audio/ogg", "video/ogg"),
}
_FUZZ_HEAD = 64 * 1024  # detectors.api.HEAD_SIZE: what the pipeline hands a reader for free


def _fuzz_source(data: bytes) -> Source:
    """A Source as the metadata detector builds it: the head in memory, the rest through an
    opener, so the budget and lazy-open paths are exercised too."""
    import io

    return Source(len(data), data[:_FUZZ_HEAD], lambda: io.BytesIO(data))


def _check(out: Collector) -> Collector:
    """Contract every reader keeps whatever the input: str keys, values and locations."""
    for f in out.fields:
        if not (isinstance(f.key, str) and isinstance(f.value, str)
                and isinstance(f.location, str)):
            raise TypeError(f"reader produced a non-str field: {f!r:.200}")
    if not all(isinstance(p, str) for p in out.problems + out.notes):
        raise TypeError("reader produced a non-str problem or note")
    return out


def _run_reader(reader: Callable[[Source, Collector], None]) -> Callable[[bytes], Collector]:
    def target(data: bytes) -> Collector:
        src = _fuzz_source(data)
        out = Collector()
        try:
            reader(src, out)
        finally:
            src.close()
        return _check(out)

    return target


def _fuzz_values(data: bytes) -> list[str]:
    """Untrusted field values from raw bytes: the whole text and its NUL-separated pieces."""
    whole = text(data)
    pieces = [text(p) for p in data.split(b"\x00", 4)[:4] if p]
    return [whole, *pieces] if len(pieces) > 1 else [whole]


def _fuzz_rules(data: bytes) -> int:
    """Every rule of the pack against values built from ``data``, on every key it watches
    (wildcards filled in), including the report step (excerpts, truncation)."""
    from detectors.model import Field
    from detectors.rules import load_pack, to_finding

    pack = load_pack()
    keys = sorted({k.replace("*", "fuzz") for rule in pack.rules for k in rule.fields})
    values = _fuzz_values(data)
    fields = [Field(k, v, "fuzz") for k in keys for v in values]
    notes: list[str] = []
    hits = pack.evaluate(fields, notes)
    for hit in hits:
        to_finding(hit, "metadata", False)
        to_finding(hit, "metadata", True)
    return len(hits)


def _fuzz_metadata(data: bytes) -> int:
    """The metadata detector's in-process path: sniff, native reader, rule pack, findings."""
    from detectors.formats.sniff import sniff
    from detectors.metadata import NATIVE
    from detectors.rules import load_pack, to_finding

    _kind, media_type = sniff(data[:_FUZZ_HEAD])
    reader = NATIVE.get(media_type)
    if media_type == "application/rdf+xml":  # a sidecar: read whole, bounded, as the detector does
        from detectors.formats.xmp import MAX_PACKET, parse_xmp

        out = _check(_with(lambda c: parse_xmp(data[:MAX_PACKET + 1], "fuzz sidecar", c)))
    elif reader is None:
        return 0
    else:
        out = _run_reader(reader)(data)
    hits = load_pack().evaluate(out.fields, [])
    for hit in hits:
        to_finding(hit, "metadata", False)
    return len(hits)


def fuzz_targets() -> dict[str, Callable[[bytes], object]]:
    """name → callable(bytes) for the fuzz harness. A target may raise only :class:`FormatError`
    or ``detectors.api.Incomplete``; anything else (IndexError, struct.error, RecursionError,
    UnicodeError, MemoryError...) is a bug in the reader it drives."""
    from detectors.formats.bmff import read_bmff
    from detectors.formats.exif import parse_tiff
    from detectors.formats.gif import read_gif
    from detectors.formats.id3 import parse_id3v2, read_mp3
    from detectors.formats.jpeg import read_jpeg
    from detectors.formats.png import read_png
    from detectors.formats.riff import read_riff
    from detectors.formats.sniff import sniff
    from detectors.formats.stealth import read_stealth
    from detectors.formats.vorbis import parse_comments, read_flac, read_ogg
    from detectors.formats.xmp import parse_xmp

    def tiff(src: Source, out: Collector) -> None:
        parse_tiff(src, 0, src.size, "TIFF file", out)

    def png_stealth(src: Source, out: Collector) -> None:
        # stealth only: IHDR/IDAT facts from a plain walk, then the LSB reader
        read_png(src, out, stealth=False)
        read_stealth(src, out)

    def xmp(data: bytes) -> Collector:
        return _check(_with(lambda out: parse_xmp(data, "fuzz", out)))

    def exif(data: bytes) -> Collector:
        # a TIFF structure embedded at an offset, as in JPEG APP1 / PNG eXIf / WebP EXIF
        skip = 6 if data.startswith(b"Exif\x00\x00") else 0
        src = Source.from_bytes(data)
        return _check(_with(lambda out: parse_tiff(src, skip, len(data) - skip, "fuzz", out)))

    def id3(data: bytes) -> Collector:
        src = _fuzz_source(data)
        return _check(_with(lambda out: parse_id3v2(src, 0, "fuzz", out, limit=len(data))))

    def vorbis(data: bytes) -> Collector:
        return _check(_with(lambda out: parse_comments(data, "fuzz", out)))

    return {
        "png": _run_reader(read_png),
        "stealth": _run_reader(png_stealth),
        "jpeg": _run_reader(read_jpeg),
        "gif": _run_reader(read_gif),
        "tiff": _run_reader(tiff),
        "riff": _run_reader(read_riff),
        "bmff": _run_reader(read_bmff),
        "mp3": _run_reader(read_mp3),
        "flac": _run_reader(read_flac),
        "ogg": _run_reader(read_ogg),
        "xmp": xmp,
        "exif": exif,
        "id3": id3,
        "vorbis": vorbis,
        "sniff": sniff,
        "rules": _fuzz_rules,
        "metadata": _fuzz_metadata,
    }


def _with(fill: Callable[[Collector], None]) -> Collector:
    out = Collector()
    fill(out)
    return out


_XMP_START = (b"<?xpacket begin", b"<x:xmpmeta", b"<rdf:RDF")


def fuzz_seed(target: str, data: bytes) -> bytes | None:
    """The seed a fixture file gives ``target`` (None: it gives none). Format targets take files
    of their media types; ``xmp``/``exif``/``id3``/``vorbis`` the structure cut out of a file;
    ``rules`` the NUL-joined field values a reader found in it (real prompts, JSON, URIs)."""
    from detectors.formats.sniff import sniff

    media = sniff(data[:_FUZZ_HEAD])[1]
    if target == "stealth":
        target = "png"
    if target in FUZZ_MEDIA:
        return data if media in FUZZ_MEDIA[target] else None
    if target in ("sniff", "metadata"):
        return data
    if target == "xmp":
        starts = [i for i in (data.find(m) for m in _XMP_START) if i >= 0]
        if not starts:
            return None
        end = data.find(b"</x:xmpmeta>", min(starts))
        end = data.find(b"</rdf:RDF>", min(starts)) if end < 0 else end
        return data[min(starts):end + 16] if end >= 0 else data[min(starts):]
    if target == "exif":
        if media == "image/tiff":
            return data[:256 * 1024]
        at = data.find(b"Exif\x00\x00")
        return data[at:at + 256 * 1024] if at >= 0 else None
    if target == "id3":
        at = data.find(b"ID3")
        return data[at:at + 256 * 1024] if at >= 0 and media in ("audio/mpeg", "audio/wav",
                                                                 "audio/flac") else None
    if target == "vorbis":
        for magic, skip in ((b"\x03vorbis", 7), (b"OpusTags", 8)):
            at = data.find(magic)
            if at >= 0:
                return data[at + skip:at + skip + 64 * 1024]
        return None
    if target == "rules":
        from detectors.metadata import NATIVE

        reader = NATIVE.get(media)
        if reader is None:
            return data if media in ("application/json", "text/plain") else None
        try:
            out = _run_reader(reader)(data)
        except Exception:  # noqa: BLE001 - a seed that crashes its reader seeds nothing here
            return None
        # real values, kept small: the bounds on huge values have their own tests
        values = [f.value[:16 * 1024] for f in out.fields if f.value]
        return "\x00".join(values).encode("utf-8")[:64 * 1024] if values else None
    return None
