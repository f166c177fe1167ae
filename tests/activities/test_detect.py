"""The detection activity: platform lookup and error conversion at the boundary."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx
import pytest
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory
from temporalio.testing import ActivityEnvironment

from activities.contracts import CheckLiveInput
from activities.detect import PlatformActivities
from activities.platforms import PlatformRegistry
from activities.platforms.generic import Generic

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

URL = "https://cdn.example.com/live/room.m3u8"
ENDED = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\na.ts\n#EXT-X-ENDLIST\n"


def origin(request: httpx.Request) -> httpx.Response:
    if str(request.url) == URL:
        return httpx.Response(200, text=ENDED)
    if str(request.url) == URL.replace("room", "broken"):
        return httpx.Response(503)
    raise AssertionError(f"unexpected request to {request.url}")


@pytest.fixture
async def acts() -> AsyncIterator[PlatformActivities]:
    async with httpx.AsyncClient(transport=httpx.MockTransport(origin)) as http:
        yield PlatformActivities(http, PlatformRegistry([Generic]))


async def test_offline_is_a_value(acts: PlatformActivities) -> None:
    status = await ActivityEnvironment().run(acts.check_live, CheckLiveInput(url=URL))
    assert not status.is_live


async def test_unsupported_url_is_not_retried(acts: PlatformActivities) -> None:
    inp = CheckLiveInput(url="https://example.com/channel")
    with pytest.raises(ApplicationError) as caught:
        await ActivityEnvironment().run(acts.check_live, inp)
    assert caught.value.type == "UnsupportedUrlError"
    assert caught.value.non_retryable
    assert isinstance(caught.value.__cause__, Exception)


async def test_transient_failure_is_benign_and_retried(
    acts: PlatformActivities,
) -> None:
    inp = CheckLiveInput(url=URL.replace("room", "broken"))
    with pytest.raises(ApplicationError) as caught:
        await ActivityEnvironment().run(acts.check_live, inp)
    assert caught.value.type == "StreamUnavailableError"
    assert not caught.value.non_retryable
    assert caught.value.category is ApplicationErrorCategory.BENIGN
