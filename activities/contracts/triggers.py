"""The pipeline triggers: run kinds, ids, the session-complete child and its checks.

A closed video segment starts `pipeline-seg-<session>-<index>`, a closed danmu file
`pipeline-danmu-<session>-<index>`, a finished pair of them
`pipeline-pair-<session>-<index>`, and a session's end `session-complete-<session>`,
which waits for all of those and then starts `pipeline-session-<session>`.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field

SESSION_COMPLETE_WORKFLOW_TYPE = "SessionCompleteWorkflow"
# a finished segment or pair run wakes its session's waiter at once (it would
# otherwise notice at its next look); the payload is ignored, the DB is recounted
SIGNAL_SESSION_WAKE = "pipeline_finished"
ACTIVITY_AFTER_RUN = "pipeline.after_run"
ACTIVITY_SESSION_CHECK = "pipeline.session_check"
ERROR_SESSION_NEVER_FINAL = "SessionNeverFinal"


class RunKind(StrEnum):
    """The kinds of the runs the triggers start (`PipelineInput.kind`)."""

    SEGMENT = "seg"
    DANMU = "danmu"
    PAIR = "pair"
    SESSION = "session"


# runs whose end may complete a pair (and wake their session's waiter)
SIDE_KINDS = frozenset({RunKind.SEGMENT, RunKind.DANMU})
# runs the session-complete waiter waits for
SESSION_PART_KINDS = frozenset({RunKind.SEGMENT, RunKind.DANMU, RunKind.PAIR})


def trigger_workflow_id(kind: RunKind, session_id: int, index: int | None) -> str:
    """`pipeline-<kind>-<session>[-<index>]`: one run per file, pair or session."""
    key = f"{session_id}" if index is None else f"{session_id}-{index}"
    return f"pipeline-{kind.value}-{key}"


def session_complete_workflow_id(session_id: int) -> str:
    """The id of the child that waits for a session's pipelines."""
    return f"session-complete-{session_id}"


class AfterRunInput(BaseModel):
    """Input of `pipeline.after_run`: a run of the triggers' has settled."""

    workflow_id: str
    kind: str
    session_id: int | None = None
    segment_index: int | None = None


class AfterRunResult(BaseModel):
    """Result of `pipeline.after_run`: the pair run it started, if any."""

    started: str | None = None


class SessionCheckInput(BaseModel):
    """Input of `pipeline.session_check`."""

    session_id: int
    start: bool = Field(
        default=True, description="Start the session run once everything finished"
    )


class SessionStatus(StrEnum):
    WAITING = "waiting"
    READY = "ready"
    GONE = "gone"


class SessionCheck(BaseModel):
    """Result of `pipeline.session_check`, counted from the database."""

    status: SessionStatus
    reason: str = Field(default="", description="What it still waits for")
    started: str | None = Field(
        default=None, description="The session run's workflow id, once started"
    )
    repaired: int = Field(
        default=0, description="Runs started again that had not started"
    )


class SessionCompleteInput(BaseModel):
    """Input of `SessionCompleteWorkflow` (and of its continue-as-new)."""

    session_id: int
    waited_secs: float = Field(
        default=0.0, description="Time waited by earlier runs of this workflow"
    )
    first_look_secs: float = Field(default=5.0, gt=0)
    max_look_secs: float = Field(default=300.0, gt=0)
    limit_secs: float = Field(
        default=7 * 24 * 3600.0,
        gt=0,
        description="Give up (and fail, saying what never finished) after this long",
    )


class SessionCompleteResult(BaseModel):
    """Result of `SessionCompleteWorkflow`."""

    started: str | None = Field(
        default=None, description="The session run it started (None: none configured)"
    )
    looks: int = 0
    reason: str = ""
