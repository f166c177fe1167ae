"""The few codec headers a recording engine reads to describe what it wrote.

Picture sizes come from the H.264 and H.265 sequence parameter sets (ITU-T H.264
7.3.2.1.1, H.265 7.3.2.2), audio parameters from an AAC AudioSpecificConfig (ISO/IEC
14496-3 1.6.2.1), an ADTS header or an MPEG audio frame header. Each reader returns
None for anything it cannot make sense of: describing a file is best effort, and a
file the engine cannot describe is checked by opening it instead.
"""

from __future__ import annotations

_AAC_RATES = (
    96000, 88200, 64000, 48000, 44100, 32000, 24000,
    22050, 16000, 12000, 11025, 8000, 7350,
)  # fmt: skip
# H.264 profiles whose SPS carries chroma format, bit depths and scaling lists
_HIGH_PROFILES = frozenset(
    {100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135}
)
_MPEG_AUDIO_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000)}


class _Bits:
    """Reads bits, and Exp-Golomb codes, from a NAL unit's RBSP."""

    def __init__(self, data: bytes) -> None:
        self.value = int.from_bytes(data, "big")
        self.left = len(data) * 8

    def u(self, n: int) -> int:
        if n > self.left:
            raise ValueError("read past the end")
        self.left -= n
        return (self.value >> self.left) & ((1 << n) - 1)

    def ue(self) -> int:
        zeros = 0
        while self.u(1) == 0:
            zeros += 1
            if zeros > 31:
                raise ValueError("Exp-Golomb code too long")
        return (1 << zeros) - 1 + self.u(zeros)

    def se(self) -> int:
        code = self.ue()
        return (code + 1) // 2 if code % 2 else -(code // 2)


def unescape(nal: bytes) -> bytes:
    """A NAL unit without its emulation prevention bytes (00 00 03 → 00 00)."""
    return nal.replace(b"\x00\x00\x03", b"\x00\x00")


def h264_size(nal: bytes) -> tuple[int, int] | None:
    """The cropped picture size an H.264 SPS NAL unit (header included) declares."""
    try:
        return _h264_size(_Bits(unescape(nal[1:])))
    except ValueError:
        return None


def _h264_size(bits: _Bits) -> tuple[int, int]:
    profile = bits.u(8)
    bits.u(16)  # constraint flags, level
    bits.ue()  # seq_parameter_set_id
    chroma = 1  # ChromaArrayType
    if profile in _HIGH_PROFILES:
        chroma_format = chroma = bits.ue()
        if chroma_format == 3 and bits.u(1):  # separate colour planes
            chroma = 0
        bits.ue()  # bit depths
        bits.ue()
        bits.u(1)
        if bits.u(1):  # scaling matrices
            for i in range(8 if chroma_format != 3 else 12):
                if bits.u(1):
                    _skip_scaling_list(bits, 16 if i < 6 else 64)
    bits.ue()  # log2_max_frame_num_minus4
    poc_type = bits.ue()
    if poc_type == 0:
        bits.ue()
    elif poc_type == 1:
        bits.u(1)
        bits.se()
        bits.se()
        for _ in range(bits.ue()):
            bits.se()
    bits.ue()  # max_num_ref_frames
    bits.u(1)
    width_mbs = bits.ue() + 1
    height_units = bits.ue() + 1
    frame_mbs_only = bits.u(1)
    if not frame_mbs_only:
        bits.u(1)
    bits.u(1)
    crop = (bits.ue(), bits.ue(), bits.ue(), bits.ue()) if bits.u(1) else (0, 0, 0, 0)
    unit_x = 1 if chroma in (0, 3) else 2
    unit_y = (2 - frame_mbs_only) * (2 if chroma == 1 else 1)
    width = width_mbs * 16 - unit_x * (crop[0] + crop[1])
    height = (2 - frame_mbs_only) * height_units * 16 - unit_y * (crop[2] + crop[3])
    return width, height


def _skip_scaling_list(bits: _Bits, size: int) -> None:
    last = following = 8
    for _ in range(size):
        if following:
            following = (last + bits.se() + 256) % 256
        last = following or last


def hevc_size(nal: bytes) -> tuple[int, int] | None:
    """The cropped picture size an H.265 SPS NAL unit (header included) declares."""
    try:
        return _hevc_size(_Bits(unescape(nal[2:])))
    except ValueError:
        return None


def _hevc_size(bits: _Bits) -> tuple[int, int]:
    bits.u(4)  # sps_video_parameter_set_id
    sub_layers = bits.u(3)
    bits.u(1)
    bits.u(96)  # general profile, tier and level
    present = [(bits.u(1), bits.u(1)) for _ in range(sub_layers)]
    if sub_layers:
        bits.u(2 * (8 - sub_layers))
    for profile_present, level_present in present:
        bits.u(88 * profile_present + 8 * level_present)
    bits.ue()  # sps_seq_parameter_set_id
    chroma = bits.ue()
    if chroma == 3:
        bits.u(1)
    width, height = bits.ue(), bits.ue()
    if bits.u(1):  # conformance window, in chroma samples
        left, right, top, bottom = bits.ue(), bits.ue(), bits.ue(), bits.ue()
        sub_x = 2 if chroma in (1, 2) else 1
        sub_y = 2 if chroma == 1 else 1
        width -= sub_x * (left + right)
        height -= sub_y * (top + bottom)
    return width, height


def aac_config(config: bytes) -> tuple[int, int] | None:
    """Sample rate and channel count of an AAC AudioSpecificConfig."""
    try:
        bits = _Bits(config[:8])
        if bits.u(5) == 31:  # escaped object type
            bits.u(6)
        index = bits.u(4)
        rate = bits.u(24) if index == 15 else _AAC_RATES[index]
        return rate, bits.u(4)
    except (ValueError, IndexError):
        return None


def adts_config(header: bytes) -> tuple[int, int] | None:
    """Sample rate and channel count of the ADTS frame `header` starts with."""
    if len(header) < 7 or header[0] != 0xFF or header[1] & 0xF6 != 0xF0:
        return None
    index = (header[2] >> 2) & 0x0F
    if index >= len(_AAC_RATES):
        return None
    return _AAC_RATES[index], ((header[2] & 1) << 2) | (header[3] >> 6)


def mpeg_audio_header(header: bytes) -> tuple[str, int, int] | None:
    """Codec (`mp1`/`mp2`/`mp3`), sample rate and channels of an MPEG audio frame."""
    if len(header) < 4 or header[0] != 0xFF or header[1] & 0xE0 != 0xE0:
        return None
    version, layer = (header[1] >> 3) & 3, (header[1] >> 1) & 3
    index = (header[2] >> 2) & 3
    if layer == 0 or index == 3 or version == 1:
        return None
    rates = _MPEG_AUDIO_RATES.get(version, (11025, 12000, 8000))
    channels = 1 if header[3] >> 6 == 3 else 2
    return f"mp{4 - layer}", rates[index], channels


def ac3_config(frame: bytes) -> tuple[int, int] | None:
    """Sample rate and channels (LFE counted) of an AC-3 or E-AC-3 sync frame."""
    if len(frame) < 8 or frame[:2] != b"\x0b\x77":
        return None
    rates = (48000, 44100, 32000)
    try:
        if frame[5] >> 3 > 10:  # bsid 16: E-AC-3 (ATSC A/52 annex E)
            bits = _Bits(frame[2:8])
            bits.u(16)  # strmtyp, substreamid, frmsiz
            fscod, code = bits.u(2), bits.u(2)  # fscod2 or numblkscod
            rate = (24000, 22050, 16000)[code] if fscod == 3 else rates[fscod]
        else:
            bits = _Bits(frame[4:8])
            rate = rates[bits.u(2)]
            bits.u(14)  # frmsizecod, bsid, bsmod
        acmod = bits.u(3)
        if frame[5] >> 3 <= 10:  # AC-3 mixing levels before the LFE flag
            bits.u(2 * ((acmod & 1 and acmod != 1) + (acmod & 4 > 0) + (acmod == 2)))
        lfe = bits.u(1)
    except (ValueError, IndexError):
        return None
    return rate, (2, 1, 2, 3, 3, 4, 4, 5)[acmod] + lfe


def split_annexb(data: bytes) -> list[bytes]:
    """The NAL units of an Annex B byte stream (start-code separated)."""
    units = []
    for part in data.split(b"\x00\x00\x01"):
        part = part.rstrip(b"\x00")
        if part:
            units.append(part)
    return units
