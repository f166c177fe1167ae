"""`/api/streamers`: configure streamers and nudge their workflows.

The DB row is the source of truth. Each change is saved first and then announced to
the streamer's workflow; when Temporal is unreachable the change stays saved and the
worker's start-up reconcile catches up, so only the pure control routes answer 503.
A workflow id that another srec instance runs (two installs sharing one Temporal
server) is never signalled: control and delete answer 409 with the reason, and a
saved change to such a streamer is logged as not announced.
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
from activities.errors import ExtractorError, UnsupportedUrlError
from activities.platforms import Channel, PlatformRegistry
from api.deps import (
    ControlDep,
    DbDep,
    Platforms,
    PlatformsDep,
    TemporalUnavailableError,
    WorkflowControl,
    temporal_errors,
)
from api.schemas import Accepted, Page, StreamerCreate, StreamerPublic, StreamerUpdate
from workflows.client import ForeignWorkflowError

if TYPE_CHECKING:
    from collections.abc import Iterator

log = logging.getLogger(__name__)

router = APIRouter(prefix="/streamers", tags=["streamers"])


def _public(streamer: Streamer, registry: PlatformRegistry) -> StreamerPublic:
    public = StreamerPublic.model_validate(streamer, from_attributes=True)
    # secrets (cookies, tokens) are written, never shown back
    try:
        shown = registry.public_options(streamer.platform, streamer.platform_options)
    except ExtractorError:  # a platform this build no longer has
        shown = {}
    return public.model_copy(update={"platform_options": shown})


def _detect(platforms: Platforms, url: str) -> Channel:
    try:
        return platforms.registry.channel(url)
    except UnsupportedUrlError as err:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(err)) from err


def _platform_options(
    registry: PlatformRegistry,
    platform: str,
    stored: dict[str, Any],
    sent: dict[str, Any] | None,
) -> dict[str, Any]:
    """Merge sent options into the stored ones (null removes), validated.

    Raises:
        HTTPException: 422 when the platform's options model refuses them.
    """
    merged = {k: v for k, v in (stored | (sent or {})).items() if v is not None}
    model = registry.named(platform).options_model
    try:
        model.model_validate(merged)
    except ValidationError as err:
        reasons = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in err.errors()
        )
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"invalid {platform} options: {reasons}",
        ) from err
    return merged


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
    body: StreamerCreate, db: DbDep, control: ControlDep, platforms: PlatformsDep
) -> StreamerPublic:
    """Add a streamer and start its workflow (409 if the URL is taken).

    The platform and the streamer's reference on it (room id, login) come from the
    URL's matcher; `platform_options` are checked against the platform's options.
    """
    channel = _detect(platforms, body.url)
    options = _platform_options(
        platforms.registry, channel.platform, {}, body.platform_options
    )
    if await asyncio.to_thread(crud.get_streamer_by_url, db, body.url):
        raise HTTPException(status.HTTP_409_CONFLICT, "a streamer has this URL")
    with _url_conflict():
        streamer = await asyncio.to_thread(
            crud.create_streamer,
            db,
            Streamer(
                **body.model_dump(
                    mode="json", exclude={"settings", "platform_options"}
                ),
                settings=body.settings.stored(),
                platform_options=options,
                platform=channel.platform,
                channel=channel.reference,
            ),
        )
    assert streamer.id is not None
    try:
        await control.start(streamer.id)
    except (TemporalUnavailableError, ForeignWorkflowError) as err:
        log.warning("streamer %s saved, workflow not started: %s", streamer.id, err)
    return _public(streamer, platforms.registry)


@router.get("")
def list_streamers(
    db: DbDep,
    platforms: PlatformsDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Page[StreamerPublic]:
    """List streamers in creation order."""
    items, total = crud.list_streamers(db, limit=limit, offset=offset)
    return Page(items=[_public(s, platforms.registry) for s in items], total=total)


@router.get("/{streamer_id}")
def get_streamer(
    streamer_id: int, db: DbDep, platforms: PlatformsDep
) -> StreamerPublic:
    """One streamer (404 if missing)."""
    return _public(_found(crud.get_streamer(db, streamer_id)), platforms.registry)


@router.patch("/{streamer_id}")
async def update_streamer(
    streamer_id: int,
    body: StreamerUpdate,
    db: DbDep,
    control: ControlDep,
    platforms: PlatformsDep,
) -> StreamerPublic:
    """Change a streamer; its workflow reloads, and pauses/resumes on `enabled`.

    `settings` and `platform_options` are merged into the stored ones: fields sent
    replace, fields sent as null are inherited again (settings) or removed
    (options). A URL on another platform starts its options afresh.
    """
    streamer = _found(await asyncio.to_thread(crud.get_streamer, db, streamer_id))
    changes = body.model_dump(
        mode="json", exclude_unset=True, exclude={"settings", "platform_options"}
    )
    if body.settings is not None:
        changes["settings"] = _merge_settings(streamer.settings, body.settings)
    platform, stored = streamer.platform, streamer.platform_options
    if "url" in changes and changes["url"] != streamer.url:
        channel = _detect(platforms, changes["url"])
        changes |= {"platform": channel.platform, "channel": channel.reference}
        if channel.platform != platform:
            platform, stored = channel.platform, {}
            changes["platform_options"] = {}
        other = await asyncio.to_thread(crud.get_streamer_by_url, db, changes["url"])
        if other is not None and other.id != streamer_id:
            raise HTTPException(status.HTTP_409_CONFLICT, "a streamer has this URL")
    if body.platform_options is not None:
        changes["platform_options"] = _platform_options(
            platforms.registry, platform, stored, body.platform_options
        )
    with _url_conflict():
        streamer = await asyncio.to_thread(crud.update_streamer, db, streamer, changes)
    signals = [SIGNAL_CONFIG_CHANGED]
    if "enabled" in changes:
        signals.append(SIGNAL_RESUME if changes["enabled"] else SIGNAL_PAUSE)
    try:
        for signal in signals:
            await _nudge(control, streamer_id, signal)
    except (TemporalUnavailableError, ForeignWorkflowError) as err:
        log.warning("streamer %s saved, workflow not told: %s", streamer_id, err)
    return _public(streamer, platforms.registry)


@router.delete("/{streamer_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_streamer(
    streamer_id: int,
    db: DbDep,
    control: ControlDep,
    delete_files: bool = False,
) -> None:
    """Delete a streamer and stop its workflow.

    Sessions, segments and files stay unless `delete_files=true`. A 409 (and
    nothing deleted) when another srec instance runs this streamer's workflow id.
    """
    streamer = _found(await asyncio.to_thread(crud.get_streamer, db, streamer_id))
    try:
        await control.check_owner(streamer_id)
    except TemporalUnavailableError:
        pass  # the stop below reports it; the row is deleted all the same
    except ForeignWorkflowError as err:
        log.warning("streamer %s not deleted: %s", streamer_id, err)
        raise HTTPException(status.HTTP_409_CONFLICT, str(err)) from err
    await asyncio.to_thread(crud.delete_streamer, db, streamer)
    try:
        # a workflow that does not run has nothing to stop
        await control.signal(streamer_id, SIGNAL_STOP)
    except (TemporalUnavailableError, ForeignWorkflowError) as err:
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
