"""Reads and writes of the configuration levels (global, platform, template).

Every write bumps `config_global.generation` in its own transaction, so a running
recording sees that something changed by reading one number (`generation`). The
streamer level's writes (`crud`) bump it too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy import func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from activities.contracts import StreamerState
from activities.db.tables import Streamer, utcnow
from activities.db.tables_config import (
    GLOBAL_ROW_ID,
    ConfigTemplate,
    GlobalConfig,
    PlatformConfig,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sqlmodel import Session


class TemplateNameTakenError(Exception):
    """Another template has this name."""


def bump_generation(db: Session) -> None:
    """Count one more configuration change (the caller commits)."""
    db.exec(
        update(GlobalConfig)
        .where(col(GlobalConfig.id) == GLOBAL_ROW_ID)
        .values(generation=col(GlobalConfig.generation) + 1)
    )


def generation(db: Session) -> int:
    """How many configuration changes the database has seen."""
    value = db.exec(
        select(GlobalConfig.generation).where(col(GlobalConfig.id) == GLOBAL_ROW_ID)
    ).first()
    return int(value or 0)


# --- global -----------------------------------------------------------------------


def get_global(db: Session) -> GlobalConfig:
    """The global row (an empty one if a database lost it)."""
    row = db.get(GlobalConfig, GLOBAL_ROW_ID)
    return row if row is not None else GlobalConfig()


def set_global(db: Session, settings: dict[str, Any]) -> GlobalConfig:
    """Replace the global level's fields."""
    row = db.get(GlobalConfig, GLOBAL_ROW_ID) or GlobalConfig()
    row.settings = settings
    row.updated_at = utcnow()
    if row.seeded_at is None:
        row.seeded_at = row.updated_at  # set by hand: the environment is too late
    db.add(row)
    db.flush()
    bump_generation(db)
    db.commit()
    db.refresh(row)
    return row


def seed_global(db: Session, settings: dict[str, Any]) -> bool:
    """Fill the global level from the environment unless it was filled before.

    One conditional UPDATE: of several processes starting at once, one wins.

    Returns:
        True when this call seeded it.
    """
    now = datetime.now(UTC)
    result = db.exec(
        update(GlobalConfig)
        .where(col(GlobalConfig.id) == GLOBAL_ROW_ID)
        .where(col(GlobalConfig.seeded_at).is_(None))
        .values(settings=settings, seeded_at=now, updated_at=now)
    )
    seeded = bool(result.rowcount)
    if seeded:
        bump_generation(db)
    db.commit()
    return seeded


# --- platforms --------------------------------------------------------------------


def get_platform(db: Session, name: str) -> PlatformConfig | None:
    return db.get(PlatformConfig, name)


def list_platforms(db: Session) -> dict[str, PlatformConfig]:
    return {row.name: row for row in db.exec(select(PlatformConfig)).all()}


def put_platform(
    db: Session, name: str, settings: dict[str, Any], options: dict[str, Any]
) -> PlatformConfig:
    """Replace one platform's level (created on first write)."""
    row = db.get(PlatformConfig, name) or PlatformConfig(name=name)
    row.settings, row.options, row.updated_at = settings, options, utcnow()
    db.add(row)
    db.flush()
    bump_generation(db)
    db.commit()
    db.refresh(row)
    return row


# --- templates --------------------------------------------------------------------


def get_template(db: Session, template_id: int) -> ConfigTemplate | None:
    return db.get(ConfigTemplate, template_id)


def get_template_by_name(db: Session, name: str) -> ConfigTemplate | None:
    return db.exec(select(ConfigTemplate).where(ConfigTemplate.name == name)).first()


def list_templates(
    db: Session, *, limit: int | None = None, offset: int = 0
) -> tuple[Sequence[ConfigTemplate], int]:
    total = db.exec(select(func.count()).select_from(ConfigTemplate)).one()
    query = select(ConfigTemplate).order_by(col(ConfigTemplate.id)).offset(offset)
    if limit is not None:
        query = query.limit(limit)
    return db.exec(query).all(), total


def save_template(db: Session, template: ConfigTemplate) -> ConfigTemplate:
    """Insert or update a template.

    Raises:
        TemplateNameTakenError: another template has its name.
    """
    template.updated_at = utcnow()
    try:
        db.add(template)
        db.flush()
        bump_generation(db)
        db.commit()
    except IntegrityError:
        db.rollback()
        raise TemplateNameTakenError(template.name) from None
    db.refresh(template)
    return template


def delete_template(db: Session, template: ConfigTemplate) -> None:
    db.delete(template)
    bump_generation(db)
    db.commit()


# --- who a change reaches ---------------------------------------------------------


def streamer_ids(
    db: Session,
    *,
    platform: str | None = None,
    template_id: int | None = None,
    skip_waiting: bool = False,
) -> list[int]:
    """Ids of the streamers a change reaches: all, one platform's or one template's.

    `skip_waiting` leaves out the enabled streamers projected NOT_LIVE: their
    workflows wait for detection and read a level above the streamer when it ends
    (a poller's news loads the configuration before a session opens; an own check
    answers `config_stale`), while the pollers re-read the levels themselves. At
    10,000 streamers, telling them all is 10,000 workflow tasks for nothing.
    """
    query = select(Streamer.id)
    if skip_waiting:
        query = query.where(
            sa.or_(
                col(Streamer.enabled).is_(False),
                col(Streamer.state) != StreamerState.NOT_LIVE.value,
            )
        )
    if platform is not None:
        query = query.where(Streamer.platform == platform)
    if template_id is not None:
        query = query.where(col(Streamer.template_id) == template_id)
    return [i for i in db.exec(query.order_by(col(Streamer.id))).all() if i is not None]


# --- import -----------------------------------------------------------------------


@dataclass
class ImportedTemplate:
    """A template as an import writes it (validated by the caller)."""

    name: str
    description: str
    settings: dict[str, Any]
    platform_options: dict[str, Any]


@dataclass
class ImportedStreamer:
    """A streamer as an import writes it (validated by the caller)."""

    name: str
    url: str
    platform: str
    channel: str | None
    enabled: bool
    template: str | None
    settings: dict[str, Any]
    platform_options: dict[str, Any]


@dataclass
class Imported:
    """What an import wrote."""

    templates_created: int = 0
    templates_updated: int = 0
    streamers_created: list[int] = field(default_factory=list)
    streamers_updated: list[int] = field(default_factory=list)


class ImportConflictError(Exception):
    """The database refused the import (a name another streamer holds)."""


def apply_import(
    db: Session,
    *,
    global_settings: dict[str, Any],
    platforms: dict[str, tuple[dict[str, Any], dict[str, Any]]],
    templates: list[ImportedTemplate],
    streamers: list[ImportedStreamer],
) -> Imported:
    """Write an import in one transaction: all of it, or nothing.

    Templates are matched by name, streamers by URL; an existing streamer keeps its
    pause state.

    Raises:
        ImportConflictError: a unique name or URL is taken (nothing is written).
    """
    done = Imported()
    now = utcnow()
    try:
        row = db.get(GlobalConfig, GLOBAL_ROW_ID) or GlobalConfig()
        row.settings, row.updated_at = global_settings, now
        row.seeded_at = row.seeded_at or now
        db.add(row)
        for name, (settings, options) in platforms.items():
            level = db.get(PlatformConfig, name) or PlatformConfig(name=name)
            level.settings, level.options, level.updated_at = settings, options, now
            db.add(level)
        ids: dict[str, int] = {}
        for t in templates:
            tpl = get_template_by_name(db, t.name)
            if tpl is None:
                tpl = ConfigTemplate(name=t.name)
                done.templates_created += 1
            else:
                done.templates_updated += 1
            tpl.description, tpl.settings = t.description, t.settings
            tpl.platform_options, tpl.updated_at = t.platform_options, now
            db.add(tpl)
            db.flush()
            assert tpl.id is not None
            ids[t.name] = tpl.id
        for s in streamers:
            template_id = None
            if s.template is not None:
                template_id = ids.get(s.template)
                if template_id is None:
                    known = get_template_by_name(db, s.template)
                    template_id = known.id if known is not None else None
            found = db.exec(select(Streamer).where(Streamer.url == s.url)).first()
            streamer = found or Streamer(
                name=s.name, url=s.url, platform=s.platform, enabled=s.enabled
            )
            streamer.name, streamer.channel = s.name, s.channel
            streamer.platform, streamer.template_id = s.platform, template_id
            streamer.settings = s.settings
            streamer.platform_options = s.platform_options
            streamer.updated_at = now
            db.add(streamer)
            db.flush()
            assert streamer.id is not None
            (done.streamers_updated if found else done.streamers_created).append(
                streamer.id
            )
        bump_generation(db)
        db.commit()
    except IntegrityError as err:
        db.rollback()
        raise ImportConflictError(str(err.orig)) from err
    return done
