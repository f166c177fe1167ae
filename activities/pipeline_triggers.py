"""Starting the runs the triggers plan, and the two activities of the triggers.

`PipelineTriggers` is what the recording sink (`segments.SegmentRows`) and the danmu
activity (`danmu_run.DanmuRun`) call as a file closes: it plans in the caller's DB
transaction (`plan_file`, before the file's row is closed) and starts the run
afterwards, or checks the pair when the file has no run. A start that fails is
logged, not raised: the run's row stays PENDING and the session's waiter starts
it again (`session_check`). Nothing here touches a streamer workflow's history.

`TriggerActivities`:

* `pipeline.after_run`, a local activity of `PipelineWorkflow` once a segment,
  danmu or pair run settled: checks the pair (its own run row is already
  written, so the last side to finish sees both done) and wakes the session's
  waiter;
* `pipeline.session_check`, the session-complete waiter's one look: counts the
  session's files and runs from the DB, starts again runs that never started and
  pairs that are due but not started, and when everything finished starts the
  session run (`pipeline-session-<s>`).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session
from temporalio import activity
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from activities.contracts import (
    ACTIVITY_AFTER_RUN,
    ACTIVITY_SESSION_CHECK,
    SESSION_PART_KINDS,
    SIDE_KINDS,
    SIGNAL_SESSION_WAKE,
    WORKFLOW_TASK_QUEUE,
    AfterRunInput,
    AfterRunResult,
    RunKind,
    SessionCheck,
    SessionCheckInput,
    SessionStatus,
    session_complete_workflow_id,
    trigger_workflow_id,
)
from activities.db import crud_danmu, crud_sessions, crud_triggers
from activities.db.crud_pipeline import TERMINAL_RUN, get_run_by_workflow
from activities.pipeline_contracts import PIPELINE_WORKFLOW_TYPE, RunStatus
from activities.triggers import RunPlan, input_of

if TYPE_CHECKING:
    from collections.abc import Callable

    import sqlalchemy as sa
    from temporalio.client import Client

    from activities.pipeline_contracts import PipelineInput
    from activities.triggers import Planner

log = logging.getLogger(__name__)

RPC_TIMEOUT = timedelta(seconds=10)
T = TypeVar("T")


async def start_run(
    client: Client,
    workflow_id: str,
    inp: PipelineInput,
    *,
    task_queue: str = WORKFLOW_TASK_QUEUE,
) -> None:
    """Start a pipeline run unless it runs or ran already (idempotent)."""
    try:
        await client.start_workflow(
            PIPELINE_WORKFLOW_TYPE,
            inp,
            id=workflow_id,
            task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            rpc_timeout=RPC_TIMEOUT,
        )
    except WorkflowAlreadyStartedError:
        pass


class PipelineTriggers:
    """Plans and starts the triggers' runs for one worker.

    Args:
        db: the app database engine.
        planner: decides the runs and writes their rows.
        client: the Temporal client (default: the running activity's).
        task_queue: the workflow task queue the runs go to.
    """

    def __init__(
        self,
        db: sa.Engine,
        planner: Planner,
        *,
        client: Callable[[], Client] = activity.client,
        task_queue: str = WORKFLOW_TASK_QUEUE,
    ) -> None:
        self.db = db
        self.planner = planner
        self.client = client
        self.task_queue = task_queue

    def plan_file(
        self, db: Session, kind: RunKind, session_id: int, index: int, path: str
    ) -> RunPlan | None:
        """Plan a closed file's run in the caller's transaction (never raises).

        Called before the file's row is closed; a failure here must not keep the
        row open, so it is logged and the file simply gets no run.
        """
        try:
            return self.planner.file_closed(db, kind, session_id, index, path)
        except (SQLAlchemyError, ValueError, OSError) as err:
            db.rollback()
            log.error("no pipeline for %s %d/%d: %s", kind, session_id, index, err)
            return None

    async def file_closed(
        self, session_id: int, index: int, plan: RunPlan | None
    ) -> None:
        """After the file's row closed: start its run, or check its pair."""
        if plan is not None:
            await self.start(plan)
        else:
            await self.pair(session_id, index)

    async def pair(self, session_id: int, index: int) -> str | None:
        """Start pair `index` if it is due; return its id when it was."""
        plan = await asyncio.to_thread(
            self._in_db, self.planner.pair, session_id, index
        )
        if plan is None:
            return None
        await self.start(plan)
        return plan.workflow_id

    async def start(self, plan: RunPlan) -> bool:
        """Start a planned run (False: it could not be, its row stays PENDING)."""
        try:
            await start_run(
                self.client(),
                plan.workflow_id,
                plan.pipeline,
                task_queue=self.task_queue,
            )
        except (RPCError, RuntimeError, TimeoutError) as err:
            log.warning("could not start %s: %s", plan.workflow_id, err)
            return False
        return True

    async def wake(self, session_id: int) -> None:
        """Tell the session's waiter to look again (if it waits: else nothing)."""
        handle = self.client().get_workflow_handle(
            session_complete_workflow_id(session_id)
        )
        try:
            await handle.signal(SIGNAL_SESSION_WAKE, rpc_timeout=RPC_TIMEOUT)
        except RPCError as err:
            if err.status != RPCStatusCode.NOT_FOUND:
                log.info("could not wake the waiter of session %d: %s", session_id, err)
        except (RuntimeError, TimeoutError) as err:
            log.info("could not wake the waiter of session %d: %s", session_id, err)

    def _in_db(self, fn: Callable[..., T | None], *args: Any) -> T | None:
        try:
            with Session(self.db) as db:
                return fn(db, *args)
        except SQLAlchemyError as err:
            log.error("pipeline trigger %s%s: database: %s", fn.__name__, args, err)
            return None

    def session_state(
        self, db: Session, session_id: int
    ) -> tuple[SessionStatus, str, list[RunPlan]]:
        """Whether a session's runs all finished, counted from the rows.

        Returns:
            The status, what it still waits for, and the runs to start again
            (PENDING rows that never started, due pairs without a row).
        """
        session = crud_sessions.get_session(db, session_id)
        if session is None:
            return SessionStatus.GONE, "the session was deleted", []
        if session.end_time is None:
            return SessionStatus.WAITING, "the session is still recording", []
        segments = crud_sessions.list_segments(db, session_id)
        danmu = crud_danmu.list_files(db, session_id)
        open_files = [f"segment {s.index}" for s in segments if s.completed_at is None]
        open_files += [f"danmu file {f.index}" for f in danmu if f.closed_at is None]
        if open_files:
            return SessionStatus.WAITING, f"{open_files[0]} is not final", []
        runs = crud_triggers.session_runs(db, session_id, list(SESSION_PART_KINDS))
        repairs = [
            RunPlan(r.workflow_id, input_of(r))
            for r in runs
            if r.status == RunStatus.PENDING
        ]
        unfinished = [r.workflow_id for r in runs if r.status not in TERMINAL_RUN]
        about = self.planner.about(db, session_id)
        if about is not None and about.policy.paired_pipeline is not None:
            have = {r.workflow_id for r in runs}
            by_index = {s.index: s for s in segments}
            for f in danmu:
                if trigger_workflow_id(RunKind.PAIR, session_id, f.index) in have:
                    continue
                plan = self.planner.pair_of(
                    db, about, f.index, by_index.get(f.index), f
                )
                if plan is not None:
                    repairs.append(plan)
                    unfinished.append(plan.workflow_id)
        if unfinished:
            what = f"{len(unfinished)} run(s) have not finished ({unfinished[0]}, ...)"
            return SessionStatus.WAITING, what, repairs
        return SessionStatus.READY, "", repairs


class TriggerActivities:
    """The activities of the triggers (registered on the workflow worker).

    Args:
        triggers: plans and starts the runs.
    """

    def __init__(self, triggers: PipelineTriggers) -> None:
        self.triggers = triggers

    @activity.defn(name=ACTIVITY_AFTER_RUN)
    async def after_run(self, inp: AfterRunInput) -> AfterRunResult:
        """A segment, danmu or pair run settled: check its pair, wake the waiter."""
        started = None
        session, index = inp.session_id, inp.segment_index
        if session is None:
            return AfterRunResult()
        if inp.kind in SIDE_KINDS and index is not None:
            started = await self.triggers.pair(session, index)
        # during the recording nobody waits yet: no signal to a missing workflow
        if inp.kind in SESSION_PART_KINDS and await asyncio.to_thread(
            self._ended, session
        ):
            await self.triggers.wake(session)
        return AfterRunResult(started=started)

    def _ended(self, session_id: int) -> bool:
        try:
            with Session(self.triggers.db) as db:
                row = crud_sessions.get_session(db, session_id)
                return row is not None and row.end_time is not None
        except SQLAlchemyError as err:
            log.warning("session %d: database: %s", session_id, err)
            return True

    @activity.defn(name=ACTIVITY_SESSION_CHECK)
    async def session_check(self, inp: SessionCheckInput) -> SessionCheck:
        """One look at a session's runs (see the module docstring).

        Raises:
            ApplicationError: the session run is planned but could not be started
                (retryable: the next attempt starts it from its row).
        """
        t = self.triggers

        def look() -> tuple[SessionStatus, str, list[RunPlan]]:
            with Session(t.db) as db:
                return t.session_state(db, inp.session_id)

        status, reason, repairs = await asyncio.to_thread(look)
        repaired = 0
        for again in repairs:
            repaired += await t.start(again)
        result = SessionCheck(status=status, reason=reason, repaired=repaired)
        if status != SessionStatus.READY or not inp.start:
            return result
        plan = await asyncio.to_thread(self._session_run, inp.session_id)
        if plan is not None and not await t.start(plan):
            raise ApplicationError(f"could not start {plan.workflow_id}")
        wid = trigger_workflow_id(RunKind.SESSION, inp.session_id, None)
        exists = plan is not None or await asyncio.to_thread(self._has_run, wid)
        return result.model_copy(update={"started": wid if exists else None})

    def _session_run(self, session_id: int) -> RunPlan | None:
        with Session(self.triggers.db) as db:
            return self.triggers.planner.session_run(db, session_id)

    def _has_run(self, workflow_id: str) -> bool:
        with Session(self.triggers.db) as db:
            return get_run_by_workflow(db, workflow_id) is not None
