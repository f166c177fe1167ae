"""What every configuration write does before it saves, and how levels are shown.

A level's fields are validated by the field list's model (a bad value is a 422
naming the field), its pipelines against the processors and the stored presets.
Platform options are validated by the platform's options model. Credentials (the
model's secret fields) are never shown back: the API answers the mask
`**********`, and a write that sends the mask, or leaves a credential out of a
replacement, keeps the stored value.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import HTTPException, status
from pydantic import ValidationError

from activities.config import patch_overrides, validate_overrides
from activities.config.pipelines import pipeline_problems
from activities.config.resolve import ConfigRows, secret_options
from activities.db import crud_pipeline
from activities.errors import ExtractorError

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

    from sqlmodel import Session

    from activities.platforms import PlatformRegistry

MASK = "**********"

Loc = tuple[str | int, ...]


def unprocessable(errors: list[dict[str, Any]]) -> HTTPException:
    """A 422 in FastAPI's shape: `{"detail": [{"loc", "msg", "type"}, …]}`."""
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, errors)


def field_errors(err: ValidationError, loc: Loc) -> list[dict[str, Any]]:
    """A validation error's problems, each located under `loc`."""
    return [
        {
            "loc": ["body", *loc, *e["loc"]],
            "msg": str(e["msg"]).removeprefix("Value error, "),
            "type": e["type"],
        }
        for e in err.errors()
    ]


def check_pipelines(
    db: Session, root: Path, settings: Mapping[str, Any], loc: Loc
) -> list[dict[str, Any]]:
    """Problems of the level's pipelines, located under `loc`."""
    problems = pipeline_problems(
        settings, root=root, step_presets=crud_pipeline.step_presets(db)
    )
    return [p | {"loc": ["body", *loc, *p["loc"]]} for p in problems]


def new_settings(
    db: Session, root: Path, sent: Mapping[str, Any], loc: Loc
) -> dict[str, Any]:
    """A whole level's fields as sent, checked.

    Raises:
        HTTPException: 422 naming each invalid field.
    """
    try:
        settings = validate_overrides(sent)
    except ValidationError as err:
        raise unprocessable(field_errors(err, loc)) from err
    problems = check_pipelines(db, root, settings, loc)
    if problems:
        raise unprocessable(problems)
    return settings


def patched_settings(
    db: Session,
    root: Path,
    stored: Mapping[str, Any],
    sent: Mapping[str, Any],
    loc: Loc,
) -> dict[str, Any]:
    """A level's fields after a partial update (null inherits again), checked.

    Raises:
        HTTPException: 422 naming each invalid field.
    """
    try:
        settings = patch_overrides(stored, sent)
    except ValidationError as err:
        raise unprocessable(field_errors(err, loc)) from err
    problems = check_pipelines(db, root, settings, loc)
    if problems:
        raise unprocessable(problems)
    return settings


def _model(registry: PlatformRegistry, platform: str, loc: Loc) -> Any:
    try:
        return registry.named(platform).options_model
    except ExtractorError as err:
        raise unprocessable(
            [{"loc": ["body", *loc], "msg": str(err), "type": "platform"}]
        ) from err


def checked_options(
    registry: PlatformRegistry,
    platform: str,
    stored: Mapping[str, Any],
    sent: Mapping[str, Any] | None,
    *,
    replace: bool,
    loc: Loc,
) -> dict[str, Any]:
    """Apply sent platform options to the stored ones, validated.

    Args:
        registry: the platforms.
        platform: whose options model validates them.
        stored: the options stored now.
        sent: the options sent (null removes one).
        replace: the sent options replace the stored ones (a PUT), credentials
            excepted; otherwise they are merged in (a PATCH).
        loc: where the options are in the body, for error locations.

    Raises:
        HTTPException: 422 naming each invalid option, or an unknown platform.
    """
    model = _model(registry, platform, loc)
    secrets = secret_options(model)
    merged = (
        {k: v for k, v in stored.items() if k in secrets} if replace else dict(stored)
    )
    for key, value in (sent or {}).items():
        if key in secrets and value == MASK:
            continue  # the masked value the API showed, sent back unchanged
        merged[key] = value
    merged = {k: v for k, v in merged.items() if v is not None}
    try:
        model.model_validate(merged)
    except ValidationError as err:
        raise unprocessable(field_errors(err, loc)) from err
    return merged


def shown_options(
    registry: PlatformRegistry, platform: str, stored: Mapping[str, Any] | None
) -> dict[str, Any]:
    """Options as the API shows them: only those set, credentials masked."""
    try:
        return registry.public_options(platform, stored)
    except ExtractorError:  # a platform this build no longer has
        return {}


def secrets_of(registry: PlatformRegistry, platform: str) -> frozenset[str]:
    """The credentials among a platform's options (none for an unknown one)."""
    try:
        return secret_options(registry.named(platform).options_model)
    except ExtractorError:
        return frozenset()


def read_rows(db: Session) -> ConfigRows:
    """Every level above the streamers, for merging many streamers."""
    return ConfigRows.read(db, every=True)
