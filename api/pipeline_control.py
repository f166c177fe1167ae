"""`TemporalPipelineControl`: the pipeline seam of `api.deps` over Temporal.

It implements `api.deps.PipelineControl` (start, retry and cancel pipeline runs)
with `workflows.pipeline_client`, over the connection `TemporalWorkflowControl` keeps.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, TypeVar

from temporalio.service import RPCError, RPCStatusCode

from api.deps import RPC_TIMEOUT_SECS, TemporalUnavailableError
from workflows import pipeline_client

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from temporalio.client import Client

    from activities.pipeline_contracts import PipelineInput
    from api.deps import TemporalWorkflowControl

R = TypeVar("R")
_UNAVAILABLE = {RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED}


class TemporalPipelineControl:
    """`PipelineControl` over Temporal, sharing the API's lazy connection.

    Args:
        connection: the streamer control, whose client connects on first use.
    """

    def __init__(self, connection: TemporalWorkflowControl) -> None:
        self.connection = connection

    async def _call(self, make: Callable[[Client], Awaitable[R]]) -> R:
        client = await self.connection.client()
        try:
            return await asyncio.wait_for(make(client), RPC_TIMEOUT_SECS)
        except TimeoutError as err:
            raise TemporalUnavailableError("Temporal did not answer in time") from err
        except RPCError as err:
            if err.status in _UNAVAILABLE:
                raise TemporalUnavailableError(
                    f"Temporal is unavailable: {err.message}"
                ) from err
            raise

    async def start(self, workflow_id: str, inp: PipelineInput) -> None:
        await self._call(lambda c: pipeline_client.start_pipeline(c, workflow_id, inp))

    async def retry(
        self, workflow_id: str, step_ids: list[str] | None, rerun: PipelineInput
    ) -> list[str]:
        return await self._call(
            lambda c: pipeline_client.retry_pipeline(c, workflow_id, step_ids, rerun)
        )

    async def cancel(self, workflow_id: str, step_ids: list[str] | None) -> list[str]:
        return await self._call(
            lambda c: pipeline_client.cancel_pipeline(c, workflow_id, step_ids)
        )
