"""The URL table every platform test module declares (streamlink's pattern).

    class TestUrls(UrlTable):
        extractor = Twitch
        should_match_groups = (
            pytest.param(URL, "live", {"channel": "abby_"}, id="www"),
        )
        should_match = (pytest.param("https://twitch.tv/abby_/", id="slash"),)
        should_not_match = (pytest.param("https://www.twitch.tv/videos/1", id="vod"),)

`conftest.pytest_generate_tests` turns the tables into test cases; `GENERIC_NEGATIVES`
are added to every `should_not_match`. A matched URL's `channel` group is the
reference `Extractor.channel(url).reference` stores.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import pytest

if TYPE_CHECKING:
    from collections.abc import Sequence

    from _pytest.mark.structures import ParameterSet

    from activities.platforms import Extractor

GENERIC_NEGATIVES = [
    pytest.param("", id="empty"),
    pytest.param("not a url", id="words"),
    pytest.param("https://example.com/", id="example-root"),
    pytest.param("https://example.com/some/page", id="example-page"),
    pytest.param("ftp://example.com/live", id="ftp"),
    pytest.param("file:///etc/passwd", id="file"),
]


class UrlTable:
    """Base of a platform's URL table; see the module docstring."""

    extractor: ClassVar[type[Extractor]]
    should_match: ClassVar[Sequence[ParameterSet]] = ()
    should_match_groups: ClassVar[Sequence[ParameterSet]] = ()
    should_not_match: ClassVar[Sequence[ParameterSet]] = ()

    def test_should_match(self, url: str) -> None:
        assert self.extractor.match(url) is not None, url

    def test_should_match_groups(
        self, url: str, matcher: str, groups: dict[str, Any]
    ) -> None:
        assert self.extractor.match(url) == (matcher, groups)
        channel = self.extractor.channel(url)
        assert channel.platform == self.extractor.platform
        assert channel.reference == groups.get("channel")

    def test_should_not_match(self, url: str) -> None:
        assert self.extractor.match(url) is None, url

    @classmethod
    def cases(cls, test: str) -> tuple[str, list[ParameterSet]]:
        """The parametrisation of one of the three tests."""
        if test == "test_should_match":
            urls = [pytest.param(p.values[0], id=p.id) for p in cls.should_match_groups]
            return "url", [*cls.should_match, *urls]
        if test == "test_should_match_groups":
            return "url,matcher,groups", list(cls.should_match_groups)
        return "url", [*cls.should_not_match, *GENERIC_NEGATIVES]
