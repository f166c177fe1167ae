"""Programs in process groups of their own; the SIGINT → SIGTERM → SIGKILL ladder."""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from pathlib import Path

import pytest

from activities.errors import RecorderProcessError
from activities.process import ProcessGroup, StopTimeouts

QUICK = StopTimeouts(interrupt_secs=0.3, terminate_secs=0.3, kill_secs=2.0)

# A child that ignores the signals named in argv[1:], starts a grandchild that
# inherits that (SIG_IGN survives exec), prints the grandchild's pid and waits.
STUBBORN = """
import signal, subprocess, sys, time
for name in sys.argv[1:]:
    signal.signal(getattr(signal, name), signal.SIG_IGN)
grandchild = subprocess.Popen(["sleep", "60"])
print(grandchild.pid, flush=True)
time.sleep(60)
"""


def alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie waiting for init to reap it does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rpartition(")")[2].split()[0] not in {"Z", "X"}


async def wait_dead(pid: int, limit_secs: float = 3.0) -> None:
    async with asyncio.timeout(limit_secs):
        while alive(pid):  # noqa: ASYNC110 (/proc has no event to wait on)
            await asyncio.sleep(0.02)


async def spawn_stubborn(group: ProcessGroup, *ignored: str) -> int:
    """Start STUBBORN; return its grandchild's pid."""
    child = await group.spawn("stubborn", [sys.executable, "-c", STUBBORN, *ignored])
    return int(await asyncio.wait_for(child.stdout.readline(), 10))


async def test_stderr_tail_and_exit_status() -> None:
    async with ProcessGroup(QUICK) as group:
        child = await group.spawn(
            "talker", ["sh", "-c", "echo out; echo one >&2; echo two >&2; exit 3"]
        )
        assert await child.stdout.read() == b"out\n"
        assert await child.wait() == 3
    assert list(child.tail) == ["one", "two"]
    assert child.describe() == "talker exited with status 3: one | two"


async def test_each_program_leads_its_own_process_group() -> None:
    import os

    async with ProcessGroup(QUICK) as group:
        child = await group.spawn("sleeper", ["sleep", "30"])
        assert os.getpgid(child.pid) == child.pid != os.getpgrp()
        assert os.getsid(child.pid) == child.pid
    assert child.returncode is not None


async def test_sigint_is_enough_for_a_program_that_heeds_it() -> None:
    async with ProcessGroup(QUICK) as group:
        child = await group.spawn("sleeper", ["sleep", "30"])
        started = time.monotonic()
        await group.stop()
    assert child.returncode == -2  # SIGINT
    assert time.monotonic() - started < 0.3


async def test_sigterm_follows_an_ignored_sigint() -> None:
    async with ProcessGroup(QUICK) as group:
        grandchild = await spawn_stubborn(group, "SIGINT")
        started = time.monotonic()
        await group.stop()
        elapsed = time.monotonic() - started
    assert group.children[0].returncode == -15
    assert 0.3 <= elapsed < 1.0
    await wait_dead(grandchild)


async def test_sigkill_ends_a_group_that_ignores_sigint_and_sigterm() -> None:
    async with ProcessGroup(QUICK) as group:
        grandchild = await spawn_stubborn(group, "SIGINT", "SIGTERM")
        started = time.monotonic()
        await group.stop()
        elapsed = time.monotonic() - started
    assert group.children[0].returncode == -9
    assert 0.6 <= elapsed < 1.5
    await wait_dead(grandchild)


async def test_what_a_program_leaves_behind_is_killed() -> None:
    async with ProcessGroup(QUICK) as group:
        child = await group.spawn(
            "forker", ["sh", "-c", "trap '' INT TERM; sleep 60 & echo $!"]
        )
        orphan = int(await child.stdout.readline())
        assert await child.exited() == 0  # while the orphan holds its stderr
        assert alive(orphan)
    await wait_dead(orphan)


async def test_leaving_the_block_on_an_error_stops_the_programs() -> None:
    group = ProcessGroup(QUICK)

    async def fail_while_running() -> None:
        async with group:
            await group.spawn("sleeper", ["sleep", "30"])
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await fail_while_running()
    assert group.children[0].returncode == -2


async def test_a_missing_program_is_a_recorder_process_error(tmp_path) -> None:
    async with ProcessGroup(QUICK) as group:
        with pytest.raises(RecorderProcessError, match="cannot start ghost"):
            await group.spawn("ghost", [str(tmp_path / "no-such-program")])


# A worker that starts a program through ProcessGroup, prints its pid and waits.
WORKER = """
import asyncio, sys
from activities.process import ProcessGroup, StopTimeouts

async def main():
    child = await ProcessGroup(StopTimeouts()).spawn("sleep", ["sleep", "60"])
    print(child.pid, flush=True)
    await asyncio.sleep(60)

asyncio.run(main())
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG")
async def test_programs_die_with_a_killed_worker() -> None:
    """kill -9 of the worker walks no ladder: the kernel ends its programs."""
    worker = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        WORKER,
        stdout=asyncio.subprocess.PIPE,
        cwd=Path(__file__).parents[3],
    )
    assert worker.stdout is not None
    pid = int(await asyncio.wait_for(worker.stdout.readline(), 30))
    assert alive(pid)
    worker.kill()
    await worker.wait()
    await wait_dead(pid)


async def test_sigint_reaches_a_program_when_srec_itself_ignores_it() -> None:
    # a worker started in a shell's background (`srec worker &`) inherits SIGINT
    # ignored: the programs it starts must hear SIGINT all the same
    before = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        async with ProcessGroup(QUICK) as group:
            child = await group.spawn("sleeper", ["sleep", "30"])
            await group.stop()
    finally:
        signal.signal(signal.SIGINT, before)
    assert child.returncode == -2  # SIGINT
