"""A worker's `/metrics`: the Temporal SDK's series and srec's, on one port."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import TYPE_CHECKING

import aiohttp
from prometheus_client.parser import text_string_to_metric_families
from temporalio import activity, workflow
from temporalio.worker import Worker

from activities.metrics import SEGMENTS_WRITTEN
from worker.metrics_server import exposition, free_loopback_port, sdk_runtime, serve
from workflows.client import connect

if TYPE_CHECKING:
    from temporalio.testing import WorkflowEnvironment


@activity.defn(name="test.metrics_ping")
async def ping(text: str) -> str:
    return text


@workflow.defn(name="MetricsPing", sandboxed=False)
class Ping:
    @workflow.run
    async def run(self, text: str) -> str:
        return await workflow.execute_activity(
            ping, text, start_to_close_timeout=timedelta(seconds=30)
        )


def samples(text: str) -> dict[str, float]:
    """name{labels} → value, labels sorted."""
    found = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(s.labels.items()))
            found[f"{s.name}{{{labels}}}"] = s.value
    return found


async def test_worker_metrics_serve_sdk_and_srec_series(
    env: WorkflowEnvironment,
) -> None:
    sdk_port = free_loopback_port()
    client = await connect(
        env.client.service_client.config.target_host,
        env.client.namespace,
        runtime=sdk_runtime(sdk_port),
    )
    queue = f"metrics-{uuid.uuid4()}"
    before = SEGMENTS_WRITTEN.labels("metricstv")._value.get()
    SEGMENTS_WRITTEN.labels("metricstv").inc(2)
    async with (
        Worker(client, task_queue=queue, workflows=[Ping], activities=[ping]),
        serve("127.0.0.1", free_loopback_port(), sdk_port) as port,
        aiohttp.ClientSession() as http,
    ):
        done = await client.execute_workflow(
            Ping.run, "hello", id=f"ping-{uuid.uuid4()}", task_queue=queue
        )
        assert done == "hello"
        async with http.get(f"http://127.0.0.1:{port}/metrics") as answer:
            assert answer.status == 200
            assert answer.headers["Content-Type"].startswith("text/plain")
            text = await answer.text()
    found = samples(text)
    # the SDK's: a workflow and an activity ran on this task queue
    completed = [
        v
        for k, v in found.items()
        if k.startswith("temporal_workflow_completed") and f"task_queue={queue}" in k
    ]
    assert completed == [1.0], [k for k in found if k.startswith("temporal_")][:20]
    assert any(
        k.startswith("temporal_activity_execution_latency") and queue in k
        for k in found
    )
    # srec's own, beside them
    assert found["srec_segments_written_total{platform=metricstv}"] == before + 2
    assert "srec_recordings_active{}" in found


async def test_srec_series_alone_when_the_sdk_is_silent() -> None:
    async with aiohttp.ClientSession() as http:
        text = (await exposition(http, free_loopback_port())).decode()
    assert "srec_recordings_active" in text
    assert "temporal_" not in text
