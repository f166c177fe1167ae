"""`/api/parse`, and streamers storing their platform, reference and options.

The platforms are srec's real Bilibili and Twitch modules, asked through the real
client and the host-mapping transport, answered by the fake platform server.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from activities.platforms import PlatformRegistry
from activities.platforms.bilibili import Bilibili
from activities.platforms.generic import Generic
from activities.platforms.twitch import Twitch
from api.deps import Platforms, get_platforms
from tests.fakes.platform import FakePlatforms

if TYPE_CHECKING:
    from collections.abc import Iterator

    from fastapi import FastAPI
    from fastapi.testclient import TestClient

ROOM = "https://live.bilibili.com/23058"
STREAM = "http://127.0.0.1:9/live-bvc/live_23058.flv"
REGISTRY = PlatformRegistry([Bilibili, Twitch, Generic])


@pytest.fixture(scope="module")
def fake() -> Iterator[FakePlatforms]:
    with FakePlatforms() as platforms:
        yield platforms


@pytest.fixture(autouse=True)
def platforms(app: FastAPI, fake: FakePlatforms) -> Iterator[FakePlatforms]:
    http = fake.client()
    app.dependency_overrides[get_platforms] = lambda: Platforms(REGISTRY, http)
    Bilibili.forget()
    yield fake
    for api in fake.apis.values():
        api.rooms.clear()
        api.malformed = False


def live_room(fake: FakePlatforms) -> None:
    room = fake.bilibili.room("23058", title="音悦台", author="3号直播间")
    room.extra.update(uid=11153765, short_id=3)
    room.go_live(STREAM)


def test_parse_names_platform_reference_status_and_streams(
    client: TestClient, platforms: FakePlatforms
) -> None:
    live_room(platforms)
    response = client.post("/api/parse", json={"url": "https://live.bilibili.com/3"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["channel"] == {
        "url": "https://live.bilibili.com/3",
        "platform": "bilibili",
        "extractor": "bilibili",
        "matcher": "live",
        "reference": "3",
    }
    assert body["status"]["outcome"] == "live"
    assert body["status"]["title"] == "音悦台"
    assert body["status"]["author"] == "3号直播间"
    (stream,) = body["streams"]
    assert stream["kind"] == "flv"
    assert stream["quality"] == "原画"
    assert "url" not in stream


def test_resolve_returns_playable_urls(
    client: TestClient, platforms: FakePlatforms
) -> None:
    live_room(platforms)
    response = client.post("/api/parse/resolve", json={"url": ROOM})
    assert response.status_code == 200, response.text
    (stream,) = response.json()["streams"]
    assert stream["url"].startswith(STREAM + "?expires=")
    assert stream["headers"]["Referer"] == "https://live.bilibili.com/"
    assert stream["expires_at"]


def test_parse_of_a_missing_room_is_a_fatal_outcome(client: TestClient) -> None:
    response = client.post("/api/parse", json={"url": "https://live.bilibili.com/9"})
    assert response.status_code == 200
    status = response.json()["status"]
    assert (status["outcome"], status["fatal"]) == ("not_found", True)
    assert response.json()["streams"] == []


def test_parse_unsupported_url_is_422(client: TestClient) -> None:
    response = client.post("/api/parse", json={"url": "https://example.com/x"})
    assert response.status_code == 422
    assert "no platform recognises" in response.json()["detail"]


def test_parse_of_a_changed_answer_is_502(
    client: TestClient, platforms: FakePlatforms
) -> None:
    live_room(platforms)
    platforms.bilibili.malformed = True
    response = client.post("/api/parse", json={"url": ROOM})
    assert response.status_code == 502
    assert "missing field data.live_status" in response.json()["detail"]


def test_parse_needs_a_login(anon: TestClient) -> None:
    assert anon.post("/api/parse", json={"url": ROOM}).status_code == 401


def test_streamer_stores_platform_reference_and_masked_options(
    client: TestClient,
) -> None:
    response = client.post(
        "/api/streamers",
        json={
            "name": "abby",
            "url": "https://m.twitch.tv/abby_",
            "platform_options": {"oauth_token": "s3cret", "supported_codecs": ["av1"]},
        },
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert (created["platform"], created["channel"]) == ("twitch", "abby_")
    # written, never shown back
    assert created["platform_options"]["oauth_token"] == "**********"
    assert "s3cret" not in response.text
    streamer = client.get(f"/api/streamers/{created['id']}").json()
    assert streamer["platform_options"] == {
        "oauth_token": "**********",
        "supported_codecs": ["av1"],
    }


def test_bad_platform_options_are_422(client: TestClient) -> None:
    response = client.post(
        "/api/streamers",
        json={"name": "b", "url": ROOM, "platform_options": {"qualty": 400}},
    )
    assert response.status_code == 422
    (problem,) = response.json()["detail"]
    assert problem["loc"] == ["body", "platform_options", "qualty"]
    assert problem["msg"] == "Extra inputs are not permitted"


def test_patch_merges_options_and_a_new_platform_starts_afresh(
    client: TestClient,
) -> None:
    created = client.post(
        "/api/streamers",
        json={"name": "b", "url": ROOM, "platform_options": {"quality": 400}},
    ).json()
    path = f"/api/streamers/{created['id']}"
    patched = client.patch(path, json={"platform_options": {"hevc": False}}).json()
    assert patched["platform_options"] == {"quality": 400, "hevc": False}
    patched = client.patch(path, json={"platform_options": {"quality": None}}).json()
    assert patched["platform_options"] == {"hevc": False}
    moved = client.patch(path, json={"url": "https://www.twitch.tv/abby_"}).json()
    assert (moved["platform"], moved["channel"], moved["platform_options"]) == (
        "twitch",
        "abby_",
        {},
    )
