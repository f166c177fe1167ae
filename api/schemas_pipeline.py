"""Request and response models of the pipeline API (`/api/pipeline`, `/api/job`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field, model_validator

from activities.contracts import MAX_ID
from activities.db import PipelinePresetBase
from activities.pipeline_contracts import (
    MAX_FILES,
    MAX_PATH_LENGTH,
    NAME_PATTERN,
    PipelineProblem,
    PipelineSpec,
    ResolvedStep,
    RunStatus,
    StepStatus,
)

KEY_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"


class JobPublic(BaseModel):
    """One step of a run: its job row."""

    id: int
    run_id: int
    step_id: str
    processor: str
    queue: str
    status: StepStatus
    depends_on: list[str]
    config: dict[str, Any]
    inputs: list[str]
    outputs: dict[str, Any] = Field(description="files (local) and remote (uploaded)")
    error: str | None
    attempt: int = Field(description="How many times the step started")
    progress: float | None = Field(description="0..1, null when unknown")
    progress_detail: str
    started_at: datetime | None
    finished_at: datetime | None
    updated_at: datetime


class JobLogs(BaseModel):
    job_id: int
    lines: list[str] = Field(description="What the step's programs said, last lines")


class JobProgress(BaseModel):
    job_id: int
    status: StepStatus
    progress: float | None
    detail: str
    updated_at: datetime


class RunPublic(BaseModel):
    """One pipeline run (one workflow)."""

    id: int
    workflow_id: str
    kind: str
    status: RunStatus
    streamer_id: int | None
    session_id: int | None
    segment_index: int | None
    inputs: list[str]
    error: str | None
    retries: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class RunDetail(RunPublic):
    """A run with its graph: every step, its dependencies and its state."""

    steps: list[JobPublic]


class RunRequest(BaseModel):
    """Body of `POST /api/pipeline/run`: a pipeline now, on files of a session."""

    session_id: int = Field(ge=1, le=MAX_ID)
    segments: list[int] | None = Field(
        default=None,
        max_length=MAX_FILES,
        description="Segment indexes of the session (default: all its segments)",
    )
    files: list[str] = Field(
        default_factory=list,
        max_length=MAX_FILES,
        description="More files, inside the recordings root (danmaku XML, ...)",
    )
    pipeline: PipelineSpec | None = Field(default=None, description="The DAG to run")
    preset: str | None = Field(
        default=None, pattern=NAME_PATTERN, description="Or a pipeline preset's name"
    )
    key: str | None = Field(
        default=None,
        pattern=KEY_PATTERN,
        description="Idempotency key: the run's workflow id is pipeline-manual-<key>",
    )

    @model_validator(mode="after")
    def _one_pipeline(self) -> RunRequest:
        if (self.pipeline is None) == (self.preset is None):
            raise ValueError("give exactly one of `pipeline` and `preset`")
        for index in self.segments or []:
            if not 0 <= index <= 2**31:
                raise ValueError("segment indexes are 0..2^31")
        for path in self.files:
            if not 0 < len(path) <= MAX_PATH_LENGTH or "\x00" in path:
                raise ValueError("files must be non-empty paths")
        return self


class RunStarted(BaseModel):
    run_id: int
    workflow_id: str


class StepsAccepted(BaseModel):
    status: str = "accepted"
    step_ids: list[str] = Field(description="The steps that will run again / stop")


class Validation(BaseModel):
    valid: bool = True
    steps: list[ResolvedStep]


class ValidationFailed(BaseModel):
    """The body of a 422 from validation: what is wrong, where."""

    detail: list[PipelineProblem]


class PresetPublic(PipelinePresetBase):
    id: int
    builtin: bool
    created_at: datetime
    updated_at: datetime


class StepPresetCreate(BaseModel):
    """Body of `POST /api/job/presets`: a named processor config."""

    name: str = Field(pattern=NAME_PATTERN)
    description: str = Field(default="", max_length=1000)
    processor: str = Field(min_length=1, max_length=64)
    config: dict[str, Any] = Field(default_factory=dict)


class StepPresetUpdate(BaseModel):
    description: str | None = Field(default=None, max_length=1000)
    processor: str | None = Field(default=None, min_length=1, max_length=64)
    config: dict[str, Any] | None = None


class PipelinePresetCreate(BaseModel):
    """Body of `POST /api/pipeline/presets`: a named DAG."""

    name: str = Field(pattern=NAME_PATTERN)
    description: str = Field(default="", max_length=1000)
    pipeline: PipelineSpec


class PipelinePresetUpdate(BaseModel):
    description: str | None = Field(default=None, max_length=1000)
    pipeline: PipelineSpec | None = None
