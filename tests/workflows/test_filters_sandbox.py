"""`activities.filters` runs inside the workflow sandbox, and replays.

The streamer workflow will judge filters with `workflow.now()` and sleep on a
durable timer until the schedule opens; this runs the same calls (croniter's parser,
RE2, zoneinfo) in a workflow on the time-skipping server.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer, Worker

from activities.contracts import (
    CronFilter,
    KeywordFilter,
    RegexFilter,
    TimeWindowFilter,
)
from activities.filters import evaluate, next_close, next_open
from tests.workflows.filters_workflow import (
    EvaluateFiltersWorkflow,
    FiltersInput,
    FiltersResult,
)

if TYPE_CHECKING:
    from temporalio.testing import WorkflowEnvironment


def filters_opening_later(now: datetime) -> FiltersInput:
    """A window from two to three hours after `now` (UTC), and filters that pass."""
    opens = (now + timedelta(hours=2)).astimezone(UTC)
    return FiltersInput(
        filters=[
            CronFilter(expression="* * * * *", timezone="Europe/Berlin"),
            TimeWindowFilter(
                start_time=opens.strftime("%H:%M"),
                end_time=(opens + timedelta(hours=1)).strftime("%H:%M"),
                timezone="UTC",
            ),
            KeywordFilter(exclude=["rerun"]),
            RegexFilter(pattern=r"^\[EN\]", case_insensitive=True),
        ],
        title="[en] live",
        category="Art",
    )


async def test_filters_evaluate_in_a_workflow_and_its_timer_wakes_it_when_they_open(
    env: WorkflowEnvironment,
) -> None:
    queue = f"filters-{uuid.uuid4()}"
    inp = filters_opening_later(await env.get_current_time())
    async with Worker(
        env.client, task_queue=queue, workflows=[EvaluateFiltersWorkflow]
    ):
        handle = await env.client.start_workflow(
            EvaluateFiltersWorkflow.run,
            inp,
            id=f"filters-{uuid.uuid4()}",
            task_queue=queue,
            execution_timeout=timedelta(days=30),
        )
        results: list[FiltersResult] = await handle.result()
    first = results[0]
    # the same answer as outside the sandbox, for the same instant
    expected = evaluate(inp.filters, first.now, inp.title, inp.category)
    assert (first.passes, first.reason) == tuple(expected)
    assert first.opens == next_open(inp.filters, first.now)
    assert first.closes == next_close(inp.filters, first.now)
    assert not first.passes
    assert first.reason is not None
    assert first.reason.startswith("outside the time window")
    # slept until the schedule opened: open at that instant, closing an hour later
    assert first.opens is not None
    woken = results[1]
    assert woken.passes, woken.reason
    assert timedelta(0) <= woken.now - first.opens < timedelta(seconds=1)
    assert woken.closes == first.opens + timedelta(hours=1)

    history = await handle.fetch_history()
    replayer = Replayer(
        workflows=[EvaluateFiltersWorkflow], data_converter=pydantic_data_converter
    )
    await replayer.replay_workflow(history)
