"""Fixtures of the notification tests: a receiver, an HTTP client, messages."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from activities.notify import build_message
from tests.fakes.notify_receiver import NotifyReceiver

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from activities.notify import Message

T0 = datetime(2026, 1, 1, 20, 0, tzinfo=UTC)
EVENT: dict[str, Any] = {
    "id": 12,
    "key": "streamer-7/session-42/stream_online",
    "kind": "stream_online",
    "priority": 5,
    "streamer_id": 7,
    "streamer_name": "alice",
    "session_id": 42,
    "title": "Saturday <art> & *chat*",
    "summary": "alice is live: Saturday <art> & *chat*",
    "subject": "",
    "detail": "",
    "created_at": T0,
}


def message(
    *,
    title: str = "{label}: {streamer}",
    body: str = "{summary}",
    channel_id: int = 3,
    **event: Any,
) -> Message:
    """A rendered stream_online message of alice's session 42."""
    channel = {"id": channel_id, "name": "c", "title_template": title}
    channel["body_template"] = body
    return build_message(EVENT | event, channel, f"12-{channel_id}")


@pytest.fixture
async def receiver() -> AsyncIterator[NotifyReceiver]:
    async with NotifyReceiver() as rx:
        yield rx


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    # trust_env=False: a proxy in the environment must not see loopback traffic
    async with httpx.AsyncClient(trust_env=False) as client:
        yield client
