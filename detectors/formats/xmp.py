"""XMP packets → ``xmp:<prefix>:<LocalName>`` fields, keyed by namespace URI, never by prefix.

Why by URI: the prefix is the writer's choice (Midjourney writes ``iptcExt:DigitalSourceType``,
Adobe ``Iptc4xmpExt:``); the namespace URI is what the property *is*. ``NAMESPACES`` maps URIs to
our canonical prefixes; an unknown namespace keeps its URI (``xmp:{uri}:Name``).

Parsing is safe by construction: ``defusedxml`` with DTDs, entities and external references
forbidden (no billion-laughs, no XXE), a size bound, and bounded depth/element counts.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from detectors.formats.native import Collector, FormatError

MAX_PACKET = 16 * 1024 * 1024
MAX_ELEMENTS = 200_000
MAX_DEPTH = 40
NAME_LIMIT = 200
MAX_URI = 256  # real namespace URIs are under 64 characters

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
XML_NS = "http://www.w3.org/XML/1998/namespace"

# Namespace URI → canonical prefix (the one used in field keys and rules).
NAMESPACES: dict[str, str] = {
    "adobe:ns:meta/": "x",
    "http://ns.adobe.com/xap/1.0/": "xmp",
    "http://ns.adobe.com/xap/1.0/mm/": "xmpMM",
    "http://ns.adobe.com/xap/1.0/rights/": "xmpRights",
    "http://ns.adobe.com/xap/1.0/bj/": "xmpBJ",
    "http://ns.adobe.com/xap/1.0/t/pg/": "xmpTPg",
    "http://ns.adobe.com/xap/1.0/g/img/": "xmpGImg",
    "http://ns.adobe.com/xap/1.0/sType/ResourceEvent#": "stEvt",
    "http://ns.adobe.com/xap/1.0/sType/ResourceRef#": "stRef",
    "http://ns.adobe.com/xap/1.0/sType/Version#": "stVer",
    "http://ns.adobe.com/xmp/note/": "xmpNote",
    "http://ns.adobe.com/xmp/1.0/DynamicMedia/": "xmpDM",
    "http://purl.org/dc/elements/1.1/": "dc",
    "http://purl.org/dc/terms/": "dcterms",
    "http://ns.adobe.com/photoshop/1.0/": "photoshop",
    "http://ns.adobe.com/exif/1.0/": "exif",
    "http://ns.adobe.com/exif/1.0/aux/": "aux",
    "http://cipa.jp/exif/1.0/": "exifEX",
    "http://ns.adobe.com/tiff/1.0/": "tiff",
    "http://ns.adobe.com/pdf/1.3/": "pdf",
    "http://ns.adobe.com/camera-raw-settings/1.0/": "crs",
    "http://ns.adobe.com/lightroom/1.0/": "lr",
    "http://iptc.org/std/Iptc4xmpCore/1.0/xmlns/": "Iptc4xmpCore",
    "http://iptc.org/std/Iptc4xmpExt/2008-02-29/": "Iptc4xmpExt",
    "http://ns.useplus.org/ldf/xmp/1.0/": "plus",
    "http://www.tc260.org.cn/ns/AIGC/1.0/": "TC260",
    "http://ns.google.com/photos/1.0/camera/": "GCamera",
    "http://ns.google.com/photos/1.0/container/": "GContainer",
    "http://ns.google.com/photos/1.0/image/": "GImage",
    "http://c2pa.org/manifest": "c2pa",
    "http://schema.org/": "schema",
}

# ExifTool family-1 XMP group names (``XMP-iptcExt``) → canonical prefix, for the deep tier.
EXIFTOOL_GROUPS: dict[str, str] = {
    "XMP-iptcCore": "Iptc4xmpCore",
    "XMP-iptcExt": "Iptc4xmpExt",
    **{f"XMP-{p}": p for p in NAMESPACES.values()},
}


def canonical_key(uri: str, local: str) -> str:
    prefix = NAMESPACES.get(uri)
    local = _short(local)
    return f"xmp:{prefix}:{local}" if prefix else f"xmp:{{{_short(uri)}}}:{local}"


def _short(name: str) -> str:
    """Unknown namespace URIs (and names) can be megabytes in a hostile packet; keys and
    paths keep ``NAME_LIMIT`` characters of them."""
    return name if len(name) <= NAME_LIMIT else f"{name[:NAME_LIMIT]}…"


def _split(tag: str) -> tuple[str, str]:
    if tag.startswith("{"):
        uri, _, local = tag[1:].partition("}")
        return uri, local
    return "", tag


def _trim(packet: bytes) -> bytes:
    """Cut padding/garbage around the packet (NUL bytes, data after the last tag)."""
    start = packet.find(b"<")
    end = packet.rfind(b">")
    if start < 0 or end < start:
        return b""
    return packet[start:end + 1]


_NS_DECL = re.compile(rb"""xmlns(?::[^\s=/>]*)?\s*=\s*(["'])""")


def _prescreen(data: bytes) -> str | None:
    """Refuse, before parsing, a packet whose tree would dwarf it: expat expands every element
    and attribute name to ``{uri}local`` (a 1 MiB URI times 200 000 names is 200 GiB), and
    ElementTree spends ~200 bytes per element. C-speed counts, no false alarm on real XMP."""
    tags = data.count(b"<")
    if tags > 2 * MAX_ELEMENTS + 1024:
        return f"{tags} tags, more than {MAX_ELEMENTS} elements"
    if data.count(b"=") > 4 * MAX_ELEMENTS:
        return f"more than {4 * MAX_ELEMENTS} attributes"
    for m in _NS_DECL.finditer(data):
        end = data.find(m.group(1), m.end())
        if end - m.end() > MAX_URI:
            return f"a namespace URI of {end - m.end()} bytes (limit {MAX_URI})"
        if end < 0:
            break  # unterminated: expat reports it
    return None


class _Walker:
    def __init__(self, out: Collector, where: str) -> None:
        self.out = out
        self.where = where
        self.count = 0

    def _tick(self) -> None:
        self.count += 1
        if self.count > MAX_ELEMENTS:
            raise FormatError(f"XMP in {self.where} has more than {MAX_ELEMENTS} elements")

    def emit(self, uri: str, local: str, value: str, path: str) -> None:
        self.out.add(canonical_key(uri, local), value, f"XMP {path} in {self.where}")

    def description(self, el: ET.Element, path: str, depth: int) -> None:
        """A node element (rdf:Description or a typed node): attributes and children are properties."""
        if depth > MAX_DEPTH:
            raise FormatError(f"XMP in {self.where} nested deeper than {MAX_DEPTH}")
        for name, value in el.attrib.items():
            uri, local = _split(name)
            if uri in (RDF, XML_NS) or not uri:
                continue
            self._tick()
            self.emit(uri, local, value, f"{path}{_label(uri, local)}")
        for child in el:
            self.property(child, path, depth + 1)

    def property(self, el: ET.Element, path: str, depth: int) -> None:
        self._tick()
        if depth > MAX_DEPTH:
            raise FormatError(f"XMP in {self.where} nested deeper than {MAX_DEPTH}")
        if not isinstance(el.tag, str):
            return  # comment / processing instruction
        uri, local = _split(el.tag)
        here = f"{path}{_label(uri, local)}"
        resource = el.get(f"{{{RDF}}}resource")
        if resource is not None:
            self.emit(uri, local, resource, here)
            return
        children = [c for c in el if isinstance(c.tag, str)]
        if el.get(f"{{{RDF}}}parseType") == "Resource":
            for child in children:
                self.property(child, here + "/", depth + 1)
            return
        if not children:
            # Simple value (qualifier attributes such as xml:lang are dropped).
            self.emit(uri, local, el.text or "", here)
            # A property element may carry struct fields as attributes (shorthand).
            for name, value in el.attrib.items():
                a_uri, a_local = _split(name)
                if a_uri and a_uri not in (RDF, XML_NS):
                    self.emit(a_uri, a_local, value, f"{here}/{_label(a_uri, a_local)}")
            return
        for child in children:
            c_uri, c_local = _split(child.tag)
            if c_uri == RDF and c_local in ("Alt", "Bag", "Seq"):
                for i, li in enumerate(c for c in child if isinstance(c.tag, str)):
                    self._tick()
                    self.item(uri, local, li, f"{here}[{i}]", depth + 2)
            elif c_uri == RDF and c_local == "Description":
                self.description(child, here + "/", depth + 1)
            else:
                self.property(child, here + "/", depth + 1)

    def item(self, uri: str, local: str, li: ET.Element, path: str, depth: int) -> None:
        kids = [c for c in li if isinstance(c.tag, str)]
        if li.get(f"{{{RDF}}}parseType") == "Resource" or kids or any(
                _split(a)[0] not in (RDF, XML_NS, "") for a in li.attrib):
            # Struct in an array (e.g. xmpMM:History stEvt items): emit each leaf.
            for name, value in li.attrib.items():
                a_uri, a_local = _split(name)
                if a_uri and a_uri not in (RDF, XML_NS):
                    self.emit(a_uri, a_local, value, f"{path}/{_label(a_uri, a_local)}")
            for child in kids:
                c_uri, c_local = _split(child.tag)
                if c_uri == RDF and c_local == "Description":
                    self.description(child, path + "/", depth + 1)
                else:
                    self.property(child, path + "/", depth + 1)
            return
        resource = li.get(f"{{{RDF}}}resource")
        self.emit(uri, local, resource if resource is not None else (li.text or ""), path)


def _label(uri: str, local: str) -> str:
    prefix = NAMESPACES.get(uri)
    return f"{prefix}:{_short(local)}" if prefix else f"{{{_short(uri)}}}{_short(local)}"


def parse_xmp(packet: bytes, where: str, out: Collector) -> None:
    """Parse one XMP packet found in ``where`` (e.g. "PNG iTXt 'XML:com.adobe.xmp'")."""
    if len(packet) > MAX_PACKET:
        out.problem(f"XMP packet in {where} is {len(packet)} bytes, over the {MAX_PACKET}-byte limit")
        return
    data = _trim(packet)
    if not data:
        out.note(f"empty XMP packet in {where}")
        return
    refused = _prescreen(data)
    if refused:
        out.problem(f"XMP in {where} not parsed: {refused}")
        return
    try:
        root = SafeET.fromstring(data, forbid_dtd=True, forbid_entities=True,
                                 forbid_external=True)
    except DefusedXmlException as exc:
        out.problem(f"XMP in {where} refused: {type(exc).__name__} (DTD/entities not allowed)")
        return
    except ET.ParseError as exc:
        out.problem(f"XMP in {where} is not well-formed XML: {exc}")
        return
    except (LookupError, ValueError) as exc:  # expat looks the declared encoding up in Python:
        # unknown (LookupError), multi-byte (ValueError) or failing codecs (UnicodeError)
        out.problem(f"XMP in {where} declares an encoding that cannot be read: "
                    f"{type(exc).__name__}: {str(exc)[:200]}")
        return
    walker = _Walker(out, where)
    try:
        rdfs = [root] if root.tag == f"{{{RDF}}}RDF" else list(root.iter(f"{{{RDF}}}RDF"))
        for rdf in rdfs:
            for node in rdf:
                if isinstance(node.tag, str):
                    walker.description(node, "", 0)
    except FormatError as exc:
        out.problem(str(exc))
