"""Normalised metadata fields: the common language between format readers (native walkers and
the ExifTool driver) and the rule pack.

Every reader turns what it found into ``Field`` records with a canonical ``key``; rules match
keys (exactly, or with a trailing ``*`` wildcard) and never care which reader produced them.

Canonical keys (case as written here; keywords/descriptions keep the file's own spelling):

- ``png:text:<keyword>``            PNG tEXt / zTXt / iTXt, wherever the chunk sits
- ``xmp:<prefix>:<LocalName>``      XMP property. ``<prefix>`` is *our* canonical prefix for the
                                    namespace URI (``detectors.formats.xmp.NAMESPACES``), never the
                                    prefix the file used; an unknown namespace is
                                    ``xmp:{<uri>}:<LocalName>``
- ``exif:<TagName>``                EXIF/TIFF tag by ExifTool-style name (``Software``, ``Make``,
                                    ``Model``, ``ImageDescription``, ``Artist``, ``UserComment``,
                                    ``MakerNote``)
- ``jpeg:COM`` / ``gif:comment``    comment segments / extensions
- ``bmff:ilst:<fourcc>``            QuickTime item list atom (``bmff:ilst:©too``, ``©cmt``)
- ``bmff:mdta:<key>``               QuickTime ``mdta`` keyed metadata (``bmff:mdta:comment``)
- ``bmff:udta:<fourcc>``            QuickTime user data atom
- ``id3:<FRAME>`` / ``id3:TXXX:<description>`` / ``id3:COMM:<description>``
- ``vorbis:<key>``                  Vorbis comment (FLAC, Ogg), key lower-cased
- ``riff:INFO:<fourcc>`` / ``riff:bext:<field>`` / ``riff:iXML`` / ``riff:<fourcc>``
- ``stealth:<magic>``               stealth pnginfo payload read from alpha/RGB LSBs
- ``exiftool:<Group>:<Tag>``        an ExifTool tag with no canonical mapping (deep tier)
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Field:
    key: str
    value: str
    location: str  # where a person finds it: "PNG tEXt chunk 'parameters' at offset 0x2f"
    reader: str = "native"  # "native" | "exiftool"
