"""`/api/streamers`: configure streamers and nudge their workflows.

The DB row is the source of truth. Each change is saved first and then announced to
the streamer's workflow; when Temporal is unreachable the change stays saved and the
worker's start-up reconcile catches up, so only the pure control routes answer 503.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import ValidationError

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
from api.schemas import Accepted, Page, StreamerCreate, StreamerPublic, StreamerUpdate

if TYPE_CHECKING:
    from collections.abc import Iterator

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


@contextlib.contextmanager
def _url_conflict() -> Iterator[None]:
    """A URL taken between the check and the write (a race) is a 409 too."""
    try:
        yield
    except crud.UrlTakenError as err:
        raise HTTPException(
            status.HTTP_409_CONFLICT, "a streamer has this URL"
        ) from err


def _found(streamer: Streamer | None) -> Streamer:
    if streamer is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "streamer not found")
    return streamer


async def _nudge(control: WorkflowControl, streamer_id: int, signal: str) -> None:
    """Signal the workflow, starting it first if it does not run."""
    if not await control.signal(streamer_id, signal):
        await control.start(streamer_id)
        await control.signal(streamer_id, signal)


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_streamer(
    body: StreamerCreate, db: DbDep, control: ControlDep, detector: DetectorDep
) -> StreamerPublic:
    """Add a streamer and start its workflow (409 if the URL is taken)."""
    platform = _detect(detector, body.url)
    if await asyncio.to_thread(crud.get_streamer_by_url, db, body.url):
        raise HTTPException(status.HTTP_409_CONFLICT, "a streamer has this URL")
    with _url_conflict():
        streamer = await asyncio.to_thread(
            crud.create_streamer,
            db,
            Streamer(
                **body.model_dump(mode="json", exclude={"settings"}),
                settings=body.settings.stored(),
                platform=platform,
            ),
        )
    assert streamer.id is not None
    try:
        await control.start(streamer.id)
    except TemporalUnavailableError as err:
        log.warning("streamer %s saved, workflow not started: %s", streamer.id, err)
    return _public(streamer)


@router.get("")
def list_streamers(
    db: DbDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Page[StreamerPublic]:
    """List streamers in creation order."""
    items, total = crud.list_streamers(db, limit=limit, offset=offset)
    return Page(items=[_public(s) for s in items], total=total)


@router.get("/{streamer_id}")
def get_streamer(streamer_id: int, db: DbDep) -> StreamerPublic:
    """One streamer (404 if missing)."""
    return _public(_found(crud.get_streamer(db, streamer_id)))


@router.patch("/{streamer_id}")
async def update_streamer(
    streamer_id: int,
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
        other = await asyncio.to_thread(crud.get_streamer_by_url, db, changes["url"])
        if other is not None and other.id != streamer_id:
            raise HTTPException(status.HTTP_409_CONFLICT, "a streamer has this URL")
    with _url_conflict():
        streamer = await asyncio.to_thread(crud.update_streamer, db, streamer, changes)
    signals = [SIGNAL_CONFIG_CHANGED]
    if "enabled" in changes:
        signals.append(SIGNAL_RESUME if changes["enabled"] else SIGNAL_PAUSE)
    try:
        for signal in signals:
            await _nudge(control, streamer_id, signal)
    except TemporalUnavailableError as err:
        log.warning("streamer %s saved, workflow not told: %s", streamer_id, err)
    return _public(streamer)


@router.delete("/{streamer_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_streamer(
    streamer_id: int,
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
    _found(await asyncio.to_thread(crud.get_streamer, db, streamer_id))
    with temporal_errors():
        await _nudge(control, streamer_id, signal)
    return Accepted()


@router.post("/{streamer_id}/pause", status_code=status.HTTP_202_ACCEPTED)
async def pause(streamer_id: int, db: DbDep, control: ControlDep) -> Accepted:
    """Stop checking (and finish any recording) until resumed."""
    return await _control(db, control, streamer_id, SIGNAL_PAUSE)


@router.post("/{streamer_id}/resume", status_code=status.HTTP_202_ACCEPTED)
async def resume(streamer_id: int, db: DbDep, control: ControlDep) -> Accepted:
    """Resume checking a paused streamer."""
    return await _control(db, control, streamer_id, SIGNAL_RESUME)


@router.post("/{streamer_id}/check", status_code=status.HTTP_202_ACCEPTED)
async def check(streamer_id: int, db: DbDep, control: ControlDep) -> Accepted:
    """Check whether the streamer is live now, without waiting for the next poll."""
    return await _control(db, control, streamer_id, SIGNAL_CHECK_NOW)
