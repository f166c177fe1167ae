"""Reads and writes of streamer filters.

Like `crud`, each function takes a `Session` and commits its own writes. Rows hold
a spec's fields as JSON; `spec` turns one back into its contract model, which is
what the API shows and the streamer workflow evaluates.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import func
from sqlmodel import col, delete, select

from activities.contracts import FilterSpec
from activities.db.tables import utcnow
from activities.db.tables_filters import StreamerFilter

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sqlmodel import Session

log = logging.getLogger(__name__)

# A streamer's filters are all evaluated on every live check: keep them few.
MAX_FILTERS_PER_STREAMER = 50
_SPEC: TypeAdapter[FilterSpec] = TypeAdapter(FilterSpec)


def spec(row: StreamerFilter) -> FilterSpec:
    """The contract model of a row.

    Raises:
        pydantic.ValidationError: the row does not hold a valid spec (edited by hand).
    """
    return _SPEC.validate_python({**row.config, "type": row.type})


def _fields(value: FilterSpec) -> tuple[str, dict[str, Any]]:
    fields = value.model_dump(mode="json")
    return str(fields.pop("type")), fields


def list_filters(db: Session, streamer_id: int) -> Sequence[StreamerFilter]:
    """A streamer's filters in the order they apply (by id)."""
    return db.exec(
        select(StreamerFilter)
        .where(StreamerFilter.streamer_id == streamer_id)
        .order_by(col(StreamerFilter.id))
    ).all()


def count_filters(db: Session, streamer_id: int) -> int:
    return db.exec(
        select(func.count())
        .select_from(StreamerFilter)
        .where(StreamerFilter.streamer_id == streamer_id)
    ).one()


def get_filter(db: Session, streamer_id: int, filter_id: int) -> StreamerFilter | None:
    """One filter of a streamer (None when missing or another streamer's)."""
    row = db.get(StreamerFilter, filter_id)
    return row if row is not None and row.streamer_id == streamer_id else None


def create_filter(db: Session, streamer_id: int, value: FilterSpec) -> StreamerFilter:
    kind, fields = _fields(value)
    row = StreamerFilter(streamer_id=streamer_id, type=kind, config=fields)
    db.add(row)
    db.commit()
    db.refresh(row)
    return row


def update_filter(
    db: Session, row: StreamerFilter, value: FilterSpec
) -> StreamerFilter:
    """Replace a filter's spec (its type may change)."""
    row.type, row.config = _fields(value)
    row.updated_at = utcnow()
    db.add(row)
    db.commit()
    db.refresh(row)
    return row


def delete_filter(db: Session, row: StreamerFilter) -> None:
    db.delete(row)
    db.commit()


def delete_streamer_filters(db: Session, streamer_id: int) -> None:
    """Remove a streamer's filters, in the caller's transaction (not committed)."""
    db.exec(
        delete(StreamerFilter).where(col(StreamerFilter.streamer_id) == streamer_id)
    )


def filter_specs(db: Session, streamer_id: int) -> list[FilterSpec]:
    """A streamer's filters as specs, for its workflow.

    A row that no longer validates (edited by hand) is left out and logged: the
    API refuses such specs, and one bad row must not stop the streamer's loading.
    """
    specs: list[FilterSpec] = []
    for row in list_filters(db, streamer_id):
        try:
            specs.append(spec(row))
        except ValidationError as err:
            log.error(
                "streamer %s: filter %s is not valid and is ignored: %s",
                streamer_id,
                row.id,
                err,
            )
    return specs
