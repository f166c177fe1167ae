"""The workflows worker reconciles again every `reconcile_interval_secs`.

A streamer the API saved while Temporal could not start its workflow (a dev server
overloaded by 10,000 creations answered "Namespace default is not found.") must
be monitored without a worker restart: the next round starts its workflow.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

import pytest
from pydantic import ValidationError

from worker import main, poll_wiring
from worker.settings import WorkerSettings

if TYPE_CHECKING:
    from pathlib import Path


async def test_rounds_repeat_and_a_failed_round_is_not_the_last(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    calls: list[str] = []
    enough = asyncio.Event()

    async def reconcile(*args: Any) -> None:
        calls.append("reconcile")
        if len(calls) == 3:  # the second round's reconcile fails
            raise RuntimeError("Namespace default is not found.")
        if calls.count("reconcile") >= 4:
            enough.set()

    async def pollers(*args: Any) -> None:
        calls.append("pollers")

    monkeypatch.setattr(main, "reconcile_streamers", reconcile)
    monkeypatch.setattr(poll_wiring, "start_pollers", pollers)
    settings = WorkerSettings(data_dir=tmp_path).model_copy(
        update={"reconcile_interval_secs": 0.01}
    )
    rounds = await main.keep_in_step(None, None, settings, "an-instance")  # type: ignore[arg-type]
    assert calls == ["reconcile", "pollers"]  # the first round, before it returns
    await asyncio.wait_for(enough.wait(), 10)
    rounds.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await rounds
    # a failed reconcile still ensures the pollers, and the rounds go on
    assert calls[:6] == ["reconcile", "pollers"] * 3
    assert rounds.cancelled()


def test_the_interval_is_a_setting_with_a_floor() -> None:
    assert WorkerSettings().reconcile_interval_secs == 300.0
    with pytest.raises(ValidationError, match="reconcile_interval_secs"):
        WorkerSettings(reconcile_interval_secs=1)
