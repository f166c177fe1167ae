"""One recording attempt at a time per session, even when Temporal cannot say so.

Temporal retries a recording on another worker once the attempt's heartbeats stop
arriving. Usually the old attempt is dead (its worker was killed). But a worker cut
off from Temporal, not from the database and the disk, goes on recording: its
heartbeats fail silently, and it hears that it was replaced only when the network
returns. Two attempts would then write the same session's files and rows.

The fence is the session row (`recorder`, `recorder_seen_at`), which every worker
reaches. Each attempt claims it before it touches a file (the newest attempt wins)
and renews it from its heartbeat task. An attempt stops recording as soon as a
renewal finds another recorder, or when it could not renew for half the lease (the
database is unreachable too, so it cannot know). A new attempt that took the claim
from a recorder seen within the lease waits until that lease has run out before
it settles the files: by then the old one has stopped writing. After a kill the
lease (the heartbeat timeout) has already passed when the retry starts, and an
attempt that ended cleanly gave its claim up, so neither waits.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from activities.db import crud_sessions

if TYPE_CHECKING:
    from collections.abc import Callable

    import sqlalchemy as sa

log = logging.getLogger(__name__)

# the record activity's heartbeat timeout: Temporal starts a new attempt that long
# after the last heartbeat it received
DEFAULT_LEASE_SECS = 15.0
RENEW_SECS = 3.0


class RecorderFence:
    """One attempt's claim on its session (see the module docstring).

    Args:
        db: the app database engine.
        session_id: the session recorded.
        lease_secs: how long a silent recorder may still be writing.
        clock: monotonic seconds (fake in tests).
        sleep: the wait for a previous recorder's lease (fake in tests).
    """

    def __init__(
        self,
        db: sa.Engine,
        session_id: int,
        *,
        lease_secs: float = DEFAULT_LEASE_SECS,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], object] = asyncio.sleep,
    ) -> None:
        self.db = db
        self.session_id = session_id
        self.lease_secs = lease_secs
        self.token = uuid.uuid4().hex
        self.superseded = asyncio.Event()
        self.waited_secs = 0.0
        self._clock = clock
        self._sleep = sleep
        self._renewed_at = clock()
        self._tried_at = -RENEW_SECS
        self._renewal: asyncio.Task[None] | None = None
        # the heartbeat task starts before the claim: nothing to renew until then
        self._claimed = False

    async def claim(self) -> None:
        """Become the recorder; wait out a previous one that may still write."""
        previous, seen_at = await asyncio.to_thread(self._claim)
        self._renewed_at = self._clock()
        self._claimed = True
        if previous is None or seen_at is None:
            return
        # the previous recorder's lease, by our clock, and never longer than a lease
        # from now (its clock may differ from ours)
        left = (seen_at - datetime.now(UTC)).total_seconds() + self.lease_secs
        wait = min(self.lease_secs, max(0.0, left))
        if wait > 0:
            log.warning(
                "session %d: another attempt recorded it %.0f s ago; waiting %.1f s "
                "for it to stop before taking over its files",
                self.session_id,
                self.lease_secs - left,
                wait,
            )
            self.waited_secs = wait
            await self._sleep(wait)  # type: ignore[misc]

    def renew_if_due(self) -> None:
        """Renew in the background every few seconds; never waits."""
        if self.superseded.is_set() or not self._claimed:
            return
        if self._renewal is not None and not self._renewal.done():
            return
        if self._clock() - self._tried_at < RENEW_SECS:
            return
        self._tried_at = self._clock()
        self._renewal = asyncio.create_task(self._renew())

    async def _renew(self) -> None:
        try:
            mine = await asyncio.to_thread(self._renew_sync)
        except SQLAlchemyError as err:
            silent = self._clock() - self._renewed_at
            if silent >= self.lease_secs / 2:
                log.error(
                    "session %d: the database has not answered for %.0f s; stopping "
                    "the recording, a retry may take it over (%s)",
                    self.session_id,
                    silent,
                    err,
                )
                self.superseded.set()
            return
        if not mine:
            log.warning(
                "session %d: a newer attempt records it now; stopping this one",
                self.session_id,
            )
            self.superseded.set()
            return
        self._renewed_at = self._clock()

    async def release(self) -> None:
        """The attempt ended (not superseded): give the claim up, so the next
        attempt of the session (the stream came back) starts at once."""
        if self._renewal is not None:
            self._renewal.cancel()
        if not self._claimed or self.superseded.is_set():
            return
        try:
            await asyncio.to_thread(self._release_sync)
        except SQLAlchemyError as err:
            # the next attempt waits out the lease instead: slower, never unsafe
            log.warning("session %d: could not release: %s", self.session_id, err)

    def _claim(self) -> tuple[str | None, datetime | None]:
        with Session(self.db) as db:
            return crud_sessions.claim_recorder(
                db, self.session_id, self.token, datetime.now(UTC)
            )

    def _release_sync(self) -> None:
        with Session(self.db) as db:
            crud_sessions.release_recorder(db, self.session_id, self.token)

    def _renew_sync(self) -> bool:
        with Session(self.db) as db:
            return crud_sessions.renew_recorder(
                db, self.session_id, self.token, datetime.now(UTC)
            )
