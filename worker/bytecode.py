"""Compiled bytecode for the modules the workflow sandbox imports again and again.

The sandbox imports a workflow's modules afresh for every workflow instance it
creates (a new run, or a cache miss: a worker caches 1,000 of 10,000 streamers'
workflows). Python reads their `__pycache__` then, but writes it only when it may:
with `PYTHONDONTWRITEBYTECODE` (set in many container images, and on the machine
these figures come from) every instance compiled `workflows/` from source, 38 % of
the CPU of a worker monitoring 10,000 streamers. `warm` compiles them once, at
worker start: beside the sources, or where `sys.pycache_prefix` points (made under
the data directory when the install is read-only).
"""

from __future__ import annotations

import compileall
import logging
import sys
from pathlib import Path

log = logging.getLogger(__name__)


def warm(package_dir: Path, fallback: Path) -> Path | None:
    """Compile every module under `package_dir`; where the cache went, or None.

    Args:
        package_dir: the package whose modules the sandbox re-imports.
        fallback: a writable directory for the cache when `package_dir` is not
            (it becomes this process's `sys.pycache_prefix`).
    """
    if compileall.compile_dir(package_dir, quiet=2):
        return package_dir
    try:
        fallback.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        log.warning("workflow modules not precompiled: %s", err)
        return None
    sys.pycache_prefix = str(fallback)
    if compileall.compile_dir(package_dir, quiet=2):
        return fallback
    log.warning("workflow modules not precompiled: %s is not writable", fallback)
    return None
