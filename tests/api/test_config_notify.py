"""The config notifier: every reached workflow told once, in spread-out batches,
and nothing lost while Temporal is down."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field

import pytest

from activities.contracts import SIGNAL_CONFIG_CHANGED
from api.config_notify import JITTER, ConfigNotifier
from api.deps import TemporalUnavailableError
from workflows.client import ForeignWorkflowError


@dataclass
class Control:
    """Records signals; fails while `down` (Temporal unreachable)."""

    signals: list[tuple[int, str]] = field(default_factory=list)
    down: int = 0
    foreign: set[int] = field(default_factory=set)

    async def signal(self, streamer_id: int, name: str) -> bool:
        if self.down:
            self.down -= 1
            raise TemporalUnavailableError("Temporal at fake:7233 is unreachable")
        if streamer_id in self.foreign:
            raise ForeignWorkflowError(streamer_id, "other")
        self.signals.append((streamer_id, name))
        return True


@dataclass
class Pauses:
    """Stands in for asyncio.sleep: keeps what was asked, waits for nothing."""

    asked: list[float] = field(default_factory=list)

    async def __call__(self, secs: float) -> None:
        self.asked.append(secs)
        await asyncio.sleep(0)


async def drained(notifier: ConfigNotifier) -> None:
    async with asyncio.timeout(10):
        while True:
            if notifier.pending == 0 and (
                notifier._task is None or notifier._task.done()
            ):
                return
            await asyncio.sleep(0.005)


async def test_every_streamer_is_told_once_in_bounded_spread_batches() -> None:
    control, pauses = Control(), Pauses()
    notifier = ConfigNotifier(rate=100, batch=10, rng=random.Random(1), sleep=pauses)
    notifier.notify(control, range(1, 46))  # type: ignore[arg-type]
    notifier.notify(control, [3, 7, 45])  # type: ignore[arg-type]  # told once
    await drained(notifier)
    told = [sid for sid, _ in control.signals]
    assert sorted(told) == list(range(1, 46))
    assert {name for _, name in control.signals} == {SIGNAL_CONFIG_CHANGED}
    # five batches (10, 10, 10, 10, 5), each followed by its jittered share of
    # the rate: 45 signals at 100/s spread over about 0.45 s, never at once
    assert len(pauses.asked) == 5
    for pause, size in zip(pauses.asked, [10, 10, 10, 10, 5], strict=True):
        assert size / 100 * (1 - JITTER) <= pause <= size / 100 * (1 + JITTER)
    assert len(set(pauses.asked)) == 5  # jittered: several APIs do not line up
    await notifier.close()


async def test_nothing_is_lost_while_temporal_is_down() -> None:
    control, pauses = Control(down=25), Pauses()
    notifier = ConfigNotifier(rate=1000, batch=10, retry_secs=30, sleep=pauses)
    notifier.notify(control, range(1, 11))  # type: ignore[arg-type]
    await drained(notifier)
    assert sorted(sid for sid, _ in control.signals) == list(range(1, 11))
    assert pauses.asked.count(30) == 3  # three refused rounds, then delivered
    await notifier.close()


async def test_another_instances_workflow_is_skipped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    control = Control(foreign={2})
    notifier = ConfigNotifier(sleep=Pauses())
    notifier.notify(control, [1, 2, 3])  # type: ignore[arg-type]
    await drained(notifier)
    assert [sid for sid, _ in control.signals] == [1, 3]
    assert "streamer 2 not told" in caplog.text
    await notifier.close()
