"""Run the record activity in a process of its own, for a test to kill with SIGKILL.

    python -m tests.fakes.crash_recording INPUT_JSON DB_URL RECORDINGS_DIR

INPUT_JSON is a `RecordInput`. The activity runs as a worker would run it (the
engines of `build_engines`, segment rows in the database at DB_URL) until the
stream ends or the process is killed; a test kills it to stand for a worker that
dies mid-recording, then runs the next attempt itself. With no Temporal client the
`segment_closed` signals fail and are only logged, as they may in production.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path

import httpx
from temporalio.testing import ActivityEnvironment

from activities.contracts import RecordInput
from activities.db import make_engine
from activities.engines.table import build_engines
from activities.record import RecordingActivities

HEARTBEAT_INTERVAL_SECS = 0.5


async def run(inp: RecordInput, db_url: str, root: Path) -> None:
    """Record `inp` until the stream ends (or the process dies)."""
    db = make_engine(db_url)
    async with httpx.AsyncClient(timeout=10) as http:
        activities = RecordingActivities(
            build_engines(http),
            root,
            db,
            heartbeat_interval_secs=HEARTBEAT_INTERVAL_SECS,
        )
        await ActivityEnvironment().run(activities.record_stream, inp)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    recording = RecordInput.model_validate_json(sys.argv[1])
    asyncio.run(run(recording, sys.argv[2], Path(sys.argv[3])))
