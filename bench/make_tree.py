"""Build a synthetic delivery tree for the benchmark (seeded, reproducible).

Default: 10,000 small files of mixed kinds (JPEG, PNG, WebP, TIFF, MP4, MOV, WAV, MP3, XMP
sidecars), ~2 % carrying AI markers of several kinds (C2PA, XMP DigitalSourceType, PNG
``parameters`` text, ID3 TXXX), plus sparse large masters (MP4/MOV of 4 GiB and 50 GiB with a
C2PA box, ``moov`` at the start and at the end).

The planted markers are listed in ``<tree>/../planted.json`` (outside the tree) so the benchmark
can check that every one is found.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import struct
import wave
from pathlib import Path

from PIL import Image, PngImagePlugin

ROOT = Path(__file__).resolve().parent.parent
C2PA_FIXTURES = ROOT / "fixtures" / "c2pa"
DST_AI = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
XMP_AI = (
    '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
    '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
    'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    '<rdf:Description rdf:about="" xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/" '
    f'Iptc4xmpExt:DigitalSourceType="{DST_AI}"/>'
    '</rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
)


def _image(rng: random.Random, fmt: str, size: int = 64) -> bytes:
    img = Image.new("RGB", (size, size), tuple(rng.randrange(256) for _ in range(3)))
    buf = io.BytesIO()
    img.save(buf, fmt, **({"quality": 80} if fmt == "JPEG" else {}))
    return buf.getvalue()


def _jpeg_with_xmp(rng: random.Random) -> bytes:
    data = _image(rng, "JPEG")
    payload = b"http://ns.adobe.com/xap/1.0/\0" + XMP_AI.encode("utf-8")
    seg = b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
    return data[:2] + seg + data[2:]


def _png_with_params(rng: random.Random) -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", "a castle at dusk\nNegative prompt: blurry\nSteps: 20, Sampler: "
                  f"Euler a, CFG scale: 7, Seed: {rng.randrange(10**9)}, Size: 64x64, "
                  "Model hash: 6ce0161689, Model: v1-5-pruned-emaonly")
    img = Image.new("RGB", (64, 64), (rng.randrange(256), 40, 90))
    buf = io.BytesIO()
    img.save(buf, "PNG", pnginfo=info)
    return buf.getvalue()


def _wav(rng: random.Random) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(bytes(rng.randrange(256) for _ in range(1600)))
    return buf.getvalue()


def _syncsafe(n: int) -> bytes:
    return bytes([(n >> 21) & 0x7F, (n >> 14) & 0x7F, (n >> 7) & 0x7F, n & 0x7F])


def _id3(frames: list[tuple[bytes, bytes]]) -> bytes:
    body = b"".join(fid + struct.pack(">I", len(data)) + b"\0\0" + data for fid, data in frames)
    return b"ID3\x03\x00\x00" + _syncsafe(len(body)) + body


def _mp3(rng: random.Random, ai: bool) -> bytes:
    frames = [(b"TIT2", b"\x00take %d" % rng.randrange(1000))]
    if ai:
        frames.append((b"TXXX", b"\x00comment\x00made with suno; created=2025-01-01T00:00:00Z; "
                                b"id=0b7e5c7e-1a2b-4c3d-9e8f-001122334455"))
    # a few MPEG-1 layer III frame headers with zero payload (128 kbps, 44.1 kHz: 417 bytes)
    frame = b"\xff\xfb\x90\x64" + bytes(413)
    return _id3(frames) + frame * 4


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def _mp4(rng: random.Random, brand: bytes, moov_first: bool = True) -> bytes:
    ftyp = _box(b"ftyp", brand + b"\0\0\0\0" + brand + b"isom")
    mvhd = _box(b"mvhd", bytes(4) + bytes(8) + struct.pack(">II", 1000, 1000) + bytes(80))
    moov = _box(b"moov", mvhd + _box(b"udta", _box(b"\xa9nam", b"take")))
    mdat = _box(b"mdat", bytes(rng.randrange(200, 2000)))
    return ftyp + (moov + mdat if moov_first else mdat + moov)


def _c2pa_uuid_box() -> bytes | None:
    """The C2PA ``uuid`` box of a signed fixture MP4, to plant into big masters."""
    src = C2PA_FIXTURES / "formats" / "ai_created.mp4"
    if not src.is_file():
        return None
    data = src.read_bytes()
    pos = 0
    while pos + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[pos:pos + 8])
        if kind == b"uuid" and data[pos + 8:pos + 24] == bytes.fromhex(
                "d8fec3d61b0e483c92975828877ec481"):
            return data[pos:pos + size]
        if size < 8:
            break
        pos += size
    return None


def _signed_copies() -> list[Path]:
    """AI-generated, C2PA-signed fixtures (c2pa.created + trainedAlgorithmicMedia)."""
    return sorted(p for p in (C2PA_FIXTURES / "formats").glob("ai_created.*")
                  if p.suffix.lower() in (".jpg", ".png", ".webp", ".mp4", ".wav"))


def big_master(path: Path, size: int, brand: bytes, c2pa: bytes | None, moov_first: bool) -> None:
    """A sparse master: ftyp, [C2PA uuid], moov, 64-bit mdat of ``size`` bytes (or moov last)."""
    ftyp = _box(b"ftyp", brand + b"\0\0\0\0" + brand + b"isom")
    mvhd = _box(b"mvhd", bytes(4) + bytes(8) + struct.pack(">II", 1000, 1000) + bytes(80))
    moov = _box(b"moov", mvhd)
    head = ftyp + (c2pa or b"")
    with open(path, "wb") as fh:
        fh.write(head)
        if moov_first:
            fh.write(moov)
        body = size - fh.tell() - (0 if moov_first else len(moov)) - 16
        fh.write(struct.pack(">I4sQ", 1, b"mdat", body + 16))
        fh.truncate(fh.tell() + body)
        if not moov_first:
            fh.seek(0, 2)
            fh.write(moov)


def build(out: Path, files: int = 10_000, ai_rate: float = 0.02, seed: int = 7,
          masters: tuple[int, ...] = (4, 50)) -> dict[str, list[str]]:
    rng = random.Random(seed)
    out.mkdir(parents=True, exist_ok=True)
    kinds = ["jpg", "png", "webp", "tif", "mp4", "mov", "wav", "mp3", "xmp"]
    weights = [30, 20, 8, 5, 8, 5, 10, 10, 4]
    signed = _signed_copies()
    planted: dict[str, list[str]] = {"c2pa": [], "xmp": [], "png_text": [], "id3": []}
    blobs = {"mp4": _mp4(rng, b"isom"), "mov": _mp4(rng, b"qt  ", moov_first=False)}
    for i in range(files):
        sub = out / f"reel{i // 1000:02d}" / f"shot{(i // 100) % 10:02d}"
        sub.mkdir(parents=True, exist_ok=True)
        kind = rng.choices(kinds, weights)[0]
        name = sub / f"asset{i:05d}.{kind}"
        if rng.random() < ai_rate:
            marker = rng.choice(["c2pa", "xmp", "png_text", "id3"]) if signed else \
                rng.choice(["xmp", "png_text", "id3"])
            if marker == "c2pa":
                src = signed[i % len(signed)]
                name = name.with_suffix(src.suffix)
                name.write_bytes(src.read_bytes())
            elif marker == "xmp":
                name = name.with_suffix(".jpg")
                name.write_bytes(_jpeg_with_xmp(rng))
            elif marker == "png_text":
                name = name.with_suffix(".png")
                name.write_bytes(_png_with_params(rng))
            else:
                name = name.with_suffix(".mp3")
                name.write_bytes(_mp3(rng, ai=True))
            planted[marker].append(str(name))
            continue
        if kind in ("jpg", "png", "webp", "tif"):
            fmt = {"jpg": "JPEG", "png": "PNG", "webp": "WEBP", "tif": "TIFF"}[kind]
            name.write_bytes(_image(rng, fmt))
        elif kind in blobs:
            name.write_bytes(blobs[kind] + _box(b"free", struct.pack(">I", i)))
        elif kind == "wav":
            name.write_bytes(_wav(rng))
        elif kind == "mp3":
            name.write_bytes(_mp3(rng, ai=False))
        else:  # an XMP sidecar of a camera original: not AI
            name.write_text(XMP_AI.replace("trainedAlgorithmicMedia", "digitalCapture"))
    box = _c2pa_uuid_box()
    big = out / "masters"
    big.mkdir(exist_ok=True)
    for gib in masters:
        for ext, brand, first in (("mp4", b"isom", True), ("mov", b"qt  ", False)):
            p = big / f"master_{gib}GiB_{'moovfirst' if first else 'moovlast'}.{ext}"
            big_master(p, gib * 2**30, brand, box, first)
            if box is not None:
                planted.setdefault("c2pa_master", []).append(str(p))
    return planted


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("out", type=Path)
    ap.add_argument("--files", type=int, default=10_000)
    ap.add_argument("--ai-rate", type=float, default=0.02)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--masters", default="4,50", help="sizes in GiB, comma separated ('' = none)")
    a = ap.parse_args()
    masters = tuple(int(x) for x in a.masters.split(",") if x)
    planted = build(a.out, a.files, a.ai_rate, a.seed, masters)
    (a.out.parent / "planted.json").write_text(json.dumps(planted, indent=1))
    print(json.dumps({k: len(v) for k, v in planted.items()}))


if __name__ == "__main__":
    main()
