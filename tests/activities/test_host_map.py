"""The host-mapping transport: named hosts go elsewhere, nothing else changes."""

from __future__ import annotations

import httpx
import pytest

from activities.host_map import HostMapTransport, parse_host_map
from tests.fakes.platform import FakePlatforms


def test_parse() -> None:
    text = " live.bilibili.com=127.0.0.1:81 , GQL.twitch.tv=[::1]:82,"
    assert parse_host_map(text) == {
        "live.bilibili.com": "127.0.0.1:81",
        "gql.twitch.tv": "[::1]:82",
    }
    assert parse_host_map("") == {}


@pytest.mark.parametrize("bad", ["a.b", "a.b=127.0.0.1", "=1.2.3.4:5", "a=b:port"])
def test_parse_refuses(bad: str) -> None:
    with pytest.raises(ValueError, match="host=ip:port"):
        parse_host_map(bad)


async def test_mapped_host_keeps_its_host_header_and_path() -> None:
    with FakePlatforms() as fake:
        transport = HostMapTransport(fake.host_map)
        async with httpx.AsyncClient(transport=transport) as http:
            response = await http.get(
                "https://api.live.bilibili.com/room/v1/Room/room_init", params={"id": 5}
            )
        (seen,) = fake.bilibili.requests
    assert response.json()["code"] == 60004  # the fake answered, as Bilibili would
    assert seen.host == "api.live.bilibili.com"
    assert seen.headers["Host"] == "api.live.bilibili.com"
    assert (seen.path, seen.arg("id")) == ("/room/v1/Room/room_init", "5")
