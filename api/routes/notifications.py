"""`/api/notifications`: channels, their subscriptions, and a test send.

The event log and dead letters are in `notification_log.py`, included here. A
channel's secrets are write-only: responses say which are set, never a value; a
PATCH that leaves a secret out keeps it.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, status
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError

from activities.contracts import MAX_ID
from activities.db import (
    NotifyChannel,
    crud,
    crud_notify_admin,
    crud_notify_breaker,
    utcnow,
)
from activities.events import EventType
from activities.notify import KINDS, PLACEHOLDERS, parse_config
from api.deps import ChannelTesterDep, DbDep
from api.params import BODY_RESPONSES, CONFLICT_RESPONSES, NOT_FOUND_RESPONSES
from api.routes import notification_log
from api.schemas import Page
from api.schemas_notify import (
    BreakerPublic,
    ChannelCreate,
    ChannelKindPublic,
    ChannelPublic,
    ChannelTestResult,
    ChannelUpdate,
    Subscriptions,
)

log = logging.getLogger(__name__)

# every route reads a body or an id: document those answers once for all of them
router = APIRouter(
    prefix="/notifications",
    tags=["notifications"],
    responses=BODY_RESPONSES | NOT_FOUND_RESPONSES | CONFLICT_RESPONSES,
)
router.include_router(notification_log.router)

ChannelId = Annotated[int, Path(ge=1, le=MAX_ID)]
Limit = Annotated[int, Query(ge=1, le=500)]
Offset = Annotated[int, Query(ge=0, le=MAX_ID)]


def _invalid(err: ValidationError) -> HTTPException:
    # loc and message only: pydantic's `input` would echo a secret back
    reasons = "; ".join(
        ".".join(str(p) for p in e["loc"]) + f": {e['msg']}" if e["loc"] else e["msg"]
        for e in err.errors()
    )
    return HTTPException(
        status.HTTP_422_UNPROCESSABLE_CONTENT, f"invalid config: {reasons}"
    )


def _validated(kind: str, config: dict[str, Any]) -> dict[str, Any]:
    try:
        return parse_config(kind, config).stored()
    except ValidationError as err:
        raise _invalid(err) from None


def _public_config(
    kind: str, stored: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, bool]]:
    spec = KINDS.get(kind)
    names = spec.config.SECRETS if spec else ()
    shown = {k: v for k, v in stored.items() if k not in names}
    return shown, {name: bool(stored.get(name)) for name in names}


def _breaker(db: DbDep, channel_id: int, now: datetime) -> BreakerPublic:
    row = crud_notify_breaker.get_breaker(db, channel_id)
    if row is None:
        return BreakerPublic(state="closed", failures=0)
    if row.open_until is None:
        state = "closed"
    else:
        state = "open" if now < row.open_until else "half-open"
    return BreakerPublic(
        state=state,
        failures=row.failures,
        open_until=row.open_until,
        last_error=row.last_error,
    )


def _public(db: DbDep, channel: NotifyChannel) -> ChannelPublic:
    assert channel.id is not None
    config, secrets = _public_config(channel.kind, channel.config)
    return ChannelPublic(
        id=channel.id,
        name=channel.name,
        kind=channel.kind,
        enabled=channel.enabled,
        min_priority=channel.min_priority,
        streamer_ids=channel.streamer_ids,
        title_template=channel.title_template,
        body_template=channel.body_template,
        config=config,
        secrets=secrets,
        event_types=crud_notify_admin.get_subscriptions(db, channel.id),
        breaker=_breaker(db, channel.id, utcnow()),
        created_at=channel.created_at,
        updated_at=channel.updated_at,
    )


def _found(channel: NotifyChannel | None) -> NotifyChannel:
    if channel is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "channel not found")
    return channel


def _check_scope(db: DbDep, streamer_ids: list[int]) -> None:
    unknown = [i for i in streamer_ids if crud.get_streamer(db, i) is None]
    if unknown:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, f"unknown streamer ids: {unknown}"
        )


def _check_name(db: DbDep, name: str, channel_id: int | None = None) -> None:
    other = crud_notify_admin.get_channel_by_name(db, name)
    if other is not None and other.id != channel_id:
        raise HTTPException(status.HTTP_409_CONFLICT, "a channel has this name")


@router.get("/channel-kinds")
def channel_kinds() -> list[ChannelKindPublic]:
    """The channel kinds, their settings' JSON schema and write-only fields."""
    return [
        ChannelKindPublic(
            kind=kind,
            description=spec.description,
            secrets=list(spec.config.SECRETS),
            config_schema=spec.config.model_json_schema(),
        )
        for kind, spec in KINDS.items()
    ]


@router.get("/placeholders")
def placeholders() -> dict[str, str]:
    """The placeholders message templates may use, e.g. `{streamer}`."""
    return dict(PLACEHOLDERS)


@router.post("/channels", status_code=status.HTTP_201_CREATED)
def create_channel(body: ChannelCreate, db: DbDep) -> ChannelPublic:
    """Add a channel (409 if the name is taken, 422 for invalid settings)."""
    config = _validated(body.kind, body.config)
    _check_name(db, body.name)
    _check_scope(db, body.streamer_ids)
    kinds = body.event_types if body.event_types is not None else list(EventType)
    channel = NotifyChannel(
        **body.model_dump(exclude={"config", "event_types"}), config=config
    )
    try:
        channel = crud_notify_admin.create_channel(
            db, channel, [k.value for k in kinds]
        )
    except IntegrityError as err:  # a concurrent create took the name
        raise HTTPException(
            status.HTTP_409_CONFLICT, "a channel has this name"
        ) from err
    log.info("notification channel %s (%s) created", channel.id, channel.kind)
    return _public(db, channel)


@router.get("/channels")
def list_channels(
    db: DbDep, limit: Limit = 50, offset: Offset = 0
) -> Page[ChannelPublic]:
    """List channels in creation order."""
    rows, total = crud_notify_admin.list_channels(db, limit=limit, offset=offset)
    return Page(items=[_public(db, c) for c in rows], total=total)


@router.get("/channels/{channel_id}")
def get_channel(channel_id: ChannelId, db: DbDep) -> ChannelPublic:
    """One channel (404 if missing)."""
    return _public(db, _found(crud_notify_admin.get_channel(db, channel_id)))


@router.patch("/channels/{channel_id}")
def update_channel(
    channel_id: ChannelId, body: ChannelUpdate, db: DbDep
) -> ChannelPublic:
    """Change a channel; `config` keys sent replace the stored ones."""
    channel = _found(crud_notify_admin.get_channel(db, channel_id))
    changes = body.model_dump(exclude_unset=True, exclude={"config"})
    if body.config is not None:
        merged = dict(channel.config) | body.config
        changes["config"] = _validated(channel.kind, merged)
    if "name" in changes:
        _check_name(db, changes["name"], channel_id)
    if "streamer_ids" in changes:
        _check_scope(db, changes["streamer_ids"])
    try:
        channel = crud_notify_admin.update_channel(db, channel, changes)
    except IntegrityError as err:
        raise HTTPException(
            status.HTTP_409_CONFLICT, "a channel has this name"
        ) from err
    return _public(db, channel)


@router.delete("/channels/{channel_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_channel(channel_id: ChannelId, db: DbDep) -> None:
    """Delete a channel with its subscriptions, deliveries and dead letters."""
    crud_notify_admin.delete_channel(
        db, _found(crud_notify_admin.get_channel(db, channel_id))
    )


@router.get("/channels/{channel_id}/subscriptions")
def get_subscriptions(channel_id: ChannelId, db: DbDep) -> Subscriptions:
    """The event types a channel receives."""
    _found(crud_notify_admin.get_channel(db, channel_id))
    kinds = crud_notify_admin.get_subscriptions(db, channel_id)
    return Subscriptions(
        event_types=[EventType(k) for k in kinds if k in set(EventType)]
    )


@router.put("/channels/{channel_id}/subscriptions")
def set_subscriptions(
    channel_id: ChannelId, body: Subscriptions, db: DbDep
) -> Subscriptions:
    """Replace the event types a channel receives (empty: none)."""
    _found(crud_notify_admin.get_channel(db, channel_id))
    kinds = crud_notify_admin.set_subscriptions(
        db, channel_id, [k.value for k in body.event_types]
    )
    return Subscriptions(event_types=[EventType(k) for k in kinds])


@router.post("/channels/{channel_id}/test")
async def test_channel(
    channel_id: ChannelId, db: DbDep, tester: ChannelTesterDep
) -> ChannelTestResult:
    """Send a sample message now, bypassing the breaker and retries.

    Answers 200 either way: `delivered` says whether the service accepted it,
    `error` why not.
    """
    channel = _found(
        await asyncio.to_thread(crud_notify_admin.get_channel, db, channel_id)
    )
    error = await tester(channel)
    if error is not None:
        log.info("test of channel %s failed: %s", channel_id, error)
    return ChannelTestResult(delivered=error is None, error=error)
