"""The native HLS engine (see `activities.engines.hls.engine`).

Modules, bottom up: `crypto` (AES-128), `cache` (load-once cache for keys and init
sections), `http11` (segment bodies by `http.client` in threads), `fetch` (ordered,
bounded concurrent downloads), `output` (files and splits), `poller` (following the
playlist) and `engine` (the two tasks around them). Playlist parsing and variant
ranking live below engines and platforms, in `activities.hls`, shared with the
extractors.
"""

from activities.engines.hls.engine import HlsEngine

__all__ = ["HlsEngine"]
