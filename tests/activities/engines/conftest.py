"""Real HLS media for the engine tests, rendered by ffmpeg once per session."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest

from tests.fakes.hls_media import Rendition, render

if TYPE_CHECKING:
    from pathlib import Path


@dataclass(frozen=True)
class HlsMedia:
    """Segment sets for scripted origins.

    Attributes:
        ts: 12 one-second MPEG-TS segments, 320x240.
        ts_small: 4 one-second MPEG-TS segments of another encode, 192x144.
        fmp4: 8 one-second fMP4 fragments with their init section, 320x240.
        fmp4_small: 4 fMP4 fragments of another encode, 192x144.
    """

    ts: Rendition
    ts_small: Rendition
    fmp4: Rendition
    fmp4_small: Rendition


@pytest.fixture(scope="session")
def hls_media(ffmpeg: Path, tmp_path_factory: pytest.TempPathFactory) -> HlsMedia:
    root = tmp_path_factory.mktemp("hls-media")
    small = (192, 144)
    return HlsMedia(
        ts=render(ffmpeg, root / "ts", count=12),
        ts_small=render(ffmpeg, root / "ts_small", count=4, size=small),
        fmp4=render(ffmpeg, root / "fmp4", count=8, fmp4=True),
        fmp4_small=render(ffmpeg, root / "fmp4_small", count=4, fmp4=True, size=small),
    )
