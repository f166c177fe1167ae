"""HLS as both sides read it: playlists parsed into small models, variants ranked.

Below `engines` and `platforms`, importing neither: the native HLS engine follows
the playlists it parses here and picks a master playlist's variant by `rank`; the
extractors read the same playlists (generic `.m3u8` URLs, Twitch's usher) and
rank their own stream lists with the same rule, so "the best stream" means one
thing everywhere.

Modules: `playlist` (lenient parsing: `parse_playlist` → `MediaPlaylist` or
`MasterPlaylist`) and `select` (`Candidate`, `candidates_of`, `rank`).
"""

from activities.hls.playlist import (
    ByteRange,
    InitSection,
    Key,
    MasterPlaylist,
    MediaPlaylist,
    PlaylistError,
    Segment,
    Variant,
    parse_playlist,
)
from activities.hls.select import Candidate, candidates_of, rank

__all__ = [
    "ByteRange",
    "Candidate",
    "InitSection",
    "Key",
    "MasterPlaylist",
    "MediaPlaylist",
    "PlaylistError",
    "Segment",
    "Variant",
    "candidates_of",
    "parse_playlist",
    "rank",
]
