"""The recording activity through a live origin that stalls, on the wall clock.

The worker's path end to end below Temporal: `record_stream` with the native HLS
engine on the lean segment path, segment rows in a real database, against a
loopback origin whose playlist stops advancing for 4 s (target duration 1 s).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import httpx
import pytest
from sqlmodel import Session
from temporalio.testing import ActivityEnvironment

from activities.contracts import (
    EngineKind,
    RecordingPolicy,
    RecordInput,
    StreamKind,
    StreamSource,
)
from activities.db import crud_sessions, make_engine, migrate
from activities.engines.hls import HlsEngine
from activities.engines.network import network_access
from activities.record import RecordingActivities
from tests.fakes.hls_media import render
from tests.fakes.live_faults import LiveOriginServer, Variant, stall
from tests.fakes.media_check import video_timeline

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    import sqlalchemy as sa

    from activities.contracts import RecordResult

SESSION = 5


@pytest.fixture(scope="module")
def variant(ffmpeg: Path, tmp_path_factory: pytest.TempPathFactory) -> Variant:
    return Variant("ts", render(ffmpeg, tmp_path_factory.mktemp("ts"), count=24))


@pytest.fixture
def db(tmp_path: Path) -> Iterator[sa.Engine]:
    engine = make_engine(f"sqlite:///{tmp_path}/t.db")
    migrate(engine)
    yield engine
    engine.dispose()


async def record(
    tmp_path: Path, db: sa.Engine, url: str, policy: RecordingPolicy
) -> RecordResult:
    """One `record_stream` activity as the worker runs it (no Temporal server:
    its segment signals are only logged)."""
    network = network_access()
    async with httpx.AsyncClient(timeout=5, verify=network.ssl_context) as http:
        activities = RecordingActivities(
            {EngineKind.NATIVE: {StreamKind.HLS: HlsEngine(http, network=network)}},
            tmp_path / "rec",
            db,
        )
        inp = RecordInput(
            streamer_id=1,
            streamer_name="alice",
            platform="generic",
            session_id=SESSION,
            session_start=datetime.now(UTC),
            title="stall",
            source=StreamSource(url=url, kind=StreamKind.HLS),
            workflow_id="streamer-1",
            policy=policy,
        )
        return await asyncio.wait_for(
            ActivityEnvironment().run(activities.record_stream, inp), 60
        )


def recorded(db: sa.Engine) -> list[Path]:
    from pathlib import Path

    with Session(db) as s:
        segments = crud_sessions.list_segments(s, SESSION)
        assert all(r.completed_at is not None for r in segments)
        return [Path(r.file_path) for r in segments]


async def test_a_four_second_stall_is_recorded_through(
    tmp_path: Path, db: sa.Engine, variant: Variant
) -> None:
    async with LiveOriginServer(variant, end_secs=14.0, faults=[stall(5, 9)]) as server:
        result = await record(tmp_path, db, server.url, RecordingPolicy())
        assert server.ended()
    assert result.reason == "ended"
    files = recorded(db)
    assert len(files) == 1
    timeline = video_timeline(files)
    assert timeline.largest_gap_secs <= 0.5
    assert timeline.media_secs >= 0.9 * server.origin.wall_secs()
    served = server.origin.sequences_served()
    assert sorted(served) == list(range(server.origin.published(14.0)))


async def test_the_policy_stream_timeout_ends_a_longer_stall(
    tmp_path: Path, db: sa.Engine, variant: Variant
) -> None:
    async with LiveOriginServer(
        variant, end_secs=20.0, faults=[stall(3, 20)]
    ) as server:
        policy = RecordingPolicy(stream_timeout_secs=2.0)
        result = await record(tmp_path, db, server.url, policy)
        assert not server.ended()  # it gave up during the stall
    assert result.reason == "stalled"
    [path] = recorded(db)
    assert video_timeline([path]).media_secs >= 3.0
