"""`/api/notifications`: channels, subscriptions, test sends, the event log, dead
letters; secrets are write-only and never logged."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest
from sqlmodel import Session

from activities.contracts import MAX_ID
from activities.db import crud_notify, crud_notify_admin, make_engine
from activities.events import EventType, NotifyEvent
from api.deps import TemporalUnavailableError, get_notify_control
from tests.fakes.notify_receiver import NotifyReceiver, Reply

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

    import sqlalchemy as sa
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from api.settings import ApiSettings

# every test here also runs on Postgres (tests/api/conftest.py)
pytestmark = pytest.mark.both_databases

BASE = "/api/notifications"
SECRET = "hmac-secret-value-42"
TOKEN = "123456:ABCdefGhIJKlmNoPQRsTUVwxyZ-123456789"
T0 = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass
class FakeNotifyControl:
    redelivered: list[tuple[int, int]] = field(default_factory=list)
    unavailable: bool = False

    async def redeliver(self, event_id: int, delivery_id: int) -> None:
        if self.unavailable:
            raise TemporalUnavailableError("Temporal at fake:7233 is unreachable")
        self.redelivered.append((event_id, delivery_id))


@pytest.fixture
def notify_control(app: FastAPI) -> FakeNotifyControl:
    fake = FakeNotifyControl()
    app.dependency_overrides[get_notify_control] = lambda: fake
    return fake


@pytest.fixture
def db(settings: ApiSettings) -> Iterator[sa.Engine]:
    engine = make_engine(settings.database_url)
    yield engine
    engine.dispose()


@pytest.fixture
async def receiver() -> AsyncIterator[NotifyReceiver]:
    async with NotifyReceiver() as rx:
        yield rx


def webhook(url: str = "http://127.0.0.1:9/hook", **body: Any) -> dict[str, Any]:
    return {
        "name": "ops",
        "kind": "webhook",
        "config": {"url": url, "secret": SECRET},
    } | body


def create(client: TestClient, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(f"{BASE}/channels", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def test_event_types_and_channel_kinds(client):
    types = client.get(f"{BASE}/event-types").json()
    assert len(types) == 18
    assert {
        "type": "output_path_inaccessible",
        "label": "Output path inaccessible",
        "priority": 10,
        "priority_name": "critical",
        "description": "The recordings root cannot be written; recordings wait",
    } in types
    kinds = {k["kind"]: k for k in client.get(f"{BASE}/channel-kinds").json()}
    assert set(kinds) == {
        "discord",
        "email",
        "webhook",
        "telegram",
        "gotify",
        "apprise",
    }
    assert kinds["telegram"]["secrets"] == ["bot_token"]
    assert "chat_id" in kinds["telegram"]["config_schema"]["properties"]
    assert "{streamer}" not in client.get(f"{BASE}/placeholders").json()
    assert "streamer" in client.get(f"{BASE}/placeholders").json()


def test_secrets_are_write_only(client, db):
    created = create(client, webhook())
    assert created["config"] == {
        "url": "http://127.0.0.1:9/hook",
        "method": "POST",
        "headers": {},
        "auth": "none",
        "username": None,
        "auth_header": None,
    }
    assert created["secrets"] == {"password": False, "token": False, "secret": True}
    assert len(created["event_types"]) == 18
    assert created["breaker"] == {
        "state": "closed",
        "failures": 0,
        "open_until": None,
        "last_error": None,
    }
    # a PATCH that leaves the secret out keeps it
    cid = created["id"]
    patched = client.patch(
        f"{BASE}/channels/{cid}",
        json={"config": {"method": "PUT"}, "min_priority": 8},
    ).json()
    assert (patched["config"]["method"], patched["min_priority"]) == ("PUT", 8)
    assert patched["secrets"]["secret"] is True
    for body in (created, patched, client.get(f"{BASE}/channels").json()):
        assert SECRET not in str(body)
    with Session(db) as s:
        stored = crud_notify_admin.get_channel(s, cid)
        assert stored is not None
        assert stored.config["secret"] == SECRET
    # and null clears it
    cleared = client.patch(f"{BASE}/channels/{cid}", json={"config": {"secret": None}})
    assert cleared.json()["secrets"]["secret"] is False


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        pytest.param(
            {"title_template": "{nope}"}, "unknown placeholder", id="template"
        ),
        pytest.param(
            {"body_template": "{streamer:>99999}"}, "no format spec", id="format-spec"
        ),
        pytest.param({"kind": "pigeon"}, "", id="kind"),
        pytest.param(
            {"config": {"url": "ftp://x"}}, "invalid config: url", id="config"
        ),
        pytest.param({"min_priority": 11}, "", id="priority"),
        pytest.param({"streamer_ids": [2**63]}, "", id="huge-id"),
        pytest.param({"streamer_ids": [5]}, "unknown streamer ids", id="unknown-scope"),
        pytest.param({"event_types": ["nope"]}, "", id="event-type"),
        pytest.param({"name": "a\nb"}, "control characters", id="name"),
        pytest.param({"body_template": "\x00"}, "NUL", id="nul"),
    ],
)
def test_invalid_channels_are_422(client, body, reason):
    response = client.post(f"{BASE}/channels", json=webhook() | body)
    assert response.status_code == 422, response.text
    assert reason in response.text


def test_a_refused_secret_is_not_echoed(client):
    body = {
        "name": "tg",
        "kind": "telegram",
        "config": {"bot_token": "not-a-valid-token-but-secret", "chat_id": "1"},
    }
    response = client.post(f"{BASE}/channels", json=body)
    assert response.status_code == 422
    assert "bot_token" in response.text
    assert "not-a-valid-token-but-secret" not in response.text


def test_names_are_unique_and_ids_bounded(client):
    cid = create(client, webhook())["id"]
    assert client.post(f"{BASE}/channels", json=webhook()).status_code == 409
    other = create(client, webhook(name="other"))["id"]
    rename = client.patch(f"{BASE}/channels/{other}", json={"name": "ops"})
    assert rename.status_code == 409
    assert (
        client.patch(f"{BASE}/channels/{cid}", json={"name": None}).status_code == 422
    )
    for bad in ("0", str(MAX_ID + 1), str(2**63), "-1", "x"):
        assert client.get(f"{BASE}/channels/{bad}").status_code == 422
    assert client.get(f"{BASE}/channels/{MAX_ID}").status_code == 404
    page = client.get(f"{BASE}/channels", params={"limit": 1, "offset": 1}).json()
    assert (page["total"], [c["id"] for c in page["items"]]) == (2, [other])
    assert client.delete(f"{BASE}/channels/{cid}").status_code == 204
    assert client.get(f"{BASE}/channels/{cid}").status_code == 404


def test_scope_and_subscriptions(client):
    streamer = client.post(
        "/api/streamers", json={"name": "alice", "url": "https://fake.tv/alice"}
    ).json()
    cid = create(client, webhook(streamer_ids=[streamer["id"]], event_types=[]))["id"]
    url = f"{BASE}/channels/{cid}/subscriptions"
    assert client.get(url).json() == {"event_types": []}
    put = client.put(url, json={"event_types": ["stream_online", "stream_online"]})
    assert put.json() == {"event_types": ["stream_online"]}
    assert client.get(f"{BASE}/channels/{cid}").json()["event_types"] == [
        "stream_online"
    ]
    assert client.put(url, json={"event_types": ["nope"]}).status_code == 422
    assert (
        client.put(
            f"{BASE}/channels/99/subscriptions", json={"event_types": []}
        ).status_code
        == 404
    )


async def test_test_send_reaches_the_channel(client, receiver):
    cid = create(client, webhook(receiver.url("/hook")))["id"]
    response = await asyncio.to_thread(client.post, f"{BASE}/channels/{cid}/test")
    assert response.json() == {"delivered": True, "error": None}
    (req,) = receiver.requests
    assert req.json()["event"]["type"] == "test"
    assert req.headers["x-srec-signature"].startswith("sha256=")


async def test_a_failed_test_send_says_why_without_secrets(client, receiver, caplog):
    caplog.set_level(logging.DEBUG)
    body = {
        "name": "tg",
        "kind": "telegram",
        "config": {"bot_token": TOKEN, "chat_id": "1", "api_base": receiver.url("")},
    }
    cid = create(client, body)["id"]
    receiver.script(
        f"/bot{TOKEN}/sendMessage",
        [Reply(401, body={"ok": False, "description": f"Unauthorized {TOKEN}"})],
    )
    response = await asyncio.to_thread(client.post, f"{BASE}/channels/{cid}/test")
    result = response.json()
    assert result["delivered"] is False
    assert "Telegram answered 401" in result["error"]
    assert TOKEN not in response.text
    assert TOKEN not in caplog.text
    assert receiver.requests[0].path == f"/bot{TOKEN}/sendMessage"


def record(db: sa.Engine, key: str, **fields: Any) -> crud_notify.Recorded:
    values: dict[str, Any] = {
        "type": EventType.STREAM_ONLINE,
        "key": key,
        "summary": f"event {key}",
    }
    with Session(db) as s:
        return crud_notify.record_event(
            s, NotifyEvent.model_validate(values | fields), now=T0
        )


def test_the_event_log_pages_and_filters(client, db):
    create(client, webhook())
    record(db, "a", streamer_id=1, occurred_at=T0)
    record(db, "b", type=EventType.FATAL_ERROR, occurred_at=T0 + timedelta(hours=1))
    record(db, "c", streamer_id=2, session_id=5, occurred_at=T0 + timedelta(hours=2))

    def keys(**params: Any) -> list[str]:
        response = client.get(f"{BASE}/events", params=params)
        assert response.status_code == 200, response.text
        return [e["key"] for e in response.json()["items"]]

    assert keys() == ["c", "b", "a"]
    assert keys(type=["fatal_error", "stream_online"], limit=2) == ["c", "b"]
    assert keys(type="fatal_error") == ["b"]
    assert keys(streamer_id=1) == ["a"]
    assert keys(session_id=5) == ["c"]
    assert keys(min_priority=10) == ["b"]
    assert keys(since="2026-01-01T00:30:00Z", until="2026-01-01T02:00:00+00:00") == [
        "b"
    ]
    for params in (
        {"since": "2026-01-01T00:30:00"},  # naive: ambiguous
        {"since": "9999-12-31T23:59:59-23:59"},  # past year 9999 in UTC
        {"streamer_id": 2**63},
        {"limit": 0},
        {"type": "nope"},
    ):
        assert client.get(f"{BASE}/events", params=params).status_code == 422, params

    event = client.get(f"{BASE}/events/1").json()
    assert (event["type"], event["summary"], event["streamer_id"]) == (
        "stream_online",
        "event a",
        1,
    )
    assert [d["status"] for d in event["deliveries"]] == ["pending"]
    assert client.get(f"{BASE}/events/99").status_code == 404


def test_dead_letters_list_retry_delete(client, db, notify_control):
    cid = create(client, webhook())["id"]
    (did,) = record(db, "a").delivery_ids
    with Session(db) as s:
        letter = crud_notify.add_dead_letter(
            s, did, error="Webhook answered 500", payload={"title": "t"}, now=T0
        )
    listed = client.get(f"{BASE}/dead-letters", params={"channel_id": cid}).json()
    assert listed["total"] == 1
    assert listed["items"][0] | {"created_at": None} == {
        "id": letter,
        "delivery_id": did,
        "event_id": 1,
        "channel_id": cid,
        "event_type": "",
        "payload": {"title": "t"},
        "error": "Webhook answered 500",
        "attempts": 0,
        "created_at": None,
    }
    assert (
        client.get(f"{BASE}/dead-letters", params={"channel_id": 99}).json()["total"]
        == 0
    )

    retry = client.post(f"{BASE}/dead-letters/{letter}/retry")
    assert (retry.status_code, retry.json()) == (202, {"status": "accepted"})
    assert notify_control.redelivered == [(1, did)]
    notify_control.unavailable = True
    assert client.post(f"{BASE}/dead-letters/{letter}/retry").status_code == 503
    assert client.post(f"{BASE}/dead-letters/99/retry").status_code == 404
    assert client.delete(f"{BASE}/dead-letters/{letter}").status_code == 204
    assert client.delete(f"{BASE}/dead-letters/{letter}").status_code == 404


def test_deleting_a_channel_drops_its_deliveries_and_dead_letters(client, db):
    cid = create(client, webhook())["id"]
    (did,) = record(db, "a").delivery_ids
    with Session(db) as s:
        crud_notify.add_dead_letter(s, did, error="x", payload={}, now=T0)
    client.delete(f"{BASE}/channels/{cid}")
    assert client.get(f"{BASE}/dead-letters").json()["total"] == 0
    assert client.get(f"{BASE}/events/1").json()["deliveries"] == []


def test_every_route_needs_a_login(anon):
    for method, path in [
        ("get", f"{BASE}/channels"),
        ("get", f"{BASE}/events"),
        ("get", f"{BASE}/event-types"),
        ("get", f"{BASE}/dead-letters"),
        ("post", f"{BASE}/channels/1/test"),
    ]:
        assert getattr(anon, method)(path).status_code == 401


def test_secrets_are_never_logged(client, caplog):
    caplog.set_level(logging.DEBUG)
    cid = create(client, webhook())["id"]
    client.patch(f"{BASE}/channels/{cid}", json={"config": {"secret": SECRET + "2"}})
    client.get(f"{BASE}/channels/{cid}")
    client.post(f"{BASE}/channels", json=webhook(config={"url": "x", "secret": SECRET}))
    assert SECRET not in caplog.text
