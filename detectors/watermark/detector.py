"""The watermark detector: decides what to decode (settings, applicability), runs the decode
(``pixels``), and turns the best banded match into at most one finding."""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, ClassVar

from detectors.api import AssetContext, Detector, Incomplete, NotApplicable, Option, RuleInfo
from detectors.lazy import lazy
from detectors.model import Asset, Finding, truncate
from detectors.watermark import headers, pixels, sizes
from detectors.watermark.analysis import R_MIN, Z_MIN, Analysis, Match
from detectors.watermark.payloads import (
    BAND_RULE,
    BAND_TEXT,
    BAND_VERDICT,
    BANDS,
    DATA,
    binomial_tail,
    load_payloads,
)

if TYPE_CHECKING:
    import numpy as np
else:
    np = lazy("numpy")

DEFAULT_MAX_PIXELS = 40_000_000
DEFAULT_VIDEO_FRAMES = 6
DEFAULT_VIDEO_SECONDS = 10.0
DEFAULT_IMAGE_FRAMES = 64


def _format_bits(bits: np.ndarray) -> str:
    return "".join("1" if b else "0" for b in bits)


def _decoded_text(m: Match) -> str | None:
    if m.payload.mode != "bytes":
        return None
    raw = np.packbits(m.decoded.astype(np.uint8)).tobytes()
    return raw.decode("ascii", "backslashreplace")


class WatermarkDetector(Detector):
    """See the package docstring (``detectors.watermark``)."""

    name: ClassVar[str] = "watermark"
    version: ClassVar[str] = "1.1"
    kinds: ClassVar[frozenset[str]] = frozenset({"image", "video"})
    description: ClassVar[str] = ("invisible-watermark dwtDct marks of SD 1.x/2.x, SDXL/SVD and "
                                  "FLUX.1 reference code, decoded from pixels (full read)")
    order: ClassVar[int] = 30
    # What a run reads (staging: "header" | "structure" | "file" | "pixels" | "essence"); the
    # cheap test that runs first is ``precheck`` (header dimensions only).
    reads: ClassVar[str] = "pixels"
    options: ClassVar[tuple[Option, ...]] = (
        Option("max_pixels", int, DEFAULT_MAX_PIXELS, "Largest image or frame decoded "
               "(pixels); 0 turns the pixel decode off.", minimum=0),
        Option("video_frames", int, DEFAULT_VIDEO_FRAMES, "Frames sampled per video; 0: no "
               "video.", minimum=0),
        Option("video_seconds", float, DEFAULT_VIDEO_SECONDS, "Time budget per video (s).",
               minimum=0),
        Option("image_frames", int, DEFAULT_IMAGE_FRAMES, "Frames/pages decoded per multi-"
               "frame still (animated PNG/WebP/GIF, multi-page TIFF), each within the size "
               "table; more such frames make the scan incomplete.", minimum=1),
        Option("any_size", bool, False, "Decode pictures of any size up to max_pixels, not "
               "only sizes a marking generator writes (detectors/data/watermark_sizes.toml)."),
    )

    def __init__(self) -> None:
        self._payloads: tuple[Any, ...] | None = None
        self._table_digest = hashlib.sha256(DATA.read_bytes()).hexdigest()[:12]
        self._sizes_digest = hashlib.sha256(sizes.DATA.read_bytes()).hexdigest()[:12]

    @property
    def payloads(self) -> tuple[Any, ...]:
        """Loaded on first use: building the bit arrays needs NumPy, which a process that never
        decodes an image (the main process of a scan) should not import."""
        if self._payloads is None:
            self._payloads = tuple(load_payloads())
        return self._payloads

    # -- declarations ---------------------------------------------------------------------------
    def covers(self, media_type: str, kind: str) -> tuple[str, str]:
        from detectors.formats import registry

        if kind == "video":
            return "yes", "sampled frames (OpenCV/FFmpeg)"
        if kind != "image" or media_type == "image/svg+xml":
            return "no", "no pixels"
        if registry.is_raster(media_type):
            return "yes", "pixels (OpenCV, Pillow)"
        return "partial", "pixels where OpenCV or Pillow decode this variant"

    def about(self) -> dict[str, str]:
        return {"payload table": self._table_digest, "size table": self._sizes_digest,
                "consistency": f"Z{Z_MIN} R{R_MIN}"}

    def rules(self) -> list[RuleInfo]:
        """Three bands per payload, named in the payload table (read without NumPy)."""
        with DATA.open("rb") as fh:
            table = tomllib.load(fh)
        ref = "https://github.com/ShieldMnt/invisible-watermark"
        return [RuleInfo(f"watermark.{p['name']}.{BAND_RULE[band]}", self.name,
                         BAND_VERDICT[band], "suspected",
                         f"Invisible watermark of {p['generator']}: {BAND_TEXT[band]}", ref,
                         p["generator"])
                for p in table["payload"] for band in BANDS]

    # -- detection ----------------------------------------------------------------------------
    def precheck(self, asset: Asset, ctx: AssetContext) -> str | None:
        """The cheap applicability test, run first: settings, then a still's header dimensions
        (PNG/JPEG header parsers, Pillow's lazy open; never a pixel). A reason when the file
        will not be decoded (``NotApplicable`` in ``detect``), None when it may be, or when
        only a decoder can tell: a video (its container's size is the muxer's word, and a
        forged ``stsd`` would hide the stream: ``pixels.read_video`` asks the decoder) unless
        it is a one-track MP4/MOV whose H.264 SPS confirms that size
        (``headers.confirmed_video_size``), and the pages of a multi-page still (sized one by
        one in ``pixels.read_frames``)."""
        cfg = self.settings(ctx.options)
        if cfg["max_pixels"] <= 0:
            return "pixel watermark decode turned off (max_pixels = 0)"
        if asset.media_type == "image/svg+xml":
            return "vector image: no pixels to decode"
        if asset.kind == "video" and cfg["video_frames"] <= 0:
            return "video frame decode turned off (video_frames = 0)"
        if cfg["any_size"] or asset.kind not in ("image", "video"):
            return None
        if asset.kind == "video":
            confirmed = headers.confirmed_video_size(ctx)
            if confirmed is None:
                return None
            try:
                pixels.gate(*confirmed, "video", cfg)
            except NotApplicable as exc:
                return str(exc)
            return None
        try:
            size = headers.image_size(ctx)
        except Exception:  # noqa: BLE001 - detect() reads it again and reports it
            return None
        if size is None or (size[2] > 1 and asset.media_type not in headers.CANVAS):
            return None
        try:
            pixels.gate(size[0], size[1], asset.kind, cfg)
        except NotApplicable as exc:
            return str(exc)
        return None

    def detect(self, asset: Asset, ctx: AssetContext) -> Iterator[Finding]:
        cfg = self.settings(ctx.options)
        reason = self.precheck(asset, ctx)  # nothing decoded before this says yes
        if reason is not None:
            raise NotApplicable(reason)
        if asset.kind == "video":
            analysis = Analysis(self.payloads)
            where, frames, shortfall = pixels.read_video(ctx, analysis, cfg)
            pictures = [pixels.Picture(analysis, where, frames)] if analysis.frames else []
        else:
            pictures, shortfall = pixels.read_image(ctx, self.payloads, cfg)
        found = [(pic, best) for pic in pictures if (best := self._best(pic.analysis))]
        if found:  # one finding per file: the least likely by chance over its pictures
            pic, best = min(found, key=lambda f: self._chance(f[1]))
            yield self._finding(pic.analysis, best, pic.where, pic.frames)
        for pic in pictures:
            analysis = pic.analysis
            best_text = ", ".join(f"{m.payload.name} {m.matched}/{m.payload.length}"
                                  for m in analysis.best())
            # No timing here: results must be deterministic. Cost per MP: see the bench.
            dropped = (f"; {len(analysis.dropped)} stopped early, clearly null"
                       if analysis.dropped else "")
            ctx.note(f"pixel watermark decode: {pic.where} ({analysis.pixels / 1e6:.2f} MP, "
                     f"{len(analysis.variants)} variants{dropped}), best bit agreement "
                     f"{best_text}")
        if shortfall:  # after the findings: those stand, the "no mark" does not
            raise Incomplete(shortfall)

    @staticmethod
    def _chance(m: Match) -> tuple[float, float]:
        return binomial_tail(m.payload.length, m.matched), -m.z

    def _best(self, analysis: Analysis) -> Match | None:
        """The banded payload least likely by chance, or None. The marks cannot coexist (a
        second encode rewrites the same coefficients), and ASCII payloads share structure
        (every byte's top bit is 0), so an SD 2.x mark also lifts the SD 1.x count."""
        banded = [m for m in analysis.best() if m.band is not None]
        return min(banded, key=self._chance) if banded else None

    def _finding(self, analysis: Analysis, best: Match, where: str,
                 frames: list[int]) -> Finding:
        """The finding for ``best``, the banded match ``_best`` chose in ``analysis``."""
        p = best.payload
        band = best.band
        assert band is not None
        evidence: dict[str, Any] = {
            "payload": p.name,
            "generator": p.generator,
            "band": band,
            "matched_bits": best.matched,
            "bits": p.length,
            "thresholds": dict(p.thresholds),
            "chance_per_test": binomial_tail(p.length, best.matched),
            "z": round(best.z, 2),
            "z_ratio": round(best.ratio, 2),
            "agreement": round(best.tally.agreement(p.bits), 4),
            "channel_order": best.order,
            "u_centring": best.domain,
            "payload_bits": _format_bits(p.bits),
            "decoded_bits": _format_bits(best.decoded),
            "blocks": int(best.tally.totals.sum()),
            "frames": frames,
            "variants": {f"{m.order}/{m.domain}": {"matched_bits": m.matched, "z": round(m.z, 2)}
                         for m in analysis.done if m.payload is p},
            "stopped_variants": {f"{o}/{d}": round(share, 3)
                                 for (o, d), share in sorted(analysis.dropped.items())},
            "other_payloads": {m.payload.name: {"matched_bits": m.matched, "z": round(m.z, 2),
                                                "band": m.band}
                               for m in analysis.best() if m is not best},
        }
        text = _decoded_text(best)
        if text is not None:
            evidence["decoded_text"] = text
        value = f"{best.matched}/{p.length} bits match {p.name} payload"
        value += f" {p.value!r} (decoded {text!r})" if text is not None else f" {p.value}"
        return Finding(
            detector=self.name,
            rule=f"watermark.{p.name}.{BAND_RULE[band]}",
            verdict=BAND_VERDICT[band],
            tier="suspected",
            location=(f"{where}: YUV U plane ({best.order}, {best.domain} centring), "
                      "Haar LL 4×4 blocks"),
            value=truncate(value),
            message=(f"Invisible watermark of {p.generator}: {best.matched}/{p.length} bits "
                     f"match, {BAND_TEXT[band]} (chance {evidence['chance_per_test']:.1e} "
                     f"per test, block consistency z={best.z:.1f})"),
            evidence=evidence,
        )
