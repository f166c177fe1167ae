"""Every platform module follows the house rules; every one has its test module."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

import pytest

import activities.platforms as platforms
from activities.platforms import Extractor, default_registry

SEAMS = {"base"}
MODULES = sorted(
    info.name
    for info in pkgutil.iter_modules(platforms.__path__)
    if info.name not in SEAMS
)
TESTS = Path(__file__).parent


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
    # streamlink-style metadata lines at the top of the module docstring
    lines = (module.__doc__ or "").splitlines()
    assert f"$platform {name}" in lines
    for tag in ("$description ", "$url ", "$type ", "$metadata "):
        assert any(line.startswith(tag) for line in lines), f"{name}: no {tag}line"


@pytest.mark.parametrize("name", MODULES)
def test_every_platform_has_its_test_module(name):
    assert (TESTS / f"test_{name}.py").is_file()


def test_registry_knows_every_module():
    assert sorted(e.platform for e in default_registry().extractors) == MODULES
