"""The suite runs only programs ``make setup`` installs, and a missing one fails loudly."""

from __future__ import annotations

import subprocess

import pytest

from tests import tools


def test_setup_script_lists_every_program_the_tests_declare() -> None:
    installs = tools.setup_installs()
    assert {"exiftool", "ffmpeg", "chromium", "strace", "setpriv"} <= installs
    assert "heif-enc" not in installs  # opt-in, for `make fixtures` only


def test_a_program_setup_does_not_install_cannot_be_started() -> None:
    with pytest.raises(AssertionError, match="heif-enc.*make setup"):
        subprocess.run(["heif-enc", "-q", "50", "-o", "/dev/null", "/dev/null"], check=False)


def test_a_declared_tool_that_setup_does_not_install_fails() -> None:
    with pytest.raises(pytest.fail.Exception, match="does not install"):
        tools.require("heif-enc")


@pytest.mark.tool("ffmpeg")
def test_an_installed_tool_runs() -> None:
    out = subprocess.run(["ffmpeg", "-version"], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("ffmpeg version")
