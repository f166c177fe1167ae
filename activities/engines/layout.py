"""What a native engine knows about the streams of a file, read from bytes it holds.

The native engines describe each file they write from the data that opens it, so no
closed file has to be demuxed again: an MPEG-TS segment's PAT and PMT (stream types,
ISO/IEC 13818-1 2.4.4) and the first PES packet of each stream (the SPS of
the keyframe, the first ADTS or MPEG audio header); an fMP4 init section's sample
descriptions (`moov/trak/mdia/minf/stbl/stsd`, ISO/IEC 14496-12); an FLV file's
sequence headers, or the flags of its first media tags when a codec has none.

Each reader returns None when the bytes do not tell (not that container, no stream
found): the recording activity then checks the file itself (`activities.media`).
Codec names are ffmpeg's, so a file described here and one checked with PyAV read
the same.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from activities.contracts import MediaStream
from activities.engines.bitstream import (
    aac_config,
    ac3_config,
    adts_config,
    h264_size,
    hevc_size,
    mpeg_audio_header,
    split_annexb,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

_TS_PACKET = 188
_TS_SYNC = 0x47
# the first PES bytes of a stream read for its parameters (a keyframe's SPS sits
# near the start of its access unit, after the delimiter and maybe an SEI)
_PES_HEAD = 16 * 1024
# PMT stream types of the audio and video codecs live streams carry
_TS_TYPES = {
    0x1B: ("video", "h264"),
    0x24: ("video", "hevc"),
    0x0F: ("audio", "aac"),
    0x11: ("audio", "aac_latm"),
    0x03: ("audio", "mp3"),
    0x04: ("audio", "mp3"),
    0x81: ("audio", "ac3"),
    0x87: ("audio", "eac3"),
}
# private-data streams (type 6) by descriptor tag, or registration format identifier
_TS_PRIVATE = {0x6A: "ac3", 0x7A: "eac3", b"AC-3": "ac3", b"EAC3": "eac3"}
_MP4_VIDEO = dict.fromkeys((b"avc1", b"avc3"), "h264")
_MP4_VIDEO |= dict.fromkeys((b"hvc1", b"hev1"), "hevc") | {b"av01": "av1"}
_MP4_AUDIO = {b"mp4a": "aac", b"ac-3": "ac3", b"ec-3": "eac3", b"Opus": "opus"}
_MP4_CONTAINERS = frozenset({b"moov", b"trak", b"mdia", b"minf", b"stbl"})
# FLV codec ids (legacy video nibble, audio SoundFormat) and enhanced FourCCs
_FLV_VIDEO = {2: "flv1", 4: "vp6f", 5: "vp6a", 7: "h264", 12: "hevc"}
_FLV_VIDEO_FOURCC = {b"avc1": "h264", b"hvc1": "hevc", b"av01": "av1"}
_FLV_AUDIO = {
    2: "mp3",
    14: "mp3",
    10: "aac",
    11: "speex",
    7: "pcm_alaw",
    8: "pcm_mulaw",
}
_FLV_AUDIO_FOURCC = {b"Opus": "opus", b"mp4a": "aac", b"ac-3": "ac3", b"ec-3": "eac3"}
_FLV_RATES = (5512, 11025, 22050, 44100)


def video(codec: str, nal: bytes | None = None) -> MediaStream:
    """A video stream, its size read from `nal` (an SPS of `codec`) when given."""
    size = None
    if nal is not None:
        size = h264_size(nal) if codec == "h264" else hevc_size(nal)
    width, height = size if size else (None, None)
    return MediaStream(kind="video", codec=codec, width=width, height=height)


def audio(codec: str, params: tuple[int, int] | None = None) -> MediaStream:
    """An audio stream with its `(sample rate, channels)` when known."""
    rate, channels = params if params else (None, None)
    return MediaStream(kind="audio", codec=codec, sample_rate=rate, channels=channels)


def _sps_in(annexb: bytes, codec: str) -> bytes | None:
    for nal in split_annexb(annexb):
        if (codec == "h264" and nal[0] & 0x1F == 7) or (
            codec == "hevc" and (nal[0] >> 1) & 0x3F == 33
        ):
            return nal
    return None


# --- MPEG-TS ------------------------------------------------------------------------


def ts_streams(data: bytes) -> list[MediaStream] | None:
    """The streams an MPEG-TS segment declares (PAT, PMT) and starts (first PES);
    None unless the bytes hold the tables and some stream's data."""
    if len(data) < _TS_PACKET or data[0] != _TS_SYNC:
        return None
    pmt_pid: int | None = None
    started = False  # any stream's data seen: the segment holds media
    kinds: dict[int, tuple[str, str]] = {}
    heads: dict[int, bytearray] = {}
    pending: set[int] = set()
    for pid, start, payload in _ts_packets(data):
        if pid == 0 and start and pmt_pid is None:
            pmt_pid = _pat_first_pmt(payload)
        elif pid == pmt_pid and start and not kinds:
            kinds = _pmt_streams(payload)
            heads = {p: bytearray() for p in kinds}
            pending = set(kinds)
        elif pid in pending:
            head = heads[pid]
            started = True
            if start and head:  # the next PES: the first one is complete
                pending.discard(pid)
            elif start or head:
                head += _pes_payload(payload) if start else payload
                if kinds[pid][0] == "audio" or len(head) >= _PES_HEAD:
                    pending.discard(pid)
            if not pending:
                break
    if not kinds or not started:
        return None
    return [
        _ts_stream(k, codec, bytes(heads[pid])) for pid, (k, codec) in kinds.items()
    ]


def _ts_stream(kind: str, codec: str, head: bytes) -> MediaStream:
    if kind == "video":
        return video(codec, _sps_in(head, codec))
    if codec == "aac":
        return audio(codec, adts_config(head))
    if codec == "mp3":
        found = mpeg_audio_header(head)
        if found is not None:
            return audio(found[0], found[1:])
    if codec in ("ac3", "eac3"):
        return audio(codec, ac3_config(head))
    return audio(codec)


def _ts_packets(data: bytes) -> Iterator[tuple[int, bool, bytes]]:
    for at in range(0, len(data) - _TS_PACKET + 1, _TS_PACKET):
        packet = data[at : at + _TS_PACKET]
        if packet[0] != _TS_SYNC:
            return
        pid = ((packet[1] & 0x1F) << 8) | packet[2]
        control = (packet[3] >> 4) & 3
        if not control & 1:
            continue  # adaptation field only
        offset = 4 + (1 + packet[4] if control & 2 else 0)
        yield pid, bool(packet[1] & 0x40), packet[offset:]


def _section(payload: bytes) -> bytes:
    body = payload[1 + payload[0] :]  # pointer field
    length = ((body[1] & 0x0F) << 8) | body[2] if len(body) >= 3 else 0
    return body[: 3 + length - 4]  # without the CRC


def _pat_first_pmt(payload: bytes) -> int | None:
    section = _section(payload)
    for at in range(8, len(section) - 3, 4):
        program = (section[at] << 8) | section[at + 1]
        if program:  # 0 is the network PID
            return ((section[at + 2] & 0x1F) << 8) | section[at + 3]
    return None


def _pmt_streams(payload: bytes) -> dict[int, tuple[str, str]]:
    section = _section(payload)
    if len(section) < 12:
        return {}
    at = 12 + (((section[10] & 0x0F) << 8) | section[11])
    streams: dict[int, tuple[str, str]] = {}
    while at + 5 <= len(section):
        stream_type = section[at]
        pid = ((section[at + 1] & 0x1F) << 8) | section[at + 2]
        info_length = ((section[at + 3] & 0x0F) << 8) | section[at + 4]
        info = section[at + 5 : at + 5 + info_length]
        known = _TS_TYPES.get(stream_type)
        if stream_type == 0x06:
            codec = _private_codec(info)
            known = ("audio", codec) if codec else None
        if known is not None:
            streams[pid] = known
        at += 5 + info_length
    return streams


def _private_codec(descriptors: bytes) -> str | None:
    at = 0
    while at + 2 <= len(descriptors):
        tag, length = descriptors[at], descriptors[at + 1]
        body = descriptors[at + 2 : at + 2 + length]
        found = _TS_PRIVATE.get(body[:4] if tag == 0x05 else tag)
        if found:
            return found
        at += 2 + length
    return None


def _pes_payload(payload: bytes) -> bytes:
    if payload[:3] != b"\x00\x00\x01" or len(payload) < 9:
        return b""
    return payload[9 + payload[8] :]


# --- fragmented MP4 -----------------------------------------------------------------


def mp4_streams(init: bytes) -> list[MediaStream] | None:
    """The streams an fMP4 initialisation section describes (one per track)."""
    streams = []
    for trak in _boxes_named(init, b"trak"):
        entry = next(_boxes_named(trak, b"stsd"), None)
        if entry is None or len(entry) < 16:
            continue
        kind, body = entry[12:16], entry[16:]  # after version, count and entry size
        if kind in _MP4_VIDEO and len(body) >= 28:
            width, height = struct.unpack_from(">HH", body, 24)
            codec = _MP4_VIDEO[kind]
            streams.append(
                MediaStream(kind="video", codec=codec, width=width, height=height)
            )
        elif kind in _MP4_AUDIO and len(body) >= 28:
            channels = struct.unpack_from(">H", body, 16)[0]
            rate = struct.unpack_from(">I", body, 24)[0] >> 16
            codec = _MP4_AUDIO[kind]
            if kind == b"mp4a":
                codec, config = _esds(body[28:])
                if config is not None:
                    rate, channels = config[0], config[1] or channels
            streams.append(audio(codec, (rate, channels)))
    return streams or None


def mp4_init(head: bytes) -> bytes | None:
    """The initialisation section at the head of a fragmented MP4 file: the boxes
    before its first fragment (`moof`); None when no `moov` and `moof` follow."""
    names = []
    for name, at, _, _ in _box_spans(head):
        if name == b"moof":
            return head[:at] if b"moov" in names else None
        names.append(name)
    return None


def _box_spans(data: bytes) -> Iterator[tuple[bytes, int, int, int]]:
    """Name, start, header size and size of each box (the last may be cut off)."""
    at = 0
    while at + 8 <= len(data):
        size, name = struct.unpack_from(">I4s", data, at)
        header = 8
        if size == 1 and at + 16 <= len(data):
            size, header = struct.unpack_from(">Q", data, at + 8)[0], 16
        elif size == 0:
            size = len(data) - at
        if size < header:
            return
        yield name, at, header, size
        at += size


def _boxes(data: bytes) -> Iterator[tuple[bytes, bytes]]:
    for name, at, header, size in _box_spans(data):
        yield name, data[at + header : at + size]


def _boxes_named(data: bytes, wanted: bytes) -> Iterator[bytes]:
    for name, body in _boxes(data):
        if name == wanted:
            yield body
        elif name in _MP4_CONTAINERS:
            yield from _boxes_named(body, wanted)


def _esds(boxes: bytes) -> tuple[str, tuple[int, int] | None]:
    """The codec (`aac`, `mp3`) and AudioSpecificConfig values of an `mp4a` entry."""
    esds = next((b for n, b in _boxes(boxes) if n == b"esds"), None)
    if esds is None:
        return "aac", None
    codec, config = "aac", None
    for tag, body in _descriptors(esds[4:]):  # after version and flags
        if tag == 4 and body:  # DecoderConfigDescriptor: objectTypeIndication
            codec = "mp3" if body[0] in (0x69, 0x6B) else "aac"
        elif tag == 5 and codec == "aac":  # DecoderSpecificInfo
            config = aac_config(body)
    return codec, config


def _descriptors(data: bytes) -> Iterator[tuple[int, bytes]]:
    """MPEG-4 descriptors (ISO/IEC 14496-1 7.2.6), with those nested in ES and
    DecoderConfig descriptors after their fixed fields."""
    at = 0
    while at + 2 <= len(data):
        tag, at, length = data[at], at + 1, 0
        for _ in range(4):  # the size: 7 bits a byte, high bit = more
            byte = data[at] if at < len(data) else 0
            at += 1
            length = (length << 7) | (byte & 0x7F)
            if not byte & 0x80:
                break
        body, at = data[at : at + length], at + length
        if tag == 3 and len(body) >= 3:  # ES_ID, flags, optional fields
            flags, skip = body[2], 3
            skip += 2 if flags & 0x80 else 0
            if flags & 0x40 and skip < len(body):
                skip += 1 + body[skip]
            skip += 2 if flags & 0x20 else 0
            yield from _descriptors(body[skip:])
        elif tag == 4:
            yield tag, body
            yield from _descriptors(body[13:])
        else:
            yield tag, body


# --- FLV ----------------------------------------------------------------------------


def flv_video(tag_data: bytes) -> MediaStream | None:
    """The video stream a video tag (a sequence header, best) tells of."""
    if not tag_data:
        return None
    if tag_data[0] & 0x80:  # enhanced RTMP: FourCC after the packet type
        codec = _FLV_VIDEO_FOURCC.get(tag_data[1:5])
        config = tag_data[5:] if tag_data[0] & 0x0F == 0 else b""
    else:
        codec = _FLV_VIDEO.get(tag_data[0] & 0x0F)
        config = tag_data[5:] if len(tag_data) > 1 and tag_data[1] == 0 else b""
    if codec is None:
        return None
    if codec == "h264" and len(config) > 8:
        length = struct.unpack_from(">H", config, 6)[0]
        return video(codec, config[8 : 8 + length])
    if codec == "hevc" and len(config) > 23:
        return video(codec, _hvcc_sps(config))
    return video(codec)


def _hvcc_sps(config: bytes) -> bytes | None:
    at = 23
    for _ in range(config[22]):
        if at + 3 > len(config):
            return None
        nal_type, count = config[at] & 0x3F, struct.unpack_from(">H", config, at + 1)[0]
        at += 3
        for _ in range(count):
            length = struct.unpack_from(">H", config, at)[0]
            if nal_type == 33:
                return config[at + 2 : at + 2 + length]
            at += 2 + length
    return None


def flv_audio(tag_data: bytes) -> MediaStream | None:
    """The audio stream an audio tag (a sequence header, best) tells of."""
    if not tag_data:
        return None
    sound_format = tag_data[0] >> 4
    if sound_format == 9:  # enhanced audio: FourCC after the packet type
        codec = _FLV_AUDIO_FOURCC.get(tag_data[1:5])
        return audio(codec) if codec else None
    codec = _FLV_AUDIO.get(sound_format)
    if codec is None:
        return None
    if codec == "aac":
        return audio(
            codec, aac_config(tag_data[2:]) if tag_data[1:2] == b"\x00" else None
        )
    rate = 8000 if sound_format in (7, 8, 14) else _FLV_RATES[(tag_data[0] >> 2) & 3]
    return audio(codec, (rate, 2 if tag_data[0] & 1 else 1))
