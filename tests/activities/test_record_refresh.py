"""Signed stream URLs that expire mid-recording, through the record activity.

A fake Bilibili room streams through a signed CDN edge (`SignedCdn`): every URL
the room's API hands out carries a token, and `revoke()` makes the edge answer 403
to every token seen so far, as a CDN does once a signed URL's deadline passed (the
FLV edge also cuts the open connection). The record activity, given `FreshUrls`
(the worker's wiring: the channel resolved again with the streamer's options read
from the DB), must keep one recording going: the native engines in the same file
with every frame once, ffmpeg in the next file; a room found offline at the
refresh ends the recording as `ended`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlmodel import Session
from temporalio.testing import ActivityEnvironment

from activities.contracts import (
    EngineKind,
    RecordingPolicy,
    RecordInput,
    RecordResult,
    StreamKind,
    StreamSource,
)
from activities.db import crud, crud_sessions, make_engine, migrate
from activities.db.tables import Streamer
from activities.detect import DbOptionsProvider
from activities.engines.flv import FlvEngine
from activities.engines.hls import HlsEngine
from activities.engines.refresh import RefreshPolicy
from activities.engines.remux.ffmpeg import STARTUP_SECS as FFMPEG_STARTUP_SECS
from activities.engines.remux.ffmpeg import FfmpegEngine
from activities.engines.remux.streamlink import STARTUP_SECS as SL_STARTUP_SECS
from activities.engines.remux.streamlink import StreamlinkEngine
from activities.fresh_urls import FreshUrls
from activities.platforms import default_registry
from activities.record import RecordingActivities
from activities.tools import find_executable
from tests.fakes.hls_media import FPS, render
from tests.fakes.live_flv import LiveFlvServer
from tests.fakes.media_check import video_timeline
from tests.fakes.platform import FakePlatforms
from tests.fakes.platform.bilibili import BilibiliApi
from tests.fakes.signed_cdn import SignedCdn
from tests.fakes.sink import wait_until
from tests.fakes.window_hls import FrameIndex, WindowHls

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

    import httpx
    import sqlalchemy as sa

    from activities.engines.base import Engine
    from tests.fakes.hls_media import Rendition

ROOM = "23058"
CHANNEL = f"https://live.bilibili.com/{ROOM}"
SESSION = 5
COOKIE = "SESSDATA=from-the-db"
SEGMENTS = 12  # one second each; 4 out at once, the rest in real time
LIMIT_SECS = 60


@pytest.fixture(scope="module")
def rendition(ffmpeg: Path, tmp_path_factory: pytest.TempPathFactory) -> Rendition:
    # noise: every frame unique, so each video packet names its source frame
    directory = tmp_path_factory.mktemp("refresh-src")
    return render(
        ffmpeg, directory, count=SEGMENTS, video_filter="noise=alls=12:allf=t"
    )


@pytest.fixture(scope="module")
def frames(
    rendition: Rendition, tmp_path_factory: pytest.TempPathFactory
) -> FrameIndex:
    return FrameIndex(rendition, tmp_path_factory.mktemp("refresh-index"))


@pytest.fixture
def db(tmp_path: Path) -> Iterator[sa.Engine]:
    engine = make_engine(f"sqlite:///{tmp_path}/t.db")
    migrate(engine)
    with Session(engine) as session:
        crud.create_streamer(
            session,
            Streamer(
                id=1,
                name="alice",
                url=CHANNEL,
                platform="bilibili",
                channel=ROOM,
                platform_options={"cookies": COOKIE},
            ),
        )
    yield engine
    engine.dispose()


@pytest.fixture
def platforms() -> Iterator[FakePlatforms]:
    with FakePlatforms([BilibiliApi]) as fake:
        yield fake


@pytest.fixture
async def http(platforms: FakePlatforms) -> AsyncIterator[httpx.AsyncClient]:
    async with platforms.client(timeout=10) as client:
        yield client


def rows(db: sa.Engine) -> list[tuple[int, int, bool, Path]]:
    with Session(db) as s:
        return [
            (r.index, r.size_bytes, r.completed_at is not None, Path(r.file_path))
            for r in crud_sessions.list_segments(s, SESSION)
        ]


def recorded(db: sa.Engine) -> int:
    return sum(size for _, size, _, _ in rows(db))


class Recording:
    """One record activity against the fake room, and what it needs."""

    def __init__(
        self, db: sa.Engine, http: httpx.AsyncClient, root: Path, engine: Engine
    ) -> None:
        kind = EngineKind.NATIVE
        if isinstance(engine, FfmpegEngine):
            kind = EngineKind.FFMPEG
        elif isinstance(engine, StreamlinkEngine):
            kind = EngineKind.STREAMLINK
        self.kind = kind
        self.db = db
        self.activities = RecordingActivities(
            {kind: {StreamKind.HLS: engine, StreamKind.FLV: engine}},
            root,
            db,
            heartbeat_interval_secs=0.2,
            fresh_urls=FreshUrls(http, default_registry(), DbOptionsProvider(db)),
        )
        self.http = http
        self.env = ActivityEnvironment()
        self.task: asyncio.Task[RecordResult] | None = None

    async def start(self) -> StreamSource:
        # the live check, as the detect activity makes it (no options needed)
        extractor = default_registry().extractor_for(CHANNEL, self.http)
        status = await extractor.check_live(CHANNEL)
        assert status.source is not None, status
        source = status.source
        assert source.channel_url == CHANNEL
        assert source.expires_at is not None
        inp = RecordInput(
            streamer_id=1,
            streamer_name="alice",
            platform="bilibili",
            session_id=SESSION,
            session_start=datetime.now(UTC),
            title=status.title,
            source=source,
            policy=RecordingPolicy(engine=self.kind),
            workflow_id="no-workflow",
        )
        self.task = asyncio.create_task(
            self.env.run(self.activities.record_stream, inp)
        )
        return source

    async def result(self) -> RecordResult:
        assert self.task is not None
        async with asyncio.timeout(LIMIT_SECS):
            return await self.task

    async def cancel(self) -> None:
        if self.task is not None and not self.task.done():
            self.env.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task


def refresh_cookies(api: BilibiliApi) -> list[str]:
    """The Cookie header of every getRoomPlayInfo request, in order."""
    return [
        r.headers.get("Cookie", "")
        for r in api.requests
        if r.path.endswith("getRoomPlayInfo")
    ]


async def test_native_hls_continues_in_the_same_file_after_a_403(
    tmp_path, db, platforms, http, rendition, frames
) -> None:
    api = platforms.bilibili
    async with (
        WindowHls(rendition, head_start=4) as origin,
        SignedCdn(origin.url) as cdn,
    ):
        api.room(ROOM).go_live(cdn.url_for(origin.url))
        recording = Recording(db, http, tmp_path / "rec", HlsEngine(http))
        try:
            await recording.start()
            await wait_until(lambda: recorded(db) > 0, LIMIT_SECS)
            await origin.wait_for_published(7)
            cdn.revoke()  # the signed URL "expires": playlist and segments 403
            result = await recording.result()
        finally:
            await recording.cancel()
    assert result.reason == "ended"  # ENDLIST, after the last segment
    assert result.url_refreshes == 1
    assert 403 in cdn.statuses(".m3u8")
    # the refresh read the streamer's cookie from the DB: only it carried one
    assert refresh_cookies(api)[1:] == [COOKIE]
    [(_, size, done, path)] = rows(db)  # one session, one file
    assert done
    assert path.stat().st_size == size
    # each segment fetched once, every frame written once, in order, none missing
    assert set(Counter(cdn.served_ok(".ts")).values()) == {1}
    written = frames.frames(path)
    assert written == list(range(written[0], written[0] + len(written)))
    assert written[-1] == SEGMENTS * FPS - 1
    video_timeline([path])  # PyAV: timestamps never go back


async def test_native_flv_reconnects_on_a_fresh_url_and_repairs_on(
    tmp_path, ffmpeg, db, platforms, http
) -> None:
    api = platforms.bilibili
    with LiveFlvServer(ffmpeg, duration_secs=8) as origin, SignedCdn(origin.url) as cdn:
        api.room(ROOM).go_live(cdn.url_for(origin.url))
        recording = Recording(db, http, tmp_path / "rec", FlvEngine(http))
        try:
            source = await recording.start()
            assert source.kind == StreamKind.FLV
            await wait_until(lambda: recorded(db) > 0, LIMIT_SECS)
            before = recorded(db)
            cdn.revoke()  # the edge cuts the connection and refuses the old URL
            result = await recording.result()  # the stream's end: 404 on reconnect
        finally:
            await recording.cancel()
    assert result.reason == "ended"
    assert result.url_refreshes == 1
    assert 403 in cdn.statuses(".flv")
    assert refresh_cookies(api)[1:] == [COOKIE]
    [(_, size, done, path)] = rows(db)
    assert done
    assert path.stat().st_size == size
    assert size > before + 50_000  # the same file went on after the refresh
    timeline = video_timeline([path])  # one timeline, nothing shown twice
    # the reconnect's gap is closed by the repair, not left in the timeline
    assert timeline.largest_gap_secs < 0.5
    assert timeline.media_secs > 4


def remux_engine(kind: EngineKind, ffmpeg: Path) -> Engine:
    if kind == EngineKind.FFMPEG:
        return FfmpegEngine(ffmpeg)
    streamlink = find_executable("streamlink")
    assert streamlink, "streamlink is a dependency: reinstall the project"
    return StreamlinkEngine(ffmpeg, streamlink)


@pytest.mark.parametrize("kind", [EngineKind.FFMPEG, EngineKind.STREAMLINK])
async def test_ffmpeg_and_streamlink_restart_on_a_fresh_url_in_the_next_file(
    tmp_path, ffmpeg, db, platforms, http, rendition, frames, kind: EngineKind
) -> None:
    api = platforms.bilibili
    # 10 s of stream: the restart (streamlink starts in 1-3 s) is long done when
    # the playlist ends (a program that loads an ended playlist plays it all)
    async with (
        WindowHls(rendition, head_start=2) as origin,
        SignedCdn(origin.url) as cdn,
    ):
        api.room(ROOM).go_live(cdn.url_for(origin.url))
        engine = remux_engine(kind, ffmpeg)
        recording = Recording(db, http, tmp_path / "rec", engine)
        try:
            await recording.start()
            await wait_until(lambda: recorded(db) > 0, LIMIT_SECS)
            cdn.revoke()
            result = await recording.result()
        finally:
            await recording.cancel()
    assert result.reason == "ended"
    assert result.url_refreshes == 1
    assert refresh_cookies(api)[1:] == [COOKIE]
    found = rows(db)
    assert [index for index, *_ in found] == [0, 1]  # the restart's file is next
    assert all(done for _, _, done, _ in found)
    first, second = (frames.frames(path) for *_, path in found)
    for path in (p for *_, p in found):
        video_timeline([path])  # each file's timestamps never go back
    startup = FFMPEG_STARTUP_SECS if kind == EngineKind.FFMPEG else SL_STARTUP_SECS
    assert_seam(first, second, startup)
    assert second[-1] == SEGMENTS * FPS - 1


def assert_seam(first: list[int], second: list[int], startup: float) -> None:
    """`second` continues `first`: nothing lost, only the resume's rewind repeated."""
    assert first == sorted(set(first))
    assert second == sorted(set(second))
    seam = second[0] - first[-1] - 1
    # the restart resumes at the last media's live-edge time; what it repeats is
    # the program's start-up allowance, the resume's margin (a segment), the
    # rounding to whole segments (one more) and ffmpeg's progress lag (1 s)
    assert seam <= 0, f"{seam} frames lost at the restart"
    assert -seam <= round((startup + 3) * FPS), f"{-seam} frames repeated"


async def test_ffmpeg_restarts_on_a_fresh_url_before_the_deadline(
    tmp_path, ffmpeg, db, platforms, http, rendition, frames
) -> None:
    api = platforms.bilibili
    # the first URL is good for 5 s: refreshed half its lifetime ahead (a margin
    # for a loaded machine), mid-stream; the fresh one outlives the stream (a
    # restart as the stream ends would read its final playlist from the start,
    # ffmpeg's way with an ended playlist)
    api.stream_ttl_secs = 5
    async with (
        WindowHls(rendition, head_start=4) as origin,
        SignedCdn(origin.url) as cdn,
    ):
        api.room(ROOM).go_live(cdn.url_for(origin.url))
        engine = FfmpegEngine(ffmpeg, refresh_policy=RefreshPolicy(lead_fraction=0.5))
        recording = Recording(db, http, tmp_path / "rec", engine)
        try:
            await recording.start()
            api.stream_ttl_secs = 3600
            result = await recording.result()
        finally:
            await recording.cancel()
    assert result.reason == "ended"
    assert result.url_refreshes == 1
    assert 403 not in cdn.statuses(".m3u8")  # refreshed before the CDN refused it
    found = rows(db)
    assert [index for index, *_ in found] == [0, 1]
    assert all(done for _, _, done, _ in found)
    first, second = (frames.frames(path) for *_, path in found)
    assert_seam(first, second, FFMPEG_STARTUP_SECS)
    assert second[-1] == SEGMENTS * FPS - 1


async def test_a_refresh_that_finds_the_room_offline_ends_the_recording(
    tmp_path, db, platforms, http, rendition
) -> None:
    api = platforms.bilibili
    async with (
        WindowHls(rendition, head_start=4) as origin,
        SignedCdn(origin.url) as cdn,
    ):
        room = api.room(ROOM)
        room.go_live(cdn.url_for(origin.url))
        recording = Recording(db, http, tmp_path / "rec", HlsEngine(http))
        try:
            await recording.start()
            await wait_until(lambda: recorded(db) > 0, LIMIT_SECS)
            room.go_offline()
            cdn.revoke()
            result = await recording.result()
        finally:
            await recording.cancel()
        assert origin.published() < SEGMENTS  # it ended before the stream did
    assert result.reason == "ended"
    assert result.url_refreshes == 0
    [(_, size, done, path)] = rows(db)
    assert done
    assert size > 0
    video_timeline([path])
