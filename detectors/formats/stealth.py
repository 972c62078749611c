"""Stealth pnginfo (A1111 extension, NovelAI, ComfyUI port): generation parameters hidden in the
least significant bits of the alpha channel (or of R, G, B) of a PNG.

Layout (as written by the A1111 stealth-pnginfo extension and NovelAI): bits are taken column by
column (x outer, y inner), MSB first; alpha mode uses one bit per pixel, RGB mode three (R, G, B
LSBs). The stream is a 15-byte magic (``stealth_pnginfo``/``stealth_pngcomp`` for alpha,
``stealth_rgbinfo``/``stealth_rgbcomp`` for RGB), a 32-bit big-endian payload length *in bits*,
then the payload (gzip for ``*comp``).

This is the one native reader that decodes pixels, and only for 8-bit PNGs with alpha, bounded:
the negative path decodes just the first ``HEADER_ROWS`` rows (a column-major header lives in the
top of column 0) by feeding Pillow a shortened image built from the file's own IDAT prefix, so a
12-MP image costs a few hundred kilobytes of inflate. Only when a magic is present is the image
decoded as far as the payload needs, up to ``MAX_PIXELS``.
"""

from __future__ import annotations

import io
import struct
import zlib
from typing import Any

from detectors.formats.native import Collector, FormatError, Source, inflate, utf8

ALPHA_MAGICS = {b"stealth_pnginfo": False, b"stealth_pngcomp": True}
RGB_MAGICS = {b"stealth_rgbinfo": False, b"stealth_rgbcomp": True}
HEADER_BITS = 15 * 8 + 32
HEADER_ROWS = HEADER_BITS  # alpha mode needs one pixel per bit; RGB mode a third of that
# Pixels decoded at most (Pillow holds the image and numpy a copy: 16 MP RGBA is ~130 MB, ~1 s).
# Adam7-interlaced images can only be decoded whole, and slower: a lower bound for them.
MAX_PIXELS = 16_000_000
MAX_INTERLACED_PIXELS = 8_000_000
MAX_PAYLOAD_BITS = 16 * 1024 * 1024 * 8
_PIECE = 64 * 1024


def read_stealth(src: Source, out: Collector) -> None:
    """Look for a stealth payload in a PNG already walked by ``png.read_png``."""
    ihdr = out.facts.get("png.ihdr")
    if not ihdr or ihdr["color"] not in (4, 6) or ihdr["depth"] != 8:
        return
    w, h = ihdr["width"], ihdr["height"]
    if not w or not h:
        return
    rows = h if ihdr["interlace"] else min(h, HEADER_ROWS)
    cap = MAX_INTERLACED_PIXELS if ihdr["interlace"] else MAX_PIXELS
    if w * rows > cap:
        what = "interlaced PNG" if ihdr["interlace"] else "PNG"
        out.note(f"stealth pnginfo not checked: {w}x{h} {what} needs more than {cap} "
                 "pixels decoded")
        return
    try:
        _read(src, out, ihdr, w, h)
    except FormatError as exc:
        out.problem(f"stealth pnginfo: {exc}")
    except (OSError, ValueError, zlib.error) as exc:
        out.problem(f"stealth pnginfo: could not decode pixels: {exc}")


def _read(src: Source, out: Collector, ihdr: dict[str, int], w: int, h: int) -> None:
    rows = h if ihdr["interlace"] else min(h, HEADER_ROWS)
    pixels = _decode_rows(src, out, ihdr, rows)
    if pixels is None:
        return
    for mode, magics in (("alpha", ALPHA_MAGICS), ("rgb", RGB_MAGICS)):
        bits = _bits(pixels, mode, h, HEADER_BITS)
        if bits is None:
            continue
        header = bits.tobytes()
        magic = header[:15]
        if magic not in magics:
            continue
        length = struct.unpack(">I", header[15:19])[0]
        per_pixel = 1 if mode == "alpha" else 3
        total_bits = HEADER_BITS + length
        need_pixels = -(-total_bits // per_pixel)
        where = f"PNG {mode} LSBs ({magic.decode()}, {length} bits)"
        if length > MAX_PAYLOAD_BITS or need_pixels > w * h:
            out.note(f"{where}: declared length does not fit the image; payload not read")
            out.add(f"stealth:{magic.decode()}", "", where)
            return
        need_rows = h if need_pixels > h else need_pixels
        if w * need_rows > MAX_PIXELS:
            out.note(f"{where}: payload not decoded, image over {MAX_PIXELS} pixels")
            out.add(f"stealth:{magic.decode()}", "", where)
            return
        if need_rows > pixels.shape[0]:
            pixels = _decode_rows(src, out, ihdr, need_rows)
            if pixels is None:
                return
        all_bits = _bits(pixels, mode, h, total_bits)
        if all_bits is None:
            out.problem(f"{where}: image data ends inside the payload")
            return
        payload = all_bits.tobytes()[19:19 + length // 8]
        if magics[magic]:
            payload, complete = inflate(payload, wbits=16 + zlib.MAX_WBITS, out=out)
            if not complete:
                out.problem(f"{where}: gzip payload is corrupt or too large")
        out.add(f"stealth:{magic.decode()}", utf8(payload), where)
        return


def _bits(pixels: Any, mode: str, height: int, nbits: int) -> Any:
    """First ``nbits`` bits of the column-major LSB stream, packed MSB-first, or None."""
    import numpy as np

    rows = pixels.shape[0]
    per_pixel = 1 if mode == "alpha" else 3
    need_pixels = -(-nbits // per_pixel)
    if rows < height:
        if need_pixels > rows:
            return None
        column = pixels[:need_pixels, 0, :]
    else:
        cols = -(-need_pixels // rows)  # copy only the columns the stream needs
        column = pixels[:, :cols, :].transpose(1, 0, 2).reshape(-1, pixels.shape[2])
        column = column[:need_pixels]
        if column.shape[0] < need_pixels:
            return None
    if mode == "alpha":
        lsb = column[:, -1] & 1
    else:
        lsb = (column[:, :3] & 1).reshape(-1)
    lsb = lsb[:nbits].astype(np.uint8)
    return np.packbits(lsb)


def _chunk(ctype: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + ctype + data + struct.pack(
        ">I", zlib.crc32(ctype + data) & 0xFFFFFFFF)


def _decode_rows(src: Source, out: Collector, ihdr: dict[str, int], rows: int) -> Any:
    """Decode the first ``rows`` rows as an (rows, width, channels) uint8 array.

    Builds a PNG whose IHDR says ``rows`` high and whose IDAT is the prefix of the file's
    compressed stream that inflates to those rows, so Pillow's decoder (C) does the unfiltering
    and stops there. Interlaced images are decoded whole (already bounded by the caller).
    """
    import numpy as np
    from PIL import Image

    w = ihdr["width"]
    channels = 2 if ihdr["color"] == 4 else 4
    spans: list[tuple[int, int]] = out.facts.get("png.idat", [])
    if not spans:
        return None
    interlaced = bool(ihdr["interlace"])
    needed = None if interlaced else rows * (1 + w * channels)
    compressed = bytearray()
    d = zlib.decompressobj()
    produced = 0
    done = False
    for offset, length in spans:
        at = 0
        while at < length:
            piece = src.read(offset + at, min(_PIECE, length - at))
            if not piece:
                raise FormatError("IDAT data ends early")
            at += len(piece)
            if needed is None:
                compressed += piece
                continue
            raw = d.decompress(piece, needed - produced)
            produced += len(raw)
            if produced >= needed:
                compressed += piece[:len(piece) - len(d.unconsumed_tail)]
                done = True
                break
            compressed += piece
            if d.eof:
                done = True
                break
        if done:
            break
    if needed is not None and produced < needed:
        out.note("stealth pnginfo: image data shorter than the header needs")
        return None
    ihdr_data = struct.pack(">IIBBBBB", w, rows, 8, ihdr["color"], 0, 0, ihdr["interlace"])
    png = (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr_data) + _chunk(b"IDAT", bytes(compressed))
           + _chunk(b"IEND", b""))
    del compressed
    with Image.open(io.BytesIO(png)) as im:
        im.load()
        arr = np.asarray(im)
    if arr.ndim == 2:
        return None
    return arr
