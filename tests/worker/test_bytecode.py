"""The workflow modules are compiled once at worker start, even where Python would
not write bytecode itself (`PYTHONDONTWRITEBYTECODE`, a read-only install)."""

from __future__ import annotations

import compileall
import importlib.util
import sys
from pathlib import Path

import pytest

from worker import bytecode


def package(tmp_path: Path) -> Path:
    root = tmp_path / "pkg"
    root.mkdir()
    (root / "__init__.py").write_text("")
    (root / "mod.py").write_text("VALUE = 1\n")
    return root


def test_the_cache_is_written_beside_the_sources(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    root = package(tmp_path)
    assert bytecode.warm(root, tmp_path / "fallback") == root
    # where the import system looks for it (it reads a cache it may not write)
    assert Path(importlib.util.cache_from_source(str(root / "mod.py"))).is_file()


def test_a_read_only_install_caches_under_the_data_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = package(tmp_path)
    fallback = tmp_path / "data" / "pycache"
    real = compileall.compile_dir
    calls: list[str | None] = []

    def compile_dir(path: Path, quiet: int) -> bool:
        calls.append(sys.pycache_prefix)
        if sys.pycache_prefix is None:
            return False  # as a read-only site-packages answers (root ignores modes)
        return bool(real(path, quiet=quiet))

    monkeypatch.setattr(compileall, "compile_dir", compile_dir)
    monkeypatch.setattr(sys, "pycache_prefix", None)
    assert bytecode.warm(root, fallback) == fallback
    assert calls == [None, str(fallback)]
    assert sys.pycache_prefix == str(fallback)
    assert list(fallback.rglob("mod*.pyc"))
