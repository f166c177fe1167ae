"""One attempt of a session's danmu: the chat, its files' rows and its statistics.

`DanmuRun` owns a `DanmuSession` and follows the session's segment rows: every
`tick` reads the rows from the next index on and rotates the XML file at each
segment's recorded start (`segment.started_at`) once that instant has passed, so
file N closes and N+1 opens at the first frame of video N+1. The session holds each
message back `hold_secs` before writing it, so a boundary read up to that late still
splits exactly by receipt time. A boundary whose segment has no start yet waits.

Rows are the truth: a danmu file's row is written before the file and closed with
its final count after it; `begin` starts at the first file an earlier attempt left
open (its file is repaired and continued, so a retry duplicates nothing it wrote)
or after the last closed one. Statistics are saved every `save_secs`, at each
rotation and at the end, with the accumulator's state, from which a retry counts on.

With `triggers`, a closed file's segment pipeline run (`pipeline-danmu-<s>-<n>`)
is planned before its row closes and started after, or its pair is checked
(`activities.pipeline_triggers`).

Database errors are logged and retried at the next tick: the chat keeps flowing
into the current file meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from activities.contracts import (
    DanmuClosed,
    DanmuFileProgress,
    RecordDanmuProgress,
    RunKind,
)
from activities.danmu import AccumulatorState, DanmuSession, StatisticsAccumulator
from activities.db import crud_danmu

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterable

    import sqlalchemy as sa

    from activities.danmu import DanmuFileResult, DanmuProgress, RoomMeta
    from activities.danmu.connection import InfoSource
    from activities.db.crud_danmu import SegmentStart, SessionView
    from activities.db.tables_danmu import DanmuFile
    from activities.pipeline_triggers import PipelineTriggers
    from activities.triggers import RunPlan

log = logging.getLogger(__name__)

RECENT_IDS = 200  # message ids a heartbeat carries for the next attempt's dedupe


def danmu_path(video_path: str) -> Path:
    """The danmu file beside a video segment: same name, `.xml`."""
    return Path(video_path).with_suffix(".xml")


class DanmuRun:
    """See the module docstring.

    Args:
        db: the app database engine.
        session_id: the recording session.
        session_start: time 0 of the rate statistics (a fresh accumulator's).
        info: the room's connection info, or a coroutine function resolving it.
        meta: what file headers say about the room.
        announce: told of each file closed for good (its row closed first).
        hold_secs: how long messages wait before they are written.
        save_secs: how often statistics and the open file's count are saved.
        wall: epoch clock (messages' receipt times and segment starts).
        triggers: starts each closed file's pipeline (None: no pipelines).
        **session: more `DanmuSession` arguments (on_control, on_alert, …).
    """

    def __init__(
        self,
        db: sa.Engine,
        session_id: int,
        session_start: datetime,
        info: InfoSource,
        meta: RoomMeta,
        *,
        announce: Callable[[DanmuClosed], Awaitable[None]],
        hold_secs: float,
        save_secs: float,
        wall: Callable[[], float] = time.time,
        triggers: PipelineTriggers | None = None,
        **session: Any,
    ) -> None:
        self.db = db
        self.triggers = triggers
        self.session_id = session_id
        self.announce = announce
        self.save_secs = save_secs
        self.wall = wall
        self.chat = DanmuSession(
            info, self._path_for, meta, hold_secs=hold_secs, wall=wall, **session
        )
        self.chat.stats = StatisticsAccumulator(session_start.timestamp())
        self.next_index = 0
        self.closed: list[DanmuClosed] = []
        self._paths: dict[int, Path] = {}
        self._unrecorded: list[DanmuFileResult] = []  # closed files without a row
        self._saved_at = wall()
        self._saved_messages = -1

    def _path_for(self, index: int) -> Path:
        return self._paths[index]

    async def begin(self, seen_ids: Iterable[str] = ()) -> None:
        """Find where to continue, restore the statistics, connect."""
        self.next_index, state = await asyncio.to_thread(self._resume_point)
        if state:
            try:
                restored = AccumulatorState.model_validate(state)
                self.chat.stats = StatisticsAccumulator.restore(restored)
            except ValueError as err:
                log.warning(
                    "session %d: statistics not restored: %s", self.session_id, err
                )
        await self.chat.start(seen_ids=seen_ids)

    def _resume_point(self) -> tuple[int, dict[str, Any]]:
        with Session(self.db) as db:
            row = crud_danmu.get_statistics(db, self.session_id)
            index = crud_danmu.resume_index(db, self.session_id)
            return index, dict(row.state) if row is not None else {}

    async def follow(self, every_secs: float) -> str:
        """Tick every `every_secs` until the session ends; return why it stopped."""
        while True:
            ended = await self.tick()
            if ended is not None:
                return ended
            await asyncio.sleep(every_secs)

    async def tick(self) -> str | None:
        """Rotate at every boundary due; None while the session goes on."""
        try:
            await self._record_closed()
            view: SessionView = await asyncio.to_thread(self._view)
            for segment in view.segments:
                if not await self._rotate_if_due(segment):
                    break
            if self.wall() - self._saved_at >= self.save_secs:
                await self.save()
        except SQLAlchemyError as err:
            log.warning("session %d danmu: database: %s", self.session_id, err)
            return None
        if not view.exists:
            return "session_gone"
        return "session_closed" if view.ended else None

    def _view(self) -> SessionView:
        with Session(self.db) as db:
            return crud_danmu.session_view(db, self.session_id, self.next_index)

    async def _rotate_if_due(self, segment: SegmentStart) -> bool:
        """Rotate to `segment` if its first frame has passed; False if not yet."""
        if self.chat.progress().current_index == segment.index:
            self.next_index = segment.index + 1  # rotated there before a cancel
            return True
        started = segment.started_at or datetime.fromtimestamp(self.wall(), UTC)
        if started.timestamp() > self.wall():
            return False
        path = danmu_path(segment.file_path)
        await asyncio.to_thread(self._begin_row, segment.index, path, started)
        self._paths[segment.index] = path
        closed = await self.chat.rotate(
            segment.index, started, segment.media_start_secs or 0.0
        )
        self.next_index = segment.index + 1
        if closed is not None:
            self._unrecorded.append(closed)
            await self._record_closed()
            await self.save()
        return True

    def _begin_row(self, index: int, path: Path, started: datetime) -> None:
        with Session(self.db) as db:
            crud_danmu.begin_file(
                db,
                session_id=self.session_id,
                index=index,
                file_path=str(path),
                started_at=started,
            )

    async def _record_closed(self) -> None:
        """Close the rows of closed files, then announce them."""
        while self._unrecorded:
            result = self._unrecorded[0]
            row, closed, plan = await asyncio.to_thread(self._close_row, result)
            self._unrecorded.pop(0)
            done = DanmuClosed(
                session_id=self.session_id,
                index=row.index,
                file_path=row.file_path,
                message_count=row.message_count,
                session_files=closed,
            )
            self.closed.append(done)
            await self.announce(done)
            if self.triggers is not None:
                await self.triggers.file_closed(self.session_id, row.index, plan)

    def _close_row(
        self, result: DanmuFileResult
    ) -> tuple[DanmuFile, int, RunPlan | None]:
        with Session(self.db) as db:
            plan = None
            found = crud_danmu.get_file(db, self.session_id, result.index)
            if self.triggers is not None and found and found.closed_at is None:
                # planned before the row closes: a closed file without a run row
                # tells the pair check that none is coming
                plan = self.triggers.plan_file(
                    db, RunKind.DANMU, self.session_id, result.index, found.file_path
                )
            row, closed = crud_danmu.close_file(
                db,
                session_id=self.session_id,
                index=result.index,
                message_count=result.messages,
                error=result.error,
            )
            return row, closed, plan

    async def save(self, *, complete: bool = False) -> None:
        """Save the statistics and the open file's count (if anything changed)."""
        self._saved_at = self.wall()
        messages = self.chat.progress().messages
        if messages == self._saved_messages and not complete:
            return
        stats = self.chat.stats
        snapshot = stats.snapshot().model_dump(mode="json")
        state = stats.state().model_dump(mode="json")
        progress = self.chat.progress()
        await asyncio.to_thread(self._save, snapshot, state, complete, progress)
        self._saved_messages = messages

    def _save(
        self,
        snapshot: dict[str, Any],
        state: dict[str, Any],
        complete: bool,
        progress: DanmuProgress,
    ) -> None:
        with Session(self.db) as db:
            crud_danmu.save_statistics(
                db, self.session_id, statistics=snapshot, state=state, complete=complete
            )
            if progress.current_index is not None:
                crud_danmu.record_count(
                    db,
                    self.session_id,
                    progress.current_index,
                    progress.current_flushed,
                )

    async def finish(self, *, final: bool) -> list[DanmuClosed]:
        """Disconnect and close the current file.

        Args:
            final: the session ended: the segments that started since the last
                tick get their files, and the last file's row is closed and announced.
                Otherwise (the worker stops) its row stays open, for the next
                attempt to continue the file.

        Returns:
            Every file this attempt closed for good.
        """
        if final:  # a segment the recording opened since the last tick gets its file
            await self.tick()
        done = await self.chat.stop()
        announced = {c.index for c in self.closed} | {r.index for r in self._unrecorded}
        last = [f for f in done.files if f.index not in announced]
        try:
            if final:
                self._unrecorded += last
                await self._record_closed()
            else:
                await asyncio.to_thread(self._count_open, last)
            await self.save(complete=final)
        except SQLAlchemyError as err:
            log.error("session %d danmu: rows not final: %s", self.session_id, err)
        return list(self.closed)

    def _count_open(self, files: list[DanmuFileResult]) -> None:
        with Session(self.db) as db:
            for f in files:
                crud_danmu.record_count(db, self.session_id, f.index, f.messages)

    def progress(self) -> RecordDanmuProgress:
        """Heartbeat details."""
        now = self.chat.progress()
        current = None
        if now.current_index is not None and now.current_path is not None:
            current = DanmuFileProgress(
                index=now.current_index,
                path=now.current_path,
                messages=now.current_flushed,
                flushed_until=now.flushed_until,
            )
        return RecordDanmuProgress(
            connected=now.connected,
            messages=now.messages,
            duplicates=now.duplicates,
            files_closed=len(self.closed),
            current=current,
            connects=now.connects,
            last_error=now.last_error,
            recent_ids=self.chat.recent_ids(RECENT_IDS),
        )
