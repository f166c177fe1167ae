"""`/api/ws/events`: a token first, then the live events; the page at `/`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlmodel import Session
from starlette.websockets import WebSocketDisconnect

from activities.db import crud

if TYPE_CHECKING:
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

STATIC = Path(__file__).parents[3] / "api" / "web" / "static"


def test_the_dashboard_is_served_at_the_root(anon: TestClient) -> None:
    page = anon.get("/")
    assert page.status_code == 200
    assert '<script type="module" src="/static/app.js">' in page.text
    assert anon.get("/static/app.js").status_code == 200
    assert anon.get("/static/vendor/mpegts/mpegts.js").status_code == 200
    assert anon.get("/static/nothing.js").status_code == 404


def test_every_vendored_library_keeps_its_licence() -> None:
    for folder in (STATIC / "vendor").iterdir():
        if folder.is_dir():
            assert (folder / "LICENSE").is_file(), folder


def test_every_module_the_page_imports_exists() -> None:
    import re

    for script in STATIC.rglob("*.js"):
        if "vendor" in script.parts:
            continue
        for target in re.findall(r'from "(\.[^"]+)"', script.read_text()):
            assert (script.parent / target).resolve().is_file(), (script, target)


@pytest.mark.parametrize(
    "first",
    [
        pytest.param("not json", id="not-json"),
        pytest.param('{"token": "forged"}', id="forged"),
        pytest.param('{"token": 3}', id="not-a-string"),
        pytest.param("{}", id="no-token"),
    ],
)
def test_a_socket_without_a_valid_token_is_closed(anon: TestClient, first: str) -> None:
    with anon.websocket_connect("/api/ws/events") as ws:
        ws.send_text(first)
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
    assert closed.value.code == 4401


def test_a_refresh_token_is_not_an_access_token(
    anon: TestClient, tokens: dict[str, str]
) -> None:
    with anon.websocket_connect("/api/ws/events") as ws:
        ws.send_json({"token": tokens["refresh_token"]})
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
    assert closed.value.code == 4401


def test_an_authenticated_socket_hears_a_state_change(
    app: FastAPI, client: TestClient, tokens: dict[str, str]
) -> None:
    created = client.post(
        "/api/streamers", json={"name": "alice", "url": "https://fake.tv/alice"}
    )
    assert created.status_code == 201, created.text
    streamer_id = created.json()["id"]
    with client.websocket_connect("/api/ws/events") as ws:
        ws.send_json({"token": tokens["access_token"]})
        hello = ws.receive_json()
        assert hello["type"] == "hello"
        assert hello["expires_at"]
        with Session(app.state.engine) as db:
            crud.set_streamer_state(db, streamer_id, state="LIVE", enabled=True)
        event = ws.receive_json()
        while event["type"] != "streamer":
            event = ws.receive_json()
    assert (event["id"], event["state"]) == (streamer_id, "LIVE")
