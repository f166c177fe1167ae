"""The live events: what one pass of `DbWatcher` reports after each kind of write."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session

from activities.db import Streamer, crud, crud_sessions, make_engine, utcnow
from activities.db.crud_profile import Profile, save_profiles
from activities.db.tables_pipeline import PipelineJob, PipelineRun
from api.event_hub import EventHub
from api.live_events import DbWatcher

START = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.fixture
def engine(db_url: str):
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


def add_streamer(db: Session, name: str = "alice") -> int:
    row = crud.create_streamer(
        db,
        Streamer(name=name, url=f"https://example.com/{name}.m3u8", platform="generic"),
    )
    assert row.id is not None
    return row.id


def test_a_first_pass_reports_nothing_old_and_a_state_change_once(engine) -> None:
    with Session(engine) as db:
        sid = add_streamer(db)
    watcher = DbWatcher(engine)
    watcher.prime()
    # the row at the mark is read again after priming and announced once
    watcher.poll()
    assert watcher.poll() == []
    with Session(engine) as db:
        crud.set_streamer_state(db, sid, state="LIVE", enabled=True)
    events = watcher.poll()
    assert [(e["type"], e["id"], e["state"]) for e in events] == [
        ("streamer", sid, "LIVE")
    ]
    assert watcher.poll() == []
    with Session(engine) as db:
        crud.set_streamer_state(
            db, sid, state="NOT_LIVE", enabled=True, last_error="404"
        )
    (event,) = watcher.poll()
    assert event["last_error"] == "404"


def test_a_new_title_or_avatar_is_announced(engine) -> None:
    with Session(engine) as db:
        sid = add_streamer(db)
    watcher = DbWatcher(engine)
    watcher.prime()
    watcher.poll()
    with Session(engine) as db:
        save_profiles(db, {sid: Profile("Speedrun", "Games", "https://i.test/a.png")})
    (event,) = watcher.poll()
    assert (event["id"], event["title"], event["avatar_url"]) == (
        sid,
        "Speedrun",
        "https://i.test/a.png",
    )
    assert watcher.poll() == []
    with Session(engine) as db:
        save_profiles(db, {sid: Profile("Any%")})
        crud.set_streamer_state(
            db, sid, state="OUT_OF_SCHEDULE", enabled=True, reason="keyword"
        )
    (event,) = watcher.poll()
    assert (event["title"], event["state_reason"]) == ("Any%", "keyword")


def test_added_and_deleted_streamers_are_announced(engine) -> None:
    watcher = DbWatcher(engine)
    watcher.prime()
    with Session(engine) as db:
        sid = add_streamer(db)
    events = watcher.poll()
    assert {"type": "streamers", "count": 1} in events
    assert any(e["type"] == "streamer" and e["id"] == sid for e in events)
    with Session(engine) as db:
        streamer = crud.get_streamer(db, sid)
        assert streamer is not None
        crud.delete_streamer(db, streamer)
    assert watcher.poll() == [{"type": "streamers", "count": 0}]


def test_a_recording_reports_its_growing_size_and_segment_closes(engine) -> None:
    watcher = DbWatcher(engine)
    watcher.prime()
    with Session(engine) as db:
        session = crud_sessions.open_session(
            db, streamer_id=7, title="hello", start_time=START
        )
        session_id = session.id
        assert session_id is not None
        crud_sessions.begin_segment(
            db, session_id=session_id, index=0, file_path="/r/0.ts"
        )
    events = watcher.poll()
    assert [e["type"] for e in events] == ["session", "segment"]
    assert events[0]["title"] == "hello"
    assert events[0]["size_bytes"] == 0
    with Session(engine) as db:
        crud_sessions.record_segment_progress(
            db,
            session_id=session_id,
            index=0,
            size_bytes=500,
            duration_secs=1.0,
            resume_marker=None,
        )
    events = watcher.poll()
    # the open segment counts in the session's live size
    assert [(e["type"], e["size_bytes"]) for e in events] == [
        ("session", 500),
        ("segment", 500),
    ]
    assert events[1]["streamer_id"] == 7
    assert events[1]["completed"] is False
    assert watcher.open_sessions()[0]["size_bytes"] == 500
    with Session(engine) as db:
        crud_sessions.complete_segment(
            db, session_id=session_id, index=0, size_bytes=800, duration_secs=2.0
        )
    events = watcher.poll()
    segment = next(e for e in events if e["type"] == "segment")
    assert segment["completed"] is True
    assert segment["size_bytes"] == 800
    with Session(engine) as db:
        crud_sessions.close_session(db, session_id, START + timedelta(hours=1))
    (ended,) = watcher.poll()
    assert ended["end_time"] is not None
    assert ended["size_bytes"] == 800
    assert watcher.open_sessions() == []
    assert watcher.poll() == []


def test_pipeline_jobs_and_runs_report_progress(engine) -> None:
    watcher = DbWatcher(engine)
    watcher.prime()
    with Session(engine) as db:
        run = PipelineRun(
            workflow_id="pipeline-manual-x", kind="manual", status="RUNNING"
        )
        db.add(run)
        db.commit()
        db.refresh(run)
        assert run.id is not None
        job = PipelineJob(
            run_id=run.id,
            step_id="remux",
            processor="remux",
            queue="cpu",
            status="RUNNING",
            progress=0.1,
        )
        db.add(job)
        db.commit()
        db.refresh(job)
        job_id, run_id = job.id, run.id
    events = watcher.poll()
    assert [(e["type"], e["status"]) for e in events] == [
        ("run", "RUNNING"),
        ("job", "RUNNING"),
    ]
    with Session(engine) as db:
        row = db.get(PipelineJob, job_id)
        assert row is not None
        row.progress = 0.5
        row.updated_at = utcnow()
        db.add(row)
        db.commit()
    (event,) = watcher.poll()
    assert event["progress"] == 0.5
    with Session(engine) as db:
        done = db.get(PipelineRun, run_id)
        assert done is not None
        done.status = "COMPLETED"
        db.add(done)
        db.commit()
    (event,) = watcher.poll()
    assert (event["type"], event["status"]) == ("run", "COMPLETED")


async def test_the_hub_fans_out_and_stops_with_its_last_client(engine) -> None:
    hub = EventHub(engine, interval=0.05)
    first = await hub.subscribe()
    second = await hub.subscribe()
    with Session(engine) as db:
        add_streamer(db)
    for queue in (first, second):
        event = await queue.get()
        while event is not None and event["type"] != "streamer":
            event = await queue.get()
        assert event is not None
        assert event["name"] == "alice"
    hub.unsubscribe(first)
    hub.unsubscribe(second)
    assert hub._task is None
    await hub.close()
