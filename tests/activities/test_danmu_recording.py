"""A session of the fake Bilibili room, recorded for real beside its chat.

The record activity (native FLV engine) writes the segment rows as it records the
room's stream; the danmu activity follows them with the room's fake chat. Video N
and danmu N pair by index, every danmu file is valid XML that biliass converts, and
every message is in the file of the segment being recorded when it arrived, timed
from that segment's first frame.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlmodel import Session

from activities.contracts import EngineKind, RecordingPolicy, RecordInput, StreamKind
from activities.danmu_activity import DanmuActivities
from activities.db import crud_danmu, crud_sessions, make_engine, migrate
from activities.detect import DbOptionsProvider
from activities.engines.flv import FlvEngine
from activities.platforms import default_registry
from activities.platforms.bilibili import Bilibili
from activities.record import RecordingActivities
from tests.activities.collecting import HeartbeatingEnvironment
from tests.activities.danmu_support import (
    ROOM,
    URL,
    assert_biliass_reads,
    chat_host_map,
    chat_lines,
    danmu_input,
    open_session,
    start_collector,
    wait_until,
)
from tests.fakes.danmu.frames import bili_danmu, bili_frame, bili_responder
from tests.fakes.danmu.server import FakeChatServer
from tests.fakes.live_flv import LiveFlvServer
from tests.fakes.live_hls import assert_playable
from tests.fakes.platform import FakePlatforms
from tests.fakes.platform.bilibili import BilibiliApi

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from temporalio.testing import WorkflowEnvironment

    from tests.activities.danmu_support import Collector

# a message may reach the activity this long after the test sent it
RECEIPT_SLACK_SECS = 0.5


@pytest.fixture
async def collector(env: WorkflowEnvironment) -> AsyncIterator[Collector]:
    async for running in start_collector(env):
        yield running


async def test_video_and_danmu_files_pair_by_index(
    tmp_path: Path, ffmpeg: Path, env: WorkflowEnvironment, collector: Collector
) -> None:
    db = make_engine(f"sqlite:///{tmp_path}/t.db")
    migrate(db)
    session_id = open_session(db)
    sent: list[float] = []  # wall clock at which message n was sent
    with (
        FakePlatforms(apis=(BilibiliApi,)) as fake,
        LiveFlvServer(ffmpeg, duration_secs=8) as flv,
    ):
        fake.bilibili.room(ROOM, title="t", author="alice").go_live(flv.url)
        async with (
            FakeChatServer(bili_responder) as chat,
            fake.client(timeout=5) as http,
        ):
            status = await Bilibili(http).check_live(URL)
            assert status.source is not None
            danmu = DanmuActivities(
                db,
                http,
                default_registry(),
                options=DbOptionsProvider(db),
                host_map=chat_host_map(chat),
                heartbeat_secs=0.1,
                follow_secs=0.1,
                hold_secs=2.0,
            )
            recording = RecordingActivities(
                {EngineKind.NATIVE: {StreamKind.FLV: FlvEngine(http)}},
                tmp_path / "rec",
                db,
            )
            danmu_env = HeartbeatingEnvironment(env.client)
            danmu_task = asyncio.create_task(
                danmu_env.run(
                    danmu.record_danmu,
                    danmu_input(session_id, collector.workflow_id),
                )
            )
            await chat.wait_connected(1)
            record_task = asyncio.create_task(
                HeartbeatingEnvironment(env.client).run(
                    recording.record_stream,
                    RecordInput(
                        streamer_id=1,
                        streamer_name="alice",
                        platform="bilibili",
                        session_id=session_id,
                        session_start=datetime.now(UTC),
                        title="t",
                        source=status.source,
                        workflow_id=collector.workflow_id,
                        policy=RecordingPolicy(max_segment_duration_secs=1.5),
                    ),
                )
            )
            # a steady chat for as long as the room streams (pacing, not sync)
            while not record_task.done():
                sent.append(time.time())
                n = len(sent) - 1
                await chat.push(bili_frame([bili_danmu(n, f"m{n:05d}")]))
                await asyncio.sleep(0.02)
            assert (await record_task).reason == "ended"
            await wait_until(
                lambda: (
                    bool(danmu_env.heartbeats)
                    and danmu_env.heartbeats[-1].messages == len(sent)
                )
            )
            with Session(db) as s:
                crud_sessions.close_session(s, session_id, datetime.now(UTC))
            result = await danmu_task
    closed, _ = await collector.wait_for(closed=len(result.files))

    with Session(db) as s:
        segments = list(crud_sessions.list_segments(s, session_id))
        files = list(crud_danmu.list_files(s, session_id))
    db.dispose()
    assert result.reason == "session_closed"
    assert len(segments) >= 3
    assert [f.index for f in files] == [s.index for s in segments]
    assert [c.index for c in closed] == [s.index for s in segments]
    starts = [s.started_at.timestamp() for s in segments if s.started_at]
    assert len(starts) == len(segments)
    assert starts == sorted(starts)
    seen: list[int] = []
    for number, (segment, row) in enumerate(zip(segments, files, strict=True)):
        video, xml = Path(segment.file_path), Path(row.file_path)
        assert xml == video.with_suffix(".xml")
        assert_playable(video)
        assert_biliass_reads(xml)
        lines = chat_lines(xml)
        assert row.message_count == len(lines)
        start = starts[number]
        end = starts[number + 1] if number + 1 < len(starts) else float("inf")
        for line in lines:
            n = int(line.text[1:])
            seen.append(n)
            # sent while this segment was the one being recorded (or before the first)
            assert sent[n] < end
            assert number == 0 or sent[n] >= start - RECEIPT_SLACK_SECS
            # timed from the segment's first frame (0 for what came before it)
            expected = max(0.0, sent[n] - start)
            assert expected - 0.01 <= line.time <= expected + RECEIPT_SLACK_SECS
    assert seen == list(range(len(sent)))  # each message once, in order
