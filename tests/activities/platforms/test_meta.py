"""Every platform module follows the house rules; every one has its test module."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

import pytest

import activities.platforms as platforms
from activities.platforms import Extractor, PlatformOptions, default_registry
from tests.activities.platforms.urltable import UrlTable

# the contract and its helpers, not platforms; `_<platform>_api` modules are a
# platform's private helpers (answer models, signatures)
SEAMS = {"base", "web"}
MODULES = sorted(
    info.name
    for info in pkgutil.iter_modules(platforms.__path__)
    if info.name not in SEAMS and not info.name.startswith("_")
)
TESTS = Path(__file__).parent
TAGS = ("$description ", "$url ", "$type ", "$metadata ")


@pytest.mark.parametrize("name", MODULES)
def test_platform_module_shape(name):
    module = importlib.import_module(f"activities.platforms.{name}")
    extractor = module.__extractor__
    assert issubclass(extractor, Extractor)
    assert extractor.__name__.isidentifier()
    assert "_" not in extractor.__name__
    assert extractor.__name__[0].isupper()
    assert extractor.platform == name
    assert extractor.matchers, "an extractor needs at least one named URL matcher"
    assert issubclass(extractor.options_model, PlatformOptions)
    assert extractor.batch_size >= 0
    if extractor.batch_size:
        assert extractor.check_batch is not Extractor.check_batch


@pytest.mark.parametrize("name", MODULES)
def test_metadata_docstring(name):
    """streamlink-style metadata lines at the top of the module docstring."""
    module = importlib.import_module(f"activities.platforms.{name}")
    lines = (module.__doc__ or "").splitlines()
    assert f"$platform {name}" in lines
    for tag in TAGS:
        assert any(line.startswith(tag) for line in lines), f"{name}: no {tag}line"
    urls = [line.removeprefix("$url ") for line in lines if line.startswith("$url ")]
    extractor = module.__extractor__
    for url in urls:
        assert extractor.match(url), f"{name}: its own example {url} does not match"


@pytest.mark.parametrize("name", MODULES)
def test_every_platform_has_its_test_module_and_url_table(name):
    path = TESTS / f"test_{name}.py"
    assert path.is_file()
    tests = importlib.import_module(f"tests.activities.platforms.test_{name}")
    extractor = importlib.import_module(f"activities.platforms.{name}").__extractor__
    tables = [
        obj
        for obj in vars(tests).values()
        if isinstance(obj, type) and issubclass(obj, UrlTable) and obj is not UrlTable
    ]
    assert [t.extractor for t in tables] == [extractor], f"test_{name}: one UrlTable"
    table = tables[0]
    assert table.should_match_groups, "name the groups of at least one URL shape"
    assert table.should_not_match
    matched = {p.values[1] for p in table.should_match_groups}
    assert matched == set(extractor.matchers), "every named matcher has a row"


def test_registry_knows_every_module():
    assert sorted(e.platform for e in default_registry().extractors) == MODULES
