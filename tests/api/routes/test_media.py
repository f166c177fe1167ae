"""Segment files for the browser: tickets, range requests, the recordings root."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest
from sqlmodel import Session

from activities.db import crud_sessions
from activities.db.tables_pipeline import PipelineJob, PipelineRun

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


ASS = "[Events]\nDialogue: 2,0:00:01.00,0:00:09.00,Danmaku,,0,0,0,,hi\n"


def test_the_danmaku_ass_beside_the_video_gets_a_ticket(
    anon: TestClient, client: TestClient, segment: tuple[int, Path]
) -> None:
    session_id, video = segment
    video.with_suffix(".ass").write_text(ASS)
    body = client.post(f"/api/sessions/{session_id}/segments/0/media").json()
    del anon.headers["Authorization"]
    served = anon.get(body["ass_url"])
    assert served.status_code == 200
    assert served.text == ASS
    assert served.headers["content-type"].startswith("text/x-ssa")


def test_an_ass_a_danmaku_step_wrote_elsewhere_is_found_by_its_job(
    app: FastAPI, client: TestClient, segment: tuple[int, Path], tmp_path: Path
) -> None:
    session_id, _video = segment
    subs = app.state.settings.recordings_path / "subs"
    subs.mkdir()
    (subs / "alice_0.ass").write_text(ASS)
    (subs / "other_0.ass").write_text(ASS)  # another segment's
    outside = tmp_path / "alice_0.ass"  # not under the recordings root
    outside.write_text(ASS)
    url = f"/api/sessions/{session_id}/segments/0/media"
    with Session(app.state.engine) as db:
        run = PipelineRun(workflow_id="w", kind="session", session_id=session_id)
        db.add(run)
        db.commit()
        assert run.id is not None
        jobs = [
            ("FAILED", [str(subs / "alice_0.ass")]),
            ("COMPLETED", [str(outside), str(subs / "other_0.ass")]),
        ]
        for n, (status, files) in enumerate(jobs):
            db.add(
                PipelineJob(
                    run_id=run.id,
                    step_id=f"d{n}",
                    processor="danmaku",
                    queue="cpu",
                    status=status,
                    outputs={"files": files},
                )
            )
        db.commit()
        assert client.post(url).json()["ass_url"] is None
        other = PipelineRun(
            workflow_id="w2", kind="segment", session_id=session_id, segment_index=1
        )
        db.add(other)
        db.commit()
        assert other.id is not None
        db.add(  # another segment's run: not this one's
            PipelineJob(
                run_id=other.id,
                step_id="d8",
                processor="danmaku",
                queue="cpu",
                status="COMPLETED",
                outputs={"files": [str(subs / "alice_0.ass")]},
            )
        )
        db.commit()
        assert client.post(url).json()["ass_url"] is None
        db.add(
            PipelineJob(
                run_id=run.id,
                step_id="d9",
                processor="danmaku",
                queue="cpu",
                status="COMPLETED",
                outputs={"files": [str(subs / "alice_0.ass")]},
            )
        )
        db.commit()
    assert client.post(url).json()["ass_url"] is not None
