"""The external programs tests may run: those ``make setup`` installs by default
(``scripts/install-system-deps.sh``, outside its opt-in fixture-tools block) and the base system's
own. Parsed from the script itself, so the list cannot drift from what a fresh machine gets."""

from __future__ import annotations

import os
import re
import shutil
import sys
from functools import cache
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
SETUP_SCRIPT = ROOT / "scripts" / "install-system-deps.sh"
# The base image's own programs (a Debian machine with Python): never installed by us. The
# standard library runs some itself (ctypes.util.find_library: ldconfig, then gcc/objdump).
BASE = frozenset({"sh", "bash", "env", "true", "false", "sleep", "kill", "timeout", "git",
                  "ldconfig", "uname", "gcc", "cc", "objdump", "ld"})


@cache
def setup_installs() -> frozenset[str]:
    """Programs the setup script installs by default (``command -v X`` checks), skipping the
    blocks that only run for ``make fixtures`` and ``make bench-register``."""
    names: set[str] = set()
    opt_in = False
    for line in SETUP_SCRIPT.read_text(encoding="utf-8").splitlines():
        if re.match(r"\s*if .*(FIXTURE|BENCH)_TOOLS", line):
            opt_in = True
        elif opt_in and re.match(r"\s*fi\b", line):
            opt_in = False
        elif not opt_in:
            names.update(re.findall(r"command -v ([A-Za-z0-9_.+-]+)", line))
    return frozenset(names)


def require(name: str) -> str:
    """Path of ``name``, or fail the test naming it (``make setup`` should have installed it)."""
    if name not in setup_installs():
        pytest.fail(f"test declares tool {name!r}, which scripts/install-system-deps.sh does not "
                    "install: add it there", pytrace=False)
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} not found on PATH: `make setup` installs it "
                    "(scripts/install-system-deps.sh); run make setup", pytrace=False)
    return path


def _ours(path: str) -> bool:
    """Our own interpreter and the venv's entry points (deliverscan), or a program a test
    wrote itself under a temporary directory."""
    full = os.path.realpath(path)
    venv_bin = os.path.realpath(os.path.dirname(sys.executable))
    tmp = os.path.realpath(os.environ.get("TMPDIR", "/tmp"))
    return (os.path.dirname(full) == venv_bin or full == os.path.realpath(sys.executable)
            or full.startswith(tmp + os.sep))


def check_allowed(args: Any, executable: Any = None) -> None:
    """Raise when a test starts a program make setup does not install."""
    exe = executable
    if exe is None:
        exe = args if isinstance(args, str | bytes | os.PathLike) else list(args)[0]
    exe = os.fsdecode(exe)
    name = os.path.basename(exe)
    if name.startswith("python") or name in BASE or name in setup_installs():
        return
    found = shutil.which(exe) if os.sep not in exe else exe
    if found and _ours(found):
        return
    raise AssertionError(f"a test runs {name!r}, which `make setup` does not install: add it to "
                         "scripts/install-system-deps.sh, or do not call it from tests")
