"""Close a danmaku file a crash left open, keeping every complete message.

The writer puts one element per line and writes only whole lines, so a crash leaves
a file that lacks `</i>` and at worst ends in one cut line. `close_unterminated`
drops the cut line (and any line that is not a well-formed element, should the disk
have kept garbage), appends `</i>` and replaces the file atomically. A file that is
already closed is left untouched.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import TYPE_CHECKING

from activities.danmu.writer import CLOSING

if TYPE_CHECKING:
    from pathlib import Path

_ROOT = b"<i>"
_MESSAGES = (b"<d ", b"<gift ", b"<sc ", b"<guard ")


@dataclass(frozen=True)
class RepairResult:
    """What `close_unterminated` did.

    Attributes:
        changed: the file was rewritten.
        kept: message elements in the file afterwards.
        dropped: lines removed (cut or malformed).
    """

    changed: bool
    kept: int
    dropped: int


def _is_element(line: bytes) -> bool:
    # wrapped: the header line holds several sibling elements
    try:
        ET.fromstring(b"<x>" + line + b"</x>")
    except ET.ParseError:
        return False
    return True


def close_unterminated(path: Path) -> RepairResult:
    """Make `path` valid XML again if a crash left it open.

    Raises:
        ValueError: the file is not one of ours (no `<i>` root line in its header).
        OSError: it cannot be read or replaced.
    """
    data = path.read_bytes()
    lines = data.split(b"\n")
    if data.rstrip().endswith(CLOSING.rstrip()):
        kept = sum(1 for line in lines if line.startswith(_MESSAGES))
        return RepairResult(changed=False, kept=kept, dropped=0)
    try:
        root_at = lines.index(_ROOT)
    except ValueError:
        raise ValueError(f"{path} is not a danmaku XML file (no <i> line)") from None
    head = lines[: root_at + 1]
    # without a trailing newline the last line was cut mid-write
    cut = 0 if data.endswith(b"\n") else 1
    body = lines[root_at + 1 : len(lines) - cut]
    good = [line for line in body if line and _is_element(line)]
    dropped = cut + sum(1 for line in body if line) - len(good)
    kept = sum(1 for line in good if line.startswith(_MESSAGES))
    tmp = path.with_name(path.name + ".repair")
    with open(tmp, "wb") as out:
        out.write(b"\n".join([*head, *good]) + b"\n" + CLOSING)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)
    return RepairResult(changed=True, kept=kept, dropped=dropped)
