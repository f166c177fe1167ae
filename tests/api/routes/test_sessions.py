from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest
from sqlmodel import Session

from activities.danmu import DanmuMessage, MessageKind, StatisticsAccumulator
from activities.db import crud_danmu, crud_sessions

if TYPE_CHECKING:
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

# every test here also runs on Postgres (tests/api/conftest.py)
pytestmark = pytest.mark.both_databases

START = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.fixture
def rows(app: FastAPI, client: TestClient) -> dict[str, int]:
    """Streamer 1 has a finished session (two segments) and a live one; 2 has one."""
    with Session(app.state.engine) as db:
        done = crud_sessions.open_session(
            db, streamer_id=1, title="done", start_time=START
        )
        assert done.id is not None
        for index in (0, 1):
            crud_sessions.begin_segment(
                db, session_id=done.id, index=index, file_path=f"/r/{index}.ts"
            )
            crud_sessions.complete_segment(
                db, session_id=done.id, index=index, size_bytes=100, duration_secs=2.5
            )
        crud_sessions.close_session(db, done.id, START + timedelta(hours=1))
        live = crud_sessions.open_session(
            db, streamer_id=1, title="live", start_time=START
        )
        other = crud_sessions.open_session(
            db, streamer_id=2, title="other", start_time=START
        )
        assert live.id is not None
        assert other.id is not None
        return {"done": done.id, "live": live.id, "other": other.id}


def test_get_session(client: TestClient, rows: dict[str, int]) -> None:
    done = client.get(f"/api/sessions/{rows['done']}").json()
    assert done == {
        "id": rows["done"],
        "streamer_id": 1,
        "title": "done",
        "start_time": "2025-01-02T03:04:05Z",
        "end_time": "2025-01-02T04:04:05Z",
        "total_size_bytes": 200,
        "duration_secs": 5.0,
    }
    live = client.get(f"/api/sessions/{rows['live']}").json()
    assert live["end_time"] is None


def test_a_live_session_shows_its_closed_segments(
    app: FastAPI, client: TestClient, rows: dict[str, int]
) -> None:
    live = rows["live"]
    with Session(app.state.engine) as db:
        crud_sessions.begin_segment(db, session_id=live, index=0, file_path="/r/l0.ts")
        crud_sessions.complete_segment(
            db, session_id=live, index=0, size_bytes=300, duration_secs=4.0
        )
        crud_sessions.begin_segment(db, session_id=live, index=1, file_path="/r/l1.ts")
    shown = client.get(f"/api/sessions/{live}").json()
    assert (shown["total_size_bytes"], shown["duration_secs"]) == (300, 4.0)
    listed = client.get("/api/sessions", params={"streamer_id": 1}).json()
    assert listed["items"][0]["total_size_bytes"] == 300
    assert shown["end_time"] is None


def test_a_session_that_recorded_nothing_is_gone_once_closed(
    app: FastAPI, client: TestClient, rows: dict[str, int]
) -> None:
    with Session(app.state.engine) as db:
        crud_sessions.close_session(db, rows["other"], START + timedelta(minutes=5))
    assert client.get(f"/api/sessions/{rows['other']}").status_code == 404
    page = client.get("/api/sessions").json()
    assert [s["title"] for s in page["items"]] == ["live", "done"]
    assert page["total"] == 2


@pytest.mark.parametrize(
    ("params", "titles", "total"),
    [
        pytest.param({}, ["other", "live", "done"], 3, id="all-newest-first"),
        pytest.param({"streamer_id": 1}, ["live", "done"], 2, id="by-streamer"),
        pytest.param({"limit": 1, "offset": 1}, ["live"], 3, id="paged"),
        pytest.param({"streamer_id": 9}, [], 0, id="none"),
    ],
)
def test_list_sessions(
    client: TestClient,
    rows: dict[str, int],
    params: dict[str, int],
    titles: list[str],
    total: int,
) -> None:
    page = client.get("/api/sessions", params=params).json()
    assert [s["title"] for s in page["items"]] == titles
    assert page["total"] == total


@pytest.mark.parametrize(
    "params",
    [
        pytest.param({"limit": 0}, id="zero-limit"),
        pytest.param({"limit": 501}, id="huge-limit"),
        pytest.param({"offset": -1}, id="negative-offset"),
    ],
)
def test_list_sessions_rejects_bad_paging(
    client: TestClient, params: dict[str, int]
) -> None:
    assert client.get("/api/sessions", params=params).status_code == 422


def test_segments(client: TestClient, rows: dict[str, int]) -> None:
    page = client.get(f"/api/sessions/{rows['done']}/segments").json()
    assert page["total"] == 2
    first = page["items"][0]
    assert first["index"] == 0
    assert first["file_path"] == "/r/0.ts"
    assert first["size_bytes"] == 100
    assert first["duration_secs"] == 2.5
    assert first["completed_at"] is not None
    assert {"created_at", "persisted_at"} <= first.keys()
    assert client.get(f"/api/sessions/{rows['live']}/segments").json() == {
        "items": [],
        "total": 0,
    }


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("/api/sessions/999", id="session"),
        pytest.param("/api/sessions/999/segments", id="segments"),
        pytest.param("/api/sessions/999/danmu-statistics", id="danmu-statistics"),
    ],
)
def test_missing_session_is_404(client: TestClient, path: str) -> None:
    assert client.get(path).status_code == 404


def test_segments_show_their_danmu_files(
    app: FastAPI, client: TestClient, rows: dict[str, int]
) -> None:
    done = rows["done"]
    with Session(app.state.engine) as db:
        crud_danmu.begin_file(
            db, session_id=done, index=0, file_path="/r/0.xml", started_at=START
        )
        crud_danmu.close_file(db, session_id=done, index=0, message_count=42)
    items = client.get(f"/api/sessions/{done}/segments").json()["items"]
    assert items[0]["danmu"] == {
        "file_path": "/r/0.xml",
        "message_count": 42,
        "started_at": "2025-01-02T03:04:05Z",
        "closed_at": items[0]["danmu"]["closed_at"],
    }
    assert items[0]["danmu"]["closed_at"] is not None
    assert items[1]["danmu"] is None  # no chat recorded beside segment 1


def test_danmu_statistics(
    app: FastAPI, client: TestClient, rows: dict[str, int]
) -> None:
    done = rows["done"]
    path = f"/api/sessions/{done}/danmu-statistics"
    assert client.get(path).status_code == 404  # no chat recorded
    stats = StatisticsAccumulator(START.timestamp())
    for n, user in enumerate(["ann", "bob", "ann"]):
        stats.add(
            DanmuMessage(
                MessageKind.CHAT, user, user, "hello", START.timestamp() + 61 * n
            )
        )
    stats.add(
        DanmuMessage(
            MessageKind.GIFT, "cat", "cat", received_at=START.timestamp(),
            gift_name="辣条", count=10, price=100, currency="CNY",
        )
    )  # fmt: skip
    with Session(app.state.engine) as db:
        crud_danmu.save_statistics(
            db,
            done,
            statistics=stats.snapshot().model_dump(mode="json"),
            state=stats.state().model_dump(mode="json"),
            complete=True,
        )
    body = client.get(path).json()
    assert body["session_id"] == done
    assert body["complete"] is True
    assert body["by_kind"] == {"chat": 3, "gift": 1}
    assert body["unique_talkers"] == 2
    assert [t["user_name"] for t in body["top_talkers"]] == ["ann", "bob"]
    assert [(b["start_secs"], b["count"]) for b in body["rate"]] == [
        (0.0, 2),
        (60.0, 1),
        (120.0, 1),
    ]
    assert body["top_gifts"] == [
        {"name": "辣条", "count": 10, "value": 1.0, "currency": "CNY"}
    ]
    assert client.get("/api/sessions/999/danmu-statistics").status_code == 404
