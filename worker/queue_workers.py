"""One Temporal `Worker` per task queue, built from a process's `Wiring`.

`QUEUE_WORKERS` maps each `--queues` short name (`worker.queues.QUEUES`) to the
function that builds its worker: what it registers, on which thread pool, with how
many slots. `host_workers` adds the per-host queues of per-host placement.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from temporalio.worker import Worker

from activities.contracts import (
    CPU_TASK_QUEUE,
    IO_TASK_QUEUE,
    WORKFLOW_TASK_QUEUE,
    host_queue,
)
from worker import notify_wiring, poll_wiring
from workflows.pipeline import PipelineWorkflow
from workflows.session_complete import SessionCompleteWorkflow

if TYPE_CHECKING:
    from collections.abc import Callable

    from worker.wiring import Wiring

HEARTBEAT_THROTTLE = timedelta(seconds=2)


def workflows_worker(w: Wiring) -> Worker:
    """srec-workflows: every workflow, and the pipelines' local activities (rows,
    pair checks, notification events)."""
    pipeline_rows: list[Callable[..., Any]] = [
        w.pipeline.begin_run,
        w.pipeline.mark_steps,
        w.pipeline.finish_run,
        w.triggers.after_run,
        w.triggers.session_check,
        w.notifications.notify.record_event,  # a pipeline run's events
    ]
    return Worker(
        w.client,
        task_queue=WORKFLOW_TASK_QUEUE,
        workflows=[
            w.streamer_workflow,
            PipelineWorkflow,
            SessionCompleteWorkflow,
            *notify_wiring.WORKFLOWS,
            *poll_wiring.WORKFLOWS,
        ],
        activities=pipeline_rows,
        activity_executor=w.io_pool,
        graceful_shutdown_timeout=w.grace,
    )


def io_worker(w: Wiring) -> Worker:
    """srec-io: detection (shard pollers too), recording, store, notify, io steps."""
    return Worker(
        w.client,
        task_queue=IO_TASK_QUEUE,
        activities=[
            w.platforms.check_live,
            w.recording.record_stream,
            w.store.load_streamer,
            w.store.project_state,
            w.store.open_session,
            w.store.close_session,
            *w.notifications.activities(),
            w.pipeline.run_step,
            w.danmu.record_danmu,
            w.polling.poll_shard,
        ],
        activity_executor=w.io_pool,
        # cancellation (pause, stop) reaches a recording only with a heartbeat
        # response: send heartbeats often enough to stop promptly
        max_heartbeat_throttle_interval=HEARTBEAT_THROTTLE,
        default_heartbeat_throttle_interval=HEARTBEAT_THROTTLE,
        max_concurrent_activities=w.io_slots,
        graceful_shutdown_timeout=w.grace,
    )


def cpu_worker(w: Wiring) -> Worker:
    """srec-cpu: media checks and the ffmpeg pipeline steps, `cpu_slots` at once."""
    return Worker(
        w.client,
        task_queue=CPU_TASK_QUEUE,
        activities=[w.media.probe_segment, w.pipeline.run_step],
        activity_executor=w.cpu_pool,
        max_concurrent_activities=w.settings.cpu_slots,
        graceful_shutdown_timeout=w.grace,
    )


def host_workers(w: Wiring) -> list[Worker]:
    """srec-cpu@<host> and srec-io@<host>: steps on the files of this host's disk.

    Only with per-host placement, on a worker that records (`recording_host`).
    """
    host = w.settings.recording_host
    if host is None:
        return []
    return [
        Worker(
            w.client,
            task_queue=host_queue(CPU_TASK_QUEUE, host),
            activities=[w.media.probe_segment, w.pipeline.run_step],
            activity_executor=w.cpu_pool,
            max_concurrent_activities=w.settings.cpu_slots,
            graceful_shutdown_timeout=w.grace,
        ),
        Worker(
            w.client,
            task_queue=host_queue(IO_TASK_QUEUE, host),
            activities=[w.pipeline.run_step],
            activity_executor=w.io_pool,
            max_heartbeat_throttle_interval=HEARTBEAT_THROTTLE,
            default_heartbeat_throttle_interval=HEARTBEAT_THROTTLE,
            graceful_shutdown_timeout=w.grace,
        ),
    ]


# `--queues` short name -> the worker that serves it (worker.queues.QUEUES)
QUEUE_WORKERS: dict[str, Callable[[Wiring], Worker]] = {
    "workflows": workflows_worker,
    "io": io_worker,
    "cpu": cpu_worker,
}


def build_workers(w: Wiring) -> list[Worker]:
    """The workers of every queue in `settings.queue_names`, then the host ones."""
    workers = [QUEUE_WORKERS[name](w) for name in w.settings.queue_names]
    return workers + host_workers(w)
