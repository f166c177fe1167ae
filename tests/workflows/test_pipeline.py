"""PipelineWorkflow on the time-skipping server: the real workflow and activities
(job rows in SQLite) around fake processors that fail, wait or report progress."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import pytest
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ApplicationError

from activities.pipeline_contracts import (
    ERROR_PIPELINE_CANCELLED,
    ERROR_PIPELINE_FAILED,
    QUERY_PIPELINE_GRAPH,
    PipelineGraph,
    StepStatus,
)
from tests.workflows.pipeline_fakes import harness, migrated_db
from workflows.pipeline_client import (
    NothingToDoError,
    cancel_pipeline,
    retry_pipeline,
    start_pipeline,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable
    from pathlib import Path

    from temporalio.testing import WorkflowEnvironment

    from tests.workflows.pipeline_fakes import Harness

S = StepStatus


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return migrated_db(tmp_path_factory.mktemp("db"))


@pytest.fixture
async def h(
    env: WorkflowEnvironment, tmp_path: Path, template: Path
) -> AsyncIterator[Harness]:
    async with harness(env, tmp_path, template) as running:
        yield running


async def graph(handle: Any) -> PipelineGraph:
    result: PipelineGraph = await handle.query(
        QUERY_PIPELINE_GRAPH, result_type=PipelineGraph
    )
    return result


async def until(handle: Any, check: Callable[[PipelineGraph], bool]) -> PipelineGraph:
    """Query the graph (in real time) until `check` holds."""
    for _ in range(600):
        current = await graph(handle)
        if check(current):
            return current
        await asyncio.sleep(0.05)
    raise AssertionError(f"never reached: {current}")


def states(g: PipelineGraph) -> dict[str, StepStatus]:
    return {s.id: s.status for s in g.steps}


async def failure(handle: Any) -> ApplicationError:
    with pytest.raises(WorkflowFailureError) as caught:
        await handle.result()
    cause = caught.value.cause
    assert isinstance(cause, ApplicationError)
    return cause


async def test_fan_out_then_fan_in(h: Harness) -> None:
    inp = h.pipeline(
        ("a", []), ("b", ["a"]), ("c", ["a"]), ("d", ["c", "b"]), io=frozenset({"c"})
    )
    handle = await h.start(inp)
    result: PipelineGraph = await handle.result()

    assert result.status == "COMPLETED"
    assert h.world.inputs == {
        "a": ["seg0.ts"],  # the root gets the trigger's files
        "b": ["a.out"],
        "c": ["a.out"],
        "d": ["c.out", "b.out"],  # in depends_on order
    }
    jobs = h.jobs(handle.id)
    assert {k: j.status for k, j in jobs.items()} == dict.fromkeys("abcd", S.COMPLETED)
    assert jobs["c"].queue == "io"
    assert jobs["a"].queue == "cpu"
    assert jobs["d"].outputs == {"files": ["/rec/d.out"], "remote": []}
    assert jobs["d"].attempt == 1
    assert jobs["d"].finished_at is not None
    assert h.run_row(handle.id).status == "COMPLETED"
    # notifications (issue 13): one per transition, keyed by the execution
    run_id = (await handle.describe()).run_id
    assert [(e.kind, e.key) for e in h.events.rows()] == [
        (k, f"{handle.id}/{run_id}/{k}")
        for k in ("pipeline_started", "pipeline_completed")
    ]


async def test_a_failure_cancels_dependents_and_independent_branches_finish(
    h: Harness,
) -> None:
    h.world.fail["a"] = "boom"
    h.world.gates["c"] = gate = asyncio.Event()
    handle = await h.start(h.pipeline(("a", []), ("b", ["a"]), ("c", [])))

    g = await until(handle, lambda g: states(g)["b"] == S.CANCELLED)
    assert states(g) == {"a": S.FAILED, "b": S.CANCELLED, "c": S.RUNNING}
    assert g.status == "FAILED"
    gate.set()
    cause = await failure(handle)

    assert cause.type == ERROR_PIPELINE_FAILED
    assert cause.message == "step a (fake): boom"
    final = await graph(handle)
    assert states(final) == {"a": S.FAILED, "b": S.CANCELLED, "c": S.COMPLETED}
    jobs = h.jobs(handle.id)
    assert (jobs["a"].status, jobs["a"].error) == (S.FAILED, "boom")
    assert jobs["b"].status == S.CANCELLED
    assert jobs["b"].attempt == 0
    assert jobs["c"].status == S.COMPLETED
    row = h.run_row(handle.id)
    assert (row.status, row.error) == ("FAILED", "step a (fake): boom")
    assert h.world.calls == {"a": 1, "c": 1}
    assert h.events.kinds() == ["pipeline_started", "pipeline_failed"]
    assert h.events.rows()[1].detail == "step a (fake): boom"


async def test_retry_reruns_failed_steps_only(h: Harness) -> None:
    h.world.fail["b"] = "flaky"
    h.world.gates["slow"] = gate = asyncio.Event()
    handle = await h.start(
        h.pipeline(("a", []), ("b", ["a"]), ("c", ["b"]), ("slow", []))
    )
    await until(handle, lambda g: states(g)["c"] == S.CANCELLED)
    with pytest.raises(NothingToDoError):
        await retry_pipeline(h.env.client, handle.id, ["a"], h.pipeline(("a", [])))

    del h.world.fail["b"]
    again = await retry_pipeline(h.env.client, handle.id, None, h.pipeline(("a", [])))
    assert again == ["b", "c"]
    await until(handle, lambda g: states(g)["c"] == S.COMPLETED)
    gate.set()
    result: PipelineGraph = await handle.result()

    assert result.status == "COMPLETED"
    assert h.world.calls == {"a": 1, "b": 2, "c": 1, "slow": 1}
    assert h.world.inputs["b"] == ["a.out"]  # the kept output of the completed step
    jobs = h.jobs(handle.id)
    assert jobs["b"].attempt == 2
    assert jobs["b"].error is None
    assert h.run_row(handle.id).status == "COMPLETED"


async def test_retry_after_the_run_closed_starts_it_again_with_kept_outputs(
    h: Harness,
) -> None:
    h.world.fail["b"] = "flaky"
    inp = h.pipeline(("a", []), ("b", ["a"]))
    handle = await h.start(inp)
    await failure(handle)

    del h.world.fail["b"]
    rerun = inp.model_copy(
        update={"carried": {"a": (await graph(handle)).steps[0].output}}
    )
    again = await retry_pipeline(
        h.env.client, handle.id, ["b"], rerun, task_queue=h.wf_queue
    )
    assert again == ["b"]
    latest = await h.env.client.get_workflow_handle(handle.id).describe()
    rerun_handle = h.env.client.get_workflow_handle(
        handle.id, run_id=latest.run_id, result_type=PipelineGraph
    )
    result = await rerun_handle.result()

    assert result.status == "COMPLETED"
    assert h.world.calls == {"a": 1, "b": 2}
    assert h.world.inputs["b"] == ["a.out"]
    row = h.run_row(handle.id)
    assert (row.status, row.retries, row.error) == ("COMPLETED", 1, None)
    assert {k: j.status for k, j in h.jobs(handle.id).items()} == {
        "a": S.COMPLETED,
        "b": S.COMPLETED,
    }
    # the retry is a new execution of the id: its own pair of events
    assert h.events.kinds() == [
        "pipeline_started",
        "pipeline_failed",
        "pipeline_started",
        "pipeline_completed",
    ]


async def test_cancel_stops_running_steps_and_drops_their_dependents(
    h: Harness,
) -> None:
    h.world.gates["a"] = asyncio.Event()  # never set: only a cancel ends it
    handle = await h.start(h.pipeline(("a", []), ("b", ["a"]), ("c", [])))
    await until(
        handle, lambda g: states(g)["a"] == S.RUNNING and states(g)["c"] == S.COMPLETED
    )

    assert await cancel_pipeline(h.env.client, handle.id, ["a"]) == ["a"]
    cause = await failure(handle)

    assert cause.type == ERROR_PIPELINE_CANCELLED
    assert h.world.cancelled == ["a"]
    jobs = h.jobs(handle.id)
    assert {k: j.status for k, j in jobs.items()} == {
        "a": S.CANCELLED,
        "b": S.CANCELLED,
        "c": S.COMPLETED,
    }
    assert h.run_row(handle.id).status == "CANCELLED"
    assert h.events.kinds() == ["pipeline_started"]  # a cancel is the user's own
    with pytest.raises(NothingToDoError):
        await cancel_pipeline(h.env.client, handle.id, None)


async def test_cancelling_the_workflow_cancels_its_steps(h: Harness) -> None:
    h.world.gates["a"] = asyncio.Event()
    handle = await h.start(h.pipeline(("a", []), ("b", ["a"])))
    await until(handle, lambda g: states(g)["a"] == S.RUNNING)

    await handle.cancel()
    with pytest.raises(WorkflowFailureError):
        await handle.result()

    assert h.world.cancelled == ["a"]
    assert {k: j.status for k, j in h.jobs(handle.id).items()} == {
        "a": S.CANCELLED,
        "b": S.CANCELLED,
    }
    assert h.run_row(handle.id).status == "CANCELLED"


async def test_progress_reaches_the_query_and_the_job_row(h: Harness) -> None:
    h.world.progress["a"] = 0.5
    h.world.gates["a"] = gate = asyncio.Event()
    handle = await h.start(h.pipeline(("a", [])))

    g = await until(handle, lambda g: g.steps[0].progress == 0.5)
    assert g.steps[0].detail == "halfway"
    for _ in range(200):
        if h.jobs(handle.id)["a"].progress == 0.5:
            break
        await asyncio.sleep(0.05)
    assert h.jobs(handle.id)["a"].progress_detail == "halfway"
    gate.set()
    await handle.result()
    assert h.jobs(handle.id)["a"].progress == 1.0


async def test_starting_twice_runs_once(h: Harness) -> None:
    inp = h.pipeline(("a", []))
    wid = "pipeline-test-twice"
    first = await start_pipeline(h.env.client, wid, inp, task_queue=h.wf_queue)
    second = await start_pipeline(h.env.client, wid, inp, task_queue=h.wf_queue)
    assert first.id == second.id
    await first.result()
    third = await start_pipeline(h.env.client, wid, inp, task_queue=h.wf_queue)
    await third.result()
    assert h.world.calls == {"a": 1}
