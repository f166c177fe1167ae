"""The danmu activity against the fake Bilibili room and its chat server: exact
rotation at recorded boundaries, rows and statistics, signals, resume after a dead
attempt, the disconnection alert. Time is the test's: a stepped wall clock."""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from sqlmodel import Session, select
from temporalio.activity import ActivityCancellationDetails
from temporalio.exceptions import ApplicationError

from activities.contracts import RecordDanmuProgress
from activities.danmu_activity import DanmuActivities
from activities.db import Event, crud_danmu, crud_sessions, make_engine, migrate
from activities.detect import DbOptionsProvider
from activities.notify import Dispatcher
from activities.platforms import default_registry
from tests.activities.collecting import HeartbeatingEnvironment
from tests.activities.danmu_support import (
    CHAT_HOSTS,
    ROOM,
    assert_biliass_reads,
    chat_host_map,
    chat_lines,
    danmu_input,
    open_session,
    start_collector,
    wait_until,
)
from tests.fakes.danmu.frames import (
    bili_command,
    bili_danmu,
    bili_frame,
    bili_responder,
)
from tests.fakes.danmu.server import FakeChatServer
from tests.fakes.platform import FakePlatforms
from tests.fakes.platform.bilibili import BilibiliApi

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

    import httpx
    import sqlalchemy as sa
    from temporalio.testing import WorkflowEnvironment

    from tests.activities.danmu_support import Collector


@pytest.fixture
def db(tmp_path: Path) -> Iterator[sa.Engine]:
    engine = make_engine(f"sqlite:///{tmp_path}/t.db")
    migrate(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def fake() -> Iterator[FakePlatforms]:
    with FakePlatforms(apis=(BilibiliApi,)) as platforms:
        platforms.bilibili.room(ROOM, title="t", author="alice")
        yield platforms


@pytest.fixture
async def http(fake: FakePlatforms) -> AsyncIterator[httpx.AsyncClient]:
    async with fake.client(timeout=5) as client:
        yield client


@pytest.fixture
async def chat() -> AsyncIterator[FakeChatServer]:
    async with FakeChatServer(bili_responder) as server:
        yield server


@pytest.fixture
async def collector(env: WorkflowEnvironment) -> AsyncIterator[Collector]:
    async for running in start_collector(env):
        yield running


class Wall:
    """The activity's epoch clock, moved by the test."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def at(self, secs: float) -> datetime:
        return datetime.fromtimestamp(secs, UTC)


def acts(
    db: sa.Engine, http: httpx.AsyncClient, host_map: dict[str, str], **kw: Any
) -> DanmuActivities:
    return DanmuActivities(
        db,
        http,
        default_registry(),
        options=DbOptionsProvider(db),
        host_map=host_map,
        heartbeat_secs=0.05,
        follow_secs=0.05,
        save_secs=0.2,
        **kw,
    )


def add_segment(db: sa.Engine, session_id: int, path: Path, index: int, at: datetime):
    with Session(db) as s:
        crud_sessions.begin_segment(
            s,
            session_id=session_id,
            index=index,
            file_path=str(path),
            started_at=at,
            media_start_secs=0.0,
        )


def files(db: sa.Engine, session_id: int) -> list[Any]:
    with Session(db) as s:
        return list(crud_danmu.list_files(s, session_id))


def close(db: sa.Engine, session_id: int, at: datetime) -> None:
    with Session(db) as s:
        crud_sessions.close_session(s, session_id, at)


def last(env: HeartbeatingEnvironment) -> RecordDanmuProgress:
    return env.heartbeats[-1] if env.heartbeats else RecordDanmuProgress()


class Room:
    """Says things in the room at the test's wall-clock times."""

    def __init__(
        self, chat: FakeChatServer, env: HeartbeatingEnvironment, wall: Wall
    ) -> None:
        self.chat, self.env, self.wall = chat, env, wall
        self.said = 0

    async def say(self, at: float, *commands: dict[str, Any]) -> None:
        self.wall.now = at
        await self.chat.push(bili_frame(list(commands)))
        self.said += len(commands)
        await wait_until(lambda: last(self.env).messages >= self.said)


async def test_files_rotate_exactly_at_each_recorded_first_frame(
    tmp_path, db, http, chat, collector, env
) -> None:
    wall = Wall(1_000.0)
    session_id = open_session(db)
    videos = [tmp_path / "rec" / f"alice_{i}.flv" for i in range(3)]
    add_segment(db, session_id, videos[0], 0, wall.at(1_000.0))
    activity_env = HeartbeatingEnvironment(env.client)
    danmu = acts(db, http, chat_host_map(chat), wall=wall, hold_secs=5.0)
    task = asyncio.create_task(
        activity_env.run(
            danmu.record_danmu, danmu_input(session_id, collector.workflow_id)
        )
    )
    await chat.wait_connected(1)
    room = Room(chat, activity_env, wall)
    await room.say(1_001.0, bili_danmu(0, "a"))
    await room.say(1_002.0, bili_danmu(1, "b"))
    # segment 1's first frame was at 1001.5; its row is read 1.5 s later
    wall.now = 1_003.0
    add_segment(db, session_id, videos[1], 1, wall.at(1_001.5))
    await wait_until(lambda: len(files(db, session_id)) == 2)
    await room.say(1_004.0, bili_danmu(2, "c"))
    # segment 2 starts in the future (a file opened ahead of its media): not yet
    add_segment(db, session_id, videos[2], 2, wall.at(1_010.0))
    await room.say(1_005.0, bili_danmu(3, "d"))
    await room.say(1_011.0, bili_danmu(4, "e"))
    await wait_until(lambda: len(files(db, session_id)) == 3)
    wall.now = 1_020.0
    close(db, session_id, wall.at(1_020.0))
    result = await task

    assert result.reason == "session_closed"
    rows = files(db, session_id)
    assert [(r.index, r.message_count) for r in rows] == [(0, 1), (1, 3), (2, 1)]
    assert all(r.closed_at is not None for r in rows)
    assert [Path(r.file_path) for r in rows] == [v.with_suffix(".xml") for v in videos]
    assert [chat_lines(Path(r.file_path)) for r in rows] == [
        [(1.0, "a")],
        [(0.5, "b"), (2.5, "c"), (3.5, "d")],
        [(1.0, "e")],
    ]
    for row in rows:
        assert_biliass_reads(Path(row.file_path))
    closed, _ = await collector.wait_for(closed=3)
    assert [(c.index, c.message_count, c.session_files) for c in closed] == [
        (0, 1, 1),
        (1, 3, 2),
        (2, 1, 3),
    ]
    assert [c.index for c in result.files] == [0, 1, 2]


async def test_statistics_rows_and_the_stream_closed_signal(
    tmp_path, db, http, chat, collector, env
) -> None:
    wall = Wall(2_000.0)
    session_id = open_session(db, start=wall.at(2_000.0))
    add_segment(db, session_id, tmp_path / "v_0.ts", 0, wall.at(2_000.0))
    activity_env = HeartbeatingEnvironment(env.client)
    danmu = acts(db, http, chat_host_map(chat), wall=wall, hold_secs=0.0)
    inp = danmu_input(session_id, collector.workflow_id, session_start=wall.at(2_000.0))
    task = asyncio.create_task(activity_env.run(danmu.record_danmu, inp))
    await chat.wait_connected(1)
    room = Room(chat, activity_env, wall)
    await room.say(
        2_010.0,
        bili_danmu(0, "晚上好 hello", uid=1, uname="ann"),
        bili_danmu(1, "hello again", uid=1, uname="ann"),
        bili_danmu(2, "晚上好", uid=2, uname="bob"),
        bili_command("SEND_GIFT"),
        bili_command("SUPER_CHAT_MESSAGE"),
        bili_command("GUARD_BUY"),
        bili_command("INTERACT_WORD"),
    )
    await room.say(2_070.0, bili_danmu(3, "<&> 🎉", uid=2, uname="bob"))
    # statistics are saved as the chat goes, before the session ends
    await wait_until(lambda: _stats(db, session_id) is not None)
    await chat.push(bili_frame([bili_command("PREPARING")]))
    _, stream_closed = await collector.wait_for(stream_closed=1)
    assert [(s.session_id, s.platform) for s in stream_closed] == [
        (session_id, "bilibili")
    ]
    activity_env.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    row = _stats(db, session_id)
    assert row is not None
    assert row.complete
    stats = row.statistics
    assert stats["by_kind"] == {
        "chat": 4,
        "gift": 1,
        "super_chat": 1,
        "guard": 1,
        "user_join": 1,
    }
    assert stats["unique_talkers"] == 2
    assert [(t["user_name"], t["messages"]) for t in stats["top_talkers"]] == [
        ("ann", 2),
        ("bob", 2),
    ]
    assert {"晚上好", "hello"} <= {w["word"] for w in stats["top_words"][:2]}
    assert [b["start_secs"] for b in stats["rate"]] == [0.0, 60.0]
    assert len(stats["top_gifts"]) == 3
    # the cancel closed the file and its row, and said so
    [(path, count, done)] = [
        (Path(r.file_path), r.message_count, r.closed_at) for r in files(db, session_id)
    ]
    assert done is not None
    assert count == 7  # chat, gift, super chat, guard: what the XML records
    tags = [e.tag for e in ET.parse(path).getroot()]
    assert {"gift", "sc", "guard"} <= set(tags)
    assert chat_lines(path)[-1].text == "<&> 🎉"
    assert_biliass_reads(path)
    closed, _ = await collector.wait_for(closed=1)
    assert [(c.index, c.message_count) for c in closed] == [(0, 7)]


async def test_the_cancel_at_a_sessions_end_gives_a_late_segment_its_file(
    tmp_path, db, http, chat, collector, env
) -> None:
    # the recording opened segment 1 and stopped between two reads of the rows
    wall = Wall(1_000.0)
    session_id = open_session(db)
    videos = [tmp_path / f"alice_{i}.flv" for i in range(2)]
    add_segment(db, session_id, videos[0], 0, wall.at(1_000.0))
    activity_env = HeartbeatingEnvironment(env.client)
    danmu = DanmuActivities(
        db,
        http,
        default_registry(),
        host_map=chat_host_map(chat),
        heartbeat_secs=0.05,
        follow_secs=3_600.0,  # the rows are read once, at the start
        hold_secs=5.0,
        wall=wall,
    )
    inp = danmu_input(session_id, collector.workflow_id)
    task = asyncio.create_task(activity_env.run(danmu.record_danmu, inp))
    await wait_until(lambda: len(files(db, session_id)) == 1)
    room = Room(chat, activity_env, wall)
    await room.say(1_001.0, bili_danmu(0, "a"))
    add_segment(db, session_id, videos[1], 1, wall.at(1_001.5))
    await room.say(1_002.0, bili_danmu(1, "b"))
    activity_env.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    rows = files(db, session_id)
    assert [(r.index, r.message_count) for r in rows] == [(0, 1), (1, 1)]
    assert all(r.closed_at is not None for r in rows)
    assert [chat_lines(Path(r.file_path)) for r in rows] == [[(1.0, "a")], [(0.5, "b")]]


def _stats(db: sa.Engine, session_id: int) -> Any:
    with Session(db) as s:
        return crud_danmu.get_statistics(s, session_id)


@pytest.mark.parametrize(
    "how",
    [pytest.param("shutdown"), pytest.param("timed-out"), pytest.param("killed")],
)
async def test_a_retry_continues_the_file_without_repeating_messages(
    tmp_path, db, http, chat, collector, env, how: str
) -> None:
    wall = Wall(3_000.0)
    session_id = open_session(db)
    add_segment(db, session_id, tmp_path / "v_0.ts", 0, wall.at(3_000.0))
    danmu = acts(db, http, chat_host_map(chat), wall=wall, hold_secs=1.0)
    inp = danmu_input(session_id, collector.workflow_id)
    first = HeartbeatingEnvironment(env.client)
    task = asyncio.create_task(first.run(danmu.record_danmu, inp))
    await chat.wait_connected(1)
    room = Room(chat, first, wall)
    for n in range(10):
        await room.say(3_001.0 + n, bili_danmu(n, f"m{n:02d}"))
    wall.now = 3_020.0  # all ten are past the hold: the next flush writes them
    await wait_until(lambda: flushed(first) == 10)
    if how == "timed-out":  # the server gave up on the attempt: a retry follows
        first.cancel(ActivityCancellationDetails(timed_out=True))
        with pytest.raises(asyncio.CancelledError):
            await task
    else:
        first.worker_shutdown()
        with pytest.raises(ApplicationError) as stopped:
            await task
        assert stopped.value.type == "WorkerShutdown"
    [row] = files(db, session_id)
    assert row.closed_at is None  # left for the next attempt to continue
    path = Path(row.file_path)
    if how == "killed":
        # what a kill -9 mid-write leaves: no closing tag, half a line
        text = path.read_bytes()
        path.write_bytes(text[: text.rindex(b"</i>")] + b'<d p="19.0,1,25,167')

    # the retry: the platform repeats its last three messages to the new connection
    chat.on_connect = lambda n: (
        [bili_frame([bili_danmu(i, f"m{i:02d}") for i in (7, 8, 9)])] if n == 2 else []
    )
    second = HeartbeatingEnvironment(env.client)
    second.info = dataclasses.replace(
        second.info, attempt=2, heartbeat_details=[first.heartbeats[-1]]
    )
    task = asyncio.create_task(second.run(danmu.record_danmu, inp))
    await chat.wait_connected(2)
    await wait_until(lambda: last(second).duplicates == 3)
    room = Room(chat, second, wall)
    for n in (10, 11):
        await room.say(3_030.0 + n, bili_danmu(n, f"m{n:02d}"))
    wall.now = 3_050.0
    close(db, session_id, wall.at(3_050.0))
    result = await task

    assert result.duplicates == 3
    assert [line.text for line in chat_lines(path)] == [f"m{n:02d}" for n in range(12)]
    assert_biliass_reads(path)
    [row] = files(db, session_id)
    assert (row.message_count, row.closed_at is not None) == (12, True)
    closed, _ = await collector.wait_for(closed=1)
    assert [(c.index, c.message_count) for c in closed] == [(0, 12)]


def flushed(env: HeartbeatingEnvironment) -> int:
    current = last(env).current
    return current.messages if current is not None else 0


async def test_an_unreachable_chat_raises_one_disconnected_event(
    tmp_path, db, http, collector, env
) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    host_map = dict.fromkeys(CHAT_HOSTS, f"127.0.0.1:{port}")
    session_id = open_session(db)
    danmu = acts(
        db,
        http,
        host_map,
        dispatcher=Dispatcher(db, lambda: env.client),
        connection={"alert_after_secs": 0.0},
    )
    activity_env = HeartbeatingEnvironment(env.client)
    task = asyncio.create_task(
        activity_env.run(
            danmu.record_danmu, danmu_input(session_id, collector.workflow_id)
        )
    )

    def events() -> list[Event]:
        with Session(db) as s:
            return list(s.exec(select(Event)).all())

    await wait_until(lambda: len(events()) == 1)
    activity_env.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    [event] = events()
    assert (event.kind, event.session_id) == ("danmu_disconnected", session_id)
    assert event.key.startswith(f"{collector.workflow_id}/session-{session_id}/")
    assert "refused" in event.detail.lower()


async def test_a_platform_without_chat_ends_at_once(db, http, env) -> None:
    danmu = acts(db, http, {})
    inp = danmu_input(1, "streamer-1", url="https://cdn.example.com/live/index.m3u8")
    result = await HeartbeatingEnvironment(env.client).run(danmu.record_danmu, inp)
    assert result.reason == "unsupported"


async def test_another_instances_workflow_is_refused(db, http, env) -> None:
    danmu = acts(db, http, {})
    inp = danmu_input(1, "streamer-1", instance_id="not-this-one")
    with pytest.raises(ApplicationError) as refused:
        await HeartbeatingEnvironment(env.client).run(danmu.record_danmu, inp)
    assert refused.value.type == "ForeignInstance"
