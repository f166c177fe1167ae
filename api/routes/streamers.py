"""`/api/streamers`: configure streamers and nudge their workflows.

The DB row is the source of truth. Each change is saved first and then announced to
the streamer's workflow; when Temporal is unreachable the change stays saved and the
worker's start-up reconcile catches up, so only the pure control routes answer 503.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, HTTPException, status
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError

from activities.config import RecordingOverrides, parse_stored_overrides
from activities.contracts import (
    SIGNAL_CHECK_NOW,
    SIGNAL_CONFIG_CHANGED,
    SIGNAL_PAUSE,
    SIGNAL_RESUME,
    SIGNAL_STOP,
)
from activities.db import Streamer, crud
from activities.errors import UnsupportedUrlError
from api.deps import (
    ControlDep,
    DbDep,
    DetectorDep,
    PlatformDetector,
    TemporalUnavailableError,
    WorkflowControl,
    temporal_errors,
)
from api.errors import ConflictError
from api.params import (
    BODY_RESPONSES,
    CONFLICT_RESPONSES,
    NOT_FOUND_RESPONSES,
    UNAVAILABLE_RESPONSES,
    Limit,
    Offset,
    StreamerId,
)
from api.schemas import (
    Accepted,
    Page,
    StreamerCreate,
    StreamerPublic,
    StreamerRef,
    StreamerUpdate,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from sqlmodel import Session

log = logging.getLogger(__name__)

router = APIRouter(prefix="/streamers", tags=["streamers"])


def _public(streamer: Streamer) -> StreamerPublic:
    return StreamerPublic.model_validate(streamer, from_attributes=True)


def _detect(detector: PlatformDetector, url: str) -> str:
    try:
        return detector(url)
    except UnsupportedUrlError as err:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(err)) from err


def _merge_settings(stored: dict[str, Any], sent: RecordingOverrides) -> dict[str, Any]:
    """Apply a PATCH's settings to the stored ones (JSON merge patch, one level).

    Raises:
        HTTPException: 422 when the merged settings do not validate together.
    """
    merged = parse_stored_overrides(stored).stored() | sent.model_dump(
        mode="json", exclude_unset=True
    )
    try:
        return RecordingOverrides.model_validate(
            {k: v for k, v in merged.items() if v is not None}
        ).stored()
    except ValidationError as err:
        reasons = "; ".join(e["msg"] for e in err.errors())
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, f"invalid settings: {reasons}"
        ) from err


def _ref(streamer: Streamer) -> StreamerRef:
    assert streamer.id is not None
    return StreamerRef(id=streamer.id, name=streamer.name)


def _taken(
    db: Session, *, name: str | None, url: str | None, streamer_id: int | None = None
) -> ConflictError | None:
    """The 409 naming another streamer that holds `name` or `url`, if one does.

    Both are unique: a name is the streamer's folder, a URL its stream.
    """
    checks = (
        ("name", name, crud.get_streamer_by_name),
        ("URL", url, crud.get_streamer_by_url),
    )
    for what, value, lookup in checks:
        other = lookup(db, value) if value is not None else None
        if other is not None and other.id != streamer_id:
            return ConflictError(
                f'streamer {other.id} ("{other.name}") already has this {what}',
                _ref(other),
            )
    return None


def _save(
    db: Session,
    write: Callable[[], Streamer],
    *,
    name: str | None,
    url: str | None,
    streamer_id: int | None = None,
) -> Streamer:
    """Check the unique fields, then write.

    A concurrent write that took the name (or URL) between the check and this
    one trips the database's unique constraint: that is a 409 naming it too.

    Raises:
        ConflictError: another streamer holds the name or the URL.
    """
    conflict = _taken(db, name=name, url=url, streamer_id=streamer_id)
    if conflict is not None:
        raise conflict
    try:
        saved = write()
    except IntegrityError as err:
        db.rollback()
        conflict = _taken(db, name=name, url=url, streamer_id=streamer_id)
        if conflict is None:
            raise
        raise conflict from err
    return saved


def _found(streamer: Streamer | None) -> Streamer:
    if streamer is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "streamer not found")
    return streamer


async def _nudge(control: WorkflowControl, streamer_id: int, signal: str) -> None:
    """Signal the workflow, starting it first if it does not run."""
    if not await control.signal(streamer_id, signal):
        await control.start(streamer_id)
        await control.signal(streamer_id, signal)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses=BODY_RESPONSES | CONFLICT_RESPONSES,
)
async def create_streamer(
    body: StreamerCreate, db: DbDep, control: ControlDep, detector: DetectorDep
) -> StreamerPublic:
    """Add a streamer and start its workflow.

    409 names the streamer that already has this name or URL: both are unique,
    because the name is the streamer's folder.
    """
    platform = _detect(detector, body.url)
    row = Streamer(
        **body.model_dump(mode="json", exclude={"settings"}),
        settings=body.settings.stored(),
        platform=platform,
    )
    streamer = await asyncio.to_thread(
        _save,
        db,
        lambda: crud.create_streamer(db, row),
        name=body.name,
        url=body.url,
    )
    assert streamer.id is not None
    try:
        await control.start(streamer.id)
    except TemporalUnavailableError as err:
        log.warning("streamer %s saved, workflow not started: %s", streamer.id, err)
    return _public(streamer)


@router.get("")
def list_streamers(
    db: DbDep, limit: Limit = 50, offset: Offset = 0
) -> Page[StreamerPublic]:
    """List streamers in creation order."""
    items, total = crud.list_streamers(db, limit=limit, offset=offset)
    return Page(items=[_public(s) for s in items], total=total)


@router.get("/{streamer_id}", responses=NOT_FOUND_RESPONSES)
def get_streamer(streamer_id: StreamerId, db: DbDep) -> StreamerPublic:
    """One streamer (404 if missing)."""
    return _public(_found(crud.get_streamer(db, streamer_id)))


@router.patch(
    "/{streamer_id}",
    responses=BODY_RESPONSES | NOT_FOUND_RESPONSES | CONFLICT_RESPONSES,
)
async def update_streamer(
    streamer_id: StreamerId,
    body: StreamerUpdate,
    db: DbDep,
    control: ControlDep,
    detector: DetectorDep,
) -> StreamerPublic:
    """Change a streamer; its workflow reloads, and pauses/resumes on `enabled`.

    `settings` is merged into the stored settings: fields sent replace, fields sent
    as null are inherited again from the worker's defaults.
    """
    streamer = _found(await asyncio.to_thread(crud.get_streamer, db, streamer_id))
    changes = body.model_dump(mode="json", exclude_unset=True, exclude={"settings"})
    if body.settings is not None:
        changes["settings"] = _merge_settings(streamer.settings, body.settings)
    if "url" in changes and changes["url"] != streamer.url:
        changes["platform"] = _detect(detector, changes["url"])
    current = streamer
    streamer = await asyncio.to_thread(
        _save,
        db,
        lambda: crud.update_streamer(db, current, changes),
        name=changes.get("name"),
        url=changes.get("url"),
        streamer_id=streamer_id,
    )
    signals = [SIGNAL_CONFIG_CHANGED]
    if "enabled" in changes:
        signals.append(SIGNAL_RESUME if changes["enabled"] else SIGNAL_PAUSE)
    try:
        for signal in signals:
            await _nudge(control, streamer_id, signal)
    except TemporalUnavailableError as err:
        log.warning("streamer %s saved, workflow not told: %s", streamer_id, err)
    return _public(streamer)


@router.delete(
    "/{streamer_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=NOT_FOUND_RESPONSES,
)
async def delete_streamer(
    streamer_id: StreamerId,
    db: DbDep,
    control: ControlDep,
    delete_files: bool = False,
) -> None:
    """Delete a streamer and stop its workflow.

    Sessions, segments and files stay unless `delete_files=true`.
    """
    streamer = _found(await asyncio.to_thread(crud.get_streamer, db, streamer_id))
    await asyncio.to_thread(crud.delete_streamer, db, streamer)
    try:
        # a workflow that does not run has nothing to stop
        await control.signal(streamer_id, SIGNAL_STOP)
    except TemporalUnavailableError as err:
        log.warning("streamer %s deleted, workflow not stopped: %s", streamer_id, err)
    if delete_files:
        paths = await asyncio.to_thread(crud.delete_streamer_sessions, db, streamer_id)
        await asyncio.to_thread(_unlink_all, paths)


def _unlink_all(paths: list[str]) -> None:
    for path in paths:
        try:
            Path(path).unlink(missing_ok=True)
        except OSError as err:
            log.warning("could not delete %s: %s", path, err)


async def _control(
    db: DbDep, control: WorkflowControl, streamer_id: int, signal: str
) -> Accepted:
    streamer = _found(await asyncio.to_thread(crud.get_streamer, db, streamer_id))
    if signal == SIGNAL_CHECK_NOW and not streamer.enabled:
        # a paused workflow ignores check_now: a 202 would promise a check that
        # never happens
        raise ConflictError(f"streamer {streamer_id} is paused: resume it to check it")
    with temporal_errors():
        await _nudge(control, streamer_id, signal)
    return Accepted()


_CONTROL_RESPONSES = NOT_FOUND_RESPONSES | UNAVAILABLE_RESPONSES | CONFLICT_RESPONSES


@router.post(
    "/{streamer_id}/pause",
    status_code=status.HTTP_202_ACCEPTED,
    responses=_CONTROL_RESPONSES,
)
async def pause(streamer_id: StreamerId, db: DbDep, control: ControlDep) -> Accepted:
    """Stop checking (and finish any recording) until resumed."""
    return await _control(db, control, streamer_id, SIGNAL_PAUSE)


@router.post(
    "/{streamer_id}/resume",
    status_code=status.HTTP_202_ACCEPTED,
    responses=_CONTROL_RESPONSES,
)
async def resume(streamer_id: StreamerId, db: DbDep, control: ControlDep) -> Accepted:
    """Resume checking a paused streamer."""
    return await _control(db, control, streamer_id, SIGNAL_RESUME)


@router.post(
    "/{streamer_id}/check",
    status_code=status.HTTP_202_ACCEPTED,
    responses=_CONTROL_RESPONSES,
)
async def check(streamer_id: StreamerId, db: DbDep, control: ControlDep) -> Accepted:
    """Check whether the streamer is live now, without waiting for the next poll.

    409 while the streamer is paused: resume it first.
    """
    return await _control(db, control, streamer_id, SIGNAL_CHECK_NOW)
