"""Bounds the fuzz harness and its review added: small hostile inputs that used to amplify into
gigabytes of fields, minutes of CPU or a crash now stop early and say so (a problem makes the
asset incomplete; a note qualifies a 'no')."""

from __future__ import annotations

import io
import json
import struct
import time
import zlib

import pytest

from detectors import rules
from detectors.formats import bmff, exif, gif, native, stealth
from detectors.formats.mp3 import read_mp3
from detectors.formats.native import Collector, FormatError, Source, inflate
from detectors.formats.png import read_png
from detectors.formats.xmp import NAME_LIMIT, parse_xmp
from detectors.model import Field
from detectors.rules import MAX_NOTES, REGEX_BUDGET, REGEX_VALUE_LIMIT, load_pack


def _src(data: bytes) -> Source:
    """As the metadata detector builds it: 64 KiB head, the rest through an opener."""
    return Source(len(data), data[:65536], lambda: io.BytesIO(data))


def _chunk(ctype: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + ctype + data + struct.pack(
        ">I", zlib.crc32(ctype + data) & 0xFFFFFFFF)


def _png(*chunks: bytes, w: int = 1, h: int = 1, color: int = 2, interlace: int = 0) -> bytes:
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, color, 0, 0,
                                                                 interlace))
            + b"".join(chunks) + _chunk(b"IEND", b""))


# --- inflate -------------------------------------------------------------------------------

def test_inflate_keeps_what_came_before_the_damage() -> None:
    """A corrupt stream (zlib.error crashed the PNG and ID3 readers) gives what inflated
    before the 64 KiB input piece that holds the damage, and ``complete`` False."""
    text = b"".join(b"Steps: %d, Sampler: Euler a, Seed: %d\n" % (i, i * 7919 % 100003)
                    for i in range(40_000))
    good = zlib.compress(text)
    assert len(good) > 3 * 64 * 1024
    at = len(good) - 1000
    bad = good[:at] + bytes(b ^ 0x5A for b in good[at:at + 50]) + good[at + 50:]
    data, complete = inflate(bad)
    assert not complete and len(data) > 100_000 and text.startswith(data[:100_000])
    assert inflate(b"\x78\x9c\xff\xff") == (b"", False)
    assert inflate(good) == (text, True)


def test_inflate_total_per_file_stops_a_chunk_flood() -> None:
    """Three 400 KB zTXt bombs against a 1 MB per-file total: the third is cut, reported."""
    bomb = zlib.compress(b"\0" * 400_000, 9)
    png = _png(*[_chunk(b"zTXt", f"k{i}".encode() + b"\x00\x00" + bomb) for i in range(3)])
    out = Collector(inflate_left=1_000_000)
    read_png(Source.from_bytes(png), out)
    sizes = [len(f.value) for f in out.fields]
    assert sizes == [400_000, 400_000, 200_000]
    assert any("k2" in p and "total" in p for p in out.problems)


def test_inflate_total_is_64_mib_by_default() -> None:
    assert Collector().inflate_left == native.INFLATE_TOTAL == 64 * 1024 * 1024


# --- Collector ------------------------------------------------------------------------------

def test_collector_caps_fields_text_and_messages() -> None:
    out = Collector(text_left=5100)
    out.add("k" * 5000, "v", "l" * 10)
    assert len(out.fields[0].key) < 1100 and out.fields[0].key.endswith("more chars]")
    with pytest.raises(FormatError, match="characters of metadata"):
        out.add("k", "v" * 100, "here")
    for i in range(500):
        out.note(f"note {i} " + "x" * 5000)
    assert len(out.notes) == native.MAX_MESSAGES + 1
    assert out.notes[-1].startswith("more than") and len(out.notes[0]) < 2100


def test_tiff_entries_pointing_at_one_string_stop_at_the_value_budget() -> None:
    """A 64 KB TIFF: 4096 ImageDescription entries share one 30 KB string (120 MB of fields
    before): the walk stops at VALUE_BUDGET with a problem."""
    n = 4096
    text_at = 8 + 2 + n * 12 + 4
    ifd = struct.pack("<H", n) + struct.pack("<HHII", 0x010E, 2, 30_000, text_at) * n
    tiff = b"II*\x00" + struct.pack("<I", 8) + ifd + b"\0\0\0\0" + b"A" * 30_000
    out = Collector()
    t0 = time.perf_counter()
    exif.parse_tiff(_src(tiff), 0, len(tiff), "TIFF file", out)
    assert time.perf_counter() - t0 < 2
    assert len(out.fields) == exif.VALUE_BUDGET // 30_000
    assert any("add up to more than" in p for p in out.problems)


def _packet(uri: str, body: str) -> bytes:
    return (f"<x:xmpmeta xmlns:x='adobe:ns:meta/'><rdf:RDF xmlns:rdf='http://www.w3.org/1999/"
            f"02/22-rdf-syntax-ns#'><rdf:Description xmlns:p='{uri}'>{body}</rdf:Description>"
            f"</rdf:RDF></x:xmpmeta>").encode()


def test_xmp_packets_that_would_dwarf_their_tree_are_refused_before_parsing() -> None:
    """expat expands each name to {uri}local: a 200 KB URI over 2000 distinct names was
    400 MB (and a 16 MB packet of them, gigabytes). Such packets are a problem, unparsed."""
    names = "".join(f"<p:a{i}>v</p:a{i}>" for i in range(2000))
    for packet, why in ((_packet("http://e.com/" + "u" * 200_000, names), "namespace URI"),
                        (_packet("http://e.com/", "<p:a/>" * 500_000), "elements"),
                        (_packet("http://e.com/", "<p:a " + "p:b='' " * 900_000 + "/>"),
                         "attributes")):
        out = Collector()
        t0 = time.perf_counter()
        parse_xmp(packet, "test", out)
        assert time.perf_counter() - t0 < 1
        assert out.fields == [] and why in out.problems[0], out.problems
    out = Collector()
    parse_xmp(_packet("http://e.com/" + "u" * 200, names), "test", out)
    assert len(out.fields) == 2000 and out.problems == []
    assert all(len(f.key) < NAME_LIMIT + 20 for f in out.fields)
    assert out.fields[0].key.startswith("xmp:{http://e.com/uuu") and out.fields[0].value == "v"


@pytest.mark.parametrize("encoding", ["D", "shift_jis", "utf-7", "idna", "rot13", "punycode",
                                      "undefined", "x" * 300])
def test_xmp_with_an_unreadable_declared_encoding_is_a_problem(encoding: str) -> None:
    """expat asks Python's codec registry for the declared encoding: LookupError, ValueError
    and UnicodeError escaped the reader (found by fuzzing: encoding="D")."""
    packet = (f'<?xml version="1.0" encoding="{encoding}"?><x:xmpmeta xmlns:x="adobe:ns:meta/">'
              "caf\xe9</x:xmpmeta>").encode("latin-1")
    out = Collector()
    parse_xmp(packet, "test", out)
    assert out.fields == [] and "declares an encoding that cannot be read" in out.problems[0]


# --- GIF ------------------------------------------------------------------------------------

_GIF = b"GIF89a\x01\x00\x01\x00\x00\x00\x00"


def test_gif_xmp_without_trailer_is_searched_not_scanned_byte_by_byte() -> None:
    data = _GIF + b"\x21\xff\x0bXMP DataXMP" + b"a" * (17 * 1024 * 1024)
    out = Collector()
    t0 = time.perf_counter()
    gif.read_gif(_src(data), out)
    assert time.perf_counter() - t0 < 1.5  # 25 s before
    assert out.problems == ["GIF: XMP application extension without its trailer"]


def test_gif_xmp_trailer_across_read_windows() -> None:
    xmp = (b"<x:xmpmeta xmlns:x='adobe:ns:meta/'><rdf:RDF xmlns:rdf='http://www.w3.org/1999/"
           b"02/22-rdf-syntax-ns#'><rdf:Description xmlns:dc='http://purl.org/dc/elements/1.1/'"
           b" dc:format='x'/></rdf:RDF></x:xmpmeta>")
    for pad in (gif._BUF - 150, gif._BUF - 20, gif._BUF + 7):
        data = (_GIF + b"\x21\xff\x0bXMP DataXMP" + b" " * pad + xmp + gif._TRAILER
                + b"\x21\xfe\x02hi\x00\x3b")
        out = Collector()
        gif.read_gif(_src(data), out)
        assert [(f.key, f.value) for f in out.fields] == [("xmp:dc:format", "x"),
                                                          ("gif:comment", "hi")], pad
        assert out.problems == []


def test_gif_tiny_sub_blocks_stop_at_the_block_budget() -> None:
    image = b"\x2c" + b"\x00" * 8 + b"\x00" + b"\x02" + b"\x01x" * 150_000 + b"\x00"
    data = _GIF + image * 3 + b"\x21\xfe\x02hi\x00\x3b"
    out = Collector()
    t0 = time.perf_counter()
    gif.read_gif(_src(data), out)
    assert time.perf_counter() - t0 < 3
    assert out.fields == [] and any("not walked" in n for n in out.notes)


# --- ID3 ------------------------------------------------------------------------------------

def _syncsafe(n: int) -> bytes:
    return bytes([(n >> 21) & 0x7F, (n >> 14) & 0x7F, (n >> 7) & 0x7F, n & 0x7F])


@pytest.mark.parametrize("enc", [0, 1])
def test_id3_frame_of_nuls_splits_in_linear_time(enc: int) -> None:
    body = bytes([enc]) + b"\x00" * (4 * 1024 * 1024)
    frame = b"TIT2" + _syncsafe(len(body)) + b"\x00\x00" + body
    tag = b"ID3\x04\x00\x00" + _syncsafe(len(frame)) + frame
    out = Collector()
    t0 = time.perf_counter()
    read_mp3(_src(tag), out)
    assert time.perf_counter() - t0 < 2  # quadratic before: minutes
    assert [(f.key, f.value.strip("\x00")) for f in out.fields] == [("id3:TIT2", "")]


def test_id3_utf16_list_keeps_alignment() -> None:
    value = "a".encode("utf-16-le") + b"\x00\x00" + "\u0100b".encode("utf-16-le")
    body = b"\x01" + value
    frame = b"TIT2" + _syncsafe(len(body)) + b"\x00\x00" + body
    out = Collector()
    read_mp3(Source.from_bytes(b"ID3\x04\x00\x00" + _syncsafe(len(frame)) + frame), out)
    assert [f.value for f in out.fields] == ["a / \u0100b"]


# --- HEIF -----------------------------------------------------------------------------------

def _box(btype: bytes, body: bytes) -> bytes:
    return struct.pack(">I", 8 + len(body)) + btype + body


def _heif(extents: list[tuple[int, int]]) -> bytes:
    """ftyp + meta with one Exif item per extent (iinf v0, infe v2, iloc v0 4-byte fields)."""
    n = len(extents)
    infes = b"".join(_box(b"infe", b"\x02\x00\x00\x00" + struct.pack(">HH", i + 1, 0)
                          + b"Exif\x00") for i in range(n))
    iinf = _box(b"iinf", b"\x00\x00\x00\x00" + struct.pack(">H", n) + infes)
    items = b"".join(struct.pack(">HHHII", i + 1, 0, 1, off, length)
                     for i, (off, length) in enumerate(extents))
    iloc = _box(b"iloc", b"\x00\x00\x00\x00\x44\x00" + struct.pack(">H", n) + items)
    hdlr = _box(b"hdlr", b"\x00" * 8 + b"pict" + b"\x00" * 13)
    return _box(b"ftyp", b"heic\x00\x00\x00\x00mif1heic") + _box(
        b"meta", b"\x00\x00\x00\x00" + hdlr + iinf + iloc)


def _exif_item(text: bytes) -> bytes:
    ifd = struct.pack("<H", 1) + struct.pack("<HHII", 0x0131, 2, len(text), 26) + b"\0\0\0\0"
    return b"\x00\x00\x00\x00" + b"II*\x00" + struct.pack("<I", 8) + ifd + text


def test_heif_items_sharing_one_extent_are_read_once() -> None:
    item = _exif_item(b"ComfyUI\x00")
    at = len(_heif([(0, 0)] * 3000))
    data = _heif([(at, len(item))] * 3000) + item
    out = Collector()
    t0 = time.perf_counter()
    bmff.read_bmff(_src(data), out)
    assert time.perf_counter() - t0 < 2
    assert [(f.key, f.value) for f in out.fields] == [("exif:Software", "ComfyUI")]
    assert out.problems == []


def test_heif_item_bytes_have_a_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bmff, "ITEMS_BUDGET", 4000)
    item = _exif_item(b"X" * 1000)
    at = len(_heif([(0, 0)] * 10))
    data = _heif([(at + i * len(item), len(item)) for i in range(10)]) + item * 10
    out = Collector()
    bmff.read_bmff(_src(data), out)
    assert len(out.fields) == 3 and out.fields[0].value == "X" * 1000
    assert any("add up to more than 4000 bytes; item 4 and later" in p for p in out.problems)


# --- stealth --------------------------------------------------------------------------------

def test_stealth_skips_images_too_large_to_decode_with_a_note() -> None:
    idat = _chunk(b"IDAT", zlib.compress(b"\0" * 1000))
    for w, h, interlace, cap in ((4000, 4000, 1, stealth.MAX_INTERLACED_PIXELS),
                                 (120_000, 200, 0, stealth.MAX_PIXELS)):
        out = Collector()
        read_png(Source.from_bytes(_png(idat, w=w, h=h, color=6, interlace=interlace)), out)
        assert any(f"more than {cap} pixels" in n for n in out.notes), (w, h)


# --- rule pack ------------------------------------------------------------------------------

def test_regex_rules_read_a_bounded_prefix_and_say_so() -> None:
    pack = load_pack()
    marker = "a cat, Steps: 20, Sampler: Euler a, Seed: 1"
    big = marker + "\n" + "x, y, z\n" * (REGEX_VALUE_LIMIT // 4)
    notes: list[str] = []
    hits = pack.evaluate([Field("png:text:parameters", big, "t")], notes)
    assert [h.rule.id for h in hits] == ["meta.a1111.parameters"]
    assert any(n.startswith(f"regex rules read the first {REGEX_VALUE_LIMIT} of") for n in notes)
    # past the per-file budget a marker is not looked for, and the notes say that too
    late = [Field("png:text:Comment", f"{i} " + "x, y\n" * (REGEX_VALUE_LIMIT // 5), "t")
            for i in range(REGEX_BUDGET // REGEX_VALUE_LIMIT + 1)]
    notes = []
    hits = pack.evaluate([*late, Field("png:text:parameters", marker, "t")], notes)
    assert "meta.a1111.parameters" not in {h.rule.id for h in hits}
    assert any("matching budget for this file spent" in n for n in notes)


def test_json_is_parsed_once_per_value_and_within_a_budget(
        monkeypatch: pytest.MonkeyPatch) -> None:
    pack = load_pack()
    calls: list[int] = []
    real = json.loads

    def counting(text: str, *a: object, **k: object) -> object:
        calls.append(len(text))
        return real(text)

    monkeypatch.setattr(json, "loads", counting)
    wf = json.dumps({"3": {"class_type": "KSampler", "inputs": {}}})
    fields = [Field("png:text:prompt", wf, "t"), Field("png:text:prompt", wf, "t2"),
              Field("png:text:parameters", wf, "t")]
    hits = pack.evaluate(fields)
    assert "meta.comfyui.prompt" in {h.rule.id for h in hits}
    assert len(calls) == 1  # three fields, several JSON rules: one parse
    calls.clear()
    monkeypatch.setattr(rules, "JSON_BUDGET", 1000)  # 2 x 16 MiB in production
    big = json.dumps({"3": {"class_type": "KSampler", "inputs": {"t": "x" * 600}}})
    notes: list[str] = []
    hits = pack.evaluate([Field("png:text:prompt", big, "t"),
                          Field("png:text:prompt", big + " ", "t")], notes)
    assert len(calls) == 1 and len(hits) == 1
    assert any("JSON rules not applied" in n for n in notes)


def test_equals_still_strips_padding_and_skips_megabytes() -> None:
    pack = load_pack()
    padded = " " * 5000 + "Made with Google AI" + "\n" * 5000
    assert [h.rule.id for h in pack.evaluate([Field("xmp:photoshop:Credit", padded, "t")])] == [
        "meta.google.credit"]
    assert pack.evaluate([Field("xmp:photoshop:Credit", "Made with Google AI" * 10**5, "t")]) == []


def test_rule_notes_are_capped() -> None:
    pack = load_pack()
    notes: list[str] = []
    fields = [Field("xmp:Iptc4xmpExt:DigitalSourceType", f"http://x/unknown{i}", "t")
              for i in range(5000)]
    t0 = time.perf_counter()
    assert pack.evaluate(fields, notes) == []
    assert time.perf_counter() - t0 < 2  # quadratic 'not in notes' before
    assert len(notes) == MAX_NOTES + 1 and notes[-1].startswith("more than")


# --- RIFF, Ogg ------------------------------------------------------------------------------

def test_riff_forms_count_against_the_chunk_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    """Five million empty 'AVIX' forms took 30 s: each form now counts as a chunk."""
    from detectors.formats import riff

    monkeypatch.setattr(riff, "MAX_CHUNKS", 1000)
    data = b"RIFF" + struct.pack("<I", 4) + b"WAVE" + (b"RIFF\x04\x00\x00\x00AVIX") * 5000
    out = Collector()
    riff.read_riff(_src(data), out)
    assert out.problems == ["RIFF: more than 1000 chunks"]


def test_ogg_stream_flood_is_linear_and_bounded() -> None:
    from detectors.formats.ogg import MAX_STREAMS, read_ogg

    page = b"OggS\x00\x02" + b"\x00" * 8 + b"%b" + b"\x00" * 8 + b"\x01\x00"
    data = b"".join(page.replace(b"%b", struct.pack("<I", i)) for i in range(20_000))
    out = Collector()
    t0 = time.perf_counter()
    read_ogg(_src(data), out)
    assert time.perf_counter() - t0 < 1
    assert out.problems == [f"Ogg: more than {MAX_STREAMS} logical streams"]
