"""Store activities: the streamer workflow's reads and writes of the app database.

They are synchronous (`def`) activities: the worker runs them on a thread pool, so a
slow SQLite write never blocks the event loop. Each first checks that its workflow
belongs to this database (`activities.ownership`).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from sqlmodel import Session
from temporalio import activity

from activities.config.resolve import streamer_config
from activities.contracts import (
    ACTIVITY_CLOSE_SESSION,
    ACTIVITY_LOAD_STREAMER,
    ACTIVITY_OPEN_SESSION,
    ACTIVITY_PROJECT_STATE,
    CloseSessionInput,
    CloseSessionResult,
    LoadStreamerInput,
    LoadStreamerResult,
    OpenSessionInput,
    OpenSessionResult,
    ProjectStateInput,
    ProjectStateResult,
)
from activities.db import crud, crud_sessions
from activities.ownership import Ownership

if TYPE_CHECKING:
    import sqlalchemy as sa

log = logging.getLogger(__name__)


class StoreActivities:
    """DB side effects of the streamer workflow.

    Args:
        db: the app database engine.
        instance_id: the database's instance id, if already read.
        pollers: this instance's workers run shard pollers (`SREC_POLL_SHARDS` >
            0): streamer workflows wait for their signals instead of checking.
    """

    def __init__(
        self, db: sa.Engine, *, instance_id: str | None = None, pollers: bool = False
    ) -> None:
        self.db = db
        self.owner = Ownership(db, instance_id)
        self.pollers = pollers

    @activity.defn(name=ACTIVITY_LOAD_STREAMER)
    def load_streamer(self, inp: LoadStreamerInput) -> LoadStreamerResult:
        """Read a streamer and its effective configuration (None when deleted).

        The four levels are merged here (`activities.config`); credentials stay
        out of the result, which goes into workflow history.
        """
        self.owner.check(inp)
        instance_id = self.owner.instance_id
        with Session(self.db) as db:
            resolved = streamer_config(db, inp.streamer_id)
        if resolved is None:
            return LoadStreamerResult(config=None, instance_id=instance_id)
        return LoadStreamerResult(
            instance_id=instance_id,
            config=resolved.config,
            config_version=resolved.version,
            pollers=self.pollers,
        )

    @activity.defn(name=ACTIVITY_PROJECT_STATE)
    def project_state(self, inp: ProjectStateInput) -> ProjectStateResult:
        self.owner.check(inp)
        with Session(self.db) as db:
            crud.set_streamer_state(
                db,
                inp.streamer_id,
                state=inp.state.value,
                enabled=inp.enabled,
                last_error=inp.last_error,
                reason=inp.reason,
            )
        return ProjectStateResult()

    @activity.defn(name=ACTIVITY_OPEN_SESSION)
    def open_session(self, inp: OpenSessionInput) -> OpenSessionResult:
        self.owner.check(inp)
        with Session(self.db) as db:
            session = crud_sessions.open_session(
                db,
                streamer_id=inp.streamer_id,
                title=inp.title,
                start_time=inp.start_time,
                open_key=inp.open_key,
            )
            assert session.id is not None
            return OpenSessionResult(session_id=session.id)

    @activity.defn(name=ACTIVITY_CLOSE_SESSION)
    def close_session(self, inp: CloseSessionInput) -> CloseSessionResult:
        """End a session; one that recorded nothing is deleted (`removed`).

        Idempotent: a session already gone (removed by an earlier attempt of this
        activity, or deleted with its streamer) has nothing left to close.
        """
        self.owner.check(inp)
        with Session(self.db) as db:
            try:
                session = crud_sessions.close_session(db, inp.session_id, inp.end_time)
            except LookupError:
                log.info("session %d is already gone", inp.session_id)
                session = None
            if session is None:
                return CloseSessionResult(
                    total_size_bytes=0, segment_count=0, removed=True
                )
            segments = crud_sessions.list_segments(db, inp.session_id)
            return CloseSessionResult(
                total_size_bytes=session.total_size_bytes,
                segment_count=len(segments),
            )
