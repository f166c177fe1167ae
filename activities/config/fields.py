"""The shape of one configuration level, derived from `RecordingPolicy`.

A level (global, platform, template, streamer) sets some fields and inherits the
rest. Its model, `ConfigOverrides`, is built from `RecordingPolicy.model_fields`:
every field optional (None = inherit), the same bounds and descriptions, unknown
fields refused, and the checks a stored value must pass (templates inside the
recordings root, a proxy without a password, a minimum segment size below the
maximum of the same level). The nested models merged field by field (`selection`,
`record_retry`) get partial models of their own. Code handles a level as a
validated dict: only the fields it sets, in JSON form, as the database stores them.

Pipelines are checked here for shape only: whether their processors and presets
exist needs the database (`activities.pipeline_validate.check_pipeline`), which every
writer calls before saving.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    create_model,
    field_validator,
)

from activities.contracts import RecordingPolicy, RetrySettings, StreamSelection
from activities.naming import validate_file_template, validate_folder_template

if TYPE_CHECKING:
    from collections.abc import Mapping

log = logging.getLogger(__name__)

__all__ = [
    "FIELDS",
    "NESTED",
    "OVERRIDES",
    "PIPELINES",
    "UNIONS",
    "check_proxy",
    "parse_stored",
    "patch_overrides",
    "validate_overrides",
]

FIELDS: tuple[str, ...] = tuple(RecordingPolicy.model_fields)
# nested models that levels merge field by field (the rest replace whole)
NESTED: dict[str, type[BaseModel]] = {
    "selection": StreamSelection,
    "record_retry": RetrySettings,
}
# list fields of nested models that levels join instead of replacing
UNIONS: dict[str, frozenset[str]] = {"selection": frozenset({"cdn_blacklist"})}
PIPELINES = ("segment_pipeline", "paired_pipeline", "session_pipeline")
PROXY_SCHEMES = frozenset({"http", "https", "socks5", "socks5h"})


def check_proxy(url: str) -> str:
    """Check a proxy URL: a known scheme, a host, no password, nothing else.

    Raises:
        ValueError: with the reason.
    """
    if not url:
        return url
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as err:
        raise ValueError(f"not a proxy URL: {err}") from err
    if parts.scheme not in PROXY_SCHEMES:
        known = ", ".join(sorted(f"{s}://" for s in PROXY_SCHEMES))
        raise ValueError(f"the proxy URL must start with one of {known}")
    if not parts.hostname:
        raise ValueError("the proxy URL names no host")
    if parts.password is not None:
        raise ValueError(
            "a proxy password is a credential: set the platform option "
            "proxy_password instead of writing it into the URL"
        )
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError("a proxy URL is scheme://[user@]host[:port], nothing more")
    del port  # read only to have it checked
    return url


def _folder(value: str | None) -> str | None:
    if value is not None:
        validate_folder_template(value)
    return value


def _file(value: str | None) -> str | None:
    if value is not None:
        validate_file_template(value)
    return value


def _proxy(value: str | None) -> str | None:
    return check_proxy(value) if value is not None else None


def _min_size(low: int | None, info: ValidationInfo) -> int | None:
    # max_segment_size_bytes comes first in the field list: validated already
    high = info.data.get("max_segment_size_bytes")
    if low is not None and high and low > high:
        raise ValueError(
            f"min_segment_size_bytes ({low}) is above max_segment_size_bytes "
            f"({high}): every segment would be deleted"
        )
    return low


# the checks every level and the seed share
VALIDATORS: dict[str, Any] = {
    "check_output_folder": field_validator("output_folder")(_folder),
    "check_filename_template": field_validator("filename_template")(_file),
    "check_proxy": field_validator("proxy")(_proxy),
    "check_sizes": field_validator("min_segment_size_bytes")(_min_size),
}


def partial_fields(
    model: type[BaseModel], nested: Mapping[str, type[BaseModel]]
) -> dict[str, Any]:
    """`model`'s fields for `create_model`, each optional with default None.

    The bounds (annotated metadata) and descriptions are kept; `nested` maps field
    names to the partial models that replace their types.
    """
    fields: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        annotation: Any = nested.get(name) or info.annotation
        if info.metadata:
            annotation = Annotated[annotation, *info.metadata]
        fields[name] = (
            annotation | None,
            Field(default=None, description=info.description),
        )
    return fields


def _partial(model: type[BaseModel], name: str) -> type[BaseModel]:
    return create_model(
        name,
        __config__=ConfigDict(extra="forbid"),
        __doc__=f"`{model.__name__}` as one level sets it: null or absent inherits.",
        **partial_fields(model, {}),
    )


NESTED_PARTIALS = {
    "selection": _partial(StreamSelection, "SelectionOverrides"),
    "record_retry": _partial(RetrySettings, "RetryOverrides"),
}

OVERRIDES: type[BaseModel] = create_model(
    "ConfigOverrides",
    __config__=ConfigDict(extra="forbid"),
    __doc__="The fields one configuration level sets; null or absent inherits.",
    __validators__=VALIDATORS,
    **partial_fields(RecordingPolicy, NESTED_PARTIALS),
)


def validate_overrides(data: Mapping[str, Any] | None) -> dict[str, Any]:
    """Validate one level's fields; return those set, in JSON form.

    Raises:
        pydantic.ValidationError: naming each invalid field.
    """
    model = OVERRIDES.model_validate(dict(data or {}))
    dumped: dict[str, Any] = model.model_dump(mode="json", exclude_none=True)
    return {k: v for k, v in dumped.items() if v != {} or k not in NESTED}


def parse_stored(
    data: Mapping[str, Any] | None, what: str = "settings"
) -> dict[str, Any]:
    """Read a level back from the database, dropping fields that no longer validate.

    A row may predate a stricter rule, or be edited by hand. Refusing to record over
    one bad field would be worse than recording with the inherited value, so each
    invalid field is dropped with a warning.

    Args:
        data: the stored JSON object (None or empty = nothing set).
        what: names the level in the warning.

    Returns:
        The valid part, as `validate_overrides` returns it.
    """
    values = dict(data or {})
    for _ in range(len(values) + 1):
        try:
            return validate_overrides(values)
        except ValidationError as err:
            bad = {str(e["loc"][0]) for e in err.errors() if e["loc"]}
            # a model-level error names no field: nothing to drop one by one
            bad = bad & values.keys() or set(values)
            log.warning(
                "ignoring invalid stored %s %s: %s",
                what,
                sorted(bad),
                "; ".join(e["msg"] for e in err.errors()),
            )
            for key in bad:
                values.pop(key, None)
    return {}


def patch_overrides(
    stored: Mapping[str, Any], sent: Mapping[str, Any]
) -> dict[str, Any]:
    """Apply a partial update to a level (JSON merge patch) and validate the result.

    A field sent replaces the stored one and a field sent as null is inherited
    again; the nested models merged field by field are patched one level deeper,
    pipelines are replaced whole.

    Raises:
        pydantic.ValidationError: the result does not validate.
    """
    merged: dict[str, Any] = dict(stored)
    for key, value in sent.items():
        old = merged.get(key)
        if key in NESTED and isinstance(value, dict) and isinstance(old, dict):
            value = {k: v for k, v in (old | value).items() if v is not None} or None
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return validate_overrides(merged)
