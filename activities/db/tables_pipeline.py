"""Tables of post-processing: pipeline runs, their jobs (one per step), presets and
the upload ledger.

JSON columns hold what the contracts describe (`activities.pipeline_contracts`):
a run's resolved steps, inputs and context; a job's inputs and outputs.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from activities.db.tables import UTCDateTime, utcnow

LOG_MAX_CHARS = 32_000


def _json(default: str) -> Any:
    return sa.Column(sa.JSON(), nullable=False, server_default=sa.text(f"'{default}'"))


class PipelineRun(SQLModel, table=True):
    """One run of a pipeline: one `PipelineWorkflow` (its id is unique here).

    A retry after the workflow closed starts a new execution with the same id and
    keeps this row; `retries` counts them.
    """

    __tablename__ = "pipeline_run"

    id: int | None = Field(default=None, primary_key=True)
    workflow_id: str = Field(max_length=255, unique=True)
    kind: str = Field(max_length=16, index=True)
    status: str = Field(default="PENDING", max_length=16, index=True)
    streamer_id: int | None = Field(default=None, index=True)
    session_id: int | None = Field(default=None, index=True)
    segment_index: int | None = Field(default=None)
    steps: list[dict[str, Any]] = Field(default_factory=list, sa_column=_json("[]"))
    inputs: list[str] = Field(default_factory=list, sa_column=_json("[]"))
    context: dict[str, Any] = Field(default_factory=dict, sa_column=_json("{}"))
    queues: dict[str, str] = Field(default_factory=dict, sa_column=_json("{}"))
    error: str | None = Field(default=None, max_length=4000)
    retries: int = Field(default=0)
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=sa.Column(UTCDateTime(), nullable=False)
    )
    started_at: datetime | None = Field(
        default=None, sa_column=sa.Column(UTCDateTime(), nullable=True)
    )
    finished_at: datetime | None = Field(
        default=None, sa_column=sa.Column(UTCDateTime(), nullable=True)
    )


class PipelineJob(SQLModel, table=True):
    """One step of a run, kept current by the step activity."""

    __tablename__ = "pipeline_job"
    __table_args__ = (sa.UniqueConstraint("run_id", "step_id"),)

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(index=True)
    step_id: str = Field(max_length=64)
    processor: str = Field(max_length=64, index=True)
    queue: str = Field(max_length=8)
    status: str = Field(default="PENDING", max_length=16, index=True)
    depends_on: list[str] = Field(default_factory=list, sa_column=_json("[]"))
    config: dict[str, Any] = Field(default_factory=dict, sa_column=_json("{}"))
    inputs: list[str] = Field(default_factory=list, sa_column=_json("[]"))
    outputs: dict[str, Any] = Field(default_factory=dict, sa_column=_json("{}"))
    error: str | None = Field(default=None, max_length=4000)
    attempt: int = Field(default=0, description="How many times the step started")
    progress: float | None = Field(default=None)
    progress_detail: str = Field(default="", max_length=500)
    log: str = Field(
        default="", sa_column=sa.Column(sa.Text(), nullable=False, server_default="")
    )
    started_at: datetime | None = Field(
        default=None, sa_column=sa.Column(UTCDateTime(), nullable=True)
    )
    finished_at: datetime | None = Field(
        default=None, sa_column=sa.Column(UTCDateTime(), nullable=True)
    )
    updated_at: datetime = Field(
        default_factory=utcnow, sa_column=sa.Column(UTCDateTime(), nullable=False)
    )


class PipelinePresetBase(SQLModel):
    name: str = Field(max_length=100, description="Unique per kind")
    description: str = Field(default="", max_length=1000)
    body: dict[str, Any] = Field(
        default_factory=dict,
        sa_column=_json("{}"),
        description="A step preset's {processor, config}, or a pipeline's {steps}",
    )


class PipelinePreset(PipelinePresetBase, table=True):
    """A named step (`kind` = step) or pipeline (`kind` = pipeline)."""

    __tablename__ = "pipeline_preset"
    __table_args__ = (sa.UniqueConstraint("kind", "name"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=10, index=True)
    builtin: bool = Field(default=False, description="Seeded by srec")
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=sa.Column(UTCDateTime(), nullable=False)
    )
    updated_at: datetime = Field(
        default_factory=utcnow, sa_column=sa.Column(UTCDateTime(), nullable=False)
    )


class PipelineUpload(SQLModel, table=True):
    """A file uploaded to `destination` (found by the hash of it, which is unique)."""

    __tablename__ = "pipeline_upload"

    id: int | None = Field(default=None, primary_key=True)
    destination_hash: str = Field(max_length=64, unique=True)
    destination: str = Field(max_length=4096)
    local_path: str = Field(max_length=4096)
    size_bytes: int = Field(sa_type=sa.BigInteger)
    job_id: int | None = Field(default=None)
    uploaded_at: datetime = Field(
        default_factory=utcnow, sa_column=sa.Column(UTCDateTime(), nullable=False)
    )
