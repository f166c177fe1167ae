"""Notifications' SQL: one event per key, deliveries claimed once, breakers, pruning."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from activities.db import (
    NotifyChannel,
    NotifyDeadLetter,
    NotifyDelivery,
    crud_notify,
    crud_notify_admin,
    crud_notify_breaker,
    make_engine,
    migrate,
)
from activities.events import EventType, NotifyEvent
from tests.databases import alembic_to

if TYPE_CHECKING:
    from collections.abc import Iterator

T0 = datetime(2026, 1, 1, tzinfo=UTC)
TTL = timedelta(seconds=60)


@pytest.fixture
def db(db_url: str) -> Iterator[sa.Engine]:
    engine = make_engine(db_url)
    migrate(engine)
    yield engine
    engine.dispose()


def channel(
    db: sa.Engine, name: str, types: list[EventType] | None = None, **fields: Any
) -> int:
    with Session(db) as s:
        row = crud_notify_admin.create_channel(
            s,
            NotifyChannel(
                name=name, kind="webhook", config={"url": "http://h/"}, **fields
            ),
            [t.value for t in (types if types is not None else list(EventType))],
        )
        assert row.id is not None
        return row.id


def event(
    key: str = "streamer-1/session-2/stream_online", **fields: Any
) -> NotifyEvent:
    values: dict[str, Any] = {
        "type": EventType.STREAM_ONLINE,
        "key": key,
        "summary": "alice is live",
        "streamer_id": 1,
        "session_id": 2,
    }
    return NotifyEvent.model_validate(values | fields)


def record(db: sa.Engine, ev: NotifyEvent, now: datetime = T0) -> crud_notify.Recorded:
    with Session(db) as s:
        return crud_notify.record_event(s, ev, now=now)


def deliveries(db: sa.Engine) -> list[NotifyDelivery]:
    with Session(db) as s:
        return list(s.exec(select(NotifyDelivery)).all())


def test_recording_the_same_key_twice_stores_one_event(db):
    a, b = channel(db, "a"), channel(db, "b")
    first = record(db, event())
    again = record(db, event(summary="a retry may even differ"))

    assert first.created
    assert not again.created
    assert again.event_id == first.event_id
    assert sorted(d.channel_id for d in deliveries(db)) == [a, b]
    assert again.delivery_ids == first.delivery_ids
    with Session(db) as s:
        (row,) = crud_notify_admin.page_events(s, limit=10, offset=0)[0]
        assert (row.summary, row.priority, row.created_at) == ("alice is live", 5, T0)


@pytest.mark.parametrize(
    ("fields", "ev", "expected"),
    [
        pytest.param({}, {}, True, id="subscribed"),
        pytest.param({"enabled": False}, {}, False, id="disabled"),
        pytest.param({"min_priority": 6}, {}, False, id="below-min-priority"),
        pytest.param({"min_priority": 6}, {"priority": 6}, True, id="raised-priority"),
        pytest.param({"streamer_ids": [1, 9]}, {}, True, id="in-scope"),
        pytest.param({"streamer_ids": [9]}, {}, False, id="out-of-scope"),
        pytest.param(
            {"streamer_ids": [1]},
            {"streamer_id": None, "type": EventType.SYSTEM_STARTUP},
            False,
            id="system-event-skips-scoped",
        ),
        pytest.param(
            {}, {"type": EventType.PIPELINE_FAILED}, False, id="not-subscribed"
        ),
    ],
)
def test_which_channels_an_event_goes_to(db, fields, ev, expected):
    channel(db, "c", [EventType.STREAM_ONLINE, EventType.SYSTEM_STARTUP], **fields)
    recorded = record(db, event(**ev))
    assert bool(recorded.delivery_ids) is expected
    # an event that goes nowhere needs no delivery workflow
    assert recorded.dispatched is not expected


def claim(db: sa.Engine, delivery_id: int, token: str, now: datetime = T0, **kw: Any):
    with Session(db) as s:
        return crud_notify.claim_delivery(
            s, delivery_id, token=token, now=now, ttl=TTL, **kw
        )


def finish(db: sa.Engine, delivery_id: int, token: str, error: str | None = None):
    with Session(db) as s:
        crud_notify.finish_delivery(s, delivery_id, token=token, now=T0, error=error)


def test_a_delivery_is_sent_by_one_attempt_and_never_again(db):
    channel(db, "a")
    (did,) = record(db, event()).delivery_ids

    first = claim(db, did, "attempt-1")
    assert first.outcome == "claimed"
    assert first.job is not None
    assert first.job.event["key"] == "streamer-1/session-2/stream_online"
    assert first.job.channel["config"] == {"url": "http://h/"}
    # another attempt waits for the claim to expire
    busy = claim(db, did, "other", T0 + timedelta(seconds=20))
    assert (busy.outcome, busy.wait_secs) == ("busy", 40.0)
    # the same attempt (a retry of the activity) takes it over at once
    assert claim(db, did, "attempt-1").outcome == "claimed"

    finish(db, did, "attempt-1")
    done = claim(db, did, "attempt-2", T0 + timedelta(hours=1))
    assert (done.outcome, done.status) == ("done", "delivered")
    (row,) = deliveries(db)
    assert (row.status, row.attempts, row.claim_token) == ("delivered", 1, None)


def test_an_expired_claim_passes_to_the_next_attempt(db):
    channel(db, "a")
    (did,) = record(db, event()).delivery_ids
    claim(db, did, "dead-worker")
    assert claim(db, did, "next", T0 + TTL).outcome == "claimed"
    # the dead worker's late failure does not overwrite the new holder's claim
    finish(db, did, "dead-worker", error="late")
    (row,) = deliveries(db)
    assert (row.claim_token, row.attempts) == ("next", 0)


def test_disabled_or_deleted_channels_are_skipped(db):
    cid = channel(db, "a")
    (did,) = record(db, event()).delivery_ids
    with Session(db) as s:
        row = crud_notify_admin.get_channel(s, cid)
        assert row is not None
        crud_notify_admin.update_channel(s, row, {"enabled": False})
    skipped = claim(db, did, "t")
    assert (skipped.outcome, skipped.status, skipped.detail) == (
        "done",
        "skipped",
        "channel disabled",
    )
    with Session(db) as s:
        row = crud_notify_admin.get_channel(s, cid)
        assert row is not None
        crud_notify_admin.delete_channel(s, row)
    assert deliveries(db) == []
    assert claim(db, did, "t").status == "skipped"


def dead_letter(db: sa.Engine, did: int, error: str = "Discord answered 500") -> Any:
    with Session(db) as s:
        return crud_notify.add_dead_letter(
            s, did, error=error, payload={"event": {"type": "stream_online"}}, now=T0
        )


def test_dead_letters_and_their_redelivery(db):
    channel(db, "a")
    (did,) = record(db, event()).delivery_ids
    claim(db, did, "t")
    finish(db, did, "t", error="Discord answered 500")

    letter = dead_letter(db, did)
    assert dead_letter(db, did, "again") == letter  # one per delivery, refreshed
    (row,) = deliveries(db)
    assert row.status == "dead"
    assert claim(db, did, "late").outcome == "done"  # dead stays dead...
    assert claim(db, did, "retry", redeliver=True).outcome == "claimed"  # ...unless
    finish(db, did, "retry")
    with Session(db) as s:
        assert s.exec(select(NotifyDeadLetter)).all() == []
    assert deliveries(db)[0].status == "delivered"
    assert dead_letter(db, did) is None  # delivered after all: nothing to keep


def breaker(db: sa.Engine, error: str | None, now: datetime = T0) -> bool:
    with Session(db) as s:
        return crud_notify_breaker.breaker_record(
            s, 5, error=error, now=now, threshold=3, cooldown=timedelta(minutes=5)
        )


def allow(db: sa.Engine, now: datetime) -> float | None:
    with Session(db) as s:
        return crud_notify_breaker.breaker_allow(s, 5, now=now, trial_ttl=TTL)


def test_breaker_opens_after_the_threshold_then_lets_one_trial_through(db):
    assert [breaker(db, "x") for _ in range(3)] == [False, False, True]
    assert allow(db, T0 + timedelta(minutes=1)) == 240.0
    later = T0 + timedelta(minutes=5)
    assert allow(db, later) is None  # the trial
    assert allow(db, later) == 60.0  # everyone else waits for it
    assert breaker(db, "still down", later) is True  # failed trial: open again
    assert allow(db, later + timedelta(minutes=4)) == 60.0
    breaker(db, None)
    assert allow(db, later) is None
    with Session(db) as s:
        row = crud_notify_breaker.get_breaker(s, 5)
        assert row is not None
        assert (row.failures, row.open_until) == (0, None)


def test_pruning_keeps_what_a_dead_letter_needs(db):
    channel(db, "a")
    old = record(db, event("old"), now=T0)
    kept = record(db, event("old-but-dead-lettered"), now=T0)
    record(db, event("new"), now=T0 + timedelta(days=40))
    dead_letter(db, kept.delivery_ids[0])
    cutoff = T0 + timedelta(days=10)
    with Session(db) as s:
        events, letters = crud_notify_admin.prune(
            s, events_before=cutoff, dead_letters_before=T0, batch=1
        )
        assert (events, letters) == (1, 0)
        keys = {e.key for e in crud_notify_admin.page_events(s, limit=9, offset=0)[0]}
        assert keys == {"old-but-dead-lettered", "new"}
        assert crud_notify_admin.list_deliveries(s, old.event_id) == []
        # once its dead letter expires, the event goes too
        events, letters = crud_notify_admin.prune(
            s, events_before=cutoff, dead_letters_before=cutoff
        )
        assert (events, letters) == (1, 1)


def test_migration_turns_old_events_into_dispatched_log_entries(empty_db_url):
    engine = make_engine(empty_db_url)
    alembic_to(engine, "0003_guards")
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO event (kind, subject, detail, created_at) VALUES "
                "('output_path_inaccessible', '/rec', 'ENOSPC', :t)"
            ),
            {"t": T0.isoformat()},
        )
    migrate(engine)
    with Session(engine) as s:
        (row,), total = crud_notify_admin.page_events(s, limit=5, offset=0)
        assert total == 1
        assert (row.key, row.priority, row.summary) == (
            "legacy:1",
            10,
            "output_path_inaccessible: /rec",
        )
        assert row.dispatched_at is not None
        assert crud_notify.undispatched_events(s, before=T0, limit=5) == []
    engine.dispose()
