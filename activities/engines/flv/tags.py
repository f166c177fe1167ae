"""FLV container primitives: the file header, tags, and an incremental parser.

The layout (Adobe FLV spec, annex E):

    header   "FLV" | version u8 | flags u8 (4 = audio, 1 = video) | header size u32
    u32      PreviousTagSize0 (always 0)
    tag      type u8 | data size u24 | timestamp u24 | timestamp ext u8 | stream id u24
             | data | PreviousTagSize u32 (11 + data size)

`FlvParser` accepts the stream in chunks of any size (a tag may be split across
network reads) and keeps at most one incomplete tag buffered. It knows nothing about
files or HTTP: the repair stage (`repair`) sits between it and the writer.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

FLV_SIGNATURE = b"FLV"
FLV_HEADER_SIZE = 9
TAG_HEADER_SIZE = 11
PREVIOUS_TAG_SIZE = 4

TAG_AUDIO = 8
TAG_VIDEO = 9
TAG_SCRIPT = 18

VIDEO_FRAME_KEY = 1
VIDEO_CODEC_AVC = 7
# Not in Adobe's spec: the id Chinese CDNs (and ffmpeg forks) use for H.265 in FLV.
VIDEO_CODEC_HEVC = 12
AVC_PACKET_SEQUENCE_HEADER = 0
AVC_PACKET_END_OF_SEQUENCE = 2
# Enhanced RTMP (v1): bit 7 of the first video byte flags an extended header whose
# low nibble is the packet type.
_VIDEO_EX_HEADER = 0x80
EX_PACKET_SEQUENCE_START = 0
EX_PACKET_SEQUENCE_END = 2
SOUND_FORMAT_AAC = 10
AAC_PACKET_SEQUENCE_HEADER = 0

_FLAG_AUDIO = 0x04
_FLAG_VIDEO = 0x01
# A TCP read is rarely this big; compacting the buffer only after this many
# consumed bytes keeps parsing linear without copying on every tag.
_COMPACT_THRESHOLD = 1 << 16
_SCRIPT_ON_METADATA = b"\x02\x00\x0aonMetaData"
# The tag header as type-and-size u32 | timestamp-and-extension u32 | stream id
# split u16 + u8, and the trailing PreviousTagSize.
_TAG_HEADER = struct.Struct(">IIHB")
_PREVIOUS_TAG_SIZE = struct.Struct(">I")


class FlvFormatError(ValueError):
    """The bytes are not a well-formed FLV stream."""


@dataclass(frozen=True)
class FlvHeader:
    """The 9-byte FLV file header.

    Attributes:
        has_audio: the audio flag (advisory: streams often lie).
        has_video: the video flag (advisory).
        version: the FLV version byte, 1 in practice.
    """

    has_audio: bool
    has_video: bool
    version: int = 1

    def encode(self) -> bytes:
        """Return the header followed by PreviousTagSize0."""
        flags = (_FLAG_AUDIO if self.has_audio else 0) | (
            _FLAG_VIDEO if self.has_video else 0
        )
        return (
            FLV_SIGNATURE
            + struct.pack(">BBI", self.version, flags, FLV_HEADER_SIZE)
            + b"\x00\x00\x00\x00"
        )


@dataclass(frozen=True)
class FlvTag:
    """One FLV tag.

    Attributes:
        tag_type: 8 audio, 9 video, 18 script data.
        timestamp: milliseconds, with the extension byte applied (32 bits).
        data: the tag body (without header and PreviousTagSize).
        stream_id: always 0 in conforming files.
    """

    tag_type: int
    timestamp: int
    data: bytes
    stream_id: int = 0

    @property
    def is_video(self) -> bool:
        """Whether this is a video tag."""
        return self.tag_type == TAG_VIDEO

    @property
    def is_audio(self) -> bool:
        """Whether this is an audio tag."""
        return self.tag_type == TAG_AUDIO

    @property
    def is_script(self) -> bool:
        """Whether this is a script-data tag."""
        return self.tag_type == TAG_SCRIPT

    @property
    def frame_type(self) -> int:
        """The video frame type (1 key, 2 inter, 5 command…); 0 for other tags."""
        if not self.is_video or not self.data:
            return 0
        return (self.data[0] >> 4) & 0x07

    @property
    def is_keyframe(self) -> bool:
        """Whether this is a video tag whose frame type is 1 (key frame)."""
        return self.frame_type == VIDEO_FRAME_KEY

    def _video_packet_type(self) -> int | None:
        # Legacy AVC/HEVC tags carry the packet type in byte 1, enhanced RTMP tags
        # in the low nibble of byte 0; other codecs (VP6, Sorenson) have none.
        data = self.data
        if not self.is_video or len(data) < 2:
            return None
        if data[0] & _VIDEO_EX_HEADER:
            return data[0] & 0x0F
        if data[0] & 0x0F in (VIDEO_CODEC_AVC, VIDEO_CODEC_HEVC):
            return data[1]
        return None

    @property
    def is_avc_sequence_header(self) -> bool:
        """Whether this is an AVC decoder configuration record (AVCPacketType 0)."""
        return (
            self.is_video
            and len(self.data) >= 2
            and self.data[0] & 0x0F == VIDEO_CODEC_AVC
            and self.data[1] == AVC_PACKET_SEQUENCE_HEADER
        )

    @property
    def is_video_sequence_header(self) -> bool:
        """Whether this is a video decoder configuration (AVC, HEVC or enhanced)."""
        return self._video_packet_type() == AVC_PACKET_SEQUENCE_HEADER

    @property
    def is_end_of_sequence(self) -> bool:
        """Whether this is a video end-of-sequence tag (the encoder stopped)."""
        packet = self._video_packet_type()
        if packet is None:
            return False
        if self.data[0] & _VIDEO_EX_HEADER:
            return packet == EX_PACKET_SEQUENCE_END
        return packet == AVC_PACKET_END_OF_SEQUENCE

    @property
    def is_aac_sequence_header(self) -> bool:
        """Whether this is an AAC AudioSpecificConfig (AACPacketType 0)."""
        return (
            self.is_audio
            and len(self.data) >= 2
            and self.data[0] >> 4 == SOUND_FORMAT_AAC
            and self.data[1] == AAC_PACKET_SEQUENCE_HEADER
        )

    @property
    def is_sequence_header(self) -> bool:
        """Whether this is a video or AAC sequence header."""
        return self.is_video_sequence_header or self.is_aac_sequence_header

    @property
    def is_media(self) -> bool:
        """Whether this is an audio or video frame (not a header, not an end tag)."""
        # Asked of every tag: the video packet type is looked up once.
        if self.tag_type == TAG_AUDIO:
            return not self.is_aac_sequence_header
        if self.tag_type != TAG_VIDEO:
            return False
        packet = self._video_packet_type()
        if packet is None:
            return True
        end = (
            EX_PACKET_SEQUENCE_END
            if self.data[0] & _VIDEO_EX_HEADER
            else AVC_PACKET_END_OF_SEQUENCE
        )
        return packet not in (AVC_PACKET_SEQUENCE_HEADER, end)

    @property
    def is_metadata(self) -> bool:
        """Whether this is an `onMetaData` script tag."""
        return self.is_script and self.data.startswith(_SCRIPT_ON_METADATA)

    @property
    def encoded_size(self) -> int:
        """Bytes this tag takes in a file, PreviousTagSize included."""
        return TAG_HEADER_SIZE + len(self.data) + PREVIOUS_TAG_SIZE

    def encode(self, timestamp: int | None = None) -> bytes:
        """Serialise the tag with its trailing PreviousTagSize.

        Args:
            timestamp: the timestamp to write instead of `self.timestamp`.

        Returns:
            Header, data and PreviousTagSize, ready to append to a file.
        """
        return b"".join(self.encoded_parts(timestamp))

    def encoded_parts(self, timestamp: int | None = None) -> tuple[bytes, bytes, bytes]:
        """`encode` in three parts (header, data, PreviousTagSize), not joined.

        A writer joins the parts of many tags at once, copying each body once.
        """
        ts = self.timestamp if timestamp is None else timestamp
        ts &= 0xFFFFFFFF
        size = len(self.data)
        header = _TAG_HEADER.pack(
            (self.tag_type << 24) | size,
            ((ts & 0x00FFFFFF) << 8) | (ts >> 24),
            self.stream_id >> 8,
            self.stream_id & 0xFF,
        )
        return header, self.data, _PREVIOUS_TAG_SIZE.pack(TAG_HEADER_SIZE + size)


class FlvParser:
    """Incremental FLV parser: feed chunks, get the header once, then tags.

    Example:
        parser = FlvParser()
        for chunk in chunks:
            for item in parser.feed(chunk):
                ...  # an FlvHeader first, then FlvTag objects
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self._pos = 0
        self._header: FlvHeader | None = None
        self.bytes_consumed = 0

    @property
    def header(self) -> FlvHeader | None:
        """The file header, once it has been parsed."""
        return self._header

    @property
    def pending(self) -> int:
        """Bytes buffered that do not yet form a complete tag."""
        return len(self._buf) - self._pos

    def feed(self, chunk: bytes) -> list[FlvHeader | FlvTag]:
        """Add bytes and return every header or tag they complete.

        Args:
            chunk: the next bytes of the stream (any length, even empty).

        Returns:
            The items completed by this chunk, in stream order.

        Raises:
            FlvFormatError: the stream does not start with an FLV header.
        """
        self._buf += chunk
        items: list[FlvHeader | FlvTag] = []
        if self._header is None:
            header = self._parse_header()
            if header is None:
                return items
            items.append(header)
        # The view must be released before the buffer is compacted.
        with memoryview(self._buf) as view:
            while (tag := self._parse_tag(view)) is not None:
                items.append(tag)
        if self._pos >= _COMPACT_THRESHOLD or self._pos == len(self._buf):
            del self._buf[: self._pos]
            self._pos = 0
        return items

    def _parse_header(self) -> FlvHeader | None:
        buf = self._buf
        if not FLV_SIGNATURE.startswith(bytes(buf[: len(FLV_SIGNATURE)])):
            raise FlvFormatError(f"not an FLV stream: starts with {bytes(buf[:16])!r}")
        if len(buf) < FLV_HEADER_SIZE:
            return None
        version, flags, header_size = struct.unpack_from(">BBI", buf, 3)
        if header_size < FLV_HEADER_SIZE:
            raise FlvFormatError(f"bad FLV header size {header_size}")
        if len(buf) < header_size + PREVIOUS_TAG_SIZE:
            return None
        self._pos = header_size + PREVIOUS_TAG_SIZE
        self.bytes_consumed = self._pos
        self._header = FlvHeader(
            has_audio=bool(flags & _FLAG_AUDIO),
            has_video=bool(flags & _FLAG_VIDEO),
            version=version,
        )
        return self._header

    def _parse_tag(self, view: memoryview) -> FlvTag | None:
        pos = self._pos
        if len(view) - pos < TAG_HEADER_SIZE:
            return None
        kind_size, stamp, id_high, id_low = _TAG_HEADER.unpack_from(view, pos)
        # The top bits carry the (unsupported) encryption filter flag.
        tag_type = (kind_size >> 24) & 0x1F
        size = kind_size & 0xFFFFFF
        total = TAG_HEADER_SIZE + size + PREVIOUS_TAG_SIZE
        if len(view) - pos < total:
            return None
        ts = (stamp >> 8) | ((stamp & 0xFF) << 24)
        stream_id = (id_high << 8) | id_low
        start = pos + TAG_HEADER_SIZE
        data = view[start : start + size].tobytes()
        self._pos = pos + total
        self.bytes_consumed += total
        return FlvTag(tag_type=tag_type, timestamp=ts, data=data, stream_id=stream_id)
