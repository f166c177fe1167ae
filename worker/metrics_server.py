"""A worker's `/metrics` (`srec worker --metrics-port`): Temporal's series and srec's.

The Temporal SDK exports its own series (task slots, poll and schedule-to-start
latencies, RPC failures, …) from its Rust core, through a Prometheus endpoint of
its runtime telemetry that Python cannot add series to. So the SDK's endpoint
listens on a private loopback port, and the port Prometheus scrapes is ours: each
scrape reads the SDK's text and appends srec's own series (`activities.metrics`:
the recordings, live checks and chat this worker ran). The two sets cannot clash:
the SDK's names start with `temporal_`, ours with `srec_`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from typing import TYPE_CHECKING

import aiohttp
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

from activities.metrics import REGISTRY

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

log = logging.getLogger(__name__)

# the SDK's endpoint answers from memory on loopback: a slow answer is a stuck core
SDK_SCRAPE_TIMEOUT = aiohttp.ClientTimeout(total=5)


def free_loopback_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now.

    The SDK binds its endpoint itself and cannot say which port it got from 0, so
    one is picked here; another process taking it in between makes the runtime
    fail to start, loudly.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def sdk_runtime(sdk_port: int) -> Runtime:
    """A Temporal runtime whose metrics are served on 127.0.0.1:`sdk_port`."""
    return Runtime(
        telemetry=TelemetryConfig(
            metrics=PrometheusConfig(
                bind_address=f"127.0.0.1:{sdk_port}",
                # Prometheus's conventions: seconds, and counters ending in _total
                durations_as_seconds=True,
                counters_total_suffix=True,
            )
        )
    )


async def exposition(session: aiohttp.ClientSession, sdk_port: int | None) -> bytes:
    """The SDK's series (when it answers) followed by srec's."""
    ours = await asyncio.to_thread(generate_latest, REGISTRY)
    if sdk_port is None:
        return ours
    try:
        async with session.get(f"http://127.0.0.1:{sdk_port}/metrics") as answer:
            answer.raise_for_status()
            sdk = await answer.read()
    except (aiohttp.ClientError, TimeoutError) as err:
        # srec's own series still tell what the worker records
        log.warning("metrics: the Temporal SDK's endpoint did not answer: %s", err)
        return ours
    if sdk and not sdk.endswith(b"\n"):
        sdk += b"\n"
    return sdk + ours


@contextlib.asynccontextmanager
async def serve(host: str, port: int, sdk_port: int | None) -> AsyncIterator[int]:
    """Serve `GET /metrics` on host:port while the block runs.

    Args:
        host: the interface (0.0.0.0 in a container, so Prometheus reaches it).
        port: the port; 0 picks a free one (tests).
        sdk_port: where the SDK's endpoint listens (None: srec's series only).

    Yields:
        The port it listens on.

    Raises:
        OSError: the port is taken (the worker then fails at start, with why).
    """
    async with aiohttp.ClientSession(timeout=SDK_SCRAPE_TIMEOUT) as session:

        async def handle(_request: web.Request) -> web.Response:
            body = await exposition(session, sdk_port)
            return web.Response(
                body=body, headers={"Content-Type": CONTENT_TYPE_LATEST}
            )

        app = web.Application()
        app.router.add_get("/metrics", handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        try:
            site = web.TCPSite(runner, host, port)
            await site.start()
            server = site._server
            sockets = getattr(server, "sockets", None) or []
            bound = sockets[0].getsockname()[1] if sockets else port
            log.info("metrics on http://%s:%d/metrics", host, bound)
            yield int(bound)
        finally:
            await runner.cleanup()
