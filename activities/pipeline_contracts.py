"""Post-processing pipelines: the models that cross a Temporal boundary, and names.

A pipeline is a DAG of steps. Users write a `PipelineSpec` (steps naming a processor or
a preset, with a config and `depends_on`); `activities.pipeline_validate` checks it and
resolves it into `ResolvedStep`s, which is what a `PipelineWorkflow` runs. Roots get the
trigger's files; every other step gets the outputs of its dependencies, in the order
of its `depends_on`.

Like `activities.contracts`, this module imports only pydantic and the standard
library: the API, the worker, the workflows and the activities all use it.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

PIPELINE_WORKFLOW_TYPE = "PipelineWorkflow"
QUERY_PIPELINE_GRAPH = "graph"
UPDATE_PIPELINE_RETRY = "retry"
UPDATE_PIPELINE_CANCEL = "cancel"
SIGNAL_STEP_PROGRESS = "step_progress"

# activity names (the activity class registers them; the workflow calls the methods)
ACTIVITY_BEGIN_RUN = "pipeline.begin_run"
ACTIVITY_RUN_STEP = "pipeline.run_step"
ACTIVITY_MARK_STEPS = "pipeline.mark_steps"
ACTIVITY_FINISH_RUN = "pipeline.finish_run"

# ids are path and log friendly; bounded so a DAG stays small in workflow history
STEP_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$"
KIND_PATTERN = r"^[a-z][a-z0-9]{0,15}$"
MAX_STEPS = 50
MAX_FILES = 1000
MAX_PATH_LENGTH = 4096

# ApplicationError types a step fails with (the API and the job row show the message)
ERROR_PROCESSOR_CONFIG = "ProcessorConfigError"
ERROR_PROCESSOR_FAILED = "ProcessorFailed"
ERROR_INPUT_MISSING = "InputMissing"
ERROR_UNKNOWN_PROCESSOR = "UnknownProcessor"
# how a settled run that did not complete ends its workflow (details: the graph)
ERROR_PIPELINE_FAILED = "PipelineFailed"
ERROR_PIPELINE_CANCELLED = "PipelineCancelled"


def pipeline_workflow_id(kind: str, key: str) -> str:
    """`pipeline-<kind>-<key>`: the caller picks it, so a start is idempotent.

    Segment pipelines use `pipeline_workflow_id("seg", f"{session}-{index}")`.
    """
    return f"pipeline-{kind}-{key}"


class Queue(StrEnum):
    """Which task queue a processor's steps run on."""

    CPU = "cpu"
    IO = "io"


class StepStatus(StrEnum):
    """The state of one step (and of its job row)."""

    PENDING = "PENDING"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


TERMINAL_STEP = frozenset(
    {StepStatus.COMPLETED, StepStatus.FAILED, StepStatus.CANCELLED}
)


class RunStatus(StrEnum):
    """The state of a pipeline run: FAILED when a step failed, whatever else did."""

    PENDING = "PENDING"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


# --- what users write -------------------------------------------------------------


class StepSpec(BaseModel):
    """One step as written: a processor or a named step preset, and its config."""

    id: str = Field(pattern=STEP_ID_PATTERN, description="Unique within the pipeline")
    processor: str | None = Field(
        default=None, max_length=64, description="Processor name (or use `preset`)"
    )
    preset: str | None = Field(
        default=None,
        max_length=100,
        description="Name of a step preset; `config` is merged over its config",
    )
    config: dict[str, Any] = Field(
        default_factory=dict, description="The processor's settings"
    )
    depends_on: list[str] = Field(
        default_factory=list,
        max_length=MAX_STEPS,
        description="Ids of the steps whose outputs this step receives",
    )


class PipelineSpec(BaseModel):
    """A pipeline as written: a DAG of steps."""

    steps: list[StepSpec] = Field(min_length=1, max_length=MAX_STEPS)


class StepPresetBody(BaseModel):
    """What a step preset stands for: a processor and its config."""

    processor: str = Field(max_length=64)
    config: dict[str, Any] = Field(default_factory=dict)


class PipelineProblem(BaseModel):
    """One reason a pipeline is invalid; `step` and `field` say where."""

    step: str | None = Field(default=None, description="Step id, when it is a step's")
    field: str | None = Field(default=None, description="Config field, dotted")
    message: str


# --- what runs --------------------------------------------------------------------


class ResolvedStep(BaseModel):
    """A validated step: its preset expanded, its config checked and normalised."""

    id: str
    processor: str
    queue: Queue
    config: dict[str, Any] = Field(default_factory=dict)
    depends_on: list[str] = Field(default_factory=list)


class PipelineContext(BaseModel):
    """What the trigger knows; processors use it for placeholders and file names."""

    streamer_id: int | None = None
    streamer: str = Field(default="", description="Streamer name")
    platform: str = ""
    session_id: int | None = None
    segment_index: int | None = None
    title: str = ""


class StepOutput(BaseModel):
    """What a step produced: local files for the next steps, remote copies."""

    files: list[str] = Field(default_factory=list, description="Local paths")
    remote: list[str] = Field(
        default_factory=list, description="Where files were uploaded (rclone paths)"
    )


class PipelineInput(BaseModel):
    """Input of `PipelineWorkflow` (its id is `pipeline-<kind>-<key>`)."""

    kind: str = Field(
        pattern=KIND_PATTERN, description="seg, danmu, pair, session, manual"
    )
    steps: list[ResolvedStep] = Field(min_length=1, max_length=MAX_STEPS)
    inputs: list[str] = Field(default_factory=list, description="The trigger's files")
    context: PipelineContext = Field(default_factory=PipelineContext)
    carried: dict[str, StepOutput] = Field(
        default_factory=dict,
        description="Steps completed by an earlier run of this pipeline (a retry "
        "after the workflow closed): they are not run again",
    )
    cpu_queue: str = Field(default="srec-cpu", description="Task queue of CPU steps")
    io_queue: str = Field(default="srec-io", description="Task queue of IO steps")


class StepView(BaseModel):
    """One step of a run as the graph query shows it."""

    id: str
    processor: str
    depends_on: list[str] = Field(default_factory=list)
    status: StepStatus = StepStatus.PENDING
    progress: float | None = Field(default=None, description="0..1 when known")
    detail: str = ""
    error: str | None = None
    output: StepOutput | None = None


class PipelineGraph(BaseModel):
    """Result of the `graph` query and of the workflow."""

    workflow_id: str
    run_id: int = 0
    status: RunStatus = RunStatus.RUNNING
    error: str | None = Field(default=None, description="The first failed step's")
    steps: list[StepView] = Field(default_factory=list)


class RetryInput(BaseModel):
    """Payload of the `retry` update: None re-runs every failed/cancelled step."""

    step_ids: list[str] | None = None


class CancelInput(BaseModel):
    """Payload of the `cancel` update: None cancels every unfinished step."""

    step_ids: list[str] | None = None


class StepsChanged(BaseModel):
    """Result of the `retry` and `cancel` updates: the steps they changed."""

    step_ids: list[str] = Field(default_factory=list)


class StepProgress(BaseModel):
    """Payload of `step_progress`, which a running step sends its workflow."""

    step_id: str = ""
    progress: float | None = None
    detail: str = ""


# --- activities -------------------------------------------------------------------


class BeginRunInput(BaseModel):
    workflow_id: str
    pipeline: PipelineInput


class BeginRunResult(BaseModel):
    run_id: int
    job_ids: dict[str, int] = Field(description="Step id -> job row id")


class RunStepInput(BaseModel):
    """One step to run: the job row to keep current, its inputs and context."""

    workflow_id: str
    job_id: int
    step: ResolvedStep
    inputs: list[str] = Field(default_factory=list)
    trigger: list[str] = Field(
        default_factory=list, description="The pipeline's own inputs"
    )
    context: PipelineContext = Field(default_factory=PipelineContext)
    started: datetime | None = Field(
        default=None,
        description="When the run started: strftime codes in templates use it, so "
        "every attempt names its files alike",
    )


class StepMark(BaseModel):
    step_id: str
    status: StepStatus
    error: str | None = None


class MarkStepsInput(BaseModel):
    """States only the workflow knows (cancelled, failed by timeout)."""

    run_id: int
    marks: list[StepMark]


class FinishRunInput(BaseModel):
    run_id: int
    status: RunStatus
    error: str | None = None
    marks: list[StepMark] = Field(default_factory=list)


class Done(BaseModel):
    """An empty result (one model out, so fields can be added later)."""
