"""onMetaData: read it, synthesise it when missing, and rewrite it when a file closes.

Players learn a file's duration and seek points from the onMetaData script tag at
its start, but a live recorder only knows them at the end. The writer therefore
reserves room for them: the script tag it writes first already holds `duration`,
`filesize` (both AMF0 Numbers, always 9 bytes) and a `keyframes` object whose size
never changes, so the final values are written over the first ones *in place*,
without moving a byte of media.

The keyframes object (the convention of yamdi, read by ffmpeg and most players)::

    keyframes: {times: [seconds…], filepositions: [byte offset of the tag…],
                spacer: [NaN…]}

`spacer` pads the object to a fixed number of slots: each entry added to `times`
and `filepositions` removes two from `spacer`. When the slots run out the index
keeps every other entry and doubles its spacing, so a long file stays seekable end
to end, with coarser steps.

Rewrites are cheap: `duration`, `filesize` and `keyframes` are always the last
entries of the array, so the writer encodes the rest once per file and, on each
update, only `metadata_tail` (two numbers, plus the keyframes object when it
changed, which `KeyframeIndex` keeps encoded as it grows).
"""

from __future__ import annotations

import math
import struct
from typing import TYPE_CHECKING

from activities.engines.flv.amf import (
    NUMBER,
    OBJECT,
    OBJECT_END,
    STRICT_ARRAY,
    AmfEcmaArray,
    AmfError,
    AmfObject,
    AmfValue,
    decode_all,
    encode_all,
)
from activities.engines.flv.tags import SOUND_FORMAT_AAC

if TYPE_CHECKING:
    from activities.engines.flv.tags import FlvTag

ON_METADATA = "onMetaData"
DEFAULT_KEYFRAME_SLOTS = 2048
# The first spacing between indexed keyframes; doubled each time the slots fill.
KEYFRAME_MIN_INTERVAL_MS = 1000
# Keys the writer owns: stale upstream values would lie about this file.
_MANAGED_KEYS = frozenset(
    {
        "duration",
        "filesize",
        "datasize",
        "keyframes",
        "lasttimestamp",
        "lastkeyframetimestamp",
        "lastkeyframelocation",
        "haskeyframes",
    }
)
_NUMBER = struct.Struct(">Bd")
_ARRAY_HEAD = struct.Struct(">BI")
_NAN_NUMBER = _NUMBER.pack(NUMBER, math.nan)
_END_OF_OBJECT = bytes((0, 0, OBJECT_END))


def _key(name: str) -> bytes:
    raw = name.encode()
    return len(raw).to_bytes(2, "big") + raw


_KEY_TIMES = _key("times")
_KEY_POSITIONS = _key("filepositions")
_KEY_SPACER = _key("spacer")
_KEY_DURATION = _key("duration")
_KEY_FILESIZE = _key("filesize")
_KEY_KEYFRAMES = _key("keyframes")
_AAC_SAMPLE_RATES = (
    96000,
    88200,
    64000,
    48000,
    44100,
    32000,
    24000,
    22050,
    16000,
    12000,
    11025,
    8000,
    7350,
)


def parse_metadata(tag: FlvTag) -> AmfEcmaArray | None:
    """Return the properties of an onMetaData tag, or None if it carries none.

    Args:
        tag: a script tag.

    Returns:
        The properties (an Object is accepted as well as an ECMA array); None when
        the tag is not onMetaData, its value is null or not a map, or the AMF0 is
        corrupt.
    """
    try:
        values = decode_all(tag.data)
    except AmfError:
        return None
    if len(values) < 2 or values[0] != ON_METADATA:
        return None
    value = values[1]
    if not isinstance(value, dict):
        return None
    return AmfEcmaArray(value)


def synthesise_metadata(
    video_header: FlvTag | None, audio_header: FlvTag | None
) -> AmfEcmaArray:
    """Build onMetaData for a stream that sent none, from its sequence headers.

    Args:
        video_header: the video sequence header, if any.
        audio_header: the audio sequence header, if any.

    Returns:
        Codec ids and, for AAC, sample rate and channels; the writer adds duration,
        file size and keyframes.
    """
    meta = AmfEcmaArray()
    if video_header is not None and video_header.data:
        meta["videocodecid"] = float(video_header.data[0] & 0x0F)
    if audio_header is not None and len(audio_header.data) >= 4:
        data = audio_header.data
        meta["audiocodecid"] = float(data[0] >> 4)
        if data[0] >> 4 == SOUND_FORMAT_AAC:
            # AudioSpecificConfig: object type (5 bits), rate index (4), channels (4)
            config = int.from_bytes(data[2:4], "big")
            rate_index = (config >> 7) & 0x0F
            channels = (config >> 3) & 0x0F
            if rate_index < len(_AAC_SAMPLE_RATES):
                meta["audiosamplerate"] = float(_AAC_SAMPLE_RATES[rate_index])
            if channels:
                meta["audiochannels"] = float(channels)
                meta["stereo"] = channels == 2
    return meta


class KeyframeIndex:
    """Seek points of one file, in a fixed number of slots.

    Args:
        slots: how many keyframes the index can hold (each takes 18 bytes of the
            script tag, used or not).
    """

    def __init__(self, slots: int = DEFAULT_KEYFRAME_SLOTS) -> None:
        self.slots = max(2, slots)
        self._interval = KEYFRAME_MIN_INTERVAL_MS
        self.times_ms: list[int] = []
        self.positions: list[int] = []
        # Bumped on every change, so a writer can skip an unchanged index.
        self.version = 0
        # The AMF0 Numbers of `times` and `filepositions`, appended as they grow.
        self._times_amf = bytearray()
        self._positions_amf = bytearray()

    def add(self, time_ms: int, position: int) -> None:
        """Record a keyframe unless one was recorded less than the spacing ago.

        Args:
            time_ms: the keyframe's timestamp in the file.
            position: byte offset of the keyframe's tag header in the file.
        """
        if self.times_ms and time_ms - self.times_ms[-1] < self._interval:
            return
        if len(self.times_ms) == self.slots:
            self.times_ms = self.times_ms[::2]
            self.positions = self.positions[::2]
            self._interval *= 2
            self._reencode()
            if time_ms - self.times_ms[-1] < self._interval:
                return
        self.times_ms.append(time_ms)
        self.positions.append(position)
        self._times_amf += _NUMBER.pack(NUMBER, time_ms / 1000)
        self._positions_amf += _NUMBER.pack(NUMBER, float(position))
        self.version += 1

    def _reencode(self) -> None:
        self._times_amf = bytearray(
            b"".join(_NUMBER.pack(NUMBER, t / 1000) for t in self.times_ms)
        )
        self._positions_amf = bytearray(
            b"".join(_NUMBER.pack(NUMBER, float(p)) for p in self.positions)
        )
        self.version += 1

    def encode(self) -> bytes:
        """The AMF0 encoding of `to_amf()`, from the entries kept encoded."""
        count = len(self.times_ms)
        spare = 2 * (self.slots - count)
        return b"".join(
            (
                bytes((OBJECT,)),
                _KEY_TIMES,
                _ARRAY_HEAD.pack(STRICT_ARRAY, count),
                self._times_amf,
                _KEY_POSITIONS,
                _ARRAY_HEAD.pack(STRICT_ARRAY, count),
                self._positions_amf,
                _KEY_SPACER,
                _ARRAY_HEAD.pack(STRICT_ARRAY, spare),
                _NAN_NUMBER * spare,
                _END_OF_OBJECT,
            )
        )

    def to_amf(self) -> AmfObject:
        """The `keyframes` object, padded to the same size whatever its fill."""
        return AmfObject(
            times=[t / 1000 for t in self.times_ms],
            filepositions=[float(p) for p in self.positions],
            spacer=[math.nan] * (2 * (self.slots - len(self.times_ms))),
        )


def metadata_body(
    properties: AmfEcmaArray,
    *,
    duration_ms: int,
    file_size: int,
    index: KeyframeIndex | None,
) -> bytes:
    """Encode the onMetaData script tag body for a file.

    The body's size depends only on `properties` and the index's slot count, never
    on the values of duration, size or keyframes: the writer relies on it to
    rewrite the tag in place. It ends with `metadata_tail` of the same values.

    Args:
        properties: the stream's metadata (managed keys are replaced).
        duration_ms: media duration of the file so far.
        file_size: size of the file so far, in bytes.
        index: the keyframe index, or None to write none.

    Returns:
        The AMF0 body: the string "onMetaData" and an ECMA array.
    """
    meta = AmfEcmaArray(
        (k, v) for k, v in properties.items() if k.lower() not in _MANAGED_KEYS
    )
    meta["duration"] = duration_ms / 1000
    meta["filesize"] = float(file_size)
    if index is not None:
        meta["keyframes"] = index.to_amf()
    values: list[AmfValue] = [ON_METADATA, meta]
    return encode_all(values)


def metadata_tail(
    *, duration_ms: int, file_size: int, index: KeyframeIndex | None
) -> bytes:
    """The end of `metadata_body`: what changes as a file grows.

    `duration`, `filesize`, `keyframes` and the array's end marker, byte for byte as
    `metadata_body` encodes them (its last entries), without encoding the rest.
    It starts with `metadata_numbers`.

    Args:
        duration_ms: media duration of the file so far.
        file_size: size of the file so far, in bytes.
        index: the keyframe index, or None when the body has none.

    Returns:
        The bytes to write over the end of the body.
    """
    parts = [metadata_numbers(duration_ms=duration_ms, file_size=file_size)]
    if index is not None:
        parts += (_KEY_KEYFRAMES, index.encode())
    parts.append(_END_OF_OBJECT)
    return b"".join(parts)


def metadata_numbers(*, duration_ms: int, file_size: int) -> bytes:
    """The start of `metadata_tail`: `duration` and `filesize`, keys included."""
    return b"".join(
        (
            _KEY_DURATION,
            _NUMBER.pack(NUMBER, duration_ms / 1000),
            _KEY_FILESIZE,
            _NUMBER.pack(NUMBER, float(file_size)),
        )
    )
