"""Which streamers a shard polls, read from the app database, and when to re-read.

A shard is `streamer.id % shards == shard`; of those, the enabled ones whose
projected `state` says their workflow waits for detection. The roster is read
whole only when the shard's change marker moves: the number of its rows, their
newest `updated_at` (every streamer write and every state projection sets it) and
the configuration's change counter (`config_global.generation`: a platform,
template or global change touches no streamer row).

A streamer's interval, selection and platform options are the four-level merge's
(`activities.config.resolve.effective`), the same as its workflow's and its live
check's; the levels above the streamer are read once per change counter.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from activities.config.resolve import ConfigRows, effective
from activities.contracts import StreamerState
from activities.db import Streamer, crud_config
from activities.db.crud_profile import Profile

if TYPE_CHECKING:
    from collections.abc import Collection, Mapping
    from datetime import datetime

    from activities.contracts import StreamSelection

log = logging.getLogger(__name__)

# distinct (settings, options, platform, template) merges kept between reads
_MERGES_KEPT = 10_000


@dataclass(frozen=True)
class Effective:
    """What the poller needs of a streamer's merged configuration."""

    interval: float
    selection: StreamSelection
    options: Mapping[str, Any]


@dataclass(frozen=True)
class Entry:
    """One streamer to poll."""

    streamer_id: int
    url: str
    updated_at: datetime
    interval: float
    selection: StreamSelection
    options: Mapping[str, Any]
    # the workflow's own projection says "offline, no error": a first check that
    # finds exactly that is no news for it
    settled_offline: bool = False
    # its stored title, category and avatar: a check that finds the same writes none
    profile: Profile = field(default_factory=Profile)


class Roster:
    """Reads one shard's streamers (blocking: call from a thread).

    Args:
        db: the app database.
        shard: this shard's number.
        shards: how many shards there are.
        states: the projected states that mean "waiting for detection".
    """

    def __init__(
        self,
        db: sa.Engine,
        shard: int,
        shards: int,
        states: Collection[StreamerState],
    ) -> None:
        self.db = db
        self.shard = shard
        self.shards = shards
        self.states = sorted(s.value for s in states)
        self._seen_generation: int | None = None
        self._levels = ConfigRows()
        self._effective: dict[tuple[str, ...], Effective] = {}

    def _in_shard(self) -> Any:
        return col(Streamer.id) % self.shards == self.shard

    def marker(self) -> tuple[Any, ...]:
        """A value that changes whenever the roster (or its configuration) may have."""
        with Session(self.db) as db:
            count, newest = db.exec(
                select(func.count(), func.max(Streamer.updated_at)).where(
                    self._in_shard()
                )
            ).one()
            return (count, newest, crud_config.generation(db))

    def read(self) -> dict[int, Entry]:
        """The shard's streamers that wait for detection, by id."""
        query = select(Streamer).where(
            self._in_shard(),
            col(Streamer.enabled).is_(True),
            col(Streamer.state).in_(self.states),
        )
        with Session(self.db) as db:
            rows = db.exec(query).all()
            generation = crud_config.generation(db)
            if generation != self._seen_generation:
                self._levels = ConfigRows.read(db, every=True)
                self._effective.clear()
                self._seen_generation = generation
        found: dict[int, Entry] = {}
        for row in rows:
            assert row.id is not None
            merged = self._merged(row)
            found[row.id] = Entry(
                streamer_id=row.id,
                url=row.url,
                updated_at=row.updated_at,
                interval=merged.interval,
                selection=merged.selection,
                options=merged.options,
                settled_offline=row.state == StreamerState.NOT_LIVE
                and row.last_error is None,
                profile=Profile.stored(row),
            )
        return found

    def _merged(self, row: Streamer) -> Effective:
        # most streamers share their levels: merge each distinct combination once
        key = (
            json.dumps(row.settings, sort_keys=True),
            json.dumps(row.platform_options, sort_keys=True),
            row.platform,
            str(row.template_id),
        )
        found = self._effective.get(key)
        if found is None:
            if len(self._effective) > _MERGES_KEPT:
                self._effective.clear()
            merged = effective(row, self._levels)
            found = self._effective[key] = Effective(
                merged.policy.poll_interval_secs,
                merged.policy.selection,
                merged.options(),
            )
        return found
