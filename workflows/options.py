"""Timeouts and retry policies of every activity the workflows call, in one place."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from temporalio.common import RetryPolicy

if TYPE_CHECKING:
    from activities.contracts import RetrySettings

# Detection: a live check re-fetches a playlist for up to ~20 s to see it advance.
CHECK_LIVE_TIMEOUT = timedelta(seconds=60)
CHECK_LIVE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    maximum_interval=timedelta(seconds=10),
    maximum_attempts=3,
)

# DB writes: retried for a while (the DB may be briefly locked or restarting).
STORE_TIMEOUT = timedelta(seconds=30)
STORE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=20,
)

# A store activity whose retries all reached another srec instance's workers (its own
# are down) is asked for again after this long, for as long as it takes.
FOREIGN_INSTANCE_WAIT = timedelta(minutes=1)

# Recording: one attempt may run for a day; a dead worker is noticed within the
# heartbeat timeout, short enough that a retry resumes inside a typical live HLS
# playlist window (about 30 s). Each retry continues in a new segment. The retry
# policy is configured (`RecordingPolicy.record_retry`); these are its defaults.
RECORD_TIMEOUT = timedelta(hours=24)
RECORD_HEARTBEAT_TIMEOUT = timedelta(seconds=15)
RECORD_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=10),
    maximum_attempts=8,
)


def record_retry(settings: RetrySettings) -> RetryPolicy:
    """The record activity's retry policy as the streamer's configuration says."""
    return RetryPolicy(
        initial_interval=timedelta(seconds=settings.initial_interval_secs),
        backoff_coefficient=settings.backoff,
        maximum_interval=timedelta(
            seconds=max(settings.max_interval_secs, settings.initial_interval_secs)
        ),
        maximum_attempts=settings.max_attempts,
    )


# The record activity checks each segment before announcing it; sessions whose
# history predates that schedule a probe activity per segment, with these options.
# Deprecate the patch once no running history can hold a probe: every session ends
# in a continue-as-new.
NO_PROBE_PATCH = "segment-checked-by-recorder"
PROBE_TIMEOUT = timedelta(minutes=10)
PROBE_RETRY = RetryPolicy(maximum_attempts=3)

# While the session is in its grace window (offline_check_count x
# offline_check_delay_secs), check at least this often.
GRACE_POLL_MAX_SECS = 10.0

# After a recording guard refused (no slot, breaker open, output root degraded), wait
# at least this long before asking again, whatever retry delay the refusal named.
GUARD_MIN_BACKOFF_SECS = 1.0

# --- the state machine (workflows.streamer) ------------------------------------------

# Transient check errors in a row (failed checks, rate limits, outages) before the
# streamer is TEMPORAL_DISABLED: the first backoff lasts `error_backoff_secs`, each
# one after it twice the last, up to `BACKOFF_CAP_SECS`; a good check forgets them.
ERROR_THRESHOLD = 3
BACKOFF_CAP_SECS = 3600.0

# An offline streamer waiting for the poller wakes this often even when nothing
# happens: it reloads its configuration (learning whether pollers still run) and
# continues as new, so its history stays a few events long.
IDLE_REFRESH = timedelta(hours=24)


def backoff_secs(base: float, level: int) -> float:
    """How long the `level`-th backoff in a row lasts (0 = the first)."""
    doubled: float = base * 2.0 ** min(level, 32)
    return min(doubled, max(base, BACKOFF_CAP_SECS))


# --- a session's chat (workflows.streamer_danmu) -------------------------------------

# The danmu activity runs for a whole session beside the recording. A dead worker is
# noticed within the heartbeat timeout (it beats every 5 s; the messages since its
# last flush are what a retry loses); a retry continues the same file. A day-long
# attempt times out and is retried like a failed one. The retries are bounded: a
# chat that keeps failing is given up for the session (the recording goes on) rather
# than restarted every minute until the session ends.
DANMU_PATCH = "session-danmu"
DANMU_TIMEOUT = timedelta(hours=24)
DANMU_HEARTBEAT_TIMEOUT = timedelta(seconds=30)
DANMU_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=60),
    maximum_attempts=20,
)
# How long a closing session waits for the cancelled danmu activity to close its
# last file and make its rows final (it drains its signals for up to 15 s). A
# worker that does not answer in time is not waited for: the activity also ends
# by itself once it reads the session closed in the DB.
DANMU_STOP_WAIT = timedelta(seconds=60)

# A poller's "live" reloads the configuration before the session opens: a change of
# a level above the streamer is not signalled to workflows waiting for detection
# (`crud_config.streamer_ids(skip_waiting=True)`). Older runs opened at once.
RELOAD_AT_OPEN_PATCH = "reload-at-poller-live"
