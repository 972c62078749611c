"""Can this file hold a C2PA store? A cheap, bounded answer from the container's structure.

Why: almost no file in a delivery is signed, yet asking c2pa-python costs a Reader call per
file (~0.15-0.6 ms) and an import per process (~0.1 s). The C2PA detector asks this module first
and skips the Reader only on :data:`ABSENT`: the structure was walked to its end and holds none
of the places c2pa-rs (0.91) reads a manifest store or an XMP ``dcterms:provenance`` (remote
manifest) from. Everything else is :data:`MAYBE` or :data:`PRESENT` and the Reader decides:
an unknown container, a truncated or odd structure (the Reader must get the chance to report
it as an error), an exhausted budget, a read error. Never skip on doubt.

Where c2pa-rs looks, per container (mirrored by each format module's ``c2pa`` visitor, checked
against the real Reader in ``tests/test_c2pa_locate.py``):
- JPEG: APP11 JUMBF segments and APP1 XMP before the first SOS (img-parts treats everything
  after SOS as entropy data, so a segment there is never read).
- PNG: a ``caBX`` chunk anywhere before IEND (also after IDAT); iTXt ``XML:com.adobe.xmp``.
- RIFF (WAV, WebP, AVI): a ``C2PA`` / ``XMP `` chunk among the RIFF's children (also after
  ``data``/``movi``).
- RF64/BW64 (WAV over 4 GiB, ``ffmpeg -rf64``): c2pa-rs refuses the container, so the walk is the
  answer (:class:`Unbound`): no ``C2PA`` chunk is :data:`ABSENT`; a ``C2PA`` chunk is
  :data:`UNBOUND` with its position, and the detector reads the store on its own.
- ISO BMFF (MP4, MOV, M4A, HEIF, AVIF): a top-level ``uuid`` box (C2PA or XMP user type),
  wherever it sits (moov first or last, 64-bit sizes, sparse multi-GiB files: only box headers
  are read). Container boxes c2pa-rs parses are walked too, so its parse errors still surface.
- TIFF/DNG: tag 0xCD41 (C2PA) or 0x02BC (XMP) in any IFD of the chain or a SubIFD.
- GIF: a ``C2PA_GIF`` or ``XMP DataXMP`` application extension anywhere before the trailer.
- MP3 and FLAC: a GEOB/PRIV frame in the ID3v2 tag at the start of the file (the only tag
  c2pa-rs reads); a FLAC without one holds no C2PA for c2pa-rs.
- SVG, PDF and everything else: maybe (c2pa-rs parses those whole; its verdict is needed).
Sidecar ``.c2pa`` files are the detector's business (it always reads them).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from detectors.formats import registry
from detectors.formats.native import FormatError, Source

ABSENT = "absent"  # structure fully walked: no store, no remote reference
PRESENT = "present"  # a C2PA carrier was found
MAYBE = "maybe"  # could not rule it out
DAMAGED = "damaged"  # broken where c2pa-rs is known to misbehave: report, do not read
UNBOUND = "unbound"  # a store in a container c2pa-rs does not read: read the store on its own


class Damaged(FormatError):
    """Raised by a visitor when the structure is broken in a way c2pa-rs is known to mishandle
    (e.g. a truncated ID3v2 tag whose frame claims gigabytes: it allocates them). The file is
    then an error for the C2PA detector without the Reader being called."""



class Unbound(FormatError):  # noqa: N818 - a visitor's answer, raised like Damaged
    """Raised by a visitor for a container c2pa-rs does not read at all (RF64/BW64), with the
    structure's own answer: no store (``span`` None), a store whose bytes are at ``span``
    (offset, length; the chunk header at ``chunk_at``), or an XMP remote reference
    (``remote``). ``fmt`` is the media type to give c2pa-rs with the store as manifest data.
    The detector must never hand such a file to c2pa-rs as an embedded asset."""

    def __init__(self, why: str, span: tuple[int, int] | None = None, fmt: str = "",
                 chunk_at: int = 0, remote: bool = False) -> None:
        super().__init__(why)
        self.span, self.fmt, self.chunk_at, self.remote = span, fmt, chunk_at, remote


BUDGET = 64 * 1024 * 1024  # bytes read past the pipeline's head
MAX_UNITS = 200_000  # chunks, boxes, segments, IFD entries, GIF blocks
VALUE_LIMIT = 16 * 1024 * 1024  # largest XMP packet or ID3 tag searched for a remote reference
MAX_DEPTH = 32

# XMP dcterms:provenance (a remote manifest URL), in UTF-8 and UTF-16 packets.
REMOTE_NEEDLES = (b"provenance", "provenance".encode("utf-16-le"),
                  "provenance".encode("utf-16-be"))

Result = tuple[str, str]


@dataclass(frozen=True)
class Located:
    state: str  # ABSENT | PRESENT | MAYBE | DAMAGED | UNBOUND
    why: str  # what was found, or why it could not be ruled out
    bytes_read: int = 0  # read from the file beyond the head
    # Set for a container c2pa-rs does not read (see :class:`Unbound`).
    unbound: Unbound | None = None


def remote(data: bytes) -> bool:
    """Whether metadata bytes name a provenance (a remote manifest reference)."""
    return any(needle in data for needle in REMOTE_NEEDLES)


def locate(media_type: str, size: int, head: bytes,
           opener: Callable[[], Any] | None = None) -> Located:
    """Whether a file of ``media_type`` (sniffed from content) can hold a C2PA store or a remote
    manifest reference, asked of its format's C2PA visitor. ``head`` is the start of the file,
    ``opener`` opens it read-only for reads beyond it. Never raises for a malformed or
    unreadable file: that is :data:`MAYBE` (a visitor says doubt with ``FormatError``)."""
    fmt = registry.format_of(media_type)
    if fmt is None or fmt.c2pa is None:
        return Located(MAYBE, f"no structure walker for {media_type}")
    src = Source(size, head, opener, budget=BUDGET, max_units=MAX_UNITS)
    unbound: Unbound | None = None
    try:
        state, why = fmt.c2pa(src)
    except Unbound as exc:
        unbound = exc
        state = UNBOUND if exc.span or exc.remote else ABSENT
        why = str(exc)
    except Damaged as exc:
        state, why = DAMAGED, str(exc)
    except FormatError as exc:
        state, why = MAYBE, str(exc)
    except OSError as exc:
        state, why = MAYBE, f"read error: {exc}"
    finally:
        src.close()
    return Located(state, why, src.bytes_read, unbound)


def locate_bytes(media_type: str, data: bytes) -> Located:
    """:func:`locate` on bytes in memory (tests, tools)."""
    return locate(media_type, len(data), data)
