"""C2PA detector safety: no network, per-process Contexts, bounded reads, honest failures."""

from __future__ import annotations

import io
import multiprocessing
import os
import resource
import struct
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import c2pa
import pytest
from conftest import FIXTURES
from helpers import judged, options_for

from detectors import c2pa_reading as rd
from detectors.api import Options, Shared
from detectors.c2pa_provenance import C2paDetector
from detectors.model import Asset, AssetResult
from detectors.registry import Loaded
from fixtures import gen_c2pa as gen
from scanner.pipeline import scan_asset

C2PA_FIX = FIXTURES / "c2pa"
GIB = 1024**3


def _asset(path: Path | str) -> Asset:
    st = os.stat(path)
    return Asset(str(path), st.st_size, st.st_mtime_ns, "other")


def scan_one(path: Path | str, shared: Shared | None = None, **options: Any) -> AssetResult:
    loaded = Loaded("c2pa", "builtin", C2paDetector(), True)
    own = shared is None
    shared = shared or Shared(options_for("c2pa", **options))
    try:
        return judged(scan_asset(_asset(path), [loaded], shared))
    finally:
        if own:
            shared.close()


# --------------------------------------------------------------------------------------------
# No network


class _Listener:
    """A local HTTP server on 127.0.0.1 that records every request it gets."""

    def __init__(self) -> None:
        self.hits: list[str] = []
        hits = self.hits

        class Handler(BaseHTTPRequestHandler):
            def _any(self) -> None:
                hits.append(f"{self.command} {self.path}")
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST = do_HEAD = _any

            def log_message(self, *_args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.timeout = 2
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@pytest.fixture
def listener() -> Iterator[_Listener]:
    lst = _Listener()
    lst.thread.start()
    try:
        yield lst
    finally:
        lst.server.shutdown()
        lst.server.server_close()


def test_no_request_reaches_a_local_listener(listener: _Listener, tmp_path: Path) -> None:
    pki = gen.load_pki()
    signer = gen.make_signer(pki.chain, pki.leaf_key)
    src = gen.source("jpg", tmp_path)
    ai = gen.manifest("x.jpg", [gen.created("trainedAlgorithmicMedia")])
    remote, _ = gen.sign(src, "image/jpeg", ai, signer, no_embed=True,
                         remote_url=listener.url("/manifest.c2pa"))
    (tmp_path / "remote.jpg").write_bytes(remote)
    leaf, key = gen.make_leaf(pki.intermediate, pki.intermediate_key,
                              ocsp_url=listener.url("/ocsp"))
    ocsp, _ = gen.sign(src, "image/jpeg", ai, gen.make_signer(leaf + pki.intermediate, key))
    (tmp_path / "ocsp.jpg").write_bytes(ocsp)

    anchors = tmp_path / "root.pem"
    anchors.write_bytes(pki.root)
    for options in ({}, {"trust_anchors": str(anchors)}, {"verify_limit_mb": 0}):
        r = scan_one(tmp_path / "remote.jpg", **options)
        assert r.verdict == "review"
        assert r.findings[0].value == listener.url("/manifest.c2pa")
        o = scan_one(tmp_path / "ocsp.jpg", **options)
        assert o.verdict == "ai"
    assert listener.hits == []

    # Positive controls: the same files do reach the listener when c2pa-rs is allowed to.
    with c2pa.Context.from_dict({}) as default_ctx, \
            open(tmp_path / "remote.jpg", "rb") as fh, pytest.raises(c2pa.C2paError):
        c2pa.Reader("image/jpeg", fh, None, default_ctx)
    assert any("/manifest.c2pa" in h for h in listener.hits)
    before = len(listener.hits)
    with c2pa.Context.from_dict({"verify": {"ocsp_fetch": True}}) as ocsp_ctx, \
            open(tmp_path / "ocsp.jpg", "rb") as fh:
        c2pa.Reader("image/jpeg", fh, None, ocsp_ctx).close()
    assert len(listener.hits) > before  # an OCSP GET (the path is the encoded request)


def test_self_test_passes_and_catches_silently_ignored_settings(
        monkeypatch: pytest.MonkeyPatch) -> None:
    assert rd.self_test() == (True, "")
    # c2pa-rs accepts unknown keys silently: a typo would leave remote fetching on.
    monkeypatch.setattr(rd, "NETWORK_OFF", {"verify": {"remote_manifest_fetchh": False,
                                                       "ocsp_fetch": False}, "core": {}})
    ok, why = rd.self_test()
    assert not ok
    assert why.startswith("SELF-TEST FAILED: network-off settings not in force")
    # the test runs before the first reader context of a process: a file c2pa-rs would read
    # is then an error naming the failure (never clean); a file with no store needs no reader
    monkeypatch.setattr(rd, "_SELF_TEST", {})
    signed = scan_one(FIXTURES / "c2pa" / "formats" / "ai_created.jpg")
    assert signed.verdict == "error"
    assert any("SELF-TEST FAILED" in e.message for e in signed.errors)
    assert scan_one(FIXTURES / "meta" / "clean.png").verdict == "clean"


# --------------------------------------------------------------------------------------------
# Per-process Contexts


def _child(shared: Shared, path: str, queue: Any) -> None:
    try:
        verdict = scan_one(path, shared=shared).verdict
        mine = shared.get(f"c2pa.contexts.{os.getpid()}", lambda: None)
        queue.put((verdict, os.getpid(), getattr(mine, "pid", None)))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent
        queue.put(("crash", repr(exc), None))


def test_contexts_are_created_per_process_never_inherited_through_fork() -> None:
    """A Shared that crossed a fork still holds the parent's Contexts; the detector must build
    its own in the child (a forked native Context may hold locks of threads that are gone)."""
    path = str(C2PA_FIX / "formats" / "ai_created.png")
    shared = Shared(Options())
    try:
        assert scan_one(path, shared=shared).verdict == "ai"  # parent now holds Contexts
        parent_contexts = shared.get(f"c2pa.contexts.{os.getpid()}", lambda: None)
        assert isinstance(parent_contexts, rd.Contexts)
        assert parent_contexts.pid == os.getpid()
        mp = multiprocessing.get_context("fork")
        queue = mp.Queue()
        proc = mp.Process(target=_child, args=(shared, path, queue))
        proc.start()
        verdict, child_pid, contexts_pid = queue.get(timeout=30)
        proc.join(30)
    finally:
        shared.close()
    assert verdict == "ai", child_pid
    assert contexts_pid == child_pid != os.getpid()


# --------------------------------------------------------------------------------------------
# Large files: only the manifest is read above the verify limit


def _boxes(data: bytes) -> dict[bytes, bytes]:
    out, i = {}, 0
    while i < len(data):
        size, kind = struct.unpack(">I4s", data[i:i + 8])
        out[kind] = data[i:i + size]
        i += size
    return out


def _sparse_mp4(path: Path, total: int, with_c2pa: bool) -> None:
    """ftyp (+ the C2PA uuid box of a signed fixture) + moov + a 64-bit mdat, then truncate:
    a multi-GiB file that takes no disk space."""
    boxes = _boxes((C2PA_FIX / "formats" / "ai_created.mp4").read_bytes())
    head = boxes[b"ftyp"] + (boxes[b"uuid"] if with_c2pa else b"") + boxes[b"moov"]
    mdat = struct.pack(">I4sQ", 1, b"mdat", total - len(head))
    with path.open("wb") as fh:
        fh.write(head + mdat)
        fh.truncate(total)


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def test_large_sparse_mp4_scans_fast_with_bounded_memory(tmp_path: Path) -> None:
    big = tmp_path / "master.mp4"
    _sparse_mp4(big, 6 * GIB, with_c2pa=True)
    assert big.stat().st_size == 6 * GIB
    scan_one(C2PA_FIX / "formats" / "ai_created.jpg")  # warm up: library, Contexts
    rss0 = _peak_rss_mib()
    t0 = time.perf_counter()
    result = scan_one(big)
    elapsed = time.perf_counter() - t0
    assert elapsed < 5, elapsed  # a hang guard; the bytes c2pa-rs pulled (below) are the proof
    assert _peak_rss_mib() - rss0 < 64
    assert result.verdict == "ai"
    f = result.findings[0]
    assert f.tier == "declared"
    assert f.evidence["validation"] == "not verified (> verify limit)"
    notes = result.coverage[0].notes
    assert any(n.startswith("C2PA present, not verified: file larger than verify limit")
               for n in notes)
    # What c2pa-rs actually pulled through our stream: the boxes it walked, not the essence.
    with c2pa.Context.from_dict(rd.settings(False)) as ctx, big.open("rb") as fh:
        out = rd.read_store(fh, "video/mp4", ctx, verified=False, budget=rd.QUICK_BUDGET)
    assert out.kind == rd.STORE
    assert out.bytes_read < 64 * 1024, out.bytes_read


def test_unsigned_file_costs_no_verification(tmp_path: Path) -> None:
    """Under the verify limit, a file without C2PA is still only probed, never hashed."""
    plain = tmp_path / "plain.mp4"
    _sparse_mp4(plain, 200 * 1024 * 1024, with_c2pa=False)
    t0 = time.perf_counter()
    result = scan_one(plain)
    assert time.perf_counter() - t0 < 5  # a hang guard; bytes_read below is the proof
    assert result.verdict == "clean"
    assert "no C2PA store" in result.coverage[0].notes
    with c2pa.Context.from_dict(rd.settings(True)) as ctx, plain.open("rb") as fh:
        out = rd.read_store(fh, "video/mp4", ctx, verified=True, budget=GIB)
    assert out.kind == rd.ABSENT
    assert out.bytes_read < 64 * 1024, out.bytes_read


def test_verification_is_bounded_by_a_read_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    """c2pa-rs parses a PDF whole even without verification: over the verify limit, a PDF
    larger than the manifest-only budget is an explicit error, never a silent clean."""
    monkeypatch.setattr(rd, "QUICK_BUDGET", 2048)
    result = scan_one(C2PA_FIX / "formats" / "ai_created.pdf", verify_limit_mb=0)
    assert result.verdict == "error"
    message = result.errors[0].message
    assert "wanted more than 2048 bytes" in message and "--verify-all" in message
    # Within the budget the same file reads fine without verification.
    monkeypatch.setattr(rd, "QUICK_BUDGET", 64 * 1024)
    assert scan_one(C2PA_FIX / "formats" / "ai_created.pdf", verify_limit_mb=0).verdict == "ai"


class _FailingRaw(io.BytesIO):
    """A file whose reads fail after the first KB (a dying disk, a vanished NFS mount)."""

    def readinto(self, buf: Any) -> int:
        if self.tell() >= 1024:
            raise OSError(5, "Input/output error")
        return super().readinto(buf)


def test_io_errors_surface_as_errors_not_as_c2pa_verdicts() -> None:
    data = (C2PA_FIX / "formats" / "ai_created.wav").read_bytes()
    with c2pa.Context.from_dict(rd.settings(True)) as ctx, pytest.raises(OSError) as err:
        rd.read_store(_FailingRaw(data), "audio/wav", ctx, verified=True, budget=GIB)
    assert err.value.errno == 5


def test_unsupported_container_is_not_applicable_with_reason(tmp_path: Path) -> None:
    mkv = tmp_path / "clip.mkv"
    mkv.write_bytes(b"\x1a\x45\xdf\xa3" + bytes(60))
    result = scan_one(mkv)
    cov = result.coverage[0]
    assert cov.status == "not_applicable"
    assert cov.notes == ("format not read by c2pa-python (video/x-matroska)",)
    assert not result.findings


def test_pki_profile_c2pa_rs_requires(tmp_path: Path) -> None:
    """The fixture PKI is in the one profile c2pa-rs accepts: documentSigning EKU or a leaf
    without AKI is refused at signing time."""
    pki = gen.load_pki()
    src = gen.source("jpg", tmp_path)
    ai = gen.manifest("x.jpg", [gen.created("trainedAlgorithmicMedia")])
    for variant in ({"eku": "documentSigning"}, {"aki": False}):
        leaf, key = gen.make_leaf(pki.intermediate, pki.intermediate_key, **variant)
        with pytest.raises(c2pa.C2paError):
            gen.sign(src, "image/jpeg", ai, gen.make_signer(leaf + pki.intermediate, key))
    leaf, key = gen.make_leaf(pki.intermediate, pki.intermediate_key)
    signed, _ = gen.sign(src, "image/jpeg", ai, gen.make_signer(leaf + pki.intermediate, key))
    assert signed.startswith(b"\xff\xd8")
