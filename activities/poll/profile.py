"""The profile writer of a shard poller: titles and avatars to the app DB.

Each clean check's title, category and avatar are compared with what the roster
read (or this writer last wrote) for the streamer; only a change is written, so
10,000 offline streamers cost no writes until one of them renames its stream.
Changes are written in batches, one transaction and one thread call at a time; a
failed write is logged and forgotten (the next check finds the change again).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from sqlmodel import Session

from activities.contracts import LiveOutcome
from activities.db.crud_profile import Profile, save_profiles

if TYPE_CHECKING:
    import sqlalchemy as sa

    from activities.contracts import Detected
    from activities.poll.roster import Entry

log = logging.getLogger(__name__)

_CLEAN = (LiveOutcome.LIVE, LiveOutcome.OFFLINE)


def profile_of(found: Detected) -> Profile | None:
    """The profile a check found; None when it was not a clean answer."""
    if found.outcome not in _CLEAN or found.error is not None:
        return None
    return Profile.clean(found.title, found.category, found.avatar_url)


class ProfileWriter:
    """Writes the profiles that changed (see the module docstring).

    Args:
        db: the app database.
    """

    def __init__(self, db: sa.Engine) -> None:
        self.db = db
        self.writes = 0
        # what this writer believes is stored, per streamer, and the roster entry
        # it believed it for: a newer entry was read from the DB, so it wins
        self._known: dict[int, tuple[Entry, Profile]] = {}
        self._pending: dict[int, tuple[Entry, Profile]] = {}
        self._task: asyncio.Task[None] | None = None

    def note(self, entry: Entry, found: Detected) -> None:
        """Remember a check's profile; start a write if it changed."""
        profile = profile_of(found)
        if profile is None or profile.empty:
            return
        known = self._known.get(entry.streamer_id)
        stored = known[1] if known is not None and known[0] is entry else entry.profile
        merged = profile.over(stored)
        if merged == stored:
            return
        self._pending[entry.streamer_id] = (entry, merged)
        if self._task is None or self._task.done():
            self._task = asyncio.ensure_future(self._flush())

    def forget(self, streamer_id: int) -> None:
        self._known.pop(streamer_id, None)

    async def close(self) -> None:
        """Finish the write under way (and what waits for it)."""
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _flush(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, {}
            try:
                await asyncio.to_thread(self._write, batch)
            except Exception as err:  # the DB is away: the next check retries
                log.warning("could not save %d profile(s): %s", len(batch), err)
                continue
            self._known.update(batch)

    def _write(self, batch: dict[int, tuple[Entry, Profile]]) -> None:
        with Session(self.db) as db:
            self.writes += save_profiles(db, {s: p for s, (_e, p) in batch.items()})
