"""A running recording follows its streamer's configuration (hot reload).

The record activity reads the effective configuration from the database itself:
the segment limits at its start (the workflow's may be older), again whenever the
configuration generation changes (a new limit applies at the next segment), and
the proxy's password, which never travels in its input or a log line.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

import httpx
import pytest
from sqlmodel import Session

from activities.config.follow import ConfigWatch
from activities.contracts import (
    EngineKind,
    RecordingPolicy,
    StreamKind,
    StreamSource,
)
from activities.db import (
    Streamer,
    crud,
    crud_config,
    crud_sessions,
    make_engine,
    migrate,
)
from activities.engines.base import SegmentState
from activities.engines.hls import HlsEngine
from activities.record import RecordingActivities
from tests.activities.collecting import HeartbeatingEnvironment
from tests.activities.record_support import (
    Collector,
    record_input,
    rows,
    start_collector,
)
from tests.fakes.live_hls import LiveHls

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Iterator
    from pathlib import Path

    import sqlalchemy as sa
    from temporalio.testing import WorkflowEnvironment

    from activities.engines.base import OutputPlan, RecordingStats, SegmentSink
    from activities.engines.refresh import Refresh

CHUNK = 100
SECRET = "pa:ss-w0rd"
PROXY = "http://rec@proxy.test:3128"


@pytest.fixture
async def collector(env: WorkflowEnvironment) -> AsyncIterator[Collector]:
    async for running in start_collector(env):
        yield running


@pytest.fixture
def db(tmp_path: Path) -> Iterator[sa.Engine]:
    engine = make_engine(f"sqlite:///{tmp_path}/t.db")
    migrate(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def activity_env(env: WorkflowEnvironment) -> HeartbeatingEnvironment:
    return HeartbeatingEnvironment(env.client)


async def until(check: Callable[[], bool]) -> None:
    """Wait (real time, bounded by the caller's timeout) until `check()` holds."""
    while True:
        if check():
            return
        await asyncio.sleep(0.02)


def add_streamer(db: sa.Engine, url: str, global_settings: dict[str, object]) -> None:
    with Session(db) as session:
        row = crud.create_streamer(
            session, Streamer(name="alice", url=url, platform="generic")
        )
        assert row.id == 1  # record_input's streamer
        crud_config.set_global(session, global_settings)


class SizeEngine:
    """Writes CHUNK bytes at a time; closes a file once it reaches the plan's size.

    The plan's limit is read at every boundary, as the real engines do.
    """

    def __init__(self) -> None:
        self.sources: list[StreamSource] = []
        self.closed: list[int] = []
        self.stop = asyncio.Event()

    async def record(
        self,
        source: StreamSource,
        plan: OutputPlan,
        sink: SegmentSink,
        stats: RecordingStats,
        *,
        refresh: Refresh | None = None,
    ) -> str:
        self.sources.append(source)
        index = plan.start_index
        while not self.stop.is_set():
            path = plan.path_for(index, "ts")
            path.parent.mkdir(parents=True, exist_ok=True)
            state = SegmentState(index=index, path=path)
            await sink.opened(state)
            with path.open("wb") as out:
                while state.size_bytes < plan.max_size_bytes:
                    out.write(b"\0" * CHUNK)
                    out.flush()
                    state.size_bytes += CHUNK
                    stats.bytes_written += CHUNK
                    await sink.progressed(state)
                    await asyncio.sleep(0.01)
            await sink.closed(state)
            self.closed.append(state.size_bytes)
            index += 1
            stats.next_index = index
        return "ended"


async def test_a_new_size_limit_applies_at_the_next_segment(
    tmp_path: Path,
    db: sa.Engine,
    collector: Collector,
    activity_env: HeartbeatingEnvironment,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    add_streamer(
        db,
        "https://cdn.example.com/a.m3u8",
        {"max_segment_size_bytes": 1000, "proxy": PROXY},
    )
    with Session(db) as session:
        crud_config.put_platform(session, "generic", {}, {"proxy_password": SECRET})
    engine = SizeEngine()
    acts = RecordingActivities(
        {EngineKind.NATIVE: {StreamKind.HLS: engine}},
        tmp_path / "rec",
        db,
        watch=ConfigWatch(db, interval_secs=0.05),
    )
    source = StreamSource(url="https://cdn.example.com/a.m3u8", kind=StreamKind.HLS)
    # the workflow's copy is older than the database's: the database wins
    inp = record_input(
        source,
        collector.workflow_id,
        policy=RecordingPolicy(max_segment_size_bytes=5000),
    )
    task = asyncio.create_task(activity_env.run(acts.record_stream, inp))
    async with asyncio.timeout(20):
        await until(lambda: len(engine.closed) >= 2)
        with Session(db) as session:
            crud_config.set_global(
                session,
                {"max_segment_size_bytes": 300, "proxy": "http://rec@proxy.test:3128"},
            )
        await until(lambda: len(engine.closed) >= 5)
    engine.stop.set()
    result = await task
    assert engine.closed[:2] == [1000, 1000]
    # the file open at the change closes at its next boundary; the next ones at 300
    assert all(size == 300 for size in engine.closed[-2:])
    assert result.reason == "ended"
    stored = rows(db)
    assert [size for _, size, _ in stored] == engine.closed
    # the proxy's password reached the engine only, never a log line or the result
    (seen,) = engine.sources
    assert seen.proxy == "http://rec:pa%3Ass-w0rd@proxy.test:3128"
    assert SECRET not in caplog.text
    assert "pa%3Ass" not in caplog.text
    assert SECRET not in result.model_dump_json()


async def test_a_new_duration_limit_reaches_the_native_hls_engine(
    tmp_path: Path,
    ffmpeg: Path,
    db: sa.Engine,
    collector: Collector,
    activity_env: HeartbeatingEnvironment,
) -> None:
    async with (
        LiveHls(tmp_path / "hls", ffmpeg=ffmpeg, duration=14, list_size=6) as live,
        httpx.AsyncClient(timeout=5) as http,
    ):
        add_streamer(db, live.url, {"max_segment_duration_secs": 1.0})
        acts = RecordingActivities(
            {EngineKind.NATIVE: {StreamKind.HLS: HlsEngine(http)}},
            tmp_path / "rec",
            db,
            heartbeat_interval_secs=0.2,
            watch=ConfigWatch(db, interval_secs=0.05),
        )
        await live.wait_for_segments_async(1, timeout=15)
        inp = record_input(
            StreamSource(url=live.url, kind=StreamKind.HLS), collector.workflow_id
        )
        task = asyncio.create_task(activity_env.run(acts.record_stream, inp))
        async with asyncio.timeout(30):
            await until(lambda: sum(done for _, _, done in rows(db)) >= 2)
            with Session(db) as session:
                crud_config.set_global(session, {"max_segment_duration_secs": 4.0})
            changed_at = sum(done for _, _, done in rows(db))
            result = await task
    assert result.reason == "ended"
    with Session(db) as session:
        durations = [s.duration_secs for s in crud_sessions.list_segments(session, 11)]
    before, after = durations[:changed_at], durations[changed_at + 1 : -1]
    assert all(d <= 1.5 for d in before), durations
    assert after, durations
    assert all(d >= 3.5 for d in after), durations
