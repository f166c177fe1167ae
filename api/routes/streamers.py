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
import logging
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, status

from activities.config import parse_stored
from activities.contracts import (
    SIGNAL_CHECK_NOW,
    SIGNAL_CLEAR_ERROR,
    SIGNAL_CONFIG_CHANGED,
    SIGNAL_PAUSE,
    SIGNAL_RESUME,
    SIGNAL_STOP,
    Priority,
)
from activities.db import Streamer, crud, crud_config, crud_sessions
from api.config_rows import new_settings, patched_settings, read_rows, unprocessable
from api.deps import (
    ControlDep,
    DbDep,
    PlatformsDep,
    SettingsDep,
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
    StreamerUpdate,
)
from api.streamer_rows import (
    detect,
    platform_options,
    public,
    save,
)
from workflows.client import ForeignWorkflowError

log = logging.getLogger(__name__)

router = APIRouter(prefix="/streamers", tags=["streamers"])


def _found(streamer: Streamer | None) -> Streamer:
    if streamer is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "streamer not found")
    return streamer


def _check_template(db: DbDep, template_id: int | None) -> None:
    """422 naming `template_id` when no such template exists."""
    if template_id is not None and crud_config.get_template(db, template_id) is None:
        raise unprocessable(
            [
                {
                    "loc": ["body", "template_id"],
                    "msg": f"no template has the id {template_id}",
                    "type": "value_error",
                }
            ]
        )


def _with_priority(sent: dict[str, Any], priority: Priority | None) -> dict[str, Any]:
    """The top-level `priority` is `settings.priority` under another name."""
    if priority is None:
        return sent
    if sent.get("priority") not in (None, priority.value):
        raise unprocessable(
            [
                {
                    "loc": ["body", "priority"],
                    "msg": "differs from settings.priority: send one of them",
                    "type": "value_error",
                }
            ]
        )
    return sent | {"priority": priority.value}


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
    body: StreamerCreate,
    db: DbDep,
    control: ControlDep,
    platforms: PlatformsDep,
    app_settings: SettingsDep,
) -> StreamerPublic:
    """Add a streamer and start its workflow.

    The platform and the streamer's reference on it (room id, login) come from the
    URL's matcher; `platform_options` are checked against the platform's options,
    `settings` (the streamer level of the configuration) against the field list,
    `template_id` must name a template. 409 names the streamer that already has
    this name or URL: both are unique, because the name is the streamer's folder.
    """
    channel = detect(platforms, body.url)
    options = platform_options(
        platforms.registry, channel.platform, {}, body.platform_options
    )
    sent = _with_priority(
        body.settings.model_dump(mode="json", exclude_none=True), body.priority
    )
    settings = await asyncio.to_thread(
        new_settings, db, app_settings.recordings_path, sent, ("settings",)
    )
    await asyncio.to_thread(_check_template, db, body.template_id)
    row = Streamer(
        **body.model_dump(
            mode="json", exclude={"settings", "platform_options", "priority"}
        ),
        settings=settings,
        platform_options=options,
        platform=channel.platform,
        channel=channel.reference,
    )
    streamer = await asyncio.to_thread(
        save, db, lambda: crud.create_streamer(db, row), name=body.name, url=body.url
    )
    assert streamer.id is not None
    try:
        await control.start(streamer.id)
    except (TemporalUnavailableError, ForeignWorkflowError) as err:
        log.warning("streamer %s saved, workflow not started: %s", streamer.id, err)
    return await asyncio.to_thread(public, db, streamer, platforms.registry)


@router.get("")
def list_streamers(
    db: DbDep, platforms: PlatformsDep, limit: Limit = 50, offset: Offset = 0
) -> Page[StreamerPublic]:
    """List streamers in creation order."""
    items, total = crud.list_streamers(db, limit=limit, offset=offset)
    rows = read_rows(db)
    return Page(
        items=[public(db, s, platforms.registry, rows) for s in items], total=total
    )


@router.get("/{streamer_id}", responses=NOT_FOUND_RESPONSES)
def get_streamer(
    streamer_id: StreamerId, db: DbDep, platforms: PlatformsDep
) -> StreamerPublic:
    """One streamer (404 if missing)."""
    return public(db, _found(crud.get_streamer(db, streamer_id)), platforms.registry)


@router.patch(
    "/{streamer_id}",
    responses=BODY_RESPONSES | NOT_FOUND_RESPONSES | CONFLICT_RESPONSES,
)
async def update_streamer(
    streamer_id: StreamerId,
    body: StreamerUpdate,
    db: DbDep,
    control: ControlDep,
    platforms: PlatformsDep,
    app_settings: SettingsDep,
) -> StreamerPublic:
    """Change a streamer; its workflow reloads, and pauses/resumes on `enabled`.

    `settings` and `platform_options` are merged into the stored ones: fields sent
    replace, fields sent as null are inherited again (settings) or removed
    (options). A URL on another platform starts its options afresh. `template_id`
    null leaves the template. 409 names the streamer that already has the new
    name or URL.
    """
    streamer = _found(await asyncio.to_thread(crud.get_streamer, db, streamer_id))
    changes = body.model_dump(
        mode="json",
        exclude_unset=True,
        exclude={"settings", "platform_options", "priority"},
    )
    if "template_id" in changes:
        await asyncio.to_thread(_check_template, db, changes["template_id"])
    sent = _with_priority(
        body.settings.model_dump(mode="json", exclude_unset=True)
        if body.settings is not None
        else {},
        body.priority,
    )
    if sent:
        changes["settings"] = await asyncio.to_thread(
            patched_settings,
            db,
            app_settings.recordings_path,
            parse_stored(streamer.settings),
            sent,
            ("settings",),
        )
    platform, stored = streamer.platform, streamer.platform_options
    if "url" in changes and changes["url"] != streamer.url:
        channel = detect(platforms, changes["url"])
        changes |= {"platform": channel.platform, "channel": channel.reference}
        if channel.platform != platform:
            platform, stored = channel.platform, {}
            changes["platform_options"] = {}
    if body.platform_options is not None:
        changes["platform_options"] = platform_options(
            platforms.registry, platform, stored, body.platform_options
        )
    current = streamer
    streamer = await asyncio.to_thread(
        save,
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
    except (TemporalUnavailableError, ForeignWorkflowError) as err:
        log.warning("streamer %s saved, workflow not told: %s", streamer_id, err)
    return await asyncio.to_thread(public, db, streamer, platforms.registry)


@router.delete(
    "/{streamer_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=NOT_FOUND_RESPONSES | CONFLICT_RESPONSES,
)
async def delete_streamer(
    streamer_id: StreamerId,
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
        raise ConflictError(str(err)) from err
    await asyncio.to_thread(crud.delete_streamer, db, streamer)
    try:
        # a workflow that does not run has nothing to stop
        await control.signal(streamer_id, SIGNAL_STOP)
    except (TemporalUnavailableError, ForeignWorkflowError) as err:
        log.warning("streamer %s deleted, workflow not stopped: %s", streamer_id, err)
    if delete_files:
        paths = await asyncio.to_thread(
            crud_sessions.delete_streamer_sessions, db, streamer_id
        )
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


@router.post(
    "/{streamer_id}/clear-error",
    status_code=status.HTTP_202_ACCEPTED,
    responses=_CONTROL_RESPONSES,
)
async def clear_error(
    streamer_id: StreamerId, db: DbDep, control: ControlDep
) -> Accepted:
    """Forget the streamer's errors and check it now.

    Ends an error backoff (TEMPORAL_DISABLED) and lets a streamer held in
    FATAL_ERROR or NOT_FOUND (the platform's answer, a dead URL) be checked again:
    the check's answer sets the state. A paused streamer stays paused.
    """
    return await _control(db, control, streamer_id, SIGNAL_CLEAR_ERROR)
