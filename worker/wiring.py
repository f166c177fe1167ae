"""The worker's dependencies, built once per process: `Wiring` and `build_wiring`.

Each activity class gets what it holds (DB engine, the shared HTTP client, engines,
guards, the pipeline triggers) here, and nowhere else; `worker.queue_workers`
registers their bound methods on the queue workers.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from activities.contracts import CPU_TASK_QUEUE, IO_TASK_QUEUE, host_queue
from activities.danmu_activity import DanmuActivities
from activities.detect import DbOptionsProvider, DbProfiles, PlatformActivities
from activities.engines.table import build_engines
from activities.fresh_urls import FreshUrls
from activities.guards import CircuitBreaker, RecordingSlots
from activities.guards.slots import DEFAULT_MAX_WAITERS
from activities.media import MediaActivities
from activities.pipeline import PipelineActivities
from activities.pipeline_triggers import PipelineTriggers, TriggerActivities
from activities.platforms import default_registry
from activities.poll.activity import PollActivities
from activities.processors import Tools
from activities.record import RecordingActivities
from activities.segment_events import SegmentEvents
from activities.store import StoreActivities
from activities.tools import ffmpeg_executable, rclone_executable
from activities.triggers import Planner
from worker import notify_wiring, poll_wiring

if TYPE_CHECKING:
    import contextlib

    import httpx
    import sqlalchemy as sa
    from temporalio.client import Client

    from activities.engines.network import NetworkAccess
    from activities.guards import WriteGate
    from activities.notify import Dispatcher
    from worker.settings import WorkerSettings

IO_THREADS = 16


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
    streamer_workflow: type

    @property
    def grace(self) -> timedelta:
        return timedelta(seconds=self.settings.graceful_shutdown_secs)

    @property
    def io_slots(self) -> int:
        return self.settings.io_slots or default_io_slots(self.settings)


@dataclass
class Shared:
    """What the worker process made before the wiring: its outside connections."""

    settings: WorkerSettings
    db: sa.Engine
    client: Client
    http: httpx.AsyncClient
    network: NetworkAccess
    instance_id: str
    dispatcher: Dispatcher
    gate: WriteGate


def _recording(
    s: Shared, options: DbOptionsProvider, triggers: PipelineTriggers
) -> RecordingActivities:
    settings, host_map = s.settings, s.settings.host_routes
    return RecordingActivities(
        build_engines(
            s.http,
            # mapped hosts are reached through httpx only (tests' fake platforms)
            network=None if host_map else s.network,
            stop_timeout_secs=settings.engine_stop_timeout_secs,
        ),
        settings.recordings_path,
        s.db,
        slots=RecordingSlots(
            s.db,
            capacity=settings.max_concurrent_recordings,
            extra=settings.high_priority_extra_slots,
            wait_secs=settings.slot_wait_secs,
        ),
        breaker=CircuitBreaker(
            threshold=settings.breaker_failure_threshold,
            cooldown_secs=settings.breaker_cooldown_secs,
        ),
        gate=s.gate,
        instance_id=s.instance_id,
        fresh_urls=FreshUrls(s.http, default_registry(), options),
        triggers=triggers,
        host=settings.recording_host,
        events=SegmentEvents(s.dispatcher.dispatch_key),
    )


async def build_wiring(
    s: Shared, stack: contextlib.AsyncExitStack, streamer_workflow: type
) -> Wiring:
    """Build every activity class once; pools and pollers close with `stack`.

    Args:
        s: the process's connections and settings.
        stack: owns the thread pools and the poll activities' HTTP.
        streamer_workflow: the class registered as the streamer workflow.
    """
    settings, db, client, http = s.settings, s.db, s.client, s.http
    options = DbOptionsProvider(db, s.instance_id)
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
    # threads start on demand: sized like the slot count so a burst of sync
    # store activities never waits behind async recordings
    io_slots = settings.io_slots or default_io_slots(settings)
    return Wiring(
        client=client,
        settings=settings,
        io_pool=stack.enter_context(ThreadPoolExecutor(io_slots, "srec-io")),
        cpu_pool=stack.enter_context(
            ThreadPoolExecutor(settings.cpu_slots, "srec-cpu")
        ),
        platforms=PlatformActivities(http, default_registry(), options, DbProfiles(db)),
        recording=_recording(s, options, triggers),
        store=StoreActivities(
            db, instance_id=s.instance_id, pollers=settings.poll_shards > 0
        ),
        media=MediaActivities(db, instance_id=s.instance_id),
        notifications=notify_wiring.build(settings, s.dispatcher, client, http),
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
            dispatcher=s.dispatcher,
            host_map=settings.host_routes,
            instance_id=s.instance_id,
            triggers=triggers,
        ),
        # detection: shard pollers signal waiting workflows
        polling=await stack.enter_async_context(
            poll_wiring.polling(
                settings, db, default_registry(), http, s.network, s.instance_id
            )
        ),
        streamer_workflow=streamer_workflow,
    )
