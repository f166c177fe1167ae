"""Reads and writes of pipeline runs, jobs, presets and upload records.

Like `crud`, each function takes a `Session` and commits its own writes; the step
activities call them from threads, the API directly.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from sqlalchemy import func
from sqlmodel import col, or_, select

from activities.db.tables import utcnow
from activities.db.tables_pipeline import (
    LOG_MAX_CHARS,
    PipelineJob,
    PipelinePreset,
    PipelineRun,
    PipelineUpload,
)
from activities.pipeline_contracts import (
    PipelineInput,
    RunStatus,
    StepMark,
    StepOutput,
    StepPresetBody,
    StepStatus,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sqlmodel import Session

TERMINAL_RUN = (RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELLED)


# --- runs ---------------------------------------------------------------------------


def get_run(db: Session, run_id: int) -> PipelineRun | None:
    return db.get(PipelineRun, run_id)


def get_run_by_workflow(db: Session, workflow_id: str) -> PipelineRun | None:
    return db.exec(
        select(PipelineRun).where(PipelineRun.workflow_id == workflow_id)
    ).first()


def create_run(db: Session, workflow_id: str, inp: PipelineInput) -> PipelineRun:
    """The run row of a pipeline about to start (idempotent by workflow id)."""
    run = get_run_by_workflow(db, workflow_id)
    if run is not None:
        return run
    run = PipelineRun(
        workflow_id=workflow_id,
        kind=inp.kind,
        streamer_id=inp.context.streamer_id,
        session_id=inp.context.session_id,
        segment_index=inp.context.segment_index,
        steps=[s.model_dump(mode="json") for s in inp.steps],
        inputs=list(inp.inputs),
        context=inp.context.model_dump(mode="json"),
        queues={"cpu": inp.cpu_queue, "io": inp.io_queue},
    )
    db.add(run)
    db.commit()
    db.refresh(run)
    return run


def begin_run(
    db: Session, workflow_id: str, inp: PipelineInput
) -> tuple[PipelineRun, dict[str, int]]:
    """Mark the run running and give every step a job row.

    Steps in `inp.carried` keep their completed rows; the others are (re)set to
    PENDING, which is how a retry in a new execution starts over for them.

    Returns:
        The run and the job id of each step.
    """
    run = create_run(db, workflow_id, inp)
    assert run.id is not None
    if run.status in TERMINAL_RUN:
        run.retries += 1
    run.status = RunStatus.RUNNING
    run.error = None
    run.finished_at = None
    run.started_at = run.started_at or utcnow()
    db.add(run)
    existing = {j.step_id: j for j in jobs_of_run(db, run.id)}
    for step in inp.steps:
        job = existing.get(step.id)
        if job is None:
            job = PipelineJob(
                run_id=run.id,
                step_id=step.id,
                processor=step.processor,
                queue=step.queue,
            )
        job.depends_on = list(step.depends_on)
        job.config = dict(step.config)
        carried = inp.carried.get(step.id)
        if carried is not None:
            job.status = StepStatus.COMPLETED
            job.outputs = carried.model_dump(mode="json")
        elif job.status != StepStatus.PENDING:
            job.status = StepStatus.PENDING
            job.error = None
            job.progress = None
            job.progress_detail = ""
            job.finished_at = None
        job.updated_at = utcnow()
        db.add(job)
    db.commit()
    db.refresh(run)
    ids = {j.step_id: j.id for j in jobs_of_run(db, run.id) if j.id is not None}
    return run, ids


def finish_run(
    db: Session,
    run_id: int,
    status: RunStatus,
    error: str | None,
    marks: Sequence[StepMark],
) -> None:
    """Write a settled run's status and the step states only the workflow knows."""
    mark_jobs(db, run_id, marks, commit=False)
    run = db.get(PipelineRun, run_id)
    if run is not None:
        run.status = status
        run.error = error[:4000] if error else None
        run.finished_at = utcnow() if status in TERMINAL_RUN else None
        db.add(run)
    db.commit()


def list_runs(
    db: Session,
    *,
    status: str | None = None,
    kind: str | None = None,
    session_id: int | None = None,
    streamer_id: int | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[Sequence[PipelineRun], int]:
    conds = []
    if status is not None:
        conds.append(PipelineRun.status == status)
    if kind is not None:
        conds.append(PipelineRun.kind == kind)
    if session_id is not None:
        conds.append(PipelineRun.session_id == session_id)
    if streamer_id is not None:
        conds.append(PipelineRun.streamer_id == streamer_id)
    total = db.exec(select(func.count()).select_from(PipelineRun).where(*conds)).one()
    items = db.exec(
        select(PipelineRun)
        .where(*conds)
        .order_by(col(PipelineRun.id).desc())
        .offset(offset)
        .limit(limit)
    ).all()
    return items, total


def carried_outputs(db: Session, run_id: int) -> dict[str, StepOutput]:
    """Outputs of a run's completed steps, for a retry in a new execution."""
    return {
        j.step_id: StepOutput.model_validate(j.outputs or {})
        for j in jobs_of_run(db, run_id)
        if j.status == StepStatus.COMPLETED
    }


# --- jobs ---------------------------------------------------------------------------


def jobs_of_run(db: Session, run_id: int) -> Sequence[PipelineJob]:
    return db.exec(
        select(PipelineJob)
        .where(PipelineJob.run_id == run_id)
        .order_by(col(PipelineJob.id))
    ).all()


def segment_outputs(
    db: Session, session_id: int, index: int, processor: str
) -> list[str]:
    """The files that completed `processor` steps wrote in the runs of a segment
    (its segment and pair runs) and of its whole session."""
    jobs = db.exec(
        select(PipelineJob)
        .join(PipelineRun, col(PipelineRun.id) == col(PipelineJob.run_id))
        .where(
            col(PipelineRun.session_id) == session_id,
            or_(
                col(PipelineRun.segment_index) == index,
                col(PipelineRun.segment_index).is_(None),
            ),
            col(PipelineJob.processor) == processor,
            col(PipelineJob.status) == StepStatus.COMPLETED.value,
        )
        .order_by(col(PipelineJob.id).desc())
    ).all()
    files: list[str] = []
    for job in jobs:
        files.extend(str(f) for f in (job.outputs or {}).get("files") or [])
    return files


def get_job(db: Session, job_id: int) -> PipelineJob | None:
    return db.get(PipelineJob, job_id)


def list_jobs(
    db: Session,
    *,
    status: str | None = None,
    session_id: int | None = None,
    streamer_id: int | None = None,
    processor: str | None = None,
    run_id: int | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[Sequence[PipelineJob], int]:
    conds: list[Any] = []
    if status is not None:
        conds.append(PipelineJob.status == status)
    if processor is not None:
        conds.append(PipelineJob.processor == processor)
    if run_id is not None:
        conds.append(PipelineJob.run_id == run_id)
    if session_id is not None:
        conds.append(PipelineRun.session_id == session_id)
    if streamer_id is not None:
        conds.append(PipelineRun.streamer_id == streamer_id)
    joined = select(PipelineJob).join(
        PipelineRun, col(PipelineRun.id) == col(PipelineJob.run_id)
    )
    count = (
        select(func.count())
        .select_from(PipelineJob)
        .join(PipelineRun, col(PipelineRun.id) == col(PipelineJob.run_id))
    )
    total = db.exec(count.where(*conds)).one()
    items = db.exec(
        joined.where(*conds)
        .order_by(col(PipelineJob.id).desc())
        .offset(offset)
        .limit(limit)
    ).all()
    return items, total


def start_job(
    db: Session, job_id: int, inputs: Sequence[str], *, temporal_attempt: int = 1
) -> int:
    """Mark a job running (one more attempt); return its attempt number.

    An attempt killed before its row was written still counts: Temporal's attempt
    number of this execution is a lower bound.
    """
    job = db.get(PipelineJob, job_id)
    if job is None:
        raise LookupError(f"job {job_id} does not exist")
    job.status = StepStatus.RUNNING
    job.attempt = max(job.attempt + 1, temporal_attempt)
    job.inputs = list(inputs)
    job.error = None
    job.progress = 0.0
    job.progress_detail = ""
    job.started_at = job.updated_at = utcnow()
    job.finished_at = None
    db.add(job)
    db.commit()
    return job.attempt


def set_job_progress(
    db: Session, job_id: int, progress: float | None, detail: str
) -> None:
    job = db.get(PipelineJob, job_id)
    if job is None or job.status != StepStatus.RUNNING:
        return
    job.progress = progress
    job.progress_detail = detail[:500]
    job.updated_at = utcnow()
    db.add(job)
    db.commit()


def finish_job(
    db: Session,
    job_id: int,
    status: StepStatus,
    *,
    output: StepOutput | None = None,
    error: str | None = None,
    log: Sequence[str] = (),
) -> None:
    """Write how a job's attempt ended."""
    job = db.get(PipelineJob, job_id)
    if job is None:
        return
    job.status = status
    if output is not None:
        job.outputs = output.model_dump(mode="json")
        job.progress = 1.0
    job.error = error[:4000] if error else None
    if log:
        job.log = ("\n".join(log))[-LOG_MAX_CHARS:]
    job.finished_at = job.updated_at = utcnow()
    db.add(job)
    db.commit()


def mark_jobs(
    db: Session, run_id: int, marks: Sequence[StepMark], *, commit: bool = True
) -> None:
    """Set the states the workflow decided (cancelled, failed by timeout)."""
    by_step = {m.step_id: m for m in marks}
    for job in jobs_of_run(db, run_id):
        mark = by_step.get(job.step_id)
        if mark is None or (job.status == mark.status and job.error == mark.error):
            continue
        job.status = mark.status
        if mark.error is not None:
            job.error = mark.error[:4000]
        job.finished_at = job.updated_at = utcnow()
        db.add(job)
    if commit:
        db.commit()


# --- presets ------------------------------------------------------------------------


def list_presets(
    db: Session, kind: str, *, limit: int = 100, offset: int = 0
) -> tuple[Sequence[PipelinePreset], int]:
    cond = PipelinePreset.kind == kind
    total = db.exec(select(func.count()).select_from(PipelinePreset).where(cond)).one()
    items = db.exec(
        select(PipelinePreset)
        .where(cond)
        .order_by(col(PipelinePreset.name))
        .offset(offset)
        .limit(limit)
    ).all()
    return items, total


def get_preset(db: Session, kind: str, preset_id: int) -> PipelinePreset | None:
    preset = db.get(PipelinePreset, preset_id)
    return preset if preset is not None and preset.kind == kind else None


def get_preset_by_name(db: Session, kind: str, name: str) -> PipelinePreset | None:
    return db.exec(
        select(PipelinePreset).where(
            PipelinePreset.kind == kind, PipelinePreset.name == name
        )
    ).first()


def save_preset(db: Session, preset: PipelinePreset) -> PipelinePreset:
    preset.updated_at = utcnow()
    db.add(preset)
    db.commit()
    db.refresh(preset)
    return preset


def delete_preset(db: Session, preset: PipelinePreset) -> None:
    db.delete(preset)
    db.commit()


def step_presets(db: Session) -> dict[str, StepPresetBody]:
    """Every step preset by name, as the validator wants them."""
    rows = db.exec(select(PipelinePreset).where(PipelinePreset.kind == "step")).all()
    out: dict[str, StepPresetBody] = {}
    for row in rows:
        try:
            out[row.name] = StepPresetBody.model_validate(row.body)
        except ValueError:
            continue  # a row edited by hand: the validator reports it as unknown
    return out


# --- uploads ------------------------------------------------------------------------


def _hash(destination: str) -> str:
    return hashlib.sha256(destination.encode()).hexdigest()


def upload_done(db: Session, destination: str, size_bytes: int) -> bool:
    """Whether `destination` was uploaded with this size (-1: any size)."""
    row = db.exec(
        select(PipelineUpload).where(
            PipelineUpload.destination_hash == _hash(destination)
        )
    ).first()
    return row is not None and (size_bytes < 0 or row.size_bytes == size_bytes)


def record_upload(
    db: Session, destination: str, local_path: str, size_bytes: int, job_id: int | None
) -> None:
    """Remember an upload (replacing an older record of the same destination)."""
    key = _hash(destination)
    row = db.exec(
        select(PipelineUpload).where(PipelineUpload.destination_hash == key)
    ).first()
    if row is None:
        row = PipelineUpload(
            destination_hash=key,
            destination=destination,
            local_path=local_path,
            size_bytes=size_bytes,
        )
    row.local_path, row.size_bytes, row.job_id = local_path, size_bytes, job_id
    row.uploaded_at = utcnow()
    db.add(row)
    db.commit()
