"""The worker process's settings (env prefix `SREC_`), validated at start-up."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from activities.config import (
    MAX_BYTES,
    MAX_INTERVAL_SECS,
    MAX_SEGMENT_SECS,
    MIN_POLL_SECS,
)
from activities.contracts import (
    DEFAULT_FILENAME_TEMPLATE,
    DEFAULT_STREAM_TIMEOUT_SECS,
    Container,
    EngineKind,
    RecordingPolicy,
)
from activities.db import default_database_url
from activities.host_map import parse_host_map
from activities.naming import validate_template


class WorkerSettings(BaseSettings):
    """Where the worker finds Temporal and the DB, where it records, and how."""

    model_config = SettingsConfigDict(env_prefix="SREC_", extra="ignore")

    data_dir: Path = Field(default=Path("data"), description="App data directory")
    database_url: str = Field(default="", description="Default: SQLite in data_dir")
    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    recordings_dir: Path | None = Field(
        default=None, description="Default: <data_dir>/recordings"
    )
    # the bounds of a streamer's overrides (activities.config), so no level can
    # configure what another refuses
    poll_interval_secs: float = Field(
        default=30.0, ge=MIN_POLL_SECS, le=MAX_INTERVAL_SECS
    )
    grace_secs: float = Field(default=60.0, ge=0, le=MAX_INTERVAL_SECS)
    max_segment_duration_secs: float = Field(default=0.0, ge=0, le=MAX_SEGMENT_SECS)
    max_segment_size_bytes: int = Field(default=8 * 1024**3, ge=0, le=MAX_BYTES)
    error_backoff_secs: float = Field(default=60.0, gt=0, le=MAX_INTERVAL_SECS)
    min_segment_size_bytes: int = Field(default=0, ge=0, le=MAX_BYTES)
    engine: EngineKind = EngineKind.NATIVE
    container: Container = Container.AUTO
    filename_template: str = DEFAULT_FILENAME_TEMPLATE
    stream_timeout_secs: float = Field(
        default=DEFAULT_STREAM_TIMEOUT_SECS,
        gt=0,
        description="End a recording after this long without new media",
    )
    engine_stop_timeout_secs: float = Field(
        default=10.0,
        gt=0,
        description="Time ffmpeg gets after SIGINT to finish its file (then SIGTERM)",
    )
    graceful_shutdown_secs: float = Field(
        default=30.0, gt=0, description="Time recordings get to finalise on shutdown"
    )
    max_concurrent_recordings: int = Field(
        default=100,
        gt=0,
        description="Recordings at once across all workers sharing the app DB",
    )
    high_priority_extra_slots: int = Field(
        default=2, ge=0, description="Further recordings only high priority may start"
    )
    slot_wait_secs: float = Field(
        default=300.0,
        gt=0,
        description="How long one attempt waits for a slot before the stream is "
        "checked again",
    )
    breaker_failure_threshold: int = Field(
        default=5, ge=1, description="Consecutive engine failures that open a breaker"
    )
    breaker_cooldown_secs: float = Field(
        default=60.0, gt=0, description="How long an open breaker refuses attempts"
    )
    output_gate_cooldown_secs: float = Field(
        default=30.0,
        gt=0,
        description="While the output root is degraded, one probe per this long",
    )
    cpu_slots: int = Field(default_factory=lambda: os.cpu_count() or 1, gt=0)
    # --- detection (issue 10): shard pollers instead of a check per workflow ---
    poll_shards: int = Field(
        default=4,
        ge=0,
        le=256,
        description="Shards of streamers, one long-running poll activity each; "
        "0 = no pollers",
    )
    poll_heartbeat_timeout_secs: float = Field(
        default=30.0,
        ge=1,
        le=600,
        description="A dead worker's shards move to another worker this long "
        "after its last heartbeat",
    )
    host_map: str = Field(
        default="",
        description="Tests only: `host=ip:port,…` sends those hosts' requests to "
        "a local fake platform (activities.host_map)",
    )

    @field_validator("host_map")
    @classmethod
    def _check_host_map(cls, value: str) -> str:
        parse_host_map(value)
        return value

    @property
    def host_routes(self) -> dict[str, str]:
        """`host_map` parsed: host → ip:port."""
        return parse_host_map(self.host_map)

    # notifications (the 4-level configuration will move these to the app DB)
    notify_breaker_failure_threshold: int = Field(
        default=10, ge=1, description="Consecutive failed sends that open a channel"
    )
    notify_breaker_cooldown_secs: float = Field(
        default=300.0, gt=0, description="How long an open channel refuses sends"
    )
    notify_event_retention_days: float = Field(
        default=30.0, gt=0, description="Events older than this are pruned"
    )
    notify_dead_letter_retention_days: float = Field(
        default=7.0, gt=0, description="Dead letters older than this are pruned"
    )
    notify_maintenance_interval_secs: float = Field(
        default=3600.0,
        ge=60,
        description="How often the event log and dead letters are pruned",
    )

    @field_validator("filename_template")
    @classmethod
    def _check_template(cls, template: str) -> str:
        validate_template(template)
        return template

    @model_validator(mode="after")
    def _derive_paths(self) -> WorkerSettings:
        self.data_dir = self.data_dir.expanduser().resolve()
        if not self.database_url:
            self.database_url = default_database_url(self.data_dir)
        if self.recordings_dir is None:
            self.recordings_dir = self.data_dir / "recordings"
        self.recordings_dir = self.recordings_dir.expanduser().resolve()
        return self

    @property
    def recordings_path(self) -> Path:
        assert self.recordings_dir is not None
        return self.recordings_dir

    def policy(self) -> RecordingPolicy:
        """The recording policy every streamer gets."""
        return RecordingPolicy(
            poll_interval_secs=self.poll_interval_secs,
            grace_secs=self.grace_secs,
            max_segment_duration_secs=self.max_segment_duration_secs,
            max_segment_size_bytes=self.max_segment_size_bytes,
            error_backoff_secs=self.error_backoff_secs,
            min_segment_size_bytes=self.min_segment_size_bytes,
            engine=self.engine,
            container=self.container,
            filename_template=self.filename_template,
            stream_timeout_secs=self.stream_timeout_secs,
        )
