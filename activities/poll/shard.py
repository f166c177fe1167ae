"""The poll loop of one shard: schedule, lanes, checks and signals.

`tick()` is one pass, and never sleeps: re-read the roster if its marker moved,
move the streamers that are due into their platform's lane, start the checks each
lane's limits allow (a batch per request on batch-capable platforms), and return
when to come back. `run()` repeats it until a deadline, woken early when a check
finishes. Checks run as tasks, at most `max_in_flight` at once; a finished check
is settled: rate limits pause its lane, the outcome is signalled if it is news
(`memory`), and the streamer is scheduled for its next slot.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from activities.contracts import LiveOutcome
from activities.metrics import (
    DETECTION_DELAY_SECONDS,
    LIVE_CHECK_ERRORS,
    LIVE_CHECK_SECONDS,
    platform_label,
)
from activities.poll.check import Found, Prepared, failed
from activities.poll.lanes import Lane
from activities.poll.limits import RateLimit
from activities.poll.memory import Memory, key_of
from activities.poll.schedule import Schedule, next_slot

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from activities.contracts import Detected
    from activities.poll.check import Checker
    from activities.poll.profile import ProfileWriter
    from activities.poll.roster import Entry

log = logging.getLogger(__name__)


class ShardPoller:
    """Polls one shard's streamers (see the module docstring).

    Args:
        read_roster: the shard's streamers now (async: the DB is read in a thread).
        read_marker: the roster's change marker now.
        checker: runs the checks.
        signal: tells a streamer workflow; False when it could not be told.
        clock: wall-clock seconds (fake in tests).
        resignal_secs: remind of a persisting failure this often.
        roster_check_secs: read the marker this often.
        check_timeout_secs: a check that takes longer is a transient failure.
        max_in_flight: checks (and batches) running at once.
        profiles: writes the titles and avatars that checks find (None: not kept).
    """

    def __init__(
        self,
        read_roster: Callable[[], Awaitable[dict[int, Entry]]],
        read_marker: Callable[[], Awaitable[Any]],
        checker: Checker,
        signal: Callable[[int, Detected], Awaitable[bool]],
        *,
        clock: Callable[[], float] = time.time,
        resignal_secs: float = 300.0,
        roster_check_secs: float = 5.0,
        check_timeout_secs: float = 30.0,
        max_in_flight: int = 256,
        profiles: ProfileWriter | None = None,
    ) -> None:
        self.read_roster = read_roster
        self.read_marker = read_marker
        self.checker = checker
        self.signal = signal
        self.clock = clock
        self.roster_check_secs = roster_check_secs
        self.check_timeout_secs = check_timeout_secs
        self.max_in_flight = max_in_flight
        self.profiles = profiles
        self.memory = Memory(resignal_secs)
        self.schedule = Schedule()
        self.entries: dict[int, Entry] = {}
        self.lanes: dict[str, Lane] = {}
        self.tasks: set[asyncio.Task[None]] = set()
        self.wake = asyncio.Event()
        self.checks = 0
        self.signals = 0
        self._marker: Any = None
        self._loaded = False
        self._next_roster = -math.inf

    # --- roster ---------------------------------------------------------------------

    async def refresh(self) -> bool:
        """Re-read the roster if its marker moved; True when it was read."""
        now = self.clock()
        self._next_roster = now + self.roster_check_secs
        marker = await self.read_marker()
        if self._loaded and marker == self._marker:
            return False
        roster = await self.read_roster()
        self._marker = marker
        self._apply(roster, now)
        return True

    def _apply(self, roster: dict[int, Entry], now: float) -> None:
        first = not self._loaded
        self._loaded = True
        for sid in [s for s in self.entries if s not in roster]:
            self.schedule.remove(sid)
            self.checker.forget(sid)
            if self.profiles is not None:
                self.profiles.forget(sid)
        self.memory.keep_only(roster)
        for sid, entry in roster.items():
            old = self.entries.get(sid)
            if old is None:
                # at start, each at its slot (no burst); a newcomer at once
                if first:
                    self.schedule.every(sid, entry.interval, after=now)
                else:
                    self.schedule.at(sid, now)
                continue
            if old.updated_at != entry.updated_at:
                # the workflow projected a change (or its config changed): it may
                # be waiting afresh, so tell it the next outcome again
                self.memory.forget([sid])
            if old.interval != entry.interval and sid in self.schedule:
                self.schedule.every(sid, entry.interval, after=now)
        self.entries = roster
        log.debug("shard roster: %d streamer(s)", len(roster))

    # --- the loop -------------------------------------------------------------------

    async def tick(self) -> float:
        """One pass (see the module docstring); returns when to pass again."""
        now = self.clock()
        if now >= self._next_roster:
            await self.refresh()
            now = self.clock()
        for sid in self.schedule.pop_due(now):
            entry = self.entries.get(sid)
            if entry is None:
                continue
            prepared = self._prepare(entry)
            if prepared is not None:
                self._lane(prepared).push(sid)
        wake = min(self._next_roster, self.schedule.next_due() or math.inf)
        for lane in self.lanes.values():
            wake = min(wake, self._start(lane, now))
        return wake

    async def run(self, until: float) -> None:
        """Tick until the clock passes `until`, sleeping in between."""
        while self.clock() < until:
            wake = min(await self.tick(), until)
            self.wake.clear()
            delay = wake - self.clock()
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wake.wait(), delay)

    async def drain(self) -> None:
        """Wait for the running checks to settle (tests, shutdown)."""
        while self.tasks:
            await asyncio.gather(*list(self.tasks), return_exceptions=True)

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await self.drain()
        if self.profiles is not None:
            await self.profiles.close()

    def _prepare(self, entry: Entry) -> Prepared | None:
        try:
            return self.checker.prepare(entry)
        except Exception as err:
            # an unsupported URL: tell the workflow, look again at its next slot
            found = Found(failed(err, self.checker.utcnow()))
            self._spawn(self._settle(None, entry.streamer_id, found))
            return None

    def _lane(self, prepared: Prepared) -> Lane:
        lane = self.lanes.get(prepared.lane)
        if lane is None:
            kind = type(prepared.extractor)
            limit = RateLimit(kind.max_requests_per_sec, kind.max_concurrent_requests)
            lane = self.lanes[prepared.lane] = Lane(
                prepared.lane, limit, kind.batch_size
            )
        return lane

    def _start(self, lane: Lane, now: float) -> float:
        """Start what the lane's limits allow; returns when it may start more."""
        while lane.queue and len(self.tasks) < self.max_in_flight:
            ready = lane.limit.ready_at(now)
            if ready > now:
                return ready
            group = self._take(lane)
            if not group:
                continue
            lane.limit.start(now)
            self._spawn(self._check(lane, group))
        return math.inf

    def _take(self, lane: Lane) -> list[Prepared]:
        def prepared(sid: int) -> Prepared | None:
            entry = self.entries.get(sid)
            return self._prepare(entry) if entry is not None else None

        return lane.take(prepared)

    def _spawn(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self.tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self.tasks.discard(task)
        self.wake.set()
        if not task.cancelled() and task.exception() is not None:
            log.error("a poll task failed", exc_info=task.exception())

    async def _check(self, lane: Lane, group: list[Prepared]) -> None:
        self.checks += len(group)
        platform = platform_label(group[0].extractor.platform)
        began = time.monotonic()
        try:
            async with asyncio.timeout(self.check_timeout_secs):
                if group[0].batch_key is not None and len(group) > 1:
                    results = await self.checker.check_batch(group)
                else:
                    results = {
                        group[0].entry.streamer_id: await self.checker.check(group[0])
                    }
        except TimeoutError as err:
            found = Found(failed(err, self.checker.utcnow()))
            results = {p.entry.streamer_id: found for p in group}
        finally:
            lane.limit.finish()
            self.wake.set()
            LIVE_CHECK_SECONDS.labels(platform).observe(time.monotonic() - began)
        for found in results.values():
            if found.detected is not None and (
                found.detected.transient or found.detected.error_type is not None
            ):
                outcome = found.detected.outcome.value
                LIVE_CHECK_ERRORS.labels(platform, outcome).inc()
        for prepared in group:
            sid = prepared.entry.streamer_id
            if sid in results:
                await self._settle(lane, sid, results[sid])
            elif sid in self.entries:
                # the batch answer left it out: ask about it alone
                lane.solo.add(sid)
                lane.push(sid)

    async def _settle(self, lane: Lane | None, sid: int, found: Found) -> None:
        entry = self.entries.get(sid)
        if entry is None:
            return  # left the shard meanwhile
        now = self.clock()
        slot = next_slot(sid, entry.interval, after=now)
        found_detected = found.detected
        if found_detected is None:
            again = now + (found.again_in or entry.interval)
            self.schedule.at(sid, min(again, slot))
            return
        self.schedule.at(sid, slot)
        if self.profiles is not None:
            self.profiles.note(entry, found_detected)
        if found_detected.outcome is LiveOutcome.RATE_LIMITED and lane is not None:
            until = lane.limit.pause(now, found_detected.retry_after_secs)
            log.warning("%s rate-limited us: paused until %.0f", lane.name, until)
        await self._tell(sid, found_detected, now, lane.name if lane else "")

    async def _tell(
        self, sid: int, found: Detected, now: float, platform: str = ""
    ) -> None:
        failing = found.transient or found.error_type is not None
        run = self.memory.failure_run(sid, failing, now)
        key = key_of(found)
        entry = self.entries.get(sid)
        settled = entry is not None and entry.settled_offline
        decision = self.memory.should_tell(sid, key, now, settled_offline=settled)
        if decision is False:
            return
        since = run.failing_since
        payload = found.model_copy(
            update={
                "failures": run.failures,
                "failing_since": (
                    None if since is None else datetime.fromtimestamp(since, UTC)
                ),
                "repeated": decision is None,
            }
        )
        if await self.signal(sid, payload):
            self.signals += 1
            if decision and found.outcome is LiveOutcome.LIVE:
                _detected_live(platform, found)
            self.memory.told(sid, key, now)


def _detected_live(platform: str, found: Detected) -> None:
    """The delay from the platform's start time to this signal, when it says one."""
    if found.started_at is None:
        return
    delay = (found.checked_at - found.started_at).total_seconds()
    if delay >= 0:  # a platform clock ahead of ours says nothing useful
        DETECTION_DELAY_SECONDS.labels(platform_label(platform)).observe(delay)
