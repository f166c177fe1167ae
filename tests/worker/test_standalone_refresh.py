"""`srec record` refreshes an expiring signed URL as the worker does."""

from __future__ import annotations

import asyncio
import io
import json
from typing import TYPE_CHECKING

import pytest

from activities.contracts import RecordingPolicy, StreamKind, StreamSource
from activities.platforms import default_registry
from tests.fakes.hls_media import render
from tests.fakes.platform import FakePlatforms
from tests.fakes.platform.bilibili import BilibiliApi
from tests.fakes.signed_cdn import SignedCdn
from tests.fakes.sink import wait_until
from tests.fakes.window_hls import WindowHls
from worker.console import Console
from worker.standalone import RecordOptions, record, refresh_hook

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from tests.fakes.hls_media import Rendition

ROOM = "23058"
CHANNEL = f"https://live.bilibili.com/{ROOM}"


@pytest.fixture(scope="module")
def rendition(ffmpeg: Path, tmp_path_factory: pytest.TempPathFactory) -> Rendition:
    return render(ffmpeg, tmp_path_factory.mktemp("standalone-src"), count=10)


@pytest.fixture
def platforms(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakePlatforms]:
    with FakePlatforms([BilibiliApi]) as fake:
        monkeypatch.setenv("SREC_HOST_MAP", fake.host_map_setting)
        yield fake


def options(tmp_path: Path, **kw: object) -> RecordOptions:
    return RecordOptions(
        url=CHANNEL,
        out=tmp_path / "out",
        policy=RecordingPolicy(),
        json=True,
        progress_secs=60,
        **kw,  # type: ignore[arg-type]
    )


async def test_the_hook_resolves_again_with_the_command_lines_headers_and_proxy(
    tmp_path, platforms
) -> None:
    platforms.bilibili.room(ROOM).go_live("http://127.0.0.1:9/live.m3u8")
    cli = options(tmp_path, headers={"X-From": "cli"}, proxy="http://127.0.0.1:3128")
    async with platforms.client() as http:
        status = (
            await default_registry().extractor_for(CHANNEL, http).check_live(CHANNEL)
        )
        assert status.source is not None
        hook = refresh_hook(status.source, cli, http)
        assert hook is not None
        fresh = await hook(status.source)
    assert fresh.url != status.source.url  # a newly signed one
    assert fresh.headers["X-From"] == "cli"
    assert fresh.proxy == "http://127.0.0.1:3128"
    direct = StreamSource(
        url="https://example.com/a.m3u8",
        kind=StreamKind.HLS,
        channel_url="https://example.com/a.m3u8",
    )
    assert refresh_hook(direct, cli, http) is None  # asking again tells nothing


async def test_srec_record_goes_on_after_the_url_expires(
    tmp_path, platforms, rendition
) -> None:
    out = io.StringIO()
    async with (
        WindowHls(rendition, head_start=4) as origin,
        SignedCdn(origin.url) as cdn,
    ):
        platforms.bilibili.room(ROOM).go_live(cdn.url_for(origin.url))
        run = asyncio.create_task(
            record(options(tmp_path), Console(out, tty=False, json=True))
        )

        def recorded() -> int:
            return sum(p.stat().st_size for p in (tmp_path / "out").rglob("*.ts"))

        await wait_until(lambda: run.done() or recorded() > 0, 30)
        cdn.revoke()
        code = await asyncio.wait_for(run, 30)
    assert code == 0
    events = [json.loads(line) for line in out.getvalue().splitlines()]
    summary = events[-1]
    assert summary["event"] == "summary"
    assert summary["reason"] == "stream ended"
    assert summary["url_refreshes"] == 1
    assert summary["segments"] == 1  # the same file all along
    assert 403 in cdn.statuses(".m3u8")
