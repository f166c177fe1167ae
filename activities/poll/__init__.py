"""Detection outside workflow history: long-lived poll activities, one per shard.

Each streamer workflow that waits for its streamer to go live waits on a signal;
`PollActivities.poll_shard` checks the shard's streamers on their intervals and
signals `detected` only when what it found changed. The parts:

* `schedule`: each streamer's check times (a fixed phase within its interval);
* `limits`: per-platform request budgets and the platforms' retry-after;
* `roster`: the shard's streamers from the app DB, re-read when they change;
* `memory`: what each workflow was told, and whether a check is news;
* `check`: one check or one batch, through the platform registry;
* `http`: aiohttp under the poller's requests (a fraction of httpx's CPU);
* `shard`: the loop tying them together; `activity`: the Temporal activity.
"""

from activities.poll.activity import PollActivities
from activities.poll.http import AiohttpGetter, AiohttpTransport, fetcher, poll_http

__all__ = [
    "AiohttpGetter",
    "AiohttpTransport",
    "PollActivities",
    "fetcher",
    "poll_http",
]
