"""The generic extractor: URL matching and liveness of direct HLS/FLV URLs."""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import TYPE_CHECKING

import httpx
import pytest

from activities.contracts import LiveOutcome, StreamKind
from activities.errors import ExtractorError
from activities.platforms import PlatformRegistry, default_registry
from activities.platforms import generic as generic_module
from activities.platforms.generic import Generic
from tests.activities.platforms.urltable import UrlTable
from tests.fakes.clock import FakeClock

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

Handler = Callable[[httpx.Request], httpx.Response]


class TestUrls(UrlTable):
    extractor = Generic
    should_match_groups = (
        pytest.param(
            "http://example.com/live.m3u8",
            "live",
            {"channel": "live", "ext": "m3u8"},
            id="hls",
        ),
        pytest.param(
            "http://127.0.0.1:8080/live/room.flv",
            "live",
            {"channel": "room", "ext": "flv"},
            id="flv-port",
        ),
    )
    should_match = (
        pytest.param("https://cdn.example.com/a/b/stream.m3u8", id="hls-path"),
        pytest.param("https://cdn.example.com/s.m3u8?token=x&e=1", id="hls-query"),
        pytest.param("https://cdn.example.com/S.M3U8", id="hls-upper"),
        pytest.param("https://pull.example.com/app/x.flv?auth=1#t", id="flv-query"),
    )
    should_not_match = (
        pytest.param("https://example.com/video.mp4", id="mp4"),
        pytest.param("https://example.com/live.m3u8.html", id="suffix-after"),
        pytest.param("https://example.com/m3u8", id="no-extension"),
        pytest.param("ftp://example.com/live.m3u8", id="ftp"),
        pytest.param("file:///tmp/live.m3u8", id="file"),
        pytest.param("example.com/live.m3u8", id="no-scheme"),
        pytest.param("https://example.com/a.flv/b", id="flv-dir"),
        pytest.param("https://example.com/.m3u8", id="no-name"),
        pytest.param("https://twitch.tv/somebody", id="platform-url"),
    )


def test_registered_after_every_platform_before_streamlink() -> None:
    registry = default_registry()
    assert Generic in registry.extractors
    # only the streamlink fallback comes after the direct URLs
    assert [e.platform for e in registry.extractors[-2:]] == ["generic", "streamlink"]
    assert registry.resolve("https://x.example/y.m3u8") is Generic
    assert generic_module.__extractor__ is Generic


# --- check_live -----------------------------------------------------------------------


class Routes:
    """A strict MockTransport router: an unregistered URL fails the test."""

    def __init__(self) -> None:
        self.handlers: dict[str, Handler] = {}
        self.calls: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        url = str(request.url)
        self.calls.append(url)
        handler = self.handlers.get(url)
        if handler is None:
            raise AssertionError(f"unexpected request to {url}")
        return handler(request)

    def sequence(self, url: str, responses: list[httpx.Response]) -> None:
        """Answer `url` with `responses` in order, repeating the last one."""
        queue = list(responses)

        def handler(_: httpx.Request) -> httpx.Response:
            return queue.pop(0) if len(queue) > 1 else queue[0]

        self.handlers[url] = handler


def playlist(
    seq: int, count: int = 3, *, endlist: bool = False, target: int = 2
) -> str:
    lines = [
        "#EXTM3U",
        "#EXT-X-VERSION:3",
        f"#EXT-X-TARGETDURATION:{target}",
        f"#EXT-X-MEDIA-SEQUENCE:{seq}",
    ]
    for n in range(seq, seq + count):
        lines += [f"#EXTINF:{target}.0,", f"seg{n}.ts"]
    if endlist:
        lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"


def ok(text: str) -> httpx.Response:
    return httpx.Response(200, text=text)


@pytest.fixture
def routes() -> Routes:
    return Routes()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def extractor(routes: Routes, clock: FakeClock) -> AsyncIterator[Generic]:
    async with httpx.AsyncClient(transport=httpx.MockTransport(routes)) as http:
        yield Generic(http, clock=clock, sleep=clock.sleep)


URL = "https://cdn.example.com/live/room42.m3u8"
FLV_URL = "https://pull.example.com/live/room7.flv?auth=abc"


async def test_hls_live_when_sequence_advances(extractor, routes, clock) -> None:
    routes.sequence(URL, [ok(playlist(10)), ok(playlist(10)), ok(playlist(11))])
    status = await extractor.check_live(URL)
    assert status.is_live
    assert status.title == "room42"
    assert status.source is not None
    assert status.source.url == URL
    assert status.source.kind is StreamKind.HLS
    assert clock.slept == [1.0, 1.0]  # reloads every target/2


async def test_hls_endlist_is_offline(extractor, routes) -> None:
    routes.sequence(URL, [ok(playlist(10, endlist=True))])
    status = await extractor.check_live(URL)
    assert not status.is_live
    assert status.source is None
    assert status.error is None  # a stream that ended is no error


async def test_hls_endlist_appearing_while_watching_is_offline(
    extractor, routes
) -> None:
    routes.sequence(URL, [ok(playlist(10)), ok(playlist(10, endlist=True))])
    assert not (await extractor.check_live(URL)).is_live


@pytest.mark.parametrize(
    "status", [pytest.param(404, id="404"), pytest.param(410, id="410")]
)
async def test_hls_gone_is_offline_with_the_reason(
    extractor, routes, status: int
) -> None:
    routes.sequence(URL, [httpx.Response(status)])
    checked = await extractor.check_live(URL)
    assert not checked.is_live
    assert checked.error == f"{URL} answered HTTP {status}"


async def test_hls_refused_is_offline(extractor, routes) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    routes.handlers[URL] = refuse
    status = await extractor.check_live(URL)
    assert not status.is_live
    assert status.error == f"{URL}: connection failed: connection refused"


def _unresolved(request: httpx.Request) -> httpx.Response:
    try:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    except socket.gaierror as err:
        raise httpx.ConnectError(str(err), request=request) from err


@pytest.mark.parametrize(
    "url", [pytest.param(URL, id="hls"), pytest.param(FLV_URL, id="flv")]
)
async def test_a_host_that_does_not_resolve_is_a_failed_check_not_offline(
    extractor, routes, url: str
) -> None:
    # a dead URL must reach the error backoff with its reason, not stay NOT_LIVE
    routes.handlers[url] = _unresolved
    status = await extractor.check_live(url)
    assert not status.is_live
    assert status.result is LiveOutcome.UNAVAILABLE
    assert status.detail is not None
    assert "the host name does not resolve" in status.detail


async def test_hls_stale_playlist_is_offline(extractor, routes, clock) -> None:
    routes.sequence(URL, [ok(playlist(10, target=4))])
    status = await extractor.check_live(URL)
    assert not status.is_live
    assert status.error is None  # between broadcasts, not an error
    # watched for 3 target durations (12 s), reloading every 2 s
    assert clock.now == pytest.approx(12.0)
    assert set(clock.slept) == {2.0}


async def test_hls_stale_wait_is_capped(extractor, routes, clock) -> None:
    routes.sequence(URL, [ok(playlist(10, target=30))])
    assert not (await extractor.check_live(URL)).is_live
    assert clock.now <= Generic.MAX_WAIT_SECS + 15


async def test_hls_master_is_passed_on_and_its_best_variant_watched(
    extractor, routes
) -> None:
    master = URL.replace("room42", "master")
    routes.sequence(
        master,
        [
            ok(
                "#EXTM3U\n"
                "#EXT-X-STREAM-INF:BANDWIDTH=800000\nlow/index.m3u8\n"
                "#EXT-X-STREAM-INF:BANDWIDTH=5000000\nhigh/index.m3u8?t=1\n"
                "#EXT-X-STREAM-INF:BANDWIDTH=2000000\nmid/index.m3u8\n"
            )
        ],
    )
    variant = "https://cdn.example.com/live/high/index.m3u8?t=1"
    routes.sequence(variant, [ok(playlist(1)), ok(playlist(2))])
    status = await extractor.check_live(master)
    assert status.is_live
    assert status.source is not None
    # the engine picks the variant with the streamer's selection
    assert status.source.url == master
    assert status.title == "master"
    assert routes.calls == [master, variant, variant]


async def test_hls_unparseable_playlist_is_an_extractor_error(
    extractor, routes
) -> None:
    routes.sequence(URL, [ok("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=lots\nx.m3u8\n")])
    with pytest.raises(ExtractorError, match="cannot parse"):
        await extractor.check_live(URL)


@pytest.mark.parametrize(
    "failure",
    [
        pytest.param(lambda r: httpx.Response(503), id="503"),
        pytest.param(lambda r: httpx.Response(500), id="500"),
        pytest.param(
            lambda r: (_ for _ in ()).throw(httpx.ReadTimeout("slow", request=r)),
            id="timeout",
        ),
    ],
)
async def test_hls_transient_failures_are_unavailable(
    extractor, routes, failure
) -> None:
    routes.handlers[URL] = failure
    status = await extractor.check_live(URL)
    assert status.result is LiveOutcome.UNAVAILABLE
    assert not status.is_live


async def test_flv_live_when_body_is_flv(extractor, routes) -> None:
    routes.handlers[FLV_URL] = lambda r: httpx.Response(
        200, content=b"FLV\x01\x05\x00\x00\x00\x09" + b"\x00" * 64
    )
    status = await extractor.check_live(FLV_URL)
    assert status.is_live
    assert status.title == "room7"
    assert status.source is not None
    assert status.source.kind is StreamKind.FLV
    assert status.source.url == FLV_URL


async def test_flv_stream_is_closed_after_the_signature(extractor, routes) -> None:
    sent: list[int] = []

    async def endless() -> AsyncIterator[bytes]:
        yield b"FL"
        yield b"V\x01"
        for n in range(1000):
            sent.append(n)
            yield b"\x00" * 1024

    routes.handlers[FLV_URL] = lambda r: httpx.Response(200, content=endless())
    assert (await extractor.check_live(FLV_URL)).is_live
    assert len(sent) <= 1


@pytest.mark.parametrize(
    "response",
    [
        pytest.param(httpx.Response(200, text="<html>offline</html>"), id="html"),
        pytest.param(httpx.Response(404), id="404"),
        pytest.param(httpx.Response(200, content=b""), id="empty"),
    ],
)
async def test_flv_not_live(extractor, routes, response: httpx.Response) -> None:
    routes.handlers[FLV_URL] = lambda r: response
    status = await extractor.check_live(FLV_URL)
    assert not status.is_live
    assert status.error is not None
    assert FLV_URL in status.error


async def test_flv_refused_is_offline(extractor, routes) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    routes.handlers[FLV_URL] = refuse
    status = await extractor.check_live(FLV_URL)
    assert not status.is_live
    assert status.error is not None
    assert "connection failed" in status.error


async def test_flv_server_error_is_unavailable(extractor, routes) -> None:
    routes.handlers[FLV_URL] = lambda r: httpx.Response(502)
    status = await extractor.check_live(FLV_URL)
    assert status.result is LiveOutcome.UNAVAILABLE


async def test_registry_builds_generic_for_direct_urls(routes) -> None:
    routes.sequence(URL, [ok(playlist(0, endlist=True))])
    async with httpx.AsyncClient(transport=httpx.MockTransport(routes)) as http:
        extractor = PlatformRegistry([Generic]).extractor_for(URL, http)
        assert isinstance(extractor, Generic)
        assert not (await extractor.check_live(URL)).is_live


# --- look: the poller's one-request check -------------------------------------------


async def look_twice(extractor: Generic, url: str, clock: FakeClock, gap: float):
    channel = Generic.channel(url)
    first = await extractor.look(channel, None)
    clock.now += gap
    return first, await extractor.look(channel, first.mark)


async def test_look_first_is_unsure_then_live_when_the_sequence_moved(
    extractor, routes, clock
) -> None:
    routes.sequence(URL, [ok(playlist(10, target=4)), ok(playlist(25, target=4))])
    first, second = await look_twice(extractor, URL, clock, 60)
    assert first.status is None
    assert first.again_in == 4.0  # one target duration later
    assert second.status is not None
    assert second.status.result is LiveOutcome.LIVE
    assert second.status.title == "room42"
    assert [s.url for s in second.status.streams] == [URL]
    assert routes.calls == [URL, URL]  # one request per look, no waiting
    assert clock.slept == []


async def test_look_unmoved_for_three_targets_is_offline(
    extractor, routes, clock
) -> None:
    routes.sequence(URL, [ok(playlist(10, target=4))])
    first, second = await look_twice(extractor, URL, clock, 60)
    assert second.status is not None
    assert second.status.result is LiveOutcome.OFFLINE
    assert second.status.error is None
    assert "stuck at 12" in second.status.detail
    # the mark keeps the stuck sequence: it moving again later is live at once
    assert second.mark == first.mark


async def test_look_too_soon_to_tell_says_when_to_look_again(
    extractor, routes, clock
) -> None:
    routes.sequence(URL, [ok(playlist(10, target=4))])
    _, second = await look_twice(extractor, URL, clock, 5)
    assert second.status is None
    assert second.again_in == pytest.approx(7.0)  # 12 s of no progress in all


@pytest.mark.parametrize(
    ("response", "error"),
    [
        pytest.param(ok(playlist(3, endlist=True)), None, id="endlist"),
        pytest.param(httpx.Response(404), f"{URL} answered HTTP 404", id="404"),
    ],
)
async def test_look_ended_or_gone_is_offline_in_one_request(
    extractor, routes, response, error
) -> None:
    routes.sequence(URL, [response])
    step = await extractor.look(Generic.channel(URL), None)
    assert step.status is not None
    assert step.status.result is LiveOutcome.OFFLINE
    assert step.status.error == error
    assert routes.calls == [URL]


async def test_look_after_an_end_a_continued_numbering_is_live_at_once(
    extractor, routes, clock
) -> None:
    routes.sequence(URL, [ok(playlist(3, endlist=True)), ok(playlist(9))])
    _, second = await look_twice(extractor, URL, clock, 60)
    assert second.status is not None
    assert second.status.result is LiveOutcome.LIVE


async def test_look_a_restarted_numbering_is_unsure(extractor, routes, clock) -> None:
    routes.sequence(URL, [ok(playlist(300, endlist=True)), ok(playlist(0))])
    _, second = await look_twice(extractor, URL, clock, 60)
    assert second.status is None
    assert second.again_in == 2.0


async def test_look_passing_failure_is_unavailable_and_keeps_the_mark(
    extractor, routes, clock
) -> None:
    routes.sequence(URL, [ok(playlist(10)), httpx.Response(503)])
    first, second = await look_twice(extractor, URL, clock, 60)
    assert second.status is not None
    assert second.status.result is LiveOutcome.UNAVAILABLE
    assert second.mark == first.mark


async def test_look_remembers_the_variant_of_a_master(extractor, routes, clock) -> None:
    master = URL.replace("room42", "master")
    routes.sequence(
        master,
        [
            ok(
                "#EXTM3U\n"
                "#EXT-X-STREAM-INF:BANDWIDTH=800000\nlow/index.m3u8\n"
                "#EXT-X-STREAM-INF:BANDWIDTH=5000000\nhigh/index.m3u8\n"
            )
        ],
    )
    variant = "https://cdn.example.com/live/high/index.m3u8"
    routes.sequence(variant, [ok(playlist(1)), ok(playlist(9))])
    _, second = await look_twice(extractor, master, clock, 60)
    assert second.status is not None
    assert second.status.result is LiveOutcome.LIVE
    assert [s.url for s in second.status.streams] == [master]
    assert routes.calls == [master, variant, variant]


async def test_look_through_a_host_that_does_not_resolve_keeps_the_mark(
    extractor, routes, clock
) -> None:
    calls = 0

    async def fetch(url: str) -> tuple[int, str, str]:
        nonlocal calls
        calls += 1
        if calls == 2:
            try:
                raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
            except socket.gaierror as err:
                raise ConnectionError(str(err)) from err
        return 200, url, playlist(calls * 10)

    channel = Generic.channel(URL)
    first = await extractor.look(channel, None, fetch)
    second = await extractor.look(channel, first.mark, fetch)
    assert second.status is not None
    assert second.status.result is LiveOutcome.UNAVAILABLE
    assert "does not resolve" in (second.status.detail or "")
    assert second.mark == first.mark


async def test_look_with_the_pollers_fetch(extractor, routes, clock) -> None:
    seen: list[str] = []

    async def fetch(url: str) -> tuple[int, str, str]:
        seen.append(url)
        if len(seen) == 3:
            raise ConnectionError("refused")
        return 200, url, playlist(len(seen) * 10)

    channel = Generic.channel(URL)
    first = await extractor.look(channel, None, fetch)
    second = await extractor.look(channel, first.mark, fetch)
    third = await extractor.look(channel, second.mark, fetch)
    assert second.status is not None
    assert second.status.result is LiveOutcome.LIVE
    assert third.status is not None
    assert third.status.result is LiveOutcome.OFFLINE
    assert third.status.error == f"{URL}: connection failed: refused"
    assert routes.calls == []  # nothing went through the extractor's client
