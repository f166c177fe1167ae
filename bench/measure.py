"""Measuring the CPU of a process tree exactly: a subreaper wrapper and /proc sampling.

`python -m bench.measure RESULT.json -- CMD...` runs CMD as a child and becomes its
subreaper (`PR_SET_CHILD_SUBREAPER`), so every descendant, even one orphaned by its
parent, is finally reaped by the wrapper. After the last one exits, the wrapper's
`RUSAGE_CHILDREN` is the user+system CPU of the whole tree and nothing else (the
wrapper's own CPU is not in it); it is written to RESULT.json. SIGINT and SIGTERM
are forwarded to CMD, which finalises its output as it would in a terminal.

`tree_cpu_secs(pid)` reads the same quantity while the tree still runs, from /proc:
the CPU of each live descendant (with the children it reaped) plus what the root
reaped. Two readings give the CPU of a time window, such as a steady state after
start-up.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import resource
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

_PR_SET_CHILD_SUBREAPER = 36
_TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> tuple[int, list[str]] | None:
    """(ppid, fields after the command name) of a process, None if it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command name may hold spaces and parentheses: split after the last ')'
    fields = raw[raw.rindex(")") + 2 :].split()
    return int(fields[1]), fields


def tree_cpu_secs(root: int, *, include_root: bool = False) -> float:
    """User+system CPU seconds of `root`'s descendants, live and reaped, so far.

    Args:
        root: the pid of a `bench.measure` wrapper, or of any process.
        include_root: count the root's own CPU too; left out by default, for the
            root is the wrapper (what it reaped is always counted).

    Returns:
        Seconds, at clock-tick resolution (usually 10 ms); 0 if `root` is gone.
    """
    children: dict[int, list[int]] = {}
    stats: dict[int, list[str]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            found = _stat(int(entry.name))
            if found is not None:
                ppid, fields = found
                children.setdefault(ppid, []).append(int(entry.name))
                stats[int(entry.name)] = fields
    if root not in stats:
        return 0.0
    # fields[11:15] are utime, stime, cutime, cstime (stat fields 14-17)
    first = 11 if include_root else 13
    ticks = sum(int(v) for v in stats[root][first:15])
    todo = list(children.get(root, []))
    while todo:
        pid = todo.pop()
        ticks += sum(int(v) for v in stats[pid][11:15])
        todo += children.get(pid, [])
    return ticks / _TICK


def thread_cpu_secs(pid: int, tid: int) -> float:
    """User+system CPU seconds of one thread (the main thread: `tid == pid`)."""
    try:
        raw = Path(f"/proc/{pid}/task/{tid}/stat").read_text()
    except OSError:
        return 0.0
    fields = raw[raw.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def threads_cpu_secs(pid: int) -> dict[str, float]:
    """CPU seconds of a process's threads, summed by thread name (`main` for tid pid).

    Python's own threads all carry the process's name; Temporal's Rust core names
    its threads (tokio-runtime-w…), so the split shows where a worker's CPU goes.
    """
    totals: dict[str, float] = {}
    with contextlib.suppress(OSError):
        for entry in os.scandir(f"/proc/{pid}/task"):
            try:
                raw = Path(entry.path, "stat").read_text()
            except OSError:
                continue
            name = raw[raw.index("(") + 1 : raw.rindex(")")]
            if int(entry.name) == pid:
                name = "main"
            fields = raw[raw.rindex(")") + 2 :].split()
            totals[name] = (
                totals.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / _TICK
            )
    return totals


def status_kib(pid: int, key: str) -> int:
    """A `kB` field of /proc/<pid>/status (VmRSS, VmHWM), 0 if the process is gone."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def machine_busy() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs together, from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def main(argv: list[str]) -> int:
    """Run `argv[2:]` (after `--`) as a measured tree; write the usage to `argv[0]`."""
    result, dash, *cmd = argv
    if dash != "--" or not cmd:
        sys.stderr.write("usage: python -m bench.measure RESULT.json -- CMD...\n")
        return 2
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")
    # Popen only starts it: os.wait below reaps it and every orphan
    child = subprocess.Popen(cmd, stdin=subprocess.DEVNULL)

    def forward(signum: int, _frame: Any) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(child.pid, signum)

    signal.signal(signal.SIGINT, forward)
    signal.signal(signal.SIGTERM, forward)
    status: int | None = None
    while True:
        try:
            pid, raw = os.wait()
        except ChildProcessError:
            break
        if pid == child.pid:
            status = os.waitstatus_to_exitcode(raw)
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    Path(result).write_text(
        json.dumps(
            {
                "user_secs": usage.ru_utime,
                "system_secs": usage.ru_stime,
                "max_rss_kib": usage.ru_maxrss,
                "exit_code": status,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
