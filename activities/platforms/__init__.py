"""Platform registry: resolves a URL to the extractor that handles it.

Every module in this package that exports `__extractor__` is registered; a URL goes
to the highest-priority extractor whose matchers fit it.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import TYPE_CHECKING

from activities.errors import UnsupportedUrlError
from activities.platforms.base import Extractor

if TYPE_CHECKING:
    import httpx

__all__ = ["Extractor", "PlatformRegistry", "default_registry", "detect_platform"]


class PlatformRegistry:
    """Maps URLs to extractor classes; builds extractor instances on demand."""

    def __init__(self, extractors: list[type[Extractor]]) -> None:
        self.extractors = sorted(extractors, key=lambda e: -e.priority)

    def resolve(self, url: str) -> type[Extractor]:
        """Return the extractor class for `url`.

        Raises:
            UnsupportedUrlError: no platform recognises the URL.
        """
        for extractor in self.extractors:
            if extractor.match(url.strip()):
                return extractor
        names = ", ".join(e.platform for e in self.extractors)
        raise UnsupportedUrlError(
            f"no platform recognises this URL (supported: {names}); direct "
            "streams must be http(s) URLs ending in .m3u8 or .flv"
        )

    def extractor_for(self, url: str, http: httpx.AsyncClient) -> Extractor:
        return self.resolve(url)(http)


def _discover() -> list[type[Extractor]]:
    found: list[type[Extractor]] = []
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        extractor = getattr(module, "__extractor__", None)
        if extractor is not None:
            found.append(extractor)
    return found


_default: PlatformRegistry | None = None


def default_registry() -> PlatformRegistry:
    """The registry of every platform module shipped with srec."""
    global _default
    if _default is None:
        _default = PlatformRegistry(_discover())
    return _default


def detect_platform(url: str) -> str:
    """Return the platform name for `url` (raises UnsupportedUrlError)."""
    return default_registry().resolve(url).platform
