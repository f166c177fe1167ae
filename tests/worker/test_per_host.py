"""Per-host placement: a segment's pipeline steps run on the host that recorded it.

Two real workers (`worker.main.run_worker`) share a dev server and the app database
but not their recordings: host-a and host-b each have a folder of their own, as
two machines with local disks. Each serves `srec-cpu@<host>` and `srec-io@<host>`
beside the shared queues. A segment row says which host recorded it; the run's
queues come from `step_queues` (what the API does), and its steps find their
input only on that host's disk, so a step sent anywhere else would fail. Host-a's
worker also exports `/metrics`: the SDK's series name the per-host queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import aiohttp
import pytest
from sqlmodel import Session

from activities.contracts import host_queue
from activities.db import crud_sessions, make_engine, migrate
from activities.pipeline_contracts import (
    PipelineContext,
    PipelineGraph,
    PipelineInput,
    Queue,
    ResolvedStep,
    RunStatus,
)
from tests.temporal import start_dev_server
from worker.main import run_worker
from worker.metrics_server import free_loopback_port
from worker.settings import WorkerSettings
from workflows.pipeline_client import MixedHostsError, start_pipeline, step_queues

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

    from temporalio.testing import WorkflowEnvironment

pytestmark = pytest.mark.e2e


@pytest.fixture
async def server() -> AsyncIterator[WorkflowEnvironment]:
    async with await start_dev_server() as env:
        yield env


def host_settings(
    tmp_path: Path, address: str, host: str, queues: str, **more: object
) -> WorkerSettings:
    return WorkerSettings(
        data_dir=tmp_path / host,
        database_url=f"sqlite:///{tmp_path / 'shared.db'}",
        recordings_dir=tmp_path / host / "recordings",
        temporal_address=address,
        graceful_shutdown_secs=1.0,
        queues=queues,
        cpu_slots=1,
        io_slots=4,
        poll_shards=0,
        pipeline_placement="per-host",
        host_name=host,
        **more,  # type: ignore[arg-type]
    )


def segment_on(settings: WorkerSettings, db_url: str, index: int) -> str:
    """A recorded file on the host's own disk, and its segment row naming the host."""
    folder = settings.recordings_path / "alice"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"alice_{index}.ts"
    path.write_bytes(b"\x47" * 188 * 10)
    engine = make_engine(db_url)
    with Session(engine) as db:
        # no streamer row: the workflow worker would start its workflow
        session = crud_sessions.open_session(
            db,
            streamer_id=1,
            title="t",
            start_time=datetime.now(UTC),
            open_key="per-host-test",
        )
        assert session.id is not None
        crud_sessions.begin_segment(
            db,
            session_id=session.id,
            index=index,
            file_path=str(path),
            host=settings.recording_host,
        )
        hosts = [s.host for s in crud_sessions.list_segments(db, session.id)]
    engine.dispose()
    assert hosts[index] == settings.host_name
    return str(path)


def pipeline(path: str, host: str | None) -> PipelineInput:
    queues = step_queues([host])
    return PipelineInput(
        kind="test",
        steps=[
            ResolvedStep(
                id="pack",
                processor="archive",
                queue=Queue.CPU,
                config={"format": "zip"},
            ),
            ResolvedStep(
                id="keep",
                processor="copy",
                queue=Queue.IO,
                config={"output_dir": "kept"},
            ),
        ],
        inputs=[path],
        context=PipelineContext(streamer="alice", streamer_id=1),
        cpu_queue=queues["cpu"],
        io_queue=queues["io"],
    )


async def test_a_segments_steps_run_on_the_host_that_recorded_it(
    server: WorkflowEnvironment, tmp_path: Path
) -> None:
    address = server.client.service_client.config.target_host
    metrics_port = free_loopback_port()
    a = host_settings(
        tmp_path, address, "host-a", "workflows,io,cpu", metrics_port=metrics_port
    )
    b = host_settings(tmp_path, address, "host-b", "io,cpu")
    assert (a.recording_host, b.recording_host) == ("host-a", "host-b")
    migrate(make_engine(a.database_url))
    shutdown = asyncio.Event()
    tasks = [asyncio.create_task(run_worker(s, shutdown)) for s in (a, b)]
    try:
        files = {
            "host-a": segment_on(a, a.database_url, 0),
            "host-b": segment_on(b, b.database_url, 1),
        }
        for host, path in files.items():
            inp = pipeline(path, host)
            assert inp.cpu_queue == host_queue("srec-cpu", host) == f"srec-cpu@{host}"
            handle = await start_pipeline(
                server.client, f"pipeline-test-{uuid.uuid4().hex[:8]}", inp
            )
            graph = PipelineGraph.model_validate(
                await asyncio.wait_for(handle.result(), 120)
            )
            assert graph.status == RunStatus.COMPLETED, graph
            # written beside the input, on the host's own disk only
            root = (a if host == "host-a" else b).recordings_path
            other = (b if host == "host-a" else a).recordings_path
            stem = path.rsplit("/", 1)[1].removesuffix(".ts")
            assert (root / "alice" / f"{stem}.zip").is_file()
            assert (root / "kept" / f"{stem}.ts").is_file()
            assert not (other / "kept" / f"{stem}.ts").exists()
        # host-a's /metrics: the SDK's series name its per-host queues, srec's too
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"http://127.0.0.1:{metrics_port}/metrics") as answer,
        ):
            text = await answer.text()
        assert 'task_queue="srec-cpu@host-a"' in text
        assert "srec_recordings_active" in text
        assert 'task_queue="srec-cpu@host-b"' not in text
    finally:
        shutdown.set()
        for task in tasks:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, 60)


def test_one_run_cannot_span_hosts() -> None:
    assert step_queues([None, None]) == {"cpu": "srec-cpu", "io": "srec-io"}
    assert step_queues(["a", None, "a"]) == {"cpu": "srec-cpu@a", "io": "srec-io@a"}
    with pytest.raises(MixedHostsError, match=r"different hosts \(a, b\)"):
        step_queues(["a", "b"])


def test_only_a_recording_worker_marks_its_host(tmp_path: Path) -> None:
    def made(**kw: object) -> WorkerSettings:
        return WorkerSettings(data_dir=tmp_path, **({"host_name": "h1"} | kw))  # type: ignore[arg-type]

    assert made().recording_host is None  # shared storage, the default
    assert made(pipeline_placement="per-host").recording_host == "h1"
    assert made(pipeline_placement="per-host", queues="cpu").recording_host is None
    with pytest.raises(ValueError, match="pattern"):
        made(host_name="a b")
