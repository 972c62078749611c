"""Helpers shared by test modules (importable as ``helpers``: pytest puts tests/ on sys.path)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from detectors.api import Detector, Options, Shared
from detectors.model import Asset, AssetResult, Scanned
from detectors.registry import Loaded, load_spec
from scanner.aggregate import assemble
from scanner.pipeline import scan_asset
from scanner.policy import Policy
from scanner.walk import Walker


def scan_loaded(loaded: list[Loaded], path: Path | str, options: Options | None = None,
                policy: Policy | None = None) -> AssetResult:
    """The real per-file pipeline (sniffing, containment, coverage) and aggregation."""
    shared = Shared(options or Options())
    try:
        st = os.stat(path)
        asset = Asset(str(path), st.st_size, st.st_mtime_ns, "other")
        return assemble(scan_asset(asset, loaded, shared), policy or Policy.default())
    finally:
        shared.close()


def judged(scanned: Scanned) -> AssetResult:
    """The result the aggregator builds from a raw scan under the default policy."""
    return assemble(scanned, Policy.default())


def options_for(detector: str, **given: Any) -> Options:
    """``Options`` with the core fields given, the rest as ``detector``'s own settings."""
    core = {k: given.pop(k) for k in ("file_timeout", "show_prompts") if k in given}
    return Options(**core, settings={detector: given} if given else {})


def scan_with(detector: Detector, path: Path | str, **options: Any) -> AssetResult:
    """The real per-file pipeline with one detector (``options``: core fields or its own
    settings, e.g. ``deep=True``)."""
    return scan_loaded([Loaded(detector.name, "builtin", detector, True)], path,
                       options_for(detector.name, **options))


def register_scan(db: Path | str, path: Path | str, **settings: Any) -> AssetResult:
    """``path`` scanned by the register detector alone against the register at ``db`` (plus
    its other ``settings``), walked as a scan walks it, judged under the default policy."""
    det = load_spec("detectors.register:RegisterDetector")
    assert det is not None and det.available
    shared = Shared(Options(settings={"register": {"path": str(db), **settings}}))
    try:
        (asset,) = list(Walker().walk([str(path)]))
        return judged(scan_asset(asset, [det], shared))
    finally:
        shared.close()


def pan_zoom(still: Any, n: int, size: tuple[int, int], seed: int,
             zoom: tuple[tuple[float, float], tuple[float, float]] = ((0.75, 0.9), (0.6, 0.75)),
             pan: tuple[float, float] = (0.2, 0.6)) -> list[Any]:
    """``n`` frames of a slow pan/zoom over a still (integer crops: the picture steps, as a
    generated temp clip's does): zoom from a draw in ``zoom[0]`` to one in ``zoom[1]``, the
    crop moving from ``pan[0]`` across ``pan[1]`` of the free width."""
    import cv2  # noqa: PLC0415 - only the register tests need OpenCV and NumPy here
    import numpy as np  # noqa: PLC0415

    rng = np.random.default_rng(seed)
    h, w = still.shape[:2]
    z0, z1 = rng.uniform(*zoom[0]), rng.uniform(*zoom[1])
    out = []
    for i in range(n):
        a = i / max(n - 1, 1)
        z = z0 + (z1 - z0) * a
        cw, ch = int(w * z), int(h * z)
        x, y = int((w - cw) * (pan[0] + pan[1] * a)), (h - ch) // 2
        out.append(cv2.resize(still[y:y + ch, x:x + cw], size, interpolation=cv2.INTER_AREA))
    return out


def encode_frames(path: Path, frames: Any, fps: float, codec: list[str]) -> Path:
    """RGB frames streamed into the ffmpeg program (which ``make setup`` installs)."""
    import subprocess  # noqa: PLC0415

    import numpy as np  # noqa: PLC0415

    proc: subprocess.Popen[bytes] | None = None
    for f in frames:
        if proc is None:
            h, w = f.shape[:2]
            proc = subprocess.Popen(["ffmpeg", "-v", "error", "-y", "-f", "rawvideo",
                                     "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-r", str(fps),
                                     "-i", "-", *codec, str(path)], stdin=subprocess.PIPE)
        assert proc.stdin is not None
        proc.stdin.write(np.ascontiguousarray(f).tobytes())
    assert proc is not None and proc.stdin is not None
    proc.stdin.close()
    assert proc.wait() == 0
    return path


def register_clips(db: Path, clips: list[tuple[str, Any]], fps: float, codec: list[str]
                   ) -> dict[str, int]:
    """Each of ``clips`` (name, RGB frames) encoded beside ``db`` as ``name.mp4`` and
    registered there as a fingerprinted clip; the entry ids by name."""
    from detectors.fingerprint import extract  # noqa: PLC0415
    from detectors.fingerprint.store import RegisterStore  # noqa: PLC0415

    ids = {}
    with RegisterStore(str(db), readonly=False, create=True) as store:
        for name, frames in clips:
            clip = encode_frames(db.parent / f"{name}.mp4", frames, fps, codec)
            ids[name] = store.add(sha256=name, media_type="video/mp4", path=str(clip), size=0,
                                  tool="test", note="", added="test", verdict="clean",
                                  evidence=[], fp=extract.fingerprint_video(str(clip)))
    return ids


def jpeg_query_features(rgb: Any, quality: int) -> Any:
    """The local features the register extracts from a deliverable frame, after the frame
    went through JPEG at ``quality`` (real bytes, not the pixels as drawn)."""
    import cv2  # noqa: PLC0415 - only the register tests need OpenCV here

    from detectors.fingerprint import features as feat  # noqa: PLC0415

    ok, buf = cv2.imencode(".jpg", rgb, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return feat.extract(cv2.imdecode(buf, cv2.IMREAD_COLOR), feat.QUERY_SIDE,
                        feat.QUERY_FEATURES)

