"""A running recording follows configuration changes: new segment limits apply at
the next segment.

Every configuration write bumps one number (`config_global.generation`). One
`ConfigWatch` per worker reads it every few seconds while recordings listen, and
wakes those whose last seen number differs; each then resolves its streamer's
effective policy again (`resolve.streamer_config`) and updates its `OutputPlan` (the
engines read its limits at each segment boundary) and its small-segment filter. A
recording started with a policy older than the database's (the workflow's reload
is spread out) takes the database's at once.

The engine, names and selection of a running recording stay as they started: they
apply from its next attempt or session.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit, urlunsplit

from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from activities.config.resolve import Resolved, streamer_config
from activities.db import crud_config

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Mapping

    import sqlalchemy as sa

    from activities.contracts import RecordingPolicy
    from activities.engines.base import DropSmallSegments, OutputPlan

log = logging.getLogger(__name__)

__all__ = ["CONFIG_POLL_SECS", "ConfigWatch", "LivePolicy", "proxy_url"]

CONFIG_POLL_SECS = 5.0


@dataclass(eq=False)
class _Listener:
    seen: int
    changed: asyncio.Event = field(default_factory=asyncio.Event)


class ConfigWatch:
    """Reads the configuration generation for the recordings of one worker.

    Args:
        db: the app database.
        interval_secs: how often the number is read while anyone listens.
    """

    def __init__(self, db: sa.Engine, interval_secs: float = CONFIG_POLL_SECS) -> None:
        self.db = db
        self.interval_secs = interval_secs
        self._listeners: set[_Listener] = set()
        self._task: asyncio.Task[None] | None = None

    def read(self) -> int:
        """The database's generation now (blocking: call it in a thread)."""
        with Session(self.db) as db:
            return crud_config.generation(db)

    @contextlib.asynccontextmanager
    async def listen(self, seen: int) -> AsyncIterator[_Listener]:
        """Be woken (`changed`) whenever the generation differs from `seen`."""
        listener = _Listener(seen)
        self._listeners.add(listener)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._poll())
        try:
            yield listener
        finally:
            self._listeners.discard(listener)
            if not self._listeners and self._task is not None:
                self._task.cancel()
                self._task = None

    async def _poll(self) -> None:
        while self._listeners:
            await asyncio.sleep(self.interval_secs)
            try:
                now = await asyncio.to_thread(self.read)
            except SQLAlchemyError as err:
                log.warning("could not read the configuration generation: %s", err)
                continue
            for listener in self._listeners:
                if listener.seen != now:
                    listener.seen = now
                    listener.changed.set()


def proxy_url(policy: RecordingPolicy, credentials: Mapping[str, Any]) -> str | None:
    """The engines' proxy: the policy's URL with the `proxy_password` credential."""
    if not policy.proxy:
        return None
    password = credentials.get("proxy_password")
    if not password:
        return policy.proxy
    password = str(password)
    parts = urlsplit(policy.proxy)
    user = quote(parts.username or "", safe="")
    host = parts.hostname or ""
    if ":" in host:  # an IPv6 literal
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port else ""
    netloc = f"{user}:{quote(password, safe='')}@{host}{port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


class LivePolicy:
    """One recording's view of its streamer's configuration.

    Args:
        db: the app database.
        streamer_id: whose configuration.
        watch: the worker's generation watch.
    """

    def __init__(self, db: sa.Engine, streamer_id: int, watch: ConfigWatch) -> None:
        self.db = db
        self.streamer_id = streamer_id
        self.watch = watch
        self.generation = 0
        self.resolved: Resolved | None = None

    def load(self) -> Resolved | None:
        """Read the generation and the streamer's configuration (blocking).

        None when the streamer is gone or the database cannot be read: the
        recording then keeps what its input says.
        """
        try:
            self.generation = self.watch.read()
            with Session(self.db) as db:
                self.resolved = streamer_config(db, self.streamer_id)
        except SQLAlchemyError as err:
            log.warning(
                "streamer %d: configuration unreadable: %s", self.streamer_id, err
            )
            self.resolved = None
        return self.resolved

    async def follow(self, plan: OutputPlan, small: DropSmallSegments) -> None:
        """Keep `plan`'s limits and `small`'s minimum current until cancelled."""
        async with self.watch.listen(self.generation) as listener:
            while True:
                await listener.changed.wait()
                listener.changed.clear()
                resolved = await asyncio.to_thread(self.load)
                if resolved is not None:
                    apply_limits(resolved.config.policy, plan, small, self.streamer_id)


def apply_limits(
    policy: RecordingPolicy,
    plan: OutputPlan,
    small: DropSmallSegments,
    streamer_id: int,
) -> None:
    """Put the policy's segment limits into a running recording's plan and filter."""
    now = (
        policy.max_segment_duration_secs,
        policy.max_segment_size_bytes,
        policy.min_segment_size_bytes,
    )
    before = (plan.max_duration_secs, plan.max_size_bytes, small.min_size_bytes)
    if now == before:
        return
    plan.max_duration_secs, plan.max_size_bytes, small.min_size_bytes = now
    log.info(
        "streamer %d: segment limits now %g s, %d bytes, minimum %d bytes "
        "(from the next segment)",
        streamer_id,
        *now,
    )
