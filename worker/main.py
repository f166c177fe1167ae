"""The worker process: the composition root of every activity and workflow.

Lifecycle (uvicorn's): connect, build the dependencies once, run one Temporal worker
per task queue it serves (`--queues`, all three by default; `QUEUE_WORKERS` says
what each registers). A worker serving `workflows` then reconciles this instance's
streamer workflows with the DB (another srec instance's sharing the server are left
alone). Then it waits for SIGINT or SIGTERM. The first signal drains: workers stop
polling and running recordings get `graceful_shutdown_secs` to finalise their
files. A second signal exits at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlmodel import Session
from temporalio.worker import Worker

from activities.config.seed import read_seed, seed_global
from activities.contracts import (
    CPU_TASK_QUEUE,
    IO_TASK_QUEUE,
    SIGNAL_STOP,
    WORKFLOW_TASK_QUEUE,
    host_queue,
)
from activities.danmu_activity import DanmuActivities
from activities.db import app_instance_id, crud, make_engine, migrate
from activities.detect import DbOptionsProvider, DbProfiles, PlatformActivities
from activities.engines.network import network_access
from activities.engines.table import build_engines
from activities.fresh_urls import FreshUrls
from activities.guards import (
    CircuitBreaker,
    RecordingSlots,
    WriteGate,
    check_now_signaller,
)
from activities.guards.slots import DEFAULT_MAX_WAITERS
from activities.media import MediaActivities
from activities.notify import Dispatcher
from activities.pipeline import PipelineActivities
from activities.pipeline_triggers import PipelineTriggers, TriggerActivities
from activities.platforms import default_registry
from activities.poll.activity import PollActivities
from activities.processors import Tools
from activities.record import RecordingActivities
from activities.store import StoreActivities
from activities.tools import ffmpeg_executable, rclone_executable
from activities.triggers import Planner
from worker import metrics_server, notify_wiring, poll_wiring
from worker.http_client import build_http
from workflows.client import Reconciled, connect, reconcile
from workflows.pipeline import PipelineWorkflow
from workflows.session_complete import SessionCompleteWorkflow
from workflows.streamer import StreamerWorkflow

if TYPE_CHECKING:
    from collections.abc import Callable

    import sqlalchemy as sa
    from temporalio.client import Client

    from worker.settings import WorkerSettings

log = logging.getLogger("srec.worker")

IO_THREADS = 16
HEARTBEAT_THROTTLE = timedelta(seconds=2)
# how many foreign workflow ids a reconcile names in its warning
FOREIGN_SHOWN = 10


async def reconcile_streamers(
    client: Client, db: sa.Engine, instance_id: str
) -> Reconciled:
    """Every streamer in the DB has a running workflow; deleted ones have none.

    Only this instance's workflows are started or stopped: a streamer whose
    workflow id runs for another instance is named in a warning and left alone.
    """
    with Session(db) as session:
        rows, _ = crud.list_streamers(session)
        ids = [row.id for row in rows if row.id is not None]
    done = await reconcile(
        client, ids, instance_id=instance_id, stop_signal=SIGNAL_STOP
    )
    log.info(
        "reconciled: %d streamer workflow(s) already running, %d started, %d stopped",
        len(done.running),
        len(done.started),
        len(done.stopped),
    )
    if done.foreign:
        shown = list(done.foreign.items())[:FOREIGN_SHOWN]
        log.warning(
            "%d streamer(s) not monitored: their workflow ids run for another srec "
            "instance on this Temporal server, and are left alone: %s%s. Give each "
            "install its own Temporal server (or namespace).",
            len(done.foreign),
            ", ".join(f"streamer-{sid} (instance {owner})" for sid, owner in shown),
            ", …" if len(done.foreign) > len(shown) else "",
        )
    return done


def default_io_slots(settings: WorkerSettings) -> int:
    """srec-io's activity slots when `--io-slots` is not given.

    A worker may run every global recording slot, the attempts waiting for one,
    and the short sync activities (store, notify) beside them.
    """
    return (
        settings.max_concurrent_recordings
        + settings.high_priority_extra_slots
        + DEFAULT_MAX_WAITERS
        + IO_THREADS
    )


@dataclass
class Wiring:
    """What the queue workers are built from: one set per worker process."""

    client: Client
    settings: WorkerSettings
    io_pool: ThreadPoolExecutor
    cpu_pool: ThreadPoolExecutor
    platforms: PlatformActivities
    recording: RecordingActivities
    store: StoreActivities
    media: MediaActivities
    notifications: notify_wiring.Notifications
    pipeline: PipelineActivities
    triggers: TriggerActivities
    danmu: DanmuActivities
    polling: PollActivities
    # bench/monitoring.py stands a `detected` receiver in for StreamerWorkflow
    streamer_workflow: type = StreamerWorkflow

    @property
    def grace(self) -> timedelta:
        return timedelta(seconds=self.settings.graceful_shutdown_secs)

    @property
    def io_slots(self) -> int:
        return self.settings.io_slots or default_io_slots(self.settings)


def workflows_worker(w: Wiring) -> Worker:
    """srec-workflows: every workflow, and the pipelines' local activities."""
    pipeline_rows: list[Callable[..., Any]] = [
        w.pipeline.begin_run,
        w.pipeline.mark_steps,
        w.pipeline.finish_run,
        w.triggers.after_run,
        w.triggers.session_check,
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


# `--queues` short name -> the worker that serves it (worker.queues.QUEUES)
QUEUE_WORKERS: dict[str, Callable[[Wiring], Worker]] = {
    "workflows": workflows_worker,
    "io": io_worker,
    "cpu": cpu_worker,
}


async def run_worker(
    settings: WorkerSettings,
    shutdown: asyncio.Event,
    *,
    streamer_workflow: type = StreamerWorkflow,
) -> None:
    """Run a worker for each of `settings.queues` until `shutdown` is set, then drain.

    Args:
        settings: validated worker settings.
        shutdown: set to begin a graceful shutdown.
        streamer_workflow: the class registered as the streamer workflow
            (`bench/monitoring.py` stands a `detected` receiver in for it).
    """
    db = make_engine(settings.database_url)
    migrate(db)
    # the global configuration level: from SREC_* on the database's first start only
    seed_global(db, read_seed(), settings.recordings_path)
    with Session(db) as session:
        instance_id = app_instance_id(session)
    # the SDK's metrics on a loopback port that the worker's /metrics reads
    sdk_port = metrics_server.free_loopback_port() if settings.metrics_port else None
    client = await connect(
        settings.temporal_address,
        settings.temporal_namespace,
        runtime=metrics_server.sdk_runtime(sdk_port) if sdk_port else None,
    )
    log.info(
        "connected to Temporal at %s as srec instance %s",
        settings.temporal_address,
        instance_id,
    )
    # notifications: records events and starts their delivery (worker/notify_wiring)
    dispatcher = Dispatcher(db, lambda: client)
    gate = WriteGate(
        db,
        settings.recordings_path,
        cooldown_secs=settings.output_gate_cooldown_secs,
        signaller=check_now_signaller(lambda: client),
        events=dispatcher.dispatch_key,
    )
    # creates the root; a broken mount is reported now, not at the first recording
    await gate.startup()

    network = network_access()
    host_map = settings.host_routes
    async with (
        build_http(network, host_map=host_map) as http,
        contextlib.AsyncExitStack() as stack,
    ):
        # threads start on demand: sized like the slot count so a burst of sync
        # store activities never waits behind async recordings
        io_slots = settings.io_slots or default_io_slots(settings)
        if settings.metrics_port:
            await stack.enter_async_context(
                metrics_server.serve(
                    settings.metrics_host, settings.metrics_port, sdk_port
                )
            )
        options = DbOptionsProvider(db, instance_id)
        # each closed file starts its pipeline from the activity that closed it
        # per-host placement: the runs of files this worker records go to its host's
        # queues (settings.recording_host is None with shared storage)
        host = settings.recording_host
        planner = Planner(
            settings.recordings_path,
            cpu_queue=host_queue(CPU_TASK_QUEUE, host),
            io_queue=host_queue(IO_TASK_QUEUE, host),
        )
        triggers = PipelineTriggers(db, planner, client=lambda: client)
        recording = RecordingActivities(
            build_engines(
                http,
                # mapped hosts are reached through httpx only (tests' fake platforms)
                network=None if host_map else network,
                stop_timeout_secs=settings.engine_stop_timeout_secs,
            ),
            settings.recordings_path,
            db,
            slots=RecordingSlots(
                db,
                capacity=settings.max_concurrent_recordings,
                extra=settings.high_priority_extra_slots,
                wait_secs=settings.slot_wait_secs,
            ),
            breaker=CircuitBreaker(
                threshold=settings.breaker_failure_threshold,
                cooldown_secs=settings.breaker_cooldown_secs,
            ),
            gate=gate,
            instance_id=instance_id,
            fresh_urls=FreshUrls(http, default_registry(), options),
            triggers=triggers,
            host=host,
        )
        wiring = Wiring(
            client=client,
            settings=settings,
            io_pool=stack.enter_context(ThreadPoolExecutor(io_slots, "srec-io")),
            cpu_pool=stack.enter_context(
                ThreadPoolExecutor(settings.cpu_slots, "srec-cpu")
            ),
            platforms=PlatformActivities(
                http, default_registry(), options, DbProfiles(db)
            ),
            recording=recording,
            store=StoreActivities(
                db, instance_id=instance_id, pollers=settings.poll_shards > 0
            ),
            media=MediaActivities(db, instance_id=instance_id),
            notifications=notify_wiring.build(settings, dispatcher, client, http),
            # post-processing pipelines: run_step serves both step queues; the run
            # and job rows are activities of the workflow worker
            pipeline=PipelineActivities(
                db,
                settings.recordings_path,
                tools=Tools(ffmpeg=ffmpeg_executable(), rclone=rclone_executable()),
            ),
            triggers=TriggerActivities(triggers),
            # a session's chat, one activity per session
            danmu=DanmuActivities(
                db,
                http,
                default_registry(),
                options=options,
                dispatcher=dispatcher,
                host_map=host_map,
                instance_id=instance_id,
                triggers=triggers,
            ),
            # detection: shard pollers signal waiting workflows
            polling=await stack.enter_async_context(
                poll_wiring.polling(
                    settings, db, default_registry(), http, network, instance_id
                )
            ),
            streamer_workflow=streamer_workflow,
        )
        workers = [QUEUE_WORKERS[name](wiring) for name in settings.queue_names]
        workers += host_workers(wiring)
        for w in workers:
            await stack.enter_async_context(w)
        log.info("worker polling %s", ", ".join(w.task_queue for w in workers))
        await wiring.notifications.started()  # maintenance schedule, system_startup
        if "workflows" in settings.queue_names:
            # the worker that runs the streamer workflows keeps them in step
            try:
                await reconcile_streamers(client, db, instance_id)
            except Exception:
                # the DB or Temporal hiccuped; the next start reconciles again
                log.exception("reconcile failed")
            try:
                await poll_wiring.start_pollers(client, settings, instance_id)
            except Exception:
                # the next worker start tries again; running pollers keep polling
                log.exception("starting the shard pollers failed")
        await shutdown.wait()
        await wiring.notifications.stopping()  # system_shutdown, still polling
        log.info(
            "shutting down: %d recording(s) interrupted, finalising their files",
            recording.active_recordings,
        )
    db.dispose()
    log.info("worker stopped")


def main(settings: WorkerSettings) -> None:
    """Entry point of `srec worker`: run until SIGINT/SIGTERM."""

    async def _main() -> None:
        shutdown = asyncio.Event()
        loop = asyncio.get_running_loop()

        def _on_signal() -> None:
            if shutdown.is_set():
                log.warning("second signal: exiting now")
                os._exit(1)
            shutdown.set()

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, _on_signal)
        await run_worker(settings, shutdown)

    asyncio.run(_main())
