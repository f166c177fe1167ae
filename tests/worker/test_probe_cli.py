"""`srec probe`, run as a real process against the fake platforms (SREC_HOST_MAP)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

from tests.fakes.platform import FakePlatforms

if TYPE_CHECKING:
    from collections.abc import Iterator

STREAM = "http://127.0.0.1:9/live.m3u8"
CHANNEL = "https://www.twitch.tv/abby_"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakePlatforms]:
    with FakePlatforms() as platforms:
        yield platforms


def probe(fake: FakePlatforms, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SREC_")}
    env["SREC_HOST_MAP"] = fake.host_map_setting
    return subprocess.run(
        [sys.executable, "-m", "worker.cli", "probe", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_live_channel_prints_status_and_streams(fake: FakePlatforms) -> None:
    fake.twitch.room("abby_", title="a title", category="Art").go_live(STREAM)
    done = probe(fake, CHANNEL)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "platform  twitch (live, reference abby_)"
    assert lines[1] == "status    live"
    assert "title     a title" in lines
    assert "category  Art" in lines
    # the source variant is the one srec would record
    assert any(line.startswith("  * hls  1080p60") for line in lines)
    assert STREAM not in done.stdout


def test_json_with_urls(fake: FakePlatforms) -> None:
    fake.twitch.room("abby_").go_live(STREAM)
    done = probe(fake, CHANNEL, "--json", "--resolve")
    assert done.returncode == 0, done.stderr
    body = json.loads(done.stdout)
    assert body["channel"]["reference"] == "abby_"
    assert body["status"]["outcome"] == "live"
    assert {s["url"] for s in body["streams"]} == {STREAM}


def test_not_live_exits_1_and_says_why(fake: FakePlatforms) -> None:
    done = probe(fake, "https://www.twitch.tv/nobody_here")
    assert done.returncode == 1
    assert "status    not_found" in done.stdout


def test_unsupported_url_exits_2(fake: FakePlatforms) -> None:
    done = probe(fake, "https://example.com/nothing")
    assert done.returncode == 2
    assert "no platform recognises" in done.stderr
    assert "Traceback" not in done.stderr
