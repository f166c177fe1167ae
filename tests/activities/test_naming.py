"""Segment file names: layout, sanitising and containment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import TYPE_CHECKING

import pytest

from activities.contracts import DEFAULT_FILENAME_TEMPLATE, DEFAULT_OUTPUT_FOLDER
from activities.naming import (
    MAX_FILE_NAME_BYTES,
    NameFields,
    join_template,
    sanitize_component,
    segment_path,
    validate_template,
)

if TYPE_CHECKING:
    from pathlib import Path

CREATED = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)


def _path(
    root: Path,
    streamer: str = "alice",
    title: str = "hello",
    *,
    created: datetime = CREATED,
    index: int = 3,
    ext: str = "ts",
    template: str = join_template(DEFAULT_OUTPUT_FOLDER, DEFAULT_FILENAME_TEMPLATE),
    fields: NameFields | None = None,
) -> Path:
    return segment_path(
        root,
        template,
        fields or NameFields(streamer=streamer, title=title),
        created=created,
        index=index,
        ext=ext,
    )


def test_layout_uses_local_time(tmp_path: Path) -> None:
    path = _path(tmp_path)
    stamp = CREATED.astimezone().strftime("%Y%m%d-%H%M%S")
    assert path == tmp_path / "alice" / f"alice-{stamp}-hello_3.ts"


def test_any_offset_renders_the_same_local_time(tmp_path: Path) -> None:
    other = CREATED.astimezone(timezone(timedelta(hours=9)))
    assert _path(tmp_path, created=other) == _path(tmp_path)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("plain title", "plain title", id="plain"),
        pytest.param("a/b\\c", "a_b_c", id="separators"),
        pytest.param('<>:"|?*', "_______", id="reserved"),
        pytest.param("..", "untitled", id="dotdot"),
        pytest.param("../../etc/passwd", "_.._etc_passwd", id="traversal"),
        pytest.param(".hidden", "hidden", id="leading-dot"),
        pytest.param("trailing. . ", "trailing", id="trailing-dots"),
        pytest.param("tab\there\nnl\x00", "tab_here_nl_", id="controls"),
        pytest.param("bidi\u202eevil", "bidi_evil", id="bidi-override"),
        pytest.param("", "untitled", id="empty"),
        pytest.param("   ", "untitled", id="blank"),
        pytest.param("CON", "_CON", id="windows-device"),
        pytest.param("nul.txt", "_nul.txt", id="windows-device-ext"),
        pytest.param("COM1", "_COM1", id="windows-com"),
        pytest.param("直播 🎮", "直播 🎮", id="unicode"),
    ],
)
def test_sanitize_component(raw: str, expected: str) -> None:
    assert sanitize_component(raw) == expected


@pytest.mark.parametrize(
    "title",
    [
        pytest.param("x" * 500, id="ascii"),
        pytest.param("直" * 300, id="cjk"),
        pytest.param("🎮" * 100, id="emoji"),
    ],
)
def test_long_titles_are_capped_on_character_boundaries(
    tmp_path: Path, title: str
) -> None:
    path = _path(tmp_path, streamer="s" * 300, title=title, index=123456)
    assert len(path.name.encode()) <= MAX_FILE_NAME_BYTES
    path.name.encode().decode("utf-8")
    assert path.name.endswith("_123456.ts")


@pytest.mark.parametrize(
    ("streamer", "title"),
    [
        pytest.param("..", "..", id="dotdot"),
        pytest.param("/abs", "/etc/passwd", id="absolute"),
        pytest.param("a/../../b", "../../x", id="nested-traversal"),
        pytest.param("", "", id="empty"),
    ],
)
def test_path_stays_inside_the_recordings_dir(
    tmp_path: Path, streamer: str, title: str
) -> None:
    path = _path(tmp_path, streamer=streamer, title=title)
    assert path.parent.parent == tmp_path
    assert path.resolve().is_relative_to(tmp_path.resolve())


def test_weird_extension_is_cleaned(tmp_path: Path) -> None:
    assert _path(tmp_path, ext="../ts").suffix == ".ts"


def test_negative_index_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="index"):
        _path(tmp_path, index=-1)


def test_template_placeholders(tmp_path: Path) -> None:
    fields = NameFields(
        streamer="bob", title="t", platform="twitch", streamer_id=7, session_id=42
    )
    path = _path(
        tmp_path,
        template="{platform}/{streamer_id}-{streamer}/%Y/{session_id}_%i_{title}%%",
        fields=fields,
        index=5,
    )
    year = CREATED.astimezone().strftime("%Y")
    assert path == tmp_path / "twitch" / "7-bob" / year / "42_5_t%.ts"


def test_strftime_codes_apply_to_the_template_not_to_titles(tmp_path: Path) -> None:
    path = _path(tmp_path, title="100%Y off", template="{title}_%i")
    assert path.name == "100%Y off_3.ts"


@pytest.mark.parametrize(
    ("template", "reason"),
    [
        pytest.param("../{streamer}_%i", "inside the output root", id="dotdot"),
        pytest.param("a/../../b_%i", "inside the output root", id="nested-dotdot"),
        pytest.param("/etc/{streamer}_%i", "absolute", id="absolute"),
        pytest.param("C:/x_%i", "absolute", id="windows-drive"),
        pytest.param("a//b_%i", "inside the output root", id="empty-component"),
        pytest.param("{nope}_%i", "unknown placeholder", id="unknown"),
        pytest.param("%i/{streamer}", "needs %i", id="no-index-in-name"),
        pytest.param("  ", "empty", id="blank"),
    ],
)
def test_bad_templates_are_rejected(template: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        validate_template(template)
