"""`/api/templates`: configuration templates that streamers share.

A template sets configuration fields for every streamer that uses it
(`template_id`), and per platform the options of those streamers. Names are unique
(409 names the clash). A change reaches exactly the workflows of the streamers
using the template, spread over time; a template in use cannot be deleted (409).
Credentials in its options are never shown back (`**********`).
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, status

from activities.config import parse_stored
from activities.db import ConfigTemplate, crud_config
from api.config_notify import NotifierDep
from api.config_rows import (
    checked_options,
    new_settings,
    patched_settings,
    shown_options,
    unprocessable,
)
from api.deps import ControlDep, DbDep, PlatformsDep, SettingsDep
from api.errors import ConflictError
from api.params import (
    BODY_RESPONSES,
    CONFLICT_RESPONSES,
    MAX_ID,
    NOT_FOUND_RESPONSES,
    Limit,
    Offset,
)
from api.schemas import Page
from api.schemas_config import (
    TemplateClone,
    TemplateCreate,
    TemplatePublic,
    TemplateUpdate,
)

router = APIRouter(prefix="/templates", tags=["templates"])

TemplateId = Annotated[
    int, Path(ge=1, le=MAX_ID, description="The template's id (1 to 2^63-1)")
]


def _found(db: DbDep, template_id: int) -> ConfigTemplate:
    template = crud_config.get_template(db, template_id)
    if template is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "template not found")
    return template


def _public(
    db: DbDep, platforms: PlatformsDep, template: ConfigTemplate
) -> TemplatePublic:
    assert template.id is not None
    return TemplatePublic.model_validate(
        {
            "id": template.id,
            "name": template.name,
            "description": template.description,
            "settings": parse_stored(template.settings, f"template {template.name!r}"),
            "platform_options": {
                platform: shown_options(platforms.registry, platform, options)
                for platform, options in template.platform_options.items()
                if isinstance(options, dict)
            },
            "streamers": len(crud_config.streamer_ids(db, template_id=template.id)),
            "created_at": template.created_at,
            "updated_at": template.updated_at,
        }
    )


def _save(db: DbDep, template: ConfigTemplate) -> ConfigTemplate:
    try:
        return crud_config.save_template(db, template)
    except crud_config.TemplateNameTakenError as err:
        raise ConflictError(f"a template named {template.name!r} exists") from err


def _options(
    platforms: PlatformsDep,
    stored: dict[str, Any],
    sent: dict[str, Any] | None,
    *,
    replace: bool,
) -> dict[str, Any]:
    """Per platform: merge (or replace) the options; a platform sent null goes."""
    merged = {} if replace else dict(stored)
    for platform, options in (sent or {}).items():
        if options is None:
            merged.pop(platform, None)
            continue
        before = stored.get(platform)
        merged[platform] = checked_options(
            platforms.registry,
            platform,
            before if isinstance(before, dict) else {},
            options,
            replace=replace,
            loc=("platform_options", platform),
        )
    return merged


@router.get("")
def list_templates(
    db: DbDep, platforms: PlatformsDep, limit: Limit = 50, offset: Offset = 0
) -> Page[TemplatePublic]:
    """Templates in creation order."""
    items, total = crud_config.list_templates(db, limit=limit, offset=offset)
    return Page(items=[_public(db, platforms, t) for t in items], total=total)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses=BODY_RESPONSES | CONFLICT_RESPONSES,
)
def create_template(
    body: TemplateCreate, db: DbDep, platforms: PlatformsDep, settings: SettingsDep
) -> TemplatePublic:
    """Add a template (409 when the name is taken)."""
    fields = new_settings(
        db,
        settings.recordings_path,
        body.settings.model_dump(mode="json", exclude_none=True),
        ("settings",),
    )
    options = _options(platforms, {}, dict(body.platform_options), replace=True)
    template = ConfigTemplate(
        name=body.name,
        description=body.description,
        settings=fields,
        platform_options=options,
    )
    return _public(db, platforms, _save(db, template))


@router.get("/{template_id}", responses=NOT_FOUND_RESPONSES)
def get_template(
    template_id: TemplateId, db: DbDep, platforms: PlatformsDep
) -> TemplatePublic:
    """One template (404 if missing)."""
    return _public(db, platforms, _found(db, template_id))


@router.patch(
    "/{template_id}",
    responses=BODY_RESPONSES | NOT_FOUND_RESPONSES | CONFLICT_RESPONSES,
)
async def update_template(
    template_id: TemplateId,
    body: TemplateUpdate,
    db: DbDep,
    platforms: PlatformsDep,
    settings: SettingsDep,
    control: ControlDep,
    notifier: NotifierDep,
) -> TemplatePublic:
    """Change a template; the workflows of its streamers are told (those waiting
    for detection read it when their wait ends)."""

    def write() -> tuple[TemplatePublic, list[int]]:
        template = _found(db, template_id)
        sent = body.model_dump(exclude_unset=True)
        nulls = sorted(
            k for k in ("name", "description") if k in sent and sent[k] is None
        )
        if nulls:
            raise unprocessable(
                [
                    {
                        "loc": ["body", k],
                        "msg": "may be omitted but not null",
                        "type": "null",
                    }
                    for k in nulls
                ]
            )
        if body.name is not None:
            template.name = body.name
        if body.description is not None:
            template.description = body.description
        if body.settings is not None:
            template.settings = patched_settings(
                db,
                settings.recordings_path,
                parse_stored(template.settings),
                body.settings.model_dump(mode="json", exclude_unset=True),
                ("settings",),
            )
        if body.platform_options is not None:
            template.platform_options = _options(
                platforms,
                dict(template.platform_options),
                dict(body.platform_options),
                replace=False,
            )
        saved = _save(db, template)
        return _public(db, platforms, saved), crud_config.streamer_ids(
            db, template_id=template_id, skip_waiting=True
        )

    shown, reached = await asyncio.to_thread(write)
    notifier.notify(control, reached)
    return shown


@router.delete(
    "/{template_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=NOT_FOUND_RESPONSES | CONFLICT_RESPONSES,
)
def delete_template(template_id: TemplateId, db: DbDep) -> None:
    """Delete a template nobody uses (409 names how many streamers use it)."""
    template = _found(db, template_id)
    users = crud_config.streamer_ids(db, template_id=template_id)
    if users:
        raise ConflictError(
            f"{len(users)} streamer(s) use template {template_id} (first: "
            f"{users[0]}): give them another template first"
        )
    crud_config.delete_template(db, template)


@router.post(
    "/{template_id}/clone",
    status_code=status.HTTP_201_CREATED,
    responses=BODY_RESPONSES | NOT_FOUND_RESPONSES | CONFLICT_RESPONSES,
)
def clone_template(
    template_id: TemplateId, body: TemplateClone, db: DbDep, platforms: PlatformsDep
) -> TemplatePublic:
    """A copy under a new name, credentials included (they never leave the DB)."""
    source = _found(db, template_id)
    copy = ConfigTemplate(
        name=body.name,
        description=source.description,
        settings=dict(source.settings),
        platform_options=dict(source.platform_options),
    )
    return _public(db, platforms, _save(db, copy))
