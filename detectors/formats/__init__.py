"""Bounded readers of container structure (PNG chunks, ISO BMFF boxes, RIFF chunks, ID3, XMP)
and the ExifTool driver. They read metadata structures, never essence.

Readers report what they find as ``detectors.model.Field`` records: the common language between
format readers (native walkers and the ExifTool driver) and the rule pack.

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
                                    (``id3:COMM`` / ``id3:USLT`` when the description is
                                    empty; the deep tier writes ``id3:COMM:``, so rules use
                                    ``id3:COMM*``), ``id3:WXXX:<description>``,
                                    ``id3:GEOB:<description>`` (value "mime; file; N bytes"),
                                    ``id3:PRIV:<owner>`` (value "N bytes"); v2.2 ids are mapped
                                    to their v2.3 names (``TT2`` → ``TIT2``)
- ``id3v1:<title|artist|album|comment>``  ID3v1 tag at the end of the file
- ``vorbis:<key>``                  Vorbis comment (FLAC, Ogg), key lower-cased
- ``riff:INFO:<fourcc>`` / ``riff:bext:<field>`` / ``riff:iXML`` / ``riff:<fourcc>``
- ``riff:iXML:<path>`` / ``riff:axml:<path>`` (``<path>@<attr>``)
                                    XML chunk elements (and attributes), namespaces dropped
- ``aiff:<NAME|AUTH|(c)|ANNO|COMT>`` / ``aiff:APPL:<signature>``  AIFF/AIFC text chunks
- ``exr:<attribute>``               OpenEXR header string/stringvector attributes, every part
- ``dpx:<Field>`` / ``cineon:<Field>``  fixed header fields, named like ExifTool's DPX tags
- ``mxf:<Tag>``                     MXF through ExifTool (deep tier), ExifTool's tag names
- ``bmff:udta:<3GPP fourcc>``       3GPP asset boxes (``titl``, ``dscp``, ``auth``, ``perf``, …)
- ``stealth:<magic>``               stealth pnginfo payload read from alpha/RGB LSBs
                                    (``stealth:stealth_pngcomp`` ...)
- ``exiftool:<Group>:<Tag>``        an ExifTool tag with no canonical mapping (deep tier)
- ``sidecar:comfyui:prompt``        a ComfyUI API graph found in a generator sidecar JSON (a file
                                    of its own, or ``<stem>.json`` / ``<stem>_api.json`` beside
                                    an asset; ``detectors.formats.gen_sidecar``)
- ``sidecar:comfyui:workflow``      a ComfyUI UI workflow found in a sidecar JSON
                                    (``<stem>.json`` / ``<stem>_ui.json``)
- ``sidecar:a1111:parameters``      the text of a sidecar ``.txt`` holding an infotext
                                    ``Steps:`` line (A1111 ``save_txt``), judged like the PNG
                                    ``parameters`` chunk

Freeform QuickTime items (``----``) use their ``name`` (``bmff:ilst:AIGC``); HEIF ``Exif`` and
XMP items produce ``exif:`` and ``xmp:`` keys like any other carrier. On an asset, fields read
from a sidecar beside it keep their keys; the finding's location says ``sidecar <name>: <key>``.
The rule pack matches keys case-insensitively (ExifTool capitalises PNG keywords), so the case
here is documentation.
"""
