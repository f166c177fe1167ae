"""`/api/pipeline/jobs`: the jobs of pipeline runs, one per step.

Rows are written by the step activities; retry and cancel go to the run's workflow
(`PipelineControl`), which re-runs or stops that step and the steps after it.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status

from activities.db import PipelineJob, crud_pipeline
from activities.pipeline_contracts import StepStatus
from api.deps import DbDep, PipelineControlDep
from api.params import BODY_RESPONSES, CONFLICT_RESPONSES, NOT_FOUND_RESPONSES
from api.routes.pipeline import (
    FilterId,
    Id,
    Limit,
    Offset,
    command,
    found_run,
    rerun_input,
)
from api.schemas import Page
from api.schemas_pipeline import JobLogs, JobProgress, JobPublic, StepsAccepted

router = APIRouter(
    prefix="/pipeline/jobs",
    tags=["pipeline"],
    responses=BODY_RESPONSES | NOT_FOUND_RESPONSES | CONFLICT_RESPONSES,
)

RETRYABLE = (StepStatus.FAILED, StepStatus.CANCELLED)
CANCELLABLE = (StepStatus.PENDING, StepStatus.RUNNING)


def job_public(job: PipelineJob) -> JobPublic:
    return JobPublic.model_validate(job, from_attributes=True)


def _found_job(db: DbDep, job_id: int) -> PipelineJob:
    job = crud_pipeline.get_job(db, job_id)
    if job is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "job not found")
    return job


@router.get("")
def list_jobs(
    db: DbDep,
    status_: Annotated[StepStatus | None, Query(alias="status")] = None,
    session_id: FilterId = None,
    streamer_id: FilterId = None,
    processor: Annotated[str | None, Query(max_length=64)] = None,
    run_id: FilterId = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[JobPublic]:
    """Jobs (one per step of a run), newest first."""
    items, total = crud_pipeline.list_jobs(
        db,
        status=status_,
        session_id=session_id,
        streamer_id=streamer_id,
        processor=processor,
        run_id=run_id,
        limit=limit,
        offset=offset,
    )
    return Page(items=[job_public(j) for j in items], total=total)


@router.get("/{job_id}")
def getjob_public(job_id: Id, db: DbDep) -> JobPublic:
    """One job (404 if missing)."""
    return job_public(_found_job(db, job_id))


@router.get("/{job_id}/logs")
def get_job_logs(job_id: Id, db: DbDep) -> JobLogs:
    """What the job's programs said (the last lines of its last attempt)."""
    job = _found_job(db, job_id)
    return JobLogs(job_id=job_id, lines=job.log.splitlines() if job.log else [])


@router.get("/{job_id}/progress")
def get_job_progress(job_id: Id, db: DbDep) -> JobProgress:
    """The job's state and progress (0..1, null when unknown)."""
    job = _found_job(db, job_id)
    return JobProgress(
        job_id=job_id,
        status=StepStatus(job.status),
        progress=job.progress,
        detail=job.progress_detail,
        updated_at=job.updated_at,
    )


@router.post("/{job_id}/retry", status_code=status.HTTP_202_ACCEPTED)
async def retryjob_public(
    job_id: Id, db: DbDep, control: PipelineControlDep
) -> StepsAccepted:
    """Re-run a failed or cancelled step (and the steps its failure cancelled)."""
    job = await asyncio.to_thread(_found_job, db, job_id)
    if job.status not in RETRYABLE:
        raise HTTPException(status.HTTP_409_CONFLICT, f"the job is {job.status}")
    run = await asyncio.to_thread(found_run, db, job.run_id)
    rerun = await asyncio.to_thread(rerun_input, db, run)
    return await command(control.retry(run.workflow_id, [job.step_id], rerun))


@router.post("/{job_id}/cancel", status_code=status.HTTP_202_ACCEPTED)
async def canceljob_public(
    job_id: Id, db: DbDep, control: PipelineControlDep
) -> StepsAccepted:
    """Stop a running step, or drop a pending one; the steps after it are dropped."""
    job = await asyncio.to_thread(_found_job, db, job_id)
    if job.status not in CANCELLABLE:
        raise HTTPException(status.HTTP_409_CONFLICT, f"the job is {job.status}")
    run = await asyncio.to_thread(found_run, db, job.run_id)
    return await command(control.cancel(run.workflow_id, [job.step_id]))
