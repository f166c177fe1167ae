"""The triggers' planner and the session waiter's count, on SQLite and Postgres."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pytest
from sqlmodel import Session

from activities.contracts import RunKind, SessionStatus
from activities.db import (
    Streamer,
    crud,
    crud_danmu,
    crud_pipeline,
    crud_sessions,
    make_engine,
    migrate,
)
from activities.pipeline_contracts import RunStatus, StepOutput, StepStatus
from activities.pipeline_triggers import PipelineTriggers
from activities.triggers import Planner, input_of
from tests.workflows.trigger_fakes import (
    FileFake,
    VideoFake,
    World,
    XmlFake,
    spec,
    step,
)

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    import sqlalchemy as sa

    from activities.processors import Processor


@pytest.fixture
def db(db_url: str) -> Iterator[sa.Engine]:
    engine = make_engine(db_url)
    migrate(engine)
    yield engine
    engine.dispose()


class Rows:
    """A streamer, a session and its rows, written as the sink and danmu do."""

    def __init__(self, db: sa.Engine, root: Path) -> None:
        world = World()
        fakes: dict[str, Processor[Any]] = {
            f.name: f for f in (FileFake(world), VideoFake(world), XmlFake(world))
        }
        self.db, self.root = db, root
        self.planner = Planner(root, processors=fakes)
        self.triggers = PipelineTriggers(db, self.planner)
        with Session(db) as s:
            streamer = crud.create_streamer(
                s, Streamer(name="bob", url="https://example.invalid/b", platform="x")
            )
            assert streamer.id is not None
            self.streamer_id = streamer.id
            session = crud_sessions.open_session(
                s, streamer_id=streamer.id, title="t", start_time=datetime.now(UTC)
            )
            assert session.id is not None
            self.session_id = session.id

    def configure(self, **pipelines: Any) -> None:
        with Session(self.db) as s:
            row = crud.get_streamer(s, self.streamer_id)
            assert row is not None
            row.settings = pipelines
            s.add(row)
            s.commit()

    def video(self, index: int, *, close: bool = True) -> str:
        path = self.root / f"v{index}.ts"
        path.write_bytes(b"x")
        with Session(self.db) as s:
            crud_sessions.begin_segment(
                s,
                session_id=self.session_id,
                index=index,
                file_path=str(path),
                started_at=datetime.now(UTC),
                media_start_secs=0.0,
            )
            if close:
                self.triggers.plan_file(
                    s, RunKind.SEGMENT, self.session_id, index, str(path)
                )
                crud_sessions.complete_segment(
                    s,
                    session_id=self.session_id,
                    index=index,
                    size_bytes=1,
                    duration_secs=1.0,
                    valid=True,
                )
        return str(path)

    def danmu(self, index: int) -> str:
        path = self.root / f"v{index}.xml"
        path.write_text("<i/>")
        with Session(self.db) as s:
            crud_danmu.begin_file(
                s,
                session_id=self.session_id,
                index=index,
                file_path=str(path),
                started_at=datetime.now(UTC),
            )
            self.triggers.plan_file(s, RunKind.DANMU, self.session_id, index, str(path))
            crud_danmu.close_file(
                s, session_id=self.session_id, index=index, message_count=0
            )
        return str(path)

    def state(self) -> tuple[SessionStatus, str, list[str]]:
        with Session(self.db) as s:
            status, reason, plans = self.triggers.session_state(s, self.session_id)
        return status, reason, [p.workflow_id for p in plans]

    def finish(self, kind: RunKind, index: int | None, *outputs: str) -> None:
        """Mark a run completed, its (only) step having written `outputs`."""
        with Session(self.db) as s:
            wid = f"pipeline-{kind.value}-{self.session_id}" + (
                "" if index is None else f"-{index}"
            )
            run = crud_pipeline.get_run_by_workflow(s, wid)
            assert run is not None
            run, jobs = crud_pipeline.begin_run(s, wid, input_of(run))
            for job_id in jobs.values():
                crud_pipeline.finish_job(
                    s,
                    job_id,
                    StepStatus.COMPLETED,
                    output=StepOutput(files=list(outputs)),
                    error=None,
                    log=[],
                )
            assert run.id is not None
            crud_pipeline.finish_run(s, run.id, RunStatus.COMPLETED, None, [])


@pytest.fixture
def w(db: sa.Engine, tmp_path: Path) -> Rows:
    return Rows(db, tmp_path)


def test_a_pipeline_that_no_longer_validates_leaves_a_failed_run(w: Rows) -> None:
    w.configure(segment_pipeline=spec({"id": "a", "preset": "gone"}))
    w.video(0)
    with Session(w.db) as s:
        run = crud_pipeline.get_run_by_workflow(s, f"pipeline-seg-{w.session_id}-0")
    assert run is not None
    assert run.status == RunStatus.FAILED
    assert run.error is not None
    assert "unknown step preset 'gone'" in run.error


def test_the_session_waits_until_closed_final_and_finished(w: Rows) -> None:
    w.configure(segment_pipeline=spec(step("v", "fake-video")))
    w.video(0)
    w.video(1, close=False)
    assert w.state()[:2] == (SessionStatus.WAITING, "the session is still recording")
    with Session(w.db) as s:
        crud_sessions.close_session(s, w.session_id, datetime.now(UTC))
    assert w.state()[:2] == (SessionStatus.WAITING, "segment 1 is not final")
    with Session(w.db) as s:
        w.triggers.plan_file(s, RunKind.SEGMENT, w.session_id, 1, str(w.root / "v1.ts"))
        crud_sessions.complete_segment(
            s,
            session_id=w.session_id,
            index=1,
            size_bytes=1,
            duration_secs=1.0,
            valid=True,
        )
    status, reason, again = w.state()
    # both runs are planned (PENDING) and never started: started again
    assert status == SessionStatus.WAITING
    assert "2 run(s) have not finished" in reason
    assert again == [f"pipeline-seg-{w.session_id}-0", f"pipeline-seg-{w.session_id}-1"]
    w.finish(RunKind.SEGMENT, 0, str(w.root / "v0.out"))
    assert w.state()[0] == SessionStatus.WAITING
    w.finish(RunKind.SEGMENT, 1)
    assert w.state() == (SessionStatus.READY, "", [])


def test_a_due_pair_without_a_run_is_started_by_the_waiter(w: Rows) -> None:
    w.configure(paired_pipeline=spec(step("a", "fake-any")))
    w.video(0)
    w.danmu(0)  # no trigger ran for it: nothing started the pair
    with Session(w.db) as s:
        crud_sessions.close_session(s, w.session_id, datetime.now(UTC))
    status, _, again = w.state()
    assert status == SessionStatus.WAITING
    assert again == [f"pipeline-pair-{w.session_id}-0"]


def test_the_session_run_gets_every_file_left_in_index_order(w: Rows) -> None:
    w.configure(
        segment_pipeline=spec(step("v", "fake-video")),
        session_pipeline=spec(step("s", "fake-any")),
    )
    for index in (1, 0):
        w.video(index)
        w.danmu(index)
    for index in (0, 1):
        out = w.root / f"v{index}.mp4"
        out.write_bytes(b"m")
        (w.root / f"v{index}.ts").unlink()  # the remux removed its input
        w.finish(RunKind.SEGMENT, index, str(out))
    with Session(w.db) as s:
        plan = w.planner.session_run(s, w.session_id)
    assert plan is not None
    assert [p.rsplit("/", 1)[1] for p in plan.pipeline.inputs] == [
        "v0.mp4",
        "v0.xml",
        "v1.mp4",
        "v1.xml",
    ]
    assert plan.pipeline.kind == RunKind.SESSION
