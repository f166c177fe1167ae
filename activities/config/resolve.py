"""A streamer's levels read from the database, merged: what the activities and the
API use.

The rows are read tolerantly (`fields.parse_stored`): a hand-edited or outdated
field is dropped with a warning, never a reason not to record. `ConfigRows` holds
the rows above the streamers (few), so a listing merges many streamers with one
read of them.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

from activities.config.fields import parse_stored
from activities.config.merge import Effective, Level, LevelValues, merge
from activities.contracts import StreamerConfig
from activities.db import crud, crud_config, crud_filters

if TYPE_CHECKING:
    from collections.abc import Collection, Mapping

    from pydantic import BaseModel
    from sqlmodel import Session

    from activities.db import ConfigTemplate, Streamer

__all__ = [
    "ConfigRows",
    "config_version",
    "secret_options",
    "streamer_config",
    "streamer_levels",
]


def secret_options(model: type[BaseModel]) -> frozenset[str]:
    """Names of an options model's credentials: its `SecretStr` fields."""
    return frozenset(
        name
        for name, info in model.model_fields.items()
        if info.annotation is SecretStr
        or SecretStr in getattr(info.annotation, "__args__", ())
    )


@dataclass
class ConfigRows:
    """The global, platform and template levels, as read once.

    Attributes:
        global_settings: the global level's fields.
        platforms: platform name -> (settings, options).
        templates: template id -> the row.
    """

    global_settings: dict[str, Any] = field(default_factory=dict)
    platforms: dict[str, tuple[dict[str, Any], dict[str, Any]]] = field(
        default_factory=dict
    )
    templates: dict[int, ConfigTemplate] = field(default_factory=dict)

    @classmethod
    def read(
        cls,
        db: Session,
        *,
        platform: str | None = None,
        template_id: int | None = None,
        every: bool = False,
    ) -> ConfigRows:
        """Read the global level and one platform's and template's (or all).

        Args:
            db: the session.
            platform: the platform whose level to read.
            template_id: the template to read.
            every: read every platform and template instead.
        """
        rows = cls(
            global_settings=parse_stored(
                crud_config.get_global(db).settings, "global settings"
            )
        )
        if every:
            platforms = list(crud_config.list_platforms(db).values())
            templates = list(crud_config.list_templates(db)[0])
        else:
            one = crud_config.get_platform(db, platform) if platform else None
            platforms = [one] if one is not None else []
            tpl = crud_config.get_template(db, template_id) if template_id else None
            templates = [tpl] if tpl is not None else []
        for row in platforms:
            rows.platforms[row.name] = (
                parse_stored(row.settings, f"{row.name} settings"),
                dict(row.options),
            )
        rows.templates = {t.id: t for t in templates if t.id is not None}
        return rows


def streamer_levels(streamer: Streamer, rows: ConfigRows) -> list[LevelValues]:
    """The four levels of one streamer, least specific first."""
    settings, options = rows.platforms.get(streamer.platform, ({}, {}))
    levels = [
        LevelValues(Level.GLOBAL, rows.global_settings),
        LevelValues(Level.PLATFORM, settings, options),
    ]
    template = rows.templates.get(streamer.template_id or 0)
    if template is not None:
        per_platform = template.platform_options.get(streamer.platform)
        levels.append(
            LevelValues(
                Level.TEMPLATE,
                parse_stored(template.settings, f"template {template.name!r}"),
                per_platform if isinstance(per_platform, dict) else {},
            )
        )
    levels.append(
        LevelValues(
            Level.STREAMER,
            parse_stored(streamer.settings, f"settings of streamer {streamer.id}"),
            dict(streamer.platform_options),
        )
    )
    return levels


def effective(
    streamer: Streamer, rows: ConfigRows, secrets: Collection[str] = ()
) -> Effective:
    """The streamer's effective configuration."""
    return merge(streamer_levels(streamer, rows), secrets)


def config_version(config: StreamerConfig) -> str:
    """A short name of what the streamer workflow loaded (pause state excluded)."""
    body = json.dumps(
        config.model_dump(mode="json", exclude={"enabled"}), sort_keys=True
    )
    return hashlib.sha256(body.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Resolved:
    """One streamer resolved: its workflow config, its version and its merge."""

    config: StreamerConfig
    version: str
    merged: Effective


def streamer_config(db: Session, streamer_id: int) -> Resolved | None:
    """Read and merge one streamer's configuration (None: it was deleted)."""
    row = crud.get_streamer(db, streamer_id)
    if row is None or row.id is None:
        return None
    rows = ConfigRows.read(db, platform=row.platform, template_id=row.template_id)
    merged = effective(row, rows)
    config = StreamerConfig(
        streamer_id=row.id,
        name=row.name,
        url=row.url,
        platform=row.platform,
        priority=merged.policy.priority,
        enabled=row.enabled,
        policy=merged.policy,
        filters=crud_filters.filter_specs(db, row.id),
    )
    return Resolved(config=config, version=config_version(config), merged=merged)


def options_of(resolved: Resolved | None) -> Mapping[str, Any]:
    """The platform options (credentials in clear) for the options model."""
    return resolved.merged.options() if resolved is not None else {}
