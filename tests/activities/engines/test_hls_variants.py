"""The HLS engine resolves a master playlist: the chosen variant, the fallbacks."""

from __future__ import annotations

import pytest

from activities.contracts import StreamSelection
from activities.errors import RecorderProcessError
from tests.activities.engines.hls_support import check_files, make_plan, record
from tests.fakes.clock import VirtualClock
from tests.fakes.scripted_hls import Answer, ScriptedHls, window

MASTER = """#EXTM3U
#EXT-X-STREAM-INF:BANDWIDTH=900000,RESOLUTION=320x240,FRAME-RATE=25
high/index.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=300000,RESOLUTION=192x144,FRAME-RATE=25
low/index.m3u8
"""


def serve_variants(
    origin: ScriptedHls, hls_media, *, high: list[Answer] | None = None
) -> str:
    for name, rendition in (("high", hls_media.ts), ("low", hls_media.ts_small)):
        for n in range(3):
            origin.file(f"{name}/seg{n}.ts", rendition.segments[n])
    origin.playlist(
        "high/index.m3u8", high if high is not None else [window(0, 3, endlist=True)]
    )
    origin.playlist("low/index.m3u8", [window(0, 3, endlist=True)])
    return origin.playlist("master.m3u8", [MASTER])


@pytest.mark.parametrize(
    ("qualities", "variant"),
    [
        pytest.param([], "high", id="highest-bitrate"),
        pytest.param(["144p25"], "low", id="preferred-quality"),
    ],
)
async def test_engine_records_the_chosen_variant(
    tmp_path, hls_media, qualities: list[str], variant: str
) -> None:
    origin = ScriptedHls()
    url = serve_variants(origin, hls_media)
    done = await record(
        origin,
        url,
        make_plan(tmp_path),
        VirtualClock(),
        selection=StreamSelection(qualities=qualities),
    )
    assert done.reason == "ended"
    rendition = hls_media.ts if variant == "high" else hls_media.ts_small
    check_files(done.sink, rendition, [[0, 1, 2]])
    other = "low" if variant == "high" else "high"
    assert origin.count(f"{other}/index.m3u8") == 0
    assert origin.count("master.m3u8") == 1


async def test_engine_falls_back_to_the_next_variant(tmp_path, hls_media) -> None:
    origin = ScriptedHls()
    url = serve_variants(origin, hls_media, high=[404])
    done = await record(origin, url, make_plan(tmp_path), VirtualClock())
    assert done.reason == "ended"
    assert origin.count("high/index.m3u8") == 1
    check_files(done.sink, hls_media.ts_small, [[0, 1, 2]])


EMPTY_MASTER = "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n\n"


@pytest.mark.parametrize(
    ("master", "high", "match"),
    [
        pytest.param(MASTER, MASTER, "nested master", id="nested"),
        pytest.param(EMPTY_MASTER, MASTER, "no variants", id="empty"),
    ],
)
async def test_unusable_masters_fail_clearly(
    tmp_path, hls_media, master: str, high: str, match: str
) -> None:
    origin = ScriptedHls()
    serve_variants(origin, hls_media, high=[high])
    url = origin.playlist("master.m3u8", [master])
    with pytest.raises(RecorderProcessError, match=match):
        await record(origin, url, make_plan(tmp_path), VirtualClock())
    assert not (tmp_path / "out").exists()
