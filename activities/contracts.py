"""Names and models every layer shares: the bottom of the import graph.

Task-queue names, workflow ids, signal/query names, search attributes and the pydantic
models that cross a Temporal boundary (activity inputs and results, signal payloads).
This module imports only pydantic and the standard library, so `api`, `worker`,
`workflows` and `activities` can all depend on it.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field

WORKFLOW_TASK_QUEUE = "srec-workflows"
IO_TASK_QUEUE = "srec-io"
CPU_TASK_QUEUE = "srec-cpu"
TASK_QUEUES = (WORKFLOW_TASK_QUEUE, IO_TASK_QUEUE, CPU_TASK_QUEUE)

STREAMER_WORKFLOW_TYPE = "StreamerWorkflow"

# Signals people send from the CLI carry no payload; see StreamerWorkflow.
SIGNAL_PAUSE = "pause"
SIGNAL_RESUME = "resume"
SIGNAL_CHECK_NOW = "check_now"
SIGNAL_STOP = "stop"
SIGNAL_CONFIG_CHANGED = "config_changed"
SIGNAL_SEGMENT_CLOSED = "segment_closed"
SIGNAL_RECORDING_WAIT = "recording_wait"
QUERY_STATE = "state"

# Custom search attributes (all Keyword) the streamer workflow keeps current.
SEARCH_ATTRIBUTE_PLATFORM = "SrecPlatform"
SEARCH_ATTRIBUTE_STREAMER = "SrecStreamer"
SEARCH_ATTRIBUTE_STATE = "SrecState"
# the app database that owns the workflow (`StreamerWorkflowInput.instance_id`)
SEARCH_ATTRIBUTE_INSTANCE = "SrecInstance"
SEARCH_ATTRIBUTES = (
    SEARCH_ATTRIBUTE_PLATFORM,
    SEARCH_ATTRIBUTE_STREAMER,
    SEARCH_ATTRIBUTE_STATE,
    SEARCH_ATTRIBUTE_INSTANCE,
)

# ApplicationError type of an activity refused because its workflow belongs to
# another srec instance (another app database) sharing the Temporal server. It is
# retryable: Temporal redelivers the task, eventually to a worker of the owner.
ERROR_FOREIGN_INSTANCE = "ForeignInstance"


def streamer_workflow_id(streamer_id: int) -> str:
    """Return the id of the entity workflow that owns one streamer."""
    return f"streamer-{streamer_id}"


def streamer_id_from_workflow_id(workflow_id: str) -> int | None:
    """Invert `streamer_workflow_id`; None for ids that are not streamer workflows."""
    prefix, _, rest = workflow_id.partition("-")
    if prefix != "streamer" or not rest.isdigit():
        return None
    return int(rest)


class StreamerState(StrEnum):
    """What a streamer is doing, as shown in the API and the Temporal UI."""

    NOT_LIVE = "NOT_LIVE"
    LIVE = "LIVE"
    DISABLED = "DISABLED"


class WaitReason(StrEnum):
    """Why a live streamer is not recording yet: a guard holds it back."""

    RECORDING_SLOT = "recording_slot"
    OUTPUT_ROOT = "output_root"
    ENGINE_BREAKER = "engine_breaker"


# ApplicationError types of the recording guards. The record activity raises them
# non-retryable, with `next_retry_delay` set: the workflow owns the wait, so a
# `check_now` signal can cut it short (a server-side retry could not be woken).
ERROR_NO_RECORDING_SLOT = "NoRecordingSlot"
ERROR_ENGINE_CIRCUIT_OPEN = "EngineCircuitOpen"
ERROR_OUTPUT_PATH_INACCESSIBLE = "OutputPathInaccessible"
GUARD_ERRORS: dict[str, WaitReason] = {
    ERROR_NO_RECORDING_SLOT: WaitReason.RECORDING_SLOT,
    ERROR_ENGINE_CIRCUIT_OPEN: WaitReason.ENGINE_BREAKER,
    ERROR_OUTPUT_PATH_INACCESSIBLE: WaitReason.OUTPUT_ROOT,
}


# Kinds of rows in the `event` table that notification channels will deliver.
EVENT_OUTPUT_PATH_INACCESSIBLE = "output_path_inaccessible"
EVENT_OUTPUT_PATH_RECOVERED = "output_path_recovered"


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


class StreamerConfig(BaseModel):
    """Everything the streamer workflow needs to know about its streamer."""

    streamer_id: int
    name: str
    url: str
    platform: str
    priority: Priority = Priority.NORMAL
    enabled: bool = True
    policy: RecordingPolicy = Field(default_factory=RecordingPolicy)


# --- store activities -------------------------------------------------------------


class OwnedInput(BaseModel):
    """Input of an activity that reads or writes the owning instance's app database.

    The streamer workflow fills `instance_id` in; a worker whose database has another
    id refuses the task (`ERROR_FOREIGN_INSTANCE`) instead of touching its own rows.
    """

    instance_id: str | None = Field(
        default=None,
        description="Instance id of the app database that owns the workflow; None "
        "only from a workflow that has not adopted one yet (started before ids)",
    )


class LoadStreamerInput(OwnedInput):
    streamer_id: int


class LoadStreamerResult(BaseModel):
    config: StreamerConfig | None = Field(
        default=None, description="None when the streamer was deleted"
    )
    instance_id: str | None = Field(
        default=None,
        description="Instance id of the database read (a workflow without one "
        "adopts it)",
    )


class ProjectStateInput(OwnedInput):
    """The workflow's state, written to the DB so the API can list streamers."""

    streamer_id: int
    state: StreamerState
    enabled: bool
    last_error: str | None = Field(
        default=None, description="Why the last live check failed; None = it did not"
    )


class ProjectStateResult(BaseModel):
    pass


class OpenSessionInput(OwnedInput):
    streamer_id: int
    title: str
    start_time: datetime
    open_key: str | None = Field(
        default=None,
        description="Names the workflow step opening the session: a retry with the "
        "same key returns the same session",
    )


class OpenSessionResult(BaseModel):
    session_id: int


class CloseSessionInput(OwnedInput):
    session_id: int
    end_time: datetime


class CloseSessionResult(BaseModel):
    total_size_bytes: int
    segment_count: int
    removed: bool = Field(
        default=False,
        description="The session recorded nothing and was deleted (or was gone)",
    )


# --- platform activities ----------------------------------------------------------


class CheckLiveInput(OwnedInput):
    url: str
    streamer_id: int | None = Field(
        default=None, description="Whose platform options the activity reads (DB)"
    )
    selection: StreamSelection | None = Field(
        default=None, description="Which offered stream to pick (default: the best)"
    )


class LiveOutcome(StrEnum):
    """What a live check found: a value for every case a platform can answer.

    Fatal outcomes do not change by polling again (the scheduler stops polling until
    the user acts); `rate_limited` and `unavailable` pass (`retry_after_secs`).
    """

    LIVE = "live"
    OFFLINE = "offline"
    NOT_FOUND = "not_found"
    BANNED = "banned"
    REGION_LOCKED = "region_locked"
    PRIVATE = "private"
    AGE_RESTRICTED = "age_restricted"
    RATE_LIMITED = "rate_limited"
    UNAVAILABLE = "unavailable"

    @property
    def fatal(self) -> bool:
        """Whether polling again is pointless until the user acts."""
        return self in _FATAL


_FATAL = frozenset(
    {"not_found", "banned", "region_locked", "private", "age_restricted"}
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


class LiveStatus(BaseModel):
    """Result of a live check. Offline is a value, not an exception.

    `is_live`, `title` and `source` are what workflows read; every later field has a
    default, so histories recorded before they existed still decode. `outcome` None
    (an old history) means `live` when `is_live`, else `offline`.
    """

    is_live: bool
    title: str = ""
    source: StreamSource | None = Field(
        default=None, description="The stream to record, when live"
    )
    outcome: LiveOutcome | None = Field(default=None, description="What was found")
    detail: str = Field(default="", description="The platform's words, for people")
    retry_after_secs: float | None = Field(default=None, description="Ask again then")
    author: str = Field(default="", description="Streamer's display name")
    category: str = Field(default="", description="Game or area")
    avatar_url: str = ""
    cover_url: str = ""
    viewers: int | None = None
    started_at: datetime | None = Field(default=None, description="Broadcast start")
    error: str | None = Field(
        default=None,
        description="Why the stream could not be reached, when the check counts "
        "that as offline (HTTP 404, connection refused); None for a plain offline",
    )
    streams: list[StreamInfo] = Field(
        default_factory=list,
        description="Every stream on offer (the API and CLI show them; the live-check "
        "activity leaves them out of workflow history and keeps `source`)",
    )

    @property
    def result(self) -> LiveOutcome:
        """`outcome`, or what an old history's `is_live` meant."""
        if self.outcome is not None:
            return self.outcome
        return LiveOutcome.LIVE if self.is_live else LiveOutcome.OFFLINE


# --- recording activities ---------------------------------------------------------


class RecordInput(OwnedInput):
    streamer_id: int
    streamer_name: str
    platform: str
    session_id: int
    session_start: datetime
    title: str
    source: StreamSource
    start_index: int = Field(default=0, description="First segment index to use")
    priority: Priority = Priority.NORMAL
    policy: RecordingPolicy = Field(
        default_factory=RecordingPolicy,
        description="Engine, splitting, naming and stream selection",
    )
    workflow_id: str = Field(description="Workflow to signal `segment_closed` to")
    announce_start: bool = Field(
        default=False,
        description="Signal `recording_wait` (waiting_for=None) once the guards let "
        "the recording start: the workflow shows a guard wait until then",
    )


class RecordProgress(BaseModel):
    """Heartbeat details of a recording; a retry resumes from them."""

    next_index: int = 0
    bytes_written: int = 0
    media_time_secs: float = 0.0
    segments_closed: int = 0


class RecordResult(BaseModel):
    next_index: int = Field(description="Index the next segment of the session gets")
    segments_closed: int
    bytes_written: int
    media_time_secs: float
    reason: str = Field(description="Why the recording stopped (ended, stalled, ...)")
    session_segments: int | None = Field(
        default=None,
        description="Completed segments of the whole session in the DB at the end",
    )
    url_refreshes: int = Field(
        default=0, description="Fresh stream URLs asked for as signed ones expired"
    )


class MediaStream(BaseModel):
    """One audio or video stream of a recorded file; what could not be read is None."""

    kind: Literal["video", "audio"]
    codec: str = Field(description="ffmpeg's codec name: h264, hevc, aac, mp3, …")
    width: int | None = Field(default=None, description="video: picture width")
    height: int | None = Field(default=None, description="video: picture height")
    sample_rate: int | None = Field(default=None, description="audio: samples/s")
    channels: int | None = Field(default=None, description="audio: channel count")


class SegmentClosed(BaseModel):
    """Payload of the `segment_closed` signal, sent as each segment file closes."""

    session_id: int
    index: int
    file_path: str
    size_bytes: int
    duration_secs: float
    session_segments: int | None = Field(
        default=None,
        description="Completed segments of the whole session in the DB, this one "
        "included: a lost or repeated signal does not skew the workflow's count",
    )
    valid: bool | None = Field(
        default=None,
        description="The file opens and holds its streams; None: not checked",
    )
    streams: list[MediaStream] = Field(
        default_factory=list, description="The file's audio and video streams"
    )


class RecordingWait(BaseModel):
    """Payload of `recording_wait`: the record activity waits for (or got) a slot."""

    waiting_for: WaitReason | None = Field(
        default=None, description="None once the recording really starts"
    )
    detail: str = ""


class ProbeSegmentInput(OwnedInput):
    session_id: int
    index: int
    file_path: str


class ProbeSegmentResult(BaseModel):
    duration_secs: float | None
    streams: list[str] = Field(default_factory=list, description="codec names")
    valid: bool


# --- workflow messages ------------------------------------------------------------


class SignalInput(BaseModel):
    """Optional payload of pause/resume/check_now/stop; unknown fields are ignored."""

    reason: str = ""


class StreamerWorkflowState(BaseModel):
    """The streamer workflow's durable state, carried across continue-as-new."""

    paused: bool | None = Field(
        default=None, description="None = take `enabled` from the DB"
    )
    state: StreamerState = StreamerState.NOT_LIVE
    sessions_recorded: int = 0
    last_error: str | None = None


class StreamerWorkflowInput(BaseModel):
    streamer_id: int
    carried: StreamerWorkflowState | None = None
    instance_id: str | None = Field(
        default=None,
        description="Instance id of the app database that owns this workflow; None "
        "(a workflow started before ids) adopts the id of the first database it loads",
    )


class StreamerWorkflowResult(BaseModel):
    reason: str


class StateQueryResult(BaseModel):
    state: StreamerState
    paused: bool
    session_id: int | None = None
    segments_closed: int = 0
    sessions_recorded: int = 0
    waiting_for: WaitReason | None = Field(
        default=None, description="The guard a live streamer waits on, if any"
    )
    last_error: str | None = Field(
        default=None,
        description="Why the last live check failed or could not reach the stream; "
        "None once a check succeeds",
    )


# Activity names. Workflows call activities by these names so the workflow sandbox
# never imports the activity modules (httpx, sqlalchemy, PyAV); the activity classes
# register under the same names, and so do the fakes in tests.
ACTIVITY_CHECK_LIVE = "platform.check_live"
ACTIVITY_RECORD_STREAM = "record.record_stream"
ACTIVITY_LOAD_STREAMER = "store.load_streamer"
ACTIVITY_PROJECT_STATE = "store.project_state"
ACTIVITY_OPEN_SESSION = "store.open_session"
ACTIVITY_CLOSE_SESSION = "store.close_session"
ACTIVITY_PROBE_SEGMENT = "media.probe_segment"
