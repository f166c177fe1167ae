"""The streams of a Matroska file from its head: the `Tracks` element ffmpeg writes
before the first `Cluster` (Matroska specification, RFC 9559).

EBML elements are an ID (1-4 bytes, the marker bits kept), a size (1-8 bytes, the
marker bit dropped; all ones = unknown, as for a live file's Segment and Cluster)
and the body. Codec IDs map to ffmpeg's codec names; the picture size, sampling
frequency and channel count are read where the track states them (an AAC track's
AudioSpecificConfig wins for its sample rate, as in ffmpeg).
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from activities.contracts import MediaStream
from activities.engines.bitstream import aac_config

if TYPE_CHECKING:
    from collections.abc import Iterator

_EBML, _SEGMENT, _TRACKS, _CLUSTER = 0x1A45DFA3, 0x18538067, 0x1654AE6B, 0x1F43B675
_TRACK_ENTRY, _TRACK_TYPE, _CODEC_ID, _CODEC_PRIVATE = 0xAE, 0x83, 0x86, 0x63A2
_VIDEO, _WIDTH, _HEIGHT = 0xE0, 0xB0, 0xBA
_AUDIO, _FREQUENCY, _CHANNELS = 0xE1, 0xB5, 0x9F
_CODECS = {
    "V_MPEG4/ISO/AVC": "h264",
    "V_MPEGH/ISO/HEVC": "hevc",
    "V_AV1": "av1",
    "V_VP9": "vp9",
    "A_AAC": "aac",
    "A_MPEG/L3": "mp3",
    "A_AC3": "ac3",
    "A_EAC3": "eac3",
    "A_OPUS": "opus",
    "A_FLAC": "flac",
}
_UNKNOWN_SIZE = -1


def matroska_streams(head: bytes) -> list[MediaStream] | None:
    """The audio and video tracks of a Matroska file whose head holds its `Tracks`
    and the start of a `Cluster` (media); None otherwise."""
    elements = _elements(head, 0, len(head))
    first = next(elements, None)
    if first is None or first[0] != _EBML:
        return None
    streams: list[MediaStream] | None = None
    for element, start, end in elements:
        if element != _SEGMENT:
            continue
        for child, body, child_end in _elements(head, start, end):
            if child == _TRACKS:
                streams = [
                    s
                    for entry, at, stop in _elements(head, body, child_end)
                    if entry == _TRACK_ENTRY and (s := _track(head, at, stop))
                ]
            elif child == _CLUSTER:
                return streams or None
    return None


def _elements(data: bytes, at: int, end: int) -> Iterator[tuple[int, int, int]]:
    """(ID, body start, body end) of each element in `data[at:end]`."""
    end = min(end, len(data))
    while at < end:
        element, at = _vint(data, at, keep_marker=True)
        size, at = _vint(data, at, keep_marker=False)
        if element < 0 or size < _UNKNOWN_SIZE:
            return
        stop = end if size == _UNKNOWN_SIZE else min(end, at + size)
        yield element, at, stop
        at = stop


def _vint(data: bytes, at: int, *, keep_marker: bool) -> tuple[int, int]:
    if at >= len(data) or data[at] == 0:
        return -2, len(data)
    length = 9 - data[at].bit_length()
    raw = data[at : at + length]
    if len(raw) < length:
        return -2, len(data)
    value = int.from_bytes(raw, "big")
    if keep_marker:
        return value, at + length
    value &= (1 << (7 * length)) - 1
    return (_UNKNOWN_SIZE if value == (1 << (7 * length)) - 1 else value), at + length


def _children(data: bytes) -> dict[int, bytes]:
    return {e: data[s:t] for e, s, t in _elements(data, 0, len(data))}


def _uint(data: bytes | None) -> int:
    return int.from_bytes(data or b"", "big")


def _track(data: bytes, at: int, end: int) -> MediaStream | None:
    fields = _children(data[at:end])
    name = fields.get(_CODEC_ID, b"").rstrip(b"\0").decode("ascii", "replace")
    codec, kind = _CODECS.get(name), _uint(fields.get(_TRACK_TYPE))
    if codec is None or kind not in (1, 2):
        return None
    if kind == 1:
        video = _children(fields.get(_VIDEO, b""))
        width, height = _uint(video.get(_WIDTH)), _uint(video.get(_HEIGHT))
        return MediaStream(
            kind="video", codec=codec, width=width or None, height=height or None
        )
    audio = _children(fields.get(_AUDIO, b""))
    frequency = audio.get(_FREQUENCY, b"")
    rate = None
    if len(frequency) in (4, 8):
        rate = round(struct.unpack(">f" if len(frequency) == 4 else ">d", frequency)[0])
    channels = _uint(audio.get(_CHANNELS)) or None
    if codec == "aac" and (config := aac_config(fields.get(_CODEC_PRIVATE, b""))):
        rate, channels = config[0], config[1] or channels
    return MediaStream(
        kind="audio", codec=codec, sample_rate=rate or None, channels=channels
    )
