"""Fixtures every end-to-end module shares: a fresh Temporal dev server and srec stack.

Both are per test: workflow ids restart at streamer-1 with each test's app database,
so a server shared between tests would find the previous test's workflows there.
A module that needs other settings overrides `stack_settings`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.e2e.stack import FAST_SETTINGS, Stack
from tests.temporal import start_dev_server

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator
    from pathlib import Path


@pytest.fixture
async def dev_server() -> AsyncIterator[str]:
    """A fresh Temporal dev server (its address)."""
    async with await start_dev_server() as env:
        yield env.client.service_client.config.target_host


@pytest.fixture
def stack_settings() -> dict[str, str]:
    """The stack's environment: `FAST_SETTINGS` unless a module overrides it."""
    return dict(FAST_SETTINGS)


@pytest.fixture
def stack(
    tmp_path: Path, dev_server: str, stack_settings: dict[str, str]
) -> Iterator[Stack]:
    """srec's worker and API on `dev_server`, started by each test (`stack.start`)."""
    data = tmp_path / "data"
    data.mkdir()
    running = Stack(data, dev_server, settings=stack_settings)
    yield running
    running.stop()
