"""The recording policy: the one list of configuration fields.

`RecordingPolicy` names every setting a configuration level (global, platform,
template, streamer) may set, with its built-in default, its bounds and its
description. Everything else derives from it: the override model of a level, the
API's schemas and the `SREC_*` variables that seed the global level
(`activities.config`). It holds no credentials: cookies, tokens and a proxy's
password are platform options the activities read from the database themselves.

The model is a contract: it travels in workflow histories (the streamer's config,
the record activity's input), so it stays lenient about what older releases wrote
(`grace_secs`, a file-name template holding its folder) and never grows a check that
a stored history could fail.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field, model_validator

from activities.contracts.streams import (
    Container,
    EngineKind,
    Priority,
    StreamSelection,
)
from activities.pipeline_contracts import PipelineSpec

# Upper bounds of every number a user configures. Beyond them a value is a typo or
# an attack: a timer of 1e308 s overflows the workflow's timedelta, a byte count
# past 2^63-1 does not fit a database BIGINT, and polling more than once a second
# only floods the workflow's history and the platform.
MIN_POLL_SECS = 1.0
MAX_INTERVAL_SECS = 86_400.0
MAX_SEGMENT_SECS = 7 * 86_400.0
MAX_BYTES = 2**63 - 1
MAX_OFFLINE_CHECKS = 100
MAX_RECORD_ATTEMPTS = 1000

DEFAULT_OUTPUT_FOLDER = "{streamer}"
DEFAULT_FILENAME_TEMPLATE = "{streamer}-%Y%m%d-%H%M%S-{title}_%i"

# as streamlink's --stream-timeout: CDN stalls of seconds are recorded through
DEFAULT_STREAM_TIMEOUT_SECS = 60.0

_SEPARATORS = re.compile(r"[/\\]")


class ExtractorChoice(StrEnum):
    """Who resolves a channel URL into streams.

    `auto`: srec's own platform module, else the generic HLS/FLV reader, else a
    streamlink plugin; `native`: srec's modules only (a URL only streamlink knows is
    refused); `streamlink`: streamlink's plugin even where srec has a module.
    """

    AUTO = "auto"
    NATIVE = "native"
    STREAMLINK = "streamlink"


class RetrySettings(BaseModel):
    """How a failed recording attempt is retried (the record activity's policy).

    Each retry resumes the session in a new segment; guard refusals (no slot,
    breaker open, output root degraded) are not retries, the workflow waits them out.
    """

    max_attempts: int = Field(
        default=8,
        ge=1,
        le=MAX_RECORD_ATTEMPTS,
        description="Attempts in all, the first included",
    )
    initial_interval_secs: float = Field(
        default=1.0,
        gt=0,
        le=MAX_INTERVAL_SECS,
        description="Wait before the first retry",
    )
    max_interval_secs: float = Field(
        default=10.0,
        gt=0,
        le=MAX_INTERVAL_SECS,
        description="Longest wait between two attempts",
    )
    backoff: float = Field(
        default=2.0, ge=1, le=10, description="Each wait is the last one times this"
    )


class RecordingPolicy(BaseModel):
    """Every configuration field; the defaults are the built-in global values."""

    # --- output -----------------------------------------------------------------
    output_folder: str = Field(
        default=DEFAULT_OUTPUT_FOLDER,
        max_length=1000,
        description="Folder of the segments under the recordings root: a template "
        "with the placeholders and strftime codes of filename_template (no %i); "
        "empty = the root itself",
    )
    filename_template: str = Field(
        default=DEFAULT_FILENAME_TEMPLATE,
        max_length=255,
        description="Segment file name without extension. Placeholders: {streamer} "
        "{title} {platform} {streamer_id} {session_id}, strftime codes "
        "(%Y%m%d-%H%M%S, local time) and %i (segment index, required)",
    )
    container: Container = Field(
        default=Container.AUTO, description="Output container of ffmpeg/streamlink"
    )
    max_segment_duration_secs: float = Field(
        default=0.0,
        ge=0,
        le=MAX_SEGMENT_SECS,
        description="Close a segment after this much media; 0 = never",
    )
    max_segment_size_bytes: int = Field(
        default=8 * 1024**3,
        ge=0,
        le=MAX_BYTES,
        description="Close a segment at this size; 0 = never",
    )
    min_segment_size_bytes: int = Field(
        default=0,
        ge=0,
        le=MAX_BYTES,
        description="Delete a closed segment smaller than this (a blip); 0 = keep all",
    )
    # --- recording --------------------------------------------------------------
    engine: EngineKind = Field(
        default=EngineKind.NATIVE, description="Which recorder writes the stream"
    )
    extractor: ExtractorChoice = Field(
        default=ExtractorChoice.AUTO,
        description="Who resolves the URL: auto (srec's module, else streamlink), "
        "native (srec's modules only) or streamlink (its plugin, always)",
    )
    selection: StreamSelection = Field(
        default_factory=StreamSelection,
        description="Which stream to record; levels merge it field by field and "
        "join their CDN blacklists",
    )
    proxy: str = Field(
        default="",
        max_length=2048,
        description="Proxy of the recording engines (http://, https://, socks5://, "
        "socks5h://host:port, a user name allowed); empty = none. Its password is a "
        "credential: the platform option proxy_password",
    )
    stream_timeout_secs: float = Field(
        default=DEFAULT_STREAM_TIMEOUT_SECS,
        gt=0,
        le=MAX_INTERVAL_SECS,
        description="The native engines end a recording after this long without "
        "new media (no HLS segment, no FLV bytes); stalls shorter than this are "
        "recorded through",
    )
    record_retry: RetrySettings = Field(
        default_factory=RetrySettings,
        description="Retries of a failed recording attempt; merged field by field",
    )
    record_danmu: bool = Field(
        default=False, description="Record the chat (danmu) beside the video"
    )
    end_stream_on_danmu_stream_closed: bool = Field(
        default=False,
        description="A 'stream closed' message in the chat ends the session at once",
    )
    # --- post-processing: each replaces a less specific level's whole -----------
    segment_pipeline: PipelineSpec | None = Field(
        default=None, description="Runs on each closed segment"
    )
    paired_pipeline: PipelineSpec | None = Field(
        default=None,
        description="Runs when a segment's video and danmu files are both closed",
    )
    session_pipeline: PipelineSpec | None = Field(
        default=None,
        description="Runs once a session ended and its segment pipelines finished",
    )
    # --- scheduling -------------------------------------------------------------
    poll_interval_secs: float = Field(
        default=30.0,
        ge=MIN_POLL_SECS,
        le=MAX_INTERVAL_SECS,
        description="Seconds between live checks while offline",
    )
    offline_check_count: int = Field(
        default=3,
        ge=1,
        le=MAX_OFFLINE_CHECKS,
        description="Checks that must find a dropped stream offline before its "
        "session ends; with offline_check_delay_secs it spans the grace window "
        "(count x delay) in which a returning stream continues its session",
    )
    offline_check_delay_secs: float = Field(
        default=20.0,
        ge=0,
        le=MAX_INTERVAL_SECS,
        description="Seconds between those checks",
    )
    error_backoff_secs: float = Field(
        default=60.0,
        gt=0,
        le=MAX_INTERVAL_SECS,
        description="Wait after a failed live check before the next one",
    )
    priority: Priority = Field(
        default=Priority.NORMAL,
        description="High-priority streamers may use the extra recording slots",
    )

    @property
    def grace_secs(self) -> float:
        """How long a dropped stream may take to return to the same session."""
        return self.offline_check_count * self.offline_check_delay_secs

    @model_validator(mode="before")
    @classmethod
    def _read_older_shapes(cls, data: Any) -> Any:
        """Accept what older releases wrote (histories, stored rows)."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        grace = data.pop("grace_secs", None)
        if (
            grace is not None
            and not {
                "offline_check_count",
                "offline_check_delay_secs",
            }
            & data.keys()
        ):
            data |= legacy_grace(grace)
        template = data.get("filename_template")
        if isinstance(template, str) and "output_folder" not in data:
            data |= split_path_template(template)
        return data


def legacy_grace(grace_secs: Any) -> dict[str, Any]:
    """An older `grace_secs` as offline checks: one check, that long after the drop."""
    return {"offline_check_count": 1, "offline_check_delay_secs": grace_secs}


def split_path_template(template: str) -> dict[str, str]:
    """An older file-name template, which held its folder, as the two fields.

    `{streamer}/{streamer}-%i` becomes output_folder `{streamer}` and
    filename_template `{streamer}-%i`; a template without a folder gets the empty
    folder (the recordings root), where it always wrote.
    """
    *folders, name = _SEPARATORS.split(template)
    return {"output_folder": "/".join(folders), "filename_template": name}
