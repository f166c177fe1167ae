"""Live events for the dashboard: the app DB watched once a second, fanned out.

The workers write everything the page shows into the app database (the streamer
state projection, segment rows with their growing size, session rows, pipeline
jobs and runs), so the API learns of changes by reading it, cheaply: one pass reads
only the rows that changed since the last pass (`updated_at` and `completed_at`
watermarks, ids above the highest seen) and the few open ones (open sessions and
segments, unfinished runs). `api.event_hub` runs it while a client listens.

Event shapes (JSON, `type` first):
    streamer  {id, name, state, enabled, last_error, last_error_at, state_reason,
               title, category, avatar_url, updated_at}
    streamers {count}: a streamer was added or deleted
    session   {id, streamer_id, title, start_time, end_time, size_bytes,
               duration_secs}: size and duration count the open segment too
    segment   {session_id, streamer_id, index, size_bytes, duration_secs,
               completed}
    job       {id, run_id, step_id, processor, status, progress, progress_detail}
    run       {id, status, kind, session_id, streamer_id}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlmodel import Session, col, func, or_, select

from activities.db import Segment, Streamer, StreamSession
from activities.db.tables_pipeline import PipelineJob, PipelineRun

if TYPE_CHECKING:
    from collections.abc import Iterable

MAX_REMEMBERED = 20_000
_OPEN_RUN = ("PENDING", "RUNNING")

Event = dict[str, Any]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


@dataclass
class _Seen:
    """What the last pass saw: watermarks and the last event per key."""

    streamer_mark: datetime | None = None
    profile_mark: datetime | None = None
    streamer_count: int | None = None
    job_mark: datetime | None = None
    segment_mark: datetime | None = None
    max_session: int = 0
    max_segment: int = 0
    max_run: int = 0
    last: dict[tuple[str, int, int], Event] = field(default_factory=dict)
    open_sessions: dict[int, Event] = field(default_factory=dict)
    owners: dict[int, int] = field(default_factory=dict)


class DbWatcher:
    """Reads what changed in the app DB since its last pass (one thread call)."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine
        self._seen = _Seen()

    def open_sessions(self) -> list[Event]:
        """The latest `session` event of every open session (a new client's start)."""
        return list(self._seen.open_sessions.values())

    def prime(self) -> None:
        """Start from the current rows: marks at their newest, open rows read.

        Past rows are never read, so a first pass costs the same with a million
        segments and job rows as with none.
        """
        seen = self._seen
        with Session(self._engine) as db:
            seen.streamer_mark = db.exec(select(func.max(Streamer.updated_at))).one()
            seen.profile_mark = db.exec(select(func.max(Streamer.profile_at))).one()
            seen.job_mark = db.exec(select(func.max(PipelineJob.updated_at))).one()
            seen.segment_mark = db.exec(select(func.max(Segment.completed_at))).one()
            seen.max_session = db.exec(select(func.max(StreamSession.id))).one() or 0
            seen.max_segment = db.exec(select(func.max(Segment.id))).one() or 0
            seen.max_run = db.exec(select(func.max(PipelineRun.id))).one() or 0
        self.poll()

    def poll(self) -> list[Event]:
        """One pass: the events of every row that changed since the last pass."""
        with Session(self._engine) as db:
            events = [
                *self._streamers(db),
                *self._sessions(db),
                *self._runs(db),
                *self._jobs(db),
            ]
        if len(self._seen.last) > MAX_REMEMBERED:
            self._seen.owners.clear()
            # forget settled rows; a later change of one is still read (its mark
            # moves) and merely announced once more
            fresh = {(e["type"], e.get("id", 0)) for e in events}
            self._seen.last = {
                k: v
                for k, v in self._seen.last.items()
                if k[0] == "streamer" or (k[0], k[1]) in fresh
            }
        return events

    def _changed(self, kind: str, key: tuple[int, int], event: Event) -> bool:
        """Remember `event`; True when it differs from the last one of its key."""
        slot = (kind, *key)
        if self._seen.last.get(slot) == event:
            return False
        self._seen.last[slot] = event
        return True

    def _streamers(self, db: Session) -> Iterable[Event]:
        seen = self._seen
        count = db.exec(select(func.count()).select_from(Streamer)).one()
        if seen.streamer_count is not None and count != seen.streamer_count:
            yield {"type": "streamers", "count": count}
        seen.streamer_count = count
        query = select(Streamer)
        if seen.streamer_mark is not None:
            # `>=`: a row written in the same clock tick as the mark is read again
            # and dropped by `_changed` if nothing moved. A new title or avatar
            # moves `profile_at` only (the pollers watch `updated_at`)
            query = query.where(
                or_(
                    col(Streamer.updated_at) >= seen.streamer_mark,
                    col(Streamer.profile_at) >= seen.profile_mark
                    if seen.profile_mark is not None
                    else col(Streamer.profile_at).is_not(None),
                )
            )
        for row in db.exec(query.order_by(col(Streamer.updated_at))):
            assert row.id is not None
            seen.streamer_mark = max(
                seen.streamer_mark or row.updated_at, row.updated_at
            )
            if row.profile_at is not None:
                seen.profile_mark = max(
                    seen.profile_mark or row.profile_at, row.profile_at
                )
            event = {
                "type": "streamer",
                "id": row.id,
                "name": row.name,
                "state": row.state,
                "enabled": row.enabled,
                "last_error": row.last_error,
                "last_error_at": _iso(row.last_error_at),
                "state_reason": row.state_reason,
                "title": row.title,
                "category": row.category,
                "avatar_url": row.avatar_url,
                "updated_at": _iso(row.updated_at),
            }
            if self._changed("streamer", (row.id, 0), event):
                yield event

    def _sessions(self, db: Session) -> Iterable[Event]:
        seen = self._seen
        sessions = db.exec(
            select(StreamSession).where(
                or_(
                    col(StreamSession.end_time).is_(None),
                    col(StreamSession.id) > seen.max_session,
                    col(StreamSession.id).in_(list(seen.open_sessions)),
                )
            )
        ).all()
        owners = seen.owners
        owners.update({s.id: s.streamer_id for s in sessions if s.id is not None})
        seg_query = select(Segment).where(
            or_(
                col(Segment.session_id).in_([s.id for s in sessions]),
                col(Segment.id) > seen.max_segment,
                col(Segment.completed_at) >= seen.segment_mark
                if seen.segment_mark is not None
                else sa.false(),
            )
        )
        segments = db.exec(seg_query.order_by(col(Segment.id))).all()
        unknown = {seg.session_id for seg in segments} - owners.keys()
        if unknown:
            rows = db.exec(
                select(StreamSession.id, StreamSession.streamer_id).where(
                    col(StreamSession.id).in_(unknown)
                )
            )
            owners.update({k: v for k, v in rows.all() if k is not None})
        sums: dict[int, list[float]] = {}
        events: list[Event] = []
        for seg in segments:
            assert seg.id is not None
            seen.max_segment = max(seen.max_segment, seg.id)
            if seg.completed_at is not None and (
                seen.segment_mark is None or seg.completed_at > seen.segment_mark
            ):
                seen.segment_mark = seg.completed_at
            total = sums.setdefault(seg.session_id, [0, 0.0])
            total[0] += seg.size_bytes
            total[1] += seg.duration_secs
            event = {
                "type": "segment",
                "session_id": seg.session_id,
                "streamer_id": owners.get(seg.session_id),
                "index": seg.index,
                "size_bytes": seg.size_bytes,
                "duration_secs": seg.duration_secs,
                "completed": seg.completed_at is not None,
            }
            if self._changed("segment", (seg.session_id, seg.index), event):
                events.append(event)
        for session in sessions:
            assert session.id is not None
            seen.max_session = max(seen.max_session, session.id)
            size, duration = sums.get(session.id, [0, 0.0])
            event = {
                "type": "session",
                "id": session.id,
                "streamer_id": session.streamer_id,
                "title": session.title,
                "start_time": _iso(session.start_time),
                "end_time": _iso(session.end_time),
                # an ended session's row holds the settled totals
                "size_bytes": int(size) if session.end_time is None else None,
                "duration_secs": duration if session.end_time is None else None,
            }
            if event["size_bytes"] is None:
                event["size_bytes"] = session.total_size_bytes
                event["duration_secs"] = session.duration_secs
            if session.end_time is None:
                seen.open_sessions[session.id] = event
            else:
                seen.open_sessions.pop(session.id, None)
            if self._changed("session", (session.id, 0), event):
                events.append(event)
        # sessions before segments: a page learns of a session before its files
        events.sort(key=lambda e: e["type"] != "session")
        return events

    def _runs(self, db: Session) -> Iterable[Event]:
        seen = self._seen
        open_ids = [
            k[1]
            for k, e in seen.last.items()
            if k[0] == "run" and e["status"] in _OPEN_RUN
        ]
        query = select(PipelineRun).where(
            or_(
                col(PipelineRun.status).in_(_OPEN_RUN),
                col(PipelineRun.id) > seen.max_run,
                col(PipelineRun.id).in_(open_ids),
            )
        )
        for run in db.exec(query):
            assert run.id is not None
            seen.max_run = max(seen.max_run, run.id)
            event = {
                "type": "run",
                "id": run.id,
                "status": run.status,
                "kind": run.kind,
                "session_id": run.session_id,
                "streamer_id": run.streamer_id,
            }
            if self._changed("run", (run.id, 0), event):
                yield event

    def _jobs(self, db: Session) -> Iterable[Event]:
        seen = self._seen
        query = select(PipelineJob)
        if seen.job_mark is not None:
            query = query.where(col(PipelineJob.updated_at) >= seen.job_mark)
        for job in db.exec(query.order_by(col(PipelineJob.updated_at))):
            assert job.id is not None
            seen.job_mark = job.updated_at
            event = {
                "type": "job",
                "id": job.id,
                "run_id": job.run_id,
                "step_id": job.step_id,
                "processor": job.processor,
                "status": job.status,
                "progress": job.progress,
                "progress_detail": job.progress_detail,
            }
            if self._changed("job", (job.id, 0), event):
                yield event
