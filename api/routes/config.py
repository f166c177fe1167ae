"""`/api/config`: the global and platform levels, export and import; and
`GET /api/streamers/{id}/config`, a streamer's effective configuration.

Every write is validated whole before it is saved (422 naming the field), then
announced to exactly the streamer workflows it reaches (global: all, a platform:
its streamers), spread over time by the `ConfigNotifier`; the workflows reload at
their next wake-up and running recordings take new segment limits at their next
segment. Credentials are never answered: they show as `**********`, and writing
the mask back keeps the stored value.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, status

from activities.config import Level, LevelValues, merge, parse_stored
from activities.config.resolve import ConfigRows, effective
from activities.db import crud, crud_config
from api.config_io import export_document, import_document
from api.config_notify import NotifierDep
from api.config_rows import (
    checked_options,
    new_settings,
    patched_settings,
    secrets_of,
    shown_options,
)
from api.deps import (
    ControlDep,
    DbDep,
    PlatformsDep,
    SettingsDep,
    TemporalUnavailableError,
)
from api.params import (
    BODY_RESPONSES,
    CONFLICT_RESPONSES,
    NOT_FOUND_RESPONSES,
    StreamerId,
)
from api.schemas_base import ConfigOverrides
from api.schemas_config import (
    ConfigDocument,
    EffectiveConfig,
    GlobalConfigPublic,
    ImportResult,
    PlatformConfigPublic,
    PlatformConfigPut,
)
from workflows.client import ForeignWorkflowError

router = APIRouter(prefix="/config", tags=["config"])
streamer_router = APIRouter(prefix="/streamers", tags=["streamers"])

PlatformName = Annotated[
    str,
    Path(
        min_length=1,
        max_length=40,
        pattern=r"^[a-z0-9_]+$",
        description="A platform's name, as `GET /api/config/platforms` lists them",
    ),
]


def _global(db: DbDep) -> GlobalConfigPublic:
    row = crud_config.get_global(db)
    settings = parse_stored(row.settings, "global settings")
    merged = merge([LevelValues(Level.GLOBAL, settings)])
    return GlobalConfigPublic(
        settings=settings,
        effective=merged.policy,
        sources=merged.sources,
        seeded_at=row.seeded_at,
        updated_at=row.updated_at,
    )


@router.get("/global")
def get_global(db: DbDep) -> GlobalConfigPublic:
    """The global level: what it sets and every field with it applied."""
    return _global(db)


@router.patch("/global", responses=BODY_RESPONSES)
async def patch_global(
    body: ConfigOverrides,
    db: DbDep,
    settings: SettingsDep,
    control: ControlDep,
    notifier: NotifierDep,
) -> GlobalConfigPublic:
    """Change global fields: those sent replace, those sent as null fall back to
    the built-in default. The streamers' workflows are told, spread over time
    (those waiting for detection read it when their wait ends)."""

    def write() -> tuple[GlobalConfigPublic, list[int]]:
        stored = parse_stored(crud_config.get_global(db).settings)
        sent = body.model_dump(mode="json", exclude_unset=True)
        new = patched_settings(db, settings.recordings_path, stored, sent, ())
        crud_config.set_global(db, new)
        return _global(db), crud_config.streamer_ids(db, skip_waiting=True)

    shown, reached = await asyncio.to_thread(write)
    notifier.notify(control, reached)
    return shown


def _platform(platforms: PlatformsDep, db: DbDep, name: str) -> PlatformConfigPublic:
    row = crud_config.get_platform(db, name)
    registry = platforms.registry
    return PlatformConfigPublic(
        name=name,
        settings=parse_stored(row.settings) if row else {},
        platform_options=shown_options(registry, name, row.options if row else {}),
        secret_options=sorted(secrets_of(registry, name)),
        updated_at=row.updated_at if row else None,
    )


def _known(platforms: PlatformsDep, name: str) -> str:
    if name not in {e.platform for e in platforms.registry.extractors}:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no platform named {name!r}")
    return name


@router.get("/platforms")
def list_platforms(db: DbDep, platforms: PlatformsDep) -> list[PlatformConfigPublic]:
    """Every platform this build knows, with its level (empty when never set)."""
    names = sorted(e.platform for e in platforms.registry.extractors)
    return [_platform(platforms, db, name) for name in names]


@router.get("/platforms/{name}", responses=NOT_FOUND_RESPONSES)
def get_platform(
    name: PlatformName, db: DbDep, platforms: PlatformsDep
) -> PlatformConfigPublic:
    """One platform's level (404 for a platform this build does not know)."""
    return _platform(platforms, db, _known(platforms, name))


@router.put("/platforms/{name}", responses=BODY_RESPONSES | NOT_FOUND_RESPONSES)
async def put_platform(
    name: PlatformName,
    body: PlatformConfigPut,
    db: DbDep,
    platforms: PlatformsDep,
    settings: SettingsDep,
    control: ControlDep,
    notifier: NotifierDep,
) -> PlatformConfigPublic:
    """Replace a platform's level: its fields and its options. Credentials not
    sent (or sent as the mask) keep their value; null removes one. The streamers
    of the platform are told (those waiting for detection read it when their
    wait ends)."""
    _known(platforms, name)

    def write() -> tuple[PlatformConfigPublic, list[int]]:
        row = crud_config.get_platform(db, name)
        fields = new_settings(
            db,
            settings.recordings_path,
            body.settings.model_dump(mode="json", exclude_none=True),
            ("settings",),
        )
        options = checked_options(
            platforms.registry,
            name,
            row.options if row else {},
            body.platform_options,
            replace=True,
            loc=("platform_options",),
        )
        crud_config.put_platform(db, name, fields, options)
        return _platform(platforms, db, name), crud_config.streamer_ids(
            db, platform=name, skip_waiting=True
        )

    shown, reached = await asyncio.to_thread(write)
    notifier.notify(control, reached)
    return shown


@router.get("/export")
def export_config(
    db: DbDep,
    platforms: PlatformsDep,
    include_secrets: Annotated[
        bool,
        Query(description="Put the credentials (cookies, tokens, passwords) in"),
    ] = False,
) -> ConfigDocument:
    """Every level and every streamer as one document, for `POST /import`.

    Credentials are left out unless `include_secrets=true`: keep such a file
    private. Importing a document without them keeps the credentials stored.
    """
    return export_document(db, platforms.registry, include_secrets=include_secrets)


@router.post("/import", responses=BODY_RESPONSES | CONFLICT_RESPONSES)
async def import_config(
    body: ConfigDocument,
    db: DbDep,
    platforms: PlatformsDep,
    settings: SettingsDep,
    control: ControlDep,
    notifier: NotifierDep,
) -> ImportResult:
    """Write an exported document: validated whole before anything is written.

    The global level is replaced, the platforms and templates it names (by name)
    too; its streamers are added or updated (matched by URL). What it does not
    name stays. Credentials it leaves out keep their stored values. 422 names each
    invalid field; 409 a name another streamer holds.
    """
    result, created, reached = await asyncio.to_thread(
        import_document, db, platforms.registry, settings.recordings_path, body
    )
    for streamer_id in created:
        await _start(control, streamer_id)
    notifier.notify(control, reached)
    return result


async def _start(control: ControlDep, streamer_id: int) -> None:
    try:
        await control.start(streamer_id)
    except (TemporalUnavailableError, ForeignWorkflowError):
        pass  # the worker's start-up reconcile starts it


def effective_config(
    db: DbDep, platforms: PlatformsDep, streamer_id: int
) -> EffectiveConfig:
    """A streamer's merged configuration, for the route below and tests."""
    row = crud.get_streamer(db, streamer_id)
    if row is None or row.id is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "streamer not found")
    rows = ConfigRows.read(db, platform=row.platform, template_id=row.template_id)
    merged = effective(row, rows, secrets_of(platforms.registry, row.platform))
    extras: dict[str, Any] = merged.extras
    return EffectiveConfig(
        streamer_id=row.id,
        platform=row.platform,
        template_id=row.template_id,
        config=merged.policy,
        sources=merged.sources,
        platform_options=extras,
        platform_option_sources=merged.extra_sources,
        credentials=merged.credential_sources,
    )


@streamer_router.get("/{streamer_id}/config", responses=NOT_FOUND_RESPONSES)
def get_streamer_config(
    streamer_id: StreamerId, db: DbDep, platforms: PlatformsDep
) -> EffectiveConfig:
    """The streamer's effective configuration: every field, and the level (default,
    global, platform, template, streamer) each value came from. Credentials show
    only where they are set."""
    return effective_config(db, platforms, streamer_id)
