"""What the pipeline triggers read and write: a session's runs, refused runs.

Like `crud`, each function takes a `Session` and commits its own writes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlmodel import col, select

from activities.db.crud_pipeline import get_run_by_workflow, jobs_of_run
from activities.db.tables import utcnow
from activities.db.tables_pipeline import PipelineRun
from activities.pipeline_contracts import RunStatus, StepStatus

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sqlmodel import Session

ERROR_MAX_LENGTH = 4000


def session_runs(
    db: Session, session_id: int, kinds: Sequence[str]
) -> Sequence[PipelineRun]:
    """The runs of a session of the given kinds, oldest first."""
    return db.exec(
        select(PipelineRun)
        .where(PipelineRun.session_id == session_id, col(PipelineRun.kind).in_(kinds))
        .order_by(col(PipelineRun.id))
    ).all()


def refuse_run(
    db: Session,
    workflow_id: str,
    *,
    kind: str,
    context: dict[str, Any],
    inputs: list[str],
    error: str,
) -> PipelineRun:
    """A FAILED run row for a pipeline that could not start (idempotent by id).

    The runs API shows it with its cause, and a session's waiter counts it as
    finished: a configured pipeline that no longer validates is never silent.
    """
    found = get_run_by_workflow(db, workflow_id)
    if found is not None:
        return found
    now = utcnow()
    run = PipelineRun(
        workflow_id=workflow_id,
        kind=kind,
        status=RunStatus.FAILED,
        streamer_id=context.get("streamer_id"),
        session_id=context.get("session_id"),
        segment_index=context.get("segment_index"),
        inputs=inputs,
        context=context,
        error=error[:ERROR_MAX_LENGTH],
        started_at=now,
        finished_at=now,
    )
    db.add(run)
    db.commit()
    db.refresh(run)
    return run


def files_of_run(db: Session, run: PipelineRun) -> list[str]:
    """A run's inputs, then the files its completed steps wrote, in step order."""
    assert run.id is not None
    files = list(run.inputs)
    for job in jobs_of_run(db, run.id):
        if job.status == StepStatus.COMPLETED:
            files += [str(f) for f in (job.outputs or {}).get("files", [])]
    return list(dict.fromkeys(files))
