"""Histories written by earlier workflow code replay on today's code.

Running workflows meet a new deployment mid-history; a change to the commands a
workflow issues (without `workflow.patched`) would fail their next workflow task.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from workflows.streamer import StreamerWorkflow

HISTORIES = Path(__file__).parents[1] / "resources" / "histories"


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("streamer_mid_session", id="mid-session"),
        pytest.param("streamer_session_closed", id="session-closed"),
    ],
)
async def test_an_earlier_history_replays(name: str) -> None:
    history = WorkflowHistory.from_json(
        f"streamer-{name}", (HISTORIES / f"{name}.json").read_text()
    )
    replayer = Replayer(
        workflows=[StreamerWorkflow], data_converter=pydantic_data_converter
    )
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, result.replay_failure
