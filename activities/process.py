"""External programs of the recording engines (ffmpeg, streamlink), run so they stop.

Every program an engine starts runs in a session and process group of its own
(`start_new_session=True`): a stop reaches it and whatever it started, and a Ctrl-C
on the worker's terminal reaches none of it by accident (the worker decides how its
recordings end). The programs of one pipeline (streamlink | ffmpeg) form a
`ProcessGroup` and are stopped together. Each program's stderr is read by a task into
a short tail kept for error messages; stdout is the caller's (ffmpeg's progress, or
the next program's stdin). Nothing here blocks the event loop.

Stopping walks a ladder; each rung goes to every program's group and is given time:

    SIGINT   ffmpeg finishes the file it writes (trailer, index) and exits;
             streamlink closes the stream and exits
    SIGTERM  after `interrupt_secs`: for a program that ignores or sits out SIGINT
    SIGKILL  after `terminate_secs`: nothing survives it

The ladder runs on cancel and on every error path (`async with ProcessGroup(...)`).
What a program left behind in its group when it exited (a grandchild) is killed at
the end. A worker that dies without walking it (kill -9, the OOM killer) takes its
programs with it on Linux: each is started with the parent-death signal set to
SIGKILL. Left alone, an ffmpeg whose worker died keeps its connection and its file
open, and can go on writing into the file a retry is cutting back.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import functools
import logging
import os
import signal
import sys
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Self

from activities.engines.base import finish_uncancelled
from activities.errors import RecorderProcessError

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from types import TracebackType

log = logging.getLogger(__name__)

STDERR_TAIL_LINES = 20
# bounds the wait for a stderr reader after its program exited: a grandchild that
# inherited the pipe would otherwise hold it open
STDERR_DRAIN_SECS = 2.0
# asyncio's Process.wait() returns only once the program's pipes are closed too, which
# a grandchild holding them can put off for ever; exits are seen by polling
# `returncode`, which asyncio sets the moment it reaps the program.
EXIT_POLL_SECS = 0.02

FileArg = int | None
_PR_SET_PDEATHSIG = 1


@functools.cache
def _prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl: Callable[..., int] = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    return prctl


def _child_setup() -> Callable[[], None]:
    """A `preexec_fn`: the child hears SIGINT, and dies with this process (Linux).

    A process started in the background of a shell (`srec worker &`) inherits
    SIGINT ignored, and an ignored signal stays ignored across exec: SIGINT, the
    stop ladder's first rung (ffmpeg's clean stop), would never reach the programs
    it starts. The child gets the default back. On Linux the kernel also SIGKILLs
    the child when this process dies; that follows the thread that forks, which is
    the event loop's: the loop outlives every program it starts.
    """
    prctl = _prctl()
    parent = os.getpid()

    def preexec() -> None:
        with contextlib.suppress(ValueError):  # not the main thread: leave it
            signal.signal(signal.SIGINT, signal.SIG_DFL)
        if prctl is None:
            return
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:  # the parent died before the setting took hold
            os.kill(os.getpid(), signal.SIGKILL)

    return preexec


@dataclass(frozen=True)
class StopTimeouts:
    """How long each rung of the stop ladder waits before the next.

    Attributes:
        interrupt_secs: after SIGINT, before SIGTERM (ffmpeg writes its trailer).
        terminate_secs: after SIGTERM, before SIGKILL.
        kill_secs: after SIGKILL, before giving up (the kernel is quick).
    """

    interrupt_secs: float = 10.0
    terminate_secs: float = 5.0
    kill_secs: float = 5.0


class Child:
    """One running program of a `ProcessGroup`.

    Args:
        name: short name for logs and messages (`ffmpeg`, `streamlink`).
        proc: the started process, its stderr a pipe.
    """

    def __init__(
        self,
        name: str,
        proc: asyncio.subprocess.Process,
        on_stderr: Callable[[str], None] | None = None,
    ) -> None:
        self.name = name
        self.proc = proc
        self.tail: deque[str] = deque(maxlen=STDERR_TAIL_LINES)
        self._on_stderr = on_stderr
        self._stderr = asyncio.create_task(self._read_stderr())

    @property
    def pid(self) -> int:
        """The process id."""
        return self.proc.pid

    @property
    def returncode(self) -> int | None:
        """The exit status once the program has exited (negative: killed by signal)."""
        return self.proc.returncode

    @property
    def stdout(self) -> asyncio.StreamReader:
        """The program's stdout, when it was started with `stdout=PIPE`."""
        assert self.proc.stdout is not None, f"{self.name} has no stdout pipe"
        return self.proc.stdout

    async def exited(self) -> int:
        """Wait for the program to exit; return its status."""
        while self.proc.returncode is None:  # noqa: ASYNC110 (see EXIT_POLL_SECS)
            await asyncio.sleep(EXIT_POLL_SECS)
        return self.proc.returncode

    async def wait(self) -> int:
        """Wait for the program to exit and its stderr to be read; return its status.

        The stderr wait is bounded: something the program left behind may hold it.
        """
        code = await self.exited()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._stderr), STDERR_DRAIN_SECS)
        return code

    def describe(self) -> str:
        """`name exited with status N: <last stderr lines>`, for error messages."""
        said = " | ".join(self.tail) or "nothing on stderr"
        return f"{self.name} exited with status {self.returncode}: {said}"

    def close(self) -> None:
        """Stop reading stderr (once the program has exited)."""
        self._stderr.cancel()

    async def _read_stderr(self) -> None:
        stream = self.proc.stderr
        assert stream is not None
        while True:
            try:
                raw = await stream.readline()
            except ValueError:  # a line over the reader's limit: keep its head
                raw = await stream.read(4096)
            if not raw:
                return
            line = raw.decode(errors="replace").rstrip()
            if line and self._on_stderr is not None:
                # a program that logs progress on stderr (rclone) is read here
                self._on_stderr(line)
            if line:
                self.tail.append(line)
                log.debug("%s[%d]: %s", self.name, self.pid, line)


class ProcessGroup:
    """The programs of one pipeline, each in its own process group, stopped together.

    Use it as an async context manager: leaving the block, by any path, stops what
    is still running with the ladder.

    Args:
        timeouts: the stop ladder's waits.
    """

    def __init__(self, timeouts: StopTimeouts) -> None:
        self.timeouts = timeouts
        self.children: list[Child] = []

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await finish_uncancelled(self.close())

    async def spawn(
        self,
        name: str,
        argv: Sequence[str],
        *,
        stdin: FileArg = asyncio.subprocess.DEVNULL,
        stdout: FileArg = asyncio.subprocess.PIPE,
        pass_fds: Sequence[int] = (),
        on_stderr: Callable[[str], None] | None = None,
    ) -> Child:
        """Start a program in a new session and process group of its own.

        Args:
            name: short name for logs and messages.
            argv: the program and its arguments.
            stdin: a file descriptor, `DEVNULL` or `PIPE`.
            stdout: a file descriptor, `DEVNULL` or `PIPE`.
            pass_fds: extra descriptors the program inherits.
            on_stderr: called with each stderr line as it is read.

        Returns:
            The running program, its stderr being read into `Child.tail`.

        Raises:
            RecorderProcessError: the program could not be started.
        """
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                stdin=stdin,
                stdout=stdout,
                stderr=asyncio.subprocess.PIPE,
                pass_fds=tuple(pass_fds),
                start_new_session=True,
                preexec_fn=_child_setup(),
            )
        except (OSError, ValueError) as err:
            raise RecorderProcessError(
                f"cannot start {name} ({argv[0]}): {err}"
            ) from err
        child = Child(name, proc, on_stderr)
        self.children.append(child)
        log.debug("started %s[%d]: %s", name, proc.pid, " ".join(argv))
        return child

    @property
    def running(self) -> bool:
        """Whether any program of the group has not exited yet."""
        return any(child.returncode is None for child in self.children)

    async def stop(self) -> None:
        """Walk the ladder until every program has exited, then sweep the group."""
        rungs = (
            (signal.SIGINT, self.timeouts.interrupt_secs),
            (signal.SIGTERM, self.timeouts.terminate_secs),
            (signal.SIGKILL, self.timeouts.kill_secs),
        )
        previous: tuple[signal.Signals, float] | None = None
        for signum, wait_secs in rungs:
            if not self.running:
                break
            if previous is not None:
                log.warning(
                    "%s still running %.1f s after %s: sending %s",
                    self._names(),
                    previous[1],
                    previous[0].name,
                    signum.name,
                )
            self._signal(signum)
            await self._wait(wait_secs)
            previous = (signum, wait_secs)
        if self.running:
            log.error("%s survived SIGKILL", self._names())
        self._sweep()

    async def close(self) -> None:
        """Stop whatever still runs, then release the stderr readers."""
        await self.stop()
        for child in self.children:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(child.wait(), STDERR_DRAIN_SECS)
            child.close()

    def _signal(self, signum: signal.Signals) -> None:
        # to exited programs' groups too: what they left behind gets the same chance
        for child in self.children:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(child.pid, signum)

    async def _wait(self, timeout_secs: float) -> None:
        waits = [
            asyncio.ensure_future(child.exited())
            for child in self.children
            if child.returncode is None
        ]
        if not waits:
            return
        _, pending = await asyncio.wait(waits, timeout=timeout_secs)
        for waiter in pending:
            waiter.cancel()

    def _sweep(self) -> None:
        # Every program we started has exited and was reaped, so a group lives on
        # only through something its program left behind. A group id could name a
        # stranger's group only if all of ours had gone and the pid counter wrapped
        # round to it in the instant since the reap: a risk taken so that no
        # orphaned grandchild goes on recording alone.
        for child in self.children:
            try:
                os.killpg(child.pid, 0)
            except (ProcessLookupError, PermissionError):
                continue
            log.warning("killing what %s left behind in its group", child.name)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(child.pid, signal.SIGKILL)

    def _names(self) -> str:
        return "+".join(f"{c.name}[{c.pid}]" for c in self.children) or "nothing"
