"""`/api/streamers/{id}/filters`: when and what a streamer may record.

A live stream is recorded only while all of its streamer's filters pass: time
windows, cron schedules, title keywords, categories and title regexes
(`activities.filters`). Every filter is checked as it is saved: a time zone that
does not exist, a cron expression or regex that does not compile, an empty window,
is a 422 naming the field. Like a settings change, a saved change is announced to
the streamer's workflow (`config_changed`); when Temporal is unreachable the change
stays saved and reaches the workflow at its next load.
"""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, status
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from pydantic import TypeAdapter, ValidationError

from activities.contracts import SIGNAL_CONFIG_CHANGED, FilterSpec
from activities.db import StreamerFilter, crud, crud_filters
from activities.filters import FilterError, check
from activities.schedule import zone
from api.deps import (
    ControlDep,
    DbDep,
    TemporalUnavailableError,
    WorkflowControl,
)
from api.errors import ConflictError
from api.params import (
    BODY_RESPONSES,
    CONFLICT_RESPONSES,
    MAX_ID,
    NOT_FOUND_RESPONSES,
    StreamerId,
)
from api.schemas_filters import FilterIn, FilterPublic
from workflows.client import ForeignWorkflowError

log = logging.getLogger(__name__)

router = APIRouter(
    prefix="/streamers/{streamer_id}/filters",
    tags=["filters"],
    responses=NOT_FOUND_RESPONSES,
)

FilterId = Annotated[
    int, PathParam(ge=1, le=MAX_ID, description="The filter's id (1 to 2^63-1)")
]
_IN: TypeAdapter[FilterIn] = TypeAdapter(FilterIn)
_PUBLIC: TypeAdapter[FilterPublic] = TypeAdapter(FilterPublic)
_ZONEINFO = "zoneinfo/"


def local_zone_name() -> str:
    """The IANA name of the server's time zone: `$TZ`, the zone `/etc/localtime`
    links to, `/etc/timezone`, else UTC."""
    candidates = [os.environ.get("TZ", "").removeprefix(":")]
    try:
        link = os.readlink("/etc/localtime")
        candidates.append(link.rpartition(_ZONEINFO)[2] if _ZONEINFO in link else "")
    except OSError:
        pass
    try:
        candidates.append(Path("/etc/timezone").read_text(encoding="utf-8").strip())
    except OSError:
        pass
    for name in candidates:
        try:
            if name:
                zone(name)
                return name
        except ValueError:
            continue
    return "UTC"


def _public(row: StreamerFilter) -> FilterPublic:
    return _PUBLIC.validate_python({**row.config, **row.model_dump(exclude={"config"})})


def _streamer(db: DbDep, streamer_id: int) -> None:
    if crud.get_streamer(db, streamer_id) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "streamer not found")


def _found(db: DbDep, streamer_id: int, filter_id: int) -> StreamerFilter:
    _streamer(db, streamer_id)
    row = crud_filters.get_filter(db, streamer_id, filter_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "filter not found")
    return row


def _checked(body: FilterIn) -> FilterSpec:
    """The spec to store; 422 naming the field when it cannot be evaluated."""
    spec = body.spec(local_zone_name())
    try:
        check(spec)
    except FilterError as err:
        raise RequestValidationError(
            [{"loc": ("body", err.field), "msg": err.reason, "type": "filter"}]
        ) from err
    return spec


async def _announce(control: WorkflowControl, streamer_id: int) -> None:
    """Tell the streamer's workflow to reload, starting it if it does not run."""
    try:
        if not await control.signal(streamer_id, SIGNAL_CONFIG_CHANGED):
            await control.start(streamer_id)
            await control.signal(streamer_id, SIGNAL_CONFIG_CHANGED)
    except (TemporalUnavailableError, ForeignWorkflowError) as err:
        log.warning(
            "streamer %s filters saved, workflow not told: %s", streamer_id, err
        )


@router.get("")
def list_filters(streamer_id: StreamerId, db: DbDep) -> list[FilterPublic]:
    """The streamer's filters, in the order they apply."""
    _streamer(db, streamer_id)
    return [_public(r) for r in crud_filters.list_filters(db, streamer_id)]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses=BODY_RESPONSES | CONFLICT_RESPONSES,
)
async def create_filter(
    streamer_id: StreamerId, body: FilterIn, db: DbDep, control: ControlDep
) -> FilterPublic:
    """Add a filter (409 when the streamer has the most it may have)."""
    spec = _checked(body)

    def save() -> StreamerFilter:
        _streamer(db, streamer_id)
        most = crud_filters.MAX_FILTERS_PER_STREAMER
        if crud_filters.count_filters(db, streamer_id) >= most:
            raise ConflictError(
                f"streamer {streamer_id} has {most} filters already: delete or "
                "combine some"
            )
        return crud_filters.create_filter(db, streamer_id, spec)

    row = await asyncio.to_thread(save)
    await _announce(control, streamer_id)
    return _public(row)


@router.get("/{filter_id}")
def get_filter(streamer_id: StreamerId, filter_id: FilterId, db: DbDep) -> FilterPublic:
    """One filter of the streamer."""
    return _public(_found(db, streamer_id, filter_id))


@router.put("/{filter_id}", responses=BODY_RESPONSES)
async def replace_filter(
    streamer_id: StreamerId,
    filter_id: FilterId,
    body: FilterIn,
    db: DbDep,
    control: ControlDep,
) -> FilterPublic:
    """Replace a filter with another spec (of any type)."""
    spec = _checked(body)

    def save() -> StreamerFilter:
        return crud_filters.update_filter(db, _found(db, streamer_id, filter_id), spec)

    row = await asyncio.to_thread(save)
    await _announce(control, streamer_id)
    return _public(row)


@router.patch("/{filter_id}", responses=BODY_RESPONSES)
async def update_filter(
    streamer_id: StreamerId,
    filter_id: FilterId,
    db: DbDep,
    control: ControlDep,
    body: Annotated[
        dict[str, Any],
        Body(
            description="Fields of the filter's type to change; the others stay. "
            "The type cannot change here (PUT replaces a filter whole)."
        ),
    ],
) -> FilterPublic:
    """Change some fields of a filter; the result is checked like a new one."""
    row = await asyncio.to_thread(_found, db, streamer_id, filter_id)
    if body.get("type", row.type) != row.type:
        raise RequestValidationError(
            [
                {
                    "loc": ("body", "type"),
                    "msg": f"stays {row.type!r} in a PATCH: PUT replaces a filter",
                    "type": "filter",
                }
            ]
        )
    try:
        merged = _IN.validate_python({**row.config, **body, "type": row.type})
    except ValidationError as err:
        raise RequestValidationError(
            [
                {**e, "loc": ("body", *e["loc"][1:])}
                for e in err.errors(include_url=False, include_context=False)
            ]
        ) from err
    spec = _checked(merged)
    row = await asyncio.to_thread(crud_filters.update_filter, db, row, spec)
    await _announce(control, streamer_id)
    return _public(row)


@router.delete("/{filter_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_filter(
    streamer_id: StreamerId, filter_id: FilterId, db: DbDep, control: ControlDep
) -> None:
    """Remove a filter."""

    def delete() -> None:
        crud_filters.delete_filter(db, _found(db, streamer_id, filter_id))

    await asyncio.to_thread(delete)
    await _announce(control, streamer_id)
