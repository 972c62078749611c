"""DPX (SMPTE 268M) and Kodak Cineon: the fixed-offset ASCII fields of their headers.

Why: film scans, VFX plates and conforms are delivered as DPX (Cineon in older pipelines); the
creator, project, copyright, input device, element descriptions, slate and the user-defined
area are where a tool writes its name. Both are fixed-layout headers (DPX 2048 bytes plus an
optional user area, Cineon 2048 bytes), so only those bytes are read, never the image data.
Byte order (``SDPX``/``XPDS``, Cineon's magic either way round) only matters for the header's
size fields; the text fields are bytes.

Fail closed on a cut file: a DPX shorter than the total file size its header states (offset
16), or than the offset of its image data, is a *problem* ("truncated"), never clean; the
fields that were read are still reported. (A frame cut in its pixel data would otherwise pass:
nothing past the header is read.)

What is covered: DPX file information (file name, creation time, creator, project,
copyright), the description of each image element, source information (source file name and
time, input device name and serial), film information (format, frame id, slate) and the user
data (its id, and its body when it is text); Cineon file name and dates, the image label,
origination (source file, input device, model, serial) and film (format, frame id,
slate). Television fields are binary. ExifTool reads DPX too (deep tier, ``--deep``); it does
not read Cineon.

Keys: ``dpx:<Field>`` and ``cineon:<Field>``, named like ExifTool's DPX tags
(``dpx:Creator``, ``dpx:Project``, ``dpx:ImageDescription``, ``dpx:InputDeviceName``...).
"""

from __future__ import annotations

import struct

from detectors.formats.native import Collector, FormatError, Source, hexoff, text
from detectors.formats.registry import Format

DPX_MAGIC = (b"SDPX", b"XPDS")
CINEON_MAGIC = (b"\x80\x2a\x5f\xd7", b"\xd7\x5f\x2a\x80")
HEADER = 2048
USER_LIMIT = 1024 * 1024  # SMPTE 268M: the user-defined area is at most 1 MiB
UNDEFINED = 0xFFFFFFFF  # SMPTE 268M: an unset 32-bit field

# (field, offset, length): file information, then image source information.
DPX_FILE = (("ImageFileName", 36, 100), ("CreateDate", 136, 24), ("Creator", 160, 100),
            ("Project", 260, 200), ("Copyright", 460, 200))
DPX_SOURCE = (("SourceFileName", 1432, 100), ("SourceCreateDate", 1532, 24),
              ("InputDeviceName", 1556, 32), ("InputDeviceSerialNumber", 1588, 32))
DPX_FILM = (("FilmFormat", 1680, 32), ("FrameID", 1732, 32), ("SlateInformation", 1764, 100))
DPX_ELEMENTS = 780  # first image element; 72 bytes each, description at +40 (32 bytes)
CINEON = (("ImageFileName", 32, 100), ("CreateDate", 132, 12), ("CreateTime", 144, 12),
          ("Label", 452, 200), ("SourceFileName", 720, 100), ("SourceCreateDate", 820, 12),
          ("SourceCreateTime", 832, 12), ("InputDeviceName", 844, 64),
          ("InputDeviceModel", 908, 32), ("InputDeviceSerialNumber", 940, 32),
          ("FilmFormat", 1036, 32), ("FrameID", 1076, 32), ("SlateInformation", 1108, 200))


def _field(data: bytes) -> str:
    """A fixed-length ASCII field: up to the first NUL, padding and 0xFF fill dropped."""
    raw = data.split(b"\x00", 1)[0].rstrip(b"\xff ")
    return text(raw).strip()


def _fields(data: bytes, table: tuple[tuple[str, int, int], ...], prefix: str, where: str,
            out: Collector) -> None:
    for name, off, length in table:
        if off + length <= len(data):
            value = _field(data[off:off + length])
            if value:
                out.add(f"{prefix}:{name}", value, f"{where} field {name} at {hexoff(off)}")


def read_dpx(src: Source, out: Collector) -> None:
    try:
        _dpx(src, out)
    except FormatError as exc:
        out.problem(f"DPX: {exc}")


def _dpx(src: Source, out: Collector) -> None:
    head = src.exact(0, 36, "DPX file header")
    if head[:4] not in DPX_MAGIC:
        raise FormatError("not a DPX file")
    end = ">" if head[:4] == b"SDPX" else "<"
    image_at, _version, total, _ditto, generic, industry, user = struct.unpack(
        f"{end}I8sIIIII", head[4:36])
    if generic < 768 or generic > image_at:
        raise FormatError(f"generic header length {generic} is not within the header "
                          f"({image_at} bytes to the image data)")
    data = src.exact(0, min(generic + industry, HEADER), "DPX header")
    where = "DPX header"
    _fields(data, DPX_FILE, "dpx", where, out)
    if len(data) >= DPX_ELEMENTS:
        count = struct.unpack_from(f"{end}H", data, 770)[0]
        for i in range(min(count, 8)):
            off = DPX_ELEMENTS + 72 * i + 40
            if off + 32 <= len(data):
                value = _field(data[off:off + 32])
                if value:
                    out.add("dpx:ImageDescription", value,
                            f"{where} image element {i + 1} description at {hexoff(off)}")
    _fields(data, DPX_SOURCE, "dpx", where, out)
    if industry:
        _fields(data, DPX_FILM, "dpx", where, out)
    if user:
        if user > USER_LIMIT:
            raise FormatError(f"user data of {user} bytes is over the {USER_LIMIT}-byte limit")
        at = generic + industry
        body = src.exact(at, user, "DPX user data")
        uid = _field(body[:32])
        if uid:
            out.add("dpx:UserID", uid, f"DPX user data at {hexoff(at)} (user id)")
        raw = body[32:].rstrip(b"\x00")
        if raw and all(b >= 0x20 or b in (9, 10, 13) for b in raw):
            out.add("dpx:UserData", text(raw), f"DPX user data at {hexoff(at + 32)}")
    _check_size(src, total, image_at, out)


def _check_size(src: Source, total: int, image_at: int, out: Collector) -> None:
    """A problem when the file is shorter than its header says (the total file size at
    offset 16, when set) or ends before its image data starts. A file longer than stated is
    not cut (some writers pad), so it passes."""
    if total not in (0, UNDEFINED) and src.size < total:
        out.problem(f"DPX: truncated: header says {total} bytes, file has {src.size}")
    elif image_at not in (0, UNDEFINED) and src.size <= image_at:
        out.problem(f"DPX: truncated: image data starts at {hexoff(image_at)}, file has "
                    f"{src.size} bytes")


def read_cineon(src: Source, out: Collector) -> None:
    try:
        head = src.exact(0, 24, "Cineon file header")
        if head[:4] not in CINEON_MAGIC:
            raise FormatError("not a Cineon file")
        end = ">" if head[:4] == CINEON_MAGIC[0] else "<"
        image_at, generic, industry = struct.unpack_from(f"{end}III", head, 4)
        if generic < 712 or generic + industry > image_at:
            raise FormatError(f"header lengths {generic} + {industry} are not within the "
                              f"{image_at} bytes before the image data")
        data = src.exact(0, min(generic + industry, HEADER), "Cineon header")
        _fields(data, CINEON if industry else CINEON[:10], "cineon", "Cineon header", out)
    except FormatError as exc:
        out.problem(f"Cineon: {exc}")


FORMATS = [
    Format(id="dpx", label="DPX", priority=95, kinds={"image/x-dpx": "image"},
           accept=lambda head: "image/x-dpx" if head[:4] in DPX_MAGIC else None,
           extensions={".dpx": ("image/x-dpx",)}, read=read_dpx),
    Format(id="cineon", label="Cineon", priority=95, kinds={"image/x-cineon": "image"},
           accept=lambda head: "image/x-cineon" if head[:4] in CINEON_MAGIC else None,
           extensions={".cin": ("image/x-cineon",)}, read=read_cineon),
]
