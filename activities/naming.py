"""Output file names of recorded segments.

A segment's path under the recordings root comes from two templates, a folder
(`output_folder`, default `{streamer}`) and a file name (`filename_template`, default
`{streamer}-%Y%m%d-%H%M%S-{title}_%i`), joined by `join_template`: placeholders
`{streamer}`, `{title}`, `{platform}`, `{streamer_id}`, `{session_id}`, strftime codes
in the template's own text (local time at which the file was created) and `%i` for the
segment index. Streamer
names and titles come from users and platforms, so every component is sanitised: no
separators or traversal, no control or reserved characters, no leading dots, no Windows
device names, and the file name fits in 200 bytes of UTF-8. A template that could leave
the root is rejected by `validate_template`; the result is checked again.
"""

from __future__ import annotations

import os
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from datetime import datetime

MAX_FILE_NAME_BYTES = 200
MAX_STREAMER_BYTES = 64
UNTITLED = "untitled"

_RESERVED_CHARS = re.compile(r'[<>:"/\\|?*]')
_WHITESPACE = re.compile(r"\s+")
_WINDOWS_DEVICES = frozenset(
    {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"}
    | {f"COM{n}" for n in "123456789¹²³"}
    | {f"LPT{n}" for n in "123456789¹²³"}
)


def _is_unprintable(char: str) -> bool:
    # Cc = C0/C1 controls, Cf = invisible formatting (bidi overrides, zero widths)
    return unicodedata.category(char) in {"Cc", "Cf", "Cs", "Co", "Cn"}


def _truncate_utf8(text: str, max_bytes: int) -> str:
    return text.encode()[:max_bytes].decode("utf-8", "ignore")


def sanitize_component(text: str, *, max_bytes: int = MAX_FILE_NAME_BYTES) -> str:
    """Make `text` safe as one path component on Linux, macOS and Windows.

    Args:
        text: a streamer name, title or similar user/platform-provided string.
        max_bytes: the longest result allowed, in UTF-8 bytes.

    Returns:
        A non-empty component without separators, control or reserved characters,
        leading dots or trailing dots/spaces, that is not a Windows device name.
    """
    text = unicodedata.normalize("NFC", text)
    text = "".join("_" if _is_unprintable(c) else c for c in text)
    text = _RESERVED_CHARS.sub("_", text)
    text = _WHITESPACE.sub(" ", text)
    text = _truncate_utf8(text, max_bytes)
    # Windows silently drops trailing dots and spaces; leading dots hide files
    text = text.strip(" ").lstrip(".").rstrip(". ")
    if not text:
        return _truncate_utf8(UNTITLED, max_bytes)
    if text.split(".", 1)[0].rstrip(" ").upper() in _WINDOWS_DEVICES:
        text = _truncate_utf8("_" + text, max_bytes)
    return text


_PLACEHOLDER = re.compile(r"\{(\w+)\}")
_STRFTIME = re.compile(r"%(.)")
PLACEHOLDERS = ("streamer", "title", "platform", "streamer_id", "session_id")


@dataclass(frozen=True)
class NameFields:
    """What a segment's name may say about it."""

    streamer: str
    title: str = ""
    platform: str = ""
    streamer_id: int = 0
    session_id: int = 0


def _check_parts(template: str, what: str) -> list[str]:
    """The template's path components, each checked; raises ValueError naming `what`."""
    if template.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", template):
        raise ValueError(
            f"the {what} {template!r} is absolute; it must stay inside the output root"
        )
    parts = re.split(r"[/\\]", template)
    for part in parts:
        if part.strip() in {"", ".", ".."}:
            raise ValueError(
                f"the {what} {template!r} has an empty, '.' or '..' path component: "
                "it must stay inside the output root"
            )
        for name in _PLACEHOLDER.findall(part):
            if name not in PLACEHOLDERS:
                raise ValueError(
                    f"unknown placeholder {{{name}}} in the {what}; known: "
                    f"{', '.join('{' + p + '}' for p in PLACEHOLDERS)}"
                )
    return parts


def validate_template(template: str) -> None:
    """Check a segment path template (folder and file name joined).

    Raises:
        ValueError: with the reason: empty, absolute, escaping the root with `..`,
            an unknown placeholder, or no `%i` in the file name (segments would
            overwrite each other).
    """
    if not template.strip():
        raise ValueError("the file name template is empty")
    parts = _check_parts(template, "file name template")
    if "%i" not in parts[-1]:
        raise ValueError(
            "the file name template needs %i (the segment index) in its last "
            "component, or segments would overwrite each other"
        )


def validate_file_template(template: str) -> None:
    """Check `filename_template` before it is stored (the API answers 422 on error).

    Raises:
        ValueError: as `validate_template`, or a path separator in it (folders go
            into `output_folder`).
    """
    if re.search(r"[/\\]", template):
        raise ValueError(
            f"the file name template {template!r} holds a folder: put folders into "
            "output_folder"
        )
    validate_template(template)


def validate_folder_template(template: str) -> None:
    """Check `output_folder` (empty: the recordings root itself).

    Raises:
        ValueError: absolute, escaping the root, an empty component or an unknown
            placeholder.
    """
    if template:
        _check_parts(template, "output folder")


def join_template(folder: str, name: str) -> str:
    """The segment path template of an output folder and a file-name template."""
    return f"{folder.rstrip('/')}/{name}" if folder else name


def _render(part: str, values: dict[str, str], created: datetime, index: int) -> str:
    """Fill one component: placeholders, `%i` and strftime codes of its own text."""

    def code(match: re.Match[str]) -> str:
        char = match.group(1)
        if char == "i":
            return str(index)
        if char == "%":
            return "%"
        return created.strftime("%" + char)

    # strftime applies to the template's own text only, never to a title
    pieces = _PLACEHOLDER.split(part)
    out = []
    for position, piece in enumerate(pieces):
        if position % 2:
            out.append(values[piece])
        else:
            out.append(_STRFTIME.sub(code, piece))
    return "".join(out)


def segment_path(
    recordings_dir: Path,
    template: str,
    fields: NameFields,
    *,
    created: datetime,
    index: int,
    ext: str,
) -> Path:
    """Build the path of one segment file from a template.

    Args:
        recordings_dir: root of all recordings.
        template: a template `validate_template` accepts.
        fields: the values of the placeholders.
        created: when the file is created (aware; rendered in local time).
        index: segment index within the session (`%i`).
        ext: file extension without the dot (`ts`, `flv`).

    Returns:
        An absolute path inside `recordings_dir`. Each component is sanitised; a
        file name that would pass 200 bytes loses the end of its title first.

    Raises:
        ValueError: the index is negative, the template is invalid, or the path
            would escape the root.
    """
    if index < 0:
        raise ValueError(f"segment index must be >= 0, got {index}")
    validate_template(template)
    local = created.astimezone()
    suffix = re.sub(r"[^A-Za-z0-9]", "", ext)[:10] or "bin"
    values = {
        "streamer": sanitize_component(fields.streamer, max_bytes=MAX_STREAMER_BYTES),
        "platform": sanitize_component(fields.platform or "unknown", max_bytes=32),
        "streamer_id": str(fields.streamer_id),
        "session_id": str(fields.session_id),
        "title": "",
    }
    *dirs, last = re.split(r"[/\\]", template)
    components = [
        sanitize_component(_render(part, values, local, index)) for part in dirs
    ]
    budget = MAX_FILE_NAME_BYTES - len(suffix) - 1
    without_title = _render(last, values, local, index)
    title_budget = max(0, budget - len(without_title.encode()))
    values["title"] = (
        sanitize_component(fields.title, max_bytes=title_budget)
        if title_budget >= len(UNTITLED)
        else ""
    )
    name = sanitize_component(_render(last, values, local, index), max_bytes=budget)
    name = f"{name}.{suffix}"
    root = Path(os.path.abspath(recordings_dir))
    # lexical check: a symlinked streamer directory elsewhere is the user's choice
    path = Path(os.path.abspath(root.joinpath(*components, name)))
    if not path.is_relative_to(root) or path.parent != root.joinpath(*components):
        raise ValueError(f"segment path {path} escapes the recordings dir {root}")
    return path
