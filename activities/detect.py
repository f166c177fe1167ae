"""Detection activities: is a channel live, and what should be recorded."""

from __future__ import annotations

from typing import TYPE_CHECKING

from temporalio import activity

from activities.contracts import CheckLiveInput, LiveStatus
from activities.errors import RecorderError, to_application_error

if TYPE_CHECKING:
    import httpx

    from activities.platforms import PlatformRegistry


class PlatformActivities:
    """Platform lookups on the io queue.

    Args:
        http: the worker's shared HTTP client, handed to every extractor.
        registry: resolves a channel URL to its platform's extractor.
    """

    def __init__(self, http: httpx.AsyncClient, registry: PlatformRegistry) -> None:
        self.http = http
        self.registry = registry

    @activity.defn(name="platform.check_live")
    async def check_live(self, inp: CheckLiveInput) -> LiveStatus:
        """Ask the channel's platform whether it is live.

        Args:
            inp: the channel URL.

        Returns:
            The live status; offline is `is_live=False`, not an error.

        Raises:
            ApplicationError: converted from a RecorderError (unsupported URL,
                transient upstream failure, unusable answer).
        """
        try:
            extractor = self.registry.extractor_for(inp.url, self.http)
            return await extractor.check_live(inp.url)
        except RecorderError as err:
            raise to_application_error(err) from err
