"""Picarto's answers as pydantic models, for `activities.platforms.picarto`.

Nothing of Picarto was captured; the shapes are those the public clients read
today. The public API (`api.picarto.tv/api/v1`, documented at docs.picarto.tv):
`channel/name/<name>` answers the channel details (`user_id`, `name`, `avatar`,
`online`, `viewers`, `thumbnails`, `adult`, `category` (a list), `title`,
`private`, `private_message`, `last_live`, …; 404 for no such channel) and
`online` the channels on air (the same fields, `category` a string), as the
picarto-api-wrapper (Go) and tiberius models have them. The web player's API
(`ptvintern.picarto.tv/api/channel/detail/<name>`) answers `channel` (`id`,
`title`, `private`, `categories`), `getMultiStreams.streams[]` (`channelId`,
`stream_name`, `online`) and `getLoadBalancerUrl.url` (streamlink's `picarto`
plugin, rust-srec's `PicartoResponse`).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, RootModel, field_validator


class Thumbnails(BaseModel):
    web: str = ""
    web_large: str = ""


class Listed(BaseModel):
    """What the channel details and the online list share."""

    name: str
    avatar: str = ""
    title: str = ""
    viewers: int | None = None
    adult: bool = False
    thumbnails: Thumbnails | None = None
    category: list[str] = Field(default_factory=list)

    @field_validator("category", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        # the details answer a list, the online list one name
        if value is None:
            return []
        return [value] if isinstance(value, str) else value


class Details(Listed):
    """`channel/name/<name>`."""

    user_id: int
    online: bool
    private: bool = False
    private_message: str | None = None


class Online(RootModel[list[Listed]]):
    """`online`: every channel on air."""


class DetailChannel(BaseModel):
    id: int
    title: str = ""
    private: bool = False


class MultiStream(BaseModel):
    channel_id: int = Field(alias="channelId")
    stream_name: str
    online: bool = True


class MultiStreams(BaseModel):
    streams: list[MultiStream] = Field(default_factory=list)


class LoadBalancer(BaseModel):
    url: str | None = None


class Detail(BaseModel):
    """The web player's `channel/detail/<name>`."""

    channel: DetailChannel | None = None
    multistreams: MultiStreams | None = Field(default=None, alias="getMultiStreams")
    load_balancer: LoadBalancer | None = Field(default=None, alias="getLoadBalancerUrl")

    def stream_name(self) -> str | None:
        """The channel's own stream among the multistream's (streamlink's rule)."""
        if self.channel is None or self.multistreams is None:
            return None
        return next(
            (
                s.stream_name
                for s in self.multistreams.streams
                if s.channel_id == self.channel.id and s.online
            ),
            None,
        )

    def edge(self) -> str | None:
        """The load balancer's edge as `https://<host>` (it may answer `http`)."""
        url = self.load_balancer.url if self.load_balancer else None
        if not url:
            return None
        host = urlsplit(url if "//" in url else f"//{url}").netloc
        return f"https://{host}" if host else None
