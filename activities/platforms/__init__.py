"""Platform registry: resolves a URL to the extractor that handles it.

Every module in this package that exports `__extractor__` is registered; a URL goes
to the highest-priority extractor whose matchers fit it: the native modules
(priority 0), then `generic` (direct .m3u8/.flv, -1000), then `streamlink` (any URL
one of its plugins handles, -2000). The contract is in `base`; HTTP helpers in `web`.

How to add a platform (Huya as the example; copy `bilibili.py` and its tests):

1. `activities/platforms/huya.py`, 100-250 lines, starting with the metadata
   docstring (`$description`, `$platform huya`, `$url`, `$type live`, `$metadata`
   fields it fills), one CamelCase class `Huya(Extractor)` and `__extractor__ = Huya`.
2. The URL table: `matchers = {"live": re.compile(...), "short": ..., "mobile": ...}`,
   each a full-URL pattern with a named group `channel` (the streamer reference
   stored with the streamer) wherever the URL holds it.
3. Pydantic models of every answer you read (`parse(Model, response, what)`); read
   the fields you need, let the rest pass (`model_config` ignores extras). A field
   the platform stopped sending then fails loudly with its name.
4. `check(channel)` → `answer(LiveOutcome.X, detail, title=…, author=…, …)`;
   `resolve(channel, status)` → `[StreamInfo(url, kind, quality, bitrate_bps, codec,
   cdn, headers, expires_at)]` when resolution is a separate call. Map the
   platform's error codes to outcomes (`not_found`, `banned`, `region_locked`,
   `private`, `age_restricted`, `rate_limited`): return them, or raise `Outcome`
   from a helper. `web.request` already maps network errors, 5xx and 429.
5. Options: `class HuyaOptions(PlatformOptions)` with `api_mode`, `cookies`, …
   (`SecretStr` for secrets) and `options_model = HuyaOptions`.
6. A status-for-many call: `batch_size = N` and `check_batch(channels)`.
7. The fake: `tests/fakes/platform/huya.py`, a `PlatformApi` subclass serving the
   platform's hosts in the shapes it answers today (its rooms go live and offline
   and stream a real ffmpeg HLS/FLV), listed in `tests/fakes/platform/__init__.py`.
8. Tests: `tests/activities/platforms/test_huya.py` with the URL table on
   `UrlTable` (`should_match`, `should_match_groups`, `should_not_match`), the
   captured responses under `tests/resources/platforms/huya/` (with their licence
   file) or, where none was captured, the fake; live, offline, not found, rate
   limited and malformed through the real client (`FakePlatforms().client()`, the
   host-mapping transport). `test_meta.py` checks the module, its docstring (its
   `$url` examples must match), its test module and that every named matcher has
   a `should_match_groups` row.
9. The module size: aim for 100-250 lines; the answer models are most of it.

Expiry and fresh URLs: a signed stream URL says when it ends (`StreamInfo.
expires_at`, carried into `StreamSource`), and `PlatformRegistry.refresh(source,
http, options)` resolves the same channel again for the same quality, CDN and
transport. The record activity hands each engine that as its `refresh` hook
(`activities.fresh_urls`, options read from the DB as the live-check activity
reads them; `srec record` with the command line's); an engine that meets 403/410
on the stream or its playlist, or nears the deadline, awaits it, swaps the URL and
headers, and carries on in the same file instead of ending the session
(`activities.engines.refresh`). A `StreamUnavailableError` from it means the
broadcast ended; a `RateLimitedError` only "ask later".
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from activities.contracts import (
    ExtractorChoice,
    LiveOutcome,
    LiveStatus,
    StreamSelection,
)
from activities.errors import (
    ExtractorError,
    RateLimitedError,
    StreamUnavailableError,
    UnsupportedUrlError,
)
from activities.platforms.base import Channel, Extractor, PlatformOptions

if TYPE_CHECKING:
    from collections.abc import Mapping

    import httpx

    from activities.contracts import StreamSource

__all__ = [
    "Channel",
    "Extractor",
    "PlatformOptions",
    "PlatformRegistry",
    "Probe",
    "default_registry",
    "detect_platform",
]

log = logging.getLogger(__name__)

STREAMLINK = "streamlink"


@dataclass(frozen=True)
class Probe:
    """What `PlatformRegistry.probe` found.

    Attributes:
        channel: the URL as its platform's matcher read it.
        extractor: which extractor answered (`streamlink` when forced).
        status: the live status, with every stream on offer when live.
    """

    channel: Channel
    extractor: str
    status: LiveStatus


class PlatformRegistry:
    """Maps URLs to extractor classes; builds extractor instances on demand."""

    def __init__(self, extractors: list[type[Extractor]]) -> None:
        self.extractors = sorted(extractors, key=lambda e: -e.priority)

    def resolve(self, url: str) -> type[Extractor]:
        """Return the extractor class for `url`.

        Raises:
            UnsupportedUrlError: no platform recognises the URL.
        """
        for extractor in self.extractors:
            if extractor.match(url.strip()):
                return extractor
        names = ", ".join(e.platform for e in self.extractors)
        raise UnsupportedUrlError(
            f"no platform recognises this URL (supported: {names}); direct "
            "streams must be http(s) URLs ending in .m3u8 or .flv"
        )

    def named(self, platform: str) -> type[Extractor]:
        """The extractor of `platform`.

        Raises:
            ExtractorError: no such platform here.
        """
        for extractor in self.extractors:
            if extractor.platform == platform:
                return extractor
        raise ExtractorError(f"no platform named {platform!r}")

    def channel(self, url: str) -> Channel:
        """`url` read by its platform's matchers (raises UnsupportedUrlError)."""
        return self.resolve(url).channel(url)

    def options_for(
        self, platform: str, stored: Mapping[str, Any] | None
    ) -> PlatformOptions:
        """Validate stored options with the platform's model, dropping bad fields.

        A row may predate a stricter rule or be edited by hand; recording with a
        default beats not recording, so each invalid field is dropped with a warning.
        """
        model = self.named(platform).options_model
        values = dict(stored or {})
        for _ in range(len(values) + 1):
            try:
                return model.model_validate(values)
            except ValidationError as err:
                bad = {str(e["loc"][0]) for e in err.errors() if e["loc"]}
                bad = bad & values.keys() or set(values)
                log.warning("ignoring invalid %s options %s", platform, sorted(bad))
                for key in bad:
                    values.pop(key, None)
        return model()

    def public_options(
        self, platform: str, stored: Mapping[str, Any] | None
    ) -> dict[str, Any]:
        """Stored options as the API shows them: only those set, secrets masked."""
        options = self.options_for(platform, stored)
        return options.model_dump(mode="json", exclude_unset=True)

    async def probe(
        self,
        url: str,
        http: httpx.AsyncClient,
        options: PlatformOptions | None = None,
        selection: StreamSelection | None = None,
        choice: ExtractorChoice | None = None,
    ) -> Probe:
        """Everything srec can tell about `url` (`POST /api/parse`, `srec probe`).

        Raises:
            UnsupportedUrlError: nothing handles the URL.
            ExtractorError: the platform's answer changed shape.
        """
        channel = self.channel(url)
        extractor = self.extractor_for(url, http, options, choice=choice)
        status = await extractor.check_live(url, selection)
        return Probe(channel=channel, extractor=extractor.platform, status=status)

    def extractor_for(
        self,
        url: str,
        http: httpx.AsyncClient,
        options: PlatformOptions | None = None,
        *,
        choice: ExtractorChoice | None = None,
    ) -> Extractor:
        """Build the extractor for `url` as the configured `extractor` field says.

        `auto` (None) takes the registry's pick, `streamlink` forces streamlink's
        plugin, `native` refuses a URL only streamlink handles.

        Raises:
            UnsupportedUrlError: nothing handles the URL (also when streamlink is
                forced and has no plugin for it, or refused and the only one).
        """
        extractor = self.resolve(url)
        if choice is ExtractorChoice.STREAMLINK:
            forced = self.named(STREAMLINK)
            if not forced.match(url.strip()):
                raise UnsupportedUrlError(f"streamlink has no plugin for {url}")
            extractor = forced
        elif choice is ExtractorChoice.NATIVE and extractor.platform == STREAMLINK:
            raise UnsupportedUrlError(
                f"only streamlink handles {url}, and the extractor setting is "
                "`native`: set it to `auto` or `streamlink`"
            )
        return extractor(http, options)

    async def refresh(
        self,
        source: StreamSource,
        http: httpx.AsyncClient,
        options: PlatformOptions | None = None,
    ) -> StreamSource:
        """A fresh URL for the stream `source` came from (its signed URL expired).

        The engines' hook: an engine that meets 403/410 on `source.url` after
        `source.expires_at` asks this, through the record activity (which reads the
        streamer's options from the DB), then carries on with the new URL. The same
        quality, CDN and transport are preferred; the streamer's selection decides
        between the rest.

        Raises:
            StreamUnavailableError: the channel is no longer live (the session may
                end) or could not be asked.
            RateLimitedError: the platform throttles: ask again later.
            ExtractorError: the platform's answer changed shape.
        """
        if not source.channel_url:
            raise StreamUnavailableError(f"{source.url} has no channel to ask again")
        wanted = source.selection
        pinned = wanted.model_copy(
            update={
                "qualities": [q for q in [source.quality] if q] + wanted.qualities,
                "cdns": [c for c in [source.cdn] if c] + wanted.cdns,
                "formats": [source.kind, *wanted.formats],
            }
        )
        extractor = self.extractor_for(source.channel_url, http, options)
        status = await extractor.check_live(source.channel_url, pinned)
        if status.source is None:
            outcome = status.result
            if outcome is LiveOutcome.RATE_LIMITED:
                raise RateLimitedError(
                    f"{source.channel_url} is rate limited: {status.detail}",
                    retry_after_secs=status.retry_after_secs,
                )
            raise StreamUnavailableError(
                f"{source.channel_url} is {outcome.value}: {status.detail}"
                if outcome is not LiveOutcome.LIVE
                else f"{source.channel_url} offers no stream"
            )
        return status.source.model_copy(
            update={"selection": wanted, "proxy": source.proxy}
        )


def _discover() -> list[type[Extractor]]:
    found: list[type[Extractor]] = []
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        extractor = getattr(module, "__extractor__", None)
        if extractor is not None:
            found.append(extractor)
    return found


_default: PlatformRegistry | None = None


def default_registry() -> PlatformRegistry:
    """The registry of every platform module shipped with srec."""
    global _default
    if _default is None:
        _default = PlatformRegistry(_discover())
    return _default


def detect_platform(url: str) -> str:
    """Return the platform name for `url` (raises UnsupportedUrlError)."""
    return default_registry().resolve(url).platform
