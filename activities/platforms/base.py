"""The platform contract: what an extractor is asked, and how it answers.

An extractor resolves, it never records. For a channel URL it answers two calls:

    check(channel)            → LiveStatus: outcome + title, author, category, avatar,
                                viewers, start time (streams too if the same answer
                                holds them)
    resolve(channel, status)  → [StreamInfo]: URL, kind hls|flv, quality, bitrate,
                                codec, CDN, headers, expiry

`check_live(url, selection)` runs both (resolve only when live), picks the stream
the selection ranks first (`LiveStatus.source`) and turns every expected failure
into a value: the platform's answers (not found, banned, region locked, private,
age restricted, rate limited with its retry-after, offline) and passing failures
(timeouts, 5xx: `unavailable`). Only two things raise: `ExtractorError` when an
answer changed shape (the message names the missing field) and
`UnsupportedUrlError`. Inside an extractor, a helper deep in the call stack says
"rate limited" by raising `Outcome`; `check_live` turns it into the value.

A platform with a status-for-many call sets `batch_size` and implements
`check_batch(channels)` (N streamers, one request; no streams). A platform whose
chat srec records implements `danmu_info(channel)` → `activities.danmu.models.
DanmuConnectInfo` (websocket URLs, token, room id, the protocol's params).

Options (cookies, tokens, quality) are a pydantic model per platform
(`options_model`, deriving `PlatformOptions`). They come from the app DB through
the activity that builds the extractor: credentials never cross a Temporal boundary,
and stream headers never carry them (they go to API calls only).
"""

from __future__ import annotations

import logging
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from activities.contracts import (
    LiveOutcome,
    LiveStatus,
    StreamInfo,
    StreamSelection,
    StreamSource,
)
from activities.errors import (
    ExtractorError,
    StreamUnavailableError,
    UnsupportedUrlError,
)
from activities.hls.select import Candidate, rank

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    import httpx

    from activities.danmu.models import DanmuConnectInfo

log = logging.getLogger(__name__)

_HEIGHT = re.compile(r"(\d{3,4})p(\d+)?")


class PlatformOptions(BaseModel):
    """Options every platform takes; a platform's model adds its own fields.

    Unknown fields are refused when configured (a typo must not pass silently).
    Secrets are `SecretStr`: they print and serialise masked, and the configuration
    treats them as credentials (never in the policy, the API or workflow history).
    Which extractor resolves a URL is the `extractor` configuration field.
    """

    model_config = ConfigDict(extra="forbid")

    cookies: SecretStr | None = Field(
        default=None,
        description="Cookie header for the platform's API (`name=value; …`)",
    )
    proxy_password: SecretStr | None = Field(
        default=None,
        description="Password of the configured `proxy` (a credential, so it is not "
        "part of the proxy URL)",
    )


@dataclass(frozen=True)
class Channel:
    """A channel URL as its platform's matcher read it.

    Attributes:
        url: the URL, stripped.
        platform: the platform name.
        matcher: which named matcher fit (`live`, `short`, `share`, …).
        groups: the matcher's named groups.
    """

    url: str
    platform: str
    matcher: str
    groups: Mapping[str, str] = field(default_factory=dict)

    @property
    def reference(self) -> str | None:
        """The streamer's id on the platform (room id, login): the `channel` group.

        None when the URL does not say (a share link that must be followed).
        """
        return self.groups.get("channel")


class Outcome(Exception):
    """An answer found deep inside an extractor; `check_live` returns it as a value.

    Args:
        outcome: what was found.
        detail: the platform's words.
        retry_after_secs: when to ask again (rate limits), if the platform said.
    """

    def __init__(
        self,
        outcome: LiveOutcome,
        detail: str = "",
        *,
        retry_after_secs: float | None = None,
    ) -> None:
        super().__init__(f"{outcome.value}: {detail}" if detail else outcome.value)
        self.outcome = outcome
        self.detail = detail
        self.retry_after_secs = retry_after_secs

    def status(self) -> LiveStatus:
        """The answer as a live status."""
        return answer(self.outcome, self.detail, retry_after_secs=self.retry_after_secs)


def answer(outcome: LiveOutcome, detail: str = "", **fields: Any) -> LiveStatus:
    """A live status with `outcome`: `answer(LiveOutcome.NOT_FOUND, "no room 5")`."""
    return LiveStatus(
        is_live=outcome is LiveOutcome.LIVE, outcome=outcome, detail=detail, **fields
    )


class Extractor(ABC):
    """Base of every platform extractor (see the module docstring).

    Attributes:
        platform: lowercase platform name stored on the streamer (`twitch`).
        matchers: named URL patterns with named groups; `channel` is the reference.
        priority: higher wins when several extractors match one URL.
        options_model: the platform's options.
        batch_size: streamers one `check_batch` request may ask about; 0 = none.
        max_requests_per_sec: the poller's budget for this platform's API
            (a batch request counts once); 0 = unlimited.
        max_concurrent_requests: the poller's requests in flight at most.

    Args:
        http: the process's shared client.
        options: this streamer's options (defaults when None).
    """

    platform: ClassVar[str]
    matchers: ClassVar[dict[str, re.Pattern[str]]]
    priority: ClassVar[int] = 0
    options_model: ClassVar[type[PlatformOptions]] = PlatformOptions
    batch_size: ClassVar[int] = 0
    # polite defaults for one API shared by every streamer of the platform: 10,000
    # streamers at 60 s need 167 requests/s, which only batch calls make polite
    max_requests_per_sec: ClassVar[float] = 5.0
    max_concurrent_requests: ClassVar[int] = 8

    def __init__(
        self, http: httpx.AsyncClient, options: PlatformOptions | None = None
    ) -> None:
        self.http = http
        self.options = options if options is not None else self.options_model()

    # --- URLs -------------------------------------------------------------------------

    @classmethod
    def match(cls, url: str) -> tuple[str, dict[str, str]] | None:
        """Return the name and groups of the first matcher that fits `url`."""
        for name, pattern in cls.matchers.items():
            found = pattern.match(url)
            if found:
                return name, {k: v for k, v in found.groupdict().items() if v}
        return None

    @classmethod
    def channel(cls, url: str) -> Channel:
        """Read `url` with this platform's matchers.

        Raises:
            UnsupportedUrlError: no matcher fits.
        """
        url = url.strip()
        found = cls.match(url)
        if found is None:
            raise UnsupportedUrlError(f"not a {cls.platform} URL: {url}")
        return Channel(
            url=url, platform=cls.platform, matcher=found[0], groups=found[1]
        )

    # --- the calls a platform implements ----------------------------------------------

    @abstractmethod
    async def check(self, channel: Channel) -> LiveStatus:
        """Is the channel live, and what is it showing (no streams needed).

        Returns:
            A status with an outcome; streams only if the same answer held them.

        Raises:
            Outcome: for an answer found in a helper.
            ExtractorError: the answer changed shape.
        """

    async def resolve(self, channel: Channel, status: LiveStatus) -> list[StreamInfo]:
        """The streams of a live channel; by default those `check` found.

        Raises:
            Outcome: the channel went offline meanwhile, or resolution was refused.
            ExtractorError: the answer changed shape.
        """
        log.debug(
            "%s: %d stream(s) came with the check", channel.url, len(status.streams)
        )
        return list(status.streams)

    async def check_batch(self, channels: Sequence[Channel]) -> dict[str, LiveStatus]:
        """Check up to `batch_size` channels in one request, by channel reference.

        Returns:
            A status per reference (no streams); a reference the platform did not
            mention is missing.

        Raises:
            ExtractorError: the platform has no batch call, or its answer changed.
            Outcome: the whole request was refused (rate limit, outage).
        """
        raise ExtractorError(
            f"{self.platform} has no batch status call ({len(channels)} asked)"
        )

    async def danmu_info(self, channel: Channel) -> DanmuConnectInfo | None:
        """How to reach the room's chat, resolved now (tokens expire: call it again
        before each reconnect).

        Runs inside the danmu activity, so it may put the user's cookie into the
        result: it never crosses a Temporal boundary. The default says the platform
        has no chat srec can record.

        Raises:
            Outcome: the room is gone or refused the request.
            ExtractorError: the answer changed shape.
        """
        log.debug("%s: no danmu protocol for %s", channel.url, self.platform)
        return None

    # --- the composition every caller uses -------------------------------------------

    async def check_live(
        self,
        url: str,
        selection: StreamSelection | None = None,
        *,
        resolve: bool = True,
    ) -> LiveStatus:
        """Check `url`, resolve its streams when live, and pick one to record.

        Args:
            url: the channel URL.
            selection: which stream to prefer (default: the best).
            resolve: False stops after the check (no streams, no source).

        Returns:
            The status; `source` is the picked stream when live.

        Raises:
            ExtractorError: the platform's answer changed shape.
            UnsupportedUrlError: this extractor does not handle `url`.
        """
        channel = self.channel(url)
        try:
            status = await self.check(channel)
            if status.result is not LiveOutcome.LIVE or not resolve:
                return status
            streams = await self.resolve(channel, status)
        except Outcome as found:
            return found.status()
        except StreamUnavailableError as err:
            return answer(LiveOutcome.UNAVAILABLE, str(err))
        except ValidationError as err:
            raise ExtractorError(f"{self.platform}: {describe(err)}") from err
        if not streams:
            return status.model_copy(
                update={
                    "is_live": False,
                    "outcome": LiveOutcome.UNAVAILABLE,
                    "detail": "live, but no stream is offered yet",
                }
            )
        return with_streams(status, streams, selection or StreamSelection(), channel)


def with_streams(
    status: LiveStatus,
    streams: Sequence[StreamInfo],
    selection: StreamSelection,
    channel: Channel,
) -> LiveStatus:
    """`status` with its stream list and the one `selection` ranks first as source."""
    best = pick(streams, selection)
    source = StreamSource(
        url=best.url,
        kind=best.kind,
        headers=dict(best.headers),
        selection=selection,
        expires_at=best.expires_at,
        channel_url=channel.url,
        quality=best.quality,
        cdn=best.cdn,
        codec=best.codec,
    )
    return status.model_copy(
        update={"is_live": True, "streams": list(streams), "source": source}
    )


def pick(streams: Sequence[StreamInfo], selection: StreamSelection) -> StreamInfo:
    """The stream `selection` ranks first (`activities.hls.select`'s rule).

    Raises:
        ValueError: `streams` is empty.
    """
    candidates = [_candidate(s) for s in streams]
    ranked = rank(candidates, selection)
    if not ranked:
        raise ValueError("no streams to pick from")
    return streams[next(i for i, c in enumerate(candidates) if c is ranked[0])]


def quality_names(quality: str) -> frozenset[str]:
    """Names a quality preference may match: `1080p60 (source)` → 1080p60, 1080p,
    source, and the name itself, lower-cased."""
    name = quality.strip().lower()
    names = {name} if name else set()
    found = _HEIGHT.search(name)
    if found:
        names.add(f"{found.group(1)}p")
        if found.group(2):
            names.add(f"{found.group(1)}p{found.group(2)}")
    if "source" in name or "chunked" in name:
        names.add("source")
    if "audio" in name:
        names |= {"audio", "audio_only"}
    return frozenset(names)


def _candidate(stream: StreamInfo) -> Candidate:
    names = quality_names(stream.quality)
    return Candidate(
        url=stream.url,
        kind=stream.kind,
        bitrate_bps=stream.bitrate_bps,
        qualities=names,
        cdns=frozenset({stream.cdn.lower()} if stream.cdn else ()),
        audio_only="audio" in names,
    )


def describe(err: ValidationError) -> str:
    """Name the first thing wrong in a third-party answer, for an ExtractorError."""
    first = err.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "the answer"
    if first["type"] == "missing":
        return f"the answer changed shape: missing field {where}"
    if first["type"] == "json_invalid":
        return "the answer is not JSON"
    return f"the answer changed shape: {where}: {first['msg']}"
