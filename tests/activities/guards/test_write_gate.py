"""The output-root write gate: trips, single-flight probes, one event, recovery."""

from __future__ import annotations

import asyncio
import errno
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlmodel import Session, select

from activities.contracts import (
    EVENT_OUTPUT_PATH_INACCESSIBLE,
    EVENT_OUTPUT_PATH_RECOVERED,
)
from activities.db import OutputRootBlock, crud, crud_guards, make_engine, migrate
from activities.errors import OutputPathInaccessibleError
from activities.guards import WriteGate

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    import sqlalchemy as sa

T0 = datetime(2026, 1, 1, tzinfo=UTC)


class WallClock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def at(self, secs: float) -> None:
        self.now = T0 + timedelta(seconds=secs)


class FakeSignaller:
    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    async def __call__(self, workflow_ids: Sequence[str]) -> None:
        self.calls.append(list(workflow_ids))


class CountingGate(WriteGate):
    """Counts real probes; `full` makes them fail as a full disk would."""

    probes = 0
    full = False

    def _probe_sync(self) -> None:
        type(self).probes += 1
        if self.full:
            raise OSError(errno.ENOSPC, "No space left on device")
        super()._probe_sync()


@pytest.fixture(autouse=True)
def _reset_counts() -> None:
    CountingGate.probes = 0
    CountingGate.full = False


@pytest.fixture
def db(db_url: str) -> Iterator[sa.Engine]:
    engine = make_engine(db_url)
    migrate(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def clock() -> WallClock:
    return WallClock()


@pytest.fixture
def signaller() -> FakeSignaller:
    return FakeSignaller()


@pytest.fixture
def blocker(tmp_path: Path) -> Path:
    """A file where the root's parent directory should be: nothing can be created."""
    path = tmp_path / "mnt"
    path.write_text("not a directory")
    return path


def gate_at(
    db, root: Path, clock, signaller, cls: type[WriteGate] = WriteGate
) -> WriteGate:
    return cls(db, root, cooldown_secs=30.0, clock=clock, signaller=signaller)


def events(db: sa.Engine, kind: str) -> list[str]:
    with Session(db) as s:
        return [e.subject for e in crud.list_events(s, kind=kind)]


def blocked(db: sa.Engine) -> list[str]:
    with Session(db) as s:
        return sorted(s.exec(select(OutputRootBlock.workflow_id)).all())


def degraded(db: sa.Engine) -> list[tuple[str, str | None, int]]:
    with Session(db) as s:
        return [
            (r.path, r.error, r.rejected) for r in crud_guards.list_degraded_roots(s)
        ]


async def refused(gate: WriteGate, workflow_id: str) -> OutputPathInaccessibleError:
    with pytest.raises(OutputPathInaccessibleError) as caught:
        await gate.check(workflow_id)
    return caught.value


async def test_a_healthy_root_is_created_and_lets_recordings_start(
    db, tmp_path, clock, signaller
) -> None:
    root = tmp_path / "rec"
    await gate_at(db, root, clock, signaller).check("wf-1")
    assert root.is_dir()
    assert list(root.iterdir()) == []
    assert degraded(db) == []
    assert events(db, EVENT_OUTPUT_PATH_INACCESSIBLE) == []


async def test_concurrent_failures_make_one_incident_and_one_event(
    db, blocker, clock, signaller
) -> None:
    root = blocker / "rec"
    gates = [gate_at(db, root, clock, signaller) for _ in range(2)]  # two workers
    results = await asyncio.gather(
        *(gates[n % 2].check(f"wf-{n}") for n in range(6)), return_exceptions=True
    )
    assert all(isinstance(r, OutputPathInaccessibleError) for r in results)
    assert events(db, EVENT_OUTPUT_PATH_INACCESSIBLE) == [str(root)]
    [(path, error, _)] = degraded(db)
    assert path == str(root)
    assert error is not None
    assert error.startswith("ENOTDIR")
    assert blocked(db) == [f"wf-{n}" for n in range(6)]


async def test_runtime_enospc_trips_the_gate(db, tmp_path, clock, signaller) -> None:
    gate = gate_at(db, tmp_path / "rec", clock, signaller)
    full = OSError(errno.ENOSPC, "No space left on device")
    error = await gate.trip(full, "wf-1")
    assert error.retry_after_secs == 30.0
    assert "ENOSPC" in str(error)
    await gate.trip(full, "wf-2")  # the same incident
    assert events(db, EVENT_OUTPUT_PATH_INACCESSIBLE) == [str(tmp_path / "rec")]
    assert degraded(db)[0][2] == 2  # both attempts were refused


async def test_while_degraded_one_caller_per_cooldown_probes(
    db, tmp_path, clock, signaller
) -> None:
    CountingGate.full = True
    first, second = (
        gate_at(db, tmp_path / "rec", clock, signaller, CountingGate) for _ in "ab"
    )
    await first.trip(OSError(errno.ENOSPC, "No space left on device"), "wf-0")
    clock.at(10)
    for gate, wf in ((first, "wf-1"), (second, "wf-2")):
        error = await refused(gate, wf)
        assert error.retry_after_secs == pytest.approx(20.0)
    assert CountingGate.probes == 0

    clock.at(30)
    results = await asyncio.gather(
        *(g.check(f"wf-{n}") for n, g in enumerate((first, second) * 3)),
        return_exceptions=True,
    )
    assert CountingGate.probes == 1  # one prober, five fast refusals
    assert all(isinstance(r, OutputPathInaccessibleError) for r in results)
    waits = sorted(r.retry_after_secs for r in results)  # type: ignore[union-attr]
    assert waits == [30.0] * 6

    clock.at(45)
    assert (await refused(second, "wf-9")).retry_after_secs == pytest.approx(15.0)
    assert CountingGate.probes == 1
    clock.at(60)
    await refused(second, "wf-9")
    assert CountingGate.probes == 2
    assert len(events(db, EVENT_OUTPUT_PATH_INACCESSIBLE)) == 1


async def test_recovery_wakes_every_blocked_workflow_once(
    db, blocker, clock, signaller
) -> None:
    root = blocker / "rec"
    gate = gate_at(db, root, clock, signaller, CountingGate)
    for wf in ("wf-1", "wf-2", "wf-2", "wf-3"):
        await refused(gate, wf)
    blocker.unlink()  # the mount is back
    clock.at(29)
    await refused(gate, "wf-4")  # the cooldown is not over: nobody looks yet
    assert CountingGate.probes == 0
    clock.at(30)
    await gate.check("wf-5")  # the prober records
    assert CountingGate.probes == 1
    assert signaller.calls == [["wf-1", "wf-2", "wf-3", "wf-4"]]
    assert degraded(db) == []
    assert blocked(db) == []
    assert events(db, EVENT_OUTPUT_PATH_RECOVERED) == [str(root)]
    assert [p.name for p in root.iterdir()] == []  # the probe cleaned up

    await gate.check("wf-6")  # healthy again: no probe, nobody to wake
    assert CountingGate.probes == 1
    assert len(signaller.calls) == 1

    # a new incident is a new event
    await gate.trip(OSError(errno.EROFS, "Read-only file system"), "wf-7")
    assert len(events(db, EVENT_OUTPUT_PATH_INACCESSIBLE)) == 2


async def test_startup_probe_reports_a_broken_root(
    db, blocker, clock, signaller
) -> None:
    gate = gate_at(db, blocker / "rec", clock, signaller)
    assert not await gate.startup()
    assert [p for p, _, _ in degraded(db)] == [str(blocker / "rec")]
    assert blocked(db) == []  # nobody to wake


@pytest.mark.parametrize(
    ("error", "owned"),
    [
        pytest.param(OSError(errno.ENOSPC, "full"), True, id="enospc-no-file"),
        pytest.param(OSError(errno.EDQUOT, "quota", "/x/y"), True, id="edquot"),
        pytest.param(OSError(errno.EROFS, "ro", "/elsewhere"), True, id="erofs"),
        pytest.param(
            FileNotFoundError(errno.ENOENT, "gone", "/rec/a/b.ts"), True, id="enoent"
        ),
        pytest.param(PermissionError(errno.EACCES, "no", "/rec"), True, id="eacces"),
        pytest.param(
            FileNotFoundError(errno.ENOENT, "no ffmpeg", "/usr/bin/ffmpeg"),
            False,
            id="enoent-elsewhere",
        ),
        pytest.param(OSError(errno.ECONNRESET, "reset"), False, id="network"),
        pytest.param(ValueError("x"), False, id="not-oserror"),
    ],
)
def test_which_errors_are_the_roots_fault(
    db, clock, signaller, error: BaseException, owned: bool
) -> None:
    gate = gate_at(db, Path("/rec"), clock, signaller)
    assert gate.owns(error) is owned
