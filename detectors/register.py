"""The ``register`` detector: finds the production's own registered temp-AI material in
deliverables by content, after its metadata is gone.

Off by default; ``scan --register reg.db`` (or ``path`` in a policy's ``[detectors.register]``)
turns it on. Every match is a ``matched``-tier ``ai`` finding that cites
the registered entry (id, path, tool, note, SHA-256, what the other detectors said about it at
registration), the distance or score, the matched region for partial matches (with small
side-by-side thumbnails), and for video and audio the in and out points as SMPTE timecode at
the file's own rate and start timecode, in the deliverable and in the registered asset
(picture boundaries refined to the exact frame).
"""

from __future__ import annotations

import base64
import hashlib
import os
import sqlite3
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, ClassVar

from detectors.api import (
    AssetContext,
    ConfigError,
    Detector,
    Incomplete,
    NotApplicable,
    Option,
    Options,
    RuleInfo,
    default_token,
    sha256_file,
)
from detectors.fingerprint import WAVEFORM_FULL_S
from detectors.lazy import lazy
from detectors.model import AI, REVIEW, Asset, Finding, truncate

if TYPE_CHECKING:
    from detectors.fingerprint import audio as audio_fp
    from detectors.fingerprint import audio_match, extract, store, waveform
    from detectors.fingerprint import matcher as m
    from detectors.fingerprint import timecode as tc
    from detectors.fingerprint import video as video_fp
    from detectors.fingerprint.store import Entry
else:  # fingerprinting pulls in OpenCV and NumPy: loaded when this (opt-in) detector first runs
    store = lazy("detectors.fingerprint.store")
    audio_fp = lazy("detectors.fingerprint.audio")
    audio_match = lazy("detectors.fingerprint.audio_match")
    extract = lazy("detectors.fingerprint.extract")
    m = lazy("detectors.fingerprint.matcher")
    tc = lazy("detectors.fingerprint.timecode")
    video_fp = lazy("detectors.fingerprint.video")
    waveform = lazy("detectors.fingerprint.waveform")


EXACT_LIMIT = 256 * 1024 * 1024  # hash whole files up to this size for an identical-bytes check
LOCAL_EVERY = 2.0  # seconds between local-feature checks of unmatched video frames
# A periodic texture's match (features.FeatureIndex.textures) says the pattern is there, not
# which copy of it: the person checking the finding should know that.
TEXTURE_NOTE = " of a repeated pattern: any copy of that pattern would match, compare by eye"


def _squeeze_note(squeeze: object, between_bars: object = False) -> str:
    """Says a match was placed squeezed (``features.squeeze_ransac``, or between the frame's
    bars: ``matcher._unsqueezed``): a person comparing the two pictures should expect one
    narrower or flatter than the other."""
    if not isinstance(squeeze, float | int):
        return ""
    where = " between the frame's bars" if between_bars else ""
    return f", placed squeezed{where}: {float(squeeze):.2f} horizontal to vertical scale"


def _tc_range(timing: tc.Timing, start: float, end: float, start_frame: int | None = None,
              end_frame: int | None = None) -> dict[str, Any]:
    """In and out points as SMPTE labels at the file's rate from its start timecode:
    ``start`` is the first matching frame, ``end`` the last, ``out`` the frame after it (an
    EDL's exclusive out point); frame numbers count from the file's first frame."""
    sf = timing.frame_at(start) if start_frame is None else start_frame
    ef = max(sf, timing.frame_at(end) if end_frame is None else end_frame)
    base = timing.start_frame
    return {"start": timing.label(base + sf), "end": timing.label(base + ef),
            "out": timing.label(base + ef + 1), "start_frame": sf, "end_frame": ef,
            "start_s": round(start, 3), "end_s": round(end, 3),
            "rate": timing.describe()["rate"], "drop_frame": timing.drop}


def _entry_timing(entry: Entry) -> tc.Timing:
    return tc.Timing.from_description(entry.timing or {})


def confidence(evidence: dict[str, Any]) -> float:
    """0-1 strength of a match from its own measure, for policy to threshold.

    Why these scales: a real re-encode lands under PDQ distance 24 and unrelated pictures
    stay far above the 40 a match needs (nearest of 860 unrelated stills 70, of 493 unrelated
    video frames 82: bench/results/register-negatives.md); chance ORB consensus stays near
    the 14-inlier floor while a real insert gives 40+; audio uses ``audio_match``'s own
    confidence (0.5 at its match threshold of hits over the entry's chance level)."""
    method = evidence.get("method")
    if method in ("sha256",):
        return 1.0
    if method == "pdq":
        d = evidence.get("distance", evidence.get("best_distance"))
        return round(max(0.0, min(1.0, (90 - float(d if d is not None else 90)) / 66)), 3)
    if method in ("orb+ransac", "local"):
        return round(min(1.0, float(evidence.get("inliers", 0)) / 40), 3)
    if method in ("waveform", "grains"):  # waveform.score: 0.5 at its match threshold
        return round(float(evidence.get("match_confidence", 0.0)), 3)
    if method == "landmarks":
        if "match_confidence" in evidence:  # audio_match: 0.5 at its match threshold
            return round(float(evidence["match_confidence"]), 3)
        return round(min(1.0, float(evidence.get("aligned_hits", 0)) / 100), 3)
    return 0.5


def _sound(reg: m.Register, path: str, own_connection: bool = False
           ) -> list[tuple[int, str, list[m.RangeMatch]]]:
    """Each audio stream and its matches: landmarks, the look-up, the waveform search and
    following speed changes. ``own_connection``: on another thread, with the register's
    ``fork`` (call ``reg.prepare_audio()`` first, on the register's own thread). Each
    stream's landmarks and sound are dropped once matched: (stream number, its label,
    matches) per stream."""
    here = reg.fork() if own_connection else reg
    try:
        out = []
        for st in audio_fp.stream_landmarks(path, density=audio_match.QUERY,
                                            proxy=reg.waveform_search, half=True):
            out.append((st.number, st.label, here.match_audio(st.landmarks)))
        return out
    finally:
        if here is not reg:
            here.close()


def _audio_notes(ctx: AssetContext, reg: m.Register) -> None:
    """Where registered sound was looked up the slow way or not searched by its waveform,
    the scan says so."""
    for note in reg.audio_notes():
        ctx.note(note)


def _data_uri(jpeg: bytes) -> str:
    return "data:image/jpeg;base64," + base64.b64encode(jpeg).decode("ascii") if jpeg else ""


def _registration_summary(entry: Entry) -> str:
    """'which was …' clause: what the other detectors said about the asset when registered."""
    parts = []
    for f in entry.evidence[:3]:
        msg = str(f.get("message") or f.get("rule") or "")
        parts.append(f"{f.get('verdict', '?')}/{f.get('tier', '?')}: {msg}")
    if parts:
        more = f" (+{len(entry.evidence) - 3} more)" if len(entry.evidence) > 3 else ""
        return "; at registration it was flagged " + " | ".join(parts) + more
    return "; at registration no detector flagged it (registered as temp AI material)"


def register_identity(path: str) -> str:
    """What a scan's matches depend on in the register: its fingerprint parameters and
    entries (id and content hash). Read with the standard library alone, in the process that
    computes cache keys (no NumPy)."""
    uri = "file:" + os.path.abspath(path).replace("?", "%3f").replace("#", "%23") + "?mode=ro"
    h = hashlib.sha256()
    try:
        db = sqlite3.connect(uri, uri=True)
        try:
            for key, value in db.execute("SELECT key, value FROM meta ORDER BY key"):
                h.update(f"{key}={value}\n".encode())
            for eid, sha in db.execute("SELECT id, sha256 FROM entries ORDER BY id"):
                h.update(f"{eid}:{sha}\n".encode())
        finally:
            db.close()
    except sqlite3.Error as exc:
        return f"unreadable:{exc}"
    return h.hexdigest()[:16]


def _stretch_measures(ev: dict[str, Any]) -> str:
    """How a time stretch was measured (``waveform.follow_stretch``): how far its grains and
    its spectral change stand over the same frames moved along the asset."""
    spectral = ev.get("spectral_margin")
    spectra = "" if spectral is None else f" and how its short-time spectra change {spectral}"
    return (f"its 64 ms grains stand {ev.get('grain_margin')}{spectra} over the same frames "
            f"along the asset 0.5-3 s away (grain median correlation "
            f"{ev.get('grain_correlation')})")


def _describe(entry: Entry) -> str:
    extra = [f"tool: {entry.tool}"] if entry.tool else []
    if entry.note:
        extra.append(f"note: {entry.note}")
    tail = f" ({'; '.join(extra)})" if extra else ""
    return f"temp asset #{entry.id} {entry.path!r}{tail}"


class RegisterDetector(Detector):
    name: ClassVar[str] = "register"
    version: ClassVar[str] = "4"  # 3: waveform search of registered audio; 4: speed changes
    kinds: ClassVar[frozenset[str]] = frozenset({"image", "video", "audio"})
    description: ClassVar[str] = ("Temp-AI asset register: PDQ, local features, audio "
                                  "landmarks and waveforms against registered content")
    default_enabled: ClassVar[bool] = False
    order: ClassVar[int] = 40
    reads: ClassVar[str] = "essence"  # decoded frames and audio: stage 2
    options: ClassVar[tuple[Option, ...]] = (
        Option("path", str, None, "Temp-AI asset register (SQLite) to match content against.",
               flag="--register", metavar="FILE", envvar="DELIVERSCAN_REGISTER", path=True,
               enables=True),
        Option("review_below", float, 0.5, "Matches with a confidence (0-1) under this are "
               "'review' instead of 'ai'.", minimum=0.0),
        Option("waveform_minutes", float, WAVEFORM_FULL_S / 60, "Registered sound "
               "(minutes) up to which the waveform search correlates every registered "
               "entry with the whole soundtrack; over it, only where the landmarks name an "
               "entry (faster; can miss a sound 15 dB under a mix).", minimum=0.0),
        Option("still_parts", bool, True, "Match a still over 1,024 px that matched nothing "
               "as a whole again in five parts (finds an element of few corners in a busy "
               "composite; an unmatched still then takes about three times as long)."),
    )
    # content matching decodes whole programmes (a 2-hour master takes about as long as it
    # plays): the 30 s hostile-file limit would cut every long master off
    file_time_needed: ClassVar[float | None] = 6 * 3600.0
    _review_below: float = 0.5

    def cache_token(self, options: Options) -> str:
        """A match depends on what the register holds: any entry added or removed re-runs the
        register detector on every file (a cached "no match" must not outlive a new entry)."""
        path = self.settings(options)["path"]
        return (f"{default_token(self, options)}|"
                f"{register_identity(str(path)) if path else 'no register'}")

    def rules(self) -> list[RuleInfo]:
        what = {"register.exact": "identical bytes to a registered temp-AI asset",
                "register.pdq": "image matches a registered temp-AI asset (PDQ)",
                "register.local": "part of a registered temp-AI image used (local features)",
                "register.video.pdq": "video frames match a registered temp-AI asset (PDQ)",
                "register.video.local": "part of a registered asset used in video frames",
                "register.audio.landmarks": "audio matches a registered temp-AI asset",
                "register.audio.waveform": "a registered temp-AI sound is in the audio, "
                                           "found by its waveform (under a mix)"}
        return [RuleInfo(rid, self.name, AI, "matched", title,
                         "https://github.com/facebook/ThreatExchange/tree/main/pdq")
                for rid, title in what.items()]

    def check_options(self, options: Options) -> None:
        path = self.settings(options)["path"]
        if not path:
            raise ConfigError("the register detector needs a register (--register FILE)")
        try:
            store.RegisterStore(str(path), readonly=True).close()
        except store.RegisterError as exc:
            raise ConfigError(str(exc)) from None

    def _register(self, ctx: AssetContext) -> m.Register:
        settings = self.settings(ctx.options)
        path, whole = settings["path"], float(settings["waveform_minutes"]) * 60
        if not path:
            raise NotApplicable("no register given (scan --register FILE)")
        try:
            return ctx.shared.get(f"register:{path}:{whole:g}",
                                  lambda: m.Register(str(path), whole),
                                  close=lambda r: r.close())
        except store.RegisterError as exc:
            raise Incomplete(str(exc)) from exc

    def detect(self, asset: Asset, ctx: AssetContext) -> Iterable[Finding]:
        self._review_below = float(self.settings(ctx.options)["review_below"])
        reg = self._register(ctx)
        if not reg.entries:
            ctx.note("register is empty")
            return
        exact = None
        if asset.size <= EXACT_LIMIT:
            sha = ctx.memo("sha256", lambda: sha256_file(asset.fs_path))
            exact = reg.by_sha.get(sha)
            if exact is not None:
                yield self._finding("register.exact", "file", exact,
                                    f"identical bytes to {_describe(exact)}",
                                    {"method": "sha256", "sha256": sha})
        skip = {exact.id} if exact else set()
        try:
            if asset.kind == "image":
                yield from self._image(asset, ctx, reg, skip)
            elif asset.kind == "video":
                yield from self._video(asset, ctx, reg, skip)
            elif asset.kind == "audio":
                timing = tc.probe(asset.fs_path)
                _audio_notes(ctx, reg)
                if extract.is_wav(asset.media_type):
                    lm = audio_fp.fingerprint(asset.fs_path, is_wav=True,
                                              density=audio_match.QUERY,
                                              proxy=reg.waveform_search, half=True)
                    yield from self._audio(reg, reg.match_audio(lm), "audio", skip, timing)
                else:
                    yield from self._streams(reg, asset.fs_path, "audio", skip, timing)
        except (extract.MediaError, video_fp.VideoError, audio_fp.DecodeError) as exc:
            raise Incomplete(f"cannot decode for fingerprinting: {exc}") from exc

    # -- per kind --------------------------------------------------------------------------
    def _image(self, asset: Asset, ctx: AssetContext, reg: m.Register,
               skip: set[int]) -> Iterator[Finding]:
        rgb = extract.load_rgb(asset.fs_path)
        matches, quality = reg.match_image(
            rgb, parts=bool(self.settings(ctx.options)["still_parts"]))
        if quality < m.MIN_QUALITY:
            ctx.note(f"PDQ quality {quality} < {m.MIN_QUALITY} (flat or tiny image): "
                     "whole-image hash not used, local features only")
        for im in matches:
            if im.entry.id in skip:
                continue
            ev: dict[str, Any]
            if im.method == "pdq" and im.region is not None:
                x0, y0, x1, y1 = im.region
                ev = {"method": "pdq", "distance": im.distance,
                      "threshold": m.PDQ_INSET_RADIUS, "variant": im.variant,
                      "quality": im.quality, "found_in": "framed inset of a composite",
                      "region": {"x": x0, "y": y0, "width": x1 - x0, "height": y1 - y0,
                                 "units": "pixels", "image_width": int(rgb.shape[1]),
                                 "image_height": int(rgb.shape[0])},
                      "thumbnails": self._thumbs(reg, im.entry,
                                                 extract.thumbnail(rgb, im.region))}
                yield self._finding(
                    "register.pdq", f"image:region[{x0},{y0},{x1},{y1}]", im.entry,
                    f"contains {_describe(im.entry)} in a framed inset {x1 - x0}x{y1 - y0} at "
                    f"({x0},{y0}): PDQ distance {im.distance}/256, {im.variant}", ev)
            elif im.method == "pdq":
                ev = {"method": "pdq", "distance": im.distance, "threshold": m.PDQ_RADIUS,
                      "variant": im.variant, "quality": im.quality}
                how = f"PDQ distance {im.distance}/256" + (
                    f", {im.variant}" if im.variant != "original" else "")
                yield self._finding("register.pdq", "image:pixels", im.entry,
                                    f"matches {_describe(im.entry)}: {how}", ev)
            else:
                lm = im.local
                assert lm is not None
                x0, y0, x1, y1 = lm.region
                ev = {"method": "orb+ransac", "inliers": lm.inliers, "matches": lm.matches,
                      "min_inliers": lm.min_inliers, "scale": round(lm.scale, 3),
                      "region": {"x": x0, "y": y0, "width": x1 - x0, "height": y1 - y0,
                                 "coverage": lm.coverage, "units": "pixels",
                                 "image_width": int(rgb.shape[1]),
                                 "image_height": int(rgb.shape[0])},
                      "thumbnails": self._thumbs(reg, im.entry,
                                                 extract.thumbnail(rgb, lm.region))}
                if lm.texture:
                    ev["texture"] = True
                if lm.squeeze is not None:
                    ev["squeeze"] = lm.squeeze
                if lm.between_bars:
                    ev["between_bars"] = True
                if im.closer_look:
                    ev["closer_look"] = im.closer_look
                yield self._finding(
                    "register.local", f"image:region[{x0},{y0},{x1},{y1}]", im.entry,
                    f"contains {_describe(im.entry)} in region {x1 - x0}x{y1 - y0} at "
                    f"({x0},{y0}), {lm.coverage:.0%} of the image ({lm.inliers} "
                    f"consistent local features{TEXTURE_NOTE if lm.texture else ''}"
                    f"{_squeeze_note(lm.squeeze, lm.between_bars)}"
                    f"{f', in {im.closer_look}' if im.closer_look else ''})", ev)

    def _video(self, asset: Asset, ctx: AssetContext, reg: m.Register,
               skip: set[int]) -> Iterator[Finding]:
        has_audio = audio_fp.has_audio_stream(asset.fs_path)
        timing = ctx.memo("register:timing", lambda: tc.probe(asset.fs_path))
        try:
            vi = video_fp.info(asset.fs_path)
        except video_fp.VideoError:
            if not has_audio:
                raise
            # an audio-only container of a video family (IMF/Avid audio MXF, M4A-like MOV)
            ctx.note("no picture stream: the audio tracks were checked")
            _audio_notes(ctx, reg)
            yield from self._streams(reg, asset.fs_path, "audio-track", skip, timing)
            return
        # The sound is matched on a second thread while the picture is (decoding, the STFT,
        # the look-up and the transforms release the GIL): on one master file the two cores
        # work at once. That thread reads the register through its own SQLite connection
        # (``Register.fork``); the waveforms are loaded on this one before it starts.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="register-audio") as pool:
            sound = None
            if has_audio:
                _audio_notes(ctx, reg)
                reg.prepare_audio()
                sound = pool.submit(_sound, reg, asset.fs_path, True)
            yield from self._picture(asset, ctx, reg, skip, timing, vi, has_audio)
            if sound is not None:
                yield from self._streams(reg, asset.fs_path, "audio-track", skip, timing,
                                         sound.result())
            elif not audio_fp.pyav_available():
                ctx.note("audio track not checked: PyAV is not installed")

    def _picture(self, asset: Asset, ctx: AssetContext, reg: m.Register, skip: set[int],
                 timing: tc.Timing, vi: Any, has_audio: bool) -> Iterator[Finding]:
        frames = video_fp.prefetched(video_fp.sample(asset.fs_path, rate=extract.SCAN_RATE,
                                                     max_side=extract.FRAME_SIDE))
        try:
            runs, stats = reg.match_frames(frames, local_every=LOCAL_EVERY,
                                           path=asset.fs_path)
        except video_fp.VideoError:
            if not has_audio:
                raise
            runs, stats = [], None
            ctx.note("no decodable picture: only the audio track was checked")
        if stats is not None:
            ctx.note(f"{stats['frames']} frames sampled ({extract.SCAN_RATE:g} fps + cuts), "
                     f"{stats['low_quality']} too flat to hash, "
                     f"{stats['local_checked']} checked for partial use, "
                     f"{stats['window_checked']} for picture-in-picture windows "
                     f"({stats['window_us'] / 1000 / max(1, stats['window_checked']):.1f}"
                     " ms each); timecode "
                     f"{timing.describe()['start']} at {timing.describe()['rate']} fps "
                     f"({timing.describe()['start_source']})")
            if stats["frames"] == 0 and not has_audio:
                raise Incomplete("no video frame could be decoded")
        for run in runs:
            if run.entry.id in skip:
                continue
            try:
                reg.refine(run, asset.fs_path, 1.0 / extract.SCAN_RATE)
            except video_fp.VideoError as exc:
                ctx.note(f"boundaries of the match with #{run.entry.id} not refined: {exc}")
            yield self._range_finding(reg, run, "video", timing, (vi.width, vi.height))

    def _audio(self, reg: m.Register, runs: list[m.RangeMatch], where: str, skip: set[int],
               timing: tc.Timing, stream: str | None = None) -> Iterator[Finding]:
        for run in runs:
            if run.entry.id not in skip:
                f = self._range_finding(reg, run, where, timing, None)
                if stream is not None:
                    f.evidence["audio_stream"] = stream
                yield f

    def _streams(self, reg: m.Register, path: str, where: str, skip: set[int],
                 timing: tc.Timing, streams: list[tuple[int, str, list[m.RangeMatch]]] | None = None
                 ) -> Iterator[Finding]:
        """Every audio stream on its own (stems and languages are separate tracks); with more
        than one, the location names the track: ``audio-track-3:01:00:10:00-...``.
        ``streams``: each stream with its matches (``_sound``), if already computed."""
        if streams is None:
            streams = _sound(reg, path)
        for number, label, matches in streams:
            name = where if len(streams) == 1 else f"{where}-{number}"
            yield from self._audio(reg, matches, name, skip, timing, label)

    def _thumbs(self, reg: m.Register, entry: Entry, deliverable: bytes) -> dict[str, Any]:
        """Side by side: the matched region of the deliverable and the registered asset."""
        return {"deliverable": _data_uri(deliverable),
                "registered": _data_uri(reg.store.thumbnail(entry.id)),
                "format": "image/jpeg", "max_side": extract.THUMB_SIDE}

    def _range_finding(self, reg: m.Register, run: m.RangeMatch, where: str,
                       timing: tc.Timing, size: tuple[int, int] | None) -> Finding:
        rng = _tc_range(timing, run.start, run.end, run.start_frame, run.end_frame)
        ev: dict[str, Any] = {"method": run.method, "deliverable_range": rng,
                              "samples": run.samples, "timecode": timing.describe()}
        if run.ref_start is not None and run.ref_end is not None:
            ev["register_range"] = _tc_range(_entry_timing(run.entry), run.ref_start,
                                             run.ref_end)
        detail = dict(run.detail)
        region = detail.pop("region", None)
        if isinstance(region, dict):
            thumb = region.pop("thumbnail", b"")
            if size is not None and size[0] > 0:
                w, h = size
                region = {**region, "pixels": {
                    "x": round(float(region["x"]) * w), "y": round(float(region["y"]) * h),
                    "width": round(float(region["width"]) * w),
                    "height": round(float(region["height"]) * h),
                    "frame_width": w, "frame_height": h}}
            at = region.get("at_s")
            if isinstance(at, float | int):
                region["at"] = timing.at(float(at))
            ev["region"] = region
            ev["thumbnails"] = self._thumbs(reg, run.entry, thumb if isinstance(thumb, bytes)
                                            else b"")
        ev.update(detail)
        if run.method == "pdq":
            window = ev.get("found_in") == m.WINDOW_FOUND_IN
            ev.update({"best_distance": run.best_distance, "median_distance": run.score,
                       "threshold": m.PDQ_INSET_RADIUS if window else m.PDQ_RADIUS,
                       "sampling": "1 fps + scene cuts"})
            how = f"{run.samples} sampled frame(s), best PDQ distance {run.best_distance}/256"
            if window and isinstance(ev.get("region"), dict):
                px = ev["region"].get("pixels") or {}
                at = (f" {px['width']}x{px['height']} at ({px['x']},{px['y']})"
                      if px else "")
                how = f"picture-in-picture window{at}, " + how
                if ev.get("closer_look"):
                    how += f", confirmed in a closer look at the window ({ev['closer_look']})"
        elif run.method == "local":
            ev.update({"inliers": int(run.score), "sampling": f"every {LOCAL_EVERY:g} s + cuts"})
            how = f"partial use, {int(run.score)} consistent local features"
            if ev.get("texture"):
                how += TEXTURE_NOTE
            region = ev.get("region")
            if isinstance(region, dict):
                how += _squeeze_note(region.get("squeeze"), region.get("between_bars"))
            if ev.get("closer_look"):
                # the samples' inliers were short: a person checks the sharper crop's count
                how += f", counted in a closer look at the region ({ev['closer_look']})"
        elif run.method == "waveform":
            ev.update({"min_z": waveform.ACCEPT_Z, "min_peak_ratio": waveform.RATIO_ACCEPT,
                       "review_confidence": waveform.REVIEW})
            speed = float(ev.get("speed", 1.0))
            played = "" if speed == 1.0 else f", played at {speed * 100:.3f} % speed"
            how = (f"the registered waveform is in the mix (correlation {ev.get('correlation')}, "
                   f"z {ev.get('waveform_z')} against other offsets, "
                   f"{ev.get('peak_ratio')}x the next best alignment{played})")
        elif run.method == "grains":
            ev.update({"min_grain_margin": waveform.GRAIN_ACCEPT,
                       "review_grain_margin": waveform.GRAIN_REVIEW,
                       "min_spectral_margin": waveform.SPEC_ACCEPT})
            how = (f"the registered sound follows a time stretch to "
                   f"{float(ev.get('tempo', 1.0)) * 100:g} % tempo: {_stretch_measures(ev)}")
        else:
            ev.update({"min_excess_hits": audio_match.ACCEPT_EXCESS,
                       "review_excess_hits": audio_match.REVIEW_EXCESS})
            how = (f"{int(run.score)} aligned audio landmarks "
                   f"({ev.get('excess_hits')} over the chance level)")
            if "tempo" in ev:
                how += f", time-stretched to {float(ev['tempo']) * 100:g} % tempo"
            if "waveform_z" in ev:  # the waveform search confirmed it (``_merge_waveform``)
                speed = float(ev.get("speed", 1.0))
                at = "" if speed == 1.0 else f" at {speed * 100:.3f} % speed"
                how += (f"; the registered waveform lines up{at} (z {ev['waveform_z']}, "
                        f"{ev.get('peak_ratio')}x the next best alignment)")
            if "grain_margin" in ev:  # grains or spectral change confirmed it (``_merge_grains``)
                how += f"; along its stretch, {_stretch_measures(ev)}"
        span = f"{rng['start']}-{rng['end']}"
        ref = ""
        if "register_range" in ev:
            ref = (f" (registered asset {ev['register_range']['start']}-"
                   f"{ev['register_range']['end']})")
        kind = "video" if where == "video" else "audio"
        rule = f"register.{kind}.{run.method}"
        return self._finding(rule, f"{where}:{span}", run.entry,
                             f"{where} {span} matches {_describe(run.entry)}{ref}: {how}", ev)

    def _finding(self, rule: str, location: str, entry: Entry, message: str,
                 evidence: dict[str, Any]) -> Finding:
        conf = confidence(evidence)
        ev = {"entry": entry.summary(), **evidence, "confidence": conf,
              "registration_findings": entry.evidence[:5]}
        value = truncate(f"register #{entry.id} sha256:{entry.sha256[:16]} {entry.path}")
        verdict = AI if conf >= self._review_below else REVIEW
        return Finding(self.name, rule, verdict, "matched", location, value,
                       truncate(message + _registration_summary(entry), 600), ev)
