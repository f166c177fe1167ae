"""End to end: a fake Bilibili room and a fake Twitch channel, recorded by the stack.

The fake platforms (`tests/fakes/platform`) answer the real APIs' shapes on
loopback; `SREC_HOST_MAP` sends the worker's and the API's requests for
live.bilibili.com, gql.twitch.tv, … there. The Bilibili room broadcasts HTTP-FLV
and the Twitch channel HLS, both real ffmpeg streams; streamers are added by their
platform URLs over the API, and the worker records both at once.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.e2e.stack import FAST_SETTINGS, Stack, wait_until
from tests.e2e.test_recording import segments
from tests.fakes.live_flv import LiveFlvServer
from tests.fakes.live_hls import LiveHls, assert_playable
from tests.fakes.platform import FakePlatforms

if TYPE_CHECKING:
    from collections.abc import Iterator

    import httpx

pytestmark = pytest.mark.e2e

BILIBILI = "https://live.bilibili.com/3"
TWITCH = "https://www.twitch.tv/abby_"


@pytest.fixture
def fake() -> Iterator[FakePlatforms]:
    with FakePlatforms() as platforms:
        yield platforms


@pytest.fixture
def stack_settings(fake: FakePlatforms) -> dict[str, str]:
    return dict(FAST_SETTINGS, SREC_HOST_MAP=fake.host_map_setting)


def sessions_of(api: httpx.Client, streamer_id: int) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = api.get("/api/sessions").json()["items"]
    return [s for s in items if s["streamer_id"] == streamer_id]


def add(api: httpx.Client, name: str, url: str) -> dict[str, Any]:
    response = api.post("/api/streamers", json={"name": name, "url": url})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def test_fake_bilibili_room_and_twitch_channel_are_recorded(
    stack: Stack, fake: FakePlatforms, tmp_path: Path, ffmpeg: Path
) -> None:
    room = fake.bilibili.room("23058", title="音悦台", author="3号直播间")
    room.extra.update(uid=11153765, short_id=3)
    channel = fake.twitch.room("abby_", title="LA DES-VELADA", author="abby_")
    stack.start("api")
    api = stack.api()
    stack.start("worker")
    bili = add(api, "bili", BILIBILI)
    twitch = add(api, "abby", TWITCH)
    assert (bili["platform"], bili["channel"]) == ("bilibili", "3")
    assert (twitch["platform"], twitch["channel"]) == ("twitch", "abby_")
    # both offline: polled, nothing recorded (Bilibili by its batch status call,
    # after one room_init for the room's uid)
    wait_until(
        lambda: (
            fake.bilibili.calls("get_status_info_by_uids") >= 2
            and fake.twitch.calls("gql") >= 2
        ),
        40,
        "the worker to poll both platforms",
    )
    assert api.get("/api/sessions").json()["total"] == 0

    with (
        LiveFlvServer(ffmpeg, duration_secs=120) as flv,
        LiveHls(tmp_path / "hls", ffmpeg=ffmpeg, duration=120, list_size=30) as hls,
    ):
        hls.wait_for_segments(1)
        room.go_live(flv.url)
        channel.go_live(hls.url)
        for streamer in (bili, twitch):
            wait_until(
                lambda s=streamer: any(
                    seg["completed_at"]
                    for session in sessions_of(api, s["id"])
                    for seg in segments(api, session["id"])
                ),
                60,
                f"a closed segment of {streamer['name']}",
            )
        (bili_session,) = sessions_of(api, bili["id"])
        (twitch_session,) = sessions_of(api, twitch["id"])
        assert bili_session["title"] == "音悦台"
        assert twitch_session["title"] == "LA DES-VELADA"
        # the Bilibili stream came signed from getRoomPlayInfo (WBI checked by the fake)
        assert fake.bilibili.calls("getRoomPlayInfo") >= 1
        assert fake.twitch.calls("/api/channel/hls/abby_") >= 1

        room.go_offline()
        channel.go_offline()
        hls.end_stream()
    for streamer in (bili, twitch):
        wait_until(
            lambda s=streamer: (
                (found := sessions_of(api, s["id"])) and found[0]["end_time"]
            ),
            60,
            f"{streamer['name']}'s session to end",
        )
    for streamer, suffix in ((bili, ".flv"), (twitch, ".ts")):
        (session,) = sessions_of(api, streamer["id"])
        rows = segments(api, session["id"])
        assert rows
        for row in rows:
            path = Path(row["file_path"])
            assert path.suffix == suffix
            assert path.stat().st_size == row["size_bytes"] > 0
            assert_playable(path)
