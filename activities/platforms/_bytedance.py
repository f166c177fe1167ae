"""The stream list of ByteDance's webcast rooms, shared by Douyin and TikTok.

Private to `douyin` and `tiktok` (no `__extractor__`): both run on the same webcast
backend, and a room's `stream_url` has the same shape on both (Douyin's captured
`webcast/room/web/enter` answer in tests/resources/platforms/douyin/, TikTok's
`webcast/room/info` as yt-dlp's TikTokLiveIE reads it). The player's stream list is
`live_core_sdk_data.pull_data`: `options.qualities` (name, sdk_key, codec,
resolution, level) and `stream_data`, a JSON *string* mapping each sdk_key to its
`main` FLV and HLS URLs. `pull_datas` holds the same for a second screen (a
landscape room), and `flv_pull_url` / `hls_pull_url_map` are the older flat maps.
Every URL carries `expire=<epoch>`, its signature's end.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

from pydantic import BaseModel, Field

from activities.contracts import StreamInfo, StreamKind
from activities.platforms.web import parse

if TYPE_CHECKING:
    from collections.abc import Mapping

AUDIO_ONLY_KEY = "ao"
ORIGIN_KEY = "origin"
# the origin's FLV path ends `_or4.flv` when the room is transcoded from a source
# the audio-only stream still carries in full
_TRANSCODED_ORIGIN = "_or4."
_CODECS = {
    "264": "avc",
    "h264": "avc",
    "265": "hevc",
    "h265": "hevc",
    "bytevc1": "hevc",
}


class Quality(BaseModel):
    name: str
    sdk_key: str
    v_codec: str = ""
    resolution: str = ""
    level: int = 0


class PullOptions(BaseModel):
    qualities: list[Quality] = Field(default_factory=list)


class PullData(BaseModel):
    options: PullOptions = Field(default_factory=PullOptions)
    stream_data: str = ""  # JSON in a string


class SdkData(BaseModel):
    pull_data: PullData


class StreamUrl(BaseModel):
    flv_pull_url: dict[str, str] = Field(default_factory=dict)
    hls_pull_url_map: dict[str, str] = Field(default_factory=dict)
    live_core_sdk_data: SdkData | None = None
    pull_datas: dict[str, PullData] = Field(default_factory=dict)


class Main(BaseModel):
    flv: str = ""
    hls: str = ""
    sdk_params: str = ""  # JSON in a string: VCodec, vbitrate, resolution


class Entry(BaseModel):
    main: Main


class StreamData(BaseModel):
    data: dict[str, Entry] = Field(default_factory=dict)


class SdkParams(BaseModel):
    VCodec: str = ""
    resolution: str = ""


def streams_of(
    url: StreamUrl, headers: Mapping[str, str], *, origin_quality: bool = False
) -> list[StreamInfo]:
    """Every stream the room offers, best quality level first, FLV before HLS.

    The streams carry no bitrate: the advertised `v_bit_rate` is the transcode
    ladder's target and the origin's is nominal, below its own transcodes' (1.25
    vs 2 Mbps in the captured answer), so ranking by it would pick a re-encode over
    the source. The order says what the player ranks best (`level`).

    Args:
        url: the room's `stream_url`.
        headers: headers every stream request needs (Referer, User-Agent).
        origin_quality: also offer the untranscoded source where the origin is a
            transcode (`_or4`): the audio-only FLV without `only_audio=1`.

    Raises:
        ExtractorError: `stream_data` is not the JSON it should be.
    """
    pull = next(iter(url.pull_datas.values()), None) or (
        url.live_core_sdk_data.pull_data if url.live_core_sdk_data else None
    )
    found: list[StreamInfo] = []
    if pull is not None and pull.stream_data:
        data = parse(StreamData, pull.stream_data, "bytedance stream_data").data
        qualities = {q.sdk_key: q for q in pull.options.qualities}
        if origin_quality:
            found += _source(data, qualities.get(ORIGIN_KEY), headers)
        order = sorted(data, key=lambda k: -qualities[k].level if k in qualities else 1)
        for key in order:
            found += _pair(data[key].main, key, qualities.get(key), headers)
    if not found:
        found = [
            _stream(link, kind, name, "", headers)
            for kind, links in (
                (StreamKind.FLV, url.flv_pull_url),
                (StreamKind.HLS, url.hls_pull_url_map),
            )
            for name, link in links.items()
            if link
        ]
    return found


def _pair(
    main: Main, key: str, quality: Quality | None, headers: Mapping[str, str]
) -> list[StreamInfo]:
    params = _params(main.sdk_params)
    codec = _CODECS.get((quality.v_codec if quality else "") or params.VCodec.lower())
    label = _label(key, quality, params)
    return [
        _stream(link, kind, label, codec or "", headers)
        for kind, link in ((StreamKind.FLV, main.flv), (StreamKind.HLS, main.hls))
        if link
    ]


def _source(
    data: Mapping[str, Entry], origin: Quality | None, headers: Mapping[str, str]
) -> list[StreamInfo]:
    audio = data.get(AUDIO_ONLY_KEY)
    main = data[ORIGIN_KEY].main if ORIGIN_KEY in data else None
    if audio is None or main is None or _TRANSCODED_ORIGIN not in main.flv:
        return []
    link = audio.main.flv.replace("&only_audio=1", "").replace("only_audio=1&", "")
    label = _label(ORIGIN_KEY, origin, _params(main.sdk_params)) + " untranscoded"
    codec = _CODECS.get(origin.v_codec if origin else "", "")
    return [_stream(link, StreamKind.FLV, label, codec, headers)] if link else []


def _label(key: str, quality: Quality | None, params: SdkParams) -> str:
    """`蓝光 1088p (source)`: the player's name, the height, and what it is."""
    if key == AUDIO_ONLY_KEY:
        return "audio_only"
    name = quality.name if quality else key
    resolution = (quality.resolution if quality else "") or params.resolution
    sides = [int(side) for side in resolution.split("x") if side.isdigit()]
    # the short side names it: a portrait 720x1280 stream is "720p"
    label = f"{name} {min(sides)}p" if len(sides) == 2 else name
    return f"{label} (source)" if key == ORIGIN_KEY else label


def _params(text: str) -> SdkParams:
    try:
        return SdkParams.model_validate(json.loads(text)) if text else SdkParams()
    except (ValueError, TypeError):
        return SdkParams()  # only labels come from it: a bad one costs a name


def _stream(
    link: str, kind: StreamKind, quality: str, codec: str, headers: Mapping[str, str]
) -> StreamInfo:
    expire = parse_qs(urlsplit(link).query).get("expire", [""])[0]
    return StreamInfo(
        url=link,
        kind=kind,
        quality=quality,
        codec=codec,
        container="flv" if kind is StreamKind.FLV else "ts",
        headers=dict(headers),
        expires_at=(
            datetime.fromtimestamp(int(expire), UTC) if expire.isdigit() else None
        ),
    )
