"""Platform name → chat codec."""

from __future__ import annotations

from typing import TYPE_CHECKING

from activities.danmu.bigo import BigoCodec
from activities.danmu.bilibili import BilibiliCodec
from activities.danmu.codec import DanmuProtocolError
from activities.danmu.douyin import DouyinCodec
from activities.danmu.douyu import DouyuCodec
from activities.danmu.huya import HuyaCodec
from activities.danmu.soop import SoopCodec
from activities.danmu.twitcasting import TwitcastingCodec
from activities.danmu.twitch import TwitchCodec

if TYPE_CHECKING:
    from activities.danmu.codec import DanmuCodec

CODECS: dict[str, type[DanmuCodec]] = {
    codec.platform: codec
    for codec in (
        BilibiliCodec,
        TwitchCodec,
        DouyuCodec,
        HuyaCodec,
        DouyinCodec,
        TwitcastingCodec,
        SoopCodec,
        BigoCodec,
    )
}


def codec_for(platform: str) -> type[DanmuCodec]:
    """The codec of a platform's chat.

    Raises:
        DanmuProtocolError: srec has no chat protocol for it.
    """
    try:
        return CODECS[platform.lower()]
    except KeyError:
        raise DanmuProtocolError(
            f"no danmu protocol for platform {platform!r}"
        ) from None


def supports(platform: str) -> bool:
    """True when srec can record this platform's chat."""
    return platform.lower() in CODECS
