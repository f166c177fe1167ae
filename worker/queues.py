"""Which task queues a worker process serves: `srec worker --queues workflows,io,cpu`.

A user who outgrows one machine runs workers per queue: recording hosts on `io`,
post-processing hosts on `cpu`, a small one on `workflows`. The names here are the
short ones people type; the Temporal task queues are in `activities.contracts`.
Kept apart from `worker.settings` so that parsing `srec --help` stays light.
"""

from __future__ import annotations

from activities.contracts.names import (
    CPU_TASK_QUEUE,
    IO_TASK_QUEUE,
    WORKFLOW_TASK_QUEUE,
)

# short name -> task queue, in the order workers start
QUEUES = {
    "workflows": WORKFLOW_TASK_QUEUE,
    "io": IO_TASK_QUEUE,
    "cpu": CPU_TASK_QUEUE,
}
ALL_QUEUES = ",".join(QUEUES)


def parse_queues(text: str) -> tuple[str, ...]:
    """`"cpu, io"` → `("io", "cpu")`: known short names, in `QUEUES` order.

    Raises:
        ValueError: an unknown name, or none at all (the message lists the names).
    """
    names = {part.strip().lower() for part in text.split(",") if part.strip()}
    unknown = sorted(names - QUEUES.keys())
    if unknown:
        raise ValueError(
            f"unknown queue {', '.join(map(repr, unknown))} (choose from {ALL_QUEUES})"
        )
    if not names:
        raise ValueError(f"no queue given (choose from {ALL_QUEUES})")
    return tuple(name for name in QUEUES if name in names)
