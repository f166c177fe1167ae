"""`srec worker --queues …`: a worker serves only the task queues it is given.

The flags parse into settings (unknown names are a usage error, exit 2), and a real
worker (`worker.main.run_worker`) started with `queues="cpu"` on a dev server polls
srec-cpu and nothing else, as Temporal itself reports its pollers.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

import pytest
from pydantic import ValidationError
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest

from activities.contracts import CPU_TASK_QUEUE, IO_TASK_QUEUE, WORKFLOW_TASK_QUEUE
from tests.temporal import start_dev_server
from tests.workflows.test_streamer import eventually
from worker import cli, main, wiring
from worker.settings import WorkerSettings

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

    from temporalio.client import Client
    from temporalio.testing import WorkflowEnvironment


def parse(*argv: str):
    return cli._parser().parse_args(argv)


# --- flags and settings -------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "queues"),
    [
        pytest.param("cpu", "cpu", id="one"),
        pytest.param("cpu,io", "io,cpu", id="start-order"),
        pytest.param(" IO , workflows ,io", "workflows,io", id="spaces-case-repeats"),
        pytest.param("workflows,io,cpu", "workflows,io,cpu", id="all"),
    ],
)
def test_queues_are_parsed_into_known_names(given: str, queues: str) -> None:
    assert parse("worker", "--queues", given).queues == queues


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param(("--queues", "cpu,gpu"), "unknown queue 'gpu'", id="unknown"),
        pytest.param(("--queues", ","), "no queue given", id="empty"),
        pytest.param(("--io-slots", "0"), "not a positive whole number", id="io"),
        pytest.param(("--cpu-slots", "x"), "not a positive whole number", id="cpu"),
    ],
)
def test_bad_worker_flags_are_usage_errors(
    argv: tuple[str, ...], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        parse("worker", *argv)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert message in err
    assert "workflows,io,cpu" in err or "slots" in err


def test_flags_override_the_environment(monkeypatch, tmp_path) -> None:
    seen: list[WorkerSettings] = []
    monkeypatch.setenv("SREC_QUEUES", "io")
    monkeypatch.setenv("SREC_CPU_SLOTS", "3")
    monkeypatch.setattr(main, "main", seen.append)
    argv = ["worker", "--data-dir", str(tmp_path), "--queues", "cpu", "--io-slots", "7"]
    assert cli.main(argv) == 0
    (settings,) = seen
    assert (settings.queue_names, settings.io_slots, settings.cpu_slots) == (
        ("cpu",),
        7,
        3,
    )


def test_defaults_serve_everything(monkeypatch, tmp_path) -> None:
    for name in ("SREC_QUEUES", "SREC_IO_SLOTS", "SREC_CPU_SLOTS"):
        monkeypatch.delenv(name, raising=False)
    settings = WorkerSettings(data_dir=tmp_path)
    assert settings.queue_names == ("workflows", "io", "cpu")
    assert settings.io_slots is None  # computed from the recording slots
    assert wiring.default_io_slots(settings) > settings.max_concurrent_recordings
    assert settings.cpu_slots >= 1


def test_a_bad_queue_in_the_environment_is_refused(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("SREC_QUEUES", "io,disk")
    with pytest.raises(ValidationError, match="unknown queue 'disk'"):
        WorkerSettings(data_dir=tmp_path)
    # `srec worker` reports it as invalid settings: exit 2, no traceback
    assert cli.main(["worker", "--data-dir", str(tmp_path)]) == 2


# --- a worker on one queue ------------------------------------------------------------


@pytest.fixture
async def server() -> AsyncIterator[WorkflowEnvironment]:
    # its own server: pollers of earlier tests' workers would linger in the answer
    async with await start_dev_server() as env:
        yield env


async def pollers(client: Client, queue: str, kind: TaskQueueType.ValueType) -> int:
    answer = await client.workflow_service.describe_task_queue(
        DescribeTaskQueueRequest(
            namespace=client.namespace,
            task_queue=TaskQueue(name=queue),
            task_queue_type=kind,
        )
    )
    return len(answer.pollers)


async def test_a_cpu_worker_polls_only_srec_cpu(
    server: WorkflowEnvironment, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="srec.worker")
    settings = WorkerSettings(
        data_dir=tmp_path,
        temporal_address=server.client.service_client.config.target_host,
        graceful_shutdown_secs=1.0,
        queues="cpu",
        cpu_slots=1,
    )
    client = server.client
    activity = TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY
    workflow = TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW
    shutdown = asyncio.Event()
    task = asyncio.create_task(main.run_worker(settings, shutdown))
    try:
        await eventually(lambda: pollers(client, CPU_TASK_QUEUE, activity), within=60)
        # every worker of the process polls once the log says so: none but cpu
        await eventually(
            lambda: any(
                r.getMessage() == f"worker polling {CPU_TASK_QUEUE}"
                for r in caplog.records
            )
        )
        assert await pollers(client, IO_TASK_QUEUE, activity) == 0
        assert await pollers(client, WORKFLOW_TASK_QUEUE, workflow) == 0
        assert await pollers(client, WORKFLOW_TASK_QUEUE, activity) == 0
        # and it left the streamer workflows to the worker that runs them
        assert not any(r.getMessage().startswith("reconciled") for r in caplog.records)
    finally:
        shutdown.set()
        await asyncio.wait_for(task, 60)
