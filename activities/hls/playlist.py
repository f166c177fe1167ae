"""HLS playlists as the recorder sees them: parsed leniently into small frozen models.

m3u8's tag parser (`m3u8.parse`) turns the text into dicts; this module keeps what
recording needs and resolves every URI against the playlist URL. m3u8's model layer
(`m3u8.loads`) is never used: it raises on real playlists the parser reads fine (a
variant without BANDWIDTH, a DATERANGE without ID). When the parser itself raises (an
IPTV `#EXTINF` carrying attributes), the text is cut down to the tags recording needs
and parsed once more; only then is the playlist refused with `PlaylistError`.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

import m3u8

log = logging.getLogger(__name__)

# Tags the second, lenient pass keeps; every other `#EXT` line is dropped.
_NEEDED_TAGS = frozenset(
    {
        "#EXTM3U",
        "#EXTINF",
        "#EXT-X-VERSION",
        "#EXT-X-TARGETDURATION",
        "#EXT-X-MEDIA-SEQUENCE",
        "#EXT-X-DISCONTINUITY-SEQUENCE",
        "#EXT-X-DISCONTINUITY",
        "#EXT-X-BYTERANGE",
        "#EXT-X-KEY",
        "#EXT-X-MAP",
        "#EXT-X-GAP",
        "#EXT-X-ENDLIST",
        "#EXT-X-PLAYLIST-TYPE",
        "#EXT-X-STREAM-INF",
        "#EXT-X-MEDIA",
    }
)
_EXTINF_WITH_ATTRIBUTES = re.compile(r"^#EXTINF:\s*(-?[\d.]+)[^,]*(,.*)?$")
_HEADER_LINES = 3


class PlaylistError(ValueError):
    """The text is not an HLS playlist, or not one we can make sense of."""


@dataclass(frozen=True)
class ByteRange:
    """A sub-range of a resource (`EXT-X-BYTERANGE`, `EXT-X-MAP BYTERANGE`)."""

    offset: int
    length: int

    def header(self) -> str:
        """The HTTP `Range` header value asking for exactly this range."""
        return f"bytes={self.offset}-{self.offset + self.length - 1}"


@dataclass(frozen=True)
class Key:
    """The `EXT-X-KEY` in effect for a segment (METHOD=NONE is no key at all).

    Attributes:
        iv: the IV attribute as written (hex); checked by `crypto`, so a malformed
            one fails only a recording that needs it, not the whole playlist.
    """

    method: str
    url: str | None
    iv: str | None = None
    keyformat: str = "identity"


@dataclass(frozen=True)
class InitSection:
    """An `EXT-X-MAP`: the fMP4 initialisation segment."""

    url: str
    byterange: ByteRange | None = None


@dataclass(frozen=True)
class Segment:
    """One media segment, numbered by its media sequence."""

    sequence: int
    url: str
    duration: float
    key: Key | None = None
    init: InitSection | None = None
    byterange: ByteRange | None = None
    discontinuity: bool = False
    gap: bool = False


@dataclass(frozen=True)
class MediaPlaylist:
    """A media playlist: the segments currently in the window."""

    url: str
    target_duration: float | None
    media_sequence: int
    segments: tuple[Segment, ...]
    ended: bool

    @property
    def last_sequence(self) -> int | None:
        """Media sequence of the newest segment, None for an empty window."""
        return self.segments[-1].sequence if self.segments else None


@dataclass(frozen=True)
class Variant:
    """One `EXT-X-STREAM-INF` of a master playlist.

    Attributes:
        names: every name the variant goes by, most specific first: the NAME of
            its VIDEO rendition, IVS-NAME, STABLE-VARIANT-ID, the VIDEO group id.
        source: the platform marks it as the untranscoded source (Twitch's
            `chunked` group, `IVS-VARIANT-SOURCE="source"`).
        pathway: the content-steering PATHWAY-ID, a CDN name.
    """

    url: str
    bandwidth: int = 0
    average_bandwidth: int = 0
    resolution: tuple[int, int] | None = None
    frame_rate: float | None = None
    codecs: tuple[str, ...] = ()
    names: tuple[str, ...] = ()
    source: bool = False
    pathway: str | None = None


@dataclass(frozen=True)
class MasterPlaylist:
    """A master (multivariant) playlist."""

    url: str
    variants: tuple[Variant, ...]


def parse_playlist(text: str, url: str) -> MediaPlaylist | MasterPlaylist:
    """Parse a playlist served at `url`, leniently.

    Args:
        text: the response body.
        url: where it came from (the base of relative URIs).

    Returns:
        A master or a media playlist.

    Raises:
        PlaylistError: the text is no playlist, or breaks the parser even after
            everything recording does not need was removed.
    """
    if not _has_header(text):
        raise PlaylistError(f"{url} did not return an HLS playlist")
    try:
        data = _parse(text)
    # m3u8 raises anything at all on input it does not expect (KeyError, ValueError,
    # TypeError, IndexError), so the net is wide on purpose
    except Exception as first:
        try:
            data = _parse(_lenient(text))
        except Exception as err:
            raise PlaylistError(f"cannot parse the playlist at {url}: {err!r}") from err
        log.info("parsed %s leniently after m3u8 failed: %r", url, first)
    if data.get("is_variant"):
        return _master(data, url)
    return _media(data, url)


def _parse(text: str) -> dict[str, Any]:
    data: dict[str, Any] = m3u8.parse(text, strict=False)
    return data


def _has_header(text: str) -> bool:
    lines = [line.strip() for line in text.lstrip("\ufeff").splitlines()]
    head = [line for line in lines if line][:_HEADER_LINES]
    if any(line.startswith("#EXTM3U") for line in head):
        return True
    # a playlist that forgot its header still has HLS tags; an error page has none
    return any(line.startswith(("#EXTINF:", "#EXT-X-")) for line in lines)


def _lenient(text: str) -> str:
    kept: list[str] = []
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("#EXT"):
            tag = line.split(":", 1)[0]
            if tag not in _NEEDED_TAGS:
                continue
            found = _EXTINF_WITH_ATTRIBUTES.match(line)
            if found:
                line = f"#EXTINF:{found.group(1)}{found.group(2) or ','}"
        kept.append(line)
    return "\n".join(kept) + "\n"


def _media(data: dict[str, Any], url: str) -> MediaPlaylist:
    # a delta update (EXT-X-SKIP) leaves out the oldest segments, not their numbers
    skipped = int((data.get("skip") or {}).get("skipped_segments") or 0)
    base = int(data.get("media_sequence") or 0) + skipped
    segments: list[Segment] = []
    range_ends: dict[str, int] = {}
    for offset, raw in enumerate(data.get("segments") or []):
        uri = raw.get("uri")
        if not uri:
            continue
        seg_url = urljoin(url, uri)
        byterange = _byterange(raw.get("byterange"), range_ends.get(seg_url, 0))
        if byterange is not None:
            range_ends[seg_url] = byterange.offset + byterange.length
        init = raw.get("init_section")
        segments.append(
            Segment(
                sequence=base + offset,
                url=seg_url,
                duration=max(0.0, float(raw.get("duration") or 0.0)),
                key=_key(raw.get("key"), url),
                init=(
                    InitSection(
                        url=urljoin(url, init["uri"]),
                        byterange=_byterange(init.get("byterange"), 0),
                    )
                    if init and init.get("uri")
                    else None
                ),
                byterange=byterange,
                discontinuity=bool(raw.get("discontinuity")),
                gap=bool(raw.get("gap_tag")),
            )
        )
    target = data.get("targetduration")
    playlist_type = str(data.get("playlist_type") or "").upper()
    return MediaPlaylist(
        url=url,
        target_duration=float(target) if target else None,
        media_sequence=base - skipped,
        segments=tuple(segments),
        ended=bool(data.get("is_endlist")) or playlist_type == "VOD",
    )


def _key(raw: dict[str, Any] | None, url: str) -> Key | None:
    if not raw:
        return None
    method = str(raw.get("method") or "NONE").upper()
    if method == "NONE":
        return None
    uri = raw.get("uri")
    iv = raw.get("iv")
    return Key(
        method=method,
        url=urljoin(url, uri) if uri else None,
        iv=_unquote(iv) or None,
        keyformat=_unquote(raw.get("keyformat")) or "identity",
    )


def _byterange(text: str | None, previous_end: int) -> ByteRange | None:
    if not text:
        return None
    length, _, offset = str(text).strip('"').partition("@")
    try:
        return ByteRange(
            offset=int(offset) if offset else previous_end, length=int(length)
        )
    except ValueError as err:
        raise PlaylistError(f"bad byte range {text!r}") from err


def _master(data: dict[str, Any], url: str) -> MasterPlaylist:
    video_names: dict[str, str] = {}
    for media in data.get("media") or []:
        if str(media.get("type") or "").upper() == "VIDEO" and media.get("group_id"):
            video_names.setdefault(media["group_id"], str(media.get("name") or ""))
    variants: list[Variant] = []
    for raw in data.get("playlists") or []:
        uri = raw.get("uri")
        if not uri:
            continue
        info: dict[str, Any] = raw.get("stream_info") or {}
        group = _unquote(info.get("video"))
        names = [
            video_names.get(group, "") if group else "",
            _unquote(info.get("ivs_name")),
            _unquote(info.get("stable_variant_id")),
            group,
        ]
        variants.append(
            Variant(
                url=urljoin(url, uri),
                bandwidth=_int(info.get("bandwidth")),
                average_bandwidth=_int(info.get("average_bandwidth")),
                resolution=_resolution(info.get("resolution")),
                frame_rate=_float(info.get("frame_rate")),
                codecs=tuple(
                    c.strip() for c in _unquote(info.get("codecs")).split(",") if c
                ),
                names=tuple(dict.fromkeys(n for n in names if n)),
                source=group == "chunked"
                or _unquote(info.get("ivs_variant_source")).lower() == "source",
                pathway=_unquote(info.get("pathway_id")) or None,
            )
        )
    return MasterPlaylist(url=url, variants=tuple(variants))


def _unquote(value: object) -> str:
    return "" if value is None else str(value).strip().strip('"')


def _int(value: object) -> int:
    try:
        return max(0, int(float(_unquote(value) or 0)))
    except ValueError:
        return 0


def _float(value: object) -> float | None:
    try:
        return float(_unquote(value)) if value is not None else None
    except ValueError:
        return None


def _resolution(value: object) -> tuple[int, int] | None:
    width, _, height = _unquote(value).lower().partition("x")
    if width.isdigit() and height.isdigit():
        return int(width), int(height)
    return None
