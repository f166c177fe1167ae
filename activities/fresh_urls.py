"""The engines' refresh hook for one recording: the same stream, resolved again.

A platform signs its stream URLs with a deadline; past it the CDN refuses them
(403/410). The engine then asks its `refresh` hook for a fresh URL
(`activities.engines.refresh`) and carries on in the same file. The hook built here
resolves the recording's channel again for the same quality, CDN and transport
(`PlatformRegistry.refresh`), with the streamer's platform options (cookies,
tokens) read from the app DB the way the live-check activity reads them: through
an `OptionsProvider`, with its ownership check. The record activity's input carries
only the streamer's id and the instance id, so credentials never cross a Temporal
boundary. `srec record` builds its own hook with the command line's options.

No hook for a source that names no channel, or whose channel is the stream URL
itself (a direct `.m3u8`/`.flv`): asking that URL again tells nothing new.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import SQLAlchemyError

from activities.contracts import CheckLiveInput
from activities.engines.refresh import refreshable
from activities.errors import RecorderError

if TYPE_CHECKING:
    from collections.abc import Mapping

    import httpx

    from activities.contracts import RecordInput, StreamSource
    from activities.detect import OptionsProvider
    from activities.engines.refresh import Refresh
    from activities.platforms import PlatformRegistry

log = logging.getLogger(__name__)


class FreshUrls:
    """Builds refresh hooks for the recordings of one worker.

    Args:
        http: the worker's shared client, for the platform's API.
        registry: the platforms.
        options: the streamers' stored platform options (None: defaults only).
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        registry: PlatformRegistry,
        options: OptionsProvider | None = None,
    ) -> None:
        self.http = http
        self.registry = registry
        self.options = options

    def hook(self, inp: RecordInput) -> Refresh | None:
        """The refresh hook of the recording `inp`, or None when it cannot have one.

        Raises (from the hook): `StreamUnavailableError` when the channel is no
        longer live (`RateLimitedError` when the platform throttles), another
        `RecorderError` when no fresh URL could be had.
        """
        if not refreshable(inp.source):
            return None
        channel = inp.source.channel_url
        ask = CheckLiveInput(
            url=channel, streamer_id=inp.streamer_id, instance_id=inp.instance_id
        )

        async def refresh(current: StreamSource) -> StreamSource:
            stored: Mapping[str, Any] = {}
            if self.options is not None:
                try:
                    stored = (await self.options.lookup(ask)).options
                except SQLAlchemyError as err:
                    raise RecorderError(
                        f"cannot read the options of streamer {inp.streamer_id}: {err}"
                    ) from err
            platform = self.registry.resolve(channel).platform
            options = self.registry.options_for(platform, stored)
            return await self.registry.refresh(current, self.http, options)

        return refresh
