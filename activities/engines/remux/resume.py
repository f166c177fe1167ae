"""Where ffmpeg and streamlink start an HLS stream, and how far each file got.

Neither program can be told "start after media sequence N": both start `k`
segments back from the end of the playlist they load (ffmpeg `-live_start_index
-k`, streamlink `--hls-live-edge k`), and neither says which sequence it is on. So
srec loads the media playlist itself just before each run and keeps time on the
stream's live edge instead:

* Edge time. A run started `k` segments back from the end of the window srec
  loaded at wall time T0 starts at media that was the live edge at about T0 - L,
  L the duration of those `k` segments; `out_time` seconds later in the run's
  media, the live edge was at T0 - L + out_time. That Unix time, in ms, is each
  file's `resume_edge_ms`, stored with its confirmed size.
* Resume. A later attempt (after a crash, or when the stream comes back within the
  session's grace window) computes how far behind the live edge that point is now,
  adds the program's start-up time (it loads its own playlist a little later, when
  the window may have moved on) and starts at the segment holding the result, one
  more for the error of the estimate (a segment published just before or after a
  load). What it repeats shows up at the start of the next file; what it loses is
  only what left the playlist window meanwhile.

Live media and wall time advance together, so the estimate holds over hours; a
stream that stalled meanwhile makes the rewind longer than needed (more repeated,
nothing lost). A playlist that cannot be loaded (or a master playlist's variant)
leaves the programs at their own default and the files without an edge time.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx

from activities.hls.playlist import (
    MasterPlaylist,
    MediaPlaylist,
    PlaylistError,
    parse_playlist,
)

if TYPE_CHECKING:
    from activities.contracts import StreamSource

log = logging.getLogger(__name__)

LOAD_TIMEOUT_SECS = 5.0
# segments of margin on top of the computed rewind (see the module docstring)
MARGIN_SEGMENTS = 1


@dataclass(frozen=True)
class Window:
    """A media playlist's window as srec loaded it.

    Attributes:
        durations: the EXTINF durations, oldest first.
        ended: it carries ENDLIST (the programs then play it from its start).
        loaded_at: wall time of the load (Unix seconds).
    """

    durations: tuple[float, ...]
    ended: bool
    loaded_at: float

    def span(self, back: int) -> float:
        """Seconds of media in the last `back` segments (all, once ended)."""
        if self.ended:
            return sum(self.durations)
        return sum(self.durations[-back:]) if back > 0 else 0.0


async def load_window(
    source: StreamSource, *, timeout_secs: float = LOAD_TIMEOUT_SECS
) -> Window | None:
    """Load `source`'s media playlist (a master's highest-bandwidth variant).

    Returns:
        The window, or None when it could not be loaded (logged; not an error:
        the program will say what is wrong with the stream).
    """
    try:
        async with httpx.AsyncClient(
            proxy=source.proxy,
            headers=source.headers,
            timeout=timeout_secs,
            follow_redirects=True,
        ) as http:
            playlist = await _load(http, source.url)
            if isinstance(playlist, MasterPlaylist):
                best = max(playlist.variants, key=lambda v: v.bandwidth, default=None)
                if best is None:
                    return None
                playlist = await _load(http, best.url)
    except (httpx.HTTPError, httpx.InvalidURL, PlaylistError, ValueError) as err:
        log.info("cannot load %s to place the recording: %r", source.url, err)
        return None
    except ImportError as err:  # a SOCKS proxy without httpx[socks]
        log.info("cannot load %s through %s: %s", source.url, source.proxy, err)
        return None
    if not isinstance(playlist, MediaPlaylist) or not playlist.segments:
        return None
    return Window(
        durations=tuple(s.duration for s in playlist.segments),
        ended=playlist.ended,
        loaded_at=time.time(),
    )


async def _load(http: httpx.AsyncClient, url: str) -> MediaPlaylist | MasterPlaylist:
    response = await http.get(url)
    response.raise_for_status()
    return parse_playlist(response.text, str(response.url))


def segments_back(window: Window, rewind_secs: float) -> int:
    """How many segments back from the window's end hold `rewind_secs` of media,
    plus the margin; at most the whole window."""
    covered, back = 0.0, 0
    for duration in reversed(window.durations):
        if covered >= rewind_secs:
            break
        covered += duration
        back += 1
    return max(1, min(len(window.durations), back + MARGIN_SEGMENTS))


def resume_back(window: Window, edge_ms: int, startup_secs: float) -> int:
    """Segments back from the end to start at, to continue from `edge_ms`.

    Args:
        window: the playlist, loaded just now.
        edge_ms: where the last attempt's media ended (`EdgeClock`).
        startup_secs: the program's start-up, added to the rewind.
    """
    behind = window.loaded_at - edge_ms / 1000
    back = segments_back(window, max(0.0, behind + startup_secs))
    held = sum(window.durations)
    if behind > held:
        log.warning(
            "resuming %.1f s after the last recorded media: the playlist window "
            "no longer holds it",
            behind - held,
        )
    log.info("resuming %.1f s behind the live edge: %d segments back", behind, back)
    return back


class EdgeClock:
    """The live-edge time of a run's media (see the module docstring).

    Args:
        window: what srec loaded just before the run.
        back: segments back from its end the run starts at.
    """

    def __init__(self, window: Window, back: int) -> None:
        self.base_ms = (window.loaded_at - window.span(back)) * 1000

    def at(self, media_secs: float) -> int:
        """Unix ms at which the run's media at `media_secs` was the live edge."""
        return math.floor(self.base_ms + media_secs * 1000)
