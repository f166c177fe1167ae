"""ffmpeg and streamlink after a worker crash: they die with it, and the retry resumes.

A recording runs in a process of its own (`tests.fakes.crash_recording`) and is
killed with SIGKILL mid-file, as a worker dies; the stream goes on for a while (a
worker notices a dead attempt only after its heartbeat timeout); then the next
attempt runs the record activity here. Every video packet of the files is traced
back to the source frame it copies (`FrameIndex`), so the seam between the attempts
is measured in frames: nothing may be lost, and what is repeated is bounded by twice
the engine's start-up allowance, three segments and ffmpeg's progress lag.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
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
    StreamKind,
    StreamSource,
)
from activities.db import crud_sessions, make_engine, migrate
from activities.engines.remux.ffmpeg import STARTUP_SECS as FFMPEG_STARTUP_SECS
from activities.engines.remux.ffmpeg import FfmpegEngine
from activities.engines.remux.resume import (
    EdgeClock,
    Window,
    load_window,
    resume_back,
    segments_back,
)
from activities.engines.remux.streamlink import STARTUP_SECS as SL_STARTUP_SECS
from activities.engines.remux.streamlink import StreamlinkEngine
from activities.record import RecordingActivities
from activities.tools import find_executable
from tests.fakes.hls_media import FPS, render
from tests.fakes.sink import wait_until
from tests.fakes.window_hls import FrameIndex, WindowHls

if TYPE_CHECKING:
    import sqlalchemy as sa

    from activities.engines.base import Engine
    from tests.fakes.hls_media import Rendition

REPO = Path(__file__).parents[3]
SESSION = 7
SEGMENT_SECS = 1.0
# a dead worker's attempt is retried after its heartbeat timeout: meanwhile the
# stream moves on this many segments (on main, ffmpeg lost all of them)
SEGMENTS_WHILE_DEAD = 6


WINDOW = Window(durations=(2.0, 2.0, 2.0, 2.0, 2.0, 2.0), ended=False, loaded_at=1000.0)


@pytest.mark.parametrize(
    ("rewind", "back"),
    [
        pytest.param(0.0, 1, id="at-the-edge"),
        pytest.param(0.5, 2, id="inside-the-last"),
        pytest.param(4.0, 3, id="on-a-boundary"),
        pytest.param(4.1, 4, id="just-past-it"),
        pytest.param(11.0, 6, id="the-first"),
        pytest.param(60.0, 6, id="gone-from-the-window"),
    ],
)
def test_segments_back_holds_the_rewind_and_one_more(rewind: float, back: int) -> None:
    assert segments_back(WINDOW, rewind) == back


def test_a_resume_rewinds_to_the_last_media_plus_the_start_up() -> None:
    # the last media was at the live edge 5 s before this load; +1 s of start-up
    edge_ms = round((WINDOW.loaded_at - 5.0) * 1000)
    assert resume_back(WINDOW, edge_ms, startup_secs=1.0) == 4
    # a future point (clocks of two machines apart): start at the newest segment
    assert resume_back(WINDOW, edge_ms + 60_000, startup_secs=0.0) == 1


def test_edge_clock_counts_from_the_start_segment() -> None:
    # three segments back: the run's media starts 6 s behind the edge at the load
    clock = EdgeClock(WINDOW, back=3)
    assert clock.at(0.0) == 994_000
    assert clock.at(6.5) == 1_000_500
    # an ended playlist is played from its first segment
    ended = Window(durations=WINDOW.durations, ended=True, loaded_at=1000.0)
    assert EdgeClock(ended, back=3).at(0.0) == 988_000


async def test_load_window_follows_a_master_playlist(rendition: Rendition) -> None:
    async with WindowHls(rendition, window=5, head_start=8) as live:
        media = live.url
        master = media.replace("live.m3u8", "master.m3u8")
        live.extra[master.rsplit("/", 1)[1]] = (
            b"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=100000\nnot-this.m3u8\n"
            b"#EXT-X-STREAM-INF:BANDWIDTH=900000\nlive.m3u8\n"
        )
        for url in (media, master):
            window = await load_window(StreamSource(url=url, kind=StreamKind.HLS))
            assert window is not None
            assert window.durations == (1.0,) * 5
            assert not window.ended
        gone = media.replace("live.m3u8", "gone.m3u8")
        assert await load_window(StreamSource(url=gone, kind=StreamKind.HLS)) is None


@pytest.fixture(scope="module")
def rendition(ffmpeg: Path, tmp_path_factory: pytest.TempPathFactory) -> Rendition:
    # noise: every frame unique, so each packet names its frame
    directory = tmp_path_factory.mktemp("resume-src")
    return render(ffmpeg, directory, count=60, video_filter="noise=alls=12:allf=t")


@pytest.fixture(scope="module")
def frames(
    rendition: Rendition, tmp_path_factory: pytest.TempPathFactory
) -> FrameIndex:
    return FrameIndex(rendition, tmp_path_factory.mktemp("resume-index"))


def _engine(kind: EngineKind, ffmpeg: Path) -> Engine:
    if kind == EngineKind.FFMPEG:
        return FfmpegEngine(ffmpeg)
    streamlink = find_executable("streamlink")
    assert streamlink, "streamlink is a dependency: reinstall the project"
    return StreamlinkEngine(ffmpeg, streamlink)


def _rows(db: sa.Engine) -> list[tuple[int, int, bool, Path]]:
    with Session(db) as s:
        return [
            (r.index, r.size_bytes, r.completed_at is not None, Path(r.file_path))
            for r in crud_sessions.list_segments(s, SESSION)
        ]


def _programs_touching(*needles: str) -> list[str]:
    """Command lines of live processes that name any of `needles`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        with contextlib.suppress(OSError):
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            if any(n in cmdline for n in needles):
                found.append(cmdline)
    return found


async def _gone(needles: tuple[str, ...], limit_secs: float) -> bool:
    with contextlib.suppress(TimeoutError):
        await wait_until(lambda: not _programs_touching(*needles), limit_secs)
        return True
    return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc, pdeathsig")
@pytest.mark.parametrize("kind", [EngineKind.FFMPEG, EngineKind.STREAMLINK])
async def test_a_killed_recording_dies_with_its_worker_and_resumes(
    tmp_path, ffmpeg, rendition, frames, kind: EngineKind
) -> None:
    db_url = f"sqlite:///{tmp_path}/t.db"
    db = make_engine(db_url)
    migrate(db)
    root = tmp_path / "rec"
    async with WindowHls(rendition, window=20, head_start=4) as live:
        inp = RecordInput(
            streamer_id=1,
            streamer_name="alice",
            platform="generic",
            session_id=SESSION,
            session_start=datetime.now(UTC),
            title="t",
            source=StreamSource(url=live.url, kind=StreamKind.HLS),
            policy=RecordingPolicy(engine=kind, max_segment_duration_secs=2.0),
            workflow_id="no-workflow",
        )
        dying = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.fakes.crash_recording",
            inp.model_dump_json(),
            db_url,
            str(root),
            cwd=REPO,
            stderr=asyncio.subprocess.DEVNULL,
        )
        # killed mid-file: one file closed, the next holding confirmed bytes
        await wait_until(
            lambda: (
                any(done for *_, done, _ in _rows(db))
                and any(size > 0 and not done for _, size, done, _ in _rows(db))
            ),
            limit_secs=60,
        )
        dying.kill()
        await dying.wait()
        killed_at = live.published()
        died_with_it = await _gone((str(root), live.url), limit_secs=5)
        await live.wait_for_published(killed_at + SEGMENTS_WHILE_DEAD)

        # settling keeps what holds confirmed bytes; the retry writes the next index
        last_killed = max(index for index, size, *_ in _rows(db) if size > 0)
        activities = RecordingActivities(
            {kind: {StreamKind.HLS: _engine(kind, ffmpeg)}},
            root,
            db,
            heartbeat_interval_secs=0.5,
        )
        env = ActivityEnvironment()
        retry = asyncio.create_task(env.run(activities.record_stream, inp))
        await wait_until(
            lambda: any(i > last_killed and done for i, _, done, _ in _rows(db)),
            limit_secs=60,
        )
        env.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await retry

    rows = {index: (size, done, path) for index, size, done, path in _rows(db)}
    assert all(done for _, done, _ in rows.values())
    settled, resumed = rows[last_killed][2], rows[last_killed + 1][2]
    assert settled.stat().st_size == rows[last_killed][0]  # cut back to its row
    last_frame = max(frames.frames(settled, cut_tail=True))
    first_frame = min(frames.frames(resumed))
    lost = first_frame - last_frame - 1
    startup = FFMPEG_STARTUP_SECS if kind == EngineKind.FFMPEG else SL_STARTUP_SECS
    # the start-up counts twice (the first attempt's program loads its playlist
    # after srec's, the retry allows for it), and ffmpeg's progress (twice a
    # second, read by a busy loop) lags the bytes
    allowed = round((2 * startup + 3 * SEGMENT_SECS + 2) * FPS)
    assert lost <= 0, f"{lost} frames lost between the attempts ({lost / FPS:.1f} s)"
    assert -lost <= allowed, f"{-lost} frames repeated, at most {allowed} expected"
    assert not list(root.rglob(".srec-*")), "staging files left behind"
    assert died_with_it, "the killed worker's programs kept running"
