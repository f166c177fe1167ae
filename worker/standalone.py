"""Record one stream without Temporal: the engine of `srec record`.

The URL is resolved like a streamer's (platform registry → extractor → live status
→ stream source) and recorded by the engines the worker uses
(`activities.engines.table`), named like the worker names files
(`activities.naming`), with small segments dropped by the same filter. Progress
goes to the console (`worker.console`), logs to stderr.

SIGINT or SIGTERM cancels the engine, which finalises its current file; `record`
then shows a summary and returns 0, as it does when the stream ends or when
`duration_secs` of recording have passed. A second signal exits at once, without
finalising.

A signed stream URL that expires is refreshed as the worker refreshes it: the
channel is resolved again (same quality, CDN, transport) and the command line's
headers and proxy are put on the fresh URL (`activities.engines.refresh`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from activities.contracts import StreamSelection
from activities.engines.base import DropSmallSegments, RecordingStats, plan_for
from activities.engines.network import network_access
from activities.engines.refresh import refreshable
from activities.engines.table import build_engines
from activities.errors import RecorderError, UnsupportedUrlError
from activities.naming import NameFields
from activities.platforms import default_registry
from worker.console import ConsoleSink
from worker.http_client import HttpSettings, build_http

if TYPE_CHECKING:
    from collections.abc import Awaitable
    from pathlib import Path

    import httpx

    from activities.contracts import RecordingPolicy, StreamSource
    from activities.engines.base import Engine, EngineTable
    from activities.engines.refresh import Refresh
    from worker.console import Console

log = logging.getLogger("srec.record")

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
# the usual exit status of a process ended by a signal it could not handle
EXIT_FORCED = 130
T = TypeVar("T")


@dataclass
class RecordOptions:
    """The validated options of one `srec record`."""

    url: str
    out: Path
    policy: RecordingPolicy
    name: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    proxy: str | None = None
    duration_secs: float | None = None
    json: bool = False
    progress_secs: float = 10.0


async def record(options: RecordOptions, console: Console) -> int:
    """Resolve the URL, record it until it ends or a signal arrives.

    Args:
        options: validated options.
        console: where the progress goes.

    Returns:
        The exit code.
    """
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    signals = 0

    def on_signal() -> None:
        # counted apart from `stop`: a Ctrl-C while --duration's stop finalises
        # is the first signal, not the second
        nonlocal signals
        signals += 1
        if signals > 1:
            log.warning("second signal: exiting without finalising")
            os._exit(EXIT_FORCED)
        log.info("stopping: finalising the current file")
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)

    policy = options.policy
    network = network_access(proxy=options.proxy)
    host_map = HttpSettings().host_routes
    async with build_http(network, headers=options.headers, host_map=host_map) as http:
        # mapped hosts are reached through httpx only (tests' fake platforms)
        engines = build_engines(http, network=None if host_map else network)
        if policy.engine not in engines:
            log.error(
                "engine %s is not available here (available: %s)",
                policy.engine.value,
                _names(engines),
            )
            return EXIT_USAGE
        try:
            extractor = default_registry().resolve(options.url)
        except UnsupportedUrlError as err:
            log.error("%s: %s", options.url, err)
            return EXIT_USAGE
        try:
            status = await _until(
                extractor(http).check_live(options.url, policy.selection), stop
            )
        except RecorderError as err:
            log.error("could not check %s: %s", options.url, err)
            return EXIT_FAILED
        if status is None:
            log.info("interrupted before recording began")
            return EXIT_OK
        if not status.is_live or status.source is None:
            why = f"{status.result.value}" + (
                f": {status.detail}" if status.detail else ""
            )
            log.error("%s is not live (%s); nothing to record", options.url, why)
            return EXIT_FAILED
        source = _with_options(status.source, options)
        engine = engines[policy.engine].get(source.kind)
        if engine is None:
            log.error(
                "the %s engine cannot record %s streams",
                policy.engine.value,
                source.kind.value,
            )
            return EXIT_USAGE
        found = extractor.match(options.url)
        channel = found[1].get("channel") if found else None
        name = options.name or channel or extractor.platform
        return await _record(
            engine,
            source,
            options,
            console,
            stop,
            title=status.title,
            name=name,
            platform=extractor.platform,
            refresh=refresh_hook(source, options, http),
        )


async def _record(
    engine: Engine,
    source: StreamSource,
    options: RecordOptions,
    console: Console,
    stop: asyncio.Event,
    *,
    title: str,
    name: str,
    platform: str,
    refresh: Refresh | None,
) -> int:
    policy = options.policy
    fields = NameFields(streamer=name, title=title, platform=platform)

    plan = plan_for(options.out, policy, fields)
    stats = RecordingStats()
    sink = DropSmallSegments(ConsoleSink(console), policy.min_segment_size_bytes)
    console.started(
        url=options.url, title=title, kind=source.kind.value, engine=policy.engine.value
    )
    progress = asyncio.create_task(_progress(console, stats, options.progress_secs))
    reached: list[bool] = []
    timer = None
    if options.duration_secs is not None:

        def duration_reached() -> None:
            log.info("recorded for %g s: finalising the current file", duration)
            reached.append(True)
            stop.set()

        duration = options.duration_secs
        timer = asyncio.get_running_loop().call_later(duration, duration_reached)
    code, reason = EXIT_OK, "stopped"
    try:
        result = await _until(
            engine.record(source, plan, sink, stats, refresh=refresh), stop
        )
        if result is not None:
            reason = f"stream {result}"
        elif reached:
            reason = "duration reached"
    except (RecorderError, OSError) as err:
        log.error("recording failed: %s", err)
        code, reason = EXIT_FAILED, "failed"
    finally:
        if timer is not None:
            timer.cancel()
        progress.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await progress
    console.summary(stats, reason)
    return code


async def _until(aw: Awaitable[T], stop: asyncio.Event) -> T | None:
    """Await `aw`; if `stop` is set first, cancel it and wait while it finishes.

    Returns:
        What `aw` returned, or None when it was stopped.
    """
    task = asyncio.ensure_future(aw)
    waiter = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()
    if not task.done():
        task.cancel()
        # an engine closes its current file before the cancellation ends it
        with contextlib.suppress(asyncio.CancelledError):
            try:
                await task
            except RecorderError as err:
                log.warning("failed while stopping: %s", err)
        return None
    return task.result()


async def _progress(console: Console, stats: RecordingStats, interval: float) -> None:
    while True:
        await asyncio.sleep(interval)
        console.progress(stats)


def refresh_hook(
    source: StreamSource, options: RecordOptions, http: httpx.AsyncClient
) -> Refresh | None:
    """Fresh URLs of the recorded channel, with the command line's headers and proxy."""
    if not refreshable(source):
        return None

    async def refresh(current: StreamSource) -> StreamSource:
        fresh = await default_registry().refresh(current, http)
        return _with_options(fresh, options)

    return refresh


def _with_options(source: StreamSource, options: RecordOptions) -> StreamSource:
    """The extractor's source with the command line's headers, proxy and quality."""
    selection = options.policy.selection
    if selection == StreamSelection():
        selection = source.selection
    return source.model_copy(
        update={
            "headers": source.headers | options.headers,
            "proxy": options.proxy or source.proxy,
            "selection": selection,
        }
    )


def _names(engines: EngineTable) -> str:
    return ", ".join(kind.value for kind in engines) or "none"
