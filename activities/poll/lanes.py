"""A platform's queue of due streamers within a shard, and how a request is
filled from it: one streamer, or a batch of streamers sharing options."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

    from activities.poll.check import Prepared
    from activities.poll.limits import RateLimit

# How many queued streamers of other options a batch passes over at most, so
# filling a request stays cheap whatever the queue holds.
MAX_SKIPPED = 200


@dataclass
class Lane:
    """The queue and limits of one platform within the shard."""

    name: str
    limit: RateLimit
    batch_size: int
    queue: deque[int] = field(default_factory=deque)
    queued: set[int] = field(default_factory=set)
    # streamers a batch answer left out: asked about alone
    solo: set[int] = field(default_factory=set)

    def push(self, streamer_id: int) -> None:
        if streamer_id not in self.queued:
            self.queued.add(streamer_id)
            self.queue.append(streamer_id)

    def pop(self) -> int:
        streamer_id = self.queue.popleft()
        self.queued.discard(streamer_id)
        return streamer_id

    def take(self, prepare: Callable[[int], Prepared | None]) -> list[Prepared]:
        """The next request's streamers: one, or up to `batch_size` sharing options.

        Args:
            prepare: a queued streamer's extractor and batch key (None: it left
                the shard, or cannot be checked; it is dropped from the queue).
        """
        group: list[Prepared] = []
        skipped: list[int] = []
        while (
            self.queue
            and len(group) < max(1, self.batch_size)
            and len(skipped) < MAX_SKIPPED
        ):
            sid = self.pop()
            found = prepare(sid)
            if found is None:
                continue
            if sid in self.solo:
                if group:
                    skipped.append(sid)
                    continue
                self.solo.discard(sid)
                return [replace(found, batch_key=None)]
            if group and found.batch_key != group[0].batch_key:
                skipped.append(sid)
                continue
            group.append(found)
            if found.batch_key is None:
                break
        for sid in reversed(skipped):
            self.queue.appendleft(sid)
            self.queued.add(sid)
        return group
