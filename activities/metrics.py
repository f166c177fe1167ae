"""srec's Prometheus series: every definition in one place.

Two kinds of series, exported by two kinds of process:

* **Counted** where they happen, in a worker (`srec worker --metrics-port`): the
  recording activity (recordings active, bytes and segments written), the poll
  activities (live-check latency and errors, detection delay) and the danmu
  connection (messages, disconnects). They live in `REGISTRY`, one per process,
  beside nothing else, so a test or a worker exports exactly srec's own.
* **Read from the app DB** at scrape time (`metrics_db.DbCollector`, on the API's
  `/metrics`):
  streamers by state and platform, held recording slots, pipeline jobs,
  notification deliveries and dead letters, the write gate. Every worker shares
  those rows, so one exporter (the API) says them once. Each is one aggregate
  query; the tables they read are small or pruned (slots, deliveries, roots) or
  one row per streamer or step.

Workflows never import this module: a metric counted in a workflow would count
again at every replay.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

# live checks answer in tens of milliseconds to tens of seconds (a slow platform,
# the check timeout); detection takes seconds to minutes (the poll interval)
CHECK_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
DELAY_BUCKETS = (1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600)

RECORDINGS_ACTIVE = Gauge(
    "srec_recordings_active",
    "Recording activities running in this worker",
    registry=REGISTRY,
)
RECORDED_BYTES = Counter(
    "srec_recorded_bytes",
    "Bytes the engines flushed to segment files",
    ["platform"],
    registry=REGISTRY,
)
SEGMENTS_WRITTEN = Counter(
    "srec_segments_written",
    "Segment files closed by the recording activity",
    ["platform"],
    registry=REGISTRY,
)
LIVE_CHECK_SECONDS = Histogram(
    "srec_live_check_seconds",
    "Duration of one live check (or one batch request) by the poller",
    ["platform"],
    buckets=CHECK_BUCKETS,
    registry=REGISTRY,
)
LIVE_CHECK_ERRORS = Counter(
    "srec_live_check_errors",
    "Live checks that failed (an exception, rate limiting, unavailable)",
    ["platform", "outcome"],
    registry=REGISTRY,
)
DETECTION_DELAY_SECONDS = Histogram(
    "srec_detection_delay_seconds",
    "From the stream's start (as the platform reports it) to srec telling the "
    "streamer's workflow it is live",
    ["platform"],
    buckets=DELAY_BUCKETS,
    registry=REGISTRY,
)
DANMU_MESSAGES = Counter(
    "srec_danmu_messages",
    "Chat messages received (before dropping repeats)",
    ["platform"],
    registry=REGISTRY,
)
DANMU_DISCONNECTS = Counter(
    "srec_danmu_disconnects",
    "Chat connections that ended after they had opened",
    ["platform"],
    registry=REGISTRY,
)


def platform_label(platform: str) -> str:
    """A platform name as a label value: never empty (Grafana hides empty ones)."""
    return platform or "unknown"
