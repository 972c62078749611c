"""The C2PA pre-filter (detectors.formats.c2pa_locate) against the real c2pa-python Reader.

The one property that matters: the locator says "absent" only where the Reader itself finds
nothing (no store, no remote reference, no parse error, format handled). Checked on every file
under fixtures/ and the shared corpus, on remote-reference files of every container, and on
copies whose carrier was moved (after mdat/IDAT/data/movi/the image data, moov last, 64-bit box
sizes, a sparse 50 GiB MP4). The other tests show the filter does its job: unsigned files of
every container are "absent", and the detector then never imports c2pa-python.
"""

from __future__ import annotations

import io
import os
import struct
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import c2pa
import pytest
from conftest import FIXTURES, ROOT
from helpers import judged

from detectors import c2pa_reading as rd
from detectors.api import Options, Shared, open_readonly
from detectors.c2pa_provenance import NO_STORE_CHECKED, C2paDetector
from detectors.formats import c2pa_locate as loc
from detectors.formats import registry
from detectors.formats.c2pa_locate import ABSENT, MAYBE, PRESENT, locate, locate_bytes
from detectors.formats.sniff import sniff
from detectors.model import Asset, AssetResult
from detectors.registry import Loaded
from fixtures import gen_c2pa as gen
from scanner.pipeline import scan_asset

FORMATS = FIXTURES / "c2pa" / "formats"
GIB = 1024**3
REMOTE_URL = "https://c2pa.invalid/manifests/locate.c2pa"


@pytest.fixture(scope="module")
def reader_ctx() -> Iterator[Any]:
    with c2pa.Context.from_dict(rd.settings(False)) as ctx:
        yield ctx


def media_type(data: bytes) -> str:
    return sniff(data[:4096])[1]


def reader_kind(data: bytes, ctx: Any) -> str:
    """What c2pa-python says about ``data`` when the detector asks it (format from content)."""
    fmt = rd.format_hint(media_type(data))
    return rd.read_store(io.BytesIO(data), fmt, ctx, verified=False,
                         budget=rd.QUICK_BUDGET).kind


REGRESSIONS = FIXTURES / "fuzz_regressions"
# Media types whose format declares a C2PA visitor (the rest always go to the Reader).
WALKED = {mt for f in registry.formats() if f.c2pa for mt in f.kinds}


def located(data: bytes) -> loc.Located:
    return locate_bytes(media_type(data), data)


def disagreements(paths: list[Path], ctx: Any) -> tuple[list[str], int]:
    """Files the locator calls absent although the Reader does not; and how many are absent."""
    bad, absent = [], 0
    for path in paths:
        data = path.read_bytes()
        found = locate(media_type(data), len(data), data[:65536],
                       lambda p=path: open_readonly(str(p)))
        if found.unbound is not None:  # RF64/BW64: c2pa-rs refuses them, our walk answers
            continue
        if found.state == ABSENT:
            absent += 1
            kind = reader_kind(data, ctx)
            if kind != rd.ABSENT:
                bad.append(f"{path}: locator absent ({found.why}), reader {kind}")
    return bad, absent


def test_never_absent_where_the_reader_finds_anything_in_the_fixtures(reader_ctx: Any) -> None:
    paths = sorted(p for p in FIXTURES.rglob("*") if p.is_file() and p.suffix != ".py")
    bad, absent = disagreements(paths, reader_ctx)
    assert bad == []
    assert absent >= 60, "the walkers rule out nothing: the pre-filter would be useless"


def test_never_absent_where_the_reader_finds_anything_in_the_corpus(
        corpus: Path, reader_ctx: Any) -> None:
    bad, absent = disagreements(sorted(p for p in corpus.iterdir() if p.is_file()), reader_ctx)
    assert bad == []
    assert absent >= 10


@pytest.mark.parametrize("path", sorted(FORMATS.iterdir()), ids=lambda p: p.name)
def test_every_signed_container_is_present_or_maybe(path: Path, reader_ctx: Any) -> None:
    data = path.read_bytes()
    assert reader_kind(data, reader_ctx) == rd.STORE
    found = located(data)
    walked = media_type(data) in WALKED
    assert found.state == (PRESENT if walked else MAYBE), found


# --------------------------------------------------------------------------------------------
# Unsigned and remote-reference files of every container c2pa-python writes


@pytest.fixture(scope="module")
def made() -> dict[str, tuple[bytes, bytes]]:
    """Per format: (unsigned committed source, the same signed at test time with only a remote
    manifest reference)."""
    pki = gen.load_pki()
    signer = gen.make_signer(pki.chain, pki.leaf_key)
    out = {}
    for fmt, mime in gen.FORMATS.items():
        src = gen.committed_source(fmt)
        remote, _ = gen.sign(src, mime, gen.manifest(fmt, [gen.created("trainedAlgorithmicMedia")]),
                             signer, no_embed=True, remote_url=REMOTE_URL)
        out[fmt] = (src, remote)
    return out


def test_unsigned_files_of_every_walked_container_are_absent(
        made: dict[str, tuple[bytes, bytes]], reader_ctx: Any) -> None:
    for fmt, (src, _) in made.items():
        found = located(src)
        assert reader_kind(src, reader_ctx) == rd.ABSENT, fmt
        if media_type(src) in ("image/heic", "image/heif", "image/avif"):
            # c2pa-rs also parses HEIF item tables and reports damage there as unreadable
            # C2PA (fuzz_regressions/bmff--heif-iloc-truncated.heic): the Reader decides
            assert found.state == MAYBE, (fmt, found)
        elif media_type(src) in WALKED:
            assert found.state == ABSENT, (fmt, found)
        else:  # SVG, PDF: c2pa-rs parses them whole; its verdict (or error) is needed
            assert found.state == MAYBE, (fmt, found)


def test_remote_references_of_every_container_are_maybe(
        made: dict[str, tuple[bytes, bytes]], reader_ctx: Any) -> None:
    for fmt, (_, remote) in made.items():
        assert reader_kind(remote, reader_ctx) == rd.REMOTE, fmt
        found = located(remote)
        assert found.state == MAYBE, (fmt, found)


# --------------------------------------------------------------------------------------------
# Carriers moved or rewritten: the Reader still finds them, so must the locator


def bmff_boxes(data: bytes) -> list[bytes]:
    out, i = [], 0
    while i < len(data):
        size, _ = struct.unpack(">I4s", data[i:i + 8])
        if size == 1:
            size = struct.unpack(">Q", data[i + 8:i + 16])[0]
        out.append(data[i:i + (size or len(data) - i)])
        i += size or len(data)
    return out


def btype(box: bytes) -> bytes:
    return box[4:8]


def large(box: bytes) -> bytes:
    """The same box with a 64-bit size field."""
    return struct.pack(">I4sQ", 1, btype(box), len(box) + 8) + box[8:]


def png_chunks(data: bytes) -> list[bytes]:
    out, i = [], 8
    while i < len(data):
        n = struct.unpack(">I", data[i:i + 4])[0]
        out.append(data[i:i + 12 + n])
        i += 12 + n
    return out


def riff_chunks(data: bytes) -> list[bytes]:
    out, i = [], 12
    while i < len(data):
        n = struct.unpack("<I", data[i + 4:i + 8])[0]
        out.append(data[i:i + 8 + n + (n & 1)])
        i += 8 + n + (n & 1)
    return out


def riff(form: bytes, chunks: list[bytes]) -> bytes:
    body = form + b"".join(chunks)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def jpeg_split(data: bytes) -> tuple[list[bytes], bytes]:
    """Segments before SOS, then SOS and everything after it."""
    out, i = [], 2
    while data[i + 1] != 0xDA:
        n = struct.unpack(">H", data[i + 2:i + 4])[0]
        out.append(data[i:i + 2 + n])
        i += 2 + n
    return out, data[i:]


def gif_extension(data: bytes, ident: bytes) -> tuple[int, int]:
    """Span of the application extension ``ident`` (header and all its sub-blocks)."""
    start = data.index(b"\x21\xff\x0b" + ident)
    i = start + 14
    while data[i]:
        i += 1 + data[i]
    return start, i + 1


def moved_variants(made: dict[str, tuple[bytes, bytes]]) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    mp4 = bmff_boxes((FORMATS / "ai_created.mp4").read_bytes())
    by = {btype(b): b for b in mp4}
    uuid, ftyp, moov, mdat = by[b"uuid"], by[b"ftyp"], by[b"moov"], by[b"mdat"]
    out["mp4: C2PA box after mdat, moov last"] = ftyp + mdat + moov + uuid
    out["mp4: moov first, C2PA box after mdat"] = ftyp + moov + mdat + uuid
    out["mp4: 64-bit moov and mdat sizes"] = ftyp + uuid + large(moov) + large(mdat)
    # c2pa-rs 0.91 cannot read a C2PA box with a 64-bit size (it reports it unreadable).
    out["mp4: 64-bit C2PA box size"] = ftyp + large(uuid) + moov + mdat
    out["mp4: C2PA box after a size-less (to EOF) free box"] = (
        ftyp + moov + mdat + uuid + struct.pack(">I4s", 0, b"free") + bytes(64))
    mov = bmff_boxes((FORMATS / "ai_created.mov").read_bytes())
    out["mov: C2PA box last"] = b"".join([b for b in mov if btype(b) != b"uuid"]
                                         + [b for b in mov if btype(b) == b"uuid"])
    rmp4 = bmff_boxes(made["mp4"][1])
    out["mp4: remote XMP box last"] = b"".join([b for b in rmp4 if btype(b) != b"uuid"]
                                               + [b for b in rmp4 if btype(b) == b"uuid"])

    png = (FORMATS / "ai_created.png").read_bytes()
    chunks = png_chunks(png)
    cabx = [c for c in chunks if c[4:8] == b"caBX"]
    rest = [c for c in chunks if c[4:8] != b"caBX"]
    out["png: caBX after IDAT"] = png[:8] + b"".join(rest[:-1] + cabx + rest[-1:])
    rchunks = png_chunks(made["png"][1])
    xmp = [c for c in rchunks if c[4:8] == b"iTXt"]
    other = [c for c in rchunks if c[4:8] != b"iTXt"]
    out["png: remote XMP text after IDAT"] = png[:8] + b"".join(other[:-1] + xmp + other[-1:])

    for fmt, form in (("wav", b"WAVE"), ("webp", b"WEBP"), ("avi", b"AVI ")):
        data = (FORMATS / f"ai_created.{fmt}").read_bytes()
        kids = riff_chunks(data)
        c2 = [c for c in kids if c[:4] == b"C2PA"]
        other = [c for c in kids if c[:4] != b"C2PA"]
        out[f"{fmt}: C2PA chunk first"] = riff(form, c2 + other)
        out[f"{fmt}: C2PA chunk after data/movi"] = riff(form, other + c2)
        rkids = riff_chunks(made[fmt][1])
        out[f"{fmt}: remote XMP chunk first"] = riff(
            form, [c for c in rkids if c[:4] == b"XMP "] + [c for c in rkids if c[:4] != b"XMP "])

    jpg = (FORMATS / "ai_created.jpg").read_bytes()
    segs, scan = jpeg_split(jpg)
    app11 = [s for s in segs if s[1] == 0xEB]
    other = [s for s in segs if s[1] != 0xEB]
    out["jpg: APP11 after every other segment"] = jpg[:2] + b"".join(other + app11) + scan
    out["jpg: APP11 after SOS (not read by c2pa-rs: entropy data)"] = (
        jpg[:2] + b"".join(other) + scan[:-2] + b"".join(app11) + scan[-2:])
    rsegs, rscan = jpeg_split(made["jpg"][1])
    out["jpg: remote XMP after the tables"] = jpg[:2] + b"".join(
        [s for s in rsegs if s[1] != 0xE1] + [s for s in rsegs if s[1] == 0xE1]) + rscan

    gif = (FORMATS / "ai_created.gif").read_bytes()
    a, b = gif_extension(gif, b"C2PA_GIF")
    body = gif[:a] + gif[b:]
    # c2pa-rs 0.91 looks for it only before the first image; the locator walks to the trailer.
    out["gif: C2PA extension after the image (not read by c2pa-rs)"] = (
        body[:-1] + gif[a:b] + body[-1:])
    rgif = made["gif"][1]
    a, b = gif_extension(rgif, b"XMP Data")
    body = rgif[:a] + rgif[b:]
    out["gif: remote XMP after the image"] = body[:-1] + rgif[a:b] + body[-1:]
    return out


def test_moved_carriers_are_never_absent(made: dict[str, tuple[bytes, bytes]],
                                         reader_ctx: Any) -> None:
    seen = 0
    for label, data in moved_variants(made).items():
        kind = reader_kind(data, reader_ctx)
        found = located(data)
        if "not read by c2pa-rs" in label:  # if that changes, the locator must follow
            assert kind == rd.ABSENT or found.state != ABSENT, label
            continue
        assert kind in (rd.STORE, rd.REMOTE, rd.UNREADABLE), (label, kind)
        assert found.state == (MAYBE if kind == rd.REMOTE else PRESENT), (label, found)
        seen += 1
    assert seen >= 20


def sparse_mp4(path: Path, total: int, with_c2pa: bool) -> None:
    """ftyp + moov + a 64-bit mdat of ``total`` bytes on disk as a hole, then (optionally) the
    signed fixture's C2PA box at the very end: the worst place for a header walk."""
    by = {btype(b): b for b in bmff_boxes((FORMATS / "ai_created.mp4").read_bytes())}
    head = by[b"ftyp"] + by[b"moov"]
    tail = by[b"uuid"] if with_c2pa else b""
    mdat = total - len(head) - len(tail)
    with path.open("wb") as fh:
        fh.write(head + struct.pack(">I4sQ", 1, b"mdat", mdat))
        fh.seek(len(head) + mdat)
        fh.write(tail)
        fh.truncate(total)


@pytest.mark.parametrize("with_c2pa", [True, False])
def test_sparse_50_gib_mp4_costs_a_few_header_reads(tmp_path: Path, with_c2pa: bool,
                                                    reader_ctx: Any) -> None:
    big = tmp_path / "master.mp4"
    sparse_mp4(big, 50 * GIB, with_c2pa)
    with big.open("rb") as fh:
        head = fh.read(65536)
        kind = rd.read_store(fh, "video/mp4", reader_ctx, verified=False,
                             budget=rd.QUICK_BUDGET).kind
    found = locate("video/mp4", big.stat().st_size, head, lambda: open_readonly(str(big)))
    assert (kind, found.state) == ((rd.STORE, PRESENT) if with_c2pa else (rd.ABSENT, ABSENT))
    assert found.bytes_read <= 8192, found


# --------------------------------------------------------------------------------------------
# Doubt is "maybe"


def test_doubt_is_maybe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    png = (FIXTURES / "meta" / "clean.png").read_bytes()
    wav = (FIXTURES / "meta" / "clean.wav").read_bytes()
    jpg = (FIXTURES / "c2pa" / "scenarios" / "unsigned.jpg").read_bytes()
    assert located(png).state == located(wav).state == located(jpg).state == ABSENT
    segs, scan_data = jpeg_split(jpg)
    sos = jpg[:2] + b"".join(segs) + scan_data[:2 + int.from_bytes(scan_data[2:4], "big")]
    cases = {
        "truncated PNG": png[:-20],
        "PNG chunk length past the end": png[:8] + b"\x7f\xff\xff\xff" + png[12:],
        "RF64 (not read by c2pa-rs)": b"RF64" + wav[4:],
        "WAV truncated": wav[:len(wav) // 2],
        "JPEG cut in its header": jpg[:40],
        "JPEG ends at SOS": sos,
        "bytes between JPEG segments": jpg[:2] + b"\x00" + jpg[2:],
    }
    for label, data in cases.items():
        assert locate_bytes(media_type(data), data).state == MAYBE, label
    for mt in ("application/pdf", "image/svg+xml", "video/x-matroska", "image/jxl"):
        assert locate_bytes(mt, b"anything").state == MAYBE, mt
    # Budgets: structure units and bytes read.
    monkeypatch.setattr(loc, "MAX_UNITS", 3)
    assert located(png).state == MAYBE
    monkeypatch.undo()
    path = tmp_path / "clean.png"
    path.write_bytes(png)
    assert locate("image/png", len(png), png[:16], lambda: open_readonly(str(path))).state \
        == ABSENT
    monkeypatch.setattr(loc, "BUDGET", 16)
    assert locate("image/png", len(png), png[:16], lambda: open_readonly(str(path))).state \
        == MAYBE
    monkeypatch.undo()
    # A read error, and a file that changed size after it was listed.

    def failing() -> Any:
        raise OSError(5, "Input/output error")

    assert locate("image/png", len(png), png[:16], failing).state == MAYBE
    grown = locate("image/png", len(png) - 1, png[:16], lambda: open_readonly(str(path)))
    assert grown.state == MAYBE and "changed size" in grown.why


def test_tiff_tag_in_a_later_ifd_and_a_subifd_is_found() -> None:
    """c2pa-rs reads IFD0; the locator looks in every IFD of the chain and SubIFDs."""
    def tiff(ifds: list[list[tuple[int, int, int, int]]]) -> bytes:
        out = bytearray(b"II*\x00" + struct.pack("<I", 8))
        for n, entries in enumerate(ifds):
            at = len(out)
            nxt = at + 2 + 12 * len(entries) + 4 if n + 1 < len(ifds) else 0
            out += struct.pack("<H", len(entries))
            for tag, typ, count, value in entries:
                out += struct.pack("<HHII", tag, typ, count, value)
            out += struct.pack("<I", nxt)
        return bytes(out)

    plain = [(0x100, 3, 1, 1), (0x101, 3, 1, 1)]
    assert locate_bytes("image/tiff", tiff([plain, plain])).state == ABSENT
    assert locate_bytes("image/tiff", tiff([plain, [*plain, (0xCD41, 7, 4, 0)]])).state == PRESENT
    # IFD0 at 8 (3 entries, 42 bytes) points to a SubIFD at 50 holding the C2PA tag.
    sub = tiff([[*plain, (0x14A, 4, 1, 50)], [(0xCD41, 7, 4, 0)]])
    assert locate_bytes("image/tiff", sub).state == PRESENT
    looped = bytearray(tiff([plain]))
    looped[-4:] = struct.pack("<I", 8)
    assert locate_bytes("image/tiff", bytes(looped)).state == MAYBE


# --------------------------------------------------------------------------------------------
# The detector with the pre-filter


class ReaderAlways(C2paDetector):
    prefilter = False


def scan(path: Path, prefilter: bool = True) -> AssetResult:
    det = C2paDetector() if prefilter else ReaderAlways()
    shared = Shared(Options())
    try:
        st = os.stat(path)
        return judged(scan_asset(Asset(str(path), st.st_size, st.st_mtime_ns, "other"),
                                 [Loaded("c2pa", "builtin", det, True)], shared))
    finally:
        shared.close()


def test_results_identical_with_and_without_the_prefilter() -> None:
    """Same verdict, findings and errors on every fixture; only the coverage note differs —
    except where the pre-filter finds a structure c2pa-rs mishandles: an error, never cleaner."""
    paths = sorted(p for p in FIXTURES.rglob("*") if p.is_file() and p.suffix != ".py")
    skipped = damaged = 0
    for path in paths:
        on, off = scan(path), scan(path, prefilter=False)
        if any("C2PA not checked (c2pa-python not called" in e.message for e in on.errors):
            damaged += 1
            assert on.verdict == "error" and not on.findings, path
            continue
        assert on.verdict == off.verdict, path
        assert [(f.rule, f.location, f.value) for f in on.findings] == \
            [(f.rule, f.location, f.value) for f in off.findings], path
        assert [e.message for e in on.errors] == [e.message for e in off.errors]
        if on.coverage and on.coverage[0].notes[-1:] == (NO_STORE_CHECKED[1],):
            skipped += 1
            assert on.coverage[0].notes == NO_STORE_CHECKED
            assert off.coverage[0].notes == ("no C2PA store",), path
    assert skipped >= 60 and damaged >= 2  # the fuzz regressions, hostile truncated ID3


def test_sidecar_next_to_an_unsigned_file_is_still_read() -> None:
    jpg = FIXTURES / "c2pa" / "scenarios" / "sidecar.jpg"
    assert located(jpg.read_bytes()).state == ABSENT
    assert scan(jpg).verdict == "ai"


def test_unusable_trust_anchors_still_fail_unsigned_files(tmp_path: Path) -> None:
    """As without the pre-filter: bad trust anchors are an error on every file (when they get
    past the set-up check, as through the Python API's ``Options``)."""
    bad_file = tmp_path / "bad.pem"
    bad_file.write_text("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    path = FIXTURES / "c2pa" / "scenarios" / "unsigned.jpg"
    st = os.stat(path)
    shared = Shared(Options(settings={"c2pa": {"trust_anchors": str(bad_file)}}))
    try:
        result = judged(scan_asset(Asset(str(path), st.st_size, st.st_mtime_ns, "other"),
                                   [Loaded("c2pa", "builtin", C2paDetector(), True)], shared))
    finally:
        shared.close()
    assert result.verdict == "error"
    assert "trust anchors" in result.errors[0].message


def test_unsigned_files_never_import_c2pa_python() -> None:
    """A worker that meets only unsigned files does not pay for importing c2pa-python."""
    files = [FIXTURES / "meta" / n for n in ("clean.png", "clean.mp4", "clean.wav",
                                             "clean_camera.jpg", "comfyui_audio.flac")]
    signed = FORMATS / "ai_created.png"
    code = (
        "import os, sys\n"
        "from detectors.api import Options, Shared\n"
        "from detectors.c2pa_provenance import C2paDetector\n"
        "from detectors.model import Asset\n"
        "from detectors.registry import Loaded\n"
        "from scanner.pipeline import scan_asset\n"
        "from scanner.aggregate import assemble\n"
        "from scanner.policy import Policy\n"
        "det = [Loaded('c2pa', 'builtin', C2paDetector(), True)]\n"
        "shared = Shared(Options())\n"
        "for p in sys.argv[1:]:\n"
        "    st = os.stat(p)\n"
        "    r = assemble(scan_asset(Asset(p, st.st_size, st.st_mtime_ns, 'other'), det, shared),"
        " Policy.default())\n"
        "    print(r.verdict, 'c2pa' in sys.modules)\n"
        "shared.close()\n")
    out = subprocess.run([sys.executable, "-c", code, *map(str, files), str(signed)],
                         capture_output=True, text=True, check=True, cwd=ROOT, timeout=60)
    lines = out.stdout.split("\n")
    assert lines[:len(files)] == ["clean False"] * len(files), out.stdout
    assert lines[len(files)] == "ai True"


def test_damaged_id3_is_an_error_and_never_reaches_the_reader() -> None:
    """Found by fuzzing: a truncated or malformed ID3v2 tag whose frame header claims gigabytes
    made c2pa-rs allocate them (the worker aborted under an address-space limit). Such a tag is
    now reported by the pre-filter: the file is an error, c2pa-python is not even imported."""
    cases = sorted(REGRESSIONS.glob("mp3.c2pa--*"))
    assert len(cases) == 2
    for p in cases:
        assert located(p.read_bytes()).state == loc.DAMAGED, p
    code = (
        "import os, sys\n"
        "from detectors.api import Options, Shared\n"
        "from detectors.c2pa_provenance import C2paDetector\n"
        "from detectors.model import Asset\n"
        "from detectors.registry import Loaded\n"
        "from scanner.pipeline import scan_asset\n"
        "from scanner.aggregate import assemble\n"
        "from scanner.policy import Policy\n"
        "det = [Loaded('c2pa', 'builtin', C2paDetector(), True)]\n"
        "shared = Shared(Options())\n"
        "for p in sys.argv[1:]:\n"
        "    st = os.stat(p)\n"
        "    r = assemble(scan_asset(Asset(p, st.st_size, st.st_mtime_ns, 'other'), det, shared),"
        " Policy.default())\n"
        "    print(r.verdict, 'c2pa' in sys.modules, r.errors[0].message)\n")
    out = subprocess.run([sys.executable, "-c", code, *map(str, cases)], capture_output=True,
                         text=True, check=True, cwd=ROOT, timeout=60)
    for line in out.stdout.strip().split("\n"):
        assert line.startswith("error False ") and "C2PA not checked" in line, out.stdout


def test_corpus_unsigned_samples_skip_the_reader(corpus: Path) -> None:
    for name in ("c2pa-rs__sample1.png", "c2pa-rs__sample1.wav", "c2pa-rs__sample1.mp3",
                 "c2pa-rs__sample1.webp"):  # (AVIF/HEIF always go to the Reader)
        result = scan(corpus / name)
        assert result.verdict == "clean", name
        assert result.coverage[0].notes == NO_STORE_CHECKED, name
