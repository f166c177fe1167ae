"""The poller's aiohttp path, against the fake HLS channels on loopback."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx
import pytest

from activities.contracts import LiveOutcome
from activities.errors import StreamUnavailableError
from activities.platforms.generic import Generic
from activities.poll.http import (
    AiohttpGetter,
    UnreachableError,
    fetcher,
    poll_http,
)
from bench.fake_hls import FakeHls
from bench.stack import free_port
from tests.fakes.clock import FakeClock

if TYPE_CHECKING:
    from collections.abc import AsyncIterator


@pytest.fixture
async def fake() -> AsyncIterator[FakeHls]:
    server = await FakeHls(8, target_secs=2.0).start()
    yield server
    await server.stop()


@pytest.fixture
async def getter() -> AsyncIterator[AiohttpGetter]:
    async with AiohttpGetter(timeout_secs=5) as found:
        yield found


async def test_get_reads_a_playlist(fake, getter) -> None:
    fake.set_live([1], True)
    got = await getter.get(fake.url(1))
    assert got.status == 200
    assert got.url == fake.url(1)
    assert got.text.startswith("#EXTM3U")
    assert "#EXT-X-ENDLIST" not in got.text
    assert (await getter.get(fake.url(99))).status == 404


async def test_a_refused_connection_is_unreachable(getter) -> None:
    with pytest.raises(UnreachableError, match="connection failed"):
        await getter.get(f"http://127.0.0.1:{free_port()}/x.m3u8")


async def test_the_host_map_sends_a_host_to_the_fake(fake) -> None:
    mapped = {"cdn.example.com": f"127.0.0.1:{fake.port}"}
    async with AiohttpGetter(host_map=mapped) as getter:
        got = await getter.get("https://cdn.example.com/live/2.m3u8")
    assert got.status == 200
    assert "#EXT-X-ENDLIST" in got.text


async def test_fetch_maps_failures_for_the_generic_look(getter) -> None:
    fetch = fetcher(getter)
    with pytest.raises(ConnectionError):
        await fetch(f"http://127.0.0.1:{free_port()}/x.m3u8")
    with pytest.raises(StreamUnavailableError):
        await fetch("http://[not-a-host/x.m3u8")


async def test_httpx_over_aiohttp(fake) -> None:
    built = poll_http(
        ssl_context=None,
        proxy=None,
        host_map=None,
        headers={"User-Agent": "srec-test"},
        timeout=httpx.Timeout(5.0),
        max_connections=10,
    )
    assert built is not None
    getter, client = built
    try:
        fake.set_live([3], True)
        response = await client.get(fake.url(3))
        assert response.status_code == 200
        assert response.text.startswith("#EXTM3U")
        async with client.stream("GET", fake.url(3).replace(".m3u8", "/1.ts")) as body:
            head = b""
            async for chunk in body.aiter_bytes():
                head += chunk
                if len(head) >= 3:
                    break
        assert head[:1] == b"\x47"
        with pytest.raises(httpx.ConnectError):
            await client.get(f"http://127.0.0.1:{free_port()}/x.m3u8")
    finally:
        await client.aclose()
        await getter.aclose()


def test_no_aiohttp_path_through_a_socks_proxy() -> None:
    built = poll_http(
        ssl_context=None,
        proxy="socks5://127.0.0.1:1080",
        host_map=None,
        headers={},
        timeout=httpx.Timeout(5.0),
        max_connections=10,
    )
    assert built is None


async def test_the_generic_look_costs_one_request_per_look(fake, getter) -> None:
    clock = FakeClock()
    async with httpx.AsyncClient() as unused:
        extractor = Generic(unused, clock=clock, sleep=clock.sleep)
        channel = Generic.channel(fake.url(4))
        fetch = fetcher(getter)
        first = await extractor.look(channel, None, fetch)
        assert first.status is not None  # offline: ENDLIST, one request
        assert first.status.result is LiveOutcome.OFFLINE
        fake.set_live([4], True)
        # the numbering goes on from the ended playlist's: live at the next look
        found = await extractor.look(channel, first.mark, fetch)
    assert found.status is not None
    assert found.status.result is LiveOutcome.LIVE
    assert fake.channel(4).requests == 2
