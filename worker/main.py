"""The worker process: the composition root of every activity and workflow.

Lifecycle (uvicorn's): connect, build the dependencies once (`worker.wiring`), run
one Temporal worker per task queue it serves (`--queues`, all three by default;
`worker.queue_workers.QUEUE_WORKERS` says what each registers). A worker serving
`workflows` then reconciles this instance's streamer workflows with the DB (another
srec instance's sharing the server are left alone), and again every
`reconcile_interval_secs` (`keep_in_step`). Then it waits for SIGINT or
SIGTERM. The first signal drains: workers stop polling and running recordings get
`graceful_shutdown_secs` to finalise their files. A second signal exits at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from pathlib import Path
from typing import TYPE_CHECKING

from sqlmodel import Session

import workflows
from activities.config.seed import read_seed, seed_global
from activities.contracts import SIGNAL_STOP
from activities.db import app_instance_id, crud, make_engine, migrate
from activities.engines.network import network_access
from activities.guards import WriteGate, check_now_signaller
from activities.notify import Dispatcher
from worker import bytecode, metrics_server, poll_wiring
from worker.http_client import build_http
from worker.queue_workers import build_workers
from worker.wiring import Shared, build_wiring
from workflows.client import Reconciled, connect, reconcile
from workflows.streamer import StreamerWorkflow

if TYPE_CHECKING:
    import sqlalchemy as sa
    from temporalio.client import Client

    from worker.settings import WorkerSettings

log = logging.getLogger("srec.worker")

# how many foreign workflow ids a reconcile names in its warning
FOREIGN_SHOWN = 10


async def reconcile_streamers(
    client: Client, db: sa.Engine, instance_id: str
) -> Reconciled:
    """Every streamer in the DB has a running workflow; deleted ones have none.

    Only this instance's workflows are started or stopped: a streamer whose
    workflow id runs for another instance is named in a warning and left alone.
    """

    def read() -> list[int]:
        with Session(db) as session:
            rows, _ = crud.list_streamers(session)
            return [row.id for row in rows if row.id is not None]

    async def existing() -> list[int]:
        return await asyncio.to_thread(read)

    done = await reconcile(
        client, existing, instance_id=instance_id, stop_signal=SIGNAL_STOP
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
    if "workflows" in settings.queue_names:
        # the sandbox imports these again for every workflow instance it creates
        bytecode.warm(Path(workflows.__file__).parent, settings.data_dir / "pycache")
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
    async with (
        build_http(network, host_map=settings.host_routes) as http,
        contextlib.AsyncExitStack() as stack,
    ):
        if settings.metrics_port:
            await stack.enter_async_context(
                metrics_server.serve(
                    settings.metrics_host, settings.metrics_port, sdk_port
                )
            )
        shared = Shared(
            settings=settings,
            db=db,
            client=client,
            http=http,
            network=network,
            instance_id=instance_id,
            dispatcher=dispatcher,
            gate=gate,
        )
        wiring = await build_wiring(shared, stack, streamer_workflow)
        workers = build_workers(wiring)
        for w in workers:
            await stack.enter_async_context(w)
        log.info("worker polling %s", ", ".join(w.task_queue for w in workers))
        await wiring.notifications.started()  # maintenance schedule, system_startup
        rounds = None
        if "workflows" in settings.queue_names:
            # the worker that runs the streamer workflows keeps them in step
            rounds = await keep_in_step(client, db, settings, instance_id)
        await shutdown.wait()
        if rounds is not None:
            rounds.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await rounds
        await wiring.notifications.stopping()  # system_shutdown, still polling
        log.info(
            "shutting down: %d recording(s) interrupted, finalising their files",
            wiring.recording.active_recordings,
        )
    db.dispose()
    log.info("worker stopped")


async def keep_in_step(
    client: Client,
    db: sa.Engine,
    settings: WorkerSettings,
    instance_id: str,
) -> asyncio.Task[None]:
    """Reconcile and ensure the pollers now, then every `reconcile_interval_secs`.

    Returns after the first round, with the task of the later ones (the caller
    cancels it when the worker stops). A round
    that fails (the DB or Temporal hiccuped) is logged and the next one tries
    again: a streamer the API saved while Temporal could not start its workflow
    is monitored within one interval, without a restart.
    """

    async def one_round() -> None:
        try:
            await reconcile_streamers(client, db, instance_id)
        except Exception:
            log.exception("reconcile failed")
        try:
            await poll_wiring.start_pollers(client, settings, instance_id)
        except Exception:
            # running pollers keep polling; the next round tries again
            log.exception("starting the shard pollers failed")

    async def rounds() -> None:
        while True:
            await asyncio.sleep(settings.reconcile_interval_secs)
            await one_round()

    await one_round()
    return asyncio.create_task(rounds(), name="reconcile rounds")


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
