"""Fuzz targets over deliverscan's parsers (``bench/fuzz.py`` drives them; ``tests/test_fuzz.py``
runs a fixed-seed short pass): one per format with a native walk (from the format registry),
the structures embedded in formats, sniffing, the rule pack and the whole metadata path.

Kept here, outside ``detectors/``: the harness imports the readers, the rule pack and the
metadata detector, and nothing the scanner ships imports the harness.
"""

from __future__ import annotations

import io
from collections.abc import Callable

from detectors.formats import registry
from detectors.formats.native import Collector, FormatError, Source, text
from detectors.formats.sniff import sniff
from detectors.model import Field

__all__ = ["FormatError", "fuzz_media", "fuzz_seed", "fuzz_targets"]


def fuzz_media() -> dict[str, tuple[str, ...]]:
    """Format target -> the media types whose files seed it: every format that declares a
    native walk (``detectors.formats.registry``), so a new format is fuzzed without an edit."""
    out: dict[str, tuple[str, ...]] = {}
    for fmt in registry.formats():
        if fmt.read is not None:
            out[fmt.id] = out.get(fmt.id, ()) + tuple(fmt.kinds)
    return out


_FUZZ_HEAD = 64 * 1024  # detectors.api.HEAD_SIZE: what the pipeline hands a reader for free


def _fuzz_source(data: bytes) -> Source:
    """A Source as the metadata detector builds it: the head in memory, the rest through an
    opener, so the budget and lazy-open paths are exercised too."""
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


def _run_visitor(visit: Callable[[Source], tuple[str, str]]) -> Callable[[bytes], object]:
    """A C2PA-carrier visitor as the pre-filter runs it: a state, or FormatError (doubt). A
    container c2pa-rs does not read answers with ``Unbound``, whose store position must lie
    inside the file (the detector reads it from there)."""
    from detectors.formats.c2pa_locate import ABSENT, MAYBE, PRESENT, UNBOUND, Unbound

    def target(data: bytes) -> object:
        src = _fuzz_source(data)
        try:
            state, why = visit(src)
        except Unbound as exc:
            if exc.span is not None:
                offset, length = exc.span
                if not (0 <= exc.chunk_at < offset and 0 <= length
                        and offset + length <= len(data)):
                    raise TypeError(f"visitor placed a store outside the file: {exc.span}, "
                                    f"chunk at {exc.chunk_at}, {len(data)} bytes") from exc
            return UNBOUND if exc.span is not None or exc.remote else ABSENT
        finally:
            src.close()
        if state not in (ABSENT, PRESENT, MAYBE) or not isinstance(why, str):
            raise TypeError(f"visitor returned {state!r}, {why!r}")
        return state

    return target


def _is_rf64(data: bytes) -> bool:
    return data[:4] in (b"RF64", b"BW64")


def _fuzz_values(data: bytes) -> list[str]:
    """Untrusted field values from raw bytes: the whole text and its NUL-separated pieces."""
    whole = text(data)
    pieces = [text(p) for p in data.split(b"\x00", 4)[:4] if p]
    return [whole, *pieces] if len(pieces) > 1 else [whole]


def _fuzz_rules(data: bytes) -> int:
    """Every rule of the pack against values built from ``data``, on every key it watches
    (wildcards filled in), including the report step (excerpts, truncation)."""
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
    """name -> callable(bytes) for the fuzz harness: one per format with a native walk, its
    C2PA visitor as ``<format>.c2pa``, the embedded structures (XMP, EXIF, ID3, Vorbis
    comments), stealth pnginfo, sniffing, the rule pack and the metadata path. A target may
    raise only :class:`FormatError` or ``detectors.api.Incomplete``; anything else
    (IndexError, struct.error, RecursionError, UnicodeError, MemoryError...) is a bug in the
    reader it drives."""
    from detectors.formats.exif import parse_tiff
    from detectors.formats.id3 import parse_id3v2
    from detectors.formats.png import read_png
    from detectors.formats.stealth import read_stealth
    from detectors.formats.vorbis import parse_comments
    from detectors.formats.xmp import parse_xmp

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

    targets: dict[str, Callable[[bytes], object]] = {}
    for fmt in registry.formats():
        if fmt.read is not None and fmt.id not in targets:
            targets[fmt.id] = _run_reader(fmt.read)
        if fmt.c2pa is not None and f"{fmt.id}.c2pa" not in targets:
            targets[f"{fmt.id}.c2pa"] = _run_visitor(fmt.c2pa)
    # RF64/BW64 take their own path through the RIFF walker and its C2PA visitor (64-bit sizes
    # from ds64, the store read on its own): fuzzed with RF64 seeds only.
    riff = registry.format_of("audio/wav")
    if riff is not None and riff.read is not None and riff.c2pa is not None:
        targets["rf64"] = _run_reader(riff.read)
        targets["rf64.c2pa"] = _run_visitor(riff.c2pa)
    targets.update({"stealth": _run_reader(png_stealth), "xmp": xmp, "exif": exif, "id3": id3,
                    "vorbis": vorbis, "sniff": sniff, "rules": _fuzz_rules,
                    "metadata": _fuzz_metadata, "archive": _fuzz_archive,
                    "gen_sidecar": _fuzz_gen_sidecar})
    return targets


def _fuzz_archive(data: bytes) -> int:
    """Every member of an archive read to the end under small limits, as the scanner reads
    them; what the scanner reports as a damaged archive or member becomes FormatError."""
    from detectors.formats.archive import ARCHIVE, ArchiveError, Budget, Limits, open_members
    from scanner.archives import READ_ERRORS

    kind, media_type = sniff(data[:_FUZZ_HEAD])
    if kind != ARCHIVE:
        raise FormatError("not an archive")
    budget = Budget(Limits(max_members=2000, max_member_bytes=2**20, max_total_bytes=2**23,
                           ratio_floor=2**20))
    total = 0
    try:
        with open_members(io.BytesIO(data), media_type, budget, "fuzz.bin") as members:
            for m in members:
                if m.type == "file" and m.problem is None:
                    with m.open() as fh:
                        while chunk := fh.read(65536):
                            total += len(chunk)
    except (ArchiveError, *READ_ERRORS) as exc:
        raise FormatError(f"{type(exc).__name__}: {exc}") from None
    if total > budget.limits.max_total_bytes + 65536:
        raise TypeError(f"read {total} bytes past the {budget.limits.max_total_bytes} limit")
    return total


def _fuzz_gen_sidecar(data: bytes) -> object:
    from detectors.formats.gen_sidecar import parse_sidecar

    return _check(parse_sidecar(data, len(data), "fuzz"))


def _with(fill: Callable[[Collector], object]) -> Collector:
    out = Collector()
    fill(out)
    return out


_XMP_START = (b"<?xpacket begin", b"<x:xmpmeta", b"<rdf:RDF")


def fuzz_seed(target: str, data: bytes) -> bytes | None:
    """The seed a fixture file gives ``target`` (None: it gives none). Format targets take files
    of their media types; ``xmp``/``exif``/``id3``/``vorbis`` the structure cut out of a file;
    ``rules`` the NUL-joined field values a reader found in it (real prompts, JSON, URIs)."""
    media = sniff(data[:_FUZZ_HEAD])[1]
    target = target.removesuffix(".c2pa")
    if target == "stealth":
        target = "png"
    if target == "rf64":
        return data if _is_rf64(data) else None
    seeds = fuzz_media()
    if target in seeds:
        return data if media in seeds[target] else None
    if target in ("sniff", "metadata"):
        return data
    if target == "archive":
        return data if sniff(data[:_FUZZ_HEAD])[0] == "archive" else None
    if target == "gen_sidecar":
        return data if media in ("application/json", "text/plain") else None
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
