"""The detector plugin API.

A detector is a small object with a ``name``, a ``version``, the asset ``kinds`` it applies to,
and ``detect(asset, ctx) -> iterable of Finding``. It is a pure function of the asset plus the
shared per-asset context: detectors never talk to each other; shared facts (the file header,
parsed XMP, ExifTool output) come through ``AssetContext.memo`` so each is read at most once.

Ways a detector reports what it did (coverage):
- return findings (possibly none): ``applied``;
- ``ctx.note("no C2PA store")``: a qualified "no" or a caveat, shown in coverage;
- raise ``NotApplicable("reason")``: this detector cannot apply to this file's format;
- raise ``Incomplete("reason")`` (or any exception): the detector could not finish; the asset
  becomes ``error`` unless another finding already says ai/review.
Findings yielded before an exception are kept.
"""

from __future__ import annotations

import abc
import collections
import os
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

from detectors.model import Asset, Finding
from detectors.remote import info as remote_info
from detectors.remote import is_remote, open_remote
from detectors.remote import names as remote_names

T = TypeVar("T")

HEAD_SIZE = 64 * 1024


class NotApplicable(Exception):
    """Raised by a detector when the file's format is outside what it can read."""


class Incomplete(Exception):
    """Raised by a detector that could not fully read a file it should have read."""


class ConfigError(ValueError):
    """A detector's options cannot work (a register that is not a register, trust anchors that
    are not certificates): raised by ``check_options`` before the scan starts, so a setup
    mistake stops the run with one message instead of failing every file."""


@dataclass(frozen=True)
class Option:
    """One setting a detector declares (``Detector.options``). Set as ``<key> = value`` in a
    policy's ``[detectors.<name>]`` table, as ``--set <name>.<key>=VALUE`` on the command line,
    through the declared ``flag``, or in ``scanner.scan(settings=...)``. Values are checked
    here, once, with the same message wherever they come from."""

    key: str
    type: type  # bool | int | float | str
    default: Any
    help: str
    flag: str | None = None  # a command-line shortcut of its own, e.g. "--deep"
    metavar: str | None = None
    envvar: str | None = None  # the flag's environment variable
    minimum: float | None = None
    path: bool = False  # a file: relative to the policy that names it, and must exist
    enables: bool = False  # giving it turns an off-by-default detector on

    def parse(self, value: Any) -> Any:
        """``value`` checked and converted (text from the command line too); ``ValueError``
        with a message naming the expected form."""
        want = self.type
        if isinstance(value, str) and want is not str:
            text = value.strip().lower()
            if want is bool:  # never bool(text): every non-empty word would be True
                if text not in ("true", "yes", "on", "1", "false", "no", "off", "0"):
                    raise ValueError(f"must be {_kind(want)}, got {value!r}")
                value = text in ("true", "yes", "on", "1")
            else:
                try:
                    value = want(text)
                except ValueError:
                    raise ValueError(f"must be {_kind(want)}, got {value!r}") from None
        if want is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if value is None and self.default is None:
            return None
        if not isinstance(value, want) or (want is not bool and isinstance(value, bool)):
            raise ValueError(f"must be {_kind(want)}, got {value!r}")
        if self.minimum is not None and value < self.minimum:  # type: ignore[operator]
            raise ValueError(f"must be {_kind(want)} >= {self.minimum:g}, got {value!r}")
        if want is str and self.path and not value:
            raise ValueError("must be a file path")
        return value


def _kind(t: type) -> str:
    return {bool: "true or false", int: "a whole number", float: "a number",
            str: "a string"}.get(t, t.__name__)


@dataclass(frozen=True)
class RuleInfo:
    """One rule a detector can report, for policies (rule modes, approvals), ``deliverscan
    rules`` and SARIF. ``id`` is a stable key: policies and baselines refer to it."""

    id: str
    detector: str
    verdict: str  # "ai" | "review" | "table" (the shared vocabulary decides)
    tier: str
    title: str
    reference: str = ""  # a public URL (spec, vendor documentation) where it is documented
    tool: str = ""
    fields: tuple[str, ...] = ()


@dataclass
class Options:
    """What a scan hands detectors: the core settings every detector shares, and each
    detector's own declared settings (``settings[name]``, validated, defaults filled in by
    ``Detector.settings``)."""

    file_timeout: float = 30.0
    show_prompts: bool = False  # prompts and workflows shown whole in reports
    settings: dict[str, dict[str, Any]] = field(default_factory=dict)


class Shared:
    """Per-worker resources (C2PA contexts, the ExifTool driver...), created lazily in the
    process that uses them (a C2PA Context inherited through fork is unusable)."""

    def __init__(self, options: Options) -> None:
        self.options = options
        self._items: dict[str, Any] = {}
        self._closers: list[Callable[[], Any]] = []
        # Called during long work on one file (each member of an archive): the worker uses
        # it to restart that file's time limit, which is per file, not per archive.
        self.heartbeat: Callable[[], None] = lambda: None

    def get(self, key: str, factory: Callable[[], T], close: Callable[[T], Any] | None = None) -> T:
        if key not in self._items:
            value = factory()
            self._items[key] = value
            if close is not None:
                closer: Callable[[T], Any] = close
                self._closers.append(lambda v=value: closer(v))  # type: ignore[misc]
        return self._items[key]

    def close(self) -> None:
        while self._closers:
            try:
                self._closers.pop()()
            except Exception:  # closing must never mask the scan's own result
                pass
        self._items.clear()


def open_readonly(path: str) -> Any:
    """Open a regular file for reading, safely on hostile trees.

    ``O_NONBLOCK`` so that a FIFO swapped in after the walk cannot block us, ``O_NOFOLLOW`` so a
    symlink swapped in is not followed, then ``fstat`` to insist on a regular file; ``O_NOATIME``
    where permitted so scanning does not even touch access times. A store URL
    (``s3://...``) is opened read-only through fsspec (``detectors.remote``).
    """
    if is_remote(path):
        return open_remote(path)
    flags = (os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0)
             | getattr(os, "O_CLOEXEC", 0))
    noatime = getattr(os, "O_NOATIME", 0)
    try:
        fd = os.open(path, flags | noatime)
    except PermissionError:
        if not noatime:
            raise
        fd = os.open(path, flags)  # O_NOATIME needs file ownership; plain read-only then
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise OSError(f"not a regular file (mode {stat.filemode(st.st_mode)})")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb", buffering=0)
    except BaseException:
        os.close(fd)
        raise


def sha256_file(path: str) -> str:
    """Content hash of a whole file (approvals and the register are keyed by content). The
    one full read outside the detectors' own bounded reads; callers decide when it is due."""
    import hashlib

    h = hashlib.sha256()
    with open_readonly(path) as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


class AssetContext:
    """Everything a detector may share with others about one asset, read at most once."""

    def __init__(self, asset: Asset, shared: Shared) -> None:
        self.asset = asset
        self.shared = shared
        self.options = shared.options
        self._memo: dict[str, Any] = {}
        self._notes: list[str] = []
        self._head: bytes | None = None

    @property
    def head(self) -> bytes:
        """The first 64 KiB of the file (enough for magic bytes and most headers)."""
        if self._head is None:
            with open_readonly(self.asset.fs_path) as fh:
                self._head = fh.read(HEAD_SIZE)
        return self._head

    def open(self) -> Any:
        return open_readonly(self.asset.fs_path)

    def read_at(self, offset: int, n: int) -> bytes:
        """Up to ``n`` bytes at ``offset``: from the head when it holds them, else the file."""
        if offset + n <= len(self.head) or len(self.head) < HEAD_SIZE:
            return self.head[offset:offset + n]
        with self.open() as fh:
            if is_remote(self.asset.fs_path):  # a ranged read of the object
                fh.seek(offset)
                return bytes(fh.read(n))
            return os.pread(fh.fileno(), n, offset)

    def memo(self, key: str, factory: Callable[[], T]) -> T:
        """Compute a shared fact once per asset (exceptions are cached too, and re-raised)."""
        if key not in self._memo:
            try:
                self._memo[key] = (True, factory())
            except Exception as exc:  # noqa: BLE001 - re-raised to every caller
                self._memo[key] = (False, exc)
        ok, value = self._memo[key]
        if not ok:
            raise value
        return value

    def note(self, text: str) -> None:
        self._notes.append(text)

    def take_notes(self) -> list[str]:
        notes, self._notes = self._notes, []
        return notes

    @property
    def neighbourhood(self) -> str:
        """The path sidecars of this asset are named after: the file itself, an archive
        member's copy (its sidecars are copied beside it), but for an object-store file read
        from a local copy, its place in the store (where its sidecars are)."""
        a = self.asset
        return a.path if is_remote(a.path) and a.container is None else a.fs_path

    def sidecar(self, ext: str) -> str | None:
        """Path of ``<stem><ext>`` (or upper-case ext) next to the asset when it is a regular
        file, else None."""
        stem, _ = os.path.splitext(self.neighbourhood)
        return self.sibling(stem + ext) or self.sibling(stem + ext.upper())

    def sibling(self, path: str) -> str | None:
        """``path`` if it names a regular file in the asset's directory, else None. Looks in a
        cached listing of the directory first: detectors ask for several sidecar names per
        file, and a miss (the usual answer) then costs no system call."""
        folder = os.path.dirname(path)
        if folder == os.path.dirname(self.neighbourhood):  # the usual case: one listing check
            names = self.memo("sibling-names", lambda: _dir_names(folder))  # per asset
        else:
            names = _dir_names(folder)
        if names is not None and os.path.basename(path) not in names:
            return None
        if is_remote(path):
            try:
                return path if remote_info(path).get("type") == "file" else None
            except OSError:
                return None
        try:
            st = os.stat(path, follow_symlinks=False)
        except OSError:
            return None
        return path if stat.S_ISREG(st.st_mode) else None


_LISTINGS: collections.OrderedDict[str, tuple[int, frozenset[str]]] = collections.OrderedDict()
_LISTING_MAX_NAMES = 50_000


def _dir_names(dirpath: str) -> frozenset[str] | None:
    """Names in ``dirpath`` (a small per-process LRU keyed by the directory's mtime), or None
    when it cannot be listed or is too large to keep."""
    dirpath = dirpath or "."
    if is_remote(dirpath):
        return remote_names(dirpath)
    try:
        mtime = os.stat(dirpath).st_mtime_ns
        hit = _LISTINGS.get(dirpath)
        if hit is not None and hit[0] == mtime:
            _LISTINGS.move_to_end(dirpath)
            return hit[1]
        names = os.listdir(dirpath)
    except OSError:
        return None
    if len(names) > _LISTING_MAX_NAMES:
        return None
    listing = frozenset(names)
    _LISTINGS[dirpath] = (mtime, listing)
    while len(_LISTINGS) > 8:
        _LISTINGS.popitem(last=False)
    return listing


def options_digest(value: Any) -> str:
    """A short stable digest of option values (for cache tokens)."""
    import hashlib
    import json

    text = json.dumps(value, sort_keys=True, default=repr)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def file_identity(path: str | None) -> str:
    """A file as a cache-key ingredient, without reading it: path, size, mtime."""
    if not path:
        return "none"
    try:
        st = os.stat(path)
    except OSError as exc:
        return f"unreadable:{path}:{exc.errno}"
    return f"{os.path.realpath(path)}:{st.st_size}:{st.st_mtime_ns}"


def default_token(det: Any, options: Options) -> str:
    """``Detector.cache_token``'s default, also used for plugins that are not subclasses."""
    declared: tuple[Option, ...] = tuple(getattr(det, "options", ()) or ())
    given = options.settings.get(det.name, {})
    values = {o.key: given.get(o.key, o.default) for o in declared}
    for o in declared:
        if o.path:
            values[o.key] = file_identity(values[o.key])
    undeclared = {k: v for k, v in given.items() if k not in values}
    about = getattr(det, "about", None)
    return (f"{det.version}|{options_digest([values, undeclared])}|"
            f"{options_digest(about() if callable(about) else {})}")


READS = ("header", "structure", "file", "pixels", "essence")
COSTLY_READS = frozenset({"file", "pixels", "essence"})


class Detector(abc.ABC):
    """Base class for detectors (subclassing is optional; the attributes are the protocol).

    ``name`` is a stable key (policies, caches and reports refer to it). Built-in and
    third-party detectors register the same way, as ``deliverscan.detectors`` entry points."""

    name: ClassVar[str] = "unnamed"
    version: ClassVar[str] = "0"
    kinds: ClassVar[frozenset[str]] = frozenset()
    description: ClassVar[str] = ""
    # Off unless enabled by option/policy (e.g. the register detector needs a register file).
    default_enabled: ClassVar[bool] = True
    # Run order among detectors (and order of their findings in a result): lower first.
    order: ClassVar[int] = 100
    # The settings this detector takes (see ``Option``).
    options: ClassVar[tuple[Option, ...]] = ()
    # Seconds one file may need (matching whole programmes takes long): raises the per-file
    # time limit when the detector runs and no limit was given explicitly.
    file_time_needed: ClassVar[float | None] = None
    # What it must read of a file (its cost): "header" (the first bytes), "structure" (boxes,
    # chunks, tags: bounded reads), "file" (every byte, e.g. a hash), "pixels" (decoded
    # images or frames) or "essence" (decoded audio/video). Cheap readers run on the whole
    # tree first (stage 1); costly ones after (stage 2), see ``stage``.
    reads: ClassVar[str] = "structure"

    def settings(self, options: Options) -> dict[str, Any]:
        """This detector's settings: declared defaults, overridden by what was given (checked
        again here, so a malformed value fails loudly wherever it came from)."""
        given = options.settings.get(self.name, {})
        out = {}
        for o in self.options:
            try:
                out[o.key] = o.parse(given[o.key]) if o.key in given else o.default
            except ValueError as exc:
                raise ValueError(f"{self.name} option {o.key} {exc}") from None
        return out

    def rules(self) -> list[RuleInfo] | None:
        """Every rule id this detector can report (None: not declared)."""
        return None

    def about(self) -> dict[str, str]:
        """Versions of what results depend on besides the code (rule packs, libraries)."""
        return {}

    def covers(self, media_type: str, kind: str) -> tuple[str, str]:
        """How this detector reads files of ``media_type`` on this machine, for ``deliverscan
        detectors``: ``("yes" | "partial" | "no", why)``."""
        if kind in self.kinds:
            return "yes", ""
        return "no", f"reads {', '.join(sorted(self.kinds))} only"

    def available(self) -> tuple[bool, str]:
        """Whether this detector can run on this machine, and why not."""
        return True, ""

    def applies(self, asset: Asset, ctx: AssetContext) -> bool:
        """Whether this detector reads ``asset``. Must be cheap (the kind, the header in
        ``ctx.head``): it also decides, in stage 1, whether a costly detector is needed at all.
        May raise :class:`NotApplicable` to say why not."""
        return asset.kind in self.kinds

    def precheck(self, asset: Asset, ctx: AssetContext) -> str | None:
        """For a costly detector: the cheap test, run in stage 1 on every file (settings,
        header dimensions; never the costly read). A reason when this file will not be read
        (a not-applicable outcome saying so), None when it may be. Default: None."""
        return None

    def needs_path(self, asset: Asset, options: Options) -> bool:
        """Whether reading ``asset`` needs a file on the local disk (a decoder or tool that
        opens a path): for a file in an object store, the scanner then makes a bounded
        temporary copy. Readers of the head and of ranges (``ctx.open``) need none."""
        return self.reads in ("pixels", "essence")

    def stage(self, asset: Asset, options: Options) -> int:
        """1 when reading ``asset`` is cheap (header or structure reads), 2 when costly (the
        whole file, decoded pixels or essence). Stage 1 runs on every file of a scan first,
        so metadata verdicts for the whole tree come within seconds; stage 2 after, on the
        files whose costly detectors apply. Decided per file (a small file's hash is cheap)."""
        return 2 if self.reads in COSTLY_READS else 1

    def check_options(self, options: Options) -> None:
        """Raise :class:`ConfigError` when this detector's options cannot work. Called once,
        before the scan, in the process that starts it. The default accepts anything."""
        return None

    def cache_token(self, options: Options) -> str:
        """What, besides the file itself, this detector's result depends on: its version plus
        any rule pack or option that changes results (trust anchors, verify limit...). Cached
        results are reused only while the token is unchanged, so a new rule pack invalidates
        only this detector's entries. The default covers the version, ``about()`` and every
        declared setting (a file setting by the file's identity, so an edit counts)."""
        return default_token(self, options)

    @abc.abstractmethod
    def detect(self, asset: Asset, ctx: AssetContext) -> Iterable[Finding]:
        """Yield findings for ``asset``; see the module docstring for coverage signalling."""
