"""A shard poller on a fake clock, fake platforms and a fake signaller."""

from __future__ import annotations

import asyncio
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar

import httpx

from activities.contracts import (
    Detected,
    LiveOutcome,
    LiveStatus,
    StreamInfo,
    StreamKind,
    StreamSelection,
)
from activities.platforms import Channel, Extractor, PlatformRegistry
from activities.platforms.base import answer
from activities.poll.check import Checker
from activities.poll.roster import Entry
from activities.poll.shard import ShardPoller

if TYPE_CHECKING:
    from collections.abc import Sequence

T0 = 1_700_000_000.0  # an epoch-like start: phases are wall-clock based


def live(title: str = "on air") -> LiveStatus:
    return answer(
        LiveOutcome.LIVE,
        title=title,
        category="games",
        streams=[StreamInfo(url="https://cdn.test/x.m3u8", kind=StreamKind.HLS)],
    )


OFFLINE = answer(LiveOutcome.OFFLINE)


@dataclass
class Script:
    """What each channel answers, and every call made."""

    # channel reference -> answers in order (the last one repeats); an Exception
    # is raised, an asyncio.Event is waited for (a hanging request)
    answers: dict[str, list[Any]] = field(default_factory=dict)
    calls: list[tuple[float, str, tuple[str, ...]]] = field(default_factory=list)
    in_flight: int = 0
    most_in_flight: int = 0
    clock: Any = None

    def set(self, ref: str, *answers: Any) -> None:
        self.answers[ref] = list(answers)

    async def next(self, ref: str) -> LiveStatus:
        queue = self.answers.get(ref, [OFFLINE])
        found = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(found, asyncio.Event):
            await found.wait()
            return OFFLINE
        if isinstance(found, Exception):
            raise found
        assert isinstance(found, LiveStatus)
        return found

    def checks_of(self, ref: str) -> list[float]:
        return [t for t, _, refs in self.calls if ref in refs]


def platform(
    name: str,
    script: Script,
    *,
    batch_size: int = 0,
    rate: float = 0.0,
    concurrency: int = 100,
    missing: Sequence[str] = (),
) -> type[Extractor]:
    """A fake extractor class for `https://<name>.test/<channel>`."""

    class Fake(Extractor):
        platform = name
        matchers: ClassVar[dict[str, re.Pattern[str]]] = {
            "live": re.compile(rf"https://{name}\.test/(?P<channel>\w+)\Z")
        }
        max_requests_per_sec = rate
        max_concurrent_requests = concurrency

        async def check(self, channel: Channel) -> LiveStatus:
            ref = channel.reference or ""
            script.calls.append((script.clock(), "check", (ref,)))
            script.in_flight += 1
            script.most_in_flight = max(script.most_in_flight, script.in_flight)
            try:
                return await script.next(ref)
            finally:
                script.in_flight -= 1

        async def check_batch(
            self, channels: Sequence[Channel]
        ) -> dict[str, LiveStatus]:
            refs = tuple(c.reference or "" for c in channels)
            script.calls.append((script.clock(), "batch", refs))
            answers = {}
            for ref in refs:
                if ref not in missing:
                    status = await script.next(ref)
                    answers[ref] = status.model_copy(update={"streams": []})
            return answers

    Fake.batch_size = batch_size
    Fake.__name__ = name.capitalize()
    return Fake


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


class Harness:
    """A `ShardPoller` and the world around it."""

    def __init__(self, *extractors: type[Extractor], **poller: Any) -> None:
        self.clock = Clock()
        self.script = Script(clock=self.clock)
        self.registry = PlatformRegistry(list(extractors))
        self.entries: dict[int, Entry] = {}
        self.marker = 0
        self.signals: list[tuple[int, Detected]] = []
        self.refuse = 0  # signals to fail before delivering again
        self.http = httpx.AsyncClient(
            transport=httpx.MockTransport(lambda r: httpx.Response(599))
        )
        self.poller = ShardPoller(
            self._read,
            self._marker,
            Checker(
                self.registry,
                self.http,
                utcnow=lambda: datetime.fromtimestamp(self.clock(), UTC),
            ),
            self._signal,
            clock=self.clock,
            **poller,
        )

    async def _read(self) -> dict[int, Entry]:
        return dict(self.entries)

    async def _marker(self) -> int:
        return self.marker

    async def _signal(self, streamer_id: int, found: Detected) -> bool:
        if self.refuse:
            self.refuse -= 1
            return False
        self.signals.append((streamer_id, found))
        return True

    def add(
        self,
        streamer_id: int,
        url: str,
        *,
        interval: float = 60.0,
        options: dict[str, Any] | None = None,
        touched: float = 0.0,
        settled: bool = False,
    ) -> None:
        self.entries[streamer_id] = Entry(
            streamer_id=streamer_id,
            url=url,
            updated_at=datetime.fromtimestamp(T0 + touched, UTC),
            interval=interval,
            selection=StreamSelection(),
            options=options or {},
            settled_offline=settled,
        )
        self.marker += 1

    def remove(self, streamer_id: int) -> None:
        del self.entries[streamer_id]
        self.marker += 1

    async def run(self, secs: float, step: float = 0.5) -> None:
        """Tick every `step` of fake time for `secs`, letting checks finish."""
        end = self.clock.now + secs
        while self.clock.now < end:
            await self.poller.tick()
            await asyncio.sleep(0)
            await self.poller.drain()
            self.clock.now += step

    def told(self, streamer_id: int) -> list[Detected]:
        return [d for sid, d in self.signals if sid == streamer_id]

    def outcomes(self, streamer_id: int) -> list[str]:
        return [d.outcome.value for d in self.told(streamer_id)]

    def signal_counts(self) -> dict[int, int]:
        counts: dict[int, int] = defaultdict(int)
        for sid, _ in self.signals:
            counts[sid] += 1
        return dict(counts)

    async def close(self) -> None:
        await self.poller.close()
        await self.http.aclose()
