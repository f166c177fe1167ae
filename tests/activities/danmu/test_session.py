"""DanmuSession: rotation under load, reconnects without loss, files biliass reads."""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

import biliass

from activities.danmu import ControlKind, DanmuConnectInfo, DanmuSession, RoomMeta
from tests.fakes.danmu.clock import SteppedClock
from tests.fakes.danmu.frames import (
    bili_command,
    bili_danmu,
    bili_frame,
    bili_responder,
)
from tests.fakes.danmu.server import FakeChatServer

META = RoomMeta(platform="bilibili", room_id="22608112", name="n", title="t")


def ids(path: Path) -> list[str]:
    return [d.text or "" for d in ET.parse(path).getroot().iter("d")]


async def wait_for(check: object, within: float = 30) -> None:
    async with asyncio.timeout(within):
        while not check():  # type: ignore[operator]  # noqa: ASYNC110 - polls state
            await asyncio.sleep(0.005)


async def test_rotation_under_load_and_reconnect_lose_nothing(tmp_path: Path) -> None:
    clock = SteppedClock()
    wall = [1_000_000.0]
    closed: list[object] = []
    async with FakeChatServer(bili_responder) as server:
        info = DanmuConnectInfo(
            platform="bilibili", room_id="1", ws_urls=[server.url], token="k"
        )
        session = DanmuSession(
            info,
            lambda i: tmp_path / f"seg{i:03d}.xml",
            META,
            on_control=closed.append,
            wall=lambda: wall[0],
            clock=clock,
            sleep=clock.sleep,
            rng=lambda: 0.5,
        )
        await session.start()
        await server.wait_connected(1)
        sent = 0

        async def burst(count: int, overlap: int = 0) -> None:
            # 50 messages per brotli frame, like a busy room
            nonlocal sent
            start = sent - overlap
            for first in range(start, sent + count, 50):
                last = min(first + 50, sent + count)
                await server.push(
                    bili_frame([bili_danmu(i, f"{i:06d}") for i in range(first, last)])
                )
            sent += count

        await burst(200)  # before the first segment: kept for file 0
        await wait_for(lambda: session.progress().messages == 200)
        for index in range(6):
            wall[0] += 10
            await session.rotate(
                index, datetime.fromtimestamp(wall[0], UTC), media_start=index * 10.0
            )
            await burst(1_000)
            if index == 3:  # the server drops us; the next connection repeats 100
                await wait_for(lambda: session.progress().messages == sent)
                await server.drop()
                await clock.wait_sleeping(len(clock.slept) + 1)
                await clock.advance(60)
                await server.wait_connected(2)
                await burst(0, overlap=100)
        await wait_for(lambda: session.progress().messages == sent)
        await server.push(bili_frame([bili_command("PREPARING")]))
        await wait_for(session.stream_closed.is_set)
        result = await session.stop()

    assert [f.index for f in result.files] == list(range(6))
    texts = [t for f in result.files for t in ids(Path(f.path))]
    assert texts == [f"{i:06d}" for i in range(sent)]  # each once, in order
    assert sum(f.messages for f in result.files) == sent == 6_200
    assert result.progress.duplicates == 100
    assert result.progress.connects == 2
    assert result.statistics.by_kind == {"chat": sent}
    assert [c.kind for c in closed] == [ControlKind.STREAM_CLOSED]  # type: ignore[attr-defined]
    for f in result.files:
        ass = biliass.convert_to_ass(
            Path(f.path).read_bytes(),
            1280,
            720,
            reduce_comments=False,
        )
        assert ass.count("Dialogue:") == f.messages


async def test_messages_after_the_next_first_frame_move_to_the_next_file(
    tmp_path: Path,
) -> None:
    wall = [2_000_000.0]
    async with FakeChatServer(bili_responder) as server:
        info = DanmuConnectInfo(platform="bilibili", room_id="1", ws_urls=[server.url])
        session = DanmuSession(
            info,
            lambda i: tmp_path / f"{i}.xml",
            META,
            wall=lambda: wall[0],
            flush_secs=3600,
        )
        await session.start()
        await server.wait_connected(1)
        await session.rotate(0, datetime.fromtimestamp(wall[0], UTC))
        await server.push(bili_frame([bili_danmu(1, "old")]))
        await wait_for(lambda: session.progress().messages == 1)
        wall[0] += 5
        await server.push(bili_frame([bili_danmu(2, "new")]))
        await wait_for(lambda: session.progress().messages == 2)
        # the engine reports segment 1's first frame (at +5 s) a moment late
        closed = await session.rotate(1, datetime.fromtimestamp(wall[0], UTC))
        result = await session.stop()
    assert closed is not None
    assert ids(Path(closed.path)) == ["old"]
    assert ids(Path(result.files[1].path)) == ["new"]
    assert (
        ET.parse(result.files[1].path).getroot().find("d").get("p").startswith("0.000,")
    )  # type: ignore[union-attr]


async def test_a_failing_provider_never_raises_into_the_caller(tmp_path: Path) -> None:
    info = DanmuConnectInfo(
        platform="douyin", room_id="1"
    )  # no signed URL: cannot connect
    clock = SteppedClock()
    session = DanmuSession(
        info, lambda i: tmp_path / f"{i}.xml", META, clock=clock, sleep=clock.sleep
    )
    await session.start()
    await clock.wait_sleeping(2)
    assert "signed" in session.progress().last_error
    await session.rotate(0, datetime.now(UTC))
    # an unwritable next file is reported, not raised
    (tmp_path / "1.xml").mkdir()
    await session.rotate(1, datetime.now(UTC))
    result = await session.stop()
    assert [f.index for f in result.files] == [0]
    assert "segment 1" in result.progress.last_error
