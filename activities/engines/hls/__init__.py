"""The native HLS engine (see `activities.engines.hls.engine`).

Modules, bottom up: `playlist` (lenient parsing into small models), `select` (variant
ranking), `crypto` (AES-128), `cache` (load-once cache for keys and init sections),
`http11` (segment bodies by `http.client` in threads), `fetch` (ordered, bounded
concurrent downloads), `output` (files and splits),
`poller` (following the playlist) and `engine` (the two tasks around them).
"""

from activities.engines.hls.engine import HlsEngine

__all__ = ["HlsEngine"]
