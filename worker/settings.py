"""The worker process's settings (env prefix `SREC_`), validated at start-up.

How streamers are recorded (engine, segments, intervals, …) is configuration in the
app database (`activities.config`); its `SREC_<FIELD>` variables seed the global
level on the database's first start only (`activities.config.seed`).
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from activities.db import default_database_url
from activities.host_map import parse_host_map
from worker.queues import ALL_QUEUES, parse_queues


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
    queues: str = Field(
        default=ALL_QUEUES,
        description="Task queues this worker serves, comma-separated: "
        "workflows, io, cpu (srec-workflows, srec-io, srec-cpu)",
    )
    io_slots: int | None = Field(
        default=None,
        gt=0,
        description="Activities at once on srec-io. Default: every recording slot, "
        "the attempts waiting for one, and threads for the store activities",
    )
    cpu_slots: int = Field(
        default_factory=lambda: os.cpu_count() or 1,
        gt=0,
        description="Activities at once on srec-cpu (ffmpeg steps). Default: cores",
    )

    reconcile_interval_secs: float = Field(
        default=300.0,
        ge=10,
        description="How often the workflows worker reconciles again after its "
        "start: a streamer saved while Temporal could not start its workflow gets "
        "one, and the shard pollers are ensured",
    )
    metrics_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="Serve GET /metrics on this port: the Temporal SDK's series "
        "and the ones this worker counts (none when unset)",
    )
    metrics_host: str = Field(
        default="127.0.0.1",
        description="Interface of the metrics port (0.0.0.0 for a Prometheus "
        "on another host or container)",
    )
    pipeline_placement: Literal["shared", "per-host"] = Field(
        default="shared",
        description="shared: every worker sees the recordings (one volume), and "
        "any cpu worker runs any pipeline step; per-host: recordings stay on the "
        "host that wrote them, whose worker also serves srec-cpu@<host> and "
        "srec-io@<host>, where a segment's steps run",
    )
    host_name: str = Field(
        default_factory=socket.gethostname,
        min_length=1,
        max_length=200,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
        description="This worker's host in per-host queue names (default: the "
        "machine's host name)",
    )

    @field_validator("queues")
    @classmethod
    def _check_queues(cls, value: str) -> str:
        return ",".join(parse_queues(value))

    @property
    def queue_names(self) -> tuple[str, ...]:
        """The short names of the queues served, in start order."""
        return parse_queues(self.queues)

    @property
    def recording_host(self) -> str | None:
        """The host a recording made here is marked with; None with shared storage.

        Only a worker that records (serves io) with per-host placement marks its
        segments: their pipeline steps then come to its own queues.
        """
        if self.pipeline_placement == "per-host" and "io" in self.queue_names:
            return self.host_name
        return None

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
