"""`/api/sessions`: recorded broadcasts and their segment files."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status

from activities.db import crud_sessions
from api.deps import DbDep
from api.params import NOT_FOUND_RESPONSES, Limit, Offset, SessionId, StreamerIdFilter
from api.schemas import Page, SegmentPublic, SessionPublic

router = APIRouter(prefix="/sessions", tags=["sessions"])


@router.get("")
def list_sessions(
    db: DbDep,
    streamer_id: StreamerIdFilter = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[SessionPublic]:
    """List sessions, newest first, optionally of one streamer."""
    items, total = crud_sessions.list_sessions(
        db, streamer_id=streamer_id, limit=limit, offset=offset
    )
    return Page(
        items=[SessionPublic.model_validate(s, from_attributes=True) for s in items],
        total=total,
    )


@router.get("/{session_id}", responses=NOT_FOUND_RESPONSES)
def get_session(session_id: SessionId, db: DbDep) -> SessionPublic:
    """One session (404 if missing)."""
    session = crud_sessions.get_session(db, session_id)
    if session is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "session not found")
    return SessionPublic.model_validate(session, from_attributes=True)


@router.get("/{session_id}/segments", responses=NOT_FOUND_RESPONSES)
def list_segments(
    session_id: SessionId, db: DbDep, limit: Limit = 500, offset: Offset = 0
) -> Page[SegmentPublic]:
    """The segment files of a session, in recording order."""
    if crud_sessions.get_session(db, session_id) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "session not found")
    segments = crud_sessions.list_segments(db, session_id)
    page = segments[offset : offset + limit]
    return Page(
        items=[SegmentPublic.model_validate(s, from_attributes=True) for s in page],
        total=len(segments),
    )
