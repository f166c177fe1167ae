"""Histories recorded by earlier releases replay with today's workflow code."""

from __future__ import annotations

from pathlib import Path

from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from workflows.streamer import StreamerWorkflow

HISTORIES = Path(__file__).parents[1] / "resources" / "temporal"


async def test_a_run_from_before_instance_ids_replays() -> None:
    text = (HISTORIES / "streamer-before-instance-ids.json").read_text()
    history = WorkflowHistory.from_json("streamer-1", text)
    replayer = Replayer(
        workflows=[StreamerWorkflow], data_converter=pydantic_data_converter
    )
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None
