"""The history recorder makes each shape the replay tests need, and they replay.

`record_history` is run by hand to keep histories of a release's workflow before a
change (see `tests/resources/histories/README.md`); this keeps it working until
then: each shape is recorded on the time-skipping server and replayed on today's
code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from activities import contracts as c
from activities.pipeline_contracts import ACTIVITY_RUN_STEP
from tests.workflows import record_pipeline_history as pipeline_history
from tests.workflows.record_history import IDLE_CHECKS, SHAPES, record
from workflows.pipeline import PipelineWorkflow
from workflows.streamer import StreamerWorkflow

if TYPE_CHECKING:
    from temporalio.client import WorkflowHistory


def _activities(history: WorkflowHistory) -> list[str]:
    return [
        e.activity_task_scheduled_event_attributes.activity_type.name
        for e in history.events
        if e.HasField("activity_task_scheduled_event_attributes")
    ]


def _running(history: WorkflowHistory) -> list[str]:
    """The activities scheduled and not (yet) closed when the history was cut."""
    scheduled = {
        e.event_id: e.activity_task_scheduled_event_attributes.activity_type.name
        for e in history.events
        if e.HasField("activity_task_scheduled_event_attributes")
    }
    for e in history.events:
        for field in (
            "activity_task_completed_event_attributes",
            "activity_task_failed_event_attributes",
            "activity_task_timed_out_event_attributes",
            "activity_task_canceled_event_attributes",
        ):
            if e.HasField(field):
                scheduled.pop(getattr(e, field).scheduled_event_id, None)
    return list(scheduled.values())


# a notification event's activity may still run when a history is cut off
NOTIFY_RECORD_EVENT = "notify.record_event"


def _signals(history: WorkflowHistory) -> list[str]:
    return [
        e.workflow_execution_signaled_event_attributes.signal_name
        for e in history.events
        if e.HasField("workflow_execution_signaled_event_attributes")
    ]


@pytest.mark.parametrize("shape", sorted(SHAPES))
async def test_each_shape_is_recorded_and_replays(shape: str) -> None:
    history = await record(shape)
    last = history.events[-1].event_type
    activities = _activities(history)
    if shape in ("session", "window"):
        assert last == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW
        assert c.ACTIVITY_CLOSE_SESSION in activities
    else:  # cut off running: nothing closed the run
        assert all(
            not EventType.Name(e.event_type).startswith(
                "EVENT_TYPE_WORKFLOW_EXECUTION_"
            )
            or e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED
            or e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED
            for e in history.events
        )
    if shape == "idle":
        assert activities.count(c.ACTIVITY_CHECK_LIVE) == IDLE_CHECKS
        assert c.ACTIVITY_RECORD_STREAM not in activities
        assert last == EventType.EVENT_TYPE_TIMER_STARTED  # waiting for the next
    if shape == "recording":
        running = _running(history)
        assert c.ACTIVITY_RECORD_STREAM in running  # it still records
        assert set(running) <= {c.ACTIVITY_RECORD_STREAM, NOTIFY_RECORD_EVENT}
        assert _signals(history).count(c.SIGNAL_SEGMENT_CLOSED) == 2
    if shape == "poller":  # the poller's news opened the session: no own check
        assert c.ACTIVITY_CHECK_LIVE not in activities
        assert c.ACTIVITY_RECORD_STREAM in _running(history)
        assert c.SIGNAL_DETECTED in _signals(history)
    if shape == "window":  # the stream came back: one session, two recordings
        assert activities.count(c.ACTIVITY_OPEN_SESSION) == 1
        assert activities.count(c.ACTIVITY_RECORD_STREAM) == 2
    if shape == "backoff":
        assert activities.count(c.ACTIVITY_CHECK_LIVE) == 3
        assert last == EventType.EVENT_TYPE_TIMER_STARTED  # the backoff's end
    if shape == "paused":
        assert _signals(history) == [c.SIGNAL_PAUSE]
        assert activities.count(c.ACTIVITY_CHECK_LIVE) == 1
        assert activities[-1] == c.ACTIVITY_PROJECT_STATE  # DISABLED, projected

    replayer = Replayer(
        workflows=[StreamerWorkflow], data_converter=pydantic_data_converter
    )
    await replayer.replay_workflow(history)


@pytest.mark.parametrize("shape", pipeline_history.SHAPES)
async def test_each_pipeline_shape_is_recorded_and_replays(shape: str) -> None:
    history = await pipeline_history.record(shape)
    last = history.events[-1].event_type
    running = _running(history)
    if shape == "complete":
        assert last == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED
        assert running == []
    else:  # cut off while its step runs
        assert pipeline_history.waiting(history)
        assert ACTIVITY_RUN_STEP in running
    replayer = Replayer(
        workflows=[PipelineWorkflow], data_converter=pydantic_data_converter
    )
    await replayer.replay_workflow(history)
