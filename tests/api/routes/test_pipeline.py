"""The pipeline API: validate, presets, run now, runs and jobs, with a fake Temporal."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pytest
from sqlmodel import Session

from activities.contracts import MAX_ID
from activities.db import Streamer, crud, crud_pipeline, crud_sessions
from activities.pipeline_contracts import (
    PipelineContext,
    PipelineInput,
    Queue,
    ResolvedStep,
    RunStatus,
    StepMark,
    StepOutput,
    StepStatus,
)
from api.deps import TemporalUnavailableError, get_pipeline_control
from workflows.pipeline_client import NothingToDoError

if TYPE_CHECKING:
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from api.settings import ApiSettings

# every test here also runs on Postgres (tests/api/conftest.py)
pytestmark = pytest.mark.both_databases

START = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)


@dataclass
class FakePipelineControl:
    started: list[tuple[str, PipelineInput]] = field(default_factory=list)
    retried: list[tuple[str, list[str] | None, PipelineInput]] = field(
        default_factory=list
    )
    cancelled: list[tuple[str, list[str] | None]] = field(default_factory=list)
    nothing: bool = False
    unavailable: bool = False

    def _check(self) -> None:
        if self.unavailable:
            raise TemporalUnavailableError("Temporal at fake:7233 is unreachable")
        if self.nothing:
            raise NothingToDoError("no failed or cancelled step to retry")

    async def start(self, workflow_id: str, inp: PipelineInput) -> None:
        self._check()
        self.started.append((workflow_id, inp))

    async def retry(
        self, workflow_id: str, step_ids: list[str] | None, rerun: PipelineInput
    ) -> list[str]:
        self._check()
        self.retried.append((workflow_id, step_ids, rerun))
        return step_ids or ["b"]

    async def cancel(self, workflow_id: str, step_ids: list[str] | None) -> list[str]:
        self._check()
        self.cancelled.append((workflow_id, step_ids))
        return step_ids or ["a"]


@pytest.fixture
def pipelines(app: FastAPI) -> FakePipelineControl:
    fake = FakePipelineControl()
    app.dependency_overrides[get_pipeline_control] = lambda: fake
    return fake


@pytest.fixture
def session_id(app: FastAPI, client: TestClient, settings: ApiSettings) -> int:
    """A session of streamer `alice` with two segments under the recordings root."""
    root = settings.recordings_path
    with Session(app.state.engine) as db:
        crud.create_streamer(
            db,
            Streamer(name="alice", url="https://fake.tv/alice", platform="faketv"),
        )
        session = crud_sessions.open_session(
            db, streamer_id=1, title="t", start_time=START
        )
        assert session.id is not None
        for index in (0, 1):
            crud_sessions.begin_segment(
                db,
                session_id=session.id,
                index=index,
                file_path=str(root / f"alice/{index}.ts"),
            )
        return session.id


def a_run(app: FastAPI, *, failed: bool = True) -> tuple[int, dict[str, int]]:
    """A run of a -> b where b failed (or completed), as the activities write it."""
    inp = PipelineInput(
        kind="seg",
        steps=[
            ResolvedStep(id="a", processor="remux", queue=Queue.CPU),
            ResolvedStep(id="b", processor="upload", queue=Queue.IO, depends_on=["a"]),
        ],
        inputs=["/rec/0.ts"],
        context=PipelineContext(streamer_id=1, streamer="alice", session_id=5),
    )
    with Session(app.state.engine) as db:
        run, jobs = crud_pipeline.begin_run(db, "pipeline-seg-5-0", inp)
        assert run.id is not None
        crud_pipeline.start_job(db, jobs["a"], ["/rec/0.ts"])
        crud_pipeline.finish_job(
            db,
            jobs["a"],
            StepStatus.COMPLETED,
            output=StepOutput(files=["/rec/0.mp4"]),
            log=["ffmpeg said", "done"],
        )
        crud_pipeline.start_job(db, jobs["b"], ["/rec/0.mp4"])
        crud_pipeline.set_job_progress(db, jobs["b"], 0.5, "half")
        status = StepStatus.FAILED if failed else StepStatus.COMPLETED
        crud_pipeline.finish_run(
            db,
            run.id,
            RunStatus.FAILED if failed else RunStatus.COMPLETED,
            "step b (upload): boom" if failed else None,
            [StepMark(step_id="b", status=status, error="boom" if failed else None)],
        )
        return run.id, jobs


PIPELINE = {
    "steps": [
        {"id": "remux", "processor": "remux", "config": {"format": "mkv"}},
        {"id": "thumb", "preset": "thumbnail", "depends_on": ["remux"]},
    ]
}


# --- validate -----------------------------------------------------------------------


def test_validate_resolves_presets(client: TestClient) -> None:
    response = client.post("/api/pipeline/validate", json=PIPELINE)
    assert response.status_code == 200, response.text
    steps = response.json()["steps"]
    assert [(s["id"], s["processor"], s["queue"]) for s in steps] == [
        ("remux", "remux", "cpu"),
        ("thumb", "thumbnail", "cpu"),
    ]
    assert steps[0]["config"] == {"format": "mkv"}


@pytest.mark.parametrize(
    ("steps", "problem"),
    [
        pytest.param(
            [{"id": "a", "processor": "nope"}],
            {"step": "a", "field": None},
            id="unknown-processor",
        ),
        pytest.param(
            [{"id": "a", "preset": "nope"}], {"step": "a", "field": None}, id="preset"
        ),
        pytest.param(
            [
                {
                    "id": "a",
                    "processor": "remux",
                    "config": {"crf": "x", "video_codec": "libx264"},
                }
            ],
            {"step": "a", "field": "crf"},
            id="bad-config",
        ),
        pytest.param(
            [{"id": "a", "processor": "remux", "config": {"output_dir": "../../etc"}}],
            {"step": "a", "field": "output_dir"},
            id="outside-root",
        ),
        pytest.param(
            [{"id": "a", "processor": "copy", "config": {"output_dir": "/etc"}}],
            {"step": "a", "field": "output_dir"},
            id="absolute-outside-root",
        ),
        pytest.param(
            [
                {"id": "a", "processor": "delete", "depends_on": ["b"]},
                {"id": "b", "processor": "delete", "depends_on": ["a"]},
            ],
            {"step": "a", "field": None, "message": "cycle: a -> b -> a"},
            id="cycle",
        ),
        pytest.param(
            [{"id": "a", "processor": "delete", "depends_on": ["zz"]}],
            {"step": "a", "message": "depends on unknown step 'zz'"},
            id="unknown-dependency",
        ),
        pytest.param(
            [{"id": "a", "processor": "delete"}, {"id": "a", "processor": "delete"}],
            {"step": "a", "message": "duplicate step id"},
            id="duplicate",
        ),
        pytest.param(
            [{"id": "a", "processor": "delete", "preset": "thumbnail"}],
            {"step": "a", "message": "name exactly one of `processor` and `preset`"},
            id="both",
        ),
    ],
)
def test_validate_names_each_problem(
    client: TestClient, steps: list[dict[str, Any]], problem: dict[str, Any]
) -> None:
    response = client.post("/api/pipeline/validate", json={"steps": steps})
    assert response.status_code == 422, response.text
    problems = response.json()["detail"]
    assert any(all(p.get(k) == v for k, v in problem.items()) for p in problems), (
        problems
    )


# --- presets ------------------------------------------------------------------------


def test_seeded_presets_are_listed(client: TestClient) -> None:
    steps = client.get("/api/job/presets").json()
    pipelines = client.get("/api/pipeline/presets").json()
    assert {"remux-mp4", "thumbnail", "danmaku-ass", "burn-in", "upload"} <= {
        p["name"] for p in steps["items"]
    }
    assert {
        "remux-mp4",
        "burn-in",
        "upload-then-delete",
        "archive-to-cloud",
    } <= {p["name"] for p in pipelines["items"]}
    assert all(p["builtin"] for p in pipelines["items"])


def test_step_preset_lifecycle(client: TestClient) -> None:
    body = {"name": "mkv", "processor": "remux", "config": {"format": "mkv"}}
    created = client.post("/api/job/presets", json=body)
    assert created.status_code == 201, created.text
    preset_id = created.json()["id"]
    assert client.post("/api/job/presets", json=body).status_code == 409
    bad = client.patch(
        f"/api/job/presets/{preset_id}", json={"config": {"format": "x"}}
    )
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["field"] == "format"
    ok = client.patch(f"/api/job/presets/{preset_id}", json={"description": "d"})
    assert ok.json()["description"] == "d"

    pipeline = {"name": "p", "pipeline": {"steps": [{"id": "x", "preset": "mkv"}]}}
    assert client.post("/api/pipeline/presets", json=pipeline).status_code == 201
    in_use = client.delete(f"/api/job/presets/{preset_id}")
    assert in_use.status_code == 409
    assert "p" in in_use.json()["detail"]


def test_pipeline_preset_must_validate(client: TestClient) -> None:
    body = {"name": "p", "pipeline": {"steps": [{"id": "x", "preset": "nope"}]}}
    assert client.post("/api/pipeline/presets", json=body).status_code == 422
    assert client.get("/api/pipeline/presets/999").status_code == 404
    step = client.get("/api/job/presets").json()["items"][0]["id"]
    # a step preset is not a pipeline preset
    assert client.get(f"/api/pipeline/presets/{step}").status_code == 404


# --- run now ------------------------------------------------------------------------


def test_run_now_on_the_session_files(
    client: TestClient, pipelines: FakePipelineControl, session_id: int
) -> None:
    body = {"session_id": session_id, "pipeline": PIPELINE, "key": "k1"}
    response = client.post("/api/pipeline/run", json=body)
    assert response.status_code == 202, response.text
    assert response.json()["workflow_id"] == "pipeline-manual-k1"

    (wid, inp) = pipelines.started[0]
    assert wid == "pipeline-manual-k1"
    assert [p.rsplit("/", 1)[1] for p in inp.inputs] == ["0.ts", "1.ts"]
    assert inp.context.streamer == "alice"
    assert inp.context.session_id == session_id
    again = client.post("/api/pipeline/run", json=body)
    assert again.json()["run_id"] == response.json()["run_id"]  # idempotent by key
    run = client.get(f"/api/pipeline/runs/{response.json()['run_id']}").json()
    assert run["status"] == "PENDING"
    assert run["kind"] == "manual"


def test_run_now_goes_to_the_recording_hosts_queues(
    app: FastAPI, client: TestClient, pipelines: FakePipelineControl, session_id: int
) -> None:
    body = {"session_id": session_id, "pipeline": PIPELINE}
    assert client.post("/api/pipeline/run", json=body).status_code == 202
    shared = pipelines.started[-1][1]
    assert (shared.cpu_queue, shared.io_queue) == ("srec-cpu", "srec-io")
    # per-host placement: segment 1 was recorded on host-b, segment 0 on host-a
    with Session(app.state.engine) as db:
        for segment in crud_sessions.list_segments(db, session_id):
            segment.host = f"host-{'ab'[segment.index]}"
            db.add(segment)
        db.commit()
    one = client.post("/api/pipeline/run", json=body | {"segments": [1]})
    assert one.status_code == 202, one.text
    inp = pipelines.started[-1][1]
    assert (inp.cpu_queue, inp.io_queue) == ("srec-cpu@host-b", "srec-io@host-b")
    run = client.get(f"/api/pipeline/runs/{one.json()['run_id']}").json()
    assert run["status"] == "PENDING"
    # no worker sees both disks: refused with the reason
    both = client.post("/api/pipeline/run", json=body)
    assert both.status_code == 409
    assert "different hosts (host-a, host-b)" in both.json()["detail"]


@pytest.mark.parametrize(
    ("extra", "code"),
    [
        pytest.param({"segments": [7]}, 422, id="no-such-segment"),
        pytest.param({"files": ["../../etc/passwd"]}, 422, id="outside-root"),
        pytest.param({"preset": "nope", "pipeline": None}, 404, id="unknown-preset"),
        pytest.param({"preset": "remux-mp4"}, 422, id="both"),
        pytest.param({"session_id": 999}, 404, id="no-session"),
    ],
)
def test_run_now_refuses(
    client: TestClient,
    pipelines: FakePipelineControl,
    session_id: int,
    extra: dict[str, Any],
    code: int,
) -> None:
    body = {"session_id": session_id, "pipeline": PIPELINE, **extra}
    body = {k: v for k, v in body.items() if v is not None}
    assert client.post("/api/pipeline/run", json=body).status_code == code
    assert pipelines.started == []


def test_run_now_by_preset_and_temporal_down(
    client: TestClient, pipelines: FakePipelineControl, session_id: int
) -> None:
    body = {"session_id": session_id, "preset": "remux-thumbnail", "segments": [1]}
    assert client.post("/api/pipeline/run", json=body).status_code == 202
    assert [s.processor for s in pipelines.started[0][1].steps] == [
        "remux",
        "thumbnail",
    ]
    pipelines.unavailable = True
    assert client.post("/api/pipeline/run", json=body).status_code == 503


# --- runs and jobs ------------------------------------------------------------------


def test_runs_and_jobs_read_the_rows(app: FastAPI, client: TestClient) -> None:
    run_id, jobs = a_run(app)
    run = client.get(f"/api/pipeline/runs/{run_id}").json()
    assert (run["status"], run["error"]) == ("FAILED", "step b (upload): boom")
    assert [(s["step_id"], s["status"], s["depends_on"]) for s in run["steps"]] == [
        ("a", "COMPLETED", []),
        ("b", "FAILED", ["a"]),
    ]
    assert (
        client.get("/api/pipeline/runs", params={"status": "FAILED"}).json()["total"]
        == 1
    )
    assert (
        client.get("/api/pipeline/runs", params={"session_id": 6}).json()["total"] == 0
    )

    listed = client.get("/api/pipeline/jobs", params={"status": "FAILED"}).json()
    assert [j["step_id"] for j in listed["items"]] == ["b"]
    for params, total in [
        ({"session_id": 5}, 2),
        ({"streamer_id": 1, "processor": "remux"}, 1),
        ({"streamer_id": 2}, 0),
        ({"limit": 1, "offset": 1}, 2),
    ]:
        assert client.get("/api/pipeline/jobs", params=params).json()["total"] == total
    job = client.get(f"/api/pipeline/jobs/{jobs['a']}").json()
    assert job["outputs"] == {"files": ["/rec/0.mp4"], "remote": []}
    assert job["attempt"] == 1
    logs = client.get(f"/api/pipeline/jobs/{jobs['a']}/logs").json()
    assert logs["lines"] == ["ffmpeg said", "done"]
    progress = client.get(f"/api/pipeline/jobs/{jobs['b']}/progress").json()
    assert (progress["status"], progress["progress"]) == ("FAILED", 0.5)


def test_retry_and_cancel_go_to_the_workflow(
    app: FastAPI, client: TestClient, pipelines: FakePipelineControl
) -> None:
    run_id, jobs = a_run(app)
    assert client.post(f"/api/pipeline/jobs/{jobs['a']}/retry").status_code == 409
    response = client.post(f"/api/pipeline/jobs/{jobs['b']}/retry")
    assert response.status_code == 202, response.text
    wid, steps, rerun = pipelines.retried[0]
    assert (wid, steps) == ("pipeline-seg-5-0", ["b"])
    assert rerun.carried == {"a": StepOutput(files=["/rec/0.mp4"])}
    assert client.post(f"/api/pipeline/runs/{run_id}/retry").json()["step_ids"] == ["b"]

    assert client.post(f"/api/pipeline/jobs/{jobs['b']}/cancel").status_code == 409
    assert client.post(f"/api/pipeline/runs/{run_id}/cancel").status_code == 202
    pipelines.nothing = True
    assert client.post(f"/api/pipeline/runs/{run_id}/cancel").status_code == 409
    pipelines.nothing, pipelines.unavailable = False, True
    assert client.post(f"/api/pipeline/runs/{run_id}/retry").status_code == 503


@pytest.mark.parametrize(
    "path",
    [
        "/api/pipeline/jobs/0",
        "/api/pipeline/jobs/-1",
        f"/api/pipeline/jobs/{2**63}",
        f"/api/pipeline/jobs/{MAX_ID + 1}",
        "/api/pipeline/jobs/x/logs",
        f"/api/pipeline/runs/{2**64}",
        "/api/pipeline/jobs?session_id=0",
        f"/api/pipeline/jobs?offset={2**63}",
        "/api/pipeline/jobs?status=BOGUS",
        f"/api/job/presets/{2**63}",
        f"/api/job/presets/{MAX_ID + 1}",
    ],
)
def test_hostile_numbers_are_422(client: TestClient, path: str) -> None:
    assert client.get(path).status_code == 422


def test_missing_rows_are_404(client: TestClient) -> None:
    for path in (
        "/api/pipeline/jobs/9",
        "/api/pipeline/runs/9",
        "/api/job/presets/999",
    ):
        assert client.get(path).status_code == 404
    assert client.post("/api/pipeline/jobs/9/retry").status_code == 404


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(
            '{"steps": [{"id": "a", "processor": "x", "config": {"v": NaN}}]}',
            id="nan-unknown",
        ),
        pytest.param(
            '{"steps": [{"id": "a", "processor": "remux",'
            ' "config": {"fps": NaN, "video_codec": "x"}}]}',
            id="nan-field",
        ),
        pytest.param(
            '{"steps": [{"id": "a", "processor": "danmaku",'
            ' "config": {"opacity": Infinity}}]}',
            id="inf",
        ),
    ],
)
def test_non_finite_numbers_are_422_not_500(client: TestClient, raw: str) -> None:
    response = client.post(
        "/api/pipeline/validate",
        content=raw,
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 422, response.text
