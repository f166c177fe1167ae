"""The poll activity: one long-running, heartbeating attempt per shard.

`PollActivities.poll_shard` runs `ShardPoller` for `run_secs`, then returns what
it has told its streamers (the `PollerWorkflow` runs it again). A task of its own
heartbeats every few seconds with that progress, and never waits on anything
else: a worker that dies stops heartbeating, and after the heartbeat timeout the
attempt is retried on another worker, which resumes from the last details instead
of signalling every streamer again.

It acts only for its own instance: a `PollShardInput` of another app database is
refused (`ForeignInstance`, retryable) before anything is read.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import timedelta
from typing import TYPE_CHECKING

from temporalio import activity
from temporalio.service import RPCError, RPCStatusCode

from activities.contracts import (
    ACTIVITY_POLL_SHARD,
    SIGNAL_DETECTED,
    PollShardInput,
    PollShardProgress,
    PollShardResult,
    streamer_workflow_id,
)
from activities.detect import DbOptionsProvider
from activities.poll.check import Checker
from activities.poll.profile import ProfileWriter
from activities.poll.roster import Roster
from activities.poll.shard import ShardPoller

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    import httpx
    import sqlalchemy as sa
    from temporalio.client import Client

    from activities.contracts import Detected
    from activities.platforms import PlatformRegistry
    from activities.platforms._generic_look import Fetch

log = logging.getLogger(__name__)

SIGNAL_RPC_TIMEOUT = timedelta(seconds=10)
MAX_HEARTBEAT_SECS = 5.0


class PollActivities:
    """Detection for shards of streamers (see the module docstring).

    Args:
        db: the app database.
        registry: the platform registry.
        http: the httpx client extractors get (the poller's own, over aiohttp).
        instance_id: this database's instance id, if already read.
        fetch: the generic fast path's GET (None: through `http`).
        client: the Temporal client that signals (default: the activity's).
        clock: wall-clock seconds (fake in tests).
    """

    def __init__(
        self,
        db: sa.Engine,
        registry: PlatformRegistry,
        http: httpx.AsyncClient,
        *,
        instance_id: str | None = None,
        fetch: Fetch | None = None,
        client: Callable[[], Client] = activity.client,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db = db
        self.registry = registry
        self.http = http
        # the live check's provider: its ownership check guards the shard too
        self.options = DbOptionsProvider(db, instance_id)
        self.fetch = fetch
        self.client = client
        self.clock = clock

    @activity.defn(name=ACTIVITY_POLL_SHARD)
    async def poll_shard(self, inp: PollShardInput) -> PollShardResult:
        """Poll one shard for `inp.run_secs`, signalling changes.

        Returns:
            What the shard's workflows were told (the next run carries it).

        Raises:
            ApplicationError: `ForeignInstance` when the shard belongs to another
                srec instance.
        """
        await asyncio.to_thread(self.options.owner.check, inp)
        instance_id = self.options.owner.instance_id
        roster = Roster(self.db, inp.shard, inp.shards, inp.states)
        poller = ShardPoller(
            lambda: asyncio.to_thread(roster.read),
            lambda: asyncio.to_thread(roster.marker),
            Checker(self.registry, self.http, self.fetch),
            self._signaller(instance_id),
            clock=self.clock,
            resignal_secs=inp.resignal_errors_secs,
            roster_check_secs=inp.roster_check_secs,
            profiles=ProfileWriter(self.db),
        )
        poller.memory.restore(_resumed(inp), self.clock())
        beat = asyncio.create_task(_heartbeat(poller))
        runner = asyncio.create_task(poller.run(self.clock() + inp.run_secs))
        shutdown = asyncio.create_task(activity.wait_for_worker_shutdown())
        try:
            await asyncio.wait([runner, shutdown], return_when=asyncio.FIRST_COMPLETED)
            if runner.done():
                runner.result()  # a bug in the loop fails the attempt, retried
        finally:
            for task in (runner, shutdown):
                task.cancel()
            await poller.close()
            beat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beat
        log.info(
            "shard %d/%d: %d check(s), %d signal(s) this run",
            inp.shard,
            inp.shards,
            poller.checks,
            poller.signals,
        )
        return PollShardResult(
            progress=poller.memory.progress(),
            checks=poller.checks,
            signals=poller.signals,
        )

    def _signaller(
        self, instance_id: str
    ) -> Callable[[int, Detected], Awaitable[bool]]:
        get_client = self.client

        async def signal(streamer_id: int, found: Detected) -> bool:
            workflow_id = streamer_workflow_id(streamer_id)
            payload = found.model_copy(update={"instance_id": instance_id})
            try:
                await (
                    get_client()
                    .get_workflow_handle(workflow_id)
                    .signal(SIGNAL_DETECTED, payload, rpc_timeout=SIGNAL_RPC_TIMEOUT)
                )
            except RPCError as err:
                if err.status == RPCStatusCode.NOT_FOUND:
                    # no workflow (yet): reconcile starts it; tell it next time
                    log.info(
                        "%s is not running: not told %s", workflow_id, found.outcome
                    )
                else:
                    log.warning("could not signal %s: %s", workflow_id, err)
                return False
            return True

        return signal


def _resumed(inp: PollShardInput) -> PollShardProgress | None:
    """The last heartbeat's progress (a retried attempt), else the carried one."""
    details = activity.info().heartbeat_details
    if details:
        try:
            return PollShardProgress.model_validate(details[0])
        except ValueError:
            log.warning("ignoring unreadable heartbeat details of the last attempt")
    return inp.carried


async def _heartbeat(poller: ShardPoller) -> None:
    """Heartbeat with the progress, every few seconds, whatever the loop does."""
    timeout = activity.info().heartbeat_timeout
    every = MAX_HEARTBEAT_SECS
    if timeout is not None:
        every = min(every, timeout.total_seconds() / 4)
    progress = poller.memory.progress()
    while True:
        if poller.memory.dirty:
            progress = poller.memory.progress()
        activity.heartbeat(progress)
        await asyncio.sleep(every)
