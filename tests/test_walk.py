"""Walker edge cases on a real temporary tree."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from scanner.walk import Walker
from tests import tools


def _walk(root: Path, **kw):  # type: ignore[no-untyped-def]
    w = Walker(**kw)
    return w, list(w.walk([str(root)]))


def test_stable_order_and_odd_names(tmp_path: Path) -> None:
    names = [b"b.txt", b"a b.txt", b"-rf.jpg", b"new\nline.png", b"latin1_\xe9.wav", b"z"]
    for n in names:
        (tmp_path / os.fsdecode(n)).write_bytes(b"x")
    _, assets = _walk(tmp_path)
    got = [os.fsencode(os.path.basename(a.path)) for a in assets]
    assert got == sorted(names)
    # walking twice gives the same order
    _, again = _walk(tmp_path)
    assert [a.path for a in again] == [a.path for a in assets]


def test_nothing_is_dropped_by_name(tmp_path: Path) -> None:
    """Clutter is judged by content later (pipeline); the walker yields every entry."""
    for n in (".DS_Store", "._clip.mov", "Thumbs.db", ".hidden.png", "keep.png"):
        (tmp_path / n).write_bytes(b"x")
    _, assets = _walk(tmp_path)
    assert sorted(os.path.basename(a.path) for a in assets) == sorted(
        [".DS_Store", "._clip.mov", "Thumbs.db", ".hidden.png", "keep.png"])
    assert all(a.skip_reason is None for a in assets)


def test_exclude_globs_prune_dirs_and_files_and_list_them(tmp_path: Path) -> None:
    (tmp_path / "proxies").mkdir()
    (tmp_path / "proxies" / "p.mov").write_bytes(b"x")
    (tmp_path / "a.tmp").write_bytes(b"x")
    (tmp_path / "a.png").write_bytes(b"x")
    w, assets = _walk(tmp_path, excludes=("proxies", "*.tmp"))
    by = {os.path.basename(a.path): a for a in assets}
    assert list(by) == ["a.png", "a.tmp", "proxies"]  # the folder once, not its content
    assert by["a.png"].skip_reason is None
    assert by["a.tmp"].skip_reason == "excluded by --exclude '*.tmp' (not scanned)"
    assert by["proxies"].skip_reason == "excluded by --exclude 'proxies' (not scanned)"
    assert w.stats.excluded == 2


def test_symlinks_not_followed_by_default(tmp_path: Path) -> None:
    (tmp_path / "real.png").write_bytes(b"x")
    (tmp_path / "link.png").symlink_to(tmp_path / "real.png")
    (tmp_path / "dangling.png").symlink_to(tmp_path / "missing")
    _, assets = _walk(tmp_path)
    by = {os.path.basename(a.path): a for a in assets}
    assert by["real.png"].skip_reason is None
    assert "symlink" in by["link.png"].skip_reason
    assert "symlink" in by["dangling.png"].skip_reason


def test_follow_symlinks_with_loop_detection(tmp_path: Path) -> None:
    sub = tmp_path / "d"
    sub.mkdir()
    (sub / "f.png").write_bytes(b"x")
    (sub / "loop").symlink_to(tmp_path)  # d/loop -> root: a cycle
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    _, assets = _walk(tmp_path, follow_symlinks=True)
    paths = [a.path for a in assets]
    assert str(sub / "f.png") in paths
    loop = [a for a in assets if a.path == str(sub / "loop")]
    assert loop and "loop" in loop[0].skip_reason
    dangling = [a for a in assets if a.path == str(tmp_path / "dangling")]
    assert dangling and "dangling" in dangling[0].walk_error
    assert len(assets) == 3  # terminates, nothing visited twice


def test_fifo_and_socket_skipped_without_opening(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.wav")
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(tmp_path / "sock.png"))
    try:
        _, assets = _walk(tmp_path)
    finally:
        s.close()
    reasons = {os.path.basename(a.path): a.skip_reason for a in assets}
    assert "FIFO" in reasons["pipe.wav"]
    assert "socket" in reasons["sock.png"]


def test_missing_root_is_an_error(tmp_path: Path) -> None:
    w = Walker()
    [asset] = list(w.walk([str(tmp_path / "nope")]))
    assert asset.walk_error and "cannot stat" in asset.walk_error


def _unprivileged() -> list[str]:
    """Command prefix that makes permission bits bite even for root (CI runs as root): drop
    the capabilities that bypass file permissions."""
    if os.geteuid() != 0:
        return []
    return [tools.require("setpriv"), "--bounding-set=-dac_override,-dac_read_search"]


def test_unreadable_dir_and_file_are_errors(tmp_path: Path) -> None:
    base = tmp_path
    prefix = _unprivileged()
    try:
        (base / "locked").mkdir()
        (base / "locked" / "inside.png").write_bytes(b"x")
        os.chmod(base / "locked", 0o000)
        (base / "secret.png").write_bytes(b"\x89PNG\r\n\x1a\n")
        os.chmod(base / "secret.png", 0o000)
        code = (
            "import json,sys,os\n"
            "from scanner.walk import Walker\n"
            "from scanner.pipeline import scan_asset\n"
            "from scanner.aggregate import assemble\n"
            "from scanner.policy import Policy\n"
            "from detectors.api import Shared, Options\n"
            "out=[]\n"
            "for a in Walker().walk([sys.argv[1]]):\n"
            "    r=assemble(scan_asset(a, [], Shared(Options())), Policy.default())\n"
            "    out.append((os.path.basename(a.path), r.verdict, [e.message for e in r.errors]))\n"
            "print(json.dumps(out))\n"
        )
        res = subprocess.run([*prefix, sys.executable, "-c", code, str(base)],
                             capture_output=True, text=True, check=True)
        import json

        got = {name: (verdict, msgs) for name, verdict, msgs in json.loads(res.stdout)}
        assert got["locked"][0] == "error" and "cannot list directory" in got["locked"][1][0]
        assert got["secret.png"][0] == "error" and "cannot read" in got["secret.png"][1][0]
    finally:
        os.chmod(base / "locked", 0o755)
