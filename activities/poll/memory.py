"""What the poller last told each streamer workflow, and whether to tell it again.

A check's outcome is reduced to a key; the workflow is signalled when the key
differs from the one it was last sent (or none was: its first check since the
poller started or the streamer entered the shard), and again every
`resignal_secs` while a failure persists. Keys, not payloads: a live channel whose
viewer count moves is not news, an offline channel whose URL started to answer 404
is.

    live            live
    offline         offline, a clean answer
    offline!        offline because the stream could not be reached (404, refused)
    not_found, …    the platform's fatal answers (and an unsupported URL)
    transient       rate limited, unavailable, timed out
    broken          the platform's answer changed shape (ExtractorError)

A first check that finds a clean offline is not signalled when the workflow's own
projection (`streamer.state` NOT_LIVE, no `last_error`) already says so.

The keys last sent are the poll activity's heartbeat details
(`PollShardProgress`), so a retried attempt does not signal everything again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from activities.contracts import Detected, LiveOutcome, PollShardProgress

if TYPE_CHECKING:
    from collections.abc import Iterable

OFFLINE = "offline"
TRANSIENT = "transient"
BROKEN = "broken"
_ERROR_KEYS = frozenset({TRANSIENT, BROKEN, "offline!"})


def key_of(found: Detected) -> str:
    """The outcome key of a check (see the module docstring)."""
    if found.error_type == "ExtractorError":
        return BROKEN
    if found.transient:
        return TRANSIENT
    if found.outcome is LiveOutcome.OFFLINE and found.error:
        return "offline!"
    return found.outcome.value


@dataclass
class Told:
    """One streamer's memory: the key last sent, when, and its failure run."""

    key: str | None = None
    at: float = 0.0
    failures: int = 0
    failing_since: float | None = None


class Memory:
    """The keys last signalled per streamer, and each one's run of failures.

    Args:
        resignal_secs: remind the workflow of an unchanged failure this often.
    """

    def __init__(self, resignal_secs: float) -> None:
        self.resignal_secs = resignal_secs
        self._told: dict[int, Told] = {}
        self.dirty = False

    def __len__(self) -> int:
        return len(self._told)

    def restore(self, progress: PollShardProgress | None, now: float) -> None:
        """Take over what an earlier attempt or run had signalled."""
        for key, ids in (progress.signalled if progress else {}).items():
            for streamer_id in ids:
                self._told[streamer_id] = Told(key=key, at=now)

    def forget(self, streamer_ids: Iterable[int]) -> None:
        """The streamers left the shard (or their workflow moved on): their next
        check is a first check again."""
        for streamer_id in streamer_ids:
            if self._told.pop(streamer_id, None) is not None:
                self.dirty = True

    def keep_only(self, streamer_ids: Iterable[int]) -> None:
        wanted = set(streamer_ids)
        self.forget([s for s in self._told if s not in wanted])

    def failure_run(self, streamer_id: int, failed: bool, now: float) -> Told:
        """Count the check into the streamer's run of failures."""
        told = self._told.setdefault(streamer_id, Told())
        if failed:
            told.failures += 1
            if told.failing_since is None:
                told.failing_since = now
        else:
            told.failures, told.failing_since = 0, None
        return told

    def should_tell(
        self, streamer_id: int, key: str, now: float, *, settled_offline: bool = False
    ) -> bool | None:
        """Whether to signal `key`: True (news), None (a reminder), False (not).

        Args:
            streamer_id: whose check.
            key: its outcome key.
            now: the clock now.
            settled_offline: the workflow's projection already says offline, no
                error: a first check finding that is no news (a fresh start of
                10,000 offline streamers sends nothing).
        """
        told = self._told.get(streamer_id)
        if (told is None or told.key is None) and settled_offline and key == OFFLINE:
            self.told(streamer_id, key, now)
            return False
        if told is None or told.key != key:
            return True
        if key in _ERROR_KEYS and now - told.at >= self.resignal_secs:
            return None
        return False

    def told(self, streamer_id: int, key: str, now: float) -> None:
        """The signal carrying `key` was delivered."""
        told = self._told.setdefault(streamer_id, Told())
        if told.key != key:
            self.dirty = True
        told.key, told.at = key, now

    def progress(self) -> PollShardProgress:
        """The keys last sent, grouped by key (compact heartbeat details)."""
        grouped: dict[str, list[int]] = {}
        for streamer_id, told in self._told.items():
            if told.key is not None:
                grouped.setdefault(told.key, []).append(streamer_id)
        for ids in grouped.values():
            ids.sort()
        self.dirty = False
        return PollShardProgress(signalled=grouped)
