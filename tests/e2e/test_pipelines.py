"""End to end: the pipeline triggers of a recorded session, through the real stack.

A live HLS stream from ffmpeg on loopback is recorded by `srec worker` into
2-second segments (`test_recording.py`'s stack). The streamer has three pipelines:

* segment: remux to MP4 (the `.ts` removed), then a thumbnail of the MP4;
* paired: a command per pair; it never becomes due here, since nothing records
  the chat of a generic HLS stream (no danmu file N), and the session's waiter must
  not wait for it;
* session: every file the session's runs left, archived into one zip.

Each segment's run starts from the recording activity as the file closes; the
session run starts from the waiter the streamer workflow starts at the session's
close. Each happens once: one run row and one Temporal execution per id, every job
started once, and the files are there.
"""

from __future__ import annotations

import asyncio
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from activities import contracts as c
from activities.pipeline_contracts import PIPELINE_WORKFLOW_TYPE
from tests.e2e.stack import Stack, wait_until
from tests.e2e.test_recording import only_session, segments
from tests.fakes.live_hls import LiveHls
from workflows.client import connect

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = pytest.mark.e2e

SEGMENTS = 3
PIPELINES = {
    "segment_pipeline": {
        "steps": [
            {"id": "mp4", "processor": "remux"},
            {
                "id": "thumb",
                "processor": "thumbnail",
                "config": {"width": 160},
                "depends_on": ["mp4"],
            },
        ]
    },
    "paired_pipeline": {
        "steps": [{"id": "pair", "processor": "execute", "config": {"command": "true"}}]
    },
    "session_pipeline": {
        "steps": [{"id": "zip", "processor": "archive", "config": {"level": 0}}]
    },
}
# bounds for a failure on a loaded machine, not delays
START_SECS = 90.0
RECORD_SECS = 60.0
SETTLE_SECS = 60.0


@pytest.fixture
def live(tmp_path: Path, ffmpeg: Path) -> Iterator[LiveHls]:
    # a short window: the recording starts near the live edge, not 30 s back
    with LiveHls(
        tmp_path / "hls", ffmpeg=ffmpeg, hls_time=1.0, list_size=3, duration=300
    ) as stream:
        stream.wait_for_segments(1)
        yield stream


def runs(api: httpx.Client, session_id: int) -> list[dict[str, Any]]:
    page = api.get(
        "/api/pipeline/runs", params={"session_id": session_id, "limit": 100}
    )
    assert page.status_code == 200, page.text
    items: list[dict[str, Any]] = page.json()["items"]
    return items


def jobs(api: httpx.Client, session_id: int) -> list[dict[str, Any]]:
    page = api.get(
        "/api/pipeline/jobs", params={"session_id": session_id, "limit": 100}
    )
    assert page.status_code == 200, page.text
    items: list[dict[str, Any]] = page.json()["items"]
    return items


def executions(address: str) -> list[str]:
    """The workflow id of every pipeline and waiter execution, one per execution."""

    async def listed() -> list[str]:
        client = await connect(address)
        types = (PIPELINE_WORKFLOW_TYPE, c.SESSION_COMPLETE_WORKFLOW_TYPE)
        query = " OR ".join(f"WorkflowType = '{t}'" for t in types)
        return [w.id async for w in client.list_workflows(query)]

    return asyncio.run(listed())


def settled(api: httpx.Client, session_id: int) -> list[dict[str, Any]] | None:
    """The session's runs once the session run is final and nothing is running."""
    found = runs(api, session_id)
    final = {"COMPLETED", "FAILED", "CANCELLED"}
    done = any(r["kind"] == "session" and r["status"] in final for r in found)
    return found if done and all(r["status"] in final for r in found) else None


def test_segment_and_session_pipelines_run_once_each(
    stack: Stack, live: LiveHls
) -> None:
    stack.start("api")
    stack.start("worker")  # both start at once
    base = f"http://127.0.0.1:{stack.api_port}"
    wait_until(  # two processes importing at once on a loaded machine
        lambda: httpx.get(f"{base}/api/health/live").status_code == 200,
        START_SECS,
        "the API to start",
    )
    api = stack.api()
    response = api.post(
        "/api/streamers",
        json={"name": "Alice", "url": live.url, "settings": PIPELINES},
    )
    assert response.status_code == 201, response.text
    session = wait_until(lambda: only_session(api), RECORD_SECS, "a session to open")
    sid = session["id"]
    wait_until(
        lambda: sum(1 for s in segments(api, sid) if s["completed_at"]) >= SEGMENTS,
        RECORD_SECS,
        f"{SEGMENTS} closed segments",
    )
    live.end_stream()
    found = wait_until(lambda: settled(api, sid), SETTLE_SECS, "the session run")

    rows = segments(api, sid)
    assert len(rows) >= SEGMENTS
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for run in found:
        by_kind.setdefault(run["kind"], []).append(run)
    assert sorted(by_kind) == ["seg", "session"], found  # no pair: no danmu file
    seg_runs = sorted(by_kind["seg"], key=lambda r: r["segment_index"])
    assert [r["segment_index"] for r in seg_runs] == [r["index"] for r in rows]
    assert [r["workflow_id"] for r in seg_runs] == [
        c.trigger_workflow_id(c.RunKind.SEGMENT, sid, r["index"]) for r in rows
    ]
    assert all(r["status"] == "COMPLETED" for r in found), found
    (session_run,) = by_kind["session"]
    assert session_run["workflow_id"] == c.trigger_workflow_id(
        c.RunKind.SESSION, sid, None
    )

    # every step ran once, and left its files
    steps = jobs(api, sid)
    assert len(steps) == 2 * len(rows) + 1
    assert all(j["status"] == "COMPLETED" and j["attempt"] == 1 for j in steps)
    made: dict[str, list[str]] = {}
    for job in steps:
        made.setdefault(job["step_id"], []).extend(job["outputs"]["files"])
    for row in rows:
        ts = Path(row["file_path"])
        assert not ts.exists()  # the remux removed its input
        assert ts.with_suffix(".mp4").is_file()
        assert str(ts.with_suffix(".mp4")) in made["mp4"]
    assert len(made["thumb"]) == len(rows)
    assert all(Path(f).stat().st_size > 0 for f in made["thumb"])
    (archive,) = made["zip"]
    with zipfile.ZipFile(archive) as z:
        names = sorted(Path(n).name for n in z.namelist())
    expected = sorted(Path(f).name for f in made["mp4"] + made["thumb"])
    assert names == expected

    # one Temporal execution per run id and one waiter: nothing started twice
    ids = executions(stack.temporal_address)
    assert sorted(ids) == sorted(
        [r["workflow_id"] for r in found] + [c.session_complete_workflow_id(sid)]
    )
