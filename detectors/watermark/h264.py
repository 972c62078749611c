"""H.264 sequence parameter sets: the picture size a decoder will produce.

The size an MP4/MOV sample entry (``stsd``) states is the muxer's word; the decoder sizes its
pictures from the SPS (ITU-T H.264 7.3.2.1.1), carried in the ``avcC`` box of an ``avc1``
entry or in the stream itself. Reading it lets a caller rule a clip out by size without
loading a decoder, and only when both agree. Bounded: an SPS is a few dozen bytes; every read
past the end of the NAL unit raises ``ValueError``.
"""

from __future__ import annotations

# profile_idc values whose SPS carries chroma format, bit depths and scaling matrices (the
# ones the spec and FFmpeg's h264_ps.c agree on); for the disputed ones (the spec adds 134,
# 135 and 139, FFmpeg reads 144 so) the fields that follow are read differently, so no size
# is given: only the decoder can say.
_HIGH = frozenset({100, 110, 122, 244, 44, 83, 86, 118, 128, 138})
_DISPUTED = frozenset({134, 135, 139, 144})
SPS = 7  # nal_unit_type of a sequence parameter set


class _Bits:
    def __init__(self, rbsp: bytes) -> None:
        self.data, self.pos = rbsp, 0

    def u(self, n: int) -> int:
        v = 0
        for _ in range(n):
            byte = self.pos >> 3
            if byte >= len(self.data):
                raise ValueError("SPS ends early")
            v = (v << 1) | ((self.data[byte] >> (7 - (self.pos & 7))) & 1)
            self.pos += 1
        return v

    def ue(self) -> int:
        zeros = 0
        while self.u(1) == 0:
            zeros += 1
            if zeros > 31:
                raise ValueError("SPS: Exp-Golomb code too long")
        return (1 << zeros) - 1 + self.u(zeros)

    def se(self) -> int:
        k = self.ue()
        return (k + 1) // 2 if k & 1 else -(k // 2)


def rbsp(nal: bytes) -> bytes:
    """The NAL unit's payload without its header byte and emulation-prevention bytes."""
    out = bytearray()
    zeros = 0
    for b in nal[1:]:
        if zeros >= 2 and b == 3:
            zeros = 0
            continue
        out.append(b)
        zeros = zeros + 1 if b == 0 else 0
    return bytes(out)


def _scaling_list(bits: _Bits, size: int) -> None:
    last = nxt = 8
    for _ in range(size):
        if nxt:
            nxt = (last + bits.se() + 256) % 256
        last = nxt or last


def sps_size(nal: bytes) -> tuple[int, int]:
    """(width, height) of the pictures an SPS NAL unit describes, after frame cropping."""
    if not nal or nal[0] & 0x1F != SPS:
        raise ValueError("not an SPS NAL unit")
    bits = _Bits(rbsp(nal))
    profile = bits.u(8)
    if profile in _DISPUTED:
        raise ValueError(f"SPS: profile_idc {profile} is read differently by decoders")
    bits.u(16)  # constraint flags, level_idc
    bits.ue()  # seq_parameter_set_id
    chroma = 1
    separate = 0
    if profile in _HIGH:
        chroma = bits.ue()
        if chroma == 3:
            separate = bits.u(1)
        bits.ue()  # bit_depth_luma_minus8
        bits.ue()  # bit_depth_chroma_minus8
        bits.u(1)  # qpprime_y_zero_transform_bypass_flag
        if bits.u(1):  # seq_scaling_matrix_present_flag
            for i in range(8 if chroma != 3 else 12):
                if bits.u(1):
                    _scaling_list(bits, 16 if i < 6 else 64)
    bits.ue()  # log2_max_frame_num_minus4
    poc_type = bits.ue()
    if poc_type == 0:
        bits.ue()
    elif poc_type == 1:
        bits.u(1)
        bits.se()
        bits.se()
        cycle = bits.ue()
        if cycle > 255:
            raise ValueError("SPS: POC cycle too long")
        for _ in range(cycle):
            bits.se()
    bits.ue()  # max_num_ref_frames
    bits.u(1)  # gaps_in_frame_num_value_allowed_flag
    width_mbs = bits.ue() + 1
    height_units = bits.ue() + 1
    frame_mbs_only = bits.u(1)
    if not frame_mbs_only:
        bits.u(1)  # mb_adaptive_frame_field_flag
    bits.u(1)  # direct_8x8_inference_flag
    crop = (0, 0, 0, 0)
    if bits.u(1):  # frame_cropping_flag
        crop = (bits.ue(), bits.ue(), bits.ue(), bits.ue())
    if chroma == 0 or separate:
        unit_x, unit_y = 1, 2 - frame_mbs_only
    else:
        unit_x = 2 if chroma in (1, 2) else 1
        unit_y = (2 if chroma == 1 else 1) * (2 - frame_mbs_only)
    width = width_mbs * 16 - unit_x * (crop[0] + crop[1])
    height = (2 - frame_mbs_only) * height_units * 16 - unit_y * (crop[2] + crop[3])
    if width <= 0 or height <= 0:
        raise ValueError("SPS: cropped to nothing")
    return width, height


def avcc_sps(avcc: bytes) -> tuple[list[bytes], int]:
    """The SPS NAL units of an ``avcC`` body (AVCDecoderConfigurationRecord) and the length
    size of the stream's NAL units."""
    if len(avcc) < 6 or avcc[0] != 1:
        raise ValueError("not an AVC decoder configuration record")
    length_size = (avcc[4] & 3) + 1
    count, p, out = avcc[5] & 0x1F, 6, []
    for _ in range(count):
        if p + 2 > len(avcc):
            raise ValueError("avcC ends early")
        n = int.from_bytes(avcc[p:p + 2], "big")
        if p + 2 + n > len(avcc):
            raise ValueError("avcC ends early")
        out.append(avcc[p + 2:p + 2 + n])
        p += 2 + n
    return out, length_size


def stream_sps(sample: bytes, length_size: int) -> list[bytes]:
    """SPS NAL units carried in a sample (length-prefixed NAL units, as in MP4)."""
    out, p = [], 0
    while p + length_size <= len(sample):
        n = int.from_bytes(sample[p:p + length_size], "big")
        p += length_size
        if n == 0 or p + n > len(sample):
            break
        if sample[p] & 0x1F == SPS:
            out.append(sample[p:p + n])
        p += n
    return out
