"""The delivery activity alone: claims, retry delays, the breaker, no secret leaks."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from sqlmodel import Session, select
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.db import (
    NotifyChannel,
    NotifyDelivery,
    crud_notify,
    crud_notify_admin,
    make_engine,
    migrate,
)
from activities.events import DeadLetterInput, DeliverInput, EventType, NotifyEvent
from activities.notify import Dispatcher, NotifyActivities, NotifySettings, SendDeps
from tests.fakes.notify_receiver import Reply

if TYPE_CHECKING:
    from collections.abc import Iterator

    import sqlalchemy as sa


TOKEN = "123456:ABCdefGhIJKlmNoPQRsTUVwxyZ-123456789"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def db(db_url: str) -> Iterator[sa.Engine]:
    engine = make_engine(db_url)
    migrate(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def notify(db, http, clock) -> NotifyActivities:
    def no_temporal() -> Any:
        raise AssertionError("these tests start no workflow")

    dispatcher = Dispatcher(db, no_temporal, clock=clock)
    settings = NotifySettings(
        breaker_threshold=2, breaker_cooldown=timedelta(minutes=5)
    )
    deps = SendDeps(http=http, timeout=httpx.Timeout(2.0, read=0.5))
    return NotifyActivities(db, deps, dispatcher, settings=settings, clock=clock)


def add_channel(db: sa.Engine, kind: str, config: dict[str, Any]) -> int:
    with Session(db) as s:
        row = crud_notify_admin.create_channel(
            s, NotifyChannel(name=kind, kind=kind, config=config), list(EventType)
        )
        assert row.id is not None
        return row.id


def record(notify: NotifyActivities, key: str = "k1") -> list[int]:
    event = NotifyEvent(type=EventType.STREAM_ONLINE, key=key, summary="alice is live")
    with Session(notify.db) as s:
        return crud_notify.record_event(s, event, now=notify.clock()).delivery_ids


async def deliver(notify: NotifyActivities, delivery_id: int) -> Any:
    return await ActivityEnvironment().run(
        notify.deliver, DeliverInput(delivery_id=delivery_id)
    )


async def test_a_retry_after_the_send_does_not_send_again(db, notify, receiver):
    add_channel(db, "webhook", {"url": receiver.url("/in")})
    (did,) = record(notify)

    assert (await deliver(notify, did)).status == "delivered"
    # Temporal retries an attempt whose result it lost: the row says delivered
    assert (await deliver(notify, did)).status == "delivered"
    assert len(receiver.requests) == 1
    with Session(db) as s:
        row = s.exec(select(NotifyDelivery)).one()
        assert (row.status, row.attempts) == ("delivered", 1)


async def test_429_sets_the_next_retry_delay(db, notify, receiver):
    add_channel(db, "webhook", {"url": receiver.url("/in")})
    receiver.script("/in", [Reply(429, {"Retry-After": "42"})])
    (did,) = record(notify)
    with pytest.raises(ApplicationError) as caught:
        await deliver(notify, did)
    assert caught.value.next_retry_delay == timedelta(seconds=42)
    assert not caught.value.non_retryable


async def test_a_refusal_is_not_retried(db, notify, receiver):
    add_channel(db, "webhook", {"url": receiver.url("/in")})
    receiver.script("/in", [404])
    (did,) = record(notify)
    with pytest.raises(ApplicationError, match="answered 404") as caught:
        await deliver(notify, did)
    assert caught.value.non_retryable


async def test_an_open_breaker_refuses_without_sending(db, notify, receiver, clock):
    add_channel(db, "webhook", {"url": receiver.url("/in")})
    receiver.script("/in", [500])
    first, second, third = (record(notify, f"k{i}")[0] for i in range(3))
    for did in (first, second):  # threshold 2
        with pytest.raises(ApplicationError, match="answered 500"):
            await deliver(notify, did)
    with pytest.raises(ApplicationError, match="circuit open") as caught:
        await deliver(notify, third)
    assert caught.value.next_retry_delay == timedelta(minutes=5)
    assert len(receiver.requests) == 2
    # after the cooldown one trial goes through, and its success closes the breaker
    receiver.script("/in", [200])
    clock.now += timedelta(minutes=5)
    assert (await deliver(notify, third)).status == "delivered"
    assert (await deliver(notify, second)).status == "delivered"


async def test_secrets_reach_no_log_error_or_dead_letter(db, notify, receiver, caplog):
    caplog.set_level(logging.DEBUG)
    hook = f"/api/webhooks/1/{'w' * 20}-hook-token-1234"
    add_channel(
        db,
        "telegram",
        {"bot_token": TOKEN, "chat_id": "1", "api_base": receiver.url("")},
    )
    add_channel(db, "discord", {"webhook_url": receiver.url(hook)})
    receiver.script(
        f"/bot{TOKEN}/sendMessage",
        [Reply(400, body={"ok": False, "description": f"bad /bot{TOKEN}"})],
    )
    receiver.script(hook, [500])
    errors = []
    for did in record(notify):
        with pytest.raises(ApplicationError) as caught:
            await deliver(notify, did)
        errors.append(str(caught.value))
        ActivityEnvironment().run(
            notify.dead_letter,
            DeadLetterInput(delivery_id=did, error=str(caught.value)),
        )
    # httpx logged both requests, with their URLs: redacted
    logging.getLogger("httpx").info(
        "HTTP Request: POST %s", receiver.url(f"/bot{TOKEN}/x")
    )
    with Session(db) as s:
        rows = crud_notify_admin.list_dead_letters(
            s, channel_id=None, limit=9, offset=0
        )[0]
        stored = [r.error + str(r.payload) for r in rows] + [
            str(d.last_error) for d in s.exec(select(NotifyDelivery)).all()
        ]
    for text in [caplog.text, *errors, *stored]:
        assert TOKEN not in text
        assert "hook-token-1234" not in text
    assert "answered 400" in errors[0]
    assert "answered 500" in errors[1]
