"""`/api/pipeline`: post-processing runs and their jobs (one per step).

Runs are `PipelineWorkflow`s; their rows and job rows are written by the pipeline
activities, so every read here comes from the DB. Commands (run, retry, cancel) go to
Temporal through `PipelineControl`.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, HTTPException, Query, status
from fastapi import Path as PathParam
from pydantic import ValidationError

from activities.contracts import MAX_ID
from activities.db import PipelineRun, crud, crud_pipeline, crud_sessions
from activities.pipeline_contracts import (
    PipelineContext,
    PipelineInput,
    PipelineSpec,
    ResolvedStep,
    RunStatus,
    pipeline_workflow_id,
)
from activities.pipeline_validate import check_pipeline
from api.deps import DbDep, PipelineControlDep, SettingsDep, temporal_errors
from api.params import BODY_RESPONSES, CONFLICT_RESPONSES, NOT_FOUND_RESPONSES
from api.schemas import Page
from api.schemas_pipeline import (
    JobPublic,
    RunDetail,
    RunPublic,
    RunRequest,
    RunStarted,
    StepsAccepted,
    Validation,
)
from workflows.pipeline_client import MixedHostsError, NothingToDoError, step_queues

if TYPE_CHECKING:
    from collections.abc import Awaitable

router = APIRouter(
    prefix="/pipeline",
    tags=["pipeline"],
    responses=BODY_RESPONSES | NOT_FOUND_RESPONSES | CONFLICT_RESPONSES,
)

Id = Annotated[int, PathParam(ge=1, le=MAX_ID)]
FilterId = Annotated[int | None, Query(ge=1, le=MAX_ID)]
Limit = Annotated[int, Query(ge=1, le=500)]
Offset = Annotated[int, Query(ge=0, le=MAX_ID)]


def resolve_or_422(db: DbDep, root: Path, spec: PipelineSpec) -> list[ResolvedStep]:
    """Validate a pipeline against the processors and stored step presets.

    Raises:
        HTTPException: 422 with every problem (step, field, message).
    """
    steps, problems = check_pipeline(
        spec, root=root, step_presets=crud_pipeline.step_presets(db)
    )
    if problems:
        # FastAPI's shape (loc, msg, type) for every client, and ours beside it
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            [
                {
                    "loc": ["body", *(x for x in (p.step, p.field) if x)],
                    "msg": p.message,
                    "type": "pipeline",
                    **p.model_dump(),
                }
                for p in problems
            ],
        )
    return steps


def _run(run: PipelineRun) -> RunPublic:
    return RunPublic.model_validate(run, from_attributes=True)


def found_run(db: DbDep, run_id: int) -> PipelineRun:
    run = crud_pipeline.get_run(db, run_id)
    if run is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "run not found")
    return run


def rerun_input(db: DbDep, run: PipelineRun) -> PipelineInput:
    """The input of a new execution of `run` that keeps its completed steps."""
    assert run.id is not None
    try:
        return PipelineInput(
            kind=run.kind,
            steps=[ResolvedStep.model_validate(s) for s in run.steps],
            inputs=run.inputs,
            context=PipelineContext.model_validate(run.context),
            carried=crud_pipeline.carried_outputs(db, run.id),
            cpu_queue=run.queues.get("cpu", "srec-cpu"),
            io_queue=run.queues.get("io", "srec-io"),
        )
    except ValidationError as err:
        raise HTTPException(
            status.HTTP_409_CONFLICT, "the run's stored steps no longer validate"
        ) from err


# --- runs ---------------------------------------------------------------------------


@router.post("/validate")
def validate(body: PipelineSpec, db: DbDep, settings: SettingsDep) -> Validation:
    """Check a pipeline: 200 with the resolved steps, or 422 with every problem."""
    return Validation(steps=resolve_or_422(db, settings.recordings_path, body))


@router.post("/run", status_code=status.HTTP_202_ACCEPTED)
async def run_now(
    body: RunRequest, db: DbDep, settings: SettingsDep, control: PipelineControlDep
) -> RunStarted:
    """Run a pipeline now on files of a session (idempotent with `key`)."""
    started, inp = await asyncio.to_thread(
        _prepare_run, db, settings.recordings_path, body
    )
    with temporal_errors():
        await control.start(started.workflow_id, inp)
    return started


def _prepare_run(
    db: DbDep, root: Path, body: RunRequest
) -> tuple[RunStarted, PipelineInput]:
    session = crud_sessions.get_session(db, body.session_id)
    if session is None or session.id is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "session not found")
    files, hosts = _chosen_files(db, root, body)
    try:
        queues = step_queues(hosts)
    except MixedHostsError as err:
        raise HTTPException(status.HTTP_409_CONFLICT, str(err)) from err
    spec = body.pipeline
    if spec is None:
        assert body.preset is not None
        row = crud_pipeline.get_preset_by_name(db, "pipeline", body.preset)
        if row is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "pipeline preset not found")
        try:
            spec = PipelineSpec.model_validate(row.body)
        except ValidationError as err:
            raise HTTPException(
                status.HTTP_409_CONFLICT, "the stored preset does not validate"
            ) from err
    steps = resolve_or_422(db, root, spec)
    streamer = crud.get_streamer(db, session.streamer_id)
    inp = PipelineInput(
        kind="manual",
        steps=steps,
        inputs=files,
        context=PipelineContext(
            streamer_id=session.streamer_id,
            streamer=streamer.name if streamer else "",
            platform=streamer.platform if streamer else "",
            session_id=session.id,
            title=session.title,
        ),
        # per-host placement: the steps run where the files are
        cpu_queue=queues["cpu"],
        io_queue=queues["io"],
    )
    workflow_id = pipeline_workflow_id("manual", body.key or uuid.uuid4().hex)
    run = crud_pipeline.create_run(db, workflow_id, inp)
    assert run.id is not None
    return RunStarted(run_id=run.id, workflow_id=workflow_id), inp


def _chosen_files(
    db: DbDep, root: Path, body: RunRequest
) -> tuple[list[str], list[str | None]]:
    """The run's files, and the hosts the chosen segments were recorded on."""
    rows = {s.index: s for s in crud_sessions.list_segments(db, body.session_id)}
    segments = {index: row.file_path for index, row in rows.items()}
    wanted = sorted(segments) if body.segments is None else body.segments
    missing = [i for i in wanted if i not in segments]
    if missing:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"the session has no segments {missing[:10]}",
        )
    files = [segments[i] for i in wanted]
    base = root.resolve()
    for path in body.files:
        full = (base / path).resolve()
        if not full.is_relative_to(base):
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                f"{path} is outside the recordings root",
            )
        files.append(str(full))
    if not files:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, "no files to process"
        )
    return list(dict.fromkeys(files)), [rows[i].host for i in wanted]


@router.get("/runs")
def list_runs(
    db: DbDep,
    status_: Annotated[RunStatus | None, Query(alias="status")] = None,
    kind: Annotated[str | None, Query(max_length=16)] = None,
    session_id: FilterId = None,
    streamer_id: FilterId = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[RunPublic]:
    """Runs, newest first."""
    items, total = crud_pipeline.list_runs(
        db,
        status=status_,
        kind=kind,
        session_id=session_id,
        streamer_id=streamer_id,
        limit=limit,
        offset=offset,
    )
    return Page(items=[_run(r) for r in items], total=total)


@router.get("/runs/{run_id}")
def get_run(run_id: Id, db: DbDep) -> RunDetail:
    """A run and its graph: each step with its dependencies, state and progress."""
    run = found_run(db, run_id)
    assert run.id is not None
    steps = [
        JobPublic.model_validate(j, from_attributes=True)
        for j in crud_pipeline.jobs_of_run(db, run.id)
    ]
    return RunDetail(**_run(run).model_dump(), steps=steps)


@router.post("/runs/{run_id}/retry", status_code=status.HTTP_202_ACCEPTED)
async def retry_run(
    run_id: Id, db: DbDep, control: PipelineControlDep
) -> StepsAccepted:
    """Re-run the failed and cancelled steps, keeping the completed steps' outputs."""
    run = await asyncio.to_thread(found_run, db, run_id)
    rerun = await asyncio.to_thread(rerun_input, db, run)
    return await command(control.retry(run.workflow_id, None, rerun))


@router.post("/runs/{run_id}/cancel", status_code=status.HTTP_202_ACCEPTED)
async def cancel_run(
    run_id: Id, db: DbDep, control: PipelineControlDep
) -> StepsAccepted:
    """Stop every running step and drop the pending ones."""
    run = await asyncio.to_thread(found_run, db, run_id)
    return await command(control.cancel(run.workflow_id, None))


async def command(call: Awaitable[list[str]]) -> StepsAccepted:
    with temporal_errors():
        try:
            steps = await call
        except NothingToDoError as err:
            raise HTTPException(status.HTTP_409_CONFLICT, str(err)) from err
    return StepsAccepted(step_ids=steps)
