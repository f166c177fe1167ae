"""`srec worker` with `bench.receiver.DetectionReceiver` as the streamer workflow.

The monitoring benchmark runs this instead of `srec worker` while the streamer
workflow does not yet wait on the poller's `detected` signal: everything else
(settings, activities, pollers, reconcile, shutdown) is the real worker's.

    SREC_DATA_DIR=… SREC_TEMPORAL_ADDRESS=… .venv/bin/python -m bench.monitoring_worker
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal

from bench.receiver import DetectionReceiver
from worker.main import run_worker
from worker.settings import WorkerSettings


def main() -> None:
    logging.basicConfig(
        level=os.environ.get("SREC_LOG_LEVEL", "INFO"),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
    )
    for noisy in ("httpx", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    async def _main() -> None:
        shutdown = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, shutdown.set)
        await run_worker(
            WorkerSettings(), shutdown, streamer_workflow=DetectionReceiver
        )

    asyncio.run(_main())


if __name__ == "__main__":
    main()
