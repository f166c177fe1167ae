"""Shared fixtures: the Temporal test environment, the ffmpeg binary, app databases."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

import workflows
from activities.tools import ffmpeg_executable

# the app database fixtures (SQLite and Postgres): see tests/databases.py
from tests.databases import (  # noqa: F401
    db_url,
    empty_db_url,
    postgres_server,
    sqlite_head,
)

# a hung async test prints its pending tasks before pytest-timeout ends it
from tests.hangs import pytest_runtest_call  # noqa: F401
from tests.temporal import start_dev_server, start_time_skipping_server
from worker import bytecode

# No deadlock detector in the tests' workers (in-process, and the srec workers the
# end-to-end tests start, which inherit the environment). It fails a workflow task
# whose activation took over 2 s, which a starved 2-core CI machine causes now and
# then; the dropped workflow's eviction can then never finish, and neither can its
# worker's shutdown (CI hung twice in tests/workflows/test_poller.py). Replay
# tests still prove determinism; a workflow that really blocks hangs its test,
# which tests/hangs.py then reports.
os.environ.setdefault("TEMPORAL_DEBUG", "1")

# The sandboxed workflows of the tests re-import `workflows/` for every instance, as
# a worker does: compiled once here, not from source each time where Python is
# told not to write bytecode (worker/bytecode.py).
bytecode.warm(
    Path(workflows.__file__).parent, Path(tempfile.gettempdir()) / "srec-pycache"
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from temporalio.testing import WorkflowEnvironment


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--workflow-environment",
        default="time-skipping",
        choices=["time-skipping", "local"],
        help="Temporal server for workflow tests",
    )


# Module scope: a fresh server per test module. A session-wide time-skipping server
# left idle through minutes of end-to-end tests answered its next sleep with an
# HTTP/2 error. The workflow tests take one per test (tests/workflows/conftest.py).
@pytest.fixture(scope="module")
async def env(request: pytest.FixtureRequest) -> AsyncIterator[WorkflowEnvironment]:
    """A Temporal server for workflow tests, with srec's search attributes."""
    kind = request.config.getoption("--workflow-environment")
    environment = await (
        start_dev_server() if kind == "local" else start_time_skipping_server()
    )
    async with environment:
        yield environment


@pytest.fixture(scope="session")
def ffmpeg() -> Path:
    """The ffmpeg binary (PATH, else imageio-ffmpeg's)."""
    exe = ffmpeg_executable()
    assert exe, "no ffmpeg: install imageio-ffmpeg"
    return exe
