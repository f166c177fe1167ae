"""Danmu throughput: messages one provider decodes and writes per second.

Feeds pre-built frames straight into the codec and a `DanmuSession`'s handler (dedupe,
statistics, XML writer, flushed every 5,000 messages as under load), on one core,
and reports messages per second and CPU milliseconds per 1,000 messages:

* bilibili: brotli (protover 3) frames of 20 DANMU_MSG each, as a busy room sends;
* twitch: IRC text frames of 10 PRIVMSG lines each.

Target: 5,000 msg/s sustained on one core, judged on CPU time (`capacity` =
1,000 / CPU seconds per 1,000 messages), since wall time on a shared machine measures
the neighbours too. `--messages N` sets the count (200,000). Exits 1 when a provider
misses the target or loses a message.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from activities.danmu import DanmuConnectInfo, DanmuSession, RoomMeta, codec_for
from tests.fakes.danmu.frames import bili_danmu, bili_frame, twitch_privmsg

TARGET = 5_000


def frames(platform: str, count: int) -> list[bytes | str]:
    texts = [
        "好好好",
        "hello world",
        "233333",
        "前方高能 <&>",
        "emoji 👍🏻 ok",
        "x" * 40,
    ]
    if platform == "bilibili":
        return [
            bili_frame([bili_danmu(i + j, texts[(i + j) % 6]) for j in range(20)], 3)
            for i in range(0, count, 20)
        ]
    return [
        "".join(twitch_privmsg(i + j, texts[(i + j) % 6]) for j in range(10))
        for i in range(0, count, 10)
    ]


async def run(platform: str, count: int, out: Path) -> tuple[float, float, int]:
    data = frames(platform, count)
    info = DanmuConnectInfo(platform=platform, room_id="1")
    codec = codec_for(platform)(info)
    session = DanmuSession(
        info, lambda i: out / f"{platform}{i}.xml", RoomMeta(platform, "1")
    )
    await session.rotate(0, datetime.now(UTC))
    handle = session._on_item  # the connection's callback
    wall, cpu = time.perf_counter(), time.process_time()
    for frame in data:
        for item in codec.decode(frame, time.time()).items:
            handle(item)
    result = await session.stop()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return wall, cpu, result.files[0].messages


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=200_000)
    args = parser.parse_args()
    failed = False
    print(
        f"{'provider':<10} {'messages':>9} {'wall msg/s':>10} {'cpu ms/1k':>10} "
        f"{'capacity':>9} {'written':>8}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for platform in ("bilibili", "twitch"):
            wall, cpu, written = asyncio.run(run(platform, args.messages, Path(tmp)))
            capacity = args.messages / cpu
            failed |= capacity < TARGET or written != args.messages
            print(
                f"{platform:<10} {args.messages:>9} {args.messages / wall:>10.0f} "
                f"{cpu * 1e6 / args.messages:>10.1f} {capacity:>9.0f} {written:>8}"
            )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
