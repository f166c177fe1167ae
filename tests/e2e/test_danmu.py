"""End to end: a fake Bilibili room's video and chat, recorded by the stack.

The fake platform (`tests/fakes/platform`) answers the room's APIs on loopback and
broadcasts a real ffmpeg FLV stream; its getDanmuInfo names chat hosts that
`SREC_HOST_MAP` sends to a local chat server speaking Bilibili's protocol
(`tests/fakes/danmu`). The global level turns `record_danmu` and
`end_stream_on_danmu_stream_closed` on. While the worker records, the test keeps
the chat going; then the room goes offline and the chat says PREPARING, which ends
the session at once (the FLV stream still flows). Each video segment has its danmu
file of the same index, valid XML, rows closed, every message in exactly one file.

The streamer's paired trigger runs too: each video is remuxed to MP4 by its segment
pipeline, and each pair (the MP4 and the chat file of the same index) is rendered to
ASS by the paired pipeline, once, after both sides were done.
"""

from __future__ import annotations

import asyncio
import time
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from activities import contracts as c
from tests.e2e.stack import FAST_SETTINGS, Stack
from tests.e2e.test_pipelines import runs
from tests.e2e.test_platforms import BILIBILI, sessions_of
from tests.e2e.test_recording import segments
from tests.fakes.danmu.frames import (
    bili_command,
    bili_danmu,
    bili_frame,
    bili_responder,
)
from tests.fakes.danmu.server import FakeChatServer
from tests.fakes.live_flv import LiveFlvServer
from tests.fakes.platform import FakePlatforms

if TYPE_CHECKING:
    from collections.abc import Callable

pytestmark = pytest.mark.e2e

# the chat hosts the fake getDanmuInfo names (tests/fakes/platform/bilibili.py)
CHAT_HOSTS = ("tx-sh-live-comet-01.chat.bilibili.com", "broadcastlv.chat.bilibili.com")
SEGMENTS = 2  # closed segments recorded before the room goes offline
# each video segment remuxed to MP4; each pair (MP4 + chat) rendered to ASS
PIPELINES = {
    "segment_pipeline": {"steps": [{"id": "mp4", "processor": "remux"}]},
    "paired_pipeline": {"steps": [{"id": "ass", "processor": "danmaku"}]},
}


async def wait_for(check: Callable[[], Any], within: float, what: str) -> Any:
    """Poll `check()` (blocking HTTP: in a thread) while this loop serves the chat."""
    deadline = time.monotonic() + within
    while True:
        try:
            result = await asyncio.to_thread(check)
        except httpx.HTTPError:
            result = None
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within:.0f} s waiting for {what}")
        await asyncio.sleep(0.25)


def closed_segments(api: httpx.Client, streamer_id: int) -> list[dict[str, Any]]:
    return [
        seg
        for session in sessions_of(api, streamer_id)
        for seg in segments(api, session["id"])
        if seg["completed_at"]
    ]


async def test_video_and_danmu_files_pair_by_index_and_the_chat_ends_the_session(
    tmp_path: Path, dev_server: str, ffmpeg: Path
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    sent = 0
    with (
        FakePlatforms() as fake,
        LiveFlvServer(ffmpeg, duration_secs=120) as flv,
    ):
        async with FakeChatServer(bili_responder) as chat:
            address = chat.url.split("/")[2]
            routes = fake.host_map_setting + "".join(
                f",{host}={address}" for host in CHAT_HOSTS
            )
            settings = dict(
                FAST_SETTINGS,
                SREC_HOST_MAP=routes,
                SREC_RECORD_DANMU="true",
                SREC_END_STREAM_ON_DANMU_STREAM_CLOSED="true",
            )
            stack = Stack(data, dev_server, settings=settings)
            try:
                room = fake.bilibili.room("23058", title="t", author="alice")
                room.extra.update(uid=11153765, short_id=3)
                room.go_live(flv.url)
                stack.start("api")
                stack.start("worker")  # both start at once: the slow part of a run
                health = f"http://127.0.0.1:{stack.api_port}/api/health/live"
                await wait_for(
                    lambda: httpx.get(health).status_code == 200, 90, "the API"
                )
                api = await asyncio.to_thread(stack.api)
                created = api.post(
                    "/api/streamers",
                    json={"name": "bili", "url": BILIBILI, "settings": PIPELINES},
                )
                assert created.status_code == 201, created.text
                bili = created.json()
                await chat.wait_until(lambda: chat.connections >= 1, within=30)

                async def talk() -> None:  # a steady chat (pacing, not sync)
                    nonlocal sent
                    while True:
                        await chat.push(bili_frame([bili_danmu(sent, f"m{sent:04d}")]))
                        sent += 1
                        await asyncio.sleep(0.05)

                talking = asyncio.create_task(talk())
                try:
                    await wait_for(
                        lambda: len(closed_segments(api, bili["id"])) >= SEGMENTS,
                        40,
                        f"{SEGMENTS} closed segments",
                    )
                finally:
                    talking.cancel()
                room.go_offline()  # no new session on the next poll
                await chat.push(bili_frame([bili_command("PREPARING")]))
                await wait_for(
                    lambda: (s := sessions_of(api, bili["id"])) and s[0]["end_time"],
                    30,
                    "the chat's PREPARING to end the session",
                )
                (session,) = sessions_of(api, bili["id"])
                rows = segments(api, session["id"])
                stats = api.get(f"/api/sessions/{session['id']}/danmu-statistics")
                found = await wait_for(
                    lambda: settled(api, session["id"], rows), 60, "the pair runs"
                )
            finally:
                await asyncio.to_thread(stack.stop)
        log = stack.log("worker")
    assert "chat says the stream closed (PREPARING): ending the session" in log
    assert len(rows) >= SEGMENTS
    counts = []
    for row in rows:
        video, danmu = Path(row["file_path"]), row["danmu"]
        assert danmu is not None, row
        path = Path(danmu["file_path"])
        assert path == video.with_suffix(".xml")
        assert danmu["closed_at"] is not None
        root = ET.parse(path).getroot()  # valid XML, closed
        texts = [d.text for d in root.iter("d")]
        assert len(texts) == danmu["message_count"]
        counts.append(texts)
    every = [text for texts in counts for text in texts]
    assert every == [f"m{n:04d}" for n in range(sent)]  # none lost, none twice
    assert stats.status_code == 200
    body = stats.json()
    assert body["complete"] is True
    assert body["total"] == sent
    check_pairs(found, session["id"], rows)


def settled(
    api: httpx.Client, session_id: int, rows: list[dict[str, Any]]
) -> list[dict[str, Any]] | None:
    """The session's runs once every pair has its final run and nothing runs."""
    found = runs(api, session_id)
    final = {"COMPLETED", "FAILED", "CANCELLED"}
    pairs = {r["segment_index"] for r in found if r["kind"] == "pair"}
    if pairs != {row["index"] for row in rows}:
        return None
    return found if all(r["status"] in final for r in found) else None


def at(text: str) -> datetime:
    when = datetime.fromisoformat(text)
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def check_pairs(
    found: list[dict[str, Any]], session_id: int, rows: list[dict[str, Any]]
) -> None:
    """Each pair ran once, after both of its sides, on what they left."""
    assert all(r["status"] == "COMPLETED" for r in found), found
    by_id = {r["workflow_id"]: r for r in found}
    assert len(by_id) == len(found)  # one row per run id
    # a segment run per video; the remux root leaves the danmu files alone
    assert sorted(r["kind"] for r in found) == sorted(["seg", "pair"] * len(rows))
    for row in rows:
        index = row["index"]
        seg = by_id[c.trigger_workflow_id(c.RunKind.SEGMENT, session_id, index)]
        pair = by_id[c.trigger_workflow_id(c.RunKind.PAIR, session_id, index)]
        video, xml = Path(row["file_path"]), Path(row["danmu"]["file_path"])
        # the remux's MP4 (its .flv removed) and the chat file, nothing else
        assert sorted(pair["inputs"]) == sorted(
            [str(video.with_suffix(".mp4")), str(xml)]
        )
        assert at(pair["started_at"]) >= at(seg["finished_at"])
        assert at(pair["started_at"]) >= at(row["danmu"]["closed_at"])
        ass = xml.with_suffix(".ass")
        assert ass.read_text(encoding="utf-8-sig").startswith("[Script Info]")
