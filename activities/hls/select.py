"""Stream selection: rank the candidates a master playlist (or a platform) offers.

The rule is `StreamSelection`'s: candidates outside the bitrate bounds or on a
blacklisted CDN are dropped; the rest are ranked by preferred quality, then audio-only
last (unless a quality asks for it), then preferred format, then preferred CDN, then
bitrate, highest first. When every candidate is dropped, the unfiltered ones are ranked
instead and the reason is logged: a recording in the wrong quality beats none.

Pure functions over plain data, so platforms that offer FLV and HLS URLs side by side
can rank their own `Candidate`s with the same rule.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from activities.contracts import StreamKind

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from activities.contracts import StreamSelection
    from activities.hls.playlist import MasterPlaylist, Variant

log = logging.getLogger(__name__)

_VIDEO_CODECS = ("avc", "hvc", "hev", "av01", "vp8", "vp09", "vp9", "dvh", "dva")
_HEIGHT_NAME = re.compile(r"^(\d{3,4})p(\d+)?")
_ANY = frozenset({"best", "any"})
_AUDIO_NAMES = frozenset({"audio_only", "audio only", "audio"})


@dataclass(frozen=True)
class Candidate:
    """One stream on offer.

    Attributes:
        url: what to record.
        kind: its transport.
        bitrate_bps: peak (else average) bitrate; 0 = unknown, never filtered out.
        qualities: lower-case names a quality preference may match.
        cdns: lower-case CDN names; the URL's host is matched separately.
        audio_only: carries no video.
    """

    url: str
    kind: StreamKind = StreamKind.HLS
    bitrate_bps: int = 0
    qualities: frozenset[str] = frozenset()
    cdns: frozenset[str] = frozenset()
    audio_only: bool = False

    @property
    def host(self) -> str:
        """Lower-case host of the URL."""
        return (urlsplit(self.url).hostname or "").lower()

    def describe(self) -> str:
        """A short label for logs."""
        names = ",".join(sorted(self.qualities)) or "?"
        return f"{names} {self.bitrate_bps} bps at {self.host or self.url}"


def candidates_of(master: MasterPlaylist) -> list[Candidate]:
    """The variants of a master playlist as candidates (I-frame playlists excluded)."""
    return [_candidate(variant) for variant in master.variants]


def _candidate(variant: Variant) -> Candidate:
    names = {name.lower() for name in variant.names}
    height_fps: list[tuple[int, int | None]] = []
    if variant.resolution is not None:
        fps = round(variant.frame_rate) if variant.frame_rate else None
        height_fps.append((variant.resolution[1], fps))
    for name in list(names):
        found = _HEIGHT_NAME.match(name)
        if found:
            height_fps.append(
                (int(found.group(1)), int(found.group(2)) if found.group(2) else None)
            )
    for height, fps in height_fps:
        names.add(f"{height}p")
        if fps:
            names.add(f"{height}p{fps}")
    if variant.source or any("source" in name for name in names):
        names.add("source")
    has_video = variant.resolution is not None or any(
        codec.lower().startswith(_VIDEO_CODECS) for codec in variant.codecs
    )
    audio_only = bool(names & _AUDIO_NAMES) or (bool(variant.codecs) and not has_video)
    if audio_only:
        names |= {"audio_only", "audio"}
    return Candidate(
        url=variant.url,
        kind=StreamKind.HLS,
        bitrate_bps=variant.bandwidth or variant.average_bandwidth,
        qualities=frozenset(names),
        cdns=frozenset({variant.pathway.lower()} if variant.pathway else ()),
        audio_only=audio_only,
    )


def rank(
    candidates: Iterable[Candidate], selection: StreamSelection
) -> list[Candidate]:
    """Order `candidates` best first by `selection`'s rule (see the module docstring).

    Args:
        candidates: what is on offer.
        selection: the user's preferences.

    Returns:
        The kept candidates best first, or all of them when none was kept; empty
        only when `candidates` is.
    """
    offered = list(candidates)
    kept = [c for c in offered if _allowed(c, selection)]
    if offered and not kept:
        log.warning(
            "every one of %d streams is blacklisted or outside %d..%s bps; "
            "recording the best of them anyway",
            len(offered),
            selection.min_bitrate_bps,
            selection.max_bitrate_bps or "any",
        )
        kept = offered
    return sorted(kept, key=lambda c: _sort_key(c, selection))


def _allowed(candidate: Candidate, selection: StreamSelection) -> bool:
    if _cdn_rank(candidate, selection.cdn_blacklist) < len(selection.cdn_blacklist):
        return False
    bitrate = candidate.bitrate_bps
    if bitrate <= 0:
        return True
    if bitrate < selection.min_bitrate_bps:
        return False
    return not (selection.max_bitrate_bps and bitrate > selection.max_bitrate_bps)


def _sort_key(
    candidate: Candidate, selection: StreamSelection
) -> tuple[int, bool, int, int, int]:
    return (
        _quality_rank(candidate, selection.qualities),
        candidate.audio_only,
        _index(selection.formats, candidate.kind),
        _cdn_rank(candidate, selection.cdns),
        -candidate.bitrate_bps,
    )


def _quality_rank(candidate: Candidate, qualities: Sequence[str]) -> int:
    for position, wanted in enumerate(qualities):
        name = wanted.strip().lower()
        if name in candidate.qualities or (name in _ANY and not candidate.audio_only):
            return position
    return len(qualities)


def _cdn_rank(candidate: Candidate, cdns: Sequence[str]) -> int:
    host = candidate.host
    for position, wanted in enumerate(cdns):
        name = wanted.strip().lower()
        if name and (name in candidate.cdns or name in host):
            return position
    return len(cdns)


def _index(items: Sequence[StreamKind], item: StreamKind) -> int:
    return items.index(item) if item in items else len(items)
