"""A workflow that was recording when new workflow code is deployed keeps running.

`streamer_mid_session.json` is a StreamerWorkflow history cut off mid-session (see
tests/resources/histories/README.md). Replaying it with today's code is what a
worker does with such a workflow after an upgrade; a change to the commands the
workflow issues (without `workflow.patched`) fails here.
"""

from __future__ import annotations

from pathlib import Path

from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from workflows.streamer import StreamerWorkflow

HISTORY = Path(__file__).parents[1] / "resources" / "histories"


async def test_a_session_recording_at_the_upgrade_replays() -> None:
    history = WorkflowHistory.from_json(
        "streamer-mid-session", (HISTORY / "streamer_mid_session.json").read_text()
    )
    replayer = Replayer(
        workflows=[StreamerWorkflow], data_converter=pydantic_data_converter
    )
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, result.replay_failure
