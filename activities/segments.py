"""The segment rows of a recording: kept current as files grow, settled after a crash.

`SegmentRows` is the recording activity's sink: it mirrors each file an engine
writes into its row (opened, confirmed size and resume point, closed) and announces
each closed file. A closed file is announced with its duration as the engine
measured it and its streams as the engine read them; a file the engine could not
describe (ffmpeg and streamlink write theirs) gets a header-level check first
(`media.check_file`: milliseconds, never a demux).

`settle` closes out what a dead attempt of a session left: each open file is cut
back to the size its row confirmed, checked and completed, or removed when nothing
in it was confirmed; the attempt's temporary files (`staging_tag`) are deleted.
It returns where the next attempt continues.

With `triggers`, each closed valid file's segment pipeline run is planned (its run
row written) in the transaction before the segment row closes, and started after
it (`activities.pipeline_triggers`): from here, not from the streamer workflow,
so a segment's pipeline costs that workflow's history nothing. With `events`, its
`segment_completed` notification is recorded in that transaction too
(`activities.segment_events`).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from sqlmodel import Session

from activities.contracts import MediaStream, RunKind, SegmentClosed
from activities.db import crud_sessions
from activities.engines.base import finish_uncancelled, remove_staging
from activities.media import FileCheck, check_file

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    import sqlalchemy as sa

    from activities.engines.base import SegmentState
    from activities.pipeline_triggers import PipelineTriggers
    from activities.segment_events import SegmentEvents
    from activities.triggers import RunPlan

log = logging.getLogger(__name__)


def staging_tag(session_id: int) -> str:
    """The tag of a session's temporary files (`OutputPlan.staging_tag`)."""
    return f"s{session_id}"


def _media_of(segment: SegmentState) -> FileCheck:
    """What the engine read of the file's streams, else a header-level check."""
    if segment.streams is not None:
        return FileCheck(valid=bool(segment.streams), streams=segment.streams)
    return check_file(segment.path)


def _dumped(streams: list[MediaStream]) -> list[dict[str, object]]:
    return [s.model_dump() for s in streams]


class SegmentRows:
    """Mirrors an engine's files into segment rows and announces each closed one.

    Args:
        db: the app database engine.
        session_id: the session the files belong to.
        announce: told of each closed file once its row is complete (a failure
            there must not raise: the rows are the record, not the announcement).
        triggers: starts each closed file's segment pipeline (None: none).
        host: the host whose disk the files are on (per-host placement), or None.
        events: records each closed file's `segment_completed` event (None: none).
    """

    def __init__(
        self,
        db: sa.Engine,
        session_id: int,
        announce: Callable[[SegmentClosed], Awaitable[None]],
        triggers: PipelineTriggers | None = None,
        host: str | None = None,
        events: SegmentEvents | None = None,
    ) -> None:
        self.db = db
        self.session_id = session_id
        self.announce = announce
        self.triggers = triggers
        self.host = host
        self.events = events

    async def opened(self, segment: SegmentState) -> None:
        # the first frame's wall clock; an engine that cannot tell opened it now
        started_at = segment.started_at or datetime.now(UTC)
        await finish_uncancelled(asyncio.to_thread(self._begin, segment, started_at))

    async def progressed(self, segment: SegmentState) -> None:
        await finish_uncancelled(asyncio.to_thread(self._progress, segment))

    async def closed(self, segment: SegmentState) -> None:
        if segment.size_bytes == 0:
            # the engine removed an empty file; forget its row
            await finish_uncancelled(asyncio.to_thread(self._drop, segment))
            return
        media, completed, plan = await finish_uncancelled(
            asyncio.to_thread(self._complete, segment)
        )
        await self.announce(
            SegmentClosed(
                session_id=self.session_id,
                index=segment.index,
                file_path=str(segment.path),
                size_bytes=segment.size_bytes,
                duration_secs=segment.duration_secs,
                valid=media.valid,
                streams=media.streams,
                session_segments=completed,
                host=self.host,
            )
        )
        if self.triggers is not None:
            await finish_uncancelled(
                self.triggers.file_closed(self.session_id, segment.index, plan)
            )
        if self.events is not None:
            dispatched = self.events.dispatch(self.session_id, segment.index)
            await finish_uncancelled(dispatched)

    def _begin(self, segment: SegmentState, started_at: datetime) -> None:
        with Session(self.db) as db:
            crud_sessions.begin_segment(
                db,
                session_id=self.session_id,
                index=segment.index,
                file_path=str(segment.path),
                started_at=started_at,
                media_start_secs=segment.media_start_secs or 0.0,
                host=self.host,
            )

    def _progress(self, segment: SegmentState) -> None:
        with Session(self.db) as db:
            crud_sessions.record_segment_progress(
                db,
                session_id=self.session_id,
                index=segment.index,
                size_bytes=segment.size_bytes,
                duration_secs=segment.duration_secs,
                resume_marker=segment.resume_marker,
                resume_edge_ms=segment.resume_edge_ms,
            )

    def _complete(self, segment: SegmentState) -> tuple[FileCheck, int, RunPlan | None]:
        """Complete the row; return the file's media, how many of the session's
        segments are closed (the workflow's count rests on it) and its run."""
        media = _media_of(segment)
        with Session(self.db) as db:
            plan = _plan(db, self.triggers, self.session_id, segment.index, media)
            if self.events is not None:
                self.events.record(
                    db,
                    session_id=self.session_id,
                    index=segment.index,
                    path=str(segment.path),
                    duration_secs=segment.duration_secs,
                    valid=media.valid,
                )
            crud_sessions.complete_segment(
                db,
                session_id=self.session_id,
                index=segment.index,
                size_bytes=segment.size_bytes,
                duration_secs=segment.duration_secs,
                resume_marker=segment.resume_marker,
                resume_edge_ms=segment.resume_edge_ms,
                valid=media.valid,
                streams=_dumped(media.streams),
            )
            completed = crud_sessions.count_completed_segments(db, self.session_id)
            return media, completed, plan

    def _drop(self, segment: SegmentState) -> None:
        with Session(self.db) as db:
            crud_sessions.delete_segment(db, self.session_id, segment.index)


@dataclass
class Resume:
    """Where the next attempt of a session continues, and what settling closed.

    Attributes:
        closed: the files settled, to announce.
        plans: their pipeline runs, by index, to start.
        last_index: the session's last segment index, if any.
        marker: its resume marker (`OutputPlan.resume_marker`).
        edge_ms: its live-edge time (`OutputPlan.resume_edge_ms`).
    """

    closed: list[SegmentClosed] = field(default_factory=list)
    plans: dict[int, RunPlan] = field(default_factory=dict)
    last_index: int | None = None
    marker: int | None = None
    edge_ms: int | None = None


def settle(
    db_engine: sa.Engine,
    session_id: int,
    triggers: PipelineTriggers | None = None,
    events: SegmentEvents | None = None,
) -> Resume:
    """Close out the files an earlier attempt of this session left open.

    With `events`, each file's `segment_completed` event is recorded with its row;
    the caller dispatches those of `Resume.closed` once this returns.

    Raises:
        OSError: a file could not be cut back or checked (the write gate decides
            whether the recordings root is at fault).
    """
    closed: list[SegmentClosed] = []
    plans: dict[int, RunPlan] = {}
    with Session(db_engine) as db:
        for row in crud_sessions.open_segments(db, session_id):
            path = Path(row.file_path)
            size = _cut_back(path, row.size_bytes)
            if size == 0:
                path.unlink(missing_ok=True)
                crud_sessions.delete_segment(db, session_id, row.index)
                log.info("removed empty segment %d/%d", session_id, row.index)
                continue
            media = check_file(path)
            plan = _plan(db, triggers, session_id, row.index, media, str(path))
            if plan is not None:
                plans[row.index] = plan
            if events is not None:
                events.record(
                    db,
                    session_id=session_id,
                    index=row.index,
                    path=str(path),
                    duration_secs=row.duration_secs,
                    valid=media.valid,
                )
            crud_sessions.complete_segment(
                db,
                session_id=session_id,
                index=row.index,
                size_bytes=size,
                duration_secs=row.duration_secs,
                resume_marker=row.resume_marker,
                resume_edge_ms=row.resume_edge_ms,
                valid=media.valid,
                streams=_dumped(media.streams),
            )
            closed.append(
                SegmentClosed(
                    session_id=session_id,
                    index=row.index,
                    file_path=str(path),
                    size_bytes=size,
                    duration_secs=row.duration_secs,
                    valid=media.valid,
                    streams=media.streams,
                )
            )
            log.info("settled segment %d/%d at %d bytes", session_id, row.index, size)
        if closed:
            completed = crud_sessions.count_completed_segments(db, session_id)
            for item in closed:
                item.session_segments = completed
        rows = crud_sessions.list_segments(db, session_id)
        for directory in {Path(r.file_path).parent for r in rows}:
            if directory.is_dir():
                remove_staging(directory, staging_tag(session_id))
        if not rows:
            return Resume(closed=closed, plans=plans)
        last = rows[-1]
        return Resume(
            closed=closed,
            plans=plans,
            last_index=last.index,
            marker=last.resume_marker,
            edge_ms=last.resume_edge_ms,
        )


def _plan(
    db: Session,
    triggers: PipelineTriggers | None,
    session_id: int,
    index: int,
    media: FileCheck,
    path: str | None = None,
) -> RunPlan | None:
    """Plan a closed file's segment run, before its row is closed (valid files)."""
    if triggers is None or not media.valid:
        return None
    if path is None:
        row = crud_sessions.get_segment(db, session_id, index)
        if row is None or row.completed_at is not None:
            return None  # closed before: planned then
        path = row.file_path
    return triggers.plan_file(db, RunKind.SEGMENT, session_id, index, path)


def _cut_back(path: Path, size: int) -> int:
    """Cut `path` back to the `size` its row confirmed; return the size it has."""
    if size <= 0 or not path.is_file():
        return 0
    actual = path.stat().st_size
    if actual < size:
        log.warning("%s holds %d bytes, its row promised %d", path, actual, size)
        size = actual
    # bytes past the row's size were never confirmed: cut them off
    with path.open("r+b") as handle:
        handle.truncate(size)
    return size
