"""The series every worker shares, read from the app DB at each scrape.

`DbCollector` is registered by the API's `/metrics` (see `activities.metrics` for
the series the workers count themselves).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import sqlalchemy as sa
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlmodel import Session, col, func, select

from activities.db.tables import OutputRoot, RecordingSlot, Streamer
from activities.db.tables_notify import NotifyDeadLetter, NotifyDelivery
from activities.db.tables_pipeline import PipelineJob
from activities.metrics import platform_label

if TYPE_CHECKING:
    from collections.abc import Iterator

    from prometheus_client import Metric

log = logging.getLogger(__name__)


class DbCollector(Collector):
    """The series every worker shares, read from the app DB at each scrape.

    A failing query is logged and the scrape carries `srec_db_up 0` instead of
    failing whole: the process still answers, and the alert says why.

    Args:
        db: the app database engine.
    """

    def __init__(self, db: sa.Engine) -> None:
        self.db = db

    def describe(self) -> list[Metric]:
        # no describe-time query: registering must not touch the DB
        return []

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("srec_db_up", "1 when the app DB answered the scrape")
        try:
            with Session(self.db) as db:
                families = list(self._families(db))
        except sa.exc.SQLAlchemyError as err:
            log.warning("metrics: the app DB did not answer: %s", err)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _families(self, db: Session) -> Iterator[Metric]:
        streamers = GaugeMetricFamily(
            "srec_streamers",
            "Streamers by state (NOT_LIVE, LIVE, DISABLED) and platform",
            labels=["state", "platform"],
        )
        rows = db.exec(
            select(Streamer.state, Streamer.platform, func.count()).group_by(
                Streamer.state, Streamer.platform
            )
        )
        for state, platform, count in rows:
            streamers.add_metric([state, platform_label(platform)], count)
        yield streamers

        slots = GaugeMetricFamily(
            "srec_recording_slots",
            "Global recording slots: held (recordings under way, across all "
            "workers), and queued attempts waiting for one",
            labels=["state"],
        )
        counts = dict(
            db.exec(
                select(RecordingSlot.state, func.count()).group_by(RecordingSlot.state)
            ).all()
        )
        for state in ("held", "queued"):
            slots.add_metric([state], counts.get(state, 0))
        yield slots

        jobs = GaugeMetricFamily(
            "srec_pipeline_jobs",
            "Pipeline steps by processor and status",
            labels=["processor", "status"],
        )
        for processor, status, count in db.exec(
            select(PipelineJob.processor, PipelineJob.status, func.count()).group_by(
                PipelineJob.processor, PipelineJob.status
            )
        ):
            jobs.add_metric([processor, status], count)
        yield jobs

        deliveries = GaugeMetricFamily(
            "srec_notify_deliveries",
            "Notification deliveries by status (kept until the event is pruned)",
            labels=["status"],
        )
        for status, count in db.exec(
            select(NotifyDelivery.status, func.count()).group_by(NotifyDelivery.status)
        ):
            deliveries.add_metric([status], count)
        yield deliveries

        dead = GaugeMetricFamily(
            "srec_notify_dead_letters", "Deliveries given up on, not yet pruned"
        )
        dead.add_metric([], db.exec(select(func.count(col(NotifyDeadLetter.id)))).one())
        yield dead

        yield from _gate(db)


def _gate(db: Session) -> Iterator[Metric]:
    degraded = GaugeMetricFamily(
        "srec_output_root_degraded",
        "1 while the write gate holds an output root degraded (full, missing, "
        "read-only), 0 when healthy",
        labels=["path"],
    )
    rejected = GaugeMetricFamily(
        "srec_output_root_rejected",
        "Recording attempts the gate refused during the root's current incident",
        labels=["path"],
    )
    for root in db.exec(select(OutputRoot)):
        degraded.add_metric([root.path], 0 if root.state == "healthy" else 1)
        rejected.add_metric([root.path], root.rejected)
    yield degraded
    yield rejected
