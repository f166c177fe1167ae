"""Activities of another instance's workflow are refused before they touch anything.

Two installs sharing a Temporal server poll the same task queues; these run each
owned activity of install A's workflow on install B's real activity classes, with
B's real (migrated) database, and check that nothing of B is read or written.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest
import sqlalchemy as sa
from sqlmodel import Session
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities import contracts as c
from activities.db import (
    AppInstance,
    Streamer,
    app_instance_id,
    crud,
    crud_guards,
    crud_sessions,
    make_engine,
    migrate,
)
from activities.media import MediaActivities
from activities.record import RecordingActivities
from activities.store import StoreActivities
from tests.activities.test_record_guards import ScriptedEngine

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

OTHER = "aaaaaaaa-0000-4000-8000-00000000000a"
NOW = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def db(db_url: str) -> Iterator[sa.Engine]:
    engine = make_engine(db_url)
    migrate(engine)
    with Session(engine) as session:
        crud.create_streamer(
            session,
            Streamer(name="bob", url="https://fake.tv/bob", platform="faketv"),
        )
        opened = crud_sessions.open_session(
            session, streamer_id=1, title="t", start_time=NOW
        )
        assert opened.id == 1
        crud_sessions.begin_segment(session, session_id=1, index=0, file_path="/x/0.ts")
    yield engine
    engine.dispose()


def own(engine: sa.Engine) -> str:
    with Session(engine) as session:
        return app_instance_id(session)


def snapshot(engine: sa.Engine) -> tuple[object, ...]:
    with Session(engine) as session:
        streamer = crud.get_streamer(session, 1)
        opened = crud_sessions.get_session(session, 1)
        assert streamer is not None
        assert opened is not None
        segment = crud_sessions.get_segment(session, 1, 0)
        assert segment is not None
        return (
            streamer.state,
            streamer.enabled,
            streamer.updated_at,
            opened.end_time,
            segment.duration_secs,
            len(crud_sessions.list_sessions(session)[0]),
            len(crud_guards.list_degraded_roots(session)),
        )


def refused(err: pytest.ExceptionInfo[ApplicationError]) -> None:
    assert err.value.type == c.ERROR_FOREIGN_INSTANCE
    assert not err.value.non_retryable  # Temporal redelivers it, to its owner
    assert OTHER in str(err.value)


def test_the_instance_id_is_made_once_and_differs_per_database(
    db: sa.Engine, tmp_path: Path
) -> None:
    first = own(db)
    migrate(db)
    assert own(db) == first
    other = make_engine(f"sqlite:///{tmp_path}/other.db")
    migrate(other)
    assert own(other) != first
    # a database built without the migration gets its row on first use
    bare = make_engine(f"sqlite:///{tmp_path}/bare.db")
    AppInstance.metadata.create_all(bare, tables=[AppInstance.__table__])  # type: ignore[attr-defined]
    made = own(bare)
    assert own(bare) == made
    for engine in (other, bare):
        engine.dispose()


@pytest.mark.parametrize(
    ("method", "inp"),
    [
        pytest.param(
            "load_streamer",
            c.LoadStreamerInput(streamer_id=1, instance_id=OTHER),
            id="load",
        ),
        pytest.param(
            "project_state",
            c.ProjectStateInput(
                streamer_id=1,
                state=c.StreamerState.DISABLED,
                enabled=False,
                instance_id=OTHER,
            ),
            id="project",
        ),
        pytest.param(
            "open_session",
            c.OpenSessionInput(
                streamer_id=1, title="x", start_time=NOW, instance_id=OTHER
            ),
            id="open",
        ),
        pytest.param(
            "close_session",
            c.CloseSessionInput(session_id=1, end_time=NOW, instance_id=OTHER),
            id="close",
        ),
    ],
)
def test_store_activities_refuse_a_foreign_workflow(
    db: sa.Engine, method: str, inp: c.OwnedInput
) -> None:
    store = StoreActivities(db)
    before = snapshot(db)
    with pytest.raises(ApplicationError) as err:
        ActivityEnvironment().run(getattr(store, method), inp)
    refused(err)
    assert snapshot(db) == before


def test_store_activities_serve_their_own_and_unmarked_workflows(
    db: sa.Engine,
) -> None:
    store = StoreActivities(db, instance_id=own(db))
    for instance_id in (own(db), None):
        loaded = store.load_streamer(
            c.LoadStreamerInput(streamer_id=1, instance_id=instance_id)
        )
        assert loaded.config is not None
        assert loaded.config.name == "bob"
        assert loaded.instance_id == own(db)  # what an unmarked workflow adopts


def test_probe_refuses_a_foreign_workflow(db: sa.Engine, tmp_path: Path) -> None:
    media = MediaActivities(db)
    before = snapshot(db)
    inp = c.ProbeSegmentInput(
        session_id=1, index=0, file_path=str(tmp_path / "0.ts"), instance_id=OTHER
    )
    with pytest.raises(ApplicationError) as err:
        ActivityEnvironment().run(media.probe_segment, inp)
    refused(err)
    assert snapshot(db) == before


async def test_record_refuses_a_foreign_workflow_before_anything(
    db: sa.Engine, tmp_path: Path
) -> None:
    engine = ScriptedEngine()
    root = tmp_path / "recordings"
    acts = RecordingActivities(
        {c.EngineKind.NATIVE: {c.StreamKind.HLS: engine}}, root, db
    )
    before = snapshot(db)
    inp = c.RecordInput(
        streamer_id=1,
        streamer_name="bob",
        platform="faketv",
        session_id=1,
        session_start=NOW,
        title="t",
        source=c.StreamSource(url="https://cdn.example/a.m3u8", kind=c.StreamKind.HLS),
        workflow_id="streamer-1",
        instance_id=OTHER,
    )
    with pytest.raises(ApplicationError) as err:
        await ActivityEnvironment().run(acts.record_stream, inp)
    refused(err)
    assert engine.calls == 0
    assert not root.exists()  # not even the write gate's probe ran
    assert snapshot(db) == before
    with db.connect() as conn:
        slots = conn.execute(sa.text("SELECT count(*) FROM recording_slot")).scalar()
    assert slots == 0
