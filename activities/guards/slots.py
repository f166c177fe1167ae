"""The global recording limit: slot leases in the app DB, shared by every worker.

`capacity` slots (`SREC_MAX_CONCURRENT_RECORDINGS`) may be used by any streamer,
`extra` more (`SREC_HIGH_PRIORITY_EXTRA_SLOTS`) only by high-priority streamers. A
slot is a row in `recording_slot` (see `crud_guards.acquire_recording_slot`): taken
in one locked transaction, so the limit holds across processes and hosts; kept alive
by the recording's heartbeat task (`SlotLease.renew_if_due`); deleted when the
recording ends. A worker that dies leaves a lease that expires after `ttl` and is
then reclaimed by the next acquirer, unless the dead attempt's retry adopts it
first (the holder is the streamer workflow id, so a retry is the same holder).

Waiting: when no slot is free, the record activity waits for one inside the
activity, heartbeating, queued in the same table (priority first, then arrival), for
up to `wait_secs`. It polls the table every `poll_secs` (a read; the locked
transaction runs only when a slot may be free or the queue place needs renewing)
and wakes at once when a recording of this process ends. So a freed slot is taken
within `poll_secs`, the workflow's history does not grow while it waits (a
fail-fast-and-retry loop would add events for every attempt), and cancellation
(pause, stop) still arrives through the heartbeat.

After `wait_secs` the activity gives up with `NoRecordingSlotError`; the workflow
re-checks that the stream is still live, and records again with a fresh stream URL
(signed URLs expire while queued). A queue place lives `queue_ttl` (15 s) past its
last renewal, so the next attempt keeps it if it comes back in time, and a waiter
that went away (stream ended, worker died) holds nobody back for longer.

A process that already has `max_waiters` waiting attempts does not wait at all (it
refuses with a retry delay): each waiting attempt occupies one of the worker's
activity slots, which detection and DB activities need too.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlmodel import Session

from activities.contracts import Priority
from activities.db import crud_guards
from activities.db.tables import utcnow
from activities.engines.base import finish_uncancelled
from activities.errors import NoRecordingSlotError

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from datetime import datetime

    import sqlalchemy as sa

    from activities.db.crud_guards import SlotAnswer

log = logging.getLogger(__name__)

DEFAULT_TTL = timedelta(seconds=60)
DEFAULT_QUEUE_TTL = timedelta(seconds=15)
DEFAULT_POLL_SECS = 2.0
DEFAULT_WAIT_SECS = 300.0
DEFAULT_MAX_WAITERS = 16
# a process with too many waiters refuses at once; the workflow retries this late
BUSY_RETRY_SECS = 15.0


class SlotLease:
    """A held recording slot; the recording's heartbeat task keeps it alive.

    Args:
        slots: the pool it came from.
        holder: the streamer workflow id.
        token: the activity attempt holding it.
        priority: the streamer's priority.
        kind: `normal` or `extra`.
    """

    def __init__(
        self,
        slots: RecordingSlots,
        holder: str,
        token: str,
        priority: Priority,
        kind: str,
    ) -> None:
        self.slots = slots
        self.holder = holder
        self.token = token
        self.priority = priority
        self.kind = kind
        self._renewed_at = slots.monotonic()
        self._renewal: asyncio.Task[None] | None = None
        self._released = False

    def renew_if_due(self) -> None:
        """Start a renewal in the background when a third of the TTL has passed.

        Never waits: a slow DB must not delay the heartbeat that calls it.
        """
        if self._released or (self._renewal is not None and not self._renewal.done()):
            return
        if self.slots.monotonic() - self._renewed_at < self.slots.renew_secs:
            return
        self._renewal = asyncio.create_task(self._renew())

    async def _renew(self) -> None:
        try:
            outcome = await asyncio.to_thread(self.slots.renew_sync, self)
        except Exception:  # a DB hiccup: the lease outlives a few missed renewals
            log.warning("could not renew the slot of %s", self.holder, exc_info=True)
            return
        self._renewed_at = self.slots.monotonic()
        if outcome == "reinstated":
            log.warning(
                "the slot lease of %s had expired; taken again (over the limit for "
                "a while) rather than stop a running recording",
                self.holder,
            )
        elif outcome == "superseded":
            log.warning("a newer attempt of %s holds its slot now", self.holder)

    async def release(self) -> None:
        """Give the slot back and wake this process's waiters."""
        self._released = True
        if self._renewal is not None:
            # let a running renewal finish: one that ran after the delete would
            # find no row and take the slot again
            await finish_uncancelled(self._renewal)
        await finish_uncancelled(
            asyncio.to_thread(self.slots.release_sync, self.holder, self.token)
        )
        self.slots.wake_waiters()
        log.info("%s released its %s recording slot", self.holder, self.kind)


class RecordingSlots:
    """The global pool of recording slots (see the module docstring).

    Args:
        db: the app database engine.
        capacity: slots any priority may use.
        extra: further slots only high priority may use.
        ttl: life of a lease without renewal.
        queue_ttl: life of a queue place without renewal.
        poll_secs: how often a waiter looks for a free slot.
        wait_secs: how long one attempt waits before giving up.
        max_waiters: waiting attempts this process allows at once.
        clock: wall clock (UTC), replaceable in tests.
        monotonic: monotonic clock in seconds, replaceable in tests.
    """

    def __init__(
        self,
        db: sa.Engine,
        *,
        capacity: int,
        extra: int = 0,
        ttl: timedelta = DEFAULT_TTL,
        queue_ttl: timedelta = DEFAULT_QUEUE_TTL,
        poll_secs: float = DEFAULT_POLL_SECS,
        wait_secs: float = DEFAULT_WAIT_SECS,
        max_waiters: int = DEFAULT_MAX_WAITERS,
        clock: Callable[[], datetime] = utcnow,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.db = db
        self.capacity = capacity
        self.extra = extra
        self.ttl = ttl
        self.queue_ttl = queue_ttl
        self.renew_secs = ttl.total_seconds() / 3
        self.poll_secs = poll_secs
        self.wait_secs = wait_secs
        self.max_waiters = max_waiters
        self.clock = clock
        self.monotonic = monotonic
        self.waiting = 0
        self._released: asyncio.Event | None = None

    def limit(self, priority: Priority) -> int:
        """How many slots a streamer of this priority may count on."""
        return self.capacity + (self.extra if priority == Priority.HIGH else 0)

    async def acquire(
        self,
        holder: str,
        priority: Priority,
        *,
        on_wait: Callable[[SlotAnswer], Awaitable[None]] | None = None,
    ) -> SlotLease:
        """Take a slot, waiting up to `wait_secs` for one.

        Args:
            holder: the streamer workflow id.
            priority: the streamer's priority.
            on_wait: called once, when the attempt starts waiting.

        Returns:
            The lease; the caller releases it.

        Raises:
            NoRecordingSlotError: no slot came free in time, or this process has
                too many waiters already.
            asyncio.CancelledError: the activity was cancelled while waiting (its
                queue place is given up).
        """
        token = uuid.uuid4().hex
        answer = await asyncio.to_thread(self._try, holder, token, priority)
        if answer.granted:
            return self._lease(holder, token, priority, answer)
        if self.waiting >= self.max_waiters:
            raise NoRecordingSlotError(
                f"all {self.limit(priority)} recording slots are taken and "
                f"{self.waiting} attempts already wait in this worker",
                retry_after_secs=BUSY_RETRY_SECS,
            )
        log.info(
            "%s waits for a recording slot: %d of %d taken, place %d in the queue",
            holder,
            answer.held,
            self.limit(priority),
            answer.position,
        )
        self.waiting += 1
        try:
            if on_wait is not None:
                await on_wait(answer)
            return await self._wait(holder, token, priority)
        except asyncio.CancelledError:
            await finish_uncancelled(
                asyncio.to_thread(self.release_sync, holder, token)
            )
            raise
        finally:
            self.waiting -= 1

    async def _wait(self, holder: str, token: str, priority: Priority) -> SlotLease:
        deadline = self.monotonic() + self.wait_secs
        renewed = self.monotonic()
        while True:
            await self._sleep_until_release(
                min(self.poll_secs, max(0.0, deadline - self.monotonic()))
            )
            held, _ = await asyncio.to_thread(self._count)
            renew_due = self.monotonic() - renewed >= self.queue_ttl.total_seconds() / 3
            if held < self.limit(priority) or renew_due:
                answer = await asyncio.to_thread(self._try, holder, token, priority)
                renewed = self.monotonic()
                if answer.granted:
                    log.info("%s got a recording slot after waiting", holder)
                    return self._lease(holder, token, priority, answer)
            if self.monotonic() >= deadline:
                # the queue place stays for its TTL: a prompt next attempt keeps it
                raise NoRecordingSlotError(
                    f"no recording slot came free in {self.wait_secs:.0f} s "
                    f"({held} of {self.limit(priority)} taken)",
                    retry_after_secs=0.0,
                )

    async def _sleep_until_release(self, secs: float) -> None:
        if self._released is None:
            self._released = asyncio.Event()
        try:
            await asyncio.wait_for(self._released.wait(), secs)
        except TimeoutError:
            pass

    def wake_waiters(self) -> None:
        """A slot of this process came free: let local waiters look at once."""
        if self._released is not None:
            self._released.set()
            self._released = None

    def _lease(
        self, holder: str, token: str, priority: Priority, answer: SlotAnswer
    ) -> SlotLease:
        kind = answer.kind or "normal"
        log.info(
            "%s holds a %s recording slot (%d of %d taken)",
            holder,
            kind,
            answer.held,
            self.limit(priority),
        )
        return SlotLease(self, holder, token, priority, kind)

    # --- blocking DB calls (run in threads) -----------------------------------------

    def _try(self, holder: str, token: str, priority: Priority) -> SlotAnswer:
        with Session(self.db) as db:
            return crud_guards.acquire_recording_slot(
                db,
                holder=holder,
                token=token,
                priority=priority.value,
                capacity=self.capacity,
                extra=self.extra,
                now=self.clock(),
                ttl=self.ttl,
                queue_ttl=self.queue_ttl,
            )

    def _count(self) -> tuple[int, int]:
        with Session(self.db) as db:
            return crud_guards.live_recording_slots(db, self.clock())

    def renew_sync(self, lease: SlotLease) -> str:
        with Session(self.db) as db:
            return crud_guards.renew_recording_slot(
                db,
                holder=lease.holder,
                token=lease.token,
                priority=lease.priority.value,
                now=self.clock(),
                ttl=self.ttl,
            )

    def release_sync(self, holder: str, token: str) -> None:
        with Session(self.db) as db:
            crud_guards.release_recording_slot(db, holder=holder, token=token)
