"""The global level's first values, from the `SREC_*` environment of the first start.

`GlobalSeed` is a pydantic-settings class built from `RecordingPolicy`: one variable
per field, `SREC_<FIELD>` (`SREC_POLL_INTERVAL_SECS=60`), nested fields as JSON
(`SREC_SELECTION='{"qualities": ["1080p"]}'`) or one by one
(`SREC_SELECTION__QUALITIES='["1080p"]'`). The first process to start on a database
(worker or API) writes what is set into the global level; after that the database
is the truth, so every worker and the API agree, and later changes go through the
API. A variable set on a later start is ignored with a warning naming it.

The variables of older releases are read too: `SREC_GRACE_SECS` (one offline check
that long after a drop) and a `SREC_FILENAME_TEMPLATE` holding its folder.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from pydantic import Field, ValidationError, create_model
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlmodel import Session

from activities.config.fields import (
    NESTED_PARTIALS,
    partial_fields,
    validate_overrides,
)
from activities.config.pipelines import pipeline_problems
from activities.contracts import RecordingPolicy
from activities.contracts.policy import legacy_grace, split_path_template
from activities.db import crud_config, crud_pipeline

if TYPE_CHECKING:
    from pathlib import Path

    import sqlalchemy as sa

log = logging.getLogger(__name__)

__all__ = ["ENV_PREFIX", "ConfigSeedError", "GlobalSeed", "seed_global"]

ENV_PREFIX = "SREC_"


class ConfigSeedError(ValueError):
    """The environment's configuration does not validate; names the variables."""


class _SeedBase(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, extra="ignore", env_nested_delimiter="__"
    )


GlobalSeed: type[BaseSettings] = create_model(
    "GlobalSeed",
    __base__=_SeedBase,
    # the types and bounds only: `seed_values` checks the rest, after reading the
    # older variables' shapes
    __doc__="The global level's fields from `SREC_<FIELD>` variables (unset: None).",
    grace_secs=(
        float | None,
        Field(default=None, ge=0, description="Older releases: one offline check"),
    ),
    **partial_fields(RecordingPolicy, NESTED_PARTIALS),
)


def env_name(loc: tuple[int | str, ...]) -> str:
    """The variable a validation error's location names (`SREC_SELECTION__CDNS`)."""
    return ENV_PREFIX + "__".join(str(p).upper() for p in loc if isinstance(p, str))


def seed_values(seed: BaseSettings) -> dict[str, Any]:
    """The fields the environment sets, validated as a level's.

    Raises:
        ConfigSeedError: naming each invalid variable.
    """
    values: dict[str, Any] = seed.model_dump(mode="json", exclude_none=True)
    grace = values.pop("grace_secs", None)
    if (
        grace is not None
        and not {
            "offline_check_count",
            "offline_check_delay_secs",
        }
        & values.keys()
    ):
        values |= legacy_grace(grace)
    template = values.get("filename_template")
    if isinstance(template, str) and "output_folder" not in values:
        if "/" in template or "\\" in template:
            values |= split_path_template(template)
    try:
        return validate_overrides(values)
    except ValidationError as err:
        reasons = "; ".join(f"{env_name(e['loc'])}: {e['msg']}" for e in err.errors())
        raise ConfigSeedError(
            f"invalid configuration in the environment: {reasons}"
        ) from err


def read_seed() -> BaseSettings:
    """Read the environment (the caller is a process's composition root).

    Raises:
        ConfigSeedError: a variable does not validate.
    """
    try:
        return GlobalSeed()
    except ValidationError as err:
        reasons = "; ".join(f"{env_name(e['loc'])}: {e['msg']}" for e in err.errors())
        raise ConfigSeedError(
            f"invalid configuration in the environment: {reasons}"
        ) from err


def seed_global(engine: sa.Engine, seed: BaseSettings, root: Path) -> bool:
    """Seed the global level from the environment on the database's first start.

    Args:
        engine: the app database (migrated).
        seed: the environment's values (`read_seed()`).
        root: the recordings root pipelines must stay inside.

    Returns:
        True when this call seeded it; False when an earlier start had.

    Raises:
        ConfigSeedError: the environment's values do not validate (checked only
            when they are about to be written).
    """
    with Session(engine) as db:
        if crud_config.get_global(db).seeded_at is not None:
            ignored = sorted(seed.model_dump(exclude_none=True))
            if ignored:
                log.warning(
                    "ignoring %s: the configuration lives in the database since its "
                    "first start; change it with PATCH /api/config/global",
                    ", ".join(ENV_PREFIX + name.upper() for name in ignored),
                )
            return False
        values = seed_values(seed)
        problems = pipeline_problems(
            values, root=root, step_presets=crud_pipeline.step_presets(db)
        )
        if problems:
            reasons = "; ".join(
                f"{env_name(tuple(p['loc'][:1]))}: {p['msg']}" for p in problems
            )
            raise ConfigSeedError(f"invalid pipeline in the environment: {reasons}")
        seeded = crud_config.seed_global(db, values)
    if seeded:
        log.info(
            "global configuration seeded from the environment: %s",
            ", ".join(sorted(values)) or "built-in defaults",
        )
    return seeded
