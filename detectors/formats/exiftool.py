"""ExifTool driver for the deep metadata tier: one long-lived ``exiftool -stay_open`` process per
worker, robust against hostile files, hostile names and a dying ExifTool.

Why our own driver and not ``pyexiftool`` (0.5.6) or ``exiftool-wrapper`` (0.1.1 / 0.3.0):
both were measured (``../shared/reference/c2pa-exiftool-notes.md`` §3.4) and fail exactly where a
delivery scanner must not:

- ExifTool SIGKILLed mid-batch: both spin at 100 % CPU forever (``select`` says readable,
  ``read`` returns ``b""``, loop again; re-checked with pyexiftool 0.5.6: still stuck after 8 s,
  3.3 s of CPU burnt); we treat EOF as death, fail that one file, restart and carry on.
- 3000 missing files in one call: pyexiftool deadlocks (reads stderr only after stdout while
  ExifTool blocks on a full stderr pipe); exiftool-wrapper throws stderr away and then cannot
  parse its output. We poll stdout and stderr together and attribute stderr per file.
- A batch with one missing or deleted file: results shift (wrapper) or the whole batch is lost
  (pyexiftool). We send one ``-executeN`` per file, so results map 1:1 by sequence number, never
  by ``SourceFile`` (which ExifTool mangles to ``?`` for non-UTF-8 names).
- A file named ``-ver`` acts as an option in both; names with a newline break both. We pass
  absolute paths only; names an argfile line cannot carry (newline, CR) or that ExifTool
  reports mangled (non-UTF-8) go through a symlink in a private temp dir that keeps the
  extension (ExifTool picks the parser by extension).
- exiftool-wrapper leaves an orphan ExifTool when Python dies. Our child gets
  ``PR_SET_PDEATHSIG(SIGKILL)`` (Linux), and ``close()`` sends ``-stay_open False`` then kills.
- No per-file deadline in either. Ours: a read that exceeds ``timeout`` kills and restarts the
  process; only that file fails.

Arguments are fixed: ``-j -a -G3:1:4 -u -api LargeFileSupport=1`` (duplicates survive, unknown
tags and C2PA containers are visible, 64-bit boxes are followed on 12.x); never ``-fast*`` (misses
metadata after IDAT / after ``data``), never ``-ee`` or ``-b`` (they read or dump essence).
Directories are expanded by ExifTool, so only regular files are ever passed.

Results: ``read`` gives ExifTool's JSON object for the file (``SourceFile`` removed: it may name
our symlink). A file ExifTool could not read raises ``ExifToolError`` (``ExifTool:Error`` such as
"Unknown file type" / "File is empty" included; the partial tags are on ``.tags``), so a caller
never mistakes "unreadable" for "nothing found".

Caveat: ``PR_SET_PDEATHSIG`` fires when the *thread* that started the child exits. A driver
started in a short-lived thread sees its child die with that thread; the next read restarts it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import os
import re
import secrets
import select
import shutil
import signal
import stat
import subprocess
import tempfile
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

COMMON_ARGS: tuple[str, ...] = ("-j", "-a", "-G3:1:4", "-u", "-api", "LargeFileSupport=1")

_WINDOW = 32  # commands in flight (pipelining); bounded so memory and restarts stay small
_READ_CHUNK = 1 << 16
_MAX_RESTARTS_WITHOUT_SUCCESS = 5  # consecutive deaths before the rest of a batch is given up
_PR_SET_PDEATHSIG = 1
_STARTUP_TIMEOUT = 30.0


class ExifToolError(Exception):
    """ExifTool could not read one file. ``tags`` holds whatever it did output (may be empty)."""

    def __init__(self, message: str, path: str | None = None,
                 tags: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.tags: dict[str, Any] = tags or {}


class ExifToolDied(ExifToolError):
    """The ExifTool process died (or could not start) while this file was being read."""


def find_exiftool(path: str | None = None) -> str | None:
    """The ExifTool executable: ``path`` if it is an executable file, else ``exiftool`` on PATH."""
    if path:
        return path if os.path.isfile(path) and os.access(path, os.X_OK) else None
    return shutil.which("exiftool")


@cache
def exiftool_version(path: str | None = None) -> str | None:
    """ExifTool's version without starting Perl (~0.2 ms instead of ~100 ms): the script
    declares it near its top (``my $version = '12.57';``); else ask ``exiftool -ver``."""
    exe = find_exiftool(path)
    if exe is None:
        return None
    try:
        with open(exe, "rb") as fh:
            head = fh.read(8192)
    except OSError:
        head = b""
    found = re.search(rb"my \$version = '([0-9][0-9.]*)'", head)
    if found:
        return found.group(1).decode("ascii")
    try:
        out = subprocess.run([exe, "-ver"], capture_output=True, text=True, timeout=20,
                             stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def exiftool_identity(path: str | None = None) -> str:
    """Which ExifTool a result came from, without starting it (a cache-key ingredient): the
    resolved script's path, size and mtime change with every install or upgrade."""
    exe = find_exiftool(path)
    if exe is None:
        return "none"
    try:
        real = os.path.realpath(exe)
        st = os.stat(real)
    except OSError:
        return f"unreadable:{exe}"
    return f"{real}:{st.st_size}:{st.st_mtime_ns}"


# --- child process setup -------------------------------------------------------------------

def _load_prctl() -> Any:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        fn = libc.prctl
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    fn.restype = ctypes.c_int
    return fn


_PRCTL = _load_prctl()  # resolved in the parent: the child after fork only calls it


def _child_setup(parent_pid: int) -> Any:
    """preexec_fn: die with the parent (SIGKILL), and do not outlive a parent already gone."""

    def setup() -> None:
        if _PRCTL is not None:
            _PRCTL(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent_pid:  # parent died between fork and prctl
            os._exit(1)
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle

    return setup


# --- the driver ----------------------------------------------------------------------------

@dataclass
class _Job:
    index: int
    path: str  # as given by the caller (for messages)
    arg: bytes  # what goes on the argfile line (absolute path or symlink)
    link: bytes | None = None
    seq: int = 0


@dataclass
class _Proc:
    popen: subprocess.Popen[bytes]
    out: bytearray = field(default_factory=bytearray)
    err: bytearray = field(default_factory=bytearray)
    pending_in: bytearray = field(default_factory=bytearray)
    out_eof: bool = False
    err_eof: bool = False
    out_scan: int = 0


# ExifTool strips leading blanks and trailing CR/LF from argfile lines (FilterArgfileLine);
# an absolute path has no leading blank, so only CR and LF need the symlink detour.
_ODD_NAME = re.compile(rb"[\n\r]")
_SAFE_EXT = re.compile(rb"\.[A-Za-z0-9]{1,10}\Z")


class ExifToolDriver:
    """A ``-stay_open`` ExifTool, started lazily, restarted on death or timeout.

    ``read`` returns the JSON object ExifTool prints for one file; ``read_many`` pipelines files
    (one ``-executeN`` each) and returns, in order, a dict or an ``ExifToolError`` per path.
    Thread-safe (one read at a time); after ``fork`` the child starts its own process.
    """

    def __init__(self, executable: str, timeout: float = 30.0, *,
                 max_output: int = 64 << 20) -> None:
        self.executable = executable
        self.timeout = float(timeout)
        self.max_output = max_output
        self.restarts = 0  # processes started after the first (for tests and coverage notes)
        self._proc: _Proc | None = None
        self._owner_pid = os.getpid()
        self._started = 0
        self._seq = 0
        self._token = secrets.token_hex(6)  # stderr markers nobody can forge in a file name
        # ${status} is ExifTool's exit status for the command; tolerate versions that print it
        # literally rather than hang waiting for digits
        self._done_re = re.compile(rb"(?:^|\n)\{done-%s-(\d+) ([^}\n]*)\}\n"
                                   % self._token.encode())
        self._tmpdir: str | None = None
        self._lock = threading.RLock()
        self._version: str | None = None
        self._closed = False

    # -- public API --

    @property
    def version(self) -> str:
        """ExifTool's version (``-ver``), learnt from the start-up handshake (starts ExifTool)."""
        with self._lock:
            if self._version is None:
                if self._closed:
                    raise ExifToolError("ExifToolDriver is closed")
                self._check_fork()
                if self._proc is None or self._proc.popen.poll() is not None:
                    self._stop(graceful=False)
                    self._start()
            assert self._version is not None
            return self._version

    @property
    def pid(self) -> int | None:
        """Process id of the running ExifTool, if any."""
        return self._proc.popen.pid if self._proc is not None else None

    def read(self, path: str | os.PathLike[str] | bytes) -> dict[str, Any]:
        """Metadata of one regular file; raises ExifToolError if ExifTool could not read it."""
        result = self.read_many([path])[0]
        if isinstance(result, ExifToolError):
            raise result
        return result

    def read_many(self, paths: Iterable[str | os.PathLike[str] | bytes]
                  ) -> list[dict[str, Any] | ExifToolError]:
        """Read files in order, pipelined; one result (dict or ExifToolError) per path."""
        with self._lock:
            if self._closed:
                raise RuntimeError("ExifToolDriver is closed")
            self._check_fork()
            paths = list(paths)
            results: list[dict[str, Any] | ExifToolError | None] = [None] * len(paths)
            jobs: list[_Job] = []
            try:
                for i, p in enumerate(paths):
                    try:
                        jobs.append(self._prepare(i, p))
                    except ExifToolError as exc:
                        results[i] = exc
                self._run(deque(jobs), results)
            except BaseException:
                # interrupted mid-batch (Ctrl-C, a bug): commands may still be in flight and
                # their output would be taken for the next read's; start afresh next time
                self._stop(graceful=False)
                raise
            finally:
                for job in jobs:
                    self._unlink(job)
                self._drop_tmpdir()
            return [r if r is not None else ExifToolError("not read", str(paths[i]))
                    for i, r in enumerate(results)]

    def close(self) -> None:
        """Ask ExifTool to exit (``-stay_open False``), kill it if it does not, clean up."""
        with self._lock:
            self._closed = True
            if os.getpid() == self._owner_pid:
                self._stop(graceful=True)
                if self._tmpdir is not None:
                    shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._proc = None
            self._tmpdir = None

    def __enter__(self) -> ExifToolDriver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            if not self._closed:
                self.close()
        except Exception:  # noqa: BLE001 - interpreter shutdown; nothing sensible to do
            pass

    def _check_fork(self) -> None:
        if os.getpid() != self._owner_pid:  # forked: that process and temp dir are our parent's
            self._proc = None
            self._tmpdir = None
            self._owner_pid = os.getpid()

    # -- preparing arguments --

    def _prepare(self, index: int, path: str | os.PathLike[str] | bytes) -> _Job:
        shown = os.fsdecode(path) if not isinstance(path, str) else path
        try:
            raw = os.path.abspath(os.fsencode(path))
        except (TypeError, ValueError) as exc:
            raise ExifToolError(f"bad path: {exc}", shown) from exc
        try:
            st = os.stat(raw)
        except FileNotFoundError as exc:
            raise ExifToolError("File not found", shown) from exc
        except (OSError, ValueError) as exc:  # ValueError: NUL byte in the name
            raise ExifToolError(f"cannot stat: {getattr(exc, 'strerror', None) or exc}",
                                shown) from exc
        if not stat.S_ISREG(st.st_mode):
            raise ExifToolError(f"not a regular file ({stat.filemode(st.st_mode)})", shown)
        job = _Job(index=index, path=shown, arg=raw)
        if _ODD_NAME.search(raw) or not _is_utf8(raw):
            try:
                job.link = self._make_link(raw)
            except OSError as exc:
                raise ExifToolError(f"cannot make a safe link for this name: {exc}",
                                    shown) from exc
            job.arg = job.link
        return job

    def _make_link(self, target: bytes) -> bytes:
        if self._tmpdir is None or not os.path.isdir(self._tmpdir):
            self._tmpdir = tempfile.mkdtemp(prefix="deliverscan-exiftool-")
        m = _SAFE_EXT.search(os.path.basename(target))
        self._seq += 1
        name = os.path.join(os.fsencode(self._tmpdir),
                            b"%d%s" % (self._seq, m.group(0) if m else b""))
        os.symlink(target, name)
        return name

    def _drop_tmpdir(self) -> None:
        """Remove the (now empty) link directory after each batch: a worker that ends with
        ``os._exit`` never runs ``close()``, and must not leave directories behind."""
        if self._tmpdir is not None:
            try:
                os.rmdir(self._tmpdir)
            except OSError:
                return  # not empty (a link could not be removed): close() will rmtree it
            self._tmpdir = None

    @staticmethod
    def _unlink(job: _Job) -> None:
        if job.link is not None:
            try:
                os.unlink(job.link)
            except OSError:
                pass
            job.link = None

    # -- process management --

    def _start(self) -> _Proc:
        """Start ExifTool and wait for its ``-ver`` handshake, so that start-up time (perl
        compiling ExifTool, 60-300 ms) never counts against the first file's deadline."""
        argv = [self.executable, "-stay_open", "True", "-@", "-", "-common_args", *COMMON_ARGS]
        try:
            popen = subprocess.Popen(
                argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                bufsize=0, close_fds=True, cwd="/", preexec_fn=_child_setup(os.getpid()))
        except OSError as exc:
            raise ExifToolDied(f"cannot start {self.executable}: {exc}") from exc
        for f in (popen.stdin, popen.stdout, popen.stderr):
            assert f is not None
            os.set_blocking(f.fileno(), False)
        if self._started:
            self.restarts += 1
        self._started += 1
        proc = self._proc = _Proc(popen)
        proc.pending_in += b"-ver\n-execute0\n"
        deadline = time.monotonic() + max(self.timeout, _STARTUP_TIMEOUT)
        while (pos := proc.out.find(b"{ready0}\n")) < 0:
            dead = _pump(proc, deadline)
            if dead or time.monotonic() >= deadline:
                why = (f"exited with status {popen.poll()}" if dead else
                       f"did not answer within {max(self.timeout, _STARTUP_TIMEOUT):g} s")
                tail = _stderr_tail(proc.err)
                self._stop(graceful=False)
                raise ExifToolDied(f"ExifTool {why} at start-up{tail}")
        version = bytes(proc.out[:pos]).decode("utf-8", "replace").strip()
        del proc.out[: pos + len(b"{ready0}\n")]
        proc.err.clear()  # start-up chatter belongs to no file
        if self._version is None and version:
            self._version = version
        return proc

    def _stop(self, graceful: bool) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        p = proc.popen
        if graceful and p.poll() is None:
            try:
                assert p.stdin is not None
                os.write(p.stdin.fileno(), b"-stay_open\nFalse\n")
            except OSError:
                pass
            deadline = time.monotonic() + 2.0
            while p.poll() is None and time.monotonic() < deadline:
                _drain(proc, 0.05)  # keep its pipes flowing so it can exit
        if p.poll() is None:
            try:
                p.kill()
            except OSError:
                pass
        try:
            p.wait(timeout=5.0)
        except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL ignored? nothing to do
            pass
        for f in (p.stdin, p.stdout, p.stderr):
            try:
                if f is not None:
                    f.close()
            except OSError:
                pass

    # -- the pipelined read loop --

    def _run(self, todo: deque[_Job], results: list[Any]) -> None:
        inflight: deque[_Job] = deque()
        deaths_without_success = 0
        head_started = time.monotonic()
        while todo or inflight:
            if self._proc is None or (not inflight and self._proc.popen.poll() is not None):
                if self._proc is not None:  # died while idle: nobody to blame
                    self._stop(graceful=False)
                if deaths_without_success >= _MAX_RESTARTS_WITHOUT_SUCCESS:
                    while todo:
                        job = todo.popleft()
                        results[job.index] = ExifToolDied(
                            "ExifTool keeps dying; not retried", job.path)
                        self._unlink(job)
                    return
                try:
                    self._start()
                except ExifToolDied as exc:
                    job = todo.popleft()
                    results[job.index] = ExifToolDied(str(exc), job.path)
                    self._unlink(job)
                    deaths_without_success += 1
                    continue
                head_started = time.monotonic()
            proc = self._proc
            assert proc is not None
            while todo and len(inflight) < _WINDOW:
                job = todo.popleft()
                self._seq += 1
                job.seq = self._seq
                proc.pending_in += (b"-echo4\n{done-%s-%d ${status}}\n%s\n-execute%d\n"
                                    % (self._token.encode(), job.seq, job.arg, job.seq))
                inflight.append(job)
            if not inflight:
                continue

            dead = _pump(proc, head_started + self.timeout)
            while inflight:  # collect every finished job, in order
                done = self._take(proc, inflight[0])
                if done is None:
                    break
                job = inflight.popleft()
                results[job.index] = done
                self._unlink(job)
                head_started = time.monotonic()
                if not isinstance(done, ExifToolDied):
                    deaths_without_success = 0
            if not inflight:
                continue
            head = inflight[0]
            too_big = len(proc.out) > self.max_output or len(proc.err) > self.max_output
            timed_out = time.monotonic() >= head_started + self.timeout
            if not (dead or too_big or timed_out):
                continue
            if dead:
                err: ExifToolError = ExifToolDied(
                    f"ExifTool died while reading this file (exit status "
                    f"{proc.popen.poll()})" + _stderr_tail(proc.err), head.path)
                deaths_without_success += 1
            elif too_big:
                err = ExifToolError(f"ExifTool output exceeds {self.max_output} bytes", head.path)
            else:
                err = ExifToolError(f"ExifTool timed out after {self.timeout:g} s", head.path)
            self._stop(graceful=False)
            inflight.popleft()
            results[head.index] = err
            self._unlink(head)
            while inflight:  # not started (or not finished) by the dead process: resend
                todo.appendleft(inflight.pop())

    def _take(self, proc: _Proc, job: _Job) -> dict[str, Any] | ExifToolError | None:
        """The result of ``job`` if both its stdout and stderr markers have arrived."""
        ready = b"{ready%d}\n" % job.seq
        pos = proc.out.find(ready, max(0, proc.out_scan - len(ready)))
        while pos > 0 and proc.out[pos - 1] != 0x0A:
            pos = proc.out.find(ready, pos + 1)
        if pos < 0:
            proc.out_scan = len(proc.out)
            return None
        m = None
        for cand in self._done_re.finditer(proc.err):  # markers arrive in sequence order
            if int(cand.group(1)) == job.seq:
                m = cand
                break
        if m is None:
            return None
        raw_status = m.group(2)  # read before the buffer changes under the match object
        status = int(raw_status) if raw_status.lstrip(b"-").isdigit() else -1
        err_end, consumed = m.start() + (1 if m.group(0)[:1] == b"\n" else 0), m.end()
        out = bytes(proc.out[:pos])
        del proc.out[: pos + len(ready)]
        proc.out_scan = 0
        errtext = bytes(proc.err[:err_end])
        del proc.err[:consumed]
        return _parse(job.path, out, errtext, status)


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _stderr_tail(err: bytearray) -> str:
    text = bytes(err[-500:]).decode("utf-8", "replace").strip()
    return f": {text}" if text else ""


def _pump(proc: _Proc, deadline: float) -> bool:
    """Move bytes between us and ExifTool until something arrives or the deadline passes.
    Returns True when the process is dead (EOF on a pipe or a broken stdin)."""
    p = proc.popen
    assert p.stdin is not None and p.stdout is not None and p.stderr is not None
    poller = select.poll()
    fds = {}
    if not proc.out_eof:
        poller.register(p.stdout.fileno(), select.POLLIN)
        fds[p.stdout.fileno()] = "out"
    if not proc.err_eof:
        poller.register(p.stderr.fileno(), select.POLLIN)
        fds[p.stderr.fileno()] = "err"
    if proc.pending_in:
        poller.register(p.stdin.fileno(), select.POLLOUT)
    if proc.out_eof or proc.err_eof:
        return True
    wait_ms = max(0, int((deadline - time.monotonic()) * 1000) + 1)
    try:
        events = poller.poll(wait_ms)
    except InterruptedError:  # pragma: no cover - PEP 475 retries; be safe anyway
        return False
    for fd, ev in events:
        if fd == p.stdin.fileno():
            if ev & (select.POLLERR | select.POLLHUP):
                return True
            try:
                n = os.write(fd, proc.pending_in[:_READ_CHUNK])
                del proc.pending_in[:n]
            except BlockingIOError:
                pass
            except OSError:  # EPIPE: ExifTool is gone
                return True
            continue
        _read_into(proc, fd, fds[fd] == "out")
    if proc.out_eof or proc.err_eof:
        _drain(proc, 0.5)  # output the dead process wrote before dying still counts
        return True
    return False


def _drain(proc: _Proc, seconds: float) -> None:
    """Read what is left in the pipes (bounded in time)."""
    p = proc.popen
    assert p.stdout is not None and p.stderr is not None
    deadline = time.monotonic() + seconds
    while not (proc.out_eof and proc.err_eof):
        left = deadline - time.monotonic()
        if left <= 0:
            return
        fds = [f for f, eof in ((p.stdout.fileno(), proc.out_eof),
                                (p.stderr.fileno(), proc.err_eof)) if not eof]
        ready, _, _ = select.select(fds, [], [], left)
        if not ready:
            return
        for fd in ready:
            _read_into(proc, fd, fd == p.stdout.fileno())


def _read_into(proc: _Proc, fd: int, is_out: bool) -> None:
    """One read from ExifTool's stdout or stderr into its buffer. EOF (or a read error) marks
    the pipe done so it is never polled again: polling a closed pipe forever is the busy loop
    the off-the-shelf wrappers fall into when ExifTool dies."""
    try:
        chunk = os.read(fd, _READ_CHUNK)
    except BlockingIOError:
        return
    except OSError:
        chunk = b""
    if chunk:
        (proc.out if is_out else proc.err).extend(chunk)
    elif is_out:
        proc.out_eof = True
    else:
        proc.err_eof = True


def _parse(path: str, out: bytes, errtext: bytes, status: int
           ) -> dict[str, Any] | ExifToolError:
    err_lines = [ln for ln in errtext.decode("utf-8", "replace").splitlines() if ln.strip()]
    errors = [ln for ln in err_lines if ln.startswith("Error")]
    if not out.strip():
        msg = errors[0] if errors else (err_lines[0] if err_lines else
                                        f"no output from ExifTool (status {status})")
        if msg.startswith("Error: "):
            msg = msg[len("Error: "):]
        msg = re.sub(r" - /.*\Z", "", msg)  # ExifTool appends the (maybe symlink) path
        return ExifToolError(msg, path)
    try:
        data = json.loads(out.decode("utf-8", "replace"))
    except ValueError as exc:
        return ExifToolError(f"unparseable ExifTool output: {exc}", path)
    if not (isinstance(data, list) and len(data) == 1 and isinstance(data[0], dict)):
        n = len(data) if isinstance(data, list) else "non-list"
        return ExifToolError(f"expected one JSON object from ExifTool, got {n}", path)
    tags: dict[str, Any] = data[0]
    tags.pop("SourceFile", None)  # may be our symlink, or '?'-mangled: the caller knows the path
    for key in ("ExifTool:Error", "Main:ExifTool:Error"):
        if key in tags:
            return ExifToolError(f"ExifTool: {tags[key]}", path, tags)
    if errors:
        return ExifToolError(errors[0], path, tags)
    return tags


__all__ = ["COMMON_ARGS", "ExifToolDied", "ExifToolDriver", "ExifToolError", "exiftool_identity",
           "exiftool_version", "find_exiftool"]
