"""The ExifTool driver against a real ExifTool on real files: mapping onto canonical Field keys,
and the failure modes the Python wrappers do not survive (death mid-batch, hangs, stderr
floods, hostile names, orphans)."""

from __future__ import annotations

import os
import shutil
import signal
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, PngImagePlugin

from detectors.formats.exiftool import (
    ExifToolDied,
    ExifToolDriver,
    ExifToolError,
    find_exiftool,
)
from detectors.formats.exiftool_tags import exiftool_fields, split_key

EXIFTOOL = find_exiftool()
pytestmark = pytest.mark.tool("exiftool")
FFMPEG = shutil.which("ffmpeg")
REPO = Path(__file__).resolve().parents[1]


# --- helpers ---------------------------------------------------------------------------------

def _png(path: str | bytes | Path, params: str, *, after_idat: bool = False) -> None:
    """A small PNG with a ``parameters`` tEXt chunk (optionally moved after IDAT)."""
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", params)
    with open(path, "wb") as fh:
        Image.new("RGB", (4, 4), (9, 9, 9)).save(fh, format="PNG", pnginfo=info)
    if after_idat:
        data = Path(os.fsdecode(path)).read_bytes()
        chunks, pos = [], 8
        while pos < len(data):
            n = struct.unpack(">I", data[pos:pos + 4])[0]
            chunks.append(data[pos:pos + 12 + n])
            pos += 12 + n
        text = [c for c in chunks if c[4:8] == b"tEXt"]
        rest = [c for c in chunks if c[4:8] != b"tEXt"]
        Path(os.fsdecode(path)).write_bytes(data[:8] + b"".join(rest[:-1] + text + rest[-1:]))


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw[raw.rindex(")") + 2:].split()  # [state, ppid, ...]


def _alive(pid: int) -> bool:
    """Running (a zombie nobody reaped yet counts as gone)."""
    st = _stat_fields(pid)
    return st is not None and st[0] != "Z"


def _children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            st = _stat_fields(int(entry))
            if st is not None and st[1] == str(pid) and st[0] != "Z":
                out.append(int(entry))
    return out


def _new_children(before: list[int]) -> list[int]:
    """This process's live children that ``before`` did not hold: a pytest worker that ran
    other tests first may keep children of its own (multiprocessing's resource tracker lives
    as long as the process that used it), which say nothing about the driver."""
    return [p for p in _children(os.getpid()) if p not in before]


def _has_open(pid: int, path: str) -> bool:
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    for fd in fds:
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") == path:
                return True
        except OSError:
            pass
    return False


def _when_open(driver: ExifToolDriver, path: Path, action: Callable[[], None]) -> threading.Thread:
    """Run ``action`` as soon as ExifTool has ``path`` open (it is busy with it right now), then
    let a held file (``slow_txt``) go."""

    def watch() -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            pid = driver.pid
            if pid is not None and _has_open(pid, str(path)):
                action()
                _release(path)
                return
            time.sleep(0.001)

    t = threading.Thread(target=watch, daemon=True)
    t.start()
    return t


# A user-defined ExifTool tag (ExifTool reads $EXIFTOOL_HOME/.ExifTool_config at start) that
# keeps any file named stall* open while ``<file>.hold`` exists: a file that is slow by
# construction, for as long as a test wants, however fast the machine and ExifTool are.
STALL_CONFIG = r"""
%Image::ExifTool::UserDefined = (
    'Image::ExifTool::Composite' => {
        DeliverscanTestStall => {
            Require => { 0 => 'Directory', 1 => 'FileName' },
            ValueConv => q{
                if ($val[1] =~ /^stall/) {
                    my $path = "$val[0]/$val[1]";
                    open(my $fh, '<', $path);
                    select(undef, undef, undef, 0.005) while -e "$path.hold";
                }
                return undef;
            },
        },
    },
);
1;
"""


@pytest.fixture(autouse=True, scope="module")
def _stall_config(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    home = tmp_path_factory.mktemp("exiftool-home")
    (home / ".ExifTool_config").write_text(STALL_CONFIG, encoding="utf-8")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("EXIFTOOL_HOME", str(home))
        yield


def _release(path: Path) -> None:
    Path(f"{path}.hold").unlink(missing_ok=True)


@pytest.fixture
def slow_txt(tmp_path: Path) -> Path:
    """A file ExifTool holds open, busy, until the test releases it (``_release``; the
    ``_when_open`` watcher does so after its action)."""
    p = tmp_path / "stall.txt"
    p.write_bytes(b"lorem ipsum\n")
    Path(f"{p}.hold").touch()
    return p


@pytest.fixture
def driver() -> Iterator[ExifToolDriver]:
    assert EXIFTOOL is not None
    d = ExifToolDriver(EXIFTOOL, timeout=20.0)
    yield d
    d.close()


def _params(result: dict[str, Any] | ExifToolError) -> str:
    assert isinstance(result, dict), result
    return str(result["PNG:Parameters"])


# --- reading and mapping ---------------------------------------------------------------------

def test_find_exiftool(tmp_path: Path) -> None:
    assert find_exiftool() == shutil.which("exiftool")
    assert find_exiftool(EXIFTOOL) == EXIFTOOL
    assert find_exiftool(str(tmp_path / "nope")) is None
    (tmp_path / "notexec").write_text("x")
    assert find_exiftool(str(tmp_path / "notexec")) is None


def test_reads_png_text_after_idat_and_maps_fields(tmp_path: Path, driver: ExifToolDriver
                                                   ) -> None:
    p = tmp_path / "late.png"
    _png(p, "a cat\nNegative prompt: dog\nSteps: 20", after_idat=True)
    assert driver.version == subprocess.run([EXIFTOOL, "-ver"], capture_output=True,
                                            text=True).stdout.strip()
    tags = driver.read(str(p))
    assert driver.restarts == 0  # the version handshake started the process we read with
    assert tags["PNG:Parameters"].startswith("a cat")
    assert "SourceFile" not in tags
    fields = {f.key: f for f in exiftool_fields(tags)}
    f = fields["png:text:parameters"]
    assert f.value == "a cat\nNegative prompt: dog\nSteps: 20"
    assert f.reader == "exiftool" and f.location == "ExifTool PNG:Parameters"
    assert "exiftool:PNG:ImageWidth" in fields  # structure stays unmapped, not png:text
    assert not any(k.startswith("exiftool:System") for k in fields)  # bookkeeping dropped


def test_xmp_and_exif_written_by_exiftool(tmp_path: Path, driver: ExifToolDriver) -> None:
    p = tmp_path / "mj.jpg"
    Image.new("RGB", (8, 8)).save(p)
    dst = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
    subprocess.run([EXIFTOOL, "-q", "-overwrite_original", f"-XMP-iptcExt:DigitalSourceType={dst}",
                    "-XMP-iptcExt:DigitalImageGUID=0b7c-job", "-XMP-dc:Description=a prompt",
                    "-XMP-photoshop:Credit=Made with Google AI",
                    "-IFD0:Software=AI generated;txt2img;flux", "-ExifIFD:UserComment=hi",
                    str(p)], check=True)
    fields = {f.key: f.value for f in exiftool_fields(driver.read(p))}
    assert fields["xmp:Iptc4xmpExt:DigitalSourceType"] == dst
    assert fields["xmp:Iptc4xmpExt:DigImageGUID"] == "0b7c-job"  # ExifTool's name undone
    assert fields["xmp:dc:description"] == "a prompt"  # dc properties are lower-case
    assert fields["xmp:photoshop:Credit"] == "Made with Google AI"
    assert fields["exif:Software"] == "AI generated;txt2img;flux"
    assert fields["exif:UserComment"] == "hi"


@pytest.mark.tool("ffmpeg")
def test_id3_duplicates_survive(tmp_path: Path, driver: ExifToolDriver) -> None:
    p = tmp_path / "song.mp3"
    subprocess.run([FFMPEG, "-v", "error", "-f", "lavfi", "-i", "sine=d=0.1",
                    "-metadata", "ai_generated=Suno v3.5", "-metadata", 'prompt={"a":1}',
                    "-metadata", "workflow=w", "-id3v2_version", "3", "-y", str(p)], check=True)
    tags = driver.read(str(p))
    txxx = [k for k in tags if k.endswith(":UserDefinedText")]
    assert len(txxx) == 3, tags  # -G3:1:4 keeps Copy1/Copy2 apart
    fields = [(f.key, f.value) for f in exiftool_fields(tags)]
    assert ("id3:TXXX:ai_generated", "Suno v3.5") in fields
    assert ("id3:TXXX:prompt", '{"a":1}') in fields
    assert ("id3:TXXX:workflow", "w") in fields


@pytest.mark.tool("ffmpeg")
def test_mp4_keys_and_item_list(tmp_path: Path, driver: ExifToolDriver) -> None:
    comfy, veo = tmp_path / "comfy.mp4", tmp_path / "veo.mp4"
    base = [FFMPEG, "-v", "error", "-f", "lavfi", "-i", "color=s=16x16:d=0.1"]
    subprocess.run([*base, "-metadata", 'prompt={"3":{}}', "-movflags", "use_metadata_tags",
                    "-y", str(comfy)], check=True)
    subprocess.run([*base, "-metadata", "comment=made by veo", "-y", str(veo)], check=True)
    a, b = driver.read_many([comfy, veo])
    assert isinstance(a, dict) and isinstance(b, dict)
    fa = {f.key: f.value for f in exiftool_fields(a)}
    fb = {f.key: f.value for f in exiftool_fields(b)}
    assert fa["bmff:mdta:prompt"] == '{"3":{}}'
    assert fb["bmff:ilst:\u00a9cmt"] == "made by veo"
    assert fb["bmff:ilst:\u00a9too"].startswith("Lavf")


def test_riff_info_after_data(tmp_path: Path, driver: ExifToolDriver) -> None:
    def chunk(cid: bytes, data: bytes) -> bytes:
        return cid + struct.pack("<I", len(data)) + data + (b"\0" if len(data) % 2 else b"")

    fmt = struct.pack("<HHIIHH", 1, 1, 8000, 16000, 2, 16)
    info = b"INFO" + chunk(b"ISFT", b"Suno\0") + chunk(b"ICMT", b"made with suno\0")
    body = b"WAVE" + chunk(b"fmt ", fmt) + chunk(b"data", b"\0" * 64) + chunk(b"LIST", info)
    p = tmp_path / "late_info.wav"
    p.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    fields = {f.key: f.value for f in exiftool_fields(driver.read(str(p)))}
    assert fields["riff:INFO:ISFT"] == "Suno"
    assert fields["riff:INFO:ICMT"] == "made with suno"
    assert fields["exiftool:RIFF:SampleRate"] == "8000"  # not INFO: stays unmapped


def test_key_split_and_doc_fields() -> None:
    assert split_key("Doc1-3-1-3:CBOR:Copy2:ActionsDigitalSourceType") == (
        "Doc1-3-1-3", "CBOR", "Copy2", "ActionsDigitalSourceType")
    assert split_key("Main:XMP-iptcExt:DigitalSourceType") == (
        "Main", "XMP-iptcExt", "", "DigitalSourceType")
    assert split_key("Track1:Copy1:HandlerType") == ("", "Track1", "Copy1", "HandlerType")
    uri = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
    fields = exiftool_fields({
        "Doc1-3:CBOR:ActionsDigitalSourceType": "http://x/digitalCapture",
        "Doc1-3-1-3:CBOR:Copy2:ActionsDigitalSourceType": uri,
        "Main:XMP-iptcExt:DigitalSourceType": uri,
        "XMP-dc:Subject": ["ai", "cat"],
    })
    keys = [(f.key, f.value, f.location) for f in fields]
    assert ("exiftool:CBOR:ActionsDigitalSourceType", uri,
            "ExifTool Doc1-3-1-3:CBOR:Copy2:ActionsDigitalSourceType") in keys
    assert len([k for k in keys if k[0] == "exiftool:CBOR:ActionsDigitalSourceType"]) == 2
    assert ("xmp:Iptc4xmpExt:DigitalSourceType", uri,
            "ExifTool Main:XMP-iptcExt:DigitalSourceType") in keys
    assert [k[1] for k in keys if k[0] == "xmp:dc:subject"] == ["ai", "cat"]


def test_exiftool_error_tag_is_an_error(tmp_path: Path, driver: ExifToolDriver) -> None:
    junk, empty, ok = tmp_path / "junk.bin", tmp_path / "empty.jpg", tmp_path / "ok.png"
    junk.write_bytes(bytes(range(256)) * 4)
    empty.write_bytes(b"")
    _png(ok, "ok")
    r = driver.read_many([junk, empty, ok])
    assert isinstance(r[0], ExifToolError) and "Unknown file type" in str(r[0])
    assert r[0].tags.get("ExifTool:Error") == "Unknown file type"
    assert isinstance(r[1], ExifToolError) and "empty" in str(r[1])
    assert _params(r[2]) == "ok"


# --- robustness ------------------------------------------------------------------------------

def test_deadline_kills_restarts_and_carries_on(tmp_path: Path, slow_txt: Path) -> None:
    """A file that takes longer than the per-file deadline fails alone: the process is killed
    (and reaped), a new one starts, the rest of the batch and later reads work. The slow file
    is never released: it outlasts any deadline, on any machine."""
    assert EXIFTOOL is not None
    before, after, huge = tmp_path / "before.png", tmp_path / "after.png", slow_txt
    _png(before, "before")
    _png(after, "after")
    others = _children(os.getpid())
    with ExifToolDriver(EXIFTOOL, timeout=1.0) as d:
        assert _params(d.read(before)) == "before"
        first_pid = d.pid
        assert first_pid is not None
        t0 = time.monotonic()
        r = d.read_many([before, huge, after])
        elapsed = time.monotonic() - t0
        assert _params(r[0]) == "before"
        assert isinstance(r[1], ExifToolError) and not isinstance(r[1], ExifToolDied)
        assert str(r[1]) == "ExifTool timed out after 1 s" and r[1].path == str(huge)
        assert _params(r[2]) == "after"
        assert elapsed >= 1.0
        assert d.restarts == 1 and d.pid != first_pid
        assert not _alive(first_pid)  # killed and reaped
        assert _params(d.read_many([after])[0]) == "after"
        assert _new_children(others) == [d.pid]


def test_sigkill_mid_batch(tmp_path: Path, slow_txt: Path) -> None:
    assert EXIFTOOL is not None
    files = []
    for i in range(30):
        files.append(tmp_path / f"f{i:02d}.png")
        _png(files[-1], f"p{i}")
    batch = files[:15] + [slow_txt] + files[15:]
    others = _children(os.getpid())
    with ExifToolDriver(EXIFTOOL, timeout=20) as d:
        d.read(files[0])
        pid = d.pid
        assert pid is not None
        watcher = _when_open(d, slow_txt, lambda: os.kill(pid, signal.SIGKILL))
        cpu0, t0 = time.process_time(), time.monotonic()
        r = d.read_many(batch)
        cpu, wall = time.process_time() - cpu0, time.monotonic() - t0
        watcher.join()
        assert isinstance(r[15], ExifToolDied), r[15]
        assert [_params(x) for x in r[:15] + r[16:]] == [f"p{i}" for i in range(30)]
        assert d.restarts == 1
        assert not _alive(pid)
        assert cpu < 0.5 * wall + 0.2, (cpu, wall)  # waiting in poll(), not spinning
        assert _new_children(others) == [d.pid]
    assert _new_children(others) == []


def test_stderr_flood_3000_missing(tmp_path: Path, slow_txt: Path) -> None:
    """3000 files that vanish after the regular-file check: ExifTool itself reports 3000
    'File not found' lines on stderr (~200 KB) while we read stdout: no deadlock, all aligned."""
    assert EXIFTOOL is not None
    d3000 = tmp_path / "many"
    d3000.mkdir()
    (d3000 / "m0000.jpg").write_bytes(b"\xff\xd8\xff\xd9")
    names = [d3000 / f"m{i:04d}.jpg" for i in range(3000)]
    for p in names[1:]:
        os.link(names[0], p)  # hard links: creating 3000 inodes is slow on some file systems
    with ExifToolDriver(EXIFTOOL, timeout=20) as d:
        assert d.version  # starts the process from this thread
        # renaming the folder makes all 3000 vanish at once, before ExifTool gets to them
        watcher = _when_open(d, slow_txt, lambda: d3000.rename(tmp_path / "gone"))
        t0 = time.monotonic()
        r = d.read_many([slow_txt, *names])
        watcher.join()
        assert time.monotonic() - t0 < 15
        assert isinstance(r[0], dict)
        assert all(isinstance(x, ExifToolError) and str(x) == "File not found" for x in r[1:])
        assert [x.path for x in r[1:]] == [str(p) for p in names]  # type: ignore[union-attr]
        assert d.restarts == 0
        # and the same without ExifTool in the way (caught before sending)
        r2 = d.read_many([str(p) for p in names])
        assert all(isinstance(x, ExifToolError) and str(x) == "File not found" for x in r2)


def test_file_deleted_mid_batch(tmp_path: Path, slow_txt: Path, driver: ExifToolDriver) -> None:
    files = []
    for i in range(40):
        files.append(tmp_path / f"d{i:02d}.png")
        _png(files[-1], f"d{i}")
    driver.read(files[0])

    def delete_odd() -> None:
        for p in files[1::2]:
            p.unlink()
        os.mkfifo(files[1])  # swapped for a FIFO after our check: ExifTool must not block

    watcher = _when_open(driver, slow_txt, delete_odd)
    r = driver.read_many([slow_txt, *files])
    watcher.join()
    for i, x in enumerate(r[1:]):
        if i % 2:
            assert isinstance(x, ExifToolError) and str(x) == "File not found", (i, x)
        else:
            assert _params(x) == f"d{i}"
    assert driver.restarts == 0


def test_hostile_names(tmp_path: Path, driver: ExifToolDriver, monkeypatch: pytest.MonkeyPatch
                       ) -> None:
    base = os.fsencode(tmp_path)
    names = [b"new\nline.png", b"carriage\rreturn.png", b"latin1_\xe9t\xe9.png", b"-ver",
             b"-execute", b"-@", b"-stay_open", b"#comment.png", b"-j.png", b" lead.png",
             b"trail .png", b"{ready1}", b"pct%d.png", b"\xff\xfe\n.png"]
    for i, n in enumerate(names):
        _png(os.path.join(base, n), f"n{i}")
    # absolute bytes, absolute str (surrogateescape), and relative (cwd = tmp_path)
    as_bytes = [os.path.join(base, n) for n in names]
    as_str = [os.fsdecode(p) for p in as_bytes]
    monkeypatch.chdir(tmp_path)
    relative = [os.fsdecode(n) for n in names]
    expected = [f"n{i}" for i in range(len(names))]
    for batch in (as_bytes, as_str, relative):
        r = driver.read_many(batch)
        assert [_params(x) for x in r] == expected
    assert driver._tmpdir is None  # links and their private directory go after each batch


def test_only_regular_files_are_passed(tmp_path: Path, driver: ExifToolDriver) -> None:
    folder = tmp_path / "dir.png"
    folder.mkdir()
    _png(folder / "inside.png", "inside")
    fifo = tmp_path / "fifo.png"
    os.mkfifo(fifo)
    (tmp_path / "link.png").symlink_to(folder)
    ok = tmp_path / "ok.png"
    _png(ok, "ok")
    t0 = time.monotonic()
    r = driver.read_many([folder, fifo, tmp_path / "link.png", ok])
    assert time.monotonic() - t0 < 10  # the FIFO did not block anyone
    for x in r[:3]:
        assert isinstance(x, ExifToolError) and "not a regular file" in str(x)
    assert _params(r[3]) == "ok"
    with pytest.raises(ExifToolError, match="not a regular file"):
        driver.read(str(folder))


def test_child_dies_with_parent(tmp_path: Path) -> None:
    """A Python process that owns a driver is SIGKILLed: its ExifTool must not outlive it."""
    p = tmp_path / "x.png"
    _png(p, "x")
    code = ("import sys, time\n"
            "from detectors.formats.exiftool import ExifToolDriver\n"
            "d = ExifToolDriver(sys.argv[1])\n"
            "d.read(sys.argv[2])\n"
            "print(d.pid, flush=True)\n"
            "time.sleep(60)\n")
    proc = subprocess.Popen([sys.executable, "-c", code, str(EXIFTOOL), str(p)],
                            stdout=subprocess.PIPE, text=True, cwd=REPO,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    child = None
    try:
        assert proc.stdout is not None
        child = int(proc.stdout.readline())
        assert _alive(child)
        proc.kill()
        proc.wait()
        deadline = time.monotonic() + 5
        while _alive(child) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not _alive(child)
    finally:
        proc.kill()
        if child is not None and _alive(child):  # failed: do not leave the orphan running
            os.kill(child, signal.SIGKILL)


def test_close_is_graceful_and_leaves_nothing(tmp_path: Path) -> None:
    assert EXIFTOOL is not None
    p = tmp_path / "a\nb.png"
    _png(p, "ab")
    others = _children(os.getpid())
    d = ExifToolDriver(EXIFTOOL)
    assert d.pid is None  # lazy
    with d:
        assert _params(d.read(p)) == "ab"
        pid = d.pid
        assert pid is not None and d._tmpdir is None
        popen = d._proc.popen if d._proc else None
    assert popen is not None and popen.returncode == 0  # exited on -stay_open False
    assert not _alive(pid)
    assert _new_children(others) == []
    with pytest.raises(RuntimeError):
        d.read(p)


def test_restart_after_idle_death(tmp_path: Path, driver: ExifToolDriver) -> None:
    p = tmp_path / "a.png"
    _png(p, "a")
    driver.read(p)
    pid = driver.pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    while _alive(pid):
        time.sleep(0.01)
    assert _params(driver.read(p)) == "a"  # nobody blamed for a death between reads
    assert driver.restarts == 1


def test_output_cap(tmp_path: Path) -> None:
    """A file whose metadata is larger than ``max_output`` fails alone (memory stays bounded)."""
    assert EXIFTOOL is not None
    big, small = tmp_path / "big.png", tmp_path / "small.png"
    _png(big, "x" * 3_000_000)
    _png(small, "small")
    with ExifToolDriver(EXIFTOOL, max_output=1 << 20) as d:
        r = d.read_many([big, small])
        assert isinstance(r[0], ExifToolError) and "exceeds" in str(r[0])
        assert _params(r[1]) == "small"
    with ExifToolDriver(EXIFTOOL) as d:
        assert len(_params(d.read(big))) == 3_000_000


def test_fork_gets_its_own_process(tmp_path: Path, driver: ExifToolDriver) -> None:
    p = tmp_path / "a.png"
    _png(p, "forked")
    driver.read(p)
    parent_child = driver.pid
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: must not talk to (or kill) the parent's ExifTool
        try:
            os.close(rfd)
            ok = _params(driver.read(p)) == "forked" and driver.pid != parent_child
            driver.close()
            os.write(wfd, b"ok" if ok else b"bad")
        finally:
            os._exit(0)
    os.close(wfd)
    with os.fdopen(rfd, "rb") as fh:
        answer = fh.read()
    os.waitpid(pid, 0)
    assert answer == b"ok"
    assert driver.pid == parent_child and parent_child is not None and _alive(parent_child)
    assert _params(driver.read(p)) == "forked"


def _cross_tier_fixtures(d: Path) -> dict[str, tuple[str, Path]]:
    """The same markers written the way the tools write them, one file per container."""
    assert EXIFTOOL is not None
    out: dict[str, tuple[str, Path]] = {}
    info = PngImagePlugin.PngInfo()
    for k, v in (("parameters", "a"), ("prompt", "{}"), ("Software", "NovelAI"),
                 ("Generation time", "3"), ("AIGC", '{"Label":"1"}')):
        info.add_text(k, v)
    info.add_itxt("Description", "desc")
    Image.new("RGB", (4, 4)).save(d / "a.png", pnginfo=info)
    out["png"] = ("image/png", d / "a.png")
    Image.new("RGB", (8, 8)).save(d / "b.jpg")
    Image.new("RGB", (8, 8)).save(d / "w.webp")
    subprocess.run([EXIFTOOL, "-q", "-overwrite_original",
                    "-XMP-iptcExt:DigitalSourceType=http://cv.iptc.org/newscodes/"
                    "digitalsourcetype/trainedAlgorithmicMedia", "-XMP-dc:Description=p",
                    "-XMP-xmp:CreatorTool=Draw Things", "-IFD0:Software=flux",
                    "-IFD0:Make=workflow:{}", "-IFD0:Model=prompt:{}",
                    "-ExifIFD:UserComment=hello", "-IFD0:ImageDescription=Signature: abc",
                    "-IFD0:Artist=uuid", str(d / "b.jpg"), str(d / "w.webp")], check=True)
    out["jpeg"] = ("image/jpeg", d / "b.jpg")
    out["webp"] = ("image/webp", d / "w.webp")
    if FFMPEG is not None:
        sine = [FFMPEG, "-v", "error", "-f", "lavfi", "-i", "sine=d=0.1"]
        color = [FFMPEG, "-v", "error", "-f", "lavfi", "-i", "color=s=16x16:d=0.1"]
        runs = {
            "mp3": ("audio/mpeg", "c.mp3", [*sine, "-metadata", "ai_generated=Suno",
                                            "-metadata", "comment=made with suno",
                                            "-metadata", "title=t", "-id3v2_version", "3"]),
            "flac": ("audio/flac", "c.flac", [*sine, "-metadata", "prompt={}"]),
            "mdta": ("video/mp4", "k.mp4", [*color, "-metadata", "prompt={}",
                                            "-movflags", "use_metadata_tags"]),
            "ilst": ("video/mp4", "i.mp4", [*color, "-metadata", "comment=c",
                                            "-metadata", "title=t"]),
            "udta": ("video/quicktime", "u.mov", [*color, "-metadata", "comment=c"]),
            "wav": ("audio/wav", "w.wav", [*sine, "-metadata", "comment=c",
                                           "-metadata", "encoded_by=x"]),
        }
        for name, (mime, fname, cmd) in runs.items():
            subprocess.run([*cmd, "-y", str(d / fname)], check=True)
            out[name] = (mime, d / fname)
    return out


def test_both_tiers_give_the_same_keys(tmp_path: Path, driver: ExifToolDriver) -> None:
    """Every field the native readers produce, ExifTool's mapping produces too (same key, same
    value): one rule covers both tiers."""
    from detectors.formats.native import Collector, Source
    from detectors.metadata import NATIVE

    fixtures = _cross_tier_fixtures(tmp_path)
    paths = [p for _, p in fixtures.values()]
    for (name, (mime, _path)), tags in zip(fixtures.items(), driver.read_many(paths),
                                           strict=True):
        assert isinstance(tags, dict), (name, tags)
        collected = Collector()
        NATIVE[mime](Source.from_bytes(_path.read_bytes()), collected)
        native = {(f.key, f.value) for f in collected.fields}
        deep = {(f.key, f.value) for f in exiftool_fields(tags)}
        assert native, name
        assert native <= deep, (name, sorted(native - deep))


def test_interrupted_read_leaves_no_stale_output(tmp_path: Path, slow_txt: Path,
                                                 driver: ExifToolDriver) -> None:
    """An exception inside read_many (here a signal handler, as Ctrl-C would) must not let the
    abandoned commands' output be taken for the next read's."""
    files = []
    for i in range(5):
        files.append(tmp_path / f"s{i}.png")
        _png(files[-1], f"s{i}")
    driver.read(files[0])
    old_pid = driver.pid

    def boom(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGALRM, boom)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.1)  # fires while ExifTool holds stall.txt
        with pytest.raises(KeyboardInterrupt):
            driver.read_many([slow_txt, *files])
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert old_pid is not None and not _alive(old_pid)
    assert [_params(x) for x in driver.read_many(files[::-1])] == [f"s{i}" for i in range(4, -1, -1)]
    with pytest.raises(ExifToolError, match="cannot stat"):
        driver.read("nul\0byte.png")
