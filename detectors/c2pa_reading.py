"""Reading C2PA manifest stores with c2pa-python, offline and bounded.

Why a module of its own: every safety property of the C2PA detector lives here.
- Network off through a ``Context`` (``load_settings`` is ignored by the reader, and unknown
  settings keys are accepted silently), proven at start-up by ``self_test``.
- One pair of Contexts per process (a Context inherited through fork is unusable): a verifying
  one, and one with ``verify_after_reading=false`` that reads only the manifest (KBs) for files
  over the verify limit.
- Every byte c2pa-rs pulls goes through ``BoundedStream``, which counts it, enforces a budget,
  and remembers I/O errors (c2pa-rs turns them into junk messages like "Io: Success").
- c2pa errors are sorted into outcomes the detector can judge: no store, format not handled,
  remote reference, store present but unreadable.
"""

from __future__ import annotations

import copy
import io
import json
import os
import re
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

# Outcome kinds.
STORE = "store"  # a manifest store was read (store dict available)
ABSENT = "absent"  # the format was read and holds no C2PA
UNSUPPORTED = "unsupported"  # c2pa-rs does not read this format
REMOTE = "remote"  # only a remote manifest reference (never fetched)
UNREADABLE = "unreadable"  # C2PA data present but could not be parsed

NETWORK_OFF: dict[str, Any] = {
    "verify": {"remote_manifest_fetch": False, "ocsp_fetch": False},
    "core": {"allowed_network_hosts": []},
}

MIB = 1024 * 1024
QUICK_BUDGET = 64 * MIB  # bytes a non-verifying read may pull (a manifest is KBs)
SIDECAR_LIMIT = 32 * MIB  # largest .c2pa sidecar we load into memory
_REMOTE_RE = re.compile(r"must fetch remote manifests? from url\s+(\S+)", re.I)
_BLOCKED_RE = re.compile(r"not permitted by the allowed list", re.I)
SELFTEST_REMOTE = "c2pa_selftest_remote.jpg"
SELFTEST_SIGNED = "c2pa_selftest_signed.jpg"


class BudgetExceeded(OSError):
    """Raised inside a stream read when c2pa-rs wants more bytes than we allow."""


def settings(verify: bool, trust_anchors: str | None = None) -> dict[str, Any]:
    """Reader settings: always network-off; ``verify=False`` reads only the manifest."""
    out = copy.deepcopy(NETWORK_OFF)
    out["verify"]["verify_after_reading"] = verify
    if trust_anchors:
        out["trust"] = {"user_anchors": trust_anchors}
    return out


class BoundedStream:
    """A read-only file-like for c2pa's ``Stream``: counts bytes, enforces a budget, keeps the
    first I/O error so it can be reported as such (not as a C2PA problem)."""

    def __init__(self, raw: Any, budget: int) -> None:
        self._raw = raw
        self.budget = budget
        self.bytes_read = 0
        self.error: OSError | None = None

    def _take(self, n: int) -> int:
        if self.bytes_read >= self.budget:
            self.error = self.error or BudgetExceeded(
                f"C2PA reader wanted more than {self.budget} bytes")
            raise self.error
        return min(n, self.budget - self.bytes_read)

    def readinto(self, buf: Any) -> int:
        view = memoryview(buf).cast("B")
        n = self._take(len(view))
        try:
            got = self._raw.readinto(view[:n])
        except OSError as exc:
            self.error = self.error or exc
            raise
        got = got or 0
        self.bytes_read += got
        return got

    def read(self, size: int = -1) -> bytes:
        n = self._take(size if size is not None and size >= 0 else self.budget)
        try:
            data = self._raw.read(n)
        except OSError as exc:
            self.error = self.error or exc
            raise
        self.bytes_read += len(data)
        return data

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._raw.seek(offset, whence)

    def tell(self) -> int:
        return self._raw.tell()

    def write(self, _data: bytes) -> int:
        raise io.UnsupportedOperation("read-only")

    def flush(self) -> None:
        return None


@dataclass
class Outcome:
    kind: str
    store: dict[str, Any] | None = None
    message: str = ""
    remote_url: str = ""
    verified: bool = False
    failure: str = ""  # why a verifying read failed when a manifest-only read then worked
    bytes_read: int = 0
    notes: list[str] = field(default_factory=list)
    # With ``exclusions=True``: the byte ranges (start, length) the active manifest's
    # ``c2pa.hash.data`` leaves out of its hash; None when it has no data hash.
    exclusions: list[tuple[int, int]] | None = None


def _c2pa() -> Any:
    import c2pa  # noqa: PLC0415 - optional at import time so the registry can report it

    return c2pa


def classify_error(exc: Exception) -> Outcome:
    """Sort a c2pa exception into an outcome (see module docstring)."""
    c2pa = _c2pa()
    text = str(exc) or type(exc).__name__
    if isinstance(exc, c2pa.C2paError.ManifestNotFound):
        return Outcome(ABSENT, message=text)
    if isinstance(exc, c2pa.C2paError.NotSupported):
        return Outcome(UNSUPPORTED, message=text)
    remote = _REMOTE_RE.search(text)
    if remote or _BLOCKED_RE.search(text) or isinstance(exc, c2pa.C2paError.RemoteManifest):
        return Outcome(REMOTE, message=text, remote_url=remote.group(1) if remote else "")
    return Outcome(UNREADABLE, message=text)


def data_hash_exclusions(detailed: Any) -> list[tuple[int, int]] | None:
    """The exclusion ranges of the active manifest's ``c2pa.hash.data`` assertions, from
    c2pa-python's ``detailed_json`` (the plain JSON omits hash assertions); None when the
    active manifest binds its asset otherwise (or the shape is not understood)."""
    if not isinstance(detailed, dict):
        return None
    manifests = detailed.get("manifests")
    active = detailed.get("active_manifest")
    manifest = manifests.get(active) if isinstance(manifests, dict) else None
    assertions = manifest.get("assertion_store") if isinstance(manifest, dict) else None
    if not isinstance(assertions, dict):
        return None
    found: list[tuple[int, int]] | None = None
    for label, data in assertions.items():
        if not (isinstance(label, str) and label.split("__")[0] == "c2pa.hash.data"):
            continue
        if not isinstance(data, dict) or not isinstance(data.get("exclusions", []), list):
            return None
        found = found or []
        for item in data.get("exclusions", []):
            start = item.get("start") if isinstance(item, dict) else None
            length = item.get("length") if isinstance(item, dict) else None
            if not (isinstance(start, int) and isinstance(length, int)):
                return None
            found.append((start, length))
    return found


def read_store(raw: Any, fmt: str | None, context: Any, *, verified: bool, budget: int,
               manifest_data: bytes | None = None, exclusions: bool = False) -> Outcome:
    """Read one manifest store from the file-like ``raw`` (positioned anywhere).

    I/O errors and budget overruns propagate as ``OSError`` (the caller cannot judge a file it
    could not read); every c2pa error becomes an ``Outcome``. ``exclusions`` also reports the
    active manifest's data-hash exclusions (:func:`data_hash_exclusions`).
    """
    c2pa = _c2pa()
    raw.seek(0)
    stream = BoundedStream(raw, budget)
    ranges: list[tuple[int, int]] | None = None
    try:
        with c2pa.Reader(fmt, stream, manifest_data, context) as reader:
            store = json.loads(reader.json())
            if exclusions:
                ranges = data_hash_exclusions(json.loads(reader.detailed_json()))
    except c2pa.C2paError as exc:
        if stream.error is not None:
            raise stream.error from exc
        outcome = classify_error(exc)
        outcome.bytes_read = stream.bytes_read
        return outcome
    if stream.error is not None:  # c2pa-rs recovered from a failed read: do not trust it
        raise stream.error
    return Outcome(STORE, store=store, verified=verified, bytes_read=stream.bytes_read,
                   exclusions=ranges)


@cache
def supported_formats() -> frozenset[str]:
    return frozenset(_c2pa().Reader.get_supported_mime_types())


def format_hint(media_type: str) -> str | None:
    """The sniffed (content-derived) media type when c2pa-rs knows it, else None (autodetect).
    Needed for SVG and standalone stores, which autodetection does not recognise."""
    return media_type if media_type in supported_formats() else None


class Contexts:
    """The two reader Contexts of one process. Create only in the process that reads."""

    def __init__(self, trust_anchors: str | None = None) -> None:
        c2pa = _c2pa()
        self.pid = os.getpid()
        self.anchors = trust_anchors or ""
        self.verify = c2pa.Context.from_dict(settings(True, trust_anchors))
        self.quick = c2pa.Context.from_dict(settings(False))
        if trust_anchors:
            self._check_anchors()

    def _check_anchors(self) -> None:
        """Bad anchors make every verifying read fail with a signature error, which would look
        like a corrupt manifest in every file, and PEM text c2pa-rs cannot use may be ignored
        silently: fail loudly instead."""
        from cryptography import x509  # a dependency of c2pa-python

        try:
            x509.load_pem_x509_certificates(self.anchors.encode("utf-8"))
        except ValueError as exc:
            self.close()
            raise ValueError(f"trust anchors: no usable PEM certificate ({exc})") from exc
        data = _data(SELFTEST_SIGNED)
        outcome = read_store(io.BytesIO(data), "image/jpeg", self.verify, verified=True,
                             budget=QUICK_BUDGET)
        if outcome.kind != STORE:
            self.close()
            raise ValueError(f"trust anchors rejected by c2pa-rs: {outcome.message}")

    def close(self) -> None:
        for ctx in (self.verify, self.quick):
            try:
                ctx.close()
            except Exception:  # noqa: BLE001 - closing must not mask the scan's result
                pass


def _data(name: str) -> bytes:
    return resources.files("detectors.data").joinpath(name).read_bytes()


_SELF_TEST: dict[int, tuple[bool, str]] = {}


def self_test_once() -> tuple[bool, str]:
    """``self_test`` once per process (its answer kept)."""
    pid = os.getpid()
    if pid not in _SELF_TEST:
        _SELF_TEST[pid] = self_test()
    return _SELF_TEST[pid]


def self_test() -> tuple[bool, str]:
    """Prove the network-off settings are in force before any file is read.

    Reads the bundled remote-reference JPEG with both reader configurations: each must stop
    with c2pa-rs's "must fetch remote manifest" error. A settings key that c2pa-rs silently
    ignored would show up here as a fetch attempt (to 127.0.0.1:9, so nothing leaves the
    machine). Also checks that a signed file verifies offline.
    """
    try:
        c2pa = _c2pa()
    except ImportError as exc:
        return False, f"c2pa-python not installed ({exc})"
    try:
        remote = _data(SELFTEST_REMOTE)
        signed = _data(SELFTEST_SIGNED)
    except OSError as exc:
        return False, f"self-test data missing: {exc}"
    for verify in (True, False):
        ctx = c2pa.Context.from_dict(settings(verify))
        try:
            outcome = read_store(io.BytesIO(remote), "image/jpeg", ctx, verified=verify,
                                 budget=QUICK_BUDGET)
            if outcome.kind != REMOTE or not _REMOTE_RE.search(outcome.message):
                return False, ("SELF-TEST FAILED: network-off settings not in force "
                               f"(verify={verify}): expected 'must fetch remote manifest', got "
                               f"{outcome.kind}: {outcome.message or 'a manifest'}")
            if verify:
                good = read_store(io.BytesIO(signed), "image/jpeg", ctx, verified=True,
                                  budget=QUICK_BUDGET)
                state = (good.store or {}).get("validation_state")
                if good.kind != STORE or state not in ("Valid", "Trusted"):
                    return False, ("SELF-TEST FAILED: offline verification of a signed file gave "
                                   f"{good.kind} {state or good.message}")
        except Exception as exc:  # noqa: BLE001 - any failure here makes the detector unusable
            return False, f"SELF-TEST FAILED: {type(exc).__name__}: {exc}"
        finally:
            ctx.close()
    return True, ""
