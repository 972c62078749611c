"""C2PA (Content Credentials) detector: the strongest signal we have, read offline.

Reads the manifest store embedded in any container c2pa-python supports (format from the bytes,
never from the name), a ``<stem>.c2pa`` sidecar next to the asset, or a standalone ``.c2pa``
store, and judges every manifest in it (``detectors.c2pa_judge``). Verification (a full read
and hash of the asset) runs only up to ``verify_limit_mb`` unless ``verify_all``; above it
only the manifest is read (KBs) and findings say "not verified". Detection never depends on
verification: a store that fails to verify is re-read without it.

Network is off by construction (``detectors.c2pa_reading``): remote manifests become a
``c2pa.remote-manifest`` review finding, never a fetch; the start-up self-test proves it.

Cheap pre-filter: c2pa-python is asked only when the container's structure can hold a store or
a remote reference (``detectors.formats.c2pa_locate``; any doubt means ask). An unsigned file
costs a walk of its box/chunk headers, and a worker that never meets a C2PA file never even
imports c2pa-python (only ``available()``'s self-test does, in the process that loads detectors).

Containers c2pa-rs refuses although they may carry a store (RF64/BW64 WAV: "expected RIFF, got
RF64") are never handed to it as an embedded asset: the structure walk says whether a store is
there; when one is, its bytes are read from the chunk and judged on their own. The binding to
the audio is then checked only when the active manifest's hard binding is a data hash that
excludes nothing but that chunk (c2pa-rs hashes the file's bytes given the store as manifest
data); otherwise findings say "binding not verified".
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterable, Iterator
from typing import Any, ClassVar

from detectors import c2pa_reading as rd
from detectors.api import (
    AssetContext,
    ConfigError,
    Detector,
    Incomplete,
    NotApplicable,
    Option,
    Options,
    RuleInfo,
    open_readonly,
)
from detectors.c2pa_judge import DETECTOR, StoreContext, judge_store, rules, vendor_rule
from detectors.formats.c2pa_locate import ABSENT, DAMAGED, Located, locate
from detectors.model import AI, REVIEW, Asset, Finding, truncate
from detectors.vocab import dst_version, vendor_version

C2PA_STORE_TYPE = "application/c2pa"
MEDIA_KINDS = frozenset({"image", "video", "audio"})
OTHER_TYPES = frozenset({"application/pdf"})
OVER_LIMIT = "> verify limit"
# Byte patterns that show a C2PA store is physically present (JUMBF superbox with a c2pa
# description, GIF/ID3/SVG carriers, the BMFF uuid). Used only to tell "C2PA present but the
# container could not be parsed" from "a damaged file that never had C2PA".
_C2PA_EVIDENCE = (b"jumd\x63\x32\x70\x61", b"C2PA_GIF", b"application/c2pa",
                  b"application/x-c2pa-manifest-store", b"c2pa:manifest",
                  bytes.fromhex("d8fec3d61b0e483c92975828877ec481"))
# Coverage of a file whose structure holds no C2PA carrier (the Reader was not called).
NO_STORE_CHECKED = ("no C2PA store", "structure checked; c2pa-python not called")
UNBOUND_ORIGIN = "embedded, read on its own"


STAGE1_VERIFY_BYTES = 64 * 1024 * 1024  # a signature over more is verified in stage 2


def _proven_contexts(anchors: str | None) -> rd.Contexts:
    """Reader contexts, made only once the self-test has proved (in this process) that the
    network-off settings are in force: no file is read by c2pa-rs before that."""
    ok, why = rd.self_test_once()
    if not ok:
        raise RuntimeError(why)
    return rd.Contexts(anchors)


class C2paDetector(Detector):
    """See the module docstring."""

    name: ClassVar[str] = DETECTOR
    version: ClassVar[str] = "1.1"  # 1.1: structural pre-filter (coverage notes changed)
    # Skip the Reader when the structure rules C2PA out (off only to measure what it saves).
    prefilter: ClassVar[bool] = True
    kinds: ClassVar[frozenset[str]] = frozenset({"image", "video", "audio", "sidecar", "other"})
    description: ClassVar[str] = ("C2PA Content Credentials in every container c2pa-python "
                                  "reads, .c2pa sidecars and PDFs; offline")
    order: ClassVar[int] = 10
    options: ClassVar[tuple[Option, ...]] = (
        Option("verify_limit_mb", int, 256, "Verify C2PA signatures (a full read) only for files "
               "up to this size.", flag="--verify-limit", metavar="MB", minimum=0),
        Option("verify_all", bool, False, "Verify C2PA of every file, whatever its size.",
               flag="--verify-all"),
        Option("trust_anchors", str, None, "PEM file of C2PA trust anchors (makes 'valid' "
               "signers 'trusted').", flag="--trust-anchors", metavar="PEM", path=True),
    )

    def available(self) -> tuple[bool, str]:
        """Installed? (cheap: nothing imported). The offline self-test runs before the first
        reader context of a process is made (``_contexts``): a scan whose files hold no C2PA
        store never imports c2pa-python at all."""
        import importlib.util

        if importlib.util.find_spec("c2pa") is None:
            return False, "c2pa-python not installed"
        return True, ""

    def check_options(self, options: Options) -> None:
        """Trust anchors must be a readable PEM bundle of X.509 certificates (checked by
        OpenSSL through the standard library, without importing c2pa-python)."""
        path = self.settings(options)["trust_anchors"]
        if path is None:
            return
        import ssl

        try:
            ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations(
                cadata=_read_anchors(path))
        except (ssl.SSLError, ValueError) as exc:  # (SSLError is an OSError: first)
            raise ConfigError(f"trust anchors {path} are not a PEM bundle of X.509 "
                              f"certificates ({getattr(exc, 'reason', None) or exc})") from None
        except OSError as exc:
            raise ConfigError(f"cannot read trust anchors {path}: "
                              f"{getattr(exc, 'strerror', None) or exc}") from None

    def covers(self, media_type: str, kind: str) -> tuple[str, str]:
        from detectors.formats import registry

        if not (kind in MEDIA_KINDS or media_type in OTHER_TYPES or media_type == C2PA_STORE_TYPE):
            return "no", "not a media file"
        if media_type not in rd.supported_formats():
            return "no", "c2pa-python does not read this format (a .c2pa sidecar still counts)"
        fmt = registry.format_of(media_type)
        walk = fmt is not None and fmt.c2pa is not None
        return "yes", "structure pre-filter, then c2pa-python" if walk else "c2pa-python"

    def applies(self, asset: Asset, ctx: AssetContext) -> bool:
        return (asset.kind in MEDIA_KINDS or asset.media_type in OTHER_TYPES
                or (asset.kind == "sidecar" and asset.media_type == C2PA_STORE_TYPE))

    def stage(self, asset: Asset, options: Options) -> int:
        """Reading a manifest is a structure read; verifying its signature hashes the whole
        file, cheap for a still, not for a master: files that big are checked in stage 2."""
        cfg = self.settings(options)
        verifies = cfg["verify_all"] or asset.size <= cfg["verify_limit_mb"] * rd.MIB
        return 2 if verifies and asset.size > STAGE1_VERIFY_BYTES else 1

    def about(self) -> dict[str, str]:
        """Results depend on the shared vocabularies, the validation-code table and c2pa-rs."""
        from importlib.metadata import PackageNotFoundError
        from importlib.metadata import version as dist_version

        try:
            lib = dist_version("c2pa-python")
        except PackageNotFoundError:
            lib = "not installed"
        return {"c2pa-python": lib, "dst": dst_version(), "vendors": vendor_version(),
                "validation codes": rules().version}

    def rules(self) -> list[RuleInfo]:
        from detectors.vocab import dst_terms, vendors

        spec = "https://spec.c2pa.org/specifications/specifications/2.2/specs/C2PA_Specification.html"
        out = [RuleInfo(f"c2pa.dst.{term}", DETECTOR, verdict, "verified",
                        f"C2PA digitalSourceType {term}: {label}",
                        "https://cv.iptc.org/newscodes/digitalsourcetype/", "C2PA")
               for term, verdict, label in dst_terms() if verdict in (AI, REVIEW)]
        out += [RuleInfo(vendor_rule(v.id), DETECTOR, v.verdict, "verified",
                         f"C2PA claim names {v.vendor}", v.reference, v.vendor)
                for v in vendors() if v.verdict in (AI, REVIEW)]
        out += [RuleInfo(rid, DETECTOR, REVIEW, "declared", title, spec, "C2PA")
                for rid, title in (
                    ("c2pa.remote-manifest", "C2PA manifest only referenced remotely (not fetched)"),
                    ("c2pa.unreadable", "C2PA manifest store present but unreadable"),
                    ("c2pa.sidecar-unreadable", "C2PA sidecar next to the file unreadable"),
                    ("c2pa.corrupt", "C2PA manifest changed after signing or malformed"))]
        return out

    def explain(self, asset: Asset, ctx: AssetContext) -> dict[str, Any]:
        """The whole manifest store as c2pa-python reads it (what ``c2patool FILE`` shows):
        every manifest, assertion, ingredient and signature, and the validation results."""
        if asset.kind == "sidecar":
            with ctx.open() as fh:
                out = rd.read_store(fh, C2PA_STORE_TYPE, self._contexts(ctx).quick,
                                    verified=False, budget=rd.QUICK_BUDGET)
        else:
            found = locate(asset.media_type, asset.size, ctx.head, ctx.open)
            if found.state == ABSENT and not ctx.sidecar(".c2pa"):
                return {"manifest_store": None, "structure": found.why}
            verify, why_not = self._verify_plan(asset, ctx)
            if found.unbound is not None:
                if found.unbound.span is None:
                    return {"manifest_store": None, "structure": found.why}
                out, _ = self._read_unbound(found, asset, ctx, self._contexts(ctx), verify)
                return {"reader": out.kind, "verified": out.verified, "structure": found.why,
                        "message": out.message or None, "manifest_store": out.store}
            with ctx.open() as fh:
                out = self._read(fh, rd.format_hint(asset.media_type), self._contexts(ctx),
                                 verify, asset.size)
        return {"reader": out.kind, "verified": out.verified,
                "message": out.message or None, "remote_url": out.remote_url or None,
                "manifest_store": out.store}

    def _anchors(self, ctx: AssetContext) -> str | None:
        path = self.settings(ctx.options)["trust_anchors"]
        if path is None:
            return None
        return ctx.shared.get(f"c2pa.anchors:{path}", lambda: _read_anchors(path))

    # ----------------------------------------------------------------------------------------

    def _contexts(self, ctx: AssetContext) -> rd.Contexts:
        # Keyed by PID: a Shared that crossed a fork must not hand out the parent's Contexts.
        key = f"c2pa.contexts.{os.getpid()}"
        return ctx.shared.get(key, lambda: _proven_contexts(self._anchors(ctx)),
                              lambda c: c.close())

    def detect(self, asset: Asset, ctx: AssetContext) -> Iterable[Finding]:
        if self.settings(ctx.options)["trust_anchors"]:
            self._contexts(ctx)  # unusable anchors fail every file loudly, signed or not
        try:
            if asset.kind == "sidecar":
                return list(self._standalone(asset, ctx, self._contexts(ctx)))
            return list(self._asset(asset, ctx))
        except rd.BudgetExceeded as exc:
            # c2pa-rs parses some formats (PDF, SVG) whole even without verification.
            raise Incomplete(f"{exc}; C2PA not checked: this format is read whole, raise "
                             "--verify-limit or use --verify-all") from exc

    def _verify_plan(self, asset: Asset, ctx: AssetContext) -> tuple[bool, str]:
        cfg = self.settings(ctx.options)
        if cfg["verify_all"] or asset.size <= cfg["verify_limit_mb"] * rd.MIB:
            return True, ""
        return False, OVER_LIMIT

    def _read(self, fh: Any, fmt: str | None, contexts: rd.Contexts, verify: bool, size: int,
              manifest_data: bytes | None = None) -> rd.Outcome:
        """Verifying read when planned; if that cannot parse the store, a manifest-only read,
        so that detection never depends on verification."""
        if verify:
            outcome = rd.read_store(fh, fmt, contexts.verify, verified=True,
                                    budget=4 * size + 16 * rd.MIB, manifest_data=manifest_data)
            if outcome.kind != rd.UNREADABLE:
                return outcome
            quick = rd.read_store(fh, fmt, contexts.quick, verified=False,
                                  budget=rd.QUICK_BUDGET, manifest_data=manifest_data)
            if quick.kind == rd.STORE:
                quick.notes.append(f"C2PA verification failed ({outcome.message}); manifest "
                                   "read without verification")
                quick.failure = outcome.message
                return quick
            return outcome
        return rd.read_store(fh, fmt, contexts.quick, verified=False, budget=rd.QUICK_BUDGET,
                             manifest_data=manifest_data)

    def _asset(self, asset: Asset, ctx: AssetContext) -> Iterator[Finding]:
        sidecar = ctx.sidecar(".c2pa")
        found = locate(asset.media_type, asset.size, ctx.head, ctx.open)
        if found.unbound is not None:
            # c2pa-rs refuses the container: the walk is the only answer, pre-filter or not.
            yield from self._unbound(found, asset, ctx, sidecar)
            return
        if self.prefilter:
            if found.state == DAMAGED:
                raise Incomplete(f"{found.why}: C2PA not checked (c2pa-python not called on a "
                                 "structure it would mis-read)")
            if found.state == ABSENT and not sidecar:
                for note in NO_STORE_CHECKED:
                    ctx.note(note)
                return
        contexts = self._contexts(ctx)  # imports c2pa-python on first use in this process
        verify, why_not = self._verify_plan(asset, ctx)
        fmt = rd.format_hint(asset.media_type)
        with ctx.open() as fh:
            embedded = self._read(fh, fmt, contexts, verify, asset.size)
            yield from self._embedded(embedded, asset, ctx, why_not, has_sidecar=bool(sidecar))
            if sidecar:
                yield from self._sidecar(sidecar, fh, fmt, asset, ctx, contexts, verify, why_not,
                                         embedded)

    def _unbound(self, found: Located, asset: Asset, ctx: AssetContext,
                 sidecar: str | None) -> Iterator[Finding]:
        """A container c2pa-rs refuses (RF64/BW64): the structure walk said what it holds."""
        ub = found.unbound
        assert ub is not None
        verify, why_not = self._verify_plan(asset, ctx)
        embedded = rd.Outcome(rd.ABSENT)
        if ub.remote:
            embedded = rd.Outcome(rd.REMOTE, message=found.why)
            yield from self._embedded(embedded, asset, ctx, why_not, has_sidecar=bool(sidecar))
        elif ub.span is not None:
            embedded, why_not = self._read_unbound(found, asset, ctx, self._contexts(ctx),
                                                   verify)
            for note in embedded.notes:
                ctx.note(note)
            if embedded.kind == rd.STORE:
                yield from self._judge(embedded, ctx, UNBOUND_ORIGIN, why_not)
            elif embedded.kind == rd.REMOTE:
                yield self._remote(embedded)
            else:
                yield self._unreadable(embedded, ctx, structural_check=False)
        elif not sidecar:
            for note in NO_STORE_CHECKED:
                ctx.note(note)
            ctx.note(found.why)
        if sidecar:
            # Given a store as manifest data, c2pa-rs hashes the file's bytes without parsing
            # the container, so a sidecar's data hash is checked as for any WAV.
            with ctx.open() as fh:
                yield from self._sidecar(sidecar, fh, ub.fmt or None, asset, ctx,
                                         self._contexts(ctx), verify, why_not, embedded)

    def _read_unbound(self, found: Located, asset: Asset, ctx: AssetContext,
                      contexts: rd.Contexts, verify: bool) -> tuple[rd.Outcome, str]:
        """(outcome, why not verified) for a store in a chunk c2pa-rs cannot locate itself.

        The store is read on its own first (claims, and the data-hash exclusions). When
        verification is planned and the active manifest binds the asset by a data hash that
        leaves out only the store's own chunk, c2pa-rs is given the store as manifest data and
        hashes the whole file; otherwise the findings say why the binding was not checked."""
        ub = found.unbound
        assert ub is not None and ub.span is not None
        offset, length = ub.span
        if length > rd.SIDECAR_LIMIT:
            raise Incomplete(f"{found.why}: a store of {length} bytes is over the "
                             f"{rd.SIDECAR_LIMIT // rd.MIB} MiB limit; C2PA not checked")
        with ctx.open() as fh:
            fh.seek(offset)
            data = fh.read(length)
        if len(data) != length:
            raise Incomplete(f"{found.why}: the file ended inside the C2PA chunk")
        alone = rd.read_store(io.BytesIO(data), C2PA_STORE_TYPE, contexts.quick, verified=False,
                              budget=rd.QUICK_BUDGET, exclusions=True)
        if alone.kind == rd.ABSENT:
            alone = rd.Outcome(rd.UNREADABLE, message=f"{found.why}: no manifest store in the "
                               f"chunk ({alone.message})")
        if alone.kind != rd.STORE:
            return alone, ""
        where = found.why.split(";")[0]
        if not verify:
            limit = self.settings(ctx.options)["verify_limit_mb"]
            return alone, (f"{where} read on its own; file larger than verify limit "
                           f"({limit} MiB), binding to the audio not checked")
        chunk = (ub.chunk_at, offset + length + (length & 1))
        ranges = alone.exclusions
        if not ranges or any(s < chunk[0] or s + n > chunk[1] for s, n in ranges):
            what = ("has no data hash" if not ranges else
                    "data hash excludes " + ", ".join(f"{s}+{n}" for s, n in ranges[:4]) +
                    f", not just the C2PA chunk at {chunk[0]}-{chunk[1]}")
            return alone, (f"{where} read on its own: the container is not read by c2pa-rs "
                           f"and the active manifest {what}; binding to the audio not checked")
        with ctx.open() as fh:
            bound = rd.read_store(fh, ub.fmt or None, contexts.verify, verified=True,
                                  budget=4 * asset.size + 16 * rd.MIB, manifest_data=data)
        if bound.kind != rd.STORE:
            alone.notes.append(f"C2PA verification failed ({bound.message}); manifest read "
                               "without verification")
            alone.failure = bound.message
            return alone, ""
        bound.notes.append(f"{where}: binding checked as a data hash over the file's bytes "
                           "(c2pa-rs does not parse this container)")
        return bound, ""

    def _embedded(self, out: rd.Outcome, asset: Asset, ctx: AssetContext, why_not: str,
                  has_sidecar: bool) -> Iterator[Finding]:
        for note in out.notes:
            ctx.note(note)
        if out.kind == rd.STORE:
            yield from self._judge(out, ctx, "embedded", why_not)
        elif out.kind == rd.ABSENT:
            if not has_sidecar:
                ctx.note("no C2PA store")
        elif out.kind == rd.UNSUPPORTED:
            if not has_sidecar:
                raise NotApplicable(f"format not read by c2pa-python ({asset.media_type})")
            ctx.note(f"format not read by c2pa-python ({asset.media_type}); only its .c2pa "
                     "sidecar was checked")
        elif out.kind == rd.REMOTE:
            if not has_sidecar:
                yield self._remote(out)
            else:
                ctx.note(f"C2PA remote manifest reference {out.remote_url or out.message!r}; "
                         "the local .c2pa sidecar was read instead")
        else:
            yield self._unreadable(out, ctx)

    def _sidecar(self, path: str, fh: Any, fmt: str | None, asset: Asset, ctx: AssetContext,
                 contexts: rd.Contexts, verify: bool, why_not: str,
                 embedded: rd.Outcome) -> Iterator[Finding]:
        name = os.path.basename(path)
        origin = f"sidecar {name}"
        try:
            data = _read_limited(path, rd.SIDECAR_LIMIT)
        except OSError as exc:
            yield self._sidecar_unreadable(name, f"cannot read: {exc}")
            return
        if data is None:
            yield self._sidecar_unreadable(name, f"larger than {rd.SIDECAR_LIMIT // rd.MIB} MiB")
            return
        out = self._read(fh, fmt, contexts, verify, asset.size, manifest_data=data)
        if out.kind == rd.UNSUPPORTED:
            # The asset's format cannot be bound; the store alone still says what it claims.
            out = rd.read_store(io.BytesIO(data), C2PA_STORE_TYPE, contexts.quick, verified=False,
                                budget=rd.QUICK_BUDGET)
            why_not = f"{asset.media_type} not bound by c2pa-python; sidecar read on its own"
        for note in out.notes:
            ctx.note(note)
        if out.kind == rd.STORE:
            if embedded.kind == rd.STORE:
                ctx.note(f"C2PA sidecar {name} read as well as the embedded store")
            yield from self._judge(out, ctx, origin, why_not)
        else:
            yield self._sidecar_unreadable(name, out.message or out.kind)

    def _standalone(self, asset: Asset, ctx: AssetContext,
                    contexts: rd.Contexts) -> Iterator[Finding]:
        """A ``.c2pa`` store on its own: its claims are readable, its hard binding cannot be
        checked without the asset, so it is read without verification."""
        with ctx.open() as fh:
            out = rd.read_store(fh, C2PA_STORE_TYPE, contexts.quick, verified=False,
                                budget=rd.QUICK_BUDGET)
        if out.kind == rd.STORE:
            yield from self._judge(out, ctx, "standalone store", "standalone manifest store")
        elif out.kind == rd.REMOTE:
            yield self._remote(out)
        else:
            yield self._unreadable(out, ctx, structural_check=False)

    # ----------------------------------------------------------------------------------------

    def _judge(self, out: rd.Outcome, ctx: AssetContext, origin: str,
               why_not: str) -> Iterator[Finding]:
        assert out.store is not None
        sc = StoreContext(origin, out.verified, "" if out.verified else why_not, out.failure)
        if not out.verified and why_not == OVER_LIMIT:
            limit = self.settings(ctx.options)["verify_limit_mb"]
            ctx.note(f"C2PA present, not verified: file larger than verify limit "
                     f"({limit} MiB; --verify-all to force)")
        judgement = judge_store(out.store, sc)
        for note in judgement.notes:
            ctx.note(note)
        yield from judgement.findings

    def _remote(self, out: rd.Outcome) -> Finding:
        url = out.remote_url or "(URL not reported)"
        return Finding(DETECTOR, "c2pa.remote-manifest", REVIEW, "declared",
                       "xmp:dcterms:provenance", truncate(url),
                       "C2PA manifest is only referenced remotely (XMP dcterms:provenance); "
                       "not fetched (offline scan), so what it says is unknown",
                       {"remote_url": url, "reader_message": truncate(out.message)})

    def _unreadable(self, out: rd.Outcome, ctx: AssetContext,
                    structural_check: bool = True) -> Finding:
        if structural_check and "could not be parsed" in out.message \
                and not any(marker in ctx.head for marker in _C2PA_EVIDENCE):
            # The container itself is damaged and shows no sign of C2PA: an unreadable file,
            # not a provenance signal.
            raise Incomplete(f"c2pa-python could not parse the file: {out.message}")
        return Finding(DETECTOR, "c2pa.unreadable", REVIEW, "declared", "c2pa:store",
                       truncate(out.message),
                       "C2PA manifest store present but unreadable or corrupt; its claims "
                       "cannot be checked", {"reader_message": truncate(out.message)})

    def _sidecar_unreadable(self, name: str, why: str) -> Finding:
        return Finding(DETECTOR, "c2pa.sidecar-unreadable", REVIEW, "declared",
                       f"c2pa:sidecar[{name}]", truncate(why),
                       f"C2PA sidecar {name} next to this file could not be read; its claims "
                       "cannot be checked", {"sidecar": name, "reader_message": truncate(why)})


def _read_anchors(path: str) -> str:
    with open(path, encoding="utf-8") as fh:
        return fh.read(rd.SIDECAR_LIMIT)


def _read_limited(path: str, limit: int) -> bytes | None:
    """The whole file, or None when it is larger than ``limit`` (never reads past it)."""
    chunks: list[bytes] = []
    total = 0
    with open_readonly(path) as fh:
        while total <= limit:
            chunk = fh.read(limit + 1 - total)
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
    return None if total > limit else b"".join(chunks)
