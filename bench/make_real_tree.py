"""Build a realistic delivery tree for ``bench.bench_real`` (seeded; cached and reused).

What a distributor receives, at the scale of a feature's turnover: mostly small stills, WAV
stems, 10 % real H.264 clips (720×1280 phone clips and 2750×1834 camera clips, 2–5 s, with
AAC sound), some ProRes clips, 24 MP camera JPEGs and 12 MP camera TIFFs, MP3/M4A/FLAC
audio, XMP sidecars, documents, ZIP turnovers, and sparse 4/50 GiB masters. 2 % of the files
carry an AI marker of every kind deliverscan detects:

- ``c2pa``: signed with the project's test-only PKI (``fixtures/c2pa/pki``, as
  ``fixtures/gen_c2pa.py`` signs) at generation time, one signature per file: real photos,
  a real clip, a real WAV, a 24 MP still, and every other container c2pa-python writes;
- ``meta``: the AI/review metadata fixtures (``fixtures/meta``, ``fixtures/delivery``,
  ``fixtures/sidecars/enhancement``): PNG text, JPEG EXIF/XMP, MP4/MOV atoms, WAV/AIFF
  chunks, ID3, Vorbis comments, MXF, EXR, DPX, Cineon…;
- ``watermark``: the invisible-watermark fixtures (``fixtures/watermark``);
- ``sidecar``: ComfyUI workflow/prompt JSON beside (or without) a real frame, A1111 ``.txt``;
- ``zip``: a ZIP turnover of real stills with one AI member;
- ``master``: sparse 4 and 50 GiB MP4/MOV masters with a C2PA box (``moov`` first and last).

Real pictures: the public-domain / CC0 photographs shipped in the scikit-image wheel
(astronaut, coffee, chelsea, rocket, Hubble deep field, retina, camera, brick, grass, gravel;
their licences are in ``PHOTOS``), fetched once with ``pip download`` (PyPI only) unless
scikit-image is importable. Clips are made from them with ffmpeg (``zoompan`` or a ``crop``
pan, libx264 or prores_ks); camera stills by Lanczos upscaling with Pillow plus camera EXIF.

Each kind is made once as a small pool of sources (``<cache>/real-sources-v<N>-s<seed>/``,
shared by every tree size) and copied into the tree with different bytes: every source holds a
32-character placeholder (EXIF ImageUniqueID, a PNG text chunk with its CRC fixed, an MP4/MOV
comment, a WAV INFO comment, an ID3 comment…) that each copy replaces with its own id, so all
files differ and every file is a real file with its own inode. Fixtures are copied with a
format-aware tail (PNG chunk, JPEG COM segment, RIFF JUNK chunk, BMFF ``free`` box…); C2PA
files are signed one by one. Everything but the C2PA signatures (ECDSA and manifest UUIDs are
random by design) is byte-for-byte reproducible from the seed.

The manifest ``<tree-dir>/manifest.jsonl`` lists every file (relative path, category, marker,
expected verdict); ``gen.json`` (written last: its presence means the tree is complete) holds
the counts, bytes on disk and generation time.

    .venv/bin/python -m bench.make_real_tree --files 1000     # prints the tree directory
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image, PngImagePlugin

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
CACHE = ROOT / "bench" / "results" / "tmp"
POOL_VERSION = 1  # bump when the pool's recipe changes (old pools are then ignored)
TREE_VERSION = 1  # bump when the tree layout or the planting changes

PLACEHOLDER = b"DSBQ" + b"Z" * 28  # 32 bytes, replaced by each copy's own 32-hex-digit id
SKIMAGE_PIN = "scikit-image==0.26.0"
# name in skimage/data → licence as scikit-image documents it
PHOTOS: dict[str, str] = {
    "astronaut.png": "NASA, public domain",
    "coffee.png": "CC0 (Rachel Michetti)",
    "chelsea.png": "CC0 (Stefan van der Walt)",
    "rocket.jpg": "SpaceX, public domain",
    "hubble_deep_field.jpg": "NASA, public domain",
    "retina.jpg": "CC0 (Mikael Häggström)",
    "camera.png": "CC0 (Lav Varshney)",
    "brick.png": "CC0 (cc0textures)",
    "grass.png": "CC0 (linolafett)",
    "gravel.png": "CC0 (cc0textures)",
}
COLOUR = ["astronaut.png", "coffee.png", "chelsea.png", "rocket.jpg", "hubble_deep_field.jpg",
          "retina.jpg"]

AVC_SMALL = (720, 1280)
AVC_BIG = (2750, 1834)
CAMERA_JPG = (6000, 4000)  # 24 MP
CAMERA_TIF = (4000, 3000)  # 12 MP
CAMERAS = [("Canon", "Canon EOS 5D Mark IV"), ("SONY", "ILCE-7M3"),
           ("NIKON CORPORATION", "NIKON Z 6_2"), ("FUJIFILM", "X-T4"), ("Apple", "iPhone 13")]

# Share of the tree per clean category (the rest of the clean files are small JPEG stills).
CLEAN_SHARE: dict[str, float] = {
    "avc_small": 0.05, "avc_big": 0.05, "prores": 0.003, "camera_jpg": 0.01,
    "camera_tif": 0.0025, "photo_png": 0.10, "photo_webp": 0.03, "photo_tif": 0.02,
    "wav": 0.15, "mp3": 0.06, "m4a": 0.02, "flac": 0.01, "xmp": 0.04, "doc": 0.03,
    "zip": 0.005,
}
# Share of the planted files per marker kind.
PLANT_SHARE: dict[str, float] = {"c2pa": 0.30, "meta": 0.35, "watermark": 0.15,
                                 "sidecar": 0.12, "zip": 0.08}
EXT = {"photo_jpg": "jpg", "photo_png": "png", "photo_webp": "webp", "photo_tif": "tif",
       "camera_jpg": "jpg", "camera_tif": "tif", "avc_small": "mp4", "avc_big": "mp4",
       "prores": "mov", "wav": "wav", "mp3": "mp3", "m4a": "m4a", "flac": "flac",
       "xmp": "xmp", "zip": "zip"}
FOLDER = {"photo": "stills", "camera": "stills", "avc": "video", "prores": "video",
          "wav": "audio", "mp3": "audio", "m4a": "audio", "flac": "audio", "xmp": "stills",
          "doc": "docs", "zip": "turnover"}
# fixtures/meta: what each file is made to get (the rest, but clean*, are 'ai')
META_REVIEW = {"a1111_extras.png", "freetext.jpg", "freetext.wav", "iptc_composite.jpg",
               "sd_misc.png", "veo.mp4"}
META_PAIRS = {"sidecar_asset.jpg": "sidecar_asset.xmp"}
ENHANCE_PAIRS = {"IMG_0042-Enhanced-NR.tif": "IMG_0042-Enhanced-NR.xmp"}


def uid_of(seed: int, index: int) -> bytes:
    return hashlib.sha256(f"{seed}:{index}".encode()).hexdigest()[:32].encode()


def run(cmd: list[str]) -> None:
    subprocess.run(cmd, check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                   timeout=600)


# --------------------------------------------------------------------------------------------
# Real photographs


def fetch_skimage_data(dest: Path) -> Path:
    """scikit-image's sample pictures (public domain / CC0 photographs and micrographs),
    extracted once from its wheel (``pip download``: PyPI only) into ``dest``."""
    if dest.is_dir() and any(dest.iterdir()):
        return dest
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps",
                        "--only-binary", ":all:", "-d", tmp, SKIMAGE_PIN], check=True,
                       timeout=900)
        (wheel,) = Path(tmp).glob("scikit_image-*.whl")
        with zipfile.ZipFile(wheel) as zf:
            for name in zf.namelist():
                p = Path(name)
                if p.parts[:2] == ("skimage", "data") and p.suffix.lower() in (
                        ".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp"):
                    (dest / p.name).write_bytes(zf.read(name))
    return dest


def fetch_photos(dest: Path) -> dict[str, Path]:
    """The photographs, from an importable scikit-image or its wheel (``pip download``)."""
    dest.mkdir(parents=True, exist_ok=True)
    out = {name: dest / name for name in PHOTOS}
    if all(p.is_file() for p in out.values()):
        return out
    with tempfile.TemporaryDirectory() as tmp:
        try:
            import skimage  # noqa: PLC0415 - optional: only its data files are used

            data = Path(skimage.__file__).parent / "data"
        except ImportError:
            data = Path(tmp) / "none"
        if not all((data / n).is_file() for n in PHOTOS):
            data = fetch_skimage_data(Path(tmp) / "data")
        for n in PHOTOS:
            shutil.copyfile(data / n, out[n])
    return out


def load_photo(path: Path) -> Image.Image:
    with Image.open(path) as im:
        return im.convert("RGB")


def cover(img: Image.Image, size: tuple[int, int], rng: random.Random,
          zoom: float = 1.0) -> Image.Image:
    """A crop of ``img`` with the aspect of ``size``, resized (Lanczos) to ``size`` × zoom."""
    w, h = size
    target = w / h
    iw, ih = img.size
    if iw / ih > target:
        cw, ch = int(ih * target), ih
    else:
        cw, ch = iw, int(iw / target)
    scale = rng.uniform(0.7, 1.0)
    cw, ch = max(16, int(cw * scale)), max(16, int(ch * scale))
    x, y = rng.randrange(iw - cw + 1), rng.randrange(ih - ch + 1)
    crop = img.crop((x, y, x + cw, y + ch))
    return crop.resize((int(w * zoom), int(h * zoom)), Image.Resampling.LANCZOS)


def camera_exif(rng: random.Random, with_uid: bool = True) -> Image.Exif:
    make, model = rng.choice(CAMERAS)
    exif = Image.Exif()
    exif[0x010F] = make
    exif[0x0110] = model
    exif[0x0131] = f"Ver.{rng.randint(1, 3)}.{rng.randint(0, 9)}0"
    stamp = f"2026:{rng.randint(1, 11):02d}:{rng.randint(1, 28):02d} " \
            f"{rng.randint(6, 20):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}"
    exif[0x0132] = stamp
    sub = exif.get_ifd(0x8769)
    sub[0x9003] = stamp
    sub[0x9004] = stamp
    sub[0x829A] = (1, rng.choice([30, 60, 125, 250, 500]))
    sub[0x829D] = (rng.choice([18, 28, 40, 56, 80]), 10)
    sub[0x8827] = rng.choice([100, 200, 400, 800, 1600])
    sub[0x920A] = (rng.choice([24, 35, 50, 85]), 1)
    sub[0xA434] = rng.choice(["EF24-70mm f/2.8L II USM", "FE 35mm F1.8", "NIKKOR Z 50mm f/1.8 S"])
    if with_uid:
        sub[0xA420] = PLACEHOLDER.decode()
    return exif


# --------------------------------------------------------------------------------------------
# Placeholder stamping


@dataclass(frozen=True)
class Source:
    """A pool file, where its placeholder sits, and (PNG) the chunk whose CRC covers it."""

    path: Path
    offsets: tuple[int, ...]
    png_chunks: tuple[int, ...] = ()
    note: str = ""

    def to_json(self, base: Path) -> dict[str, Any]:
        return {"path": str(self.path.relative_to(base)), "offsets": list(self.offsets),
                "png_chunks": list(self.png_chunks), "note": self.note}

    @classmethod
    def from_json(cls, d: dict[str, Any], base: Path) -> Source:
        return cls(base / d["path"], tuple(d["offsets"]), tuple(d["png_chunks"]), d["note"])


def _png_chunk_starts(data: bytes, offsets: tuple[int, ...]) -> tuple[int, ...]:
    out, pos = [], 8
    while pos + 12 <= len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        end = pos + 12 + length
        if any(pos < o < end for o in offsets):
            out.append(pos)
        pos = end
    return tuple(out)


def locate(path: Path, note: str = "") -> Source:
    data = path.read_bytes()
    offsets, start = [], 0
    while (i := data.find(PLACEHOLDER, start)) >= 0:
        offsets.append(i)
        start = i + 1
    if not offsets:
        raise RuntimeError(f"{path}: placeholder not found (the encoder dropped it)")
    chunks = _png_chunk_starts(data, tuple(offsets)) if data[:8] == b"\x89PNG\r\n\x1a\n" else ()
    return Source(path, tuple(offsets), chunks, note)


def stamp(src: Source, dst: Path, uid: bytes) -> None:
    """Copy ``src`` to ``dst`` (a real file) with ``uid`` in place of the placeholder."""
    if src.path.stat().st_size < 16 << 20:
        data = bytearray(src.path.read_bytes())
        for off in src.offsets:
            data[off:off + len(uid)] = uid
        for pos in src.png_chunks:
            (length,) = struct.unpack(">I", data[pos:pos + 4])
            crc = zlib.crc32(bytes(data[pos + 4:pos + 8 + length]))
            data[pos + 8 + length:pos + 12 + length] = struct.pack(">I", crc)
        dst.write_bytes(data)
        return
    shutil.copyfile(src.path, dst)
    with open(dst, "r+b") as fh:
        for off in src.offsets:
            fh.seek(off)
            fh.write(uid)


# --------------------------------------------------------------------------------------------
# Format-aware tails (fixture copies get different bytes without losing their marker)


def _png_text(data: bytes, text: bytes) -> bytes:
    body = b"Comment\0" + text
    chunk = struct.pack(">I", len(body)) + b"tEXt" + body + \
        struct.pack(">I", zlib.crc32(b"tEXt" + body))
    iend = data.rfind(b"IEND") - 4
    return data[:iend] + chunk + data[iend:]


def _riff_append(data: bytes, text: bytes, big_endian: bool = False) -> bytes:
    pad = text + (b"\0" if len(text) % 2 else b"")
    fmt = ">I" if big_endian else "<I"
    chunk = b"JUNK" + struct.pack(fmt, len(text)) + pad
    out = bytearray(data + chunk)
    if data[:4] in (b"RF64", b"BW64") and data[12:16] == b"ds64":
        (riff,) = struct.unpack("<Q", data[20:28])
        out[20:28] = struct.pack("<Q", riff + len(chunk))
    else:
        (size,) = struct.unpack(fmt, data[4:8])
        if size + 8 == len(data):
            out[4:8] = struct.pack(fmt, size + len(chunk))
    return bytes(out)


def unique_tail(data: bytes, name: str, uid: bytes) -> bytes:
    """``data`` (a fixture) made different by ``uid`` in a place its format ignores."""
    ext = name.rsplit(".", 1)[-1].lower()
    text = b"take " + uid
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return _png_text(data, text)
    if data[:2] == b"\xff\xd8":  # a COM segment after the APPn segments
        pos = 2
        while data[pos] == 0xFF and 0xE0 <= data[pos + 1] <= 0xEF:
            pos += 2 + struct.unpack(">H", data[pos + 2:pos + 4])[0]
        return data[:pos] + b"\xff\xfe" + struct.pack(">H", len(text) + 2) + text + data[pos:]
    if data[:4] in (b"GIF8",) and data.endswith(b";"):
        return data[:-1] + b"\x21\xfe" + bytes([len(text)]) + text + b"\0;"
    if data[:4] in (b"RIFF", b"RF64", b"BW64"):
        return _riff_append(data, text)
    if data[:4] == b"FORM":
        return _riff_append(data, text, big_endian=True)
    if data[4:8] in (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip"):
        return data + struct.pack(">I", 8 + len(text)) + b"free" + text
    if data[:4] == b"ID3\x03" or data[:4] == b"ID3\x04" or ext == "mp3":
        tag = b"TAG" + text[:30].ljust(30, b"\0") + bytes(94)
        return data + tag[:128]
    if data[:4] == b"\x1a\x45\xdf\xa3":  # Matroska: an EBML Void element at the top level
        return data + b"\xec" + bytes([0x80 | len(text)]) + text
    if data[:4] == b"\x06\x0e\x2b\x34":  # MXF: a KLV fill item
        key = bytes.fromhex("060e2b34010101020301021001000000")
        return data + key + bytes([0x80 | 1, len(text)]) + text
    if ext in ("svg", "xml", "xmp"):
        return data + b"\n<!-- " + text + b" -->\n"
    if ext == "pdf":
        return data + b"\n%" + text + b"\n"
    return data + b"\0" * 8 + text  # TIFF, DNG, EXR, DPX, Cineon, FLAC, Ogg: unreferenced tail


# --------------------------------------------------------------------------------------------
# The pool of sources (made once per seed, shared by every tree size)


def _ffmpeg(args: list[str], out: Path) -> None:
    run(["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args,
         "-fflags", "+bitexact", "-metadata", f"comment={PLACEHOLDER.decode()}", str(out)])


def _sound(rng: random.Random, seconds: float, channels: int) -> list[str]:
    freq = rng.choice([110, 220, 330, 440, 523, 660, 880])
    return ["-f", "lavfi", "-i",
            f"sine=frequency={freq}:sample_rate=48000:duration={seconds}",
            "-f", "lavfi", "-i",
            f"anoisesrc=d={seconds}:c=pink:r=48000:a=0.03:seed={rng.randrange(1 << 30)}",
            "-filter_complex", f"[0:a][1:a]amix=inputs=2:normalize=0,"
            f"aformat=channel_layouts={'stereo' if channels == 2 else 'mono'}[a]"]


def make_clip(photo: Path, out: Path, size: tuple[int, int], seconds: int, fps: int,
              motion: str, codec: list[str], audio: list[str], rng: random.Random) -> None:
    """A clip made from a real photo: a slow zoom (zoompan) or a pan (crop)."""
    w, h = size
    img = load_photo(photo)
    with tempfile.TemporaryDirectory() as tmp:
        still = Path(tmp) / "still.png"
        frames = seconds * fps
        if motion == "zoom":
            cover(img, size, rng).save(still)
            vf = (f"[0:v]zoompan=z='1+{0.25 / frames:.6f}*on':x='iw/2-(iw/zoom/2)':"
                  f"y='ih/2-(ih/zoom/2)':d={frames}:s={w}x{h}:fps={fps},format=yuv420p[v]")
            vin = ["-i", str(still)]
        else:
            cover(img, size, rng, zoom=1.3).save(still)
            vf = (f"[0:v]crop={w}:{h}:x='(iw-ow)*t/{seconds}':y='(ih-oh)*t/{seconds}',"
                  f"format=yuv420p[v]")
            vin = ["-loop", "1", "-framerate", str(fps), "-t", str(seconds), "-i", str(still)]
        snd = _sound(rng, seconds, 2)
        graph = vf + ";" + snd[snd.index("-filter_complex") + 1]
        args = [*vin, *snd[:snd.index("-filter_complex")], "-filter_complex",
                graph.replace("[0:a][1:a]", "[1:a][2:a]"), "-map", "[v]", "-map", "[a]",
                "-t", str(seconds), *codec, *audio]
        _ffmpeg(args, out)


@dataclass
class Pool:
    base: Path
    sources: dict[str, list[Source]] = field(default_factory=dict)
    seconds: float = 0.0

    def add(self, cat: str, src: Source) -> None:
        self.sources.setdefault(cat, []).append(src)

    def save(self) -> None:
        (self.base / "pool.json").write_text(json.dumps(
            {"version": POOL_VERSION, "seconds": round(self.seconds, 1),
             "sources": {k: [s.to_json(self.base) for s in v]
                         for k, v in self.sources.items()}}, indent=1))

    @classmethod
    def load(cls, base: Path) -> Pool | None:
        meta = base / "pool.json"
        if not meta.is_file():
            return None
        d = json.loads(meta.read_text())
        if d.get("version") != POOL_VERSION:
            return None
        return cls(base, {k: [Source.from_json(s, base) for s in v]
                          for k, v in d["sources"].items()}, d["seconds"])


def build_pool(base: Path, seed: int, log: Callable[[str], None]) -> Pool:
    """Every source the tree is copied from, once per seed: ~3 CPU minutes (6 minutes wall on
    a busy 2-core machine); byte-for-byte the same on every rebuild."""
    cached = Pool.load(base)
    if cached is not None:
        return cached
    if shutil.which("ffmpeg") is None:
        raise SystemExit("make_real_tree: ffmpeg is needed to make the clips and sounds "
                         "(make system-deps installs it)")
    t0 = time.perf_counter()
    if base.exists():
        shutil.rmtree(base)
    base.mkdir(parents=True)
    rng = random.Random(seed * 1_000_003 + 17)
    photos = fetch_photos(base / "photos")
    pool = Pool(base)
    colour = [photos[n] for n in COLOUR]
    allp = list(photos.values())

    log("pool: small stills")
    d = base / "stills"
    d.mkdir()
    sides = [256, 384, 512, 768, 1024, 1280, 1600, 1920]
    weights = [10, 10, 25, 20, 15, 8, 7, 5]
    for fmt, count in (("jpg", 60), ("png", 40), ("webp", 20), ("tif", 12)):
        for k in range(count):
            src = rng.choice(allp if fmt != "jpg" else colour + allp)
            long = rng.choices(sides, weights)[0]
            ratio = rng.choice([1.5, 4 / 3, 16 / 9, 1.0, 2 / 3])
            size = (long, max(64, int(long / ratio))) if ratio >= 1 else \
                (max(64, int(long * ratio)), long)
            img = cover(load_photo(src), size, rng)
            path = d / f"{fmt}_{k:03d}.{fmt}"
            if fmt == "jpg":
                img.save(path, "JPEG", quality=rng.choice([80, 85, 90, 95]),
                         exif=camera_exif(rng).tobytes())
            elif fmt == "png":
                info = PngImagePlugin.PngInfo()
                info.add_text("Comment", PLACEHOLDER.decode())
                img.save(path, "PNG", pnginfo=info)
            elif fmt == "webp":
                img.save(path, "WEBP", quality=85, exif=camera_exif(rng).tobytes())
            else:
                img.save(path, "TIFF", compression="tiff_lzw",
                         tiffinfo={270: PLACEHOLDER.decode(), 305: "Adobe Photoshop 25.0"})
            pool.add(f"photo_{fmt}", locate(path, src.name))

    log("pool: camera stills (24 MP JPEG, 12 MP TIFF)")
    for k in range(6):
        src = colour[k % len(colour)]
        size = CAMERA_JPG if k % 3 else CAMERA_JPG[::-1]
        img = cover(load_photo(src), size, rng)
        path = d / f"camera_{k}.jpg"
        img.save(path, "JPEG", quality=92, exif=camera_exif(rng).tobytes())
        pool.add("camera_jpg", locate(path, f"{src.name} → {size[0]}×{size[1]}"))
    for k in range(3):
        src = colour[(k + 2) % len(colour)]
        img = cover(load_photo(src), CAMERA_TIF, rng)
        path = d / f"camera_{k}.tif"
        make, model = CAMERAS[k]
        img.save(path, "TIFF", tiffinfo={270: PLACEHOLDER.decode(), 271: make, 272: model,
                                         305: "Ver.1.00"})
        pool.add("camera_tif", locate(path, f"{src.name} → 4000×3000 uncompressed"))

    log("pool: H.264 clips")
    d = base / "video"
    d.mkdir()
    for cat, size, fps in (("avc_small", AVC_SMALL, 30), ("avc_big", AVC_BIG, 24)):
        for k in range(8):
            seconds = 2 + k % 4
            motion = "zoom" if k % 3 == 0 else "pan"
            gop = fps if k % 2 == 0 else 250  # a phone's 1 s GOP, or x264's default
            ext = "mov" if k % 4 == 3 else "mp4"
            path = d / f"{cat}_{k}.{ext}"
            codec = ["-c:v", "libx264", "-preset", "veryfast", "-crf", "24",
                     "-profile:v", "high", "-g", str(gop)]
            if ext == "mp4":
                codec += ["-movflags", "+faststart"]
            make_clip(colour[(k + len(cat)) % len(colour)], path, size, seconds, fps, motion,
                      codec, ["-c:a", "aac", "-b:a", "128k"], rng)
            pool.add(cat, locate(path, f"{size[0]}×{size[1]} {seconds}s {fps}fps {motion} "
                                       f"gop {gop}"))
    log("pool: ProRes clips")
    for k in range(4):
        size = AVC_SMALL if k % 2 else AVC_BIG
        path = d / f"prores_{k}.mov"
        make_clip(colour[k], path, size, 2, 24, "pan",
                  ["-c:v", "prores_ks", "-profile:v", str(k % 2), "-pix_fmt", "yuv422p10le"],
                  ["-c:a", "pcm_s24le"], rng)
        pool.add("prores", locate(path, f"{size[0]}×{size[1]} 2s ProRes profile {k % 2}"))

    log("pool: audio")
    d = base / "audio"
    d.mkdir()
    for cat, count, codec in (("wav", 40, ["-c:a", "pcm_s24le"]),
                              ("mp3", 20, ["-c:a", "libmp3lame", "-b:a", "192k",
                                           "-id3v2_version", "3"]),
                              ("m4a", 10, ["-c:a", "aac", "-b:a", "160k"]),
                              ("flac", 8, ["-c:a", "flac"])):
        for k in range(count):
            seconds = round(rng.uniform(0.5, 3.0) if cat == "wav" else rng.uniform(2, 8), 2)
            snd = _sound(rng, seconds, rng.choice([1, 2]))
            path = d / f"{cat}_{k:02d}.{EXT[cat]}"
            extra = ["-write_bext", "1"] if cat == "wav" and k % 2 else []
            _ffmpeg([*snd, "-map", "[a]", *codec, *extra], path)
            pool.add(cat, locate(path, f"{seconds}s"))
    pool.seconds = time.perf_counter() - t0
    pool.save()
    return pool


# --------------------------------------------------------------------------------------------
# Planted markers


@dataclass(frozen=True)
class Planted:
    rel: str  # relative to the stem's folder; "{stem}" is replaced
    marker: str
    recipe: str
    expect: str  # ai | review


Writer = Callable[[Path, str, bytes], list[tuple[Path, str]]]  # (dir, stem, uid) → (path, exp)


@dataclass
class Recipe:
    kind: str
    name: str
    folder: str
    write: Writer


class Planter:
    """Makes the planted files; C2PA signing goes through the fixtures' own helpers."""

    def __init__(self, pool: Pool) -> None:
        self.pool = pool
        self._signer: Any = None

    # -- C2PA
    def signer(self) -> Any:
        if self._signer is None:
            from fixtures.gen_c2pa import load_pki, make_signer  # noqa: PLC0415

            pki = load_pki()
            self._signer = make_signer(pki.chain, pki.leaf_key)
        return self._signer

    def sign(self, data: bytes, mime: str, title: str) -> bytes:
        from fixtures.gen_c2pa import created, manifest, sign  # noqa: PLC0415

        signed, _ = sign(data, mime, manifest(title, [created("trainedAlgorithmicMedia")]),
                         self.signer())
        return signed

    def c2pa_recipes(self) -> list[Recipe]:
        from fixtures.gen_c2pa import FORMATS  # noqa: PLC0415

        out: list[Recipe] = []

        def from_pool(srcs: list[Source], mime: str) -> Writer:
            def write(d: Path, stem: str, uid: bytes) -> list[tuple[Path, str]]:
                src = srcs[int(uid[:8], 16) % len(srcs)]
                ext = src.path.suffix
                tmp = d / f".{stem}.tmp"
                stamp(src, tmp, uid)
                data = tmp.read_bytes()
                tmp.unlink()
                path = d / f"{stem}{ext}"
                path.write_bytes(self.sign(data, mime, f"{stem}{ext}"))
                return [(path, "ai")]
            return write

        for cat, mime, folder in (("photo_jpg", "image/jpeg", "stills"),
                                  ("photo_png", "image/png", "stills"),
                                  ("camera_jpg", "image/jpeg", "stills"),
                                  ("avc_small", "video/mp4", "video"),
                                  ("wav", "audio/wav", "audio")):
            # (the .mp4 clips only: a .mov source would need another MIME)
            srcs = [s for s in self.pool.sources[cat] if s.path.suffix != ".mov"]
            out.append(Recipe("c2pa", f"signed real {cat}", folder, from_pool(srcs, mime)))

        def from_fixture(fmt: str) -> Writer:
            def write(d: Path, stem: str, uid: bytes) -> list[tuple[Path, str]]:
                src = (FIXTURES / "c2pa" / "sources" / f"src.{fmt}").read_bytes()
                path = d / f"{stem}.{fmt}"
                path.write_bytes(self.sign(src, FORMATS[fmt], f"{stem}.{fmt} {uid.decode()}"))
                return [(path, "ai")]
            return write

        for fmt, mime in FORMATS.items():
            if fmt in ("jpg", "png", "wav"):
                continue
            folder = {"image": "stills", "video": "video", "audio": "audio"}.get(
                mime.split("/")[0], "docs")
            out.append(Recipe("c2pa", f"signed src.{fmt}", folder, from_fixture(fmt)))
        return out

    # -- copies of marker fixtures
    @staticmethod
    def copy_fixture(files: list[tuple[Path, str]], kind: str, name: str) -> Recipe:
        """A recipe copying fixture files (a pair shares the new stem) with unique tails."""
        first = files[0][0]
        kind_of = _folder_for(first.suffix)

        def write(d: Path, stem: str, uid: bytes) -> list[tuple[Path, str]]:
            out = []
            for src, expect in files:
                path = d / f"{stem}{src.suffix}"
                path.write_bytes(unique_tail(src.read_bytes(), src.name, uid))
                out.append((path, expect))
            return out
        return Recipe(kind, name, kind_of, write)

    def meta_recipes(self) -> list[Recipe]:
        out = []
        paired = set(META_PAIRS.values()) | set(ENHANCE_PAIRS.values())
        for p in sorted((FIXTURES / "meta").iterdir()):
            if p.name.startswith("clean") or p.name in paired:
                continue
            expect = "review" if p.name in META_REVIEW else "ai"
            files = [(p, expect)]
            if p.name in META_PAIRS:
                files.append((p.with_name(META_PAIRS[p.name]), expect))
            out.append(self.copy_fixture(files, "meta", f"meta/{p.name}"))
        with open(FIXTURES / "delivery_expected.tsv", newline="") as fh:
            rows = [r for r in csv.reader(fh, delimiter="\t") if r and not r[0].startswith("#")]
        for row in rows:
            if row[1] in ("ai", "review"):
                out.append(self.copy_fixture([(FIXTURES / "delivery" / row[0], row[1])],
                                             "meta", f"delivery/{row[0]}"))
        enh = FIXTURES / "sidecars" / "enhancement"
        for name in ("topaz_interpolate.mp4", "topaz_upscale.mov", "topaz_upscale.mkv",
                     "IMG_0057-Enhanced-SR.tif", "IMG_0042-Enhanced-NR.tif"):
            files = [(enh / name, "review")]
            if name in ENHANCE_PAIRS:
                files.append((enh / ENHANCE_PAIRS[name], "review"))
            out.append(self.copy_fixture(files, "meta", f"enhancement/{name}"))
        return out

    def watermark_recipes(self) -> list[Recipe]:
        wm = FIXTURES / "watermark"
        spec = json.loads((wm / "manifest.json").read_text())
        return [self.copy_fixture([(wm / name, "ai")], "watermark", f"watermark/{name}")
                for name, entry in sorted(spec.items()) if entry.get("expect")]

    def sidecar_recipes(self) -> list[Recipe]:
        sc = FIXTURES / "sidecars"
        api = json.loads((sc / "sidecar_only" / "workflow_api.json").read_text())
        ui = json.loads((sc / "sidecar_only" / "workflow.json").read_text())
        infotext = (sc / "a1111_txt" / "00012-1234567890.txt").read_text()

        def api_json(uid: bytes) -> str:
            data = json.loads(json.dumps(api))
            for node in data.values():
                if isinstance(node, dict) and "seed" in node.get("inputs", {}):
                    node["inputs"]["seed"] = int(uid[:12], 16)
            return json.dumps(data, indent=2)

        def ui_json(uid: bytes, indent: int | None) -> str:
            data = dict(ui)
            u = uid.decode()
            data["id"] = f"{u[:8]}-{u[8:12]}-{u[12:16]}-{u[16:20]}-{u[20:32]}"
            return json.dumps(data, indent=indent)

        def frame(cat: str, d: Path, stem: str, uid: bytes) -> Path:
            srcs = self.pool.sources[cat]
            src = srcs[int(uid[:8], 16) % len(srcs)]
            path = d / f"{stem}{src.path.suffix}"
            stamp(src, path, uid)
            return path

        def api_only(d: Path, stem: str, uid: bytes) -> list[tuple[Path, str]]:
            (d / f"{stem}_api.json").write_text(api_json(uid))
            return [(d / f"{stem}_api.json", "ai")]

        def ui_only(d: Path, stem: str, uid: bytes) -> list[tuple[Path, str]]:
            (d / f"{stem}.json").write_text(ui_json(uid, 2))
            return [(d / f"{stem}.json", "ai")]

        def saver(d: Path, stem: str, uid: bytes) -> list[tuple[Path, str]]:
            img = frame("photo_tif", d, stem, uid)
            (d / f"{stem}.json").write_text(ui_json(uid, None))
            return [(img, "ai"), (d / f"{stem}.json", "ai")]

        def exr_api(d: Path, stem: str, uid: bytes) -> list[tuple[Path, str]]:
            exr = d / f"{stem}.exr"
            exr.write_bytes(unique_tail(
                (sc / "exr_api" / "shot_v001.1001.exr").read_bytes(), "x.exr", uid))
            (d / f"{stem}_api.json").write_text(api_json(uid))
            (d / f"{stem}_ui.json").write_text(ui_json(uid, 2))
            return [(exr, "ai"), (d / f"{stem}_api.json", "ai"), (d / f"{stem}_ui.json", "ai")]

        def a1111(d: Path, stem: str, uid: bytes) -> list[tuple[Path, str]]:
            img = frame("photo_png", d, stem, uid)
            seed = int(uid[:8], 16)
            (d / f"{stem}.txt").write_text(infotext.replace("Seed: 1234567890", f"Seed: {seed}"))
            return [(img, "ai"), (d / f"{stem}.txt", "ai")]

        return [Recipe("sidecar", "comfyui api json alone", "docs", api_only),
                Recipe("sidecar", "comfyui ui json alone", "docs", ui_only),
                Recipe("sidecar", "comfyui image-saver json + real tif", "stills", saver),
                Recipe("sidecar", "comfyui exr + api/ui json", "stills", exr_api),
                Recipe("sidecar", "a1111 txt + real png", "stills", a1111)]

    def zip_recipes(self) -> list[Recipe]:
        members: list[tuple[str, Callable[[bytes], bytes]]] = [
            ("plates/bg.png", lambda u: unique_tail(
                (FIXTURES / "meta" / "a1111_parameters.png").read_bytes(), "x.png", u)),
            ("plates/signed.jpg", lambda u: self.sign(
                (FIXTURES / "c2pa" / "sources" / "src.jpg").read_bytes(), "image/jpeg",
                f"zip member {u.decode()}")),
            ("audio/temp_score.mov", lambda u: unique_tail(
                (FIXTURES / "meta" / "comfyui_vhs.mov").read_bytes(), "x.mov", u)),
            ("plates/iptc.jpg", lambda u: unique_tail(
                (FIXTURES / "meta" / "iptc_dst.jpg").read_bytes(), "x.jpg", u)),
            ("audio/suno.mp3", lambda u: unique_tail(
                (FIXTURES / "meta" / "suno.mp3").read_bytes(), "x.mp3", u)),
        ]
        out = []
        for member, make in members:
            def write(d: Path, stem: str, uid: bytes, member: str = member,
                      make: Callable[[bytes], bytes] = make) -> list[tuple[Path, str]]:
                path = d / f"{stem}.zip"
                write_zip(path, self.pool, uid, [(member, make(uid))])
                return [(path, "ai")]
            out.append(Recipe("zip", f"zip member {member}", "turnover", write))
        return out


def _folder_for(suffix: str) -> str:
    s = suffix.lower()
    if s in (".wav", ".mp3", ".aiff", ".aifc", ".flac", ".ogg", ".opus", ".m4a"):
        return "audio"
    if s in (".mp4", ".mov", ".mkv", ".avi", ".3gp", ".mxf"):
        return "video"
    if s in (".json", ".txt", ".pdf", ".svg"):
        return "docs"
    return "stills"


def write_zip(path: Path, pool: Pool, uid: bytes, extra: list[tuple[str, bytes]]) -> None:
    """A turnover ZIP: two or three real stills (stored, as zip -r stores JPEGs) + ``extra``."""
    srcs = pool.sources["photo_jpg"]
    n = int(uid[:8], 16)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for k in range(2 + n % 2):
            src = srcs[(n + 7 * k) % len(srcs)]
            buf = bytearray(src.path.read_bytes())
            for off in src.offsets:
                buf[off:off + len(uid)] = uid
            info = zipfile.ZipInfo(f"plates/plate_{k}.jpg", (2026, 11, 20, 10, 0, 0))
            info.compress_type = zipfile.ZIP_STORED
            zf.writestr(info, bytes(buf))
        for name, data in extra:
            info = zipfile.ZipInfo(name, (2026, 11, 20, 10, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
        info = zipfile.ZipInfo("README.txt", (2026, 11, 20, 10, 0, 0))
        zf.writestr(info, b"turnover " + uid + b"\n")


# --------------------------------------------------------------------------------------------
# Clean files that are not copies of a pool source


def xmp_sidecar(rng: random.Random, uid: bytes) -> bytes:
    make, model = rng.choice(CAMERAS)
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">\n <rdf:RDF '
        'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n'
        '  <rdf:Description rdf:about=""\n'
        '    xmlns:tiff="http://ns.adobe.com/tiff/1.0/"\n'
        '    xmlns:xmpMM="http://ns.adobe.com/xap/1.0/mm/"\n'
        '    xmlns:crs="http://ns.adobe.com/camera-raw-settings/1.0/"\n'
        '    xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/"\n'
        f'   tiff:Make="{make}" tiff:Model="{model}"\n'
        f'   xmpMM:DocumentID="xmp.did:{uid.decode()}"\n'
        f'   crs:Exposure2012="{rng.uniform(-1, 1):+.2f}" crs:Temperature="'
        f'{rng.randrange(3200, 6500, 50)}"\n'
        '   Iptc4xmpExt:DigitalSourceType='
        '"http://cv.iptc.org/newscodes/digitalsourcetype/digitalCapture"/>\n'
        ' </rdf:RDF>\n</x:xmpmeta>\n<?xpacket end="w"?>\n').encode()


def document(rng: random.Random, uid: bytes) -> tuple[str, bytes]:
    kind = rng.choice(["txt", "json", "edl", "csv"])
    u = uid.decode()
    if kind == "txt":
        return kind, (f"Delivery notes {u[:8]}\nReel {rng.randint(1, 9)}: conform to the "
                      f"locked cut, grade v{rng.randint(1, 9)}.\n").encode()
    if kind == "json":
        return kind, json.dumps({"project": "bench", "id": u, "fps": 24,
                                 "colour": {"space": "ACEScct", "lut": f"show_{u[:4]}.cube"}},
                                indent=2).encode()
    if kind == "edl":
        lines = [f"TITLE: REEL_{u[:6]}", "FCM: NON-DROP FRAME", ""]
        for e in range(1, rng.randint(3, 12)):
            lines.append(f"{e:03d}  A{e:03d}C001 V     C        01:00:{e:02d}:00 01:00:{e:02d}:12"
                         f" 01:00:{e:02d}:00 01:00:{e:02d}:12")
        return kind, ("\n".join(lines) + "\n").encode()
    rows = ["shot,frames,status"] + [f"{u[:4]}_{k:03d},{rng.randint(24, 400)},final"
                                     for k in range(rng.randint(3, 30))]
    return kind, ("\n".join(rows) + "\n").encode()


# --------------------------------------------------------------------------------------------
# The tree


@dataclass(frozen=True)
class Params:
    files: int
    ai_rate: float = 0.02
    seed: int = 7
    masters: tuple[int, ...] = (4, 50)

    @property
    def name(self) -> str:
        m = "-".join(map(str, self.masters)) or "none"
        return (f"real-tree-v{TREE_VERSION}-n{self.files}-s{self.seed}-ai{self.ai_rate:g}"
                f"-m{m}")


def allocate(p: Params, planted_files: int) -> list[str]:
    """The clean category of every clean slot, before shuffling."""
    clean_total = p.files - planted_files
    counts = {k: round(v * p.files) for k, v in CLEAN_SHARE.items()}
    for k in ("avc_small", "avc_big", "camera_jpg", "camera_tif", "prores"):
        counts[k] = max(counts[k], 2)
    counts["photo_jpg"] = max(0, clean_total - sum(counts.values()))
    while sum(counts.values()) > clean_total:  # tiny trees: trim the largest
        big = max(counts, key=lambda k: counts[k])
        counts[big] -= 1
    return [k for k, n in counts.items() for _ in range(n)]


def plan_planted(p: Params, recipes: dict[str, list[Recipe]]) -> list[Recipe]:
    target = round(p.files * p.ai_rate)
    if target == 0:
        return []
    plan: list[Recipe] = []
    turn = {k: 0 for k in recipes}
    wanted = {k: max(1, round(target * s)) for k, s in PLANT_SHARE.items()}
    # interleave the kinds; within a kind, go round its recipes
    while sum(wanted.values()) > 0:
        for kind in PLANT_SHARE:
            if wanted[kind] > 0:
                rs = recipes[kind]
                plan.append(rs[turn[kind] % len(rs)])
                turn[kind] += 1
                wanted[kind] -= 1
    return plan


SIZES_PER_RECIPE = {"comfyui image-saver json + real tif": 2, "comfyui exr + api/ui json": 3,
                    "a1111 txt + real png": 2}


def _files_of(r: Recipe) -> int:
    if r.name in SIZES_PER_RECIPE:
        return SIZES_PER_RECIPE[r.name]
    if r.name.startswith(("meta/sidecar_asset", "enhancement/IMG_0042")):
        return 2
    return 1


def disk_usage(tree: Path) -> tuple[int, int, int]:
    """(files, apparent bytes, allocated bytes) under ``tree``."""
    files = apparent = alloc = 0
    for dirpath, _, names in os.walk(tree):
        for n in names:
            st = os.lstat(os.path.join(dirpath, n))
            files += 1
            apparent += st.st_size
            alloc += st.st_blocks * 512
    return files, apparent, alloc


def estimate_bytes(p: Params, pool: Pool) -> int:
    per = {k: sum(s.path.stat().st_size for s in v) / len(v) for k, v in pool.sources.items()}
    return int(sum(per.get(k, 50_000) * CLEAN_SHARE.get(k, 0) * p.files for k in CLEAN_SHARE)
               + per["photo_jpg"] * 0.4 * p.files)


def build(p: Params, cache: Path = CACHE, log: Callable[[str], None] = print,
          force: bool = False) -> Path:
    """The tree directory for ``p`` (``<dir>/delivery``, ``manifest.jsonl``, ``gen.json``),
    made unless a complete one is cached."""
    out = cache / p.name
    if (out / "gen.json").is_file() and not force:
        return out
    pool = build_pool(cache / f"real-sources-v{POOL_VERSION}-s{p.seed}", p.seed, log)
    need = estimate_bytes(p, pool)
    free = shutil.disk_usage(cache).free
    if need * 1.1 > free:
        raise SystemExit(f"make_real_tree: ~{need / 1e9:.1f} GB needed, {free / 1e9:.1f} GB "
                         f"free under {cache}")
    if out.exists():
        shutil.rmtree(out)
    tree = out / "delivery"
    tree.mkdir(parents=True)
    t0 = time.perf_counter()
    rng = random.Random(p.seed)
    planter = Planter(pool)
    recipes = {"c2pa": planter.c2pa_recipes(), "meta": planter.meta_recipes(),
               "watermark": planter.watermark_recipes(), "sidecar": planter.sidecar_recipes(),
               "zip": planter.zip_recipes()}
    planted = plan_planted(p, recipes)
    slots: list[str | Recipe] = [*allocate(p, sum(_files_of(r) for r in planted)), *planted]
    rng.shuffle(slots)
    log(f"tree: {p.files} files ({len(planted)} planted recipes) → {tree}")
    turn: dict[str, int] = {}
    with open(out / "manifest.jsonl", "w") as man:
        def record(path: Path, category: str, marker: str | None, recipe: str,
                   expect: str) -> None:
            man.write(json.dumps({"path": str(path.relative_to(tree)), "category": category,
                                  "marker": marker, "recipe": recipe, "expect": expect}) + "\n")

        for i, slot in enumerate(slots):
            reel = f"reel{i // 1000:03d}"
            uid = uid_of(p.seed, i)
            if isinstance(slot, Recipe):
                d = tree / reel / slot.folder
                d.mkdir(parents=True, exist_ok=True)
                stem = f"{slot.folder[:-1] if slot.folder.endswith('s') else slot.folder}" \
                       f"_{i:06d}_x"
                for path, expect in slot.write(d, stem, uid):
                    record(path, slot.kind, slot.kind, slot.name, expect)
                continue
            cat = slot
            d = tree / reel / FOLDER[cat.split("_")[0]]
            d.mkdir(parents=True, exist_ok=True)
            word = d.name[:-1] if d.name.endswith("s") else d.name
            stem = f"{word}_{i:06d}_x"
            if cat in pool.sources:
                srcs = pool.sources[cat]
                k = turn.get(cat, 0)
                turn[cat] = k + 1
                src = srcs[k % len(srcs)]
                path = d / f"{stem}{src.path.suffix}"
                stamp(src, path, uid)
                record(path, cat, None, src.path.name, "clean")
            elif cat == "xmp":
                path = d / f"{stem}.xmp"
                path.write_bytes(xmp_sidecar(rng, uid))
                record(path, cat, None, "camera xmp", "clean")
            elif cat == "doc":
                ext, data = document(rng, uid)
                path = d / f"{stem}.{ext}"
                path.write_bytes(data)
                record(path, cat, None, ext, "skipped")
            elif cat == "zip":
                path = d / f"{stem}.zip"
                write_zip(path, pool, uid, [])
                record(path, cat, None, "clean turnover", "clean")
            if i and i % 5000 == 0:
                log(f"  {i} / {len(slots)}")
        if p.masters:
            from bench.make_tree import _c2pa_uuid_box, big_master  # noqa: PLC0415

            box = _c2pa_uuid_box()
            big = tree / "masters"
            big.mkdir()
            for gib in p.masters:
                for ext, brand, first in (("mp4", b"isom", True), ("mov", b"qt  ", False)):
                    path = big / f"master_{gib}GiB_{'moovfirst' if first else 'moovlast'}.{ext}"
                    big_master(path, gib * 2**30, brand, box, first)
                    record(path, "master", "master" if box else None, f"sparse {gib} GiB",
                           "ai" if box else "clean")
    seconds = time.perf_counter() - t0
    files, apparent, alloc = disk_usage(tree)
    (out / "gen.json").write_text(json.dumps({
        "params": {"files": p.files, "ai_rate": p.ai_rate, "seed": p.seed,
                   "masters": list(p.masters)},
        "files": files, "apparent_bytes": apparent, "allocated_bytes": alloc,
        "tree_seconds": round(seconds, 1), "pool_seconds": pool.seconds,
        "pool_sources": {k: [s.to_json(pool.base) for s in v]
                         for k, v in pool.sources.items()},
        "photos": PHOTOS, "python": sys.version.split()[0],
    }, indent=1))
    return out


def iter_manifest(out: Path) -> Iterator[dict[str, Any]]:
    with open(out / "manifest.jsonl") as fh:
        for line in fh:
            yield json.loads(line)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=10_000)
    ap.add_argument("--ai-rate", type=float, default=0.02)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--masters", default="4,50", help="GiB, comma separated ('' = none)")
    ap.add_argument("--cache", type=Path, default=CACHE)
    ap.add_argument("--force", action="store_true", help="rebuild even when cached")
    a = ap.parse_args()
    p = Params(a.files, a.ai_rate, a.seed, tuple(int(x) for x in a.masters.split(",") if x))
    t0 = time.perf_counter()
    out = build(p, a.cache, force=a.force)
    gen = json.loads((out / "gen.json").read_text())
    print(json.dumps({"dir": str(out), "files": gen["files"],
                      "GB_on_disk": round(gen["allocated_bytes"] / 1e9, 2),
                      "tree_seconds": gen["tree_seconds"], "pool_seconds": gen["pool_seconds"],
                      "this_call_seconds": round(time.perf_counter() - t0, 1)}))


if __name__ == "__main__":
    main()
