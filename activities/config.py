"""Recording settings at each configuration level, and their merge.

A level (today: the worker's defaults and one streamer's overrides; later also
platform and template levels) sets some `RecordingPolicy` fields and leaves the rest
to the level below it. `merge_policy` is the one pure function that applies levels
in order, so the API, the store activity and tests agree on what a streamer gets.

`RecordingOverrides` is the shape of one level: every field optional (None = inherit),
unknown fields rejected, each value checked as strictly as the worker checks its own
settings, so a bad value is refused when it is configured, not when a stream goes
live. `selection` is replaced as a whole, never merged field by field: a preference
list half from one level and half from another would surprise everyone.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from activities.contracts import (
    Container,
    EngineKind,
    RecordingPolicy,
    StreamSelection,
)
from activities.naming import validate_template

log = logging.getLogger(__name__)

__all__ = [
    "MAX_BYTES",
    "MAX_INTERVAL_SECS",
    "MAX_SEGMENT_SECS",
    "MIN_POLL_SECS",
    "RecordingOverrides",
    "SelectionOverride",
    "merge_policy",
    "parse_stored_overrides",
]


# Upper bounds of every number a user configures. Beyond them a value is a typo or
# an attack: a timer of 1e308 s overflows the workflow's timedelta, a byte count
# past 2^63-1 does not fit a database BIGINT, and polling more than once a second
# only floods the workflow's history and the platform.
MIN_POLL_SECS = 1.0
MAX_INTERVAL_SECS = 86_400.0
MAX_SEGMENT_SECS = 7 * 86_400.0
MAX_BYTES = 2**63 - 1


class SelectionOverride(StreamSelection):
    """`StreamSelection` as a user configures it: unknown fields are an error.

    The contract model ignores unknown fields so old workers accept new payloads;
    configuration is the opposite case, where a typo must not pass silently.
    """

    model_config = ConfigDict(extra="forbid")

    min_bitrate_bps: int = Field(default=0, ge=0, le=MAX_BYTES)
    max_bitrate_bps: int = Field(default=0, ge=0, le=MAX_BYTES)


class RecordingOverrides(BaseModel):
    """The recording settings one configuration level sets; None inherits.

    Bounds match `worker.settings.WorkerSettings`: a value the worker would refuse at
    start-up is refused here too.
    """

    model_config = ConfigDict(extra="forbid")

    engine: EngineKind | None = Field(
        default=None, description="Which recorder writes the stream"
    )
    container: Container | None = Field(
        default=None, description="Output container of ffmpeg/streamlink"
    )
    filename_template: str | None = Field(
        default=None,
        description="Segment path under the recordings root, without extension; "
        "see RecordingPolicy.filename_template",
    )
    max_segment_duration_secs: float | None = Field(
        default=None,
        ge=0,
        le=MAX_SEGMENT_SECS,
        description="Close a segment after this much media; 0 = never",
    )
    max_segment_size_bytes: int | None = Field(
        default=None,
        ge=0,
        le=MAX_BYTES,
        description="Close a segment at this size; 0 = never",
    )
    min_segment_size_bytes: int | None = Field(
        default=None,
        ge=0,
        le=MAX_BYTES,
        description="Delete a closed segment smaller than this",
    )
    selection: SelectionOverride | None = Field(
        default=None, description="Stream selection; replaces the inherited one whole"
    )
    poll_interval_secs: float | None = Field(
        default=None,
        ge=MIN_POLL_SECS,
        le=MAX_INTERVAL_SECS,
        description="Seconds between live checks while offline",
    )
    grace_secs: float | None = Field(
        default=None,
        ge=0,
        le=MAX_INTERVAL_SECS,
        description="A stream that returns within this window continues its session",
    )
    stream_timeout_secs: float | None = Field(
        default=None,
        gt=0,
        description="End a recording after this long without new media",
    )

    @field_validator("filename_template")
    @classmethod
    def _check_template(cls, template: str | None) -> str | None:
        if template is not None:
            validate_template(template)
        return template

    @model_validator(mode="after")
    def _min_below_max(self) -> RecordingOverrides:
        low, high = self.min_segment_size_bytes, self.max_segment_size_bytes
        if low is not None and high and low > high:
            raise ValueError(
                f"min_segment_size_bytes ({low}) is above "
                f"max_segment_size_bytes ({high}): every segment would be deleted"
            )
        return self

    def stored(self) -> dict[str, Any]:
        """The JSON form kept in the database: only the fields this level sets."""
        return self.model_dump(mode="json", exclude_none=True)


def parse_stored_overrides(data: Mapping[str, Any] | None) -> RecordingOverrides:
    """Read overrides back from the database, dropping fields that no longer validate.

    A row may predate a stricter rule, or be edited by hand. Refusing to record over
    one bad field would be worse than recording with the inherited value, so each
    invalid field is dropped with a warning.

    Args:
        data: the stored JSON object (None or empty = no overrides).

    Returns:
        The valid part of the overrides.
    """
    values = dict(data or {})
    for _ in range(len(values) + 1):
        try:
            return RecordingOverrides.model_validate(values)
        except ValidationError as err:
            bad = {str(e["loc"][0]) for e in err.errors() if e["loc"]}
            # a model-level error names no field: nothing to drop one by one
            bad = bad & values.keys() or set(values)
            log.warning(
                "ignoring invalid stored recording settings %s: %s",
                sorted(bad),
                "; ".join(e["msg"] for e in err.errors()),
            )
            for key in bad:
                values.pop(key, None)
    return RecordingOverrides()


def merge_policy(
    defaults: RecordingPolicy, *levels: RecordingOverrides | None
) -> RecordingPolicy:
    """Apply configuration levels over the defaults, lowest level first.

    Args:
        defaults: the worker-wide policy.
        levels: overrides in increasing precedence (None = a level with nothing
            set); a field one sets replaces the value from everything before it.

    Returns:
        A new policy; `defaults` is not changed.
    """
    merged = defaults.model_dump()
    for level in levels:
        if level is not None:
            merged.update(level.model_dump(exclude_none=True))
    return RecordingPolicy.model_validate(merged)
