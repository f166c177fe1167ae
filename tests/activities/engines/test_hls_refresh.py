"""The HLS engine when its signed URL expires: a fresh one, the same file, no repeat.

A scripted origin serves the stream under two tokens: the first one's playlist or
segments start answering 403 (or the deadline nears), the refresh hook hands out
the second, and the recording must go on in the same file from the segment after
the last one written, each segment exactly once.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest

from activities.contracts import StreamKind, StreamSource
from activities.engines.base import RecordingStats
from activities.engines.hls import HlsEngine
from activities.engines.refresh import RefreshPolicy
from activities.errors import StreamUnavailableError
from tests.activities.engines.hls_support import Recorded, check_files, make_plan
from tests.fakes.clock import VirtualClock
from tests.fakes.scripted_hls import Answer, ScriptedHls, window
from tests.fakes.segment_sink import CheckingSink

if TYPE_CHECKING:
    from pathlib import Path

    from tests.fakes.hls_media import Rendition

START = 1_700_000_000.0


def tokened(token: int) -> str:
    return "seg{}.ts?token=" + str(token)


def serve(
    origin: ScriptedHls,
    rendition: Rendition,
    token: int,
    segments: range,
    playlist: list[Answer],
    *,
    forbidden: frozenset[int] = frozenset(),
) -> str:
    """Serve `segments` under `token` (403 for `forbidden` ones); the playlist URL."""
    for n in segments:
        status = 403 if n in forbidden else 500
        fail = 1000 if n in forbidden else 0
        origin.file(
            tokened(token).format(n), rendition.segments[n], fail=fail, status=status
        )
    return origin.playlist(f"index.m3u8?token={token}", playlist)


class Hook:
    """The refresh hook: hands out the next URL, or raises what it is told."""

    def __init__(self, *urls: str, raises: Exception | None = None) -> None:
        self.urls = list(urls)
        self.raises = raises
        self.calls = 0

    async def __call__(self, current: StreamSource) -> StreamSource:
        self.calls += 1
        if self.raises is not None:
            raise self.raises
        return current.model_copy(
            update={"url": self.urls.pop(0), "headers": {"X-Token": "fresh"}}
        )


async def record(
    origin: ScriptedHls,
    url: str,
    tmp_path: Path,
    clock: VirtualClock,
    hook: Hook | None,
    *,
    expires_in: float | None = None,
) -> Recorded:
    sink = CheckingSink()
    stats = RecordingStats()
    expires = datetime.fromtimestamp(START + expires_in, UTC) if expires_in else None
    source = StreamSource(url=url, kind=StreamKind.HLS, expires_at=expires)
    async with origin.client() as http:
        engine = HlsEngine(
            http,
            clock=clock,
            sleep=clock.sleep,
            wall=lambda: START + clock(),
            refresh_policy=RefreshPolicy(max_per_minute=3),
        )
        reason = await asyncio.wait_for(
            engine.record(source, make_plan(tmp_path), sink, stats, refresh=hook), 30
        )
    return Recorded(reason, stats, sink)


async def test_a_refused_playlist_is_refreshed_and_the_file_goes_on(
    tmp_path, hls_media
) -> None:
    origin = ScriptedHls()
    old = serve(origin, hls_media.ts, 1, range(5), [window(0, 4, name=tokened(1)), 403])
    new = serve(
        origin,
        hls_media.ts,
        2,
        range(2, 7),
        [window(2, 5, name=tokened(2), endlist=True)],
    )
    hook = Hook(new)
    done = await record(origin, old, tmp_path, VirtualClock(), hook)
    assert done.reason == "ended"
    assert hook.calls == 1
    assert done.stats.url_refreshes == 1
    # one file: 0-3 under the old token, 4-6 under the new one, none twice
    check_files(done.sink, hls_media.ts, [[0, 1, 2, 3, 4, 5, 6]])
    assert origin.count("seg2.ts?token=2") == 0
    assert origin.count("seg4.ts?token=2") == 1


async def test_refused_segments_are_fetched_again_from_the_fresh_playlist(
    tmp_path, hls_media
) -> None:
    origin = ScriptedHls()
    # the old token expires between the playlist load and segments 2 and 3
    old = serve(
        origin,
        hls_media.ts,
        1,
        range(4),
        [window(0, 4, name=tokened(1))],
        forbidden=frozenset({2, 3}),
    )
    new = serve(
        origin,
        hls_media.ts,
        2,
        range(6),
        [window(0, 6, name=tokened(2), endlist=True)],
    )
    hook = Hook(new)
    done = await record(origin, old, tmp_path, VirtualClock(), hook)
    assert done.reason == "ended"
    assert hook.calls == 1  # both refused segments shared one refresh
    check_files(done.sink, hls_media.ts, [[0, 1, 2, 3, 4, 5]])
    assert origin.count("seg0.ts?token=2") == 0
    assert origin.count("seg2.ts?token=2") == 1


async def test_a_refresh_that_finds_the_room_offline_ends_the_recording(
    tmp_path, hls_media
) -> None:
    origin = ScriptedHls()
    old = serve(origin, hls_media.ts, 1, range(4), [window(0, 3, name=tokened(1)), 403])
    hook = Hook(raises=StreamUnavailableError("room 3 is offline"))
    done = await record(origin, old, tmp_path, VirtualClock(), hook)
    assert done.reason == "ended"
    assert hook.calls == 1
    assert done.stats.url_refreshes == 0
    check_files(done.sink, hls_media.ts, [[0, 1, 2]])


async def test_the_url_is_refreshed_before_its_deadline(tmp_path, hls_media) -> None:
    origin = ScriptedHls()
    # three loads under the old token, then it would answer 403: never asked
    old = serve(
        origin,
        hls_media.ts,
        1,
        range(6),
        [
            window(0, 3, name=tokened(1)),
            window(0, 4, name=tokened(1)),
            window(0, 5, name=tokened(1)),
            403,
        ],
    )
    new = serve(
        origin,
        hls_media.ts,
        2,
        range(2, 7),
        [window(2, 5, name=tokened(2), endlist=True)],
    )
    hook = Hook(new)
    # a 3 s URL: refreshed 0.75 s before its deadline, between two reloads
    done = await record(origin, old, tmp_path, VirtualClock(), hook, expires_in=3.0)
    assert done.reason == "ended"
    assert hook.calls == 1
    assert origin.count("index.m3u8?token=1") == 3
    check_files(done.sink, hls_media.ts, [[0, 1, 2, 3, 4, 5, 6]])


async def test_refreshes_are_bounded_then_the_403_counts_as_a_failed_reload(
    tmp_path, hls_media
) -> None:
    origin = ScriptedHls()
    old = serve(origin, hls_media.ts, 1, range(3), [window(0, 3, name=tokened(1)), 403])
    # every fresh URL is refused at once: the policy allows 3 a minute
    urls = [origin.playlist(f"index.m3u8?token={n}", [403]) for n in (2, 3, 4, 5)]
    hook = Hook(*urls)
    done = await record(origin, old, tmp_path, VirtualClock(), hook)
    assert done.reason == "stalled"  # the stream timeout, 60 s without a segment
    assert hook.calls == 3
    assert done.stats.url_refreshes == 3
    check_files(done.sink, hls_media.ts, [[0, 1, 2]])


@pytest.mark.parametrize("status", [403, 410])
async def test_without_a_hook_an_expired_playlist_ends_as_before(
    tmp_path, hls_media, status: int
) -> None:
    origin = ScriptedHls()
    old = serve(
        origin, hls_media.ts, 1, range(3), [window(0, 3, name=tokened(1)), status]
    )
    done = await record(origin, old, tmp_path, VirtualClock(), None)
    # 410 is a playlist gone for good; 403 a reload that keeps failing
    assert done.reason == ("ended" if status == 410 else "stalled")
    check_files(done.sink, hls_media.ts, [[0, 1, 2]])
