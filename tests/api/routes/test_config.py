"""`/api/config` and `/api/templates`: the levels, their 422s, where each effective
value comes from, credentials never shown, and changes reaching exactly their
streamers' workflows."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import pytest
from sqlmodel import Session

from activities.contracts import SIGNAL_CONFIG_CHANGED
from activities.db import crud

if TYPE_CHECKING:
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from tests.api.conftest import FakeWorkflowControl

COOKIE = "SESSDATA=s3cret-cookie-value"
TOKEN = "tok-3xtra-s3cret"


def streamer(client: TestClient, name: str, url: str, **body: Any) -> int:
    response = client.post("/api/streamers", json={"name": name, "url": url, **body})
    assert response.status_code == 201, response.text
    sid: int = response.json()["id"]
    return sid


def project(app: FastAPI, sid: int, state: str, *, enabled: bool = True) -> None:
    """Write what the streamer's workflow would have projected."""
    with Session(app.state.engine) as db:
        crud.set_streamer_state(db, sid, state=state, enabled=enabled)


def told(control: FakeWorkflowControl, expected: set[int]) -> None:
    """Wait until exactly `expected` got config_changed (the notifier spreads it)."""
    deadline = time.monotonic() + 10
    while True:
        got = {sid for name, sid in control.calls if name == SIGNAL_CONFIG_CHANGED}
        if got == expected:
            return
        assert got <= expected, f"told {got - expected} too"
        assert time.monotonic() < deadline, f"told {got}, expected {expected}"
        time.sleep(0.02)


def errors(response: Any) -> list[tuple[list[Any], str]]:
    assert response.status_code == 422, response.text
    return [(e["loc"], e["msg"]) for e in response.json()["detail"]]


# --- global -------------------------------------------------------------------------


def test_global_shows_the_defaults_until_set(client: TestClient) -> None:
    shown = client.get("/api/config/global").json()
    assert all(v is None for v in shown["settings"].values())
    assert shown["effective"]["poll_interval_secs"] == 30
    assert shown["effective"]["output_folder"] == "{streamer}"
    assert set(shown["sources"].values()) == {"default"}
    assert shown["seeded_at"] is not None  # the API's first start seeded it


def test_a_global_change_reaches_every_streamer_not_waiting_for_detection(
    app: FastAPI, client: TestClient, control: FakeWorkflowControl
) -> None:
    live, waiting, failed = (
        streamer(client, f"s{i}", f"https://fake.tv/s{i}") for i in range(3)
    )
    paused = streamer(client, "o", "https://other.tv/o")
    project(app, live, "LIVE")
    project(app, waiting, "NOT_LIVE")
    project(app, failed, "FATAL_ERROR")
    project(app, paused, "NOT_LIVE", enabled=False)
    ids = {live, failed, paused}  # `waiting` reads it when a poller finds it live
    control.calls.clear()
    response = client.patch("/api/config/global", json={"poll_interval_secs": 45})
    assert response.status_code == 200, response.text
    shown = response.json()
    assert shown["settings"]["poll_interval_secs"] == 45
    assert shown["effective"]["poll_interval_secs"] == 45
    assert shown["sources"]["poll_interval_secs"] == "global"
    told(control, ids)
    # null returns a field to its built-in default
    back = client.patch("/api/config/global", json={"poll_interval_secs": None})
    assert back.json()["effective"]["poll_interval_secs"] == 30
    assert back.json()["sources"]["poll_interval_secs"] == "default"


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        pytest.param({"poll_interval_secs": 0}, ["poll_interval_secs"], id="bound"),
        pytest.param({"speed": 1}, ["speed"], id="unknown-field"),
        pytest.param(
            {"filename_template": "{streamer}/x_%i"},
            ["filename_template"],
            id="folder-in-file-name",
        ),
        pytest.param(
            {"selection": {"min_bitrate_bps": -1}},
            ["selection", "min_bitrate_bps"],
            id="nested",
        ),
        pytest.param(
            {"session_pipeline": {"steps": [{"id": "a", "processor": "nope"}]}},
            ["session_pipeline", "a"],
            id="pipeline",
        ),
    ],
)
def test_a_bad_global_value_is_422_naming_the_field(
    client: TestClient, body: dict[str, Any], loc: list[str]
) -> None:
    problems = errors(client.patch("/api/config/global", json=body))
    assert any(where[1 : 1 + len(loc)] == loc for where, _ in problems), problems
    assert (
        client.get("/api/config/global").json()["settings"]["poll_interval_secs"]
        is None
    )


# --- platforms ------------------------------------------------------------------------


def test_platforms_are_listed_with_their_credentials_named(client: TestClient) -> None:
    listed = {p["name"]: p for p in client.get("/api/config/platforms").json()}
    assert set(listed) == {"faketv", "othertv"}
    assert listed["othertv"]["secret_options"] == ["cookies", "proxy_password", "token"]
    assert listed["othertv"]["updated_at"] is None
    assert client.get("/api/config/platforms/nope").status_code == 404


def test_a_platform_level_keeps_its_credentials_masked(
    app: FastAPI, client: TestClient, control: FakeWorkflowControl
) -> None:
    mine = streamer(client, "a", "https://other.tv/a")
    project(app, mine, "LIVE")
    project(app, streamer(client, "b", "https://fake.tv/b"), "LIVE")
    streamer(client, "c", "https://other.tv/c")  # waiting for detection
    control.calls.clear()
    path = "/api/config/platforms/othertv"
    body = {
        "settings": {"engine": "ffmpeg"},
        "platform_options": {"quality": 5, "cookies": COOKIE, "token": TOKEN},
    }
    response = client.put(path, json=body)
    assert response.status_code == 200, response.text
    assert COOKIE not in response.text
    assert TOKEN not in response.text
    shown = response.json()
    assert shown["platform_options"] == {
        "quality": 5,
        "cookies": "**********",
        "token": "**********",
    }
    told(control, {mine})  # only the platform's streamers
    # a PUT replaces the options; credentials not sent (or masked) keep their value
    response = client.put(
        path, json={"platform_options": {"cookies": "**********", "quality": 7}}
    )
    assert response.json()["platform_options"] == {
        "quality": 7,
        "cookies": "**********",
        "token": "**********",
    }
    assert response.json()["settings"]["engine"] is None
    response = client.put(path, json={"platform_options": {"token": None}})
    assert response.json()["platform_options"] == {"cookies": "**********"}
    problems = errors(client.put(path, json={"platform_options": {"qualty": 1}}))
    assert problems[0][0] == ["body", "platform_options", "qualty"]


# --- templates ------------------------------------------------------------------------


def test_template_crud_clone_and_reach(
    app: FastAPI, client: TestClient, control: FakeWorkflowControl
) -> None:
    created = client.post(
        "/api/templates",
        json={
            "name": "night",
            "settings": {"priority": "high", "max_segment_duration_secs": 600},
            "platform_options": {"othertv": {"quality": 3, "token": TOKEN}},
        },
    )
    assert created.status_code == 201, created.text
    tpl = created.json()
    assert TOKEN not in created.text
    assert tpl["platform_options"] == {"othertv": {"quality": 3, "token": "**********"}}
    user = streamer(client, "u", "https://other.tv/u", template_id=tpl["id"])
    project(app, user, "TEMPORAL_DISABLED")
    waiting = streamer(client, "w", "https://other.tv/w", template_id=tpl["id"])
    project(app, streamer(client, "n", "https://other.tv/n"), "LIVE")
    assert client.get(f"/api/streamers/{user}").json()["priority"] == "high"
    assert client.get(f"/api/templates/{tpl['id']}").json()["streamers"] == 2
    control.calls.clear()
    patched = client.patch(
        f"/api/templates/{tpl['id']}",
        json={
            "settings": {"priority": None},
            "platform_options": {"othertv": {"quality": 4}},
        },
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["platform_options"]["othertv"] == {
        "quality": 4,
        "token": "**********",
    }
    told(control, {user})  # only the template's streamers
    assert client.get(f"/api/streamers/{user}").json()["priority"] == "normal"
    # names are unique; a clone copies everything under a new one
    taken = client.post("/api/templates", json={"name": "night"})
    assert taken.status_code == 409
    clone = client.post(f"/api/templates/{tpl['id']}/clone", json={"name": "copy"})
    assert clone.status_code == 201, clone.text
    assert clone.json()["settings"]["max_segment_duration_secs"] == 600
    assert (
        client.post(
            f"/api/templates/{tpl['id']}/clone", json={"name": "copy"}
        ).status_code
        == 409
    )
    listed = client.get("/api/templates").json()
    assert [t["name"] for t in listed["items"]] == ["night", "copy"]
    # a template in use stays; an unused one goes
    assert client.delete(f"/api/templates/{tpl['id']}").status_code == 409
    assert client.delete(f"/api/templates/{clone.json()['id']}").status_code == 204
    assert client.get(f"/api/templates/{clone.json()['id']}").status_code == 404
    for sid in (user, waiting):
        left = client.patch(f"/api/streamers/{sid}", json={"template_id": None})
        assert left.json()["template_id"] is None
    assert client.delete(f"/api/templates/{tpl['id']}").status_code == 204


def test_template_problems_are_422_naming_the_field(client: TestClient) -> None:
    problems = errors(
        client.post(
            "/api/templates",
            json={"name": "t", "platform_options": {"nowhere": {}}},
        )
    )
    assert problems[0][0] == ["body", "platform_options", "nowhere"]
    problems = errors(
        client.post("/api/templates", json={"name": "t", "settings": {"engine": "vlc"}})
    )
    assert problems[0][0] == ["body", "settings", "engine"]
    problems = errors(
        client.post(
            "/api/streamers",
            json={"name": "x", "url": "https://fake.tv/x", "template_id": 99},
        )
    )
    assert problems == [(["body", "template_id"], "no template has the id 99")]


# --- a streamer's effective configuration --------------------------------------------


def test_the_effective_config_says_where_each_value_comes_from(
    client: TestClient,
) -> None:
    client.patch(
        "/api/config/global",
        json={"poll_interval_secs": 40, "selection": {"cdn_blacklist": ["bad"]}},
    )
    client.put(
        "/api/config/platforms/othertv",
        json={
            "settings": {"engine": "ffmpeg", "poll_interval_secs": 20},
            "platform_options": {"quality": 1, "cookies": "platform-cookie"},
        },
    )
    tpl = client.post(
        "/api/templates",
        json={
            "name": "t",
            "settings": {
                "engine": "streamlink",
                "selection": {"cdn_blacklist": ["worse"]},
            },
            "platform_options": {"othertv": {"quality": 2}},
        },
    ).json()
    sid = streamer(
        client,
        "a",
        "https://other.tv/a",
        template_id=tpl["id"],
        settings={"record_danmu": True},
        platform_options={"cookies": COOKIE},
    )
    response = client.get(f"/api/streamers/{sid}/config")
    assert response.status_code == 200, response.text
    assert COOKIE not in response.text
    assert "platform-cookie" not in response.text
    shown = response.json()
    config, sources = shown["config"], shown["sources"]
    assert (config["poll_interval_secs"], sources["poll_interval_secs"]) == (
        20,
        "platform",
    )
    assert (config["engine"], sources["engine"]) == ("streamlink", "template")
    assert (config["record_danmu"], sources["record_danmu"]) == (True, "streamer")
    assert (config["container"], sources["container"]) == ("auto", "default")
    assert config["selection"]["cdn_blacklist"] == ["bad", "worse"]
    assert shown["platform_options"] == {"quality": 2}
    assert shown["platform_option_sources"] == {"quality": "template"}
    assert shown["credentials"] == {"cookies": "streamer"}
    assert client.get("/api/streamers/999/config").status_code == 404
