"""The platform seam: an extractor resolves a URL, never records.

Each platform module defines one `Extractor` subclass with named URL matchers and
exports it as `__extractor__`. An extractor answers two questions for a channel URL:
is it live (with title), and which stream to record (`LiveStatus.source`).
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    import httpx

    from activities.contracts import LiveStatus


class Extractor(ABC):
    """Base of every platform extractor.

    Attributes:
        platform: lowercase platform name stored on the streamer (`generic`, `twitch`).
        matchers: named URL patterns (`live`, `vod`, …) with named groups.
        priority: higher wins when several extractors match one URL.
    """

    platform: ClassVar[str]
    matchers: ClassVar[dict[str, re.Pattern[str]]]
    priority: ClassVar[int] = 0

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    @classmethod
    def match(cls, url: str) -> tuple[str, dict[str, str]] | None:
        """Return the name and groups of the first matcher that fits `url`."""
        for name, pattern in cls.matchers.items():
            found = pattern.match(url)
            if found:
                return name, {k: v for k, v in found.groupdict().items() if v}
        return None

    @abstractmethod
    async def check_live(self, url: str) -> LiveStatus:
        """Tell whether the channel at `url` is live, and what to record if so.

        Raises:
            StreamUnavailableError: a transient upstream failure (retried).
            ExtractorError: a permanent one (channel gone, unusable answer).
        """
