"""PollerWorkflow: keeps one shard of an instance's streamers polled, forever.

One per shard (`poller-<instance id>-<shard>`), started idempotently at every
worker start. It runs `PollActivities.poll_shard` on the io queue with a short
heartbeat timeout and unlimited retries: a worker that dies stops heartbeating,
and the attempt is retried on another worker within the heartbeat timeout, from
the last heartbeat's progress. Each run returns after `run_secs` with what it told
its streamers, which the next run carries; the history grows by a handful of
events per run and continues as new when the server suggests it.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities import contracts as c
    from activities.poll import PollActivities

# Retried for as long as it takes; quickly at first, so a lost worker's shard
# resumes within the heartbeat timeout plus a second.
POLL_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=0,
)
# A run that outlives `run_secs` by this much is stuck: it is retried.
RUN_MARGIN = timedelta(minutes=5)


@workflow.defn(name=c.POLLER_WORKFLOW_TYPE)
class PollerWorkflow:
    """Runs the shard's poll activity again and again (see the module docstring)."""

    @workflow.run
    async def run(self, inp: c.PollerWorkflowInput) -> None:
        carried = inp.carried
        while True:
            result = await workflow.execute_activity_method(
                PollActivities.poll_shard,
                c.PollShardInput(
                    instance_id=inp.instance_id,
                    shard=inp.shard,
                    shards=inp.shards,
                    run_secs=inp.run_secs,
                    carried=carried,
                ),
                task_queue=c.IO_TASK_QUEUE,
                start_to_close_timeout=timedelta(seconds=inp.run_secs) + RUN_MARGIN,
                heartbeat_timeout=timedelta(seconds=inp.heartbeat_timeout_secs),
                retry_policy=POLL_RETRY,
            )
            carried = result.progress
            if workflow.info().is_continue_as_new_suggested():
                workflow.continue_as_new(inp.model_copy(update={"carried": carried}))
