"""The `segment_completed` notification event of each closed segment file.

The event is recorded in the transaction that completes the segment's row
(`record`, called by `segments.SegmentRows` and `segments.settle`), so the file
is closed exactly when its event exists: a crash before the commit leaves the row
open, and the retry's `settle` completes it and records the event then; a retried
activity finds the row completed and records nothing. The key names the segment
(`segment_event_key`), never the attempt. Its delivery starts after the commit
(`dispatch`); one whose start a crash lost is started by the maintenance redrive.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from activities.db import crud_notify
from activities.db.tables import Streamer, StreamSession, utcnow
from activities.events import EventType, NotifyEvent

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from sqlmodel import Session


def segment_event_key(session_id: int, index: int) -> str:
    """The idempotency key of one segment's `segment_completed` event."""
    return f"session-{session_id}/segment-{index}/{EventType.SEGMENT_COMPLETED.value}"


class SegmentEvents:
    """Records and dispatches `segment_completed` events.

    Args:
        dispatch: starts the delivery of an event recorded by key and must never
            raise (`activities.notify.Dispatcher.dispatch_key`).
    """

    def __init__(self, dispatch: Callable[[str], Awaitable[None]]) -> None:
        self._dispatch = dispatch

    def record(
        self,
        db: Session,
        *,
        session_id: int,
        index: int,
        path: str,
        duration_secs: float,
        valid: bool | None,
    ) -> None:
        """Record the event in the caller's transaction (the caller commits).

        A database error propagates: the segment's row is not completed either,
        and the attempt that settles it records both.
        """
        session = db.get(StreamSession, session_id)
        streamer = db.get(Streamer, session.streamer_id) if session else None
        name = streamer.name if streamer else ""
        note = "" if valid is not False else " (it does not play: kept as written)"
        mins = duration_secs / 60
        crud_notify.record_event(
            db,
            NotifyEvent(
                type=EventType.SEGMENT_COMPLETED,
                key=segment_event_key(session_id, index),
                summary=f"{name}: segment {index} closed, {mins:.1f} min{note}"[:1000],
                streamer_id=streamer.id if streamer else None,
                streamer_name=name[:255],
                session_id=session_id,
                title=(session.title if session else "")[:1000],
                subject=path[:4096],
            ),
            now=utcnow(),
            commit=False,
        )

    async def dispatch(self, session_id: int, index: int) -> None:
        """Start delivering a recorded segment's event (never raises)."""
        await self._dispatch(segment_event_key(session_id, index))
