"""SessionCompleteWorkflow: wait for a session's pipelines, then run the session's.

The streamer workflow starts it as a child when a session ends
(`start_session_pipeline`), with `ParentClosePolicy.ABANDON`: it outlives the
parent's continue-as-new. Its id is `session-complete-<session>`; the session's own
run, which it starts, is `pipeline-session-<session>`.

It never trusts a count it was told: each look (`pipeline.session_check`, a local
activity: one marker event) counts the session's segments, danmu files and runs in
the DB, and it starts the session run only once the session is closed there, every
file is final and every segment, danmu and pair run has finished. Looks back off
from `first_look_secs` to `max_look_secs` on a durable timer; a finished segment
or pair run wakes it early (`pipeline_finished`, whose payload is ignored), but
never more often than every `first_look_secs`. A look also starts again runs that
never started and pairs that are due, so a lost start does not stall the session.
After `limit_secs` it fails on purpose, saying what never finished.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError

with workflow.unsafe.imports_passed_through():
    from activities.contracts import (
        ERROR_SESSION_NEVER_FINAL,
        SESSION_COMPLETE_WORKFLOW_TYPE,
        SIGNAL_SESSION_WAKE,
        RecordingPolicy,
        SessionCheckInput,
        SessionCompleteInput,
        SessionCompleteResult,
        SessionStatus,
        SignalInput,
        session_complete_workflow_id,
    )
    from activities.pipeline_triggers import TriggerActivities

PATCH_SESSION_COMPLETE = "session-complete-child"
# a look reads a session's rows and may start a few runs
CHECK_TIMEOUT = timedelta(seconds=60)
CHECK_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=10,
)


@workflow.defn(name=SESSION_COMPLETE_WORKFLOW_TYPE)
class SessionCompleteWorkflow:
    def __init__(self) -> None:
        self._woken = False

    @workflow.run
    async def run(self, inp: SessionCompleteInput) -> SessionCompleteResult:
        waited, delay, looks = inp.waited_secs, inp.first_look_secs, 0
        while True:
            self._woken = False  # a wake during the look means: look again
            check = await workflow.execute_local_activity_method(
                TriggerActivities.session_check,
                SessionCheckInput(session_id=inp.session_id),
                start_to_close_timeout=CHECK_TIMEOUT,
                retry_policy=CHECK_RETRY,
            )
            looks += 1
            if check.status != SessionStatus.WAITING:
                return SessionCompleteResult(
                    started=check.started, looks=looks, reason=check.reason
                )
            if waited >= inp.limit_secs:
                raise ApplicationError(
                    f"session {inp.session_id} never finished: {check.reason}",
                    type=ERROR_SESSION_NEVER_FINAL,
                    non_retryable=True,
                )
            begun = workflow.now()
            try:
                await workflow.wait_condition(lambda: self._woken, timeout=delay)
                await workflow.sleep(inp.first_look_secs)  # a burst of wakes: one look
            except TimeoutError:
                delay = min(delay * 2, inp.max_look_secs)
            waited += (workflow.now() - begun).total_seconds()
            if workflow.info().is_continue_as_new_suggested():
                workflow.continue_as_new(inp.model_copy(update={"waited_secs": waited}))

    @workflow.signal(name=SIGNAL_SESSION_WAKE)
    def wake(self, inp: SignalInput | None = None) -> None:
        """A run of the session finished: look again soon."""
        del inp
        self._woken = True


def wants_waiter(policy: RecordingPolicy) -> bool:
    """Whether a session of this policy gets a waiter: any pipeline configured."""
    return any(
        p is not None
        for p in (
            policy.segment_pipeline,
            policy.paired_pipeline,
            policy.session_pipeline,
        )
    )


async def start_session_pipeline(session_id: int, policy: RecordingPolicy) -> bool:
    """Start a session's waiter from workflow code, once its session is closed.

    The streamer workflow calls it at its session-close point, after the session
    row is closed:

        await start_session_pipeline(session_id, self.config.policy)

    With no pipeline in `policy` it starts nothing and records nothing. Otherwise
    it costs the caller's history a patch marker and the child's two start events
    (and its completion, if the caller is still open then). The child is
    abandoned: it goes on through the caller's continue-as-new.

    Returns:
        Whether a waiter was started (or had been, for this session).
    """
    if not wants_waiter(policy) or not workflow.patched(PATCH_SESSION_COMPLETE):
        return False
    try:
        await workflow.start_child_workflow(
            SessionCompleteWorkflow.run,
            SessionCompleteInput(session_id=session_id),
            id=session_complete_workflow_id(session_id),
            parent_close_policy=workflow.ParentClosePolicy.ABANDON,
        )
    except WorkflowAlreadyStartedError:
        pass
    return True
