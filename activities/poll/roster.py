"""Which streamers a shard polls, read from the app database, and when to re-read.

A shard is `streamer.id % shards == shard`; of those, the enabled ones whose
projected `state` says their workflow waits for detection. The roster is read
again only when the shard's change marker moves: the number of its rows, their
newest `updated_at` (every streamer write and every state projection sets it) and
the configuration's change counter (`config_global.generation`: a platform,
template or global change touches no streamer row).

A read takes only the rows written since the last one (`updated_at` from the
newest seen, less `SLACK`: writers on other hosts' clocks), since at 10,000
streamers a projection anywhere in a shard would otherwise re-read and re-merge all
of its rows. It reads the whole shard at the first read, when a level above the
streamers changed (the counter moves with streamer writes too), when the row count
says a streamer was deleted, and every `FULL_EVERY` seconds in any case (a write
whose clock lagged more than `SLACK`).

A streamer's interval, selection and platform options are the four-level merge's
(`activities.config.resolve.effective`), the same as its workflow's and its live
check's; the levels above the streamer are read once per change counter.
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from activities.config.resolve import ConfigRows, effective
from activities.contracts import StreamerState
from activities.db import Streamer, crud_config
from activities.db.crud_profile import Profile

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Mapping
    from datetime import datetime

    from activities.contracts import StreamSelection

log = logging.getLogger(__name__)

# distinct (settings, options, platform, template) merges kept between reads
_MERGES_KEPT = 10_000
# rows written this long before the newest seen are read again
SLACK = timedelta(seconds=5)
# the whole shard is read at least this often (seconds)
FULL_EVERY = 300.0


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
        clock: monotonic seconds (when the last whole read was).
    """

    def __init__(
        self,
        db: sa.Engine,
        shard: int,
        shards: int,
        states: Collection[StreamerState],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.db = db
        self.shard = shard
        self.shards = shards
        self.states = sorted(s.value for s in states)
        self.clock = clock
        self._seen_generation: int | None = None
        self._levels = ConfigRows()
        self._effective: dict[tuple[str, ...], Effective] = {}
        self._levels_key = ""
        # what the last read found: the waiting streamers, every row id of the
        # shard, the newest `updated_at`, when the shard was last read whole
        self._found: dict[int, Entry] = {}
        self._ids: set[int] = set()
        self._newest: datetime | None = None
        self._whole_at = -math.inf
        self.whole_reads = 0

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
        """The shard's streamers that wait for detection, by id (a new dict)."""
        with Session(self.db) as db:
            generation = crud_config.generation(db)
            count = db.exec(select(func.count()).where(self._in_shard())).one()
            whole = self._newest is None or self.clock() - self._whole_at >= FULL_EVERY
            if generation != self._seen_generation:
                # bumped by every streamer write too: only a level above matters
                levels = ConfigRows.read(db, every=True)
                key = _fingerprint(levels)
                if key != self._levels_key:
                    self._levels, self._levels_key = levels, key
                    self._effective.clear()
                    whole = True
                self._seen_generation = generation
            if not whole:
                assert self._newest is not None
                since = self._newest - SLACK
                changed = db.exec(
                    select(Streamer).where(
                        self._in_shard(), col(Streamer.updated_at) >= since
                    )
                ).all()
                ids = self._ids | {r.id for r in changed if r.id is not None}
                # a row gone (deleted): only a whole read can tell which
                whole = len(ids) != count
            if whole:
                rows = db.exec(select(Streamer).where(self._in_shard())).all()
                self._found, self._ids, self._newest = {}, set(), None
                self._whole_at = self.clock()
                self.whole_reads += 1
            else:
                rows = changed
        for row in rows:
            self._take(row)
        return dict(self._found)

    def _take(self, row: Streamer) -> None:
        assert row.id is not None
        self._ids.add(row.id)
        if self._newest is None or row.updated_at > self._newest:
            self._newest = row.updated_at
        if not row.enabled or row.state not in self.states:
            self._found.pop(row.id, None)
            return
        merged = self._merged(row)
        self._found[row.id] = Entry(
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


def _fingerprint(levels: ConfigRows) -> str:
    """The levels above the streamers as one comparable value."""
    templates = {
        str(tid): row.model_dump(mode="json") for tid, row in levels.templates.items()
    }
    return json.dumps(
        [levels.global_settings, levels.platforms, templates],
        sort_keys=True,
        default=str,
    )
