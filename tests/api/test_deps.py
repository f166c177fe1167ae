from __future__ import annotations

import pytest
from fastapi import HTTPException
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from api.deps import TemporalUnavailableError, TemporalWorkflowControl, temporal_errors
from workflows.client import ForeignWorkflowError

# nothing listens on port 1 of loopback: connecting is refused at once
UNREACHABLE = "127.0.0.1:1"


@pytest.mark.parametrize(
    ("error", "code"),
    [
        pytest.param(
            WorkflowAlreadyStartedError("streamer-1", "StreamerWorkflow"),
            409,
            id="already-started",
        ),
        pytest.param(
            RPCError("gone", RPCStatusCode.NOT_FOUND, b""), 404, id="not-found"
        ),
        pytest.param(
            RPCError("down", RPCStatusCode.UNAVAILABLE, b""), 503, id="unavailable"
        ),
        pytest.param(
            RPCError("busy", RPCStatusCode.RESOURCE_EXHAUSTED, b""), 503, id="busy"
        ),
        pytest.param(
            # a dev server's namespace cache behind under load: not a missing workflow
            RPCError("Namespace default is not found.", RPCStatusCode.NOT_FOUND, b""),
            503,
            id="namespace-not-found",
        ),
        pytest.param(TemporalUnavailableError("no"), 503, id="unreachable"),
        pytest.param(ForeignWorkflowError(1, "other-instance"), 409, id="foreign"),
    ],
)
def test_temporal_errors_map_to_http(error: Exception, code: int) -> None:
    with pytest.raises(HTTPException) as caught, temporal_errors():
        raise error
    assert caught.value.status_code == code


def test_other_rpc_errors_pass_through() -> None:
    with pytest.raises(RPCError), temporal_errors():
        raise RPCError("bad", RPCStatusCode.INVALID_ARGUMENT, b"")


async def test_unreachable_temporal_raises_and_reports_down() -> None:
    control = TemporalWorkflowControl(
        UNREACHABLE, "default", "an-instance", connect_timeout=2
    )
    with pytest.raises(TemporalUnavailableError, match="unreachable"):
        await control.start(1)
    with pytest.raises(TemporalUnavailableError):
        await control.signal(1, "pause")
    components = await control.health()
    assert components.keys() == {
        "temporal",
        "queue:srec-workflows",
        "queue:srec-io",
        "queue:srec-cpu",
    }
    assert all(c.status == "down" for c in components.values())


class RefusingClient:
    """A connected client whose every call fails as `error`."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    async def start_workflow(self, *args: object, **kwargs: object) -> None:
        raise self.error


async def test_a_start_that_temporal_cannot_take_is_unavailable_not_a_crash() -> None:
    # 10,000 streamers created through the API on the dev server: the namespace
    # cache fell behind and the start of one answered NOT_FOUND for the namespace
    control = TemporalWorkflowControl("fake:7233", "default", "an-instance")
    refused = RPCError("Namespace default is not found.", RPCStatusCode.NOT_FOUND, b"")
    control._client = RefusingClient(refused)  # type: ignore[assignment]
    with pytest.raises(TemporalUnavailableError, match="Namespace default"):
        await control.start(1)
