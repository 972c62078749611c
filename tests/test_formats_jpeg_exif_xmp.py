"""JPEG segments, EXIF IFDs (UserComment encodings, loops, BigTIFF), XMP by namespace URI (never
prefix, safe parsing) and GIF comments/XMP."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from conftest import CORPUS, FIXTURES
from PIL import Image

from detectors.formats.exif import decode_user_comment, parse_tiff
from detectors.formats.gif import read_gif
from detectors.formats.jpeg import read_jpeg
from detectors.formats.native import Collector, Source
from detectors.formats.xmp import EXIFTOOL_GROUPS, NAMESPACES, parse_xmp

META = FIXTURES / "meta"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
EXT = "http://iptc.org/std/Iptc4xmpExt/2008-02-29/"


def xmp(body: str, ns: dict[str, str], attrs: str = "") -> bytes:
    decl = " ".join(f'xmlns:{p}="{u}"' for p, u in ns.items())
    return (f'<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/">'
            f'<rdf:RDF xmlns:rdf="{RDF}"><rdf:Description rdf:about="" {decl} {attrs}>{body}'
            '</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>').encode()


def parse(packet: bytes) -> Collector:
    out = Collector()
    parse_xmp(packet, "test", out)
    return out


def kv(out: Collector) -> list[tuple[str, str]]:
    return [(f.key, f.value) for f in out.fields]


# --- XMP ----------------------------------------------------------------------------------

@pytest.mark.parametrize("prefix", ["Iptc4xmpExt", "iptcExt", "x1", "dst"])
def test_xmp_matched_by_namespace_uri_whatever_the_prefix(prefix: str) -> None:
    out = parse(xmp(f"<{prefix}:DigitalSourceType>trainedAlgorithmicMedia</{prefix}:DigitalSourceType>",
                    {prefix: EXT}))
    assert kv(out) == [("xmp:Iptc4xmpExt:DigitalSourceType", "trainedAlgorithmicMedia")]


def test_xmp_prefix_without_the_namespace_is_not_iptc() -> None:
    out = parse(xmp("<Iptc4xmpExt:DigitalSourceType>x</Iptc4xmpExt:DigitalSourceType>",
                    {"Iptc4xmpExt": "http://example.com/not-iptc/"}))
    assert kv(out) == [("xmp:{http://example.com/not-iptc/}:DigitalSourceType", "x")]


def test_xmp_attributes_resources_arrays_and_structs() -> None:
    body = (f'<dc:description><rdf:Alt><rdf:li xml:lang="x-default">desc</rdf:li></rdf:Alt>'
            '</dc:description>'
            '<dc:subject><rdf:Bag><rdf:li>a</rdf:li><rdf:li>b</rdf:li></rdf:Bag></dc:subject>'
            '<xmpMM:History><rdf:Seq><rdf:li rdf:parseType="Resource">'
            '<stEvt:softwareAgent>Adobe Firefly</stEvt:softwareAgent></rdf:li>'
            '<rdf:li stEvt:softwareAgent="Photoshop"/></rdf:Seq></xmpMM:History>'
            f'<e:DigitalSourceType rdf:resource="{EXT}x"/>'
            '<dcterms:provenance>https://example/manifest</dcterms:provenance>')
    ns = {"dc": "http://purl.org/dc/elements/1.1/", "xmpMM": "http://ns.adobe.com/xap/1.0/mm/",
          "stEvt": "http://ns.adobe.com/xap/1.0/sType/ResourceEvent#", "e": EXT,
          "dcterms": "http://purl.org/dc/terms/", "xmp": "http://ns.adobe.com/xap/1.0/"}
    out = parse(xmp(body, ns, attrs='xmp:CreatorTool="Draw Things"'))
    assert kv(out) == [
        ("xmp:xmp:CreatorTool", "Draw Things"), ("xmp:dc:description", "desc"),
        ("xmp:dc:subject", "a"), ("xmp:dc:subject", "b"),
        ("xmp:stEvt:softwareAgent", "Adobe Firefly"), ("xmp:stEvt:softwareAgent", "Photoshop"),
        ("xmp:Iptc4xmpExt:DigitalSourceType", f"{EXT}x"),
        ("xmp:dcterms:provenance", "https://example/manifest")]
    assert out.fields[4].location == "XMP xmpMM:History[0]/stEvt:softwareAgent in test"


def test_xmp_refuses_dtds_and_entities() -> None:
    laughs = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
              b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
              b'<x:xmpmeta xmlns:x="adobe:ns:meta/">&lol2;</x:xmpmeta>')
    xxe = (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
           b'<x:xmpmeta xmlns:x="adobe:ns:meta/">&e;</x:xmpmeta>')
    for packet in (laughs, xxe):
        out = parse(packet)
        assert out.fields == [] and any("DTD" in p for p in out.problems)


def test_xmp_garbage_size_and_depth_bounds() -> None:
    assert any("not well-formed" in p for p in parse(b"<x:xmpmeta><oops").problems)
    assert parse(b"\0\0\0").notes and not parse(b"\0\0\0").problems
    big = parse(b"<a>" + b" " * (16 * 1024 * 1024) + b"</a>")
    assert any("over the" in p for p in big.problems)
    deep = "<dc:a rdf:parseType=\"Resource\">" * 60 + "x" + "</dc:a>" * 60
    out = parse(xmp(deep, {"dc": "http://purl.org/dc/elements/1.1/"}))
    assert any("nested deeper" in p for p in out.problems)


def test_namespace_tables_cover_what_rules_use() -> None:
    assert NAMESPACES[EXT] == "Iptc4xmpExt"
    assert NAMESPACES["http://www.tc260.org.cn/ns/AIGC/1.0/"] == "TC260"
    assert EXIFTOOL_GROUPS["XMP-iptcExt"] == "Iptc4xmpExt"
    assert EXIFTOOL_GROUPS["XMP-photoshop"] == "photoshop"


# --- EXIF ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("raw", "big_endian", "text"), [
    (b"UNICODE\0" + "photo\nSteps: 20".encode("utf-16-be"), False, "photo\nSteps: 20"),
    (b"UNICODE\0" + "photo\nSteps: 20".encode("utf-16-le"), True, "photo\nSteps: 20"),
    (b"UNICODE\0" + "\u6f22\u5b57".encode("utf-16-le"), False, "\u6f22\u5b57"),
    (b"UNICODE\0" + "\u6f22\u5b57".encode("utf-16-be"), True, "\u6f22\u5b57"),
    (b"ASCII\0\0\0Signature: abc\0", True, "Signature: abc"),
    (b"\0" * 8 + b'{"a": 1}', False, '{"a": 1}'),
    (b"JIS\0\0\0\0\0" + "\u6f22".encode("shift_jis"), False, "\u6f22"),
    (b'{"no": "code"}', False, '{"no": "code"}'),
])
def test_user_comment_encodings(raw: bytes, big_endian: bool, text: str) -> None:
    assert decode_user_comment(raw, big_endian) == text


def _tiff_le(entries: list[tuple[int, int, int, bytes]], next_ifd: int = 0) -> bytes:
    """Little-endian TIFF: IFD0 at 8, values after it."""
    n = len(entries)
    data_at = 8 + 2 + n * 12 + 4
    table = struct.pack("<H", n)
    values = b""
    for tag, typ, count, value in entries:
        if len(value) <= 4:
            table += struct.pack("<HHI", tag, typ, count) + value.ljust(4, b"\0")
        else:
            table += struct.pack("<HHII", tag, typ, count, data_at + len(values))
            values += value
    return b"II*\0" + struct.pack("<I", 8) + table + struct.pack("<I", next_ifd) + values


def test_ifd_loop_and_bad_offsets_are_problems() -> None:
    loop = _tiff_le([(0x0131, 2, 3, b"ab\0")], next_ifd=8)
    out = Collector()
    parse_tiff(Source.from_bytes(loop), 0, len(loop), "t", out)
    assert [(f.key, f.value) for f in out.fields] == [("exif:Software", "ab")]
    assert any("IFD loop" in p for p in out.problems)
    bad = _tiff_le([(0x010E, 2, 100, b"x" * 100)])
    bad = bad[:-60]
    out = Collector()
    parse_tiff(Source.from_bytes(bad), 0, len(bad), "t", out)
    assert any("outside the TIFF data" in p for p in out.problems)


def test_bigtiff_and_binary_makernote_skipped() -> None:
    entries = [(0x0131, 2, 4, b"Hi!\0"), (0x927C, 7, 6, b"\x00\x01\x02\x03\x04\x05")]
    table = struct.pack("<Q", len(entries))
    for tag, typ, count, value in entries:
        table += struct.pack("<HHQ", tag, typ, count) + value.ljust(8, b"\0")
    data = b"II+\0" + struct.pack("<HHQ", 8, 0, 16) + table + struct.pack("<Q", 0)
    out = Collector()
    parse_tiff(Source.from_bytes(data), 0, len(data), "t", out)
    assert [(f.key, f.value) for f in out.fields] == [("exif:Software", "Hi!")]


def test_pillow_and_exiftool_written_exif() -> None:
    for name, key, needle in (("flux.jpg", "exif:Software", "AI generated;txt2img;flux"),
                              ("fooocus.jpg", "exif:MakerNote", "fooocus"),
                              ("grok.jpg", "exif:Artist", "3f2b1c0d"),
                              ("a1111_usercomment.jpg", "exif:UserComment", "Steps: 20"),
                              ("a1111_usercomment_le.jpg", "exif:UserComment", "dusk — été")):
        out = Collector()
        read_jpeg(Source.from_bytes((META / name).read_bytes()), out)
        got = {f.key: f.value for f in out.fields}
        assert needle in got[key], (name, got)
        assert out.problems == []


def test_tiff_file_fixture() -> None:
    from detectors.metadata import NATIVE

    out = Collector()
    NATIVE["image/tiff"](Source.from_bytes((META / "iptc_dst.tif").read_bytes()), out)
    assert ("xmp:Iptc4xmpExt:DigitalSourceType",
            "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia") in kv(out)


# --- JPEG ---------------------------------------------------------------------------------

def seg(code: int, body: bytes) -> bytes:
    return bytes([0xFF, code]) + struct.pack(">H", len(body) + 2) + body


def test_jpeg_com_app11_and_stop_at_sos() -> None:
    data = (b"\xff\xd8" + seg(0xFE, b"made in Midjourney\0") + seg(0xEB, b"JP\x02\x11rest")
            + b"\xff\xff" + seg(0xDA, b"\0" * 10) + b"\xff\xfe\x00\x05late")
    out = Collector()
    read_jpeg(Source.from_bytes(data), out)
    assert kv(out) == [("jpeg:COM", "made in Midjourney")]
    assert out.facts["jpeg.app11_jumbf"] is True


def test_extended_xmp_is_reassembled() -> None:
    main = xmp("", {"xmpNote": "http://ns.adobe.com/xmp/note/"},
               attrs='xmpNote:HasExtendedXMP="0123456789ABCDEF0123456789ABCDEF"')
    ext = xmp(f"<e:DigitalSourceType>{EXT}y</e:DigitalSourceType>", {"e": EXT})
    guid = b"0123456789ABCDEF0123456789ABCDEF"
    half = len(ext) // 2
    parts = [ext[:half], ext[half:]]
    segs = b""
    for off, part in ((half, parts[1]), (0, parts[0])):  # out of order on purpose
        segs += seg(0xE1, b"http://ns.adobe.com/xmp/extension/\0" + guid
                    + struct.pack(">II", len(ext), off) + part)
    data = b"\xff\xd8" + seg(0xE1, b"http://ns.adobe.com/xap/1.0/\0" + main) + segs + b"\xff\xd9"
    out = Collector()
    read_jpeg(Source.from_bytes(data), out)
    assert ("xmp:Iptc4xmpExt:DigitalSourceType", f"{EXT}y") in kv(out)
    assert out.problems == []


@pytest.mark.parametrize(("data", "problem"), [
    (b"\xff\xd8\xff\xe1\xff\xff", "runs past the end"),
    (b"\xff\xd8\xff\xe1\x00\x01", "has length 1"),
    (b"\xff\xd8" + seg(0xFE, b"x") + b"\x00\x00", "expected a marker"),
    (b"\xff\xd8", "before the image data"),
    (b"\x89PNG", "no SOI"),
])
def test_hostile_jpeg(data: bytes, problem: str) -> None:
    out = Collector()
    read_jpeg(Source.from_bytes(data), out)
    assert any(problem in p for p in out.problems), out.problems


def test_corpus_a1111_jpeg_usercomment() -> None:
    path = CORPUS / "sd-parsers__automatic1111_cropped.jpg"
    if not path.is_file():
        pytest.skip("../shared/corpus not present")
    out = Collector()
    read_jpeg(Source.from_bytes(path.read_bytes()), out)
    got = {f.key: f.value for f in out.fields}
    assert got["exif:UserComment"].startswith("photo of a duck\nNegative prompt: monochrome")


# --- GIF ----------------------------------------------------------------------------------

def test_gif_comment_and_xmp(tmp_path: Path) -> None:
    out = Collector()
    read_gif(Source.from_bytes((META / "a1111.gif").read_bytes()), out)
    assert "Steps: 20" in {f.key: f.value for f in out.fields}["gif:comment"]
    path = tmp_path / "x.gif"
    Image.new("P", (4, 4)).save(path)
    data = path.read_bytes()
    packet = xmp(f"<e:DigitalSourceType>{EXT}z</e:DigitalSourceType>", {"e": EXT})
    trailer = bytes([1]) + bytes(range(255, -1, -1)) + b"\0"
    app = b"\x21\xff\x0bXMP DataXMP" + packet + trailer
    data = data[:-1] + app + b"\x3b"
    out = Collector()
    read_gif(Source.from_bytes(data), out)
    assert kv(out) == [("xmp:Iptc4xmpExt:DigitalSourceType", f"{EXT}z")]
    assert out.problems == []


def test_gif_truncated() -> None:
    data = (META / "a1111.gif").read_bytes()[:-20]
    out = Collector()
    read_gif(Source.from_bytes(data), out)
    assert any("truncated" in p for p in out.problems)


def test_gif_walk_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    import detectors.formats.gif as gif

    monkeypatch.setattr(gif, "SCAN_LIMIT", 200)
    frames = [Image.frombytes("L", (64, 64), bytes((i * 7 + j * 13) % 251 for j in range(4096)))
              for i in range(4)]
    buf = __import__("io").BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], comment="Steps: 1")
    out = Collector()
    read_gif(Source.from_bytes(buf.getvalue()), out)
    assert out.problems == [] and any("not walked" in n for n in out.notes)
