"""Picarto's public API, web player API and stream edge, answering as today.

Nothing of Picarto was captured; every answer is built in the shapes the public
clients read. The public API (docs.picarto.tv): `channel/name/<name>` in the
fields the picarto-api-wrapper (Go) and tiberius models read (`user_id`, `name`,
`avatar`, `online`, `viewers`, `viewers_total`, `thumbnails`, `followers`,
`subscribers`, `adult`, `category` a list, `account_type`, `title`, `private`,
`private_message`, `gaming`, `chat_settings`, `last_live`, `tags`, `multistream`,
`languages`, `following`, `creation_date`), 404 for no such channel; `online` a
list of the channels on air (`category` a string there). The web player's
`channel/detail/<name>` answers `channel`, `getMultiStreams` and
`getLoadBalancerUrl` as streamlink's plugin and rust-srec's models read them
(`channel` null for no such channel). The edge (the host DouyinLiveRecorder
names) serves `/stream/hls/golive+<name>/index.m3u8`: a master playlist whose
variants are the room's stream.

    api.room("Example", extra={"user_id": 123, "transcodes": True}).go_live(url)
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from tests.fakes.platform.base import LIVE, FakeRequest, PlatformApi, Reply, Room

EDGE = "1-edge1-us-newyork.picarto.tv"
_HLS = re.compile(r"^/stream/hls/golive\+([^/]+)/index\.m3u8$")


class PicartoApi(PlatformApi):
    name = "picarto"
    hosts: ClassVar[tuple[str, ...]] = (
        "api.picarto.tv",
        "ptvintern.picarto.tv",
        EDGE,
    )

    def _room(self, name: str) -> Room | None:
        room = next(
            (r for r in self.rooms.values() if r.ref.lower() == name.lower()), None
        )
        return None if room is None or room.state == "not_found" else room

    def answer(self, request: FakeRequest) -> Reply:
        path = request.path
        if request.host == EDGE:
            found = _HLS.match(path)
            room = self._room(found.group(1)) if found else None
            if room is None or room.stream_url is None:
                return Reply.text("not found", 404)
            return Reply.text(
                _master(room), content_type="application/vnd.apple.mpegurl"
            )
        if request.host == "ptvintern.picarto.tv":
            if not path.startswith("/api/channel/detail/"):
                return Reply.text("no such page", 404)
            return Reply.json(self._detail(path.rsplit("/", 1)[1]))
        if path == "/api/v1/online":
            return Reply.json(
                [self._listed(r, online=True) for r in self.rooms.values() if _on(r)]
            )
        if path.startswith("/api/v1/channel/name/"):
            room = self._room(path.rsplit("/", 1)[1])
            if room is None:
                return Reply.json({"message": "Channel not found"}, 404)
            return Reply.json(self._details(room))
        return Reply.text("no such page", 404)

    def _listed(self, room: Room, *, online: bool) -> dict[str, Any]:
        return {
            "user_id": _uid(room), "name": room.ref,
            "avatar": f"https://images.picarto.tv/{room.ref}/avatar.jpg",
            "title": room.title,
            "viewers": room.extra.get("viewers", 17) if online else 0,
            "thumbnails": {
                size: f"https://thumb.picarto.tv/thumbnail/{room.ref}_{size}.jpg"
                for size in ("web", "web_large", "mobile", "tablet")
            },
            "category": room.category, "account_type": "free", "adult": False,
            "gaming": False, "commissions": False, "multistream": False,
            "languages": [{"id": 1, "name": "English"}], "following": False,
        }  # fmt: skip

    def _details(self, room: Room) -> dict[str, Any]:
        online = room.state in (LIVE, "private")
        body = self._listed(room, online=online)
        body.update(
            online=online, viewers_total=1000, followers=250, subscribers=3,
            category=[room.category], recordings=False, description_panels=[],
            private=room.state == "private",
            private_message="Invite only" if room.state == "private" else "",
            chat_settings={"guest_chat": True, "links": True, "level": 0},
            last_live="2026-01-02 20:30:00", tags=["art"], multistream=[],
            creation_date="2018-01-01",
        )  # fmt: skip
        if self.malformed:
            del body["online"]
        return body

    def _detail(self, name: str) -> dict[str, Any]:
        room = self._room(name)
        if room is None:
            return {
                "channel": None,
                "getMultiStreams": None,
                "getLoadBalancerUrl": None,
            }
        online = _on(room)
        stream = {
            "id": _uid(room), "user_id": _uid(room), "name": room.ref,
            "channelId": _uid(room), "stream_name": f"golive+{room.ref}",
            "online": online, "streaming": online, "adult": False,
            "multistream": False, "viewers": 17, "webrtc": True,
        }  # fmt: skip
        return {
            "channel": {
                "id": _uid(room), "name": room.ref, "title": room.title,
                "private": room.state == "private", "online": online,
                "streaming": online, "adult": False,
                "categories": [{"name": room.category}],
            },
            "getMultiStreams": {
                "name": room.ref, "streaming": online, "online": online,
                "displayName": room.ref, "streams": [stream] if online else [],
            },
            "getLoadBalancerUrl": {
                "url": f"https://{EDGE}", "origin": "https://picarto.tv",
            },
        }  # fmt: skip


def _on(room: Room) -> bool:
    return room.state == LIVE and room.stream_url is not None


def _uid(room: Room) -> int:
    return int(room.extra.get("user_id", 1000 + len(room.ref)))


def _master(room: Room) -> str:
    lines = ["#EXTM3U", "#EXT-X-VERSION:3"]
    lines += [
        "#EXT-X-STREAM-INF:BANDWIDTH=6000000,RESOLUTION=1920x1080,CODECS="
        '"avc1.640028,mp4a.40.2"',
        str(room.stream_url),
    ]
    if room.extra.get("transcodes"):
        lines += [
            "#EXT-X-STREAM-INF:BANDWIDTH=2500000,RESOLUTION=1280x720,CODECS="
            '"avc1.4d401f,mp4a.40.2"',
            f"{room.stream_url}?variant=720p",
        ]
    return "\n".join(lines) + "\n"
