"""Names every layer shares: task queues, workflow ids, signals, queries, search
attributes, activity names and the ApplicationError types workflows branch on."""

from __future__ import annotations

WORKFLOW_TASK_QUEUE = "srec-workflows"


IO_TASK_QUEUE = "srec-io"


CPU_TASK_QUEUE = "srec-cpu"


TASK_QUEUES = (WORKFLOW_TASK_QUEUE, IO_TASK_QUEUE, CPU_TASK_QUEUE)


def host_queue(queue: str, host: str | None) -> str:
    """`srec-cpu` on host `a` → `srec-cpu@a`: where steps on that host's files run.

    With shared storage (no host) it is the shared queue itself.
    """
    return f"{queue}@{host}" if host else queue


# The largest row id. Id columns are INTEGER: 32 bits on Postgres (64 on SQLite),
# so a larger id is refused at the boundary (422), never sent to the database.
MAX_ID = 2**31 - 1


STREAMER_WORKFLOW_TYPE = "StreamerWorkflow"


POLLER_WORKFLOW_TYPE = "PollerWorkflow"


# Signals people send from the CLI carry no payload; see StreamerWorkflow.
SIGNAL_PAUSE = "pause"


SIGNAL_RESUME = "resume"


SIGNAL_CHECK_NOW = "check_now"


SIGNAL_STOP = "stop"


SIGNAL_CONFIG_CHANGED = "config_changed"


# The user acted on an error state (TEMPORAL_DISABLED, FATAL_ERROR, NOT_FOUND): the
# backoff is forgotten and the streamer checked at once.
SIGNAL_CLEAR_ERROR = "clear_error"


SIGNAL_SEGMENT_CLOSED = "segment_closed"


SIGNAL_RECORDING_WAIT = "recording_wait"


# The danmu activity's: a danmu file closed (`DanmuClosed`), and the chat said the
# stream closed (`DanmuStreamClosed`).
SIGNAL_DANMU_CLOSED = "danmu_closed"


SIGNAL_DANMU_STREAM_CLOSED = "danmu_stream_closed"


# The poller tells a waiting streamer workflow what its live check found
# (`contracts.poll.Detected`), only when that changed.
SIGNAL_DETECTED = "detected"


QUERY_STATE = "state"


# Custom search attributes (all Keyword) the streamer workflow keeps current.
SEARCH_ATTRIBUTE_PLATFORM = "SrecPlatform"


SEARCH_ATTRIBUTE_STREAMER = "SrecStreamer"


SEARCH_ATTRIBUTE_STATE = "SrecState"


# the app database that owns the workflow (`StreamerWorkflowInput.instance_id`)
SEARCH_ATTRIBUTE_INSTANCE = "SrecInstance"


SEARCH_ATTRIBUTES = (
    SEARCH_ATTRIBUTE_PLATFORM,
    SEARCH_ATTRIBUTE_STREAMER,
    SEARCH_ATTRIBUTE_STATE,
    SEARCH_ATTRIBUTE_INSTANCE,
)


# ApplicationError type of an activity refused because its workflow belongs to
# another srec instance (another app database) sharing the Temporal server. It is
# retryable: Temporal redelivers the task, eventually to a worker of the owner.
ERROR_FOREIGN_INSTANCE = "ForeignInstance"


def streamer_workflow_id(streamer_id: int) -> str:
    """Return the id of the entity workflow that owns one streamer."""
    return f"streamer-{streamer_id}"


def poller_workflow_id(instance_id: str, shard: int) -> str:
    """Return the id of the workflow that keeps one shard of an instance polled."""
    return f"poller-{instance_id}-{shard}"


def streamer_id_from_workflow_id(workflow_id: str) -> int | None:
    """Invert `streamer_workflow_id`; None for ids that are not streamer workflows."""
    prefix, _, rest = workflow_id.partition("-")
    if prefix != "streamer" or not rest.isdigit():
        return None
    return int(rest)


# ApplicationError types of the recording guards. The record activity raises them
# non-retryable, with `next_retry_delay` set: the workflow owns the wait, so a
# `check_now` signal can cut it short (a server-side retry could not be woken).
ERROR_NO_RECORDING_SLOT = "NoRecordingSlot"


ERROR_ENGINE_CIRCUIT_OPEN = "EngineCircuitOpen"


ERROR_OUTPUT_PATH_INACCESSIBLE = "OutputPathInaccessible"


# Kinds of rows in the `event` table that notification channels will deliver.
EVENT_OUTPUT_PATH_INACCESSIBLE = "output_path_inaccessible"


EVENT_OUTPUT_PATH_RECOVERED = "output_path_recovered"


# Activity names. Workflows call activities by these names so the workflow sandbox
# never imports the activity modules (httpx, sqlalchemy, PyAV); the activity classes
# register under the same names, and so do the fakes in tests.
ACTIVITY_CHECK_LIVE = "platform.check_live"


ACTIVITY_RECORD_STREAM = "record.record_stream"


ACTIVITY_LOAD_STREAMER = "store.load_streamer"


ACTIVITY_PROJECT_STATE = "store.project_state"


ACTIVITY_OPEN_SESSION = "store.open_session"


ACTIVITY_CLOSE_SESSION = "store.close_session"


ACTIVITY_PROBE_SEGMENT = "media.probe_segment"


ACTIVITY_RECORD_DANMU = "danmu.record_session"


ACTIVITY_POLL_SHARD = "poll.poll_shard"
