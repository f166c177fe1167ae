"""`/api/notifications/events`, `/event-types` and `/dead-letters`.

The event log is read-only. A dead letter's retry starts a redelivery workflow
(202); the dead letter stays listed until the redelivery succeeds, and is
refreshed if it fails again.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, status

from activities.contracts import MAX_ID
from activities.db import Event, NotifyDeadLetter, crud_notify_admin
from activities.events import EVENT_TYPES, EventType, level_name
from api.deps import DbDep, NotifyControlDep, temporal_errors
from api.schemas import Accepted, Page
from api.schemas_notify import (
    DeadLetterPublic,
    DeliveryPublic,
    EventDetail,
    EventPublic,
    EventTypePublic,
    UtcDatetime,
)

router = APIRouter()

RowId = Annotated[int, Path(ge=1, le=MAX_ID)]
QueryId = Annotated[int | None, Query(ge=1, le=MAX_ID)]
Limit = Annotated[int, Query(ge=1, le=500)]
Offset = Annotated[int, Query(ge=0, le=MAX_ID)]


def _event(row: Event) -> EventPublic:
    return EventPublic.model_validate(
        row.model_dump() | {"type": row.kind}, from_attributes=False
    )


def _letter(row: NotifyDeadLetter) -> DeadLetterPublic:
    return DeadLetterPublic.model_validate(row, from_attributes=True)


@router.get("/event-types")
def event_types() -> list[EventTypePublic]:
    """Every event type, its default priority (0-10) and what it means."""
    return [
        EventTypePublic(
            type=kind,
            label=info.label,
            priority=int(info.priority),
            priority_name=level_name(info.priority),
            description=info.description,
        )
        for kind, info in EVENT_TYPES.items()
    ]


@router.get("/events")
def list_events(
    db: DbDep,
    event_type: Annotated[
        list[EventType] | None, Query(alias="type", max_length=len(EventType))
    ] = None,
    streamer_id: QueryId = None,
    session_id: QueryId = None,
    min_priority: Annotated[int | None, Query(ge=0, le=10)] = None,
    since: Annotated[UtcDatetime | None, Query()] = None,
    until: Annotated[UtcDatetime | None, Query()] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[EventPublic]:
    """The event log, newest first; filters combine (`type` may repeat)."""
    rows, total = crud_notify_admin.page_events(
        db,
        kinds=[t.value for t in event_type or []],
        streamer_id=streamer_id,
        session_id=session_id,
        min_priority=min_priority,
        since=since,
        until=until,
        limit=limit,
        offset=offset,
    )
    return Page(items=[_event(r) for r in rows], total=total)


@router.get("/events/{event_id}")
def get_event(event_id: RowId, db: DbDep) -> EventDetail:
    """One event with its deliveries, one per channel (404 if missing)."""
    row = crud_notify_admin.get_event(db, event_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "event not found")
    deliveries = [
        DeliveryPublic.model_validate(d, from_attributes=True)
        for d in crud_notify_admin.list_deliveries(db, event_id)
    ]
    return EventDetail(**_event(row).model_dump(), deliveries=deliveries)


@router.get("/dead-letters")
def list_dead_letters(
    db: DbDep, channel_id: QueryId = None, limit: Limit = 50, offset: Offset = 0
) -> Page[DeadLetterPublic]:
    """Deliveries that failed their last attempt, newest first."""
    rows, total = crud_notify_admin.list_dead_letters(
        db, channel_id=channel_id, limit=limit, offset=offset
    )
    return Page(items=[_letter(r) for r in rows], total=total)


def _found(db: DbDep, letter_id: int) -> NotifyDeadLetter:
    letter = crud_notify_admin.get_dead_letter(db, letter_id)
    if letter is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "dead letter not found")
    return letter


@router.post("/dead-letters/{letter_id}/retry", status_code=status.HTTP_202_ACCEPTED)
async def retry_dead_letter(
    letter_id: RowId, db: DbDep, control: NotifyControlDep
) -> Accepted:
    """Send a dead letter's delivery again (503 while Temporal is unreachable)."""
    letter = _found(db, letter_id)
    with temporal_errors():
        await control.redeliver(letter.event_id, letter.delivery_id)
    return Accepted()


@router.delete("/dead-letters/{letter_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_dead_letter(letter_id: RowId, db: DbDep) -> None:
    """Forget a dead letter (its delivery stays `dead` in the event's detail)."""
    crud_notify_admin.delete_dead_letter(db, _found(db, letter_id))
