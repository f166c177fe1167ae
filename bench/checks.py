"""What the concurrent benchmark checks after a run: lost segments and timeouts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlmodel import Session
from temporalio.api.enums.v1 import EventType, TimeoutType

from activities.contracts import streamer_workflow_id
from activities.db import crud_sessions, make_engine

if TYPE_CHECKING:
    from temporalio.client import Client

    from bench.source import LiveSource

# at the stop, a recorder may not have reloaded the playlist since the newest
# segment or two were published: that is lag, not loss
LAG_ALLOWANCE = 2
# downloads the HLS engine keeps in flight (HlsEngine concurrency): fetched when the
# stop came, never written, and not a loss
IN_FLIGHT_SEGMENTS = 4


@dataclass
class StreamCheck:
    """What one recorder fetched and wrote."""

    client: str
    first: int | None
    lost: list[int]
    twice: int
    lag: int
    fetched_bytes: int
    written_bytes: int
    slack_bytes: int

    @property
    def bytes_ok(self) -> bool:
        return 0 <= self.fetched_bytes - self.written_bytes <= self.slack_bytes


def check_streams(
    live: LiveSource, clients: dict[int, str], db_url: str, live_last: int
) -> list[StreamCheck]:
    """Compare each recorder's fetches (source log) with its segment rows."""
    logs = live.logs()
    written: dict[int, int] = dict.fromkeys(clients, 0)
    db = make_engine(db_url)
    with Session(db) as session:
        sessions, _ = crud_sessions.list_sessions(session, limit=10_000)
        for row in sessions:
            assert row.id is not None
            written[row.streamer_id] = written.get(row.streamer_id, 0) + sum(
                s.size_bytes for s in crud_sessions.list_segments(session, row.id)
            )
    db.dispose()
    checks = []
    for streamer_id, client in clients.items():
        entry = logs.get(client)
        fetched = entry.segments if entry else {}
        if not fetched:
            checks.append(StreamCheck(client, None, [], 0, 0, 0, 0, 0))
            continue
        first, last = min(fetched), max(fetched)
        expected = range(first, max(last, live_last - LAG_ALLOWANCE) + 1)
        checks.append(
            StreamCheck(
                client=client,
                first=first,
                lost=[s for s in expected if s not in fetched],
                twice=sum(n - 1 for n in fetched.values() if n > 1),
                lag=max(0, live_last - last),
                fetched_bytes=sum(live.segment_size(s) for s in fetched),
                written_bytes=written.get(streamer_id, 0),
                slack_bytes=sum(
                    live.segment_size(s) for s in sorted(fetched)[-IN_FLIGHT_SEGMENTS:]
                ),
            )
        )
    return checks


def fetch_delays(
    live: LiveSource, clients: dict[int, str], start: float, end: float
) -> list[float]:
    """Publication-to-fetch delays of the segments published in [start, end]."""
    logs = live.logs()
    delays = []
    for client in clients.values():
        entry = logs.get(client)
        if entry is not None:
            delays += [
                delay
                for sequence, delay in entry.delays.items()
                if start <= live.published_at(sequence) <= end
            ]
    return sorted(delays)


def percentile(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(q * len(values)))] if values else 0.0


@dataclass
class HistoryCheck:
    """Heartbeat timeouts and retried recording attempts across all workflows."""

    heartbeat_timeouts: int = 0
    other_timeouts: int = 0
    retried_attempts: int = 0
    unfinished: list[str] = field(default_factory=list)


async def check_histories(client: Client, ids: list[int]) -> HistoryCheck:
    """Scan every streamer workflow's history."""
    result = HistoryCheck()
    for streamer_id in ids:
        handle = client.get_workflow_handle(streamer_workflow_id(streamer_id))
        history = await handle.fetch_history()
        for event in history.events:
            if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT:
                attrs = event.activity_task_timed_out_event_attributes
                kind = attrs.failure.timeout_failure_info.timeout_type
                if kind == TimeoutType.TIMEOUT_TYPE_HEARTBEAT:
                    result.heartbeat_timeouts += 1
                else:
                    result.other_timeouts += 1
            elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
                started = event.activity_task_started_event_attributes
                if started.attempt > 1:
                    result.retried_attempts += started.attempt - 1
                    info = started.last_failure.timeout_failure_info
                    if info.timeout_type == TimeoutType.TIMEOUT_TYPE_HEARTBEAT:
                        result.heartbeat_timeouts += 1
    return result
