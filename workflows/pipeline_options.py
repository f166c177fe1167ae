"""Timeouts and retry policies of the pipeline activities, named (as in options.py)."""

from __future__ import annotations

from datetime import timedelta

from temporalio.common import RetryPolicy

from activities.pipeline_contracts import (
    ERROR_INPUT_MISSING,
    ERROR_PROCESSOR_CONFIG,
    ERROR_UNKNOWN_PROCESSOR,
)

# Run and job rows: retried for a while (the DB may be briefly locked or restarting).
PIPELINE_STORE_TIMEOUT = timedelta(seconds=30)
PIPELINE_STORE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=20,
)

# A step may transcode a day-long session (CPU) or upload it over a slow link (IO).
CPU_STEP_TIMEOUT = timedelta(hours=12)
IO_STEP_TIMEOUT = timedelta(hours=24)
# Steps heartbeat every 2 s from a task of their own; a dead worker is noticed after
# this long and the step starts again on another one.
STEP_HEARTBEAT_TIMEOUT = timedelta(seconds=30)
# A transient failure (a network error during an upload, a full disk) gets a few
# more attempts; a step whose cause cannot change fails at once (the processors
# raise those non-retryable, and these types never retry either).
STEP_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=5),
    maximum_attempts=3,
    non_retryable_error_types=[
        ERROR_PROCESSOR_CONFIG,
        ERROR_INPUT_MISSING,
        ERROR_UNKNOWN_PROCESSOR,
    ],
)

# The pair check and the waiter's wake-up after a segment run: a few DB reads and
# one start; given up after a few tries (the session's waiter repairs a lost pair).
AFTER_RUN_TIMEOUT = timedelta(seconds=30)
AFTER_RUN_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(seconds=10),
    maximum_attempts=5,
)

# A run started since this patch: its notification events are local activities and
# it asks no other patch (each costs a marker and a search-attribute upsert, and a
# segment's run is one of thousands). Runs begun before it replay their commands.
PATCH_LEAN_RUN = "pipeline-lean-run"
