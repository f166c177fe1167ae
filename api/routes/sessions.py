"""`/api/sessions`: recorded broadcasts, their segment files and their chat."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status

from activities.db import crud_danmu, crud_sessions
from api.deps import DbDep
from api.params import NOT_FOUND_RESPONSES, Limit, Offset, SessionId, StreamerIdFilter
from api.schemas import Page, SegmentPublic, SessionPublic
from api.schemas_danmu import DanmuStatisticsPublic, SegmentDanmu

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
    """The segment files of a session, in recording order, each with the danmu
    file of the same index when the chat is recorded."""
    if crud_sessions.get_session(db, session_id) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "session not found")
    segments = crud_sessions.list_segments(db, session_id)
    danmu = {f.index: f for f in crud_danmu.list_files(db, session_id)}
    items = []
    for segment in segments[offset : offset + limit]:
        item = SegmentPublic.model_validate(segment, from_attributes=True)
        paired = danmu.get(segment.index)
        if paired is not None:
            item.danmu = SegmentDanmu.model_validate(paired, from_attributes=True)
        items.append(item)
    return Page(items=items, total=len(segments))


@router.get("/{session_id}/danmu-statistics", responses=NOT_FOUND_RESPONSES)
def danmu_statistics(session_id: SessionId, db: DbDep) -> DanmuStatisticsPublic:
    """The session's chat statistics: totals per message type, rate over time, top
    talkers, words and gifts, unique talkers (404 if the session or its chat
    statistics do not exist)."""
    if crud_sessions.get_session(db, session_id) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "session not found")
    row = crud_danmu.get_statistics(db, session_id)
    if row is None or not row.statistics:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, "no chat was recorded for this session"
        )
    return DanmuStatisticsPublic.model_validate(
        {
            **row.statistics,
            "session_id": session_id,
            "complete": row.complete,
            "updated_at": row.updated_at,
        }
    )
