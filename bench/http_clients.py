"""CPU per request of the HTTP clients the poller could use, on loopback (issue 10).

The fake channels (`bench.fake_hls`) run in a child process, so only the client's
CPU is counted: this process's user + system time (all threads) over `--requests`
GETs of small live playlists (~250 bytes), `--concurrency` at a time, over
keep-alive connections, after a warm-up. Clients:

* `httpx`: `httpx.AsyncClient` as the worker builds it (`worker.http_client`);
* `aiohttp`: `aiohttp.ClientSession` with a `TCPConnector` of the same limits;
* `aiohttp-adapter`: the poller's own path (`activities.poll.http.AiohttpGetter`);
* `lean`: the HLS engine's `http.client`-in-threads fetcher
  (`activities.engines.hls.http11.LeanFetcher`), one per concurrent task.

    .venv/bin/python -m bench.http_clients [--requests 20000] [--concurrency 100]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import ssl
import subprocess
import sys
import time
from typing import TYPE_CHECKING, Any

import aiohttp
import httpx

from activities.engines.hls.http11 import LeanFetcher
from activities.poll.http import AiohttpGetter
from bench.stack import REPO, free_port, stop_process, wait_for_port
from worker.http_client import HTTP_LIMITS, HTTP_TIMEOUT

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Coroutine

log = logging.getLogger("bench.http_clients")

CHANNELS = 1000
LIVE = 500


def _cpu() -> float:
    t = os.times()
    return t.user + t.system


async def _drive(
    get: Callable[[str], Awaitable[int]], base: str, requests: int, concurrency: int
) -> tuple[float, float]:
    """Run `requests` GETs, `concurrency` at a time; return (CPU s, wall s)."""
    counter = iter(range(requests))

    async def loop() -> None:
        for i in counter:
            status = await get(f"{base}/live/{i % CHANNELS}.m3u8")
            if status != 200:
                raise RuntimeError(f"HTTP {status}")

    # warm-up: open the connections, fill caches
    warm = iter(range(concurrency * 4))

    async def warm_loop() -> None:
        for i in warm:
            await get(f"{base}/live/{i % CHANNELS}.m3u8")

    await asyncio.gather(*(warm_loop() for _ in range(concurrency)))
    cpu, wall = _cpu(), time.perf_counter()
    await asyncio.gather(*(loop() for _ in range(concurrency)))
    return _cpu() - cpu, time.perf_counter() - wall


async def bench_httpx(
    base: str, requests: int, concurrency: int
) -> tuple[float, float]:
    async with httpx.AsyncClient(timeout=HTTP_TIMEOUT, limits=HTTP_LIMITS) as client:

        async def get(url: str) -> int:
            response = await client.get(url)
            _ = response.text
            return response.status_code

        return await _drive(get, base, requests, concurrency)


async def bench_aiohttp(
    base: str, requests: int, concurrency: int
) -> tuple[float, float]:
    connector = aiohttp.TCPConnector(limit=HTTP_LIMITS.max_connections or 100)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def get(url: str) -> int:
            async with session.get(url) as response:
                await response.text()
                return response.status

        return await _drive(get, base, requests, concurrency)


async def bench_adapter(
    base: str, requests: int, concurrency: int
) -> tuple[float, float]:
    async with AiohttpGetter(timeout_secs=10.0, max_connections=200) as getter:

        async def get(url: str) -> int:
            response = await getter.get(url)
            _ = response.text
            return response.status

        return await _drive(get, base, requests, concurrency)


async def bench_lean(base: str, requests: int, concurrency: int) -> tuple[float, float]:
    fetcher = LeanFetcher(
        {},
        connect_timeout=10,
        read_timeout=10,
        ssl_context=ssl.create_default_context(),
    )

    async def get(url: str) -> int:
        response = await fetcher.get(url, {})
        return response.status

    try:
        return await _drive(get, base, requests, concurrency)
    finally:
        fetcher.close()


CLIENTS: dict[
    str, Callable[[str, int, int], Coroutine[Any, Any, tuple[float, float]]]
] = {
    "httpx": bench_httpx,
    "aiohttp": bench_aiohttp,
    "aiohttp-adapter": bench_adapter,
    "lean": bench_lean,
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--clients", default=",".join(CLIENTS))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    # httpx logs every request at INFO: that would be measured, and the worker
    # (`worker.cli`) turns it off too
    logging.getLogger("httpx").setLevel(logging.WARNING)
    port = free_port()
    server = subprocess.Popen(
        [
            *(sys.executable, "-m", "bench.fake_hls"),
            *("--port", str(port), "--channels", str(CHANNELS)),
        ],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_for_port(port, 30)
        base = f"http://127.0.0.1:{port}"
        httpx.get(f"{base}/_control/live?ids={','.join(map(str, range(LIVE)))}")
        names = args.clients.split(",")
        print(
            f"{args.requests} GETs of a ~250-byte playlist, {args.concurrency} at once"
        )
        print(f"{'client':<16} {'CPU ms/req':>10} {'req/s (wall)':>13}")
        for round_ in range(args.rounds):
            for name in names:
                cpu, wall = asyncio.run(
                    CLIENTS[name](base, args.requests, args.concurrency)
                )
                print(
                    f"{name:<16} {cpu / args.requests * 1000:>10.3f} "
                    f"{args.requests / wall:>13.0f}   (round {round_ + 1})"
                )
    finally:
        stop_process(server)
    return 0


if __name__ == "__main__":
    sys.exit(main())
