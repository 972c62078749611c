"""The formats' header-only size read (``registry.dimensions``, which the watermark detector
asks before any pixel is read, to decide whether an image is too small or too big) agrees with
Pillow on every readable PNG and JPEG fixture."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image

from detectors.formats import registry
from detectors.formats.sniff import sniff


def _header_size(data: bytes) -> tuple[int, int, int] | None:
    return registry.dimensions(sniff(data[:4096])[1], data)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def test_header_size_matches_pillow() -> None:
    checked = 0
    for p in sorted(FIXTURES.rglob("*")):
        if not p.is_file() or "hostile" in p.parts or "fuzz_regressions" in p.parts:
            continue
        data = p.read_bytes()
        quick = _header_size(data[:65536])
        if quick is None:
            continue
        with Image.open(io.BytesIO(data)) as im:
            assert quick == (im.size[0], im.size[1], int(getattr(im, "n_frames", 1) or 1)), p
        checked += 1
    assert checked >= 50


def test_header_size_defers_to_pillow_for_animation_and_unknown() -> None:
    buf = io.BytesIO()
    frames = [Image.new("RGB", (8, 8), c) for c in ((255, 0, 0), (0, 255, 0))]
    frames[0].save(buf, "PNG", save_all=True, append_images=frames[1:])
    assert _header_size(buf.getvalue()) is None  # APNG: Pillow counts the frames
    assert _header_size(b"GIF89a...") is None


def test_fuzz_found_damaged_headers_are_reported_not_raised() -> None:
    """Pillow raises IndexError/TypeError on these (found by `make fuzz`): the detector reports
    an unreadable header (the file is an error, never clean) instead of leaking the exception."""
    from helpers import scan_with

    from detectors.watermark import WatermarkDetector

    cases = sorted((FIXTURES / "fuzz_regressions" / "pipeline").glob("watermark--*"))
    assert len(cases) == 2
    for p in cases:
        r = scan_with(WatermarkDetector(), p)
        assert r.verdict == "error", p
        message = r.errors[0].message
        assert message.startswith("image header unreadable"), (p, message)
