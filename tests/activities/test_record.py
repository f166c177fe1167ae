"""The recording activity: rows, signals, heartbeats, cancellation, crash recovery."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
from sqlmodel import Session, col, select
from temporalio.exceptions import ApplicationError

from activities.contracts import (
    EngineKind,
    RecordingPolicy,
    RecordProgress,
    StreamKind,
    StreamSource,
)
from activities.db import Event, crud_sessions, make_engine, migrate
from activities.engines.hls import HlsEngine
from activities.metrics import REGISTRY
from activities.record import RecordingActivities
from activities.segment_events import SegmentEvents, segment_event_key
from activities.segments import settle
from tests.activities.collecting import HeartbeatingEnvironment
from tests.activities.record_support import (
    SESSION,
    Collector,
    record_input,
    rows,
    start_collector,
)
from tests.fakes.live_hls import LiveHls, assert_playable

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

    import sqlalchemy as sa
    from temporalio.testing import WorkflowEnvironment

BASE = "https://cdn.example.com/live/"
PLAYLIST_URL = BASE + "index.m3u8"


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


def row_paths(db: sa.Engine) -> dict[int, Path]:
    with Session(db) as s:
        return {
            r.index: Path(r.file_path) for r in crud_sessions.list_segments(s, SESSION)
        }


def metric(name: str, platform: str | None = "generic") -> float:
    labels = {} if platform is None else {"platform": platform}
    return REGISTRY.get_sample_value(name, labels) or 0.0


# --- a real stream --------------------------------------------------------------------


async def test_records_until_the_stream_ends(
    tmp_path, ffmpeg, db, collector, activity_env
) -> None:
    rec = tmp_path / "rec"
    async with (
        LiveHls(tmp_path / "hls", ffmpeg=ffmpeg, duration=4, list_size=6) as live,
        httpx.AsyncClient(timeout=5) as http,
    ):
        acts = RecordingActivities(
            {EngineKind.NATIVE: {StreamKind.HLS: HlsEngine(http)}},
            rec,
            db,
            heartbeat_interval_secs=0.2,
        )
        seen_active: list[int] = []
        seen_gauge: list[float] = []
        heartbeats = activity_env.heartbeats

        def on_heartbeat(*details: object) -> None:
            heartbeats.extend(details)
            seen_active.append(acts.active_recordings)
            seen_gauge.append(metric("srec_recordings_active", platform=None))

        activity_env.on_heartbeat = on_heartbeat
        await live.wait_for_segments_async(1, timeout=15)
        source = StreamSource(url=live.url, kind=StreamKind.HLS)
        counted = (
            metric("srec_segments_written_total"),
            metric("srec_recorded_bytes_total"),
        )
        inp = record_input(
            source,
            collector.workflow_id,
            policy=RecordingPolicy(max_segment_duration_secs=2.0),
        )
        result = await activity_env.run(acts.record_stream, inp)
    assert result.reason == "ended"
    assert acts.active_recordings == 0
    assert set(seen_active) == {1}
    assert set(seen_gauge) == {1}
    stored = rows(db)
    assert len(stored) == result.segments_closed >= 2
    assert all(done for _, _, done in stored)
    assert [index for index, _, _ in stored] == list(range(len(stored)))
    assert result.next_index == len(stored)
    assert result.bytes_written == sum(size for _, size, _ in stored)
    assert result.media_time_secs == pytest.approx(4.0, abs=0.5)
    # the worker's series: what this attempt wrote, and nothing running any more
    assert metric("srec_segments_written_total") - counted[0] == len(stored)
    assert metric("srec_recorded_bytes_total") - counted[1] == result.bytes_written
    assert metric("srec_recordings_active", platform=None) == 0
    paths = row_paths(db)
    for index, size, _ in stored:
        path = paths[index]
        assert path.parent == rec / "alice"
        assert path.name.startswith("alice-")
        assert path.name.endswith(f"-test stream_{index}.ts")
        assert path.stat().st_size == size
        assert_playable(path)
    signalled = await collector.wait_for(len(stored))
    assert [(s.index, s.size_bytes) for s in signalled] == [
        (index, size) for index, size, _ in stored
    ]
    # what each file holds, read by the engine, announced and stored: no probe
    layout = [("video", "h264", 320, 240, None), ("audio", "aac", None, None, 44100)]
    for closed in signalled:
        assert closed.valid
        assert [
            (m.kind, m.codec, m.width, m.height, m.sample_rate) for m in closed.streams
        ] == layout
    with Session(db) as s:
        for row in crud_sessions.list_segments(s, SESSION):
            assert row.valid
            assert row.streams == [m.model_dump() for m in signalled[0].streams]
    assert all(isinstance(h, RecordProgress) for h in heartbeats)
    assert heartbeats[-1].bytes_written > 0


@pytest.mark.parametrize("how", [pytest.param("cancel"), pytest.param("shutdown")])
async def test_stopping_finalises_the_open_file(
    tmp_path, ffmpeg, db, collector, activity_env, how: str
) -> None:
    rec = tmp_path / "rec"
    async with (
        LiveHls(tmp_path / "hls", ffmpeg=ffmpeg, duration=30, list_size=6) as live,
        httpx.AsyncClient(timeout=5) as http,
    ):
        acts = RecordingActivities(
            {EngineKind.NATIVE: {StreamKind.HLS: HlsEngine(http)}},
            rec,
            db,
            heartbeat_interval_secs=0.1,
        )
        await live.wait_for_segments_async(1, timeout=15)
        inp = record_input(
            StreamSource(url=live.url, kind=StreamKind.HLS), collector.workflow_id
        )
        task = asyncio.create_task(activity_env.run(acts.record_stream, inp))
        async with asyncio.timeout(15):
            while True:
                if any(size > 0 for _, size, _ in rows(db)):
                    break
                await asyncio.sleep(0.05)
        assert acts.active_recordings == 1
        if how == "cancel":
            activity_env.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        else:
            activity_env.worker_shutdown()
            with pytest.raises(ApplicationError) as caught:
                await task
            assert caught.value.type == "WorkerShutdown"
            assert not caught.value.non_retryable
    assert acts.active_recordings == 0
    [(index, size, done)] = rows(db)
    assert done
    assert size > 0
    path = row_paths(db)[index]
    assert path.stat().st_size == size
    assert_playable(path)
    [signalled] = await collector.wait_for(1)
    assert (signalled.index, signalled.size_bytes) == (0, size)


# --- scripted origin: crash recovery and errors ------------------------------------


def body(seq: int) -> bytes:
    return f"<segment {seq}>".encode()


def joined(*seqs: int) -> bytes:
    return b"".join(body(s) for s in seqs)


def playlist(seq: int, count: int, *, head: str = "") -> str:
    lines = ["#EXTM3U", "#EXT-X-TARGETDURATION:2", f"#EXT-X-MEDIA-SEQUENCE:{seq}"]
    if head:
        lines.append(head)
    for n in range(seq, seq + count):
        lines += ["#EXTINF:2.0,", f"seg{n}.ts"]
    return "\n".join([*lines, "#EXT-X-ENDLIST"]) + "\n"


class Origin:
    """One ENDLIST playlist and its segments; any other request fails the test."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.segment_requests: list[int] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        url = str(request.url)
        if url == PLAYLIST_URL:
            return httpx.Response(200, text=self.text)
        if url.startswith(BASE + "seg") and url.endswith(".ts"):
            seq = int(url[len(BASE) + 3 : -3])
            self.segment_requests.append(seq)
            return httpx.Response(200, content=body(seq))
        raise AssertionError(f"unexpected request to {url}")


SCRIPTED = StreamSource(url=PLAYLIST_URL, kind=StreamKind.HLS)


def add_row(
    db: sa.Engine,
    path: Path,
    content: bytes,
    *,
    index: int,
    size: int,
    marker: int | None,
    completed: bool = False,
    session_id: int = SESSION,
) -> None:
    """Leave a segment as a killed worker would: a row and a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    with Session(db) as s:
        crud_sessions.begin_segment(
            s, session_id=session_id, index=index, file_path=str(path)
        )
        crud_sessions.record_segment_progress(
            s,
            session_id=session_id,
            index=index,
            size_bytes=size,
            duration_secs=2.0 * (size // len(body(0))),
            resume_marker=marker,
        )
        if completed:
            crud_sessions.complete_segment(
                s,
                session_id=session_id,
                index=index,
                size_bytes=size,
                duration_secs=4.0,
                resume_marker=marker,
            )


async def test_retry_settles_a_killed_attempt_and_resumes_after_it(
    tmp_path, db, collector, activity_env
) -> None:
    old = tmp_path / "rec" / "alice"
    # index 0: closed normally; index 1: killed mid-write, with bytes past the last
    # confirmed size; index 2: opened, its first write never confirmed
    add_row(db, old / "a_0.ts", joined(0, 1), index=0, size=len(joined(0, 1)),
            marker=1, completed=True)  # fmt: skip
    add_row(db, old / "a_1.ts", joined(2, 3) + b"<segm", index=1,
            size=len(joined(2, 3)), marker=3)  # fmt: skip
    add_row(db, old / "a_2.ts", b"<segment 4", index=2, size=0, marker=None)
    # the dead attempt's staging file, and one of another session's recording
    (old / ".srec-s11-0badf00d-000003.ts").write_bytes(b"<segment 4")
    (old / ".srec-s12-0badf00d-000001.ts").write_bytes(b"live")
    origin = Origin(playlist(1, 5))  # 1..5 still in the window
    dispatched: list[str] = []

    async def dispatch(key: str) -> None:
        dispatched.append(key)

    events = SegmentEvents(dispatch)
    async with httpx.AsyncClient(transport=httpx.MockTransport(origin)) as http:
        acts = RecordingActivities(
            {EngineKind.NATIVE: {StreamKind.HLS: HlsEngine(http)}},
            tmp_path / "rec",
            db,
            events=events,
        )
        result = await activity_env.run(
            acts.record_stream, record_input(SCRIPTED, collector.workflow_id)
        )
    assert result.reason == "ended"
    assert (old / "a_1.ts").read_bytes() == joined(2, 3)
    assert not (old / "a_2.ts").exists()
    assert origin.segment_requests == [4, 5]  # nothing lost, nothing twice
    assert rows(db) == [
        (0, len(joined(0, 1)), True),
        (1, len(joined(2, 3)), True),
        (2, len(joined(4, 5)), True),
    ]
    assert row_paths(db)[2].read_bytes() == joined(4, 5)
    assert result.next_index == 3
    assert [p.name for p in old.glob(".srec-*")] == [".srec-s12-0badf00d-000001.ts"]
    with Session(db) as s:
        # not media: checked, and said so, when settled or closed
        assert [r.valid for r in crud_sessions.list_segments(s, SESSION)] == [
            None,
            False,
            False,
        ]
    signalled = await collector.wait_for(2)
    assert [(s.index, s.size_bytes) for s in signalled] == [
        (1, len(joined(2, 3))),
        (2, len(joined(4, 5))),
    ]
    assert signalled[0].file_path == str(old / "a_1.ts")
    assert [(s.valid, s.streams) for s in signalled] == [(False, []), (False, [])]
    # segment_completed: recorded with the row (the settled one and the new one),
    # each delivered once its row committed; settling again (a retry) adds none
    keys = [segment_event_key(SESSION, i) for i in (1, 2)]
    assert dispatched == keys
    settle(db, SESSION, events=events)

    with Session(db) as s:
        stored = s.exec(select(Event).order_by(col(Event.id))).all()
    assert [(e.kind, e.key) for e in stored] == [("segment_completed", k) for k in keys]
    assert stored[0].subject == str(old / "a_1.ts")


async def test_rows_without_a_file_are_dropped_and_the_index_respected(
    tmp_path, db, collector, activity_env
) -> None:
    ghost = tmp_path / "rec" / "alice" / "ghost_0.ts"
    add_row(db, ghost, b"", index=0, size=100, marker=9)
    ghost.unlink()
    origin = Origin(playlist(0, 1))
    async with httpx.AsyncClient(transport=httpx.MockTransport(origin)) as http:
        acts = RecordingActivities(
            {EngineKind.NATIVE: {StreamKind.HLS: HlsEngine(http)}}, tmp_path / "rec", db
        )
        inp = record_input(SCRIPTED, collector.workflow_id, start_index=5)
        result = await activity_env.run(acts.record_stream, inp)
    assert rows(db) == [(5, len(body(0)), True)]
    assert origin.segment_requests == [0]  # the dropped row's marker is forgotten
    assert result.next_index == 6


async def test_signal_failure_is_logged_not_fatal(
    tmp_path, db, activity_env, caplog
) -> None:
    origin = Origin(playlist(0, 2))
    async with httpx.AsyncClient(transport=httpx.MockTransport(origin)) as http:
        acts = RecordingActivities(
            {EngineKind.NATIVE: {StreamKind.HLS: HlsEngine(http)}}, tmp_path / "rec", db
        )
        inp = record_input(SCRIPTED, f"no-such-workflow-{uuid.uuid4()}")
        result = await activity_env.run(acts.record_stream, inp)
    assert result.segments_closed == 1
    assert rows(db) == [(0, len(joined(0, 1)), True)]
    assert "could not signal" in caplog.text


async def test_unknown_stream_kind_is_not_retried(tmp_path, db, activity_env) -> None:
    acts = RecordingActivities({}, tmp_path / "rec", db)
    inp = record_input(StreamSource(url="http://x/y.flv", kind=StreamKind.FLV), "wf")
    with pytest.raises(ApplicationError) as caught:
        await activity_env.run(acts.record_stream, inp)
    assert caught.value.non_retryable
    assert caught.value.type == "UnsupportedStreamKind"


async def test_engine_errors_become_application_errors(
    tmp_path, db, activity_env
) -> None:
    # sample encryption cannot be recorded: refused before anything is fetched
    origin = Origin(playlist(0, 1, head='#EXT-X-KEY:METHOD=SAMPLE-AES,URI="k.bin"'))
    async with httpx.AsyncClient(transport=httpx.MockTransport(origin)) as http:
        acts = RecordingActivities(
            {EngineKind.NATIVE: {StreamKind.HLS: HlsEngine(http)}}, tmp_path / "rec", db
        )
        with pytest.raises(ApplicationError) as caught:
            await activity_env.run(acts.record_stream, record_input(SCRIPTED, "wf"))
    assert caught.value.type == "RecorderProcessError"
    assert acts.active_recordings == 0
