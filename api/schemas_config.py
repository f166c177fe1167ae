"""Request and response models of the configuration routes.

Every level's fields are `ConfigOverrides` (derived from `RecordingPolicy`, the one
field list); an effective configuration is a `RecordingPolicy` with, per field,
the level it came from. Platform options are shown with their secrets masked
(`**********`); a credential's value is never answered, only where it is set.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from activities.config import Level, parse_stored
from activities.contracts import RecordingPolicy
from activities.db import ConfigTemplateBase
from api.schemas_base import ConfigOverrides

NAME_MAX_LENGTH = 100
DESCRIPTION_MAX_LENGTH = 1000
MAX_PLATFORMS = 100
# C0 controls and DEL: a NUL is refused by Postgres
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

Options = dict[str, Any]


def _stored(value: Any) -> Any:
    # a row edited by hand must not make the level unreadable
    return parse_stored(value) if isinstance(value, dict) else value


def _name(value: Any) -> Any:
    if isinstance(value, str):
        value = value.strip()
        if _CONTROL.search(value):
            raise ValueError("must not contain control characters")
    return value


class GlobalConfigPublic(BaseModel):
    """The global level: what it sets, and every field with it applied."""

    settings: ConfigOverrides = Field(
        description="The fields the global level sets (the rest: built-in defaults)"
    )
    effective: RecordingPolicy = Field(description="Built-in defaults + global")
    sources: dict[str, Level] = Field(description="Field -> default or global")
    seeded_at: datetime | None = Field(
        default=None, description="When the first start seeded it from SREC_*"
    )
    updated_at: datetime

    _stored_settings = field_validator("settings", mode="before")(_stored)


class PlatformConfigPublic(BaseModel):
    """One platform's level (a platform nobody configured sets nothing)."""

    name: str
    settings: ConfigOverrides = Field(default_factory=ConfigOverrides)
    platform_options: Options = Field(
        default_factory=dict, description="Options of the platform; secrets masked"
    )
    secret_options: list[str] = Field(
        default_factory=list,
        description="The platform's options that are credentials (never shown)",
    )
    updated_at: datetime | None = Field(
        default=None, description="Null while the level was never written"
    )

    _stored_settings = field_validator("settings", mode="before")(_stored)


class PlatformConfigPut(BaseModel):
    """Body of `PUT /api/config/platforms/{name}`: the whole level.

    Options not sent are removed, except credentials, which keep their stored
    value unless sent (null removes one; the mask `**********` keeps it).
    """

    model_config = ConfigDict(extra="forbid")

    settings: ConfigOverrides = Field(default_factory=ConfigOverrides)
    platform_options: Options = Field(default_factory=dict)


class TemplateCreate(ConfigTemplateBase):
    """Body of `POST /api/templates`."""

    # a typo must not pass silently (SQLModel types its config as its own dict)
    model_config = ConfigDict(extra="forbid")  # type: ignore[assignment]

    name: str = Field(min_length=1, max_length=NAME_MAX_LENGTH)
    description: str = Field(default="", max_length=DESCRIPTION_MAX_LENGTH)
    settings: ConfigOverrides = Field(default_factory=ConfigOverrides)
    platform_options: dict[str, Options] = Field(
        default_factory=dict,
        max_length=MAX_PLATFORMS,
        description="Platform name -> options for the streamers of that platform",
    )

    _check_name = field_validator("name", mode="before")(_name)


class TemplateUpdate(BaseModel):
    """Body of `PATCH /api/templates/{id}`; only what is sent changes.

    `settings` merges as a streamer's do (null inherits again); `platform_options`
    merges per platform (a platform sent as null loses its options, an option sent
    as null is removed; credentials not sent keep their value).
    """

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=NAME_MAX_LENGTH)
    description: str | None = Field(default=None, max_length=DESCRIPTION_MAX_LENGTH)
    settings: ConfigOverrides | None = None
    platform_options: dict[str, Options | None] | None = Field(
        default=None, max_length=MAX_PLATFORMS
    )

    _check_name = field_validator("name", mode="before")(_name)


class TemplateClone(BaseModel):
    """Body of `POST /api/templates/{id}/clone`."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=NAME_MAX_LENGTH)

    _check_name = field_validator("name", mode="before")(_name)


class TemplatePublic(ConfigTemplateBase):
    """A template as the API shows it (credentials masked)."""

    id: int
    settings: ConfigOverrides = Field(default_factory=ConfigOverrides)
    platform_options: dict[str, Options] = Field(default_factory=dict)
    streamers: int = Field(default=0, description="Streamers that use it")
    created_at: datetime
    updated_at: datetime

    _stored_settings = field_validator("settings", mode="before")(_stored)


class EffectiveConfig(BaseModel):
    """A streamer's effective configuration and where each value comes from."""

    streamer_id: int
    platform: str
    template_id: int | None = None
    config: RecordingPolicy
    sources: dict[str, Level] = Field(
        description="Field (nested ones dotted: selection.qualities) -> level; "
        "the CDN blacklist joins every level's and names the most specific"
    )
    platform_options: Options = Field(
        default_factory=dict, description="The merged options that are not secret"
    )
    platform_option_sources: dict[str, Level] = Field(default_factory=dict)
    credentials: dict[str, Level] = Field(
        default_factory=dict,
        description="Which credentials are set, and at which level (never values)",
    )


# --- export / import -----------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class ExportedPlatform(_Strict):
    settings: ConfigOverrides = Field(default_factory=ConfigOverrides)
    platform_options: Options = Field(default_factory=dict)


class ExportedTemplate(_Strict):
    name: str = Field(min_length=1, max_length=NAME_MAX_LENGTH)
    description: str = Field(default="", max_length=DESCRIPTION_MAX_LENGTH)
    settings: ConfigOverrides = Field(default_factory=ConfigOverrides)
    platform_options: dict[str, Options] = Field(
        default_factory=dict, max_length=MAX_PLATFORMS
    )

    _check_name = field_validator("name", mode="before")(_name)


class ExportedStreamer(_Strict):
    name: str = Field(min_length=1, max_length=NAME_MAX_LENGTH)
    url: str = Field(min_length=1, max_length=2048)
    enabled: bool = True
    template: str | None = Field(
        default=None, max_length=NAME_MAX_LENGTH, description="Its template's name"
    )
    settings: ConfigOverrides = Field(default_factory=ConfigOverrides)
    platform_options: Options = Field(default_factory=dict)

    _check_name = field_validator("name", "url", mode="before")(_name)


class ConfigDocument(_Strict):
    """Every configuration level and the streamers: `GET /api/config/export`.

    Without `include_secrets=true` the credentials are left out; importing such a
    document keeps the credentials already stored.
    """

    version: Literal[1] = 1
    secrets: bool = Field(default=False, description="Credentials are included")
    global_settings: ConfigOverrides = Field(
        default_factory=ConfigOverrides, alias="global"
    )
    platforms: dict[str, ExportedPlatform] = Field(
        default_factory=dict, max_length=MAX_PLATFORMS
    )
    templates: list[ExportedTemplate] = Field(default_factory=list, max_length=10_000)
    streamers: list[ExportedStreamer] = Field(default_factory=list, max_length=100_000)


class ImportResult(BaseModel):
    """What `POST /api/config/import` wrote."""

    platforms: int = Field(description="Platform levels written")
    templates_created: int
    templates_updated: int
    streamers_created: int
    streamers_updated: int
