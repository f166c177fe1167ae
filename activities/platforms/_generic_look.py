"""The generic extractor's one-request HLS look, for a poller that remembers.

`Generic.check` fetches a playlist up to `STALE_TARGETS` target durations apart to
see its media sequence move: several requests and a wait per check. A poller that
checks the same URL every interval can instead keep what it saw last (`HlsMark`)
and look once: the sequence moved since the last look → live; ENDLIST → offline;
unmoved for `STALE_TARGETS` target durations → offline (stuck); too soon to tell
(the first look, or a short interval) → `Step.again_in` says when to look again.

The poller brings its own fetch (`Fetch`, its aiohttp session); the default goes
through the extractor's httpx client.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeAlias

from activities.errors import ExtractorError

if TYPE_CHECKING:
    from activities.contracts import LiveStatus

# (status, final URL, body) of a GET. Raises ConnectionError when nothing answered
# at the address, StreamUnavailableError for any other network failure.
Fetch: TypeAlias = Callable[[str], Awaitable[tuple[int, str, str]]]

_MEDIA_SEQUENCE = re.compile(r"^#EXT-X-MEDIA-SEQUENCE:\s*(\d+)", re.MULTILINE)
_TARGET = re.compile(r"^#EXT-X-TARGETDURATION:\s*([\d.]+)", re.MULTILINE)
_VOD = re.compile(r"^#EXT-X-PLAYLIST-TYPE:\s*VOD", re.MULTILINE)
DEFAULT_TARGET_SECS = 6.0


@dataclass(frozen=True)
class HlsMark:
    """What the last look at an HLS URL saw.

    Attributes:
        media_url: the media playlist looked at (a master's ranked variant).
        last_sequence: the newest segment's media sequence (None: no segments).
        since: clock time the sequence was first seen at that value.
        target: the playlist's target duration, seconds.
    """

    media_url: str
    last_sequence: int | None
    since: float
    target: float


@dataclass(frozen=True)
class Step:
    """One look's verdict: a status, or None and when to look again."""

    status: LiveStatus | None
    mark: HlsMark | None
    again_in: float | None = None


@dataclass(frozen=True)
class Scanned:
    """The few facts of a media playlist a look needs."""

    ended: bool
    last_sequence: int | None
    target: float


def is_master(text: str) -> bool:
    return "#EXT-X-STREAM-INF" in text


def scan(text: str, url: str) -> Scanned:
    """Read a media playlist's end, newest sequence and target duration.

    Raises:
        ExtractorError: the body is no HLS playlist.
    """
    if not text.lstrip("\ufeff \t\r\n").startswith("#EXTM3U"):
        raise ExtractorError(f"{url} did not return an HLS playlist")
    found = _MEDIA_SEQUENCE.search(text)
    first = int(found.group(1)) if found else 0
    segments = text.count("#EXTINF")
    target = _TARGET.search(text)
    return Scanned(
        ended="#EXT-X-ENDLIST" in text or _VOD.search(text) is not None,
        last_sequence=first + segments - 1 if segments else None,
        target=float(target.group(1)) if target else DEFAULT_TARGET_SECS,
    )


def judge(
    scanned: Scanned,
    media_url: str,
    mark: HlsMark | None,
    now: float,
    stale_targets: float,
) -> tuple[str, HlsMark | None, float | None]:
    """`live`, `ended`, `stuck` or `unsure`, the mark to keep, and when to look again.

    Args:
        scanned: this look.
        media_url: the media playlist it came from.
        mark: the previous look (None: the first).
        now: the clock now.
        stale_targets: target durations without progress that mean offline.
    """
    last = scanned.last_sequence
    fresh = HlsMark(media_url, last, now, scanned.target)
    if scanned.ended:
        # kept: a new broadcast that continues the numbering is live at one look
        return "ended", fresh, None
    if mark is None or mark.media_url != media_url:
        return "unsure", fresh, scanned.target
    if last is not None and (mark.last_sequence is None or last > mark.last_sequence):
        return "live", fresh, None
    if (
        last is not None
        and mark.last_sequence is not None
        and last < mark.last_sequence
    ):
        # the numbering started again (a new encoder): nothing to compare with
        return "unsure", fresh, scanned.target
    waited = now - mark.since
    stale_after = stale_targets * scanned.target
    if waited >= stale_after:
        return "stuck", mark, None
    return "unsure", mark, max(stale_after - waited, 0.1)
