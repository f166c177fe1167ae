"""What the danmu activity tests share: a fake Bilibili room with its chat server,
a workflow that collects the activity's signals, and readers of the files."""

from __future__ import annotations

import asyncio
import uuid
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, NamedTuple

import biliass
from sqlmodel import Session
from temporalio import workflow

from activities.contracts import (
    SIGNAL_DANMU_CLOSED,
    SIGNAL_DANMU_STREAM_CLOSED,
    DanmuClosed,
    DanmuStreamClosed,
    RecordDanmuInput,
)
from activities.db import crud_sessions
from tests.activities.collecting import (
    collecting,
    queried_until,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable
    from pathlib import Path

    import sqlalchemy as sa
    from temporalio.client import WorkflowHandle
    from temporalio.testing import WorkflowEnvironment

    from tests.fakes.danmu.server import FakeChatServer

ROOM = "23058"
URL = f"https://live.bilibili.com/{ROOM}"
# the chat hosts the fake getDanmuInfo names (tests/fakes/platform/bilibili.py)
CHAT_HOSTS = ("tx-sh-live-comet-01.chat.bilibili.com", "broadcastlv.chat.bilibili.com")


@workflow.defn(sandboxed=False)
class DanmuCollector:
    """Stands in for the streamer workflow: keeps the danmu activity's signals."""

    def __init__(self) -> None:
        self.closed: list[DanmuClosed] = []
        self.stream_closed: list[DanmuStreamClosed] = []

    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: False)

    @workflow.signal(name=SIGNAL_DANMU_CLOSED)
    def danmu_closed(self, inp: DanmuClosed | None = None) -> None:
        if inp is not None:
            self.closed.append(inp)

    @workflow.signal(name=SIGNAL_DANMU_STREAM_CLOSED)
    def danmu_stream_closed(self, inp: DanmuStreamClosed | None = None) -> None:
        if inp is not None:
            self.stream_closed.append(inp)

    @workflow.query
    def signals(self) -> tuple[list[DanmuClosed], list[DanmuStreamClosed]]:
        return self.closed, self.stream_closed


class Collector:
    def __init__(self, handle: WorkflowHandle[DanmuCollector, None]) -> None:
        self.handle = handle

    @property
    def workflow_id(self) -> str:
        return self.handle.id

    async def wait_for(
        self, closed: int = 0, stream_closed: int = 0, within: float = 20.0
    ) -> tuple[list[DanmuClosed], list[DanmuStreamClosed]]:
        return await queried_until(
            self.handle,
            DanmuCollector.signals,
            lambda got: len(got[0]) >= closed and len(got[1]) >= stream_closed,
            within,
        )


async def start_collector(env: WorkflowEnvironment) -> AsyncIterator[Collector]:
    """Run a `DanmuCollector` for one test (a fixture's body)."""
    async for handle in collecting(env, DanmuCollector, DanmuCollector.run):
        yield Collector(handle)


def chat_host_map(chat: FakeChatServer) -> dict[str, str]:
    """The fake room's chat hosts, sent to the local chat server."""
    address = chat.url.split("/")[2]
    return dict.fromkeys(CHAT_HOSTS, address)


def open_session(db: sa.Engine, start: datetime | None = None) -> int:
    with Session(db) as s:
        session = crud_sessions.open_session(
            s,
            streamer_id=1,
            title="t",
            start_time=start or datetime.now(UTC),
            open_key=str(uuid.uuid4()),
        )
        assert session.id is not None
        return session.id


def danmu_input(session_id: int, workflow_id: str, **kw: Any) -> RecordDanmuInput:
    fields: dict[str, Any] = {
        "streamer_id": 1,
        "streamer_name": "alice",
        "url": URL,
        "session_id": session_id,
        "session_start": datetime(2026, 1, 1, tzinfo=UTC),
        "title": "t",
        "workflow_id": workflow_id,
    }
    return RecordDanmuInput(**(fields | kw))


class Line(NamedTuple):
    """One `<d>` of a file: its time and its text."""

    time: float
    text: str


def chat_lines(path: Path) -> list[Line]:
    """The chat messages of a file (it must parse as XML)."""
    root = ET.parse(path).getroot()
    return [
        Line(float((d.get("p") or "").split(",")[0]), d.text or "")
        for d in root.iter("d")
    ]


def assert_biliass_reads(path: Path) -> None:
    """biliass converts the file, one dialogue per chat message."""
    ass = biliass.convert_to_ass(path.read_bytes(), 1280, 720, reduce_comments=False)
    assert ass.count("Dialogue:") == len(chat_lines(path))


async def wait_until(check: Callable[[], bool], within: float = 20.0) -> None:
    """Poll a state (a row, a counter) until it holds."""
    async with asyncio.timeout(within):
        while not check():  # noqa: ASYNC110 - polls state another task changes
            await asyncio.sleep(0.02)
