"""The worker's detection wiring (issue 10), kept apart from `worker.main`.

* `polling(...)` builds the poll activities on the poller's own HTTP path
  (aiohttp: `activities.poll.http`), falling back to the shared httpx client when
  aiohttp cannot reach the network the way it does (a SOCKS proxy);
* `WORKFLOWS` is what the workflow worker registers;
* `start_pollers` starts the instance's shard pollers (idempotent), after
  reconcile, when `poll_shards` > 0.
"""

from __future__ import annotations

import contextlib
import logging
from typing import TYPE_CHECKING

from activities.poll import PollActivities, fetcher, poll_http
from worker.http_client import HTTP_LIMITS, HTTP_TIMEOUT, USER_AGENT
from workflows.poller import PollerWorkflow
from workflows.poller_client import Pollers, ensure_pollers

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    import httpx
    import sqlalchemy as sa
    from temporalio.client import Client

    from activities.engines.network import NetworkAccess
    from activities.platforms import PlatformRegistry
    from worker.settings import WorkerSettings

log = logging.getLogger("srec.worker")

WORKFLOWS = [PollerWorkflow]


@contextlib.asynccontextmanager
async def polling(
    settings: WorkerSettings,
    db: sa.Engine,
    registry: PlatformRegistry,
    http: httpx.AsyncClient,
    network: NetworkAccess,
    instance_id: str,
) -> AsyncIterator[PollActivities]:
    """The poll activities of this worker; their HTTP closes on exit."""
    built = poll_http(
        ssl_context=network.ssl_context,
        proxy=network.proxy,
        host_map=settings.host_routes,
        headers={"User-Agent": USER_AGENT},
        timeout=HTTP_TIMEOUT,
        max_connections=HTTP_LIMITS.max_connections or 100,
    )
    if built is None:
        log.info("polling through httpx: aiohttp cannot use proxy %s", network.proxy)
        yield PollActivities(db, registry, http, instance_id=instance_id)
        return
    getter, client = built
    try:
        yield PollActivities(
            db,
            registry,
            client,
            instance_id=instance_id,
            fetch=fetcher(getter),
        )
    finally:
        await client.aclose()
        await getter.aclose()


async def start_pollers(
    client: Client, settings: WorkerSettings, instance_id: str
) -> Pollers | None:
    """Start the instance's shard pollers unless `poll_shards` is 0."""
    if settings.poll_shards == 0:
        log.info("detection polling is off (SREC_POLL_SHARDS=0)")
        return None
    return await ensure_pollers(
        client,
        instance_id,
        settings.poll_shards,
        heartbeat_timeout_secs=settings.poll_heartbeat_timeout_secs,
    )
