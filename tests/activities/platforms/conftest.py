"""Platform tests: URL tables become test cases; class-level caches reset per test."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from activities.platforms.bilibili import Bilibili
from tests.activities.platforms.urltable import UrlTable

if TYPE_CHECKING:
    from collections.abc import Iterator


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    cls = metafunc.cls
    if cls is None or not issubclass(cls, UrlTable):
        return
    names, cases = cls.cases(metafunc.function.__name__)
    metafunc.parametrize(names, cases)


@pytest.fixture(autouse=True)
def _fresh_caches() -> Iterator[None]:
    """Bilibili keeps WBI keys and room uids per process; tests start without."""
    Bilibili.forget()
    yield
    Bilibili.forget()
