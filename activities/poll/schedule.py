"""When each streamer of a shard is checked next.

Every streamer is checked once per interval at a fixed phase within it: the phase
comes from a hash of the streamer id, so a shard's checks spread evenly over the
interval (the jitter that keeps 2,500 streamers from being due in the same second),
and a restarted poll activity, or the worker that takes a shard over, keeps the
same timetable without carrying it (the due times are wall-clock multiples).

A check that runs late is not repeated to catch up: the next one is at the next
phase point after it finished. A streamer may be asked for sooner (`soon`): the
generic HLS fast path looks again one segment later when one fetch could not tell.
"""

from __future__ import annotations

import heapq
import math
import zlib


def phase(streamer_id: int, interval: float) -> float:
    """The streamer's offset within its interval, in [0, interval)."""
    digest = zlib.crc32(streamer_id.to_bytes(8, "little", signed=True))
    return digest / 2**32 * interval


def next_slot(streamer_id: int, interval: float, after: float) -> float:
    """The first of the streamer's check times strictly after `after`."""
    offset = phase(streamer_id, interval)
    turns = math.floor((after - offset) / interval) + 1
    return offset + turns * interval


class Schedule:
    """A heap of due times; entries of a streamer rescheduled since are skipped.

    Memory is one heap entry per streamer plus the stale ones a reschedule
    leaves, compacted when they outnumber the live ones.
    """

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, int]] = []
        self._due: dict[int, tuple[float, int]] = {}  # id -> (due, generation)
        self._generation = 0

    def __len__(self) -> int:
        return len(self._due)

    def __contains__(self, streamer_id: object) -> bool:
        return streamer_id in self._due

    def at(self, streamer_id: int, due: float) -> None:
        """Check `streamer_id` at `due` (replacing its previous time)."""
        self._generation += 1
        self._due[streamer_id] = (due, self._generation)
        heapq.heappush(self._heap, (due, self._generation, streamer_id))
        if len(self._heap) > 2 * len(self._due) + 64:
            self._compact()

    def every(self, streamer_id: int, interval: float, after: float) -> float:
        """Check `streamer_id` at its next slot after `after`; returns the time."""
        due = next_slot(streamer_id, interval, after)
        self.at(streamer_id, due)
        return due

    def due_time(self, streamer_id: int) -> float | None:
        found = self._due.get(streamer_id)
        return found[0] if found is not None else None

    def remove(self, streamer_id: int) -> None:
        self._due.pop(streamer_id, None)

    def next_due(self) -> float | None:
        """The earliest due time, or None when nothing is scheduled."""
        self._drop_stale()
        return self._heap[0][0] if self._heap else None

    def pop_due(self, now: float) -> list[int]:
        """The streamers due at `now`, earliest first; they leave the schedule."""
        found: list[int] = []
        while True:
            self._drop_stale()
            if not self._heap or self._heap[0][0] > now:
                return found
            _, _, streamer_id = heapq.heappop(self._heap)
            del self._due[streamer_id]
            found.append(streamer_id)

    def _drop_stale(self) -> None:
        heap = self._heap
        while heap:
            due, generation, streamer_id = heap[0]
            if self._due.get(streamer_id) == (due, generation):
                return
            heapq.heappop(heap)

    def _compact(self) -> None:
        self._heap = [(d, g, s) for s, (d, g) in self._due.items()]
        heapq.heapify(self._heap)
