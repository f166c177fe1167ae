"""Segment files for the browser: tickets, range requests, the recordings root."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest
from sqlmodel import Session

from activities.db import crud_sessions

if TYPE_CHECKING:
    from pathlib import Path

    from fastapi import FastAPI
    from fastapi.testclient import TestClient

pytestmark = pytest.mark.both_databases

START = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
BODY = bytes(range(256)) * 40


def add_segment(app: FastAPI, path: Path) -> int:
    with Session(app.state.engine) as db:
        session = crud_sessions.open_session(
            db, streamer_id=1, title="t", start_time=START
        )
        session_id = session.id
        assert session_id is not None
        crud_sessions.begin_segment(
            db, session_id=session_id, index=0, file_path=str(path)
        )
    return session_id


@pytest.fixture
def segment(app: FastAPI, client: TestClient) -> tuple[int, Path]:
    root = app.state.settings.recordings_path
    folder = root / "alice"
    folder.mkdir(parents=True)
    video = folder / "alice_0.ts"
    video.write_bytes(BODY)
    (folder / "alice_0.jpg").write_bytes(b"\xff\xd8jpeg")
    return add_segment(app, video), video


def test_a_ticket_plays_the_segment_with_ranges(
    anon: TestClient, client: TestClient, segment: tuple[int, Path]
) -> None:
    session_id, _ = segment
    tickets = client.post(f"/api/sessions/{session_id}/segments/0/media")
    assert tickets.status_code == 200, tickets.text
    body = tickets.json()
    assert body["content_type"] == "video/mp2t"
    assert body["danmu_url"] is None
    # the browser fetches without the bearer token
    del anon.headers["Authorization"]
    whole = anon.get(body["video_url"])
    assert whole.status_code == 200
    assert whole.content == BODY
    assert whole.headers["accept-ranges"] == "bytes"
    part = anon.get(body["video_url"], headers={"Range": "bytes=100-199"})
    assert part.status_code == 206
    assert part.content == BODY[100:200]
    thumb = anon.get(body["thumbnail_url"])
    assert thumb.content == b"\xff\xd8jpeg"


def test_tickets_need_the_token(anon: TestClient, segment: tuple[int, Path]) -> None:
    # `segment` logged the shared client in
    del anon.headers["Authorization"]
    assert anon.post(f"/api/sessions/{segment[0]}/segments/0/media").status_code == 401


@pytest.mark.parametrize(
    "ticket", ["nonsense", "eyJhbGciOiJIUzI1NiJ9.e30.x"], ids=["garbage", "forged"]
)
def test_a_bad_ticket_is_404(anon: TestClient, ticket: str) -> None:
    assert anon.get(f"/api/media/{ticket}").status_code == 404


def test_an_access_token_is_not_a_ticket(
    anon: TestClient, tokens: dict[str, str]
) -> None:
    assert anon.get(f"/api/media/{tokens['access_token']}").status_code == 404


def test_a_file_outside_the_recordings_root_is_never_served(
    app: FastAPI, client: TestClient, tmp_path: Path
) -> None:
    outside = tmp_path / "secret.ts"
    outside.write_bytes(b"secret")
    session_id = add_segment(app, outside)
    answer = client.post(f"/api/sessions/{session_id}/segments/0/media")
    assert answer.status_code == 404
    assert "recordings root" in answer.json()["detail"]


def test_a_missing_segment_is_404(client: TestClient) -> None:
    assert client.post("/api/sessions/99/segments/0/media").status_code == 404
