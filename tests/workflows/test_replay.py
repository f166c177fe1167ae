"""Recorded StreamerWorkflow histories replay against today's workflow code.

Each JSON file in tests/resources/histories is one whole session (idle, live, two
segments, the stream's end, grace, close, continue-as-new) recorded with
`tests.workflows.record_history` by the code of its time:

* `streamer_session_probe.json`: before the recording activity checked segments,
  when the workflow scheduled a `media.probe_segment` activity per segment;
* `streamer_session_checked.json`: since then (no probe; one patch marker).

A change that would break a running workflow fails here.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from activities import contracts as c
from workflows.streamer import StreamerWorkflow

HISTORIES = Path(__file__).parents[1] / "resources" / "histories"


def _activities(history: WorkflowHistory) -> list[str]:
    return [
        e.activity_task_scheduled_event_attributes.activity_type.name
        for e in history.events
        if e.HasField("activity_task_scheduled_event_attributes")
    ]


def _load(name: str) -> WorkflowHistory:
    text = (HISTORIES / name).read_text()
    return WorkflowHistory.from_json(f"streamer-1-{Path(name).stem}", json.loads(text))


@pytest.mark.parametrize(
    ("name", "probes"),
    [
        pytest.param("streamer_session_probe.json", 2, id="with-probes"),
        pytest.param("streamer_session_checked.json", 0, id="checked-by-recorder"),
    ],
)
async def test_recorded_session_replays(name: str, probes: int) -> None:
    history = _load(name)
    assert _activities(history).count(c.ACTIVITY_PROBE_SEGMENT) == probes
    assert c.ACTIVITY_RECORD_STREAM in _activities(history)
    replayer = Replayer(
        workflows=[StreamerWorkflow], data_converter=pydantic_data_converter
    )
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, result.replay_failure


def test_a_checked_session_saves_the_probe_events() -> None:
    with_probes = _load("streamer_session_probe.json")
    checked = _load("streamer_session_checked.json")
    # per segment: scheduled, started, completed, and usually a workflow task
    assert len(with_probes.events) - len(checked.events) >= 2 * 3
