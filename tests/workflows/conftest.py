"""Workflow tests: a Temporal server of their own per test.

The time-skipping server skips time only while no activity runs, and an activity
running when its workflow is terminated (a recording at the end of a test) leaves
that lock held even once the activity has ended (seen with temporal-test-server:
a terminated workflow's heartbeating activity cancelled within 0.1 s, a following
`env.sleep(60)` still waiting after 15 s). On a server shared by a module, every
later test then waits in real time in `env.sleep` until its RPC times out; under
`pytest -n 2`, which test ran before which on a process was luck. A fresh server
costs a fraction of a second and makes each test start from nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.temporal import start_dev_server, start_time_skipping_server

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from temporalio.testing import WorkflowEnvironment


@pytest.fixture
async def env(request: pytest.FixtureRequest) -> AsyncIterator[WorkflowEnvironment]:
    """A Temporal server for this test alone, with srec's search attributes."""
    kind = request.config.getoption("--workflow-environment")
    environment = await (
        start_dev_server() if kind == "local" else start_time_skipping_server()
    )
    async with environment:
        yield environment
