"""Beyond one machine: a Dask cluster runs the scan (the report equals a local one; a worker
killed mid-scan loses nothing), and an S3-compatible store is scanned in place (moto's server
on 127.0.0.1), with the verdicts of the same files on disk."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import scanner
from detectors import remote

ROOT = Path(__file__).resolve().parents[1]
FIX = ROOT / "fixtures"
BIN = Path(sys.executable).parent
EXE = str(BIN / "deliverscan")
PLUGIN_DIR = Path(__file__).resolve().parent / "plugin_fixture"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _report(*args: str, env: dict[str, str] | None = None) -> dict:
    res = subprocess.run([EXE, "scan", *args, "--no-cache", "--format", "json"],
                         capture_output=True, text=True, timeout=240, env=env)
    assert res.returncode in (0, 1, 2), res.stderr
    doc = json.loads(res.stdout)
    for key in ("started", "finished"):
        doc.pop(key)
    doc["summary"].pop("duration_s")
    return doc


def test_a_cluster_it_cannot_use_is_an_error_and_leaves_nothing_behind(tmp_path: Path
                                                                       ) -> None:
    """The address is refused before anything is scanned: exit code 2 with the reason, and
    the run's own folder in the temp folder is gone again (it stayed there before)."""
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "a.txt").write_text("plain")
    temp = tmp_path / "temp"
    temp.mkdir()
    res = subprocess.run([EXE, "scan", str(tree), "--no-cache", "--cluster", "bogus://x"],
                         capture_output=True, text=True, timeout=120,
                         env={**os.environ, "TMPDIR": str(temp)})
    assert res.returncode == 2 and "cannot use the cluster bogus://x" in res.stderr, res.stderr
    assert sorted(p.name for p in temp.iterdir()) == []


def test_a_local_cluster_writes_the_report_a_local_scan_writes() -> None:
    roots = [str(FIX / "meta"), str(FIX / "archives"), str(FIX / "sequences")]
    assert _report(*roots, "--cluster", "local:2") == _report(*roots, "-j", "2")


def _start(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)


def test_a_worker_killed_mid_scan_loses_nothing(tmp_path: Path) -> None:
    tree = tmp_path / "d"
    tree.mkdir()
    for i in range(160):
        marker = b"AI-MARK" if i % 10 == 0 else b"plain"
        (tree / f"f{i:03d}.bin").write_bytes(b"NAP " + marker)
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(PLUGIN_DIR),
           "DASK_DISTRIBUTED__WORKER__DAEMON": "False"}
    procs = [_start([str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port",
                     str(port), "--no-dashboard"], env)]
    try:
        address = f"tcp://127.0.0.1:{port}"
        workers = [_start([str(BIN / "dask"), "worker", address, "--nthreads", "1",
                           "--no-dashboard", "--death-timeout", "60"], env) for _ in range(2)]
        procs += workers
        out = tmp_path / "r.jsonl"
        scan = subprocess.Popen([EXE, "scan", str(tree), "--no-cache", "--cluster", address,
                                 "--format", "jsonl", "-o", str(out)], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # let the scan get going, then kill a worker
            if out.exists() and out.read_text().count('"type": "result"') >= 20:
                break
            time.sleep(0.1)
        os.killpg(workers[0].pid, signal.SIGKILL)  # the worker and its nanny, mid-scan
        _, err = scan.communicate(timeout=240)
        assert scan.returncode == 1, err.decode()
        lines = [json.loads(x) for x in out.read_text().splitlines()]
        results = [x for x in lines if x["type"] == "result"]
        assert len(results) == 160 and not any(r["errors"] for r in results)
        assert sum(r["verdict"] == "ai" for r in results) == 16
    finally:
        for p in procs:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait(timeout=30)


@pytest.fixture(scope="module")
def s3() -> dict[str, str]:
    port = _free_port()
    server = subprocess.Popen([str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    env = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}"}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    remote._FILESYSTEMS.clear()
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        yield env
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        remote._FILESYSTEMS.clear()
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=30)


def test_a_delivery_in_s3_is_scanned_in_place(s3: dict[str, str], tmp_path: Path) -> None:
    import s3fs

    disk = tmp_path / "delivery"
    for family in ("meta", "archives", "delivery"):
        shutil.copytree(FIX / family, disk / family)
    fs = s3fs.S3FileSystem()
    fs.mkdir("delivery")
    fs.put(str(disk) + "/", "delivery/", recursive=True)
    local = _report(str(disk), "-j", "2")
    stored = _report("s3://delivery", "-j", "2", env={**os.environ, **s3})
    def by_rel(doc: dict, prefix: str) -> dict[str, tuple[str, list[str]]]:
        return {r["path"].removeprefix(prefix): (r["verdict"], sorted(
            f["rule"] for f in r["findings"])) for r in doc["results"]}
    assert by_rel(stored, "s3://delivery/") == by_rel(local, str(disk) + "/")
    ai = [p for p, (v, _) in by_rel(stored, "s3://delivery/").items() if v == "ai"]
    assert len(ai) > 40 and stored["summary"]["exit_code"] == local["summary"]["exit_code"]


def test_an_object_is_read_again_when_its_etag_changes(s3: dict[str, str],
                                                       tmp_path: Path) -> None:
    import s3fs

    fs = s3fs.S3FileSystem()
    fs.mkdir("etag")
    fs.put(str(FIX / "meta" / "clean.png"), "etag/plate.png")
    cache = str(tmp_path / "c.sqlite")
    first = scanner.scan(["s3://etag"], cache_path=cache)
    again = scanner.scan(["s3://etag"], cache_path=cache)
    assert again.summary.cache_hits == 1 and first.summary.exit_code == 0
    fs.put(str(FIX / "meta" / "a1111_parameters.png"), "etag/plate.png")  # same key
    changed = scanner.scan(["s3://etag"], cache_path=cache)
    assert changed.summary.cache_hits == 0 and changed.summary.exit_code == 1
    assert threading.active_count() >= 1
