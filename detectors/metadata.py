"""Metadata and tool-signature detector: normalised metadata fields matched by the rule pack.

Two reading tiers (see ``detectors/formats``):

- **native** (default for JPEG, PNG, WebP, TIFF, GIF, MP4/MOV/M4A/HEIC/AVIF, WAV/AVI, MP3, FLAC,
  Ogg): our bounded walkers read metadata structures only, ~0.05 ms per small file, and seek over
  essence (IDAT, mdat, ``data``).
- **deep**: ExifTool (``detectors.formats.exiftool``) for every other media format, and for all
  formats with ``--deep``. Without ExifTool, a file only the deep tier can read is an *error*
  ("<format> needs ExifTool"), never clean.

A sidecar ``<stem>.xmp`` next to an asset is parsed by the native XMP reader (it is plain XMP,
so it needs no ExifTool) and its findings are attributed to the asset. Generator sidecars (a
ComfyUI graph saved as ``<stem>.json`` / ``<stem>_api.json`` / ``<stem>_ui.json``, an A1111
infotext saved as ``<stem>.txt``; ``detectors.formats.gen_sidecar``) are recognised by content:
the JSON or text file itself is flagged (it is scanned, not skipped as "not media"), and the
asset beside it gets the same findings, located ``sidecar <name>: ...``. What the rules decide
is data (``detectors/rules/*.toml``); this module only gathers fields and turns hits into
findings.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

from detectors.api import (
    AssetContext,
    Detector,
    Incomplete,
    NotApplicable,
    Option,
    Options,
    RuleInfo,
    default_token,
    open_readonly,
)
from detectors.formats import gen_sidecar, registry
from detectors.formats.native import Collector, Source
from detectors.formats.xmp import EXIFTOOL_GROUPS, MAX_PACKET, parse_xmp
from detectors.model import Asset, Field, Finding
from detectors.remote import info as remote_info
from detectors.remote import is_remote
from detectors.rules import Pack, RuleError, load_pack, to_finding
from detectors.vocab import dst_version, vendor_version

Reader = registry.Reader

# Media type (from content sniffing) -> native reader: every format that declares a walk.
NATIVE: dict[str, Reader] = {media_type: fmt.read for fmt in registry.formats()
                             for media_type in fmt.kinds if fmt.read is not None}

# Formats with no metadata container at all: nothing for any tier to read.
NO_METADATA = {media_type: fmt.no_metadata for fmt in registry.formats()
               for media_type in fmt.kinds if fmt.no_metadata}

# Extensions that promise media (everything sniffing knows but documents, archives, sidecars).
_MEDIA_EXTS = {ext for ext, types in registry.extensions().items()
               if any(registry.kind_of(t) in ("image", "video", "audio") for t in types)}


# Text a generator sidecar may be (sniffed by content: ``detectors.formats.text``).
TEXT_TYPES = frozenset({"text/plain", "application/json"})
# Names of generator sidecars next to ``<stem>.<ext>``: ComfyUI-Image-Saver ``<stem>.json``,
# ComfyUI-HQ-Image-Save ``<stem>_api.json`` / ``<stem>_ui.json`` (always lower case), A1111
# ``<stem>.txt``; upper-case extensions as copied through case-insensitive file systems.
GENERATOR_SIDECARS = (".json", ".JSON", "_api.json", "_ui.json", ".txt", ".TXT")


def format_label(media_type: str) -> str:
    return registry.label(media_type)


def read_native(asset: Asset, ctx: AssetContext) -> Collector:
    """Run the native reader for ``asset`` once (memoised per asset as ``metadata.native``)."""
    reader = NATIVE[asset.media_type]
    src = Source(asset.size, ctx.head, ctx.open)
    out = Collector()
    try:
        reader(src, out)
    finally:
        src.close()
    out.facts["bytes_read"] = src.bytes_read + min(len(ctx.head), asset.size)
    return out


def read_xmp_file(path: str, where: str) -> Collector:
    """A standalone XMP file (sidecar), bounded."""
    out = Collector()
    with open_readonly(path) as fh:
        data = fh.read(MAX_PACKET + 1)
    parse_xmp(data, where, out)
    return out


def read_generator_sidecar(opener: Callable[[], Any], size: int, head: bytes,
                           where: str) -> Collector:
    """A JSON/text file checked for a generator graph or infotext, reading at most
    ``gen_sidecar.MAX_BYTES`` of it (a 2 GB JSON costs 16 MiB, never a full read). ``head``:
    its first bytes when already read (the pipeline's 64 KiB), continued from there."""
    want = min(size, gen_sidecar.MAX_BYTES)
    chunks = [head[:want]]
    got = len(chunks[0])
    if got < want:
        with opener() as fh:
            fh.seek(got)
            while got < want:
                chunk = fh.read(want - got)
                if not chunk:
                    break
                chunks.append(chunk)
                got += len(chunk)
    data = b"".join(chunks)
    if len(data) < want:  # the file shrank since it was listed: judge what is there
        size = len(data)
    return gen_sidecar.parse_sidecar(data, size, where)


def _read_sidecar_file(path: str, where: str) -> Collector:
    size = int(remote_info(path).get("size") or 0) if is_remote(path) else os.stat(path).st_size
    return read_generator_sidecar(functools.partial(open_readonly, path), size, b"", where)


def _exiftool_driver(ctx: AssetContext, program: str | None) -> Any:
    """The per-worker ExifTool driver, or None when ExifTool (or its driver) is missing."""

    def factory() -> Any:
        try:
            from detectors.formats import exiftool as et
        except ImportError:
            return None
        exe = et.find_exiftool(program)
        if not exe:
            return None
        # below the worker pool's per-file kill, so a slow ExifTool read fails alone and the
        # other detectors' findings for the file survive
        return et.ExifToolDriver(exe, timeout=max(1.0, 0.8 * ctx.options.file_timeout))

    return ctx.shared.get("exiftool", factory, close=lambda d: d.close() if d else None)


def _canonical(f: Field) -> Field:
    """Map ExifTool XMP tags the driver left unmapped (``exiftool:XMP-iptcExt:X``) onto our
    ``xmp:<prefix>:X`` keys so that one rule covers both tiers."""
    if not f.key.startswith("exiftool:XMP-"):
        return f
    _, group, tag = f.key.split(":", 2)
    prefix = EXIFTOOL_GROUPS.get(group)
    if prefix is None:
        return f
    return Field(f"xmp:{prefix}:{tag}", f.value, f.location, f.reader)


class MetadataDetector(Detector):
    name: ClassVar[str] = "metadata"
    version: ClassVar[str] = "1.1"
    kinds: ClassVar[frozenset[str]] = frozenset({"image", "video", "audio"})
    description: ClassVar[str] = ("Generator declarations in metadata (PNG text, EXIF, XMP/IPTC, "
                                  "MP4/ID3/Vorbis/RIFF tags, stealth pnginfo, generator sidecar "
                                  "JSON/text) via the rule pack")
    order: ClassVar[int] = 20
    options: ClassVar[tuple[Option, ...]] = (
        Option("deep", bool, False, "Read every format with ExifTool too (slower).",
               flag="--deep"),
        Option("exiftool", str, None, "The ExifTool program to run (default: exiftool on "
               "PATH).", path=True),
    )

    def available(self) -> tuple[bool, str]:
        try:
            load_pack()
        except RuleError as exc:
            return False, f"rule pack invalid: {exc}"
        return True, ""

    def about(self) -> dict[str, str]:
        """The rule pack, the shared vocabularies and ExifTool (the one on PATH; a configured
        one is in the cache key) decide what matches."""
        from detectors.formats.exiftool import exiftool_version

        return {"rules": load_pack().version, "dst": dst_version(), "vendors": vendor_version(),
                "ExifTool": exiftool_version() or "not found"}

    def rules(self) -> list[RuleInfo]:
        return [RuleInfo(r.id, self.name, r.verdict, r.tier, r.message or f"{r.tool} marker",
                         r.reference, r.tool, r.fields) for r in load_pack().rules]

    def cache_token(self, options: Options) -> str:
        """Results depend on the settings (``--deep``: ExifTool for every format), the rule
        pack, which ExifTool reads the deep tier, and ``--show-prompts`` (values are
        rendered here)."""
        from detectors.formats.exiftool import exiftool_identity

        exe = self.settings(options)["exiftool"]
        return (f"{default_token(self, options)}|prompts {options.show_prompts}|"
                f"exiftool {exiftool_identity(exe)}")

    def covers(self, media_type: str, kind: str) -> tuple[str, str]:
        if media_type in TEXT_TYPES:
            return "yes", "generator sidecar check (ComfyUI graph JSON, A1111 infotext)"
        if kind not in self.kinds and media_type != "application/rdf+xml":
            return "no", "not a media file"
        from detectors.formats.exiftool import find_exiftool

        exiftool = find_exiftool() is not None
        if media_type in NATIVE or media_type == "application/rdf+xml":
            return "yes", "native tier" + (" (ExifTool too with --deep)" if exiftool else "")
        if media_type in NO_METADATA:
            return "yes", NO_METADATA[media_type]
        if exiftool:
            return "yes", "ExifTool (deep tier)"
        return "no", "needs ExifTool, not found: such files are errors"

    def applies(self, asset: Asset, ctx: AssetContext) -> bool:
        if asset.kind in self.kinds:
            return True
        if asset.kind == "sidecar":
            return asset.media_type == "application/rdf+xml"
        # A file named like media whose content is not: an error to report, not a skip. JSON
        # and text: checked for a generator graph or infotext (skipped when neither).
        return asset.kind == "other" and (asset.ext in _MEDIA_EXTS
                                          or asset.media_type in TEXT_TYPES)

    def needs_path(self, asset: Asset, options: Options) -> bool:
        """ExifTool reads a path (the deep tier); the native walkers read ranges."""
        return self.stage(asset, options) == 2

    def stage(self, asset: Asset, options: Options) -> int:
        """The native walkers are structure reads (stage 1); ExifTool (``--deep``, or a format
        only it reads: MXF, PSD, MKV...) costs a process round trip per file (stage 2)."""
        if self.settings(options)["deep"]:
            return 2
        only_exiftool = (asset.kind in self.kinds and asset.media_type not in NATIVE
                         and asset.media_type not in NO_METADATA)
        return 2 if only_exiftool else 1

    def detect(self, asset: Asset, ctx: AssetContext) -> Iterator[Finding]:
        show = ctx.options.show_prompts
        pack = load_pack()
        if asset.kind == "other":
            yield from self._other_file(asset, ctx, pack)
            return
        problems: list[str] = []
        groups: list[tuple[str, list[Field]]] = []
        if asset.kind == "sidecar":
            res = ctx.memo("metadata.xmpfile", lambda: read_xmp_file(
                asset.fs_path, f"XMP file {os.path.basename(asset.path)}"))
            groups.append(("", res.fields))
            problems += res.problems
            for n in res.notes:
                ctx.note(n)
        else:
            problems += self._asset_fields(asset, ctx, groups)
            # Lightroom/ExifTool name sidecars <stem>.xmp; darktable/digiKam <name>.<ext>.xmp
            sidecar = (ctx.sidecar(".xmp") or ctx.sibling(ctx.neighbourhood + ".xmp")
                       or ctx.sibling(ctx.neighbourhood + ".XMP"))
            if sidecar:
                name = os.path.basename(sidecar)
                res = ctx.memo("metadata.sidecar", lambda: read_xmp_file(
                    sidecar, f"sidecar {name}"))
                ctx.note(f"sidecar {name} read")
                groups.append((f"sidecar {name}: ", res.fields))
                problems += [f"sidecar {name}: {p}" for p in res.problems]
            for path in generator_sidecars(asset, ctx):
                name = os.path.basename(path)
                try:
                    res = ctx.memo(f"metadata.gensidecar:{name}",
                                   functools.partial(_read_sidecar_file, path, f"sidecar {name}"))
                except OSError as exc:
                    problems.append(f"sidecar {name} could not be read: "
                                    f"{exc.strerror or exc}")
                    continue
                found, sidecar_problems = self._judge_sidecar(res, f"sidecar {name}: ", ctx,
                                                              pack)
                yield from found
                problems += sidecar_problems
                ctx.note(f"sidecar {name} read" if found or sidecar_problems else
                         f"sidecar {name}: not a generator graph or infotext")
        merged: dict[str, list[Field]] = {}
        for prefix, fields in groups:  # native + ExifTool fields dedupe as one group
            merged.setdefault(prefix, []).extend(fields)
        for prefix, fields in merged.items():
            notes: list[str] = []
            for hit in pack.evaluate(fields, notes):
                yield to_finding(hit, self.name, show, prefix)
            for n in notes:
                ctx.note(f"{prefix}{n}")
        if problems:
            raise Incomplete("; ".join(problems))

    def _other_file(self, asset: Asset, ctx: AssetContext, pack: Pack) -> Iterator[Finding]:
        """A file that is not media: a JSON/text generator sidecar is judged (and flagged on
        itself); anything else is not applicable, or an error when its name promised media."""
        problems: list[str] = []
        found: list[Finding] = []
        label = registry.label(asset.media_type)
        if asset.media_type in TEXT_TYPES and asset.size > 0:
            where = f"{label} {os.path.basename(asset.path)}"
            res = ctx.memo("metadata.gensidecar", lambda: read_generator_sidecar(
                ctx.open, asset.size, ctx.head, where))
            found, problems = self._judge_sidecar(res, "", ctx, pack)
            yield from found
        if asset.ext in _MEDIA_EXTS:
            what = "empty" if asset.size == 0 else f"{asset.media_type}"
            raise Incomplete("; ".join([f"content is {what}, not the media its {asset.ext} name "
                                        "promises; no metadata could be read", *problems]))
        if problems:
            raise Incomplete("; ".join(problems))
        if not found:
            raise NotApplicable(f"{label}: not a generator sidecar (no ComfyUI graph, no "
                                "A1111 infotext)")

    def _judge_sidecar(self, res: Collector, prefix: str, ctx: AssetContext,
                       pack: Pack) -> tuple[list[Finding], list[str]]:
        """Rule findings for a generator sidecar's fields, and its problems. A ComfyUI graph
        the reader recognised by structure that no rule judged is a problem, never a pass:
        the reader and the rule pack disagree, or a rule was edited away."""
        notes: list[str] = []
        hits = pack.evaluate(res.fields, notes)
        found = [to_finding(hit, self.name, ctx.options.show_prompts, prefix) for hit in hits]
        problems = [f"{prefix}{p}" for p in res.problems]
        judged = {(h.field.key, h.field.value) for h in hits}
        unjudged = [f for f in res.fields if f.key in (gen_sidecar.PROMPT, gen_sidecar.WORKFLOW)
                    and (f.key, f.value) not in judged]
        if unjudged:
            problems.append(f"{prefix}{unjudged[0].location}: a ComfyUI graph no rule judged "
                            f"({unjudged[0].key}); the rule pack does not cover generator "
                            "sidecars")
        for n in (*res.notes, *notes):
            ctx.note(f"{prefix}{n}")
        return found, problems

    def _asset_fields(self, asset: Asset, ctx: AssetContext,
                      groups: list[tuple[str, list[Field]]]) -> list[str]:
        problems: list[str] = []
        native = asset.media_type in NATIVE
        deep = self.settings(ctx.options)["deep"]
        if asset.media_type in NO_METADATA and not deep:
            ctx.note(NO_METADATA[asset.media_type])
            return problems
        if native:
            res = ctx.memo("metadata.native", lambda: read_native(asset, ctx))
            groups.append(("", res.fields))
            problems += res.problems
            for n in res.notes:
                ctx.note(n)
        if native and not deep:
            return problems
        driver = _exiftool_driver(ctx, self.settings(ctx.options)["exiftool"])
        if driver is None:
            if native:
                ctx.note("ExifTool not found: deep tier (--deep) skipped, native tier only")
            else:
                problems.append(f"{format_label(asset.media_type)} needs ExifTool (deep tier), "
                                "not found")
            return problems
        from detectors.formats.exiftool import ExifToolError
        from detectors.formats.exiftool_tags import exiftool_fields
        try:
            tags = ctx.memo("exiftool", lambda: driver.read(asset.fs_path))
        except ExifToolError as exc:
            problems.append(f"ExifTool could not read the file: {exc}")
            tags = exc.tags  # what it did read still counts
        ctx.note(f"deep tier: ExifTool {getattr(driver, 'version', '?')}")
        groups.append(("", [_canonical(f) for f in exiftool_fields(tags)]))
        return problems


def generator_sidecars(asset: Asset, ctx: AssetContext) -> list[str]:
    """Generator sidecar files next to ``asset`` (same stem). ``ctx.sibling`` answers from a
    cached listing of the directory: a miss (the usual answer) costs a stat of the directory
    (is the listing current?), never a listing per file."""
    stem = os.path.splitext(ctx.neighbourhood)[0]
    found: list[str] = []
    for suffix in GENERATOR_SIDECARS:
        path = ctx.sibling(stem + suffix)
        if path is not None and path not in found:
            found.append(path)
    return found
