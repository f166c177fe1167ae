"""What a pipeline run of the triggers does once it has settled.

A segment or danmu run may be the last side of its pair to finish, and every
segment, danmu or pair run may be the last one its session's waiter waits for:
`pipeline.after_run` (a local activity: one marker in the run's own history, none in
the streamer's) checks the pair in the DB and wakes the waiter. Behind a patch, so
runs that settled before this existed replay unchanged. A failure is only logged:
the session's waiter finds due pairs itself. A run of today's shape (`lean`, see
`workflows.pipeline`) asks no patch.
"""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.contracts import SESSION_PART_KINDS, AfterRunInput
    from activities.pipeline_contracts import PipelineInput
    from activities.pipeline_triggers import TriggerActivities
    from workflows import pipeline_options as o

PATCH_AFTER_RUN = "pipeline-after-run"


async def after_run(inp: PipelineInput, *, lean: bool) -> None:
    """Run `pipeline.after_run` for a segment, danmu or pair run."""
    if inp.kind not in SESSION_PART_KINDS or inp.context.session_id is None:
        return
    if not (lean or workflow.patched(PATCH_AFTER_RUN)):
        return
    try:
        await workflow.execute_local_activity_method(
            TriggerActivities.after_run,
            AfterRunInput(
                workflow_id=workflow.info().workflow_id,
                kind=inp.kind,
                session_id=inp.context.session_id,
                segment_index=inp.context.segment_index,
            ),
            start_to_close_timeout=o.AFTER_RUN_TIMEOUT,
            retry_policy=o.AFTER_RUN_RETRY,
        )
    except ActivityError as err:
        workflow.logger.warning("after-run check failed: %s", err.cause or err)
