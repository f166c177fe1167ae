"""What a stream is and how a recording is shaped: transports, engines, containers,
stream selection, resolved sources and the recording policy."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field


class Priority(StrEnum):
    """Recording priority; high-priority streamers may use extra recording slots."""

    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"


class StreamKind(StrEnum):
    """Transport of a resolved stream, which picks the recording engine.

    `streamlink`: only streamlink can read it (DASH, a plugin's own stream type);
    the URL is the page URL and the streamlink engine records it.
    """

    HLS = "hls"
    FLV = "flv"
    STREAMLINK = "streamlink"


class EngineKind(StrEnum):
    """Which recorder writes the stream: in-process, or an external program."""

    NATIVE = "native"
    FFMPEG = "ffmpeg"
    STREAMLINK = "streamlink"


class Container(StrEnum):
    """Output container of the ffmpeg and streamlink engines (native keeps the source).

    `auto` keeps the transport's own: MPEG-TS for HLS, FLV for HTTP-FLV.
    """

    AUTO = "auto"
    TS = "ts"
    FLV = "flv"
    MKV = "mkv"
    MP4 = "mp4"


class StreamSelection(BaseModel):
    """Which variant to record when a platform or a master playlist offers several.

    Candidates outside the bitrate bounds or on a blacklisted CDN are dropped; the rest
    are ranked by preferred quality, then preferred CDN, then bitrate (highest first).
    When every candidate is dropped, the best of the unfiltered ones is used and the
    reason is logged: a recording in the wrong quality beats no recording.
    """

    qualities: list[str] = Field(
        default_factory=list,
        description="Preferred quality names in order (e.g. 1080p60, 720p, source); "
        "matched case-insensitively against the variant's name or resolution",
    )
    formats: list[StreamKind] = Field(
        default_factory=list, description="Preferred transports in order (flv, hls)"
    )
    cdns: list[str] = Field(
        default_factory=list,
        description="Preferred CDN names or host substrings, in order",
    )
    cdn_blacklist: list[str] = Field(
        default_factory=list, description="CDN names or host substrings never to use"
    )
    min_bitrate_bps: int = Field(default=0, ge=0, description="0 = no lower bound")
    max_bitrate_bps: int = Field(default=0, ge=0, description="0 = no upper bound")


class StreamSource(BaseModel):
    """A resolved, recordable stream: what an extractor hands to an engine.

    For HLS, `url` may be a master playlist: the engine picks a variant with
    `selection`. Signed URLs expire (`expires_at`); `channel_url`, `quality`, `cdn`
    and `codec` say what to resolve again (`activities.platforms.refresh`). Headers
    never carry credentials: cookies and tokens stay with the platform API calls.
    """

    url: str = Field(description="Media or master playlist (HLS) or stream (FLV) URL")
    kind: StreamKind = Field(description="Transport of the stream")
    headers: dict[str, str] = Field(
        default_factory=dict, description="HTTP headers to send (cookies included)"
    )
    proxy: str | None = Field(
        default=None, description="HTTP(S)/SOCKS proxy URL for this stream"
    )
    selection: StreamSelection = Field(default_factory=StreamSelection)
    expires_at: datetime | None = Field(
        default=None, description="When the signed URL stops working, if it does"
    )
    channel_url: str = Field(
        default="", description="Channel URL to resolve again when `url` expires"
    )
    quality: str = Field(default="", description="The platform's quality name")
    cdn: str = Field(default="", description="CDN or host group serving the stream")
    codec: str = Field(default="", description="Video codec (avc, hevc, av1)")


DEFAULT_FILENAME_TEMPLATE = "{streamer}/{streamer}-%Y%m%d-%H%M%S-{title}_%i"


# as streamlink's --stream-timeout: CDN stalls of seconds are recorded through
DEFAULT_STREAM_TIMEOUT_SECS = 60.0


class RecordingPolicy(BaseModel):
    """Settings that shape one streamer's recordings and its state machine."""

    poll_interval_secs: float = Field(
        default=30.0, description="Seconds between live checks while offline"
    )
    grace_secs: float = Field(
        default=60.0,
        description="A stream that returns within this window continues its session",
    )
    max_segment_duration_secs: float = Field(
        default=0.0, description="Close a segment after this much media; 0 = never"
    )
    max_segment_size_bytes: int = Field(
        default=8 * 1024**3, description="Close a segment at this size; 0 = never"
    )
    error_backoff_secs: float = Field(
        default=60.0, description="Wait after a failed detection before retrying"
    )
    min_segment_size_bytes: int = Field(
        default=0,
        ge=0,
        description="Delete a closed segment smaller than this (a blip); 0 = keep all",
    )
    engine: EngineKind = Field(
        default=EngineKind.NATIVE, description="Which recorder writes the stream"
    )
    container: Container = Field(
        default=Container.AUTO, description="Output container of ffmpeg/streamlink"
    )
    filename_template: str = Field(
        default=DEFAULT_FILENAME_TEMPLATE,
        description="Segment path under the recordings root, without extension. "
        "Placeholders: {streamer} {title} {platform} {streamer_id} {session_id}, "
        "strftime codes (%Y%m%d-%H%M%S) and %i (segment index)",
    )
    selection: StreamSelection = Field(default_factory=StreamSelection)
    stream_timeout_secs: float = Field(
        default=DEFAULT_STREAM_TIMEOUT_SECS,
        gt=0,
        description="The native engines end a recording after this long without "
        "new media (no HLS segment, no FLV bytes); stalls shorter than this are "
        "recorded through",
    )
    # --- danmu (issue 12); the configuration levels set them (issue 9)
    record_danmu: bool = Field(
        default=False,
        description="Record the room's chat beside the video, one XML file per segment",
    )
    end_stream_on_danmu_stream_closed: bool = Field(
        default=False,
        description="End the recording when the chat says the stream closed",
    )


class StreamInfo(BaseModel):
    """One stream a live channel offers; `activities.platforms` picks one to record."""

    url: str = Field(description="Playable URL (HLS playlist, FLV, or a page URL)")
    kind: StreamKind = Field(description="Transport, which picks the engine")
    quality: str = Field(default="", description="The platform's quality name")
    bitrate_bps: int = Field(default=0, ge=0, description="0 = unknown")
    codec: str = Field(default="", description="Video codec (avc, hevc, av1)")
    cdn: str = Field(default="", description="CDN or host group")
    container: str = Field(default="", description="flv, ts, fmp4, … when known")
    headers: dict[str, str] = Field(default_factory=dict, description="No credentials")
    expires_at: datetime | None = Field(default=None, description="Signed URL's end")


class MediaStream(BaseModel):
    """One audio or video stream of a recorded file; what could not be read is None."""

    kind: Literal["video", "audio"]
    codec: str = Field(description="ffmpeg's codec name: h264, hevc, aac, mp3, …")
    width: int | None = Field(default=None, description="video: picture width")
    height: int | None = Field(default=None, description="video: picture height")
    sample_rate: int | None = Field(default=None, description="audio: samples/s")
    channels: int | None = Field(default=None, description="audio: channel count")
