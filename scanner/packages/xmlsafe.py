"""Bounded, defused XML reading for package metadata (ASSETMAP, PKL, CPL, SCM).

Why: package XML comes with the delivery, i.e. from whoever made it. It must never expand
entities, fetch anything or grow without bound, and a broken document must become a reported
problem, not a traceback. DTDs are refused outright (no IMF document has one, and refusing the
DOCTYPE stops billion-laughs before a single entity is expanded), the byte size and the element
count are capped, and every failure comes back as a value.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from typing import Any
from xml.etree.ElementTree import Element, ParseError, TreeBuilder

from defusedxml import DefusedXmlException, DTDForbidden, EntitiesForbidden
from defusedxml.ElementTree import DefusedXMLParser

MAX_XML_BYTES = 16 * 1024 * 1024
MAX_ELEMENTS = 500_000


@dataclass(frozen=True)
class XmlDoc:
    root: Element
    namespace: str
    local: str


@dataclass(frozen=True)
class XmlFailure:
    """``code`` is one of ``too-large``, ``forbidden``, ``malformed``, ``too-many-elements``,
    ``unreadable``, ``not-a-file``."""

    code: str
    message: str


class _TooManyElements(Exception):
    pass


class _CountingBuilder(TreeBuilder):
    """A tree builder that stops the parse once the element budget is spent (a 16 MiB file of
    empty elements would otherwise cost gigabytes as a tree)."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self._left = limit

    def start(self, tag: Any, attrs: Any) -> Element:
        self._left -= 1
        if self._left < 0:
            raise _TooManyElements
        return super().start(tag, attrs)


def split_tag(tag: str) -> tuple[str, str]:
    """``{ns}local`` -> (ns, local); a tag without namespace has ns ''."""
    if tag.startswith("{"):
        ns, _, local = tag[1:].partition("}")
        return ns, local
    return "", tag


def children(el: Element, name: str) -> list[Element]:
    """Children with this local name, whatever their namespace (IMF mixes the CPL, core
    constraints and application namespaces in one tree, and versions differ only there)."""
    return [c for c in el if isinstance(c.tag, str) and split_tag(c.tag)[1] == name]


def child(el: Element, name: str) -> Element | None:
    found = children(el, name)
    return found[0] if found else None


def text(el: Element | None, name: str | None = None) -> str | None:
    """Stripped text of ``el`` (or of its first child ``name``); None when absent or empty."""
    node = el if name is None or el is None else child(el, name)
    if node is None or node.text is None:
        return None
    value = node.text.strip()
    return value or None


def parse_xml_bytes(data: bytes, *, max_elements: int = MAX_ELEMENTS) -> XmlDoc | XmlFailure:
    builder = _CountingBuilder(max_elements)
    parser = DefusedXMLParser(target=builder, forbid_dtd=True, forbid_entities=True,
                              forbid_external=True)
    try:
        parser.feed(data)
        root = parser.close()
    except _TooManyElements:
        return XmlFailure("too-many-elements",
                          f"more than {max_elements} XML elements: refused (limit)")
    except DefusedXmlException as exc:
        return XmlFailure("forbidden", f"refused: {type(exc).__name__} ({_defused_why(exc)}); "
                          "package XML may not carry a DTD, entities or external references")
    except ParseError as exc:
        return XmlFailure("malformed", f"not well-formed XML: {exc}")
    except (ValueError, RecursionError) as exc:  # e.g. an encoding expat does not know
        return XmlFailure("malformed", f"not well-formed XML: {exc}")
    if not isinstance(root, Element) or not isinstance(root.tag, str):
        return XmlFailure("malformed", "not well-formed XML: no root element")
    ns, name = split_tag(root.tag)
    return XmlDoc(root, ns, name)


def _defused_why(exc: DefusedXmlException) -> str:
    name = getattr(exc, "name", None)
    if isinstance(exc, DTDForbidden):
        return f"DOCTYPE {name!r}"
    if isinstance(exc, EntitiesForbidden):
        return f"entity {name!r}"
    return "external reference"


def read_xml(path: str, *, max_bytes: int = MAX_XML_BYTES,
             max_elements: int = MAX_ELEMENTS) -> XmlDoc | XmlFailure:
    """Read at most ``max_bytes`` (+1 to tell "too large") of a regular file, never through a
    symlink, and parse it defused."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        return XmlFailure("unreadable", f"cannot open: {exc.strerror or exc}")
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return XmlFailure("not-a-file", "not a regular file")
        if st.st_size > max_bytes:
            return XmlFailure("too-large", f"{st.st_size} bytes: larger than the {max_bytes} "
                              "bytes allowed for package XML (not parsed)")
        chunks: list[bytes] = []
        left = max_bytes + 1
        while left > 0:
            block = os.read(fd, min(left, 1 << 20))
            if not block:
                break
            chunks.append(block)
            left -= len(block)
    except OSError as exc:
        return XmlFailure("unreadable", f"cannot read: {exc.strerror or exc}")
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) > max_bytes:
        return XmlFailure("too-large", f"grew past the {max_bytes} bytes allowed while read "
                          "(not parsed)")
    return parse_xml_bytes(data, max_elements=max_elements)
