"""FastAPI dependencies: DB sessions, the current user, and the Temporal seam.

Everything the routes need from outside the process goes through a dependency here,
so tests swap it with `app.dependency_overrides`: `get_workflow_control` (start and
signal streamer workflows, probe Temporal), `get_pipeline_control` (start,
retry and cancel pipeline runs), `get_database_probe`,
`get_roots_probe`, `get_platforms` (the registry and the client that asks
platforms), `api.system.get_queue_probe` (who polls the task queues), and
for notifications `get_notify_control` (start redeliveries) and
`get_channel_tester` (send a test message). Temporal errors become HTTP
errors in `temporal_errors`. The control acts only on this instance's
workflows (the app database's instance id); another srec instance's is
refused with a 409.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Protocol, TypeVar

# imported at run time: FastAPI resolves the Annotated[sa.Engine, ...] parameters
import httpx
import sqlalchemy as sa
from fastapi import Depends, HTTPException, Request, status
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from activities.contracts import TASK_QUEUES, WORKFLOW_TASK_QUEUE
from activities.db import NotifyChannel, User, crud, crud_guards
from activities.notify import SendDeps, start_redelivery, try_send
from activities.platforms import PlatformRegistry
from api.auth import InvalidTokenError, TokenSigner
from api.schemas import ComponentHealth, DegradedRoot
from api.settings import ApiSettings
from workflows import client as wf_client
from workflows.client import ForeignWorkflowError

if TYPE_CHECKING:
    from fastapi.dependencies.models import Dependant

if TYPE_CHECKING:
    from activities.pipeline_contracts import PipelineInput

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_SECS = 5.0
RPC_TIMEOUT_SECS = 10.0
R = TypeVar("R")
_UNAVAILABLE = {
    RPCStatusCode.UNAVAILABLE,
    RPCStatusCode.DEADLINE_EXCEEDED,
    RPCStatusCode.RESOURCE_EXHAUSTED,
}


class TemporalUnavailableError(Exception):
    """Temporal could not be reached (connection refused, timeout)."""


class WorkflowControl(Protocol):
    """What the API asks of Temporal; the seam tests replace with a fake."""

    async def start(self, streamer_id: int) -> None:
        """Start the streamer's workflow unless it runs (idempotent)."""

    async def signal(self, streamer_id: int, name: str) -> bool:
        """Signal the streamer's workflow; False when it is not running."""

    async def check_owner(self, streamer_id: int) -> None:
        """Raise `ForeignWorkflowError` when another instance runs its workflow id."""

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
    cached, so the next request tries again. Starts and signals carry the app
    database's instance id and raise `ForeignWorkflowError` for a workflow of another
    instance, which is never signalled.

    Args:
        address: Temporal frontend host:port.
        namespace: Temporal namespace.
        instance_id: the instance id of the API's app database.
        connect_timeout: seconds to wait for a connection.
    """

    def __init__(
        self,
        address: str,
        namespace: str,
        instance_id: str,
        *,
        connect_timeout: float = CONNECT_TIMEOUT_SECS,
    ) -> None:
        self.address = address
        self.namespace = namespace
        self.instance_id = instance_id
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
            if err.status in _UNAVAILABLE or wf_client.namespace_missing(err):
                raise TemporalUnavailableError(
                    f"Temporal is unavailable: {err.message}"
                ) from err
            raise

    async def start(self, streamer_id: int) -> None:
        await self._call(
            lambda c: wf_client.start_streamer(
                c, streamer_id, instance_id=self.instance_id
            )
        )

    async def signal(self, streamer_id: int, name: str) -> bool:
        return await self._call(
            lambda c: wf_client.signal_streamer(
                c, streamer_id, name, instance_id=self.instance_id, reason="api"
            )
        )

    async def check_owner(self, streamer_id: int) -> None:
        owner = await self._call(lambda c: wf_client.workflow_owner(c, streamer_id))
        if owner not in (None, "", self.instance_id):
            raise ForeignWorkflowError(streamer_id, owner)

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


# --- notifications ----------------------------------------------------------------


class NotifyControl(Protocol):
    """What the notification routes ask of Temporal; tests replace it."""

    async def redeliver(self, event_id: int, delivery_id: int) -> None:
        """Start sending a dead-lettered delivery again."""


class TemporalNotifyControl:
    """`NotifyControl` through the API's Temporal connection (connects on use)."""

    def __init__(self, control: TemporalWorkflowControl) -> None:
        self.control = control

    async def redeliver(self, event_id: int, delivery_id: int) -> None:
        await self.control._call(lambda c: start_redelivery(c, event_id, delivery_id))


ChannelTester = Callable[[NotifyChannel], Awaitable[str | None]]
TEST_SEND_TIMEOUT = httpx.Timeout(10.0, read=20.0)


def get_channel_tester() -> ChannelTester:
    """Sends a sample message from the API process: None when delivered, else why."""

    async def test(channel: NotifyChannel) -> str | None:
        # a test is rare: a client of its own keeps the API free of a shared one
        async with httpx.AsyncClient(timeout=TEST_SEND_TIMEOUT) as http:
            return await try_send(channel.model_dump(), SendDeps(http=http))

    return test


@contextmanager
def temporal_errors() -> Iterator[None]:
    """Turn Temporal errors raised inside the block into HTTP errors.

    Raises:
        HTTPException: 409 workflow already started or run by another srec
            instance, 404 workflow not found, 503 Temporal unreachable.
    """
    try:
        yield
    except WorkflowAlreadyStartedError as err:
        raise HTTPException(status.HTTP_409_CONFLICT, "workflow already runs") from err
    except ForeignWorkflowError as err:
        log.warning("refused: %s", err)
        raise HTTPException(status.HTTP_409_CONFLICT, str(err)) from err
    except TemporalUnavailableError as err:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(err)) from err
    except RPCError as err:
        if wf_client.workflow_missing(err):
            raise HTTPException(
                status.HTTP_404_NOT_FOUND, "workflow not found"
            ) from err
        if err.status in _UNAVAILABLE or wf_client.namespace_missing(err):
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


def get_notify_control(request: Request) -> NotifyControl:
    control: NotifyControl = request.app.state.notify_control
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


@dataclass
class Platforms:
    """The platform registry and the API's HTTP client (`POST /api/parse`)."""

    registry: PlatformRegistry
    http: httpx.AsyncClient


def get_platforms(request: Request) -> Platforms:
    platforms: Platforms = request.app.state.platforms
    return platforms


def _query_names(dependant: Dependant) -> set[str]:
    names = {param.alias for param in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


def reject_unknown_query(request: Request) -> None:
    """Refuse query parameters the route does not take.

    FastAPI ignores them, so a typo such as `?streamer=3` for `?streamer_id=3`
    would silently list every streamer's sessions.

    Raises:
        HTTPException: 422 naming the unknown parameters and the known ones.
    """
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    known = _query_names(route.dependant)
    unknown = sorted(set(request.query_params) - known)
    if unknown:
        takes = ", ".join(sorted(known)) or "none"
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"unknown query parameter(s): {', '.join(map(repr, unknown))} "
            f"(this route takes: {takes})",
        )


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
EngineDep = Annotated[sa.Engine, Depends(get_engine)]
DbDep = Annotated[Session, Depends(get_db)]
SignerDep = Annotated[TokenSigner, Depends(get_signer)]
ControlDep = Annotated[WorkflowControl, Depends(get_workflow_control)]
DatabaseProbeDep = Annotated[DatabaseProbe, Depends(get_database_probe)]
RootsProbeDep = Annotated[RootsProbe, Depends(get_roots_probe)]
PlatformsDep = Annotated[Platforms, Depends(get_platforms)]
CurrentUser = Annotated[User, Depends(get_current_user)]
NotifyControlDep = Annotated[NotifyControl, Depends(get_notify_control)]
ChannelTesterDep = Annotated[ChannelTester, Depends(get_channel_tester)]
PipelineControlDep = Annotated[PipelineControl, Depends(get_pipeline_control)]
