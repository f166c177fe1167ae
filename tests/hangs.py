"""Say what a hung test was awaiting, before pytest-timeout ends it.

pytest-timeout dumps every thread's stack, but a hung asyncio test is one thread
sitting in `select`: the awaits that never finish are in the loop's tasks. Shortly
before the timeout, a watchdog thread prints each pending task's stack of the loops
that are running, to stderr (which pytest shows with the failure).
"""

from __future__ import annotations

import asyncio
import gc
import sys
import threading
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator

# seconds before pytest-timeout's own deadline: enough to print before it fires
MARGIN_SECS = 15.0


def dump_tasks() -> None:
    """Print the stack of every task of every running event loop."""
    loops = [
        o
        for o in gc.get_objects()
        if isinstance(o, asyncio.AbstractEventLoop) and o.is_running()
    ]
    for loop in loops:
        tasks = asyncio.all_tasks(loop)
        sys.stderr.write(f"--- {len(tasks)} pending task(s) of {loop!r}\n")
        for task in tasks:
            sys.stderr.write(f"--- {task!r}\n")
            task.print_stack(limit=12, file=sys.stderr)
    sys.stderr.flush()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    given = item.config.getoption("timeout", default=None)
    timeout = float(given if given is not None else item.config.getini("timeout") or 0)
    marker = item.get_closest_marker("timeout")
    if marker is not None and marker.args:
        timeout = float(marker.args[0])
    done = threading.Event()
    if timeout > MARGIN_SECS:

        def watch() -> None:
            if not done.wait(timeout - MARGIN_SECS):
                sys.stderr.write(f"\n=== {item.nodeid} is hanging: its tasks\n")
                dump_tasks()

        threading.Thread(target=watch, name="hang-watchdog", daemon=True).start()
    try:
        yield
    finally:
        done.set()
