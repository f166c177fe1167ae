"""The import direction inside `activities`: engines and platforms never meet.

Engines record a resolved stream and know nothing of platforms (STYLE 5);
extractors resolve and never record (STYLE 4). What both need about HLS
(playlists, variant ranking) sits below both, in `activities.hls`, which imports
neither. Every import counts, `TYPE_CHECKING` ones included: a cycle that only the
type checker sees is still a cycle in the design.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ACTIVITIES = Path(__file__).parents[2] / "activities"
# package → packages it must never import
FORBIDDEN = {
    "platforms": ("activities.engines",),
    "engines": ("activities.platforms",),
    "hls": ("activities.engines", "activities.platforms"),
}


def imported(path: Path) -> list[tuple[int, str]]:
    """Every module `path` imports, with its line (`from a import b` gives a.b too)."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.append((node.lineno, node.module))
            found += [(node.lineno, f"{node.module}.{a.name}") for a in node.names]
    return found


def offences(package: str) -> list[str]:
    banned = FORBIDDEN[package]
    return [
        f"{path.relative_to(ACTIVITIES.parent)}:{line} imports {name}"
        for path in sorted((ACTIVITIES / package).rglob("*.py"))
        for line, name in imported(path)
        if any(name == b or name.startswith(b + ".") for b in banned)
    ]


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_imports_flow_one_way(package: str) -> None:
    assert (ACTIVITIES / package).is_dir()
    assert offences(package) == []


def test_the_check_sees_every_form_of_import(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text(
        "from typing import TYPE_CHECKING\n"
        "import activities.engines.base\n"
        "from activities import engines\n"
        "if TYPE_CHECKING:\n"
        "    from activities.engines.hls import HlsEngine\n"
        "from . import sibling\n"
    )
    names = [name for _, name in imported(module)]
    assert "activities.engines.base" in names
    assert "activities.engines" in names
    assert "activities.engines.hls" in names
    assert all("sibling" not in name for name in names)
