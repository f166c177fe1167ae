"""Which streamers a shard polls, read from the app database, and when to re-read.

A shard is `streamer.id % shards == shard`; of those, the enabled ones whose
projected `state` says their workflow waits for detection. The roster is read
whole only when the shard's change marker moves: the number of its rows, their
newest `updated_at` (every config write and every state projection sets it) and,
where the configuration levels exist, `config_global.generation` (a platform,
template or global change touches no streamer row).

A streamer's effective interval, selection and platform options are computed by
one function, `effective`: the four-level configuration replaces its body.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from activities.config import merge_policy, parse_stored_overrides
from activities.contracts import StreamerState
from activities.db import Streamer

if TYPE_CHECKING:
    from collections.abc import Collection, Mapping
    from datetime import datetime

    from activities.contracts import RecordingPolicy, StreamSelection

log = logging.getLogger(__name__)

# the configuration levels' change counter, when that migration ran
_GENERATION = sa.text("SELECT generation FROM config_global WHERE id = 1")


@dataclass(frozen=True)
class Effective:
    """What the poller needs of a streamer's merged configuration."""

    interval: float
    selection: StreamSelection
    options: Mapping[str, Any]


def effective(
    settings: Mapping[str, Any], options: Mapping[str, Any], defaults: RecordingPolicy
) -> Effective:
    """A streamer's poll interval, stream selection and platform options.

    The one place the poller reads configuration: the four-level merge replaces
    this body (the worker's defaults and the streamer's own overrides today).
    """
    policy = merge_policy(defaults, parse_stored_overrides(settings))
    return Effective(policy.poll_interval_secs, policy.selection, dict(options))


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


class Roster:
    """Reads one shard's streamers (blocking: call from a thread).

    Args:
        db: the app database.
        shard: this shard's number.
        shards: how many shards there are.
        states: the projected states that mean "waiting for detection".
        defaults: the worker-wide recording policy.
    """

    def __init__(
        self,
        db: sa.Engine,
        shard: int,
        shards: int,
        states: Collection[StreamerState],
        defaults: RecordingPolicy,
    ) -> None:
        self.db = db
        self.shard = shard
        self.shards = shards
        self.states = sorted(s.value for s in states)
        self.defaults = defaults
        self._has_generation: bool | None = None
        self._seen_generation: int | None = None
        self._effective: dict[tuple[str, str], Effective] = {}

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
            return (count, newest, self._generation(db))

    def _generation(self, db: Session) -> int | None:
        if self._has_generation is None:
            self._has_generation = sa.inspect(self.db).has_table("config_global")
        if not self._has_generation:
            return None
        value = db.connection().execute(_GENERATION).scalar()
        return int(value) if value is not None else None

    def read(self) -> dict[int, Entry]:
        """The shard's streamers that wait for detection, by id."""
        query = sa.select(
            col(Streamer.id),
            col(Streamer.url),
            col(Streamer.updated_at),
            col(Streamer.settings),
            col(Streamer.platform_options),
            col(Streamer.state),
            col(Streamer.last_error),
        ).where(
            self._in_shard(),
            col(Streamer.enabled).is_(True),
            col(Streamer.state).in_(self.states),
        )
        with Session(self.db) as db:
            rows = db.connection().execute(query).all()
            generation = self._generation(db)
        if generation != self._seen_generation:
            self._effective.clear()
        self._seen_generation = generation
        found: dict[int, Entry] = {}
        for streamer_id, url, updated_at, settings, options, state, error in rows:
            assert streamer_id is not None
            merged = self._merged(settings or {}, options or {})
            found[streamer_id] = Entry(
                streamer_id=streamer_id,
                url=url,
                updated_at=updated_at,
                interval=merged.interval,
                selection=merged.selection,
                options=merged.options,
                settled_offline=state == StreamerState.NOT_LIVE and error is None,
            )
        return found

    def _merged(
        self, settings: Mapping[str, Any], options: Mapping[str, Any]
    ) -> Effective:
        # most streamers share their settings (`{}`): merge each distinct one once
        key = (
            json.dumps(settings, sort_keys=True),
            json.dumps(options, sort_keys=True),
        )
        found = self._effective.get(key)
        if found is None:
            if len(self._effective) > 10_000:
                self._effective.clear()
            found = self._effective[key] = effective(settings, options, self.defaults)
        return found
