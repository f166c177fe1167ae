"""`GET /api/system`: the workers on each task queue and the output roots' disks."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest
from sqlmodel import Session

from activities.db import OutputRoot, crud_sessions
from api.schemas_system import QueuePoller, QueueReport

if TYPE_CHECKING:
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from api.settings import ApiSettings
    from tests.api.conftest import FakeQueueProbe

SEEN = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.fixture(autouse=True)
def recordings(settings: ApiSettings) -> None:
    """The worker creates the recordings root; here the test does."""
    settings.recordings_path.mkdir(parents=True, exist_ok=True)


def test_workers_of_each_queue_and_the_recordings_disk(
    app: FastAPI, client: TestClient, queue_probe: FakeQueueProbe
) -> None:
    queue_probe.reports = [
        QueueReport(
            name="srec-io",
            kind="activity",
            expected=True,
            pollers=[QueuePoller(identity="42@rec-1", last_access_time=SEEN)],
            backlog=3,
        ),
        QueueReport(name="srec-cpu", kind="activity", expected=True),
    ]
    answer = client.get("/api/system")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["temporal_error"] is None
    assert body["queues"][0]["pollers"][0]["identity"] == "42@rec-1"
    assert body["queues"][0]["backlog"] == 3
    assert body["queues"][1]["pollers"] == []
    assert queue_probe.asked == [["srec-workflows", "srec-io", "srec-cpu"]]
    (disk,) = body["disks"]
    assert disk["path"] == str(app.state.settings.recordings_path)
    assert disk["total_bytes"] >= disk["free_bytes"] > 0
    assert disk["min_free_bytes"] == 5 * 2**30
    assert disk["error"] is None


def test_per_host_queues_and_every_output_root_are_listed(
    app: FastAPI, client: TestClient, queue_probe: FakeQueueProbe, tmp_path
) -> None:
    # a disk this small is "low" under any threshold above zero
    app.state.settings.min_free_space_gib = 10**6
    with Session(app.state.engine) as db:
        session = crud_sessions.open_session(
            db, streamer_id=1, title="t", start_time=SEEN
        )
        assert session.id is not None
        for index, host in enumerate(("rec-b", "rec-a", "rec-b", None)):
            crud_sessions.begin_segment(
                db, session_id=session.id, index=index, file_path=f"/r/{index}.ts"
            )
            segment = crud_sessions.get_segment(db, session.id, index)
            assert segment is not None
            segment.host = host
            db.add(segment)
        db.add(OutputRoot(path=str(tmp_path)))
        db.add(OutputRoot(path=str(tmp_path / "unmounted")))
        db.commit()
    body = client.get("/api/system").json()
    assert queue_probe.asked[-1] == [
        "srec-workflows",
        "srec-io",
        "srec-cpu",
        "srec-io@rec-a",
        "srec-cpu@rec-a",
        "srec-io@rec-b",
        "srec-cpu@rec-b",
    ]
    recordings, other, missing = body["disks"]
    assert recordings["low"]
    assert other["low"]
    assert other["path"] == str(tmp_path)
    assert missing["error"]
    assert missing["free_bytes"] is None
    assert not missing["low"]


def test_temporal_down_still_shows_the_disks(
    client: TestClient, queue_probe: FakeQueueProbe
) -> None:
    queue_probe.unavailable = True
    body = client.get("/api/system").json()
    assert body["queues"] == []
    assert "unreachable" in body["temporal_error"]
    assert body["disks"][0]["free_bytes"] > 0


def test_the_system_report_needs_a_token(anon: TestClient) -> None:
    assert anon.get("/api/system").status_code == 401
