"""Output file names of recorded segments.

A segment of streamer `s` lands at
`<recordings_dir>/<s>/<s>-%Y%m%d-%H%M%S-<title>_<index>.<ext>`, stamped with the local
time at which the file was created. Streamer names and titles come from users and
platforms, so every component is sanitised: no separators or traversal, no control or
reserved characters, no leading dots, no Windows device names, and the file name fits
in 200 bytes of UTF-8. The result is checked to stay inside the recordings directory.
"""

from __future__ import annotations

import os
import re
import unicodedata
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


def segment_path(
    recordings_dir: Path,
    *,
    streamer: str,
    title: str,
    created: datetime,
    index: int,
    ext: str,
) -> Path:
    """Build the path of one segment file.

    Args:
        recordings_dir: root of all recordings.
        streamer: streamer name (becomes a directory and the file name prefix).
        title: stream title (may be empty).
        created: when the file is created (aware; rendered in local time).
        index: segment index within the session.
        ext: file extension without the dot (`ts`, `flv`).

    Returns:
        An absolute path inside `recordings_dir`.

    Raises:
        ValueError: the index is negative or the path would escape the root (a bug).
    """
    if index < 0:
        raise ValueError(f"segment index must be >= 0, got {index}")
    who = sanitize_component(streamer, max_bytes=MAX_STREAMER_BYTES)
    suffix = re.sub(r"[^A-Za-z0-9]", "", ext)[:10] or "bin"
    stamp = created.astimezone().strftime("%Y%m%d-%H%M%S")
    head = f"{who}-{stamp}-"
    tail = f"_{index}.{suffix}"
    budget = MAX_FILE_NAME_BYTES - len(head.encode()) - len(tail.encode())
    name = head + sanitize_component(title, max_bytes=budget) + tail
    root = Path(os.path.abspath(recordings_dir))
    # lexical check: a symlinked streamer directory elsewhere is the user's choice
    path = Path(os.path.abspath(root / who / name))
    if path.parent.parent != root or path.name != name:
        raise ValueError(f"segment path {path} escapes the recordings dir {root}")
    return path
