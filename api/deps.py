"""FastAPI dependencies: DB sessions, the current user, and the Temporal seam.

Everything the routes need from outside the process goes through a dependency here,
so tests swap it with `app.dependency_overrides`: `get_workflow_control` (start and
signal streamer workflows, probe Temporal), `get_pipeline_control` (start,
retry and cancel pipeline runs), `get_database_probe`,
`get_roots_probe` and `get_platform_detector`. Temporal errors become HTTP errors
in `temporal_errors`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Protocol, TypeVar

# imported at run time: FastAPI resolves the Annotated[sa.Engine, ...] parameters
import sqlalchemy as sa
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from activities.contracts import TASK_QUEUES, WORKFLOW_TASK_QUEUE
from activities.db import User, crud, crud_guards
from activities.platforms import detect_platform
from api.auth import InvalidTokenError, TokenSigner
from api.schemas import ComponentHealth, DegradedRoot
from api.settings import ApiSettings
from workflows import client as wf_client

if TYPE_CHECKING:
    from activities.pipeline_contracts import PipelineInput

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_SECS = 5.0
RPC_TIMEOUT_SECS = 10.0
R = TypeVar("R")
_UNAVAILABLE = {RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED}


class TemporalUnavailableError(Exception):
    """Temporal could not be reached (connection refused, timeout)."""


class WorkflowControl(Protocol):
    """What the API asks of Temporal; the seam tests replace with a fake."""

    async def start(self, streamer_id: int) -> None:
        """Start the streamer's workflow unless it runs (idempotent)."""

    async def signal(self, streamer_id: int, name: str) -> bool:
        """Signal the streamer's workflow; False when it is not running."""

    async def health(self) -> dict[str, ComponentHealth]:
        """Report `temporal` and one `queue:<name>` component per task queue."""


class PipelineControl(Protocol):
    """What the pipeline routes ask of Temporal."""

    async def start(self, workflow_id: str, inp: PipelineInput) -> None:
        """Start a run unless it runs or ran (idempotent)."""

    async def retry(
        self, workflow_id: str, step_ids: list[str] | None, rerun: PipelineInput
    ) -> list[str]:
        """Re-run failed/cancelled steps; return those that will run.

        Raises:
            workflows.pipeline_client.NothingToDoError: nothing to retry.
        """

    async def cancel(self, workflow_id: str, step_ids: list[str] | None) -> list[str]:
        """Cancel steps of a running run; return those cancelled.

        Raises:
            workflows.pipeline_client.NothingToDoError: nothing runs.
        """


class TemporalWorkflowControl:
    """`WorkflowControl` over `workflows.client`, connecting on first use.

    The API starts and serves while Temporal is down: a failed connection is not
    cached, so the next request tries again.

    Args:
        address: Temporal frontend host:port.
        namespace: Temporal namespace.
        connect_timeout: seconds to wait for a connection.
    """

    def __init__(
        self,
        address: str,
        namespace: str,
        *,
        connect_timeout: float = CONNECT_TIMEOUT_SECS,
    ) -> None:
        self.address = address
        self.namespace = namespace
        self.connect_timeout = connect_timeout
        self._client: Client | None = None
        self._lock = asyncio.Lock()

    async def client(self) -> Client:
        """The connected client.

        Raises:
            TemporalUnavailableError: Temporal could not be reached.
        """
        async with self._lock:
            if self._client is None:
                try:
                    self._client = await asyncio.wait_for(
                        wf_client.connect(self.address, self.namespace),
                        self.connect_timeout,
                    )
                # the core reports refused connections as RuntimeError; any failure
                # to connect means "unreachable" here and is retried next request
                except Exception as err:
                    raise TemporalUnavailableError(
                        f"Temporal at {self.address} is unreachable"
                    ) from err
            return self._client

    async def _call(self, make: Callable[[Client], Awaitable[R]]) -> R:
        client = await self.client()
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

    async def start(self, streamer_id: int) -> None:
        await self._call(lambda c: wf_client.start_streamer(c, streamer_id))

    async def signal(self, streamer_id: int, name: str) -> bool:
        return await self._call(
            lambda c: wf_client.signal_streamer(c, streamer_id, name, reason="api")
        )

    async def health(self) -> dict[str, ComponentHealth]:
        try:
            await self._call(lambda c: c.service_client.check_health())
        except (TemporalUnavailableError, RPCError) as err:
            down = ComponentHealth(status="down", detail=str(err))
            unknown = ComponentHealth(status="down", detail="Temporal is unreachable")
            return {"temporal": down} | {f"queue:{q}": unknown for q in TASK_QUEUES}
        components = {"temporal": ComponentHealth(status="ok")}
        for queue in TASK_QUEUES:
            components[f"queue:{queue}"] = await self._queue_health(queue)
        return components

    async def _queue_health(self, queue: str) -> ComponentHealth:
        kind = (
            TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW
            if queue == WORKFLOW_TASK_QUEUE
            else TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY
        )
        request = DescribeTaskQueueRequest(
            namespace=self.namespace,
            task_queue=TaskQueue(name=queue),
            task_queue_type=kind,
        )
        try:
            answer = await self._call(
                lambda c: c.workflow_service.describe_task_queue(request)
            )
        except (TemporalUnavailableError, RPCError) as err:
            return ComponentHealth(status="down", detail=str(err))
        pollers = len(answer.pollers)
        if pollers == 0:
            return ComponentHealth(
                status="down", detail="no worker polls this queue", pollers=0
            )
        return ComponentHealth(status="ok", pollers=pollers)


@contextmanager
def temporal_errors() -> Iterator[None]:
    """Turn Temporal errors raised inside the block into HTTP errors.

    Raises:
        HTTPException: 409 workflow already started, 404 workflow not found,
            503 Temporal unreachable.
    """
    try:
        yield
    except WorkflowAlreadyStartedError as err:
        raise HTTPException(status.HTTP_409_CONFLICT, "workflow already runs") from err
    except TemporalUnavailableError as err:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(err)) from err
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            raise HTTPException(
                status.HTTP_404_NOT_FOUND, "workflow not found"
            ) from err
        if err.status in _UNAVAILABLE:
            raise HTTPException(
                status.HTTP_503_SERVICE_UNAVAILABLE, "Temporal is unavailable"
            ) from err
        raise


# --- dependencies -----------------------------------------------------------------


def get_settings(request: Request) -> ApiSettings:
    settings: ApiSettings = request.app.state.settings
    return settings


def get_engine(request: Request) -> sa.Engine:
    engine: sa.Engine = request.app.state.engine
    return engine


def get_db(engine: Annotated[sa.Engine, Depends(get_engine)]) -> Iterator[Session]:
    with Session(engine) as db:
        yield db


def get_signer(request: Request) -> TokenSigner:
    signer: TokenSigner = request.app.state.signer
    return signer


def get_workflow_control(request: Request) -> WorkflowControl:
    control: WorkflowControl = request.app.state.workflow_control
    return control


DatabaseProbe = Callable[[], Awaitable[ComponentHealth]]


def get_database_probe(
    engine: Annotated[sa.Engine, Depends(get_engine)],
) -> DatabaseProbe:
    async def probe() -> ComponentHealth:
        def ping() -> None:
            with Session(engine) as db:
                crud.ping(db)

        try:
            await asyncio.to_thread(ping)
        except Exception as err:  # any driver error means "down", and is reported
            log.warning("database health check failed: %s", type(err).__name__)
            return ComponentHealth(status="down", detail=type(err).__name__)
        return ComponentHealth(status="ok")

    return probe


RootsProbe = Callable[[], Awaitable[list[DegradedRoot]]]


def get_roots_probe(
    engine: Annotated[sa.Engine, Depends(get_engine)],
) -> RootsProbe:
    """List the output roots the write gate holds degraded (shared via the DB)."""

    async def probe() -> list[DegradedRoot]:
        def read() -> list[DegradedRoot]:
            with Session(engine) as db:
                return [
                    DegradedRoot(
                        path=root.path,
                        since=root.since,
                        error=root.error,
                        rejected=root.rejected,
                    )
                    for root in crud_guards.list_degraded_roots(db)
                ]

        try:
            return await asyncio.to_thread(read)
        except Exception as err:  # the database component reports the outage
            log.warning("could not read output roots: %s", type(err).__name__)
            return []

    return probe


PlatformDetector = Callable[[str], str]


def get_platform_detector() -> PlatformDetector:
    return detect_platform


_bearer = HTTPBearer(auto_error=False)


def unauthorized(detail: str) -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED,
        detail,
        headers={"WWW-Authenticate": "Bearer"},
    )


def get_current_user(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    signer: Annotated[TokenSigner, Depends(get_signer)],
    db: Annotated[Session, Depends(get_db)],
) -> User:
    """The user of the request's bearer access token.

    Raises:
        HTTPException: 401 without a valid access token of an existing user.
    """
    if credentials is None:
        raise unauthorized("not authenticated")
    try:
        claims = signer.verify(credentials.credentials, "access")
    except InvalidTokenError as err:
        raise unauthorized(str(err)) from err
    user = crud.get_user(db, claims.user_id)
    if user is None:
        raise unauthorized("unknown user")
    return user


def get_pipeline_control(request: Request) -> PipelineControl:
    control: PipelineControl = request.app.state.pipeline_control
    return control


SettingsDep = Annotated[ApiSettings, Depends(get_settings)]
DbDep = Annotated[Session, Depends(get_db)]
SignerDep = Annotated[TokenSigner, Depends(get_signer)]
ControlDep = Annotated[WorkflowControl, Depends(get_workflow_control)]
DatabaseProbeDep = Annotated[DatabaseProbe, Depends(get_database_probe)]
RootsProbeDep = Annotated[RootsProbe, Depends(get_roots_probe)]
DetectorDep = Annotated[PlatformDetector, Depends(get_platform_detector)]
CurrentUser = Annotated[User, Depends(get_current_user)]
PipelineControlDep = Annotated[PipelineControl, Depends(get_pipeline_control)]
