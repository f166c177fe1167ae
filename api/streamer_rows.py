"""What the streamer routes do to a row before it is saved, and how they show it.

Settings and platform options arrive as partial updates (JSON merge patch, one
level) and are validated whole; a name or URL another streamer holds is a 409 that
names it, also when a concurrent request takes it between the check and the write
(the database's unique indexes decide then); options are shown without secrets.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import HTTPException, status
from pydantic import ValidationError

from activities.config import RecordingOverrides, parse_stored_overrides
from activities.db import Streamer, crud
from activities.errors import ExtractorError, UnsupportedUrlError
from api.errors import ConflictError
from api.schemas import StreamerPublic, StreamerRef

if TYPE_CHECKING:
    from collections.abc import Callable

    from sqlmodel import Session

    from activities.platforms import Channel, PlatformRegistry
    from api.deps import Platforms


def public(streamer: Streamer, registry: PlatformRegistry) -> StreamerPublic:
    """The streamer as the API shows it: secrets (cookies, tokens) never."""
    shown_row = StreamerPublic.model_validate(streamer, from_attributes=True)
    try:
        shown = registry.public_options(streamer.platform, streamer.platform_options)
    except ExtractorError:  # a platform this build no longer has
        shown = {}
    return shown_row.model_copy(update={"platform_options": shown})


def detect(platforms: Platforms, url: str) -> Channel:
    """The URL's platform and channel reference (422 when nothing handles it)."""
    try:
        return platforms.registry.channel(url)
    except UnsupportedUrlError as err:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(err)) from err


def platform_options(
    registry: PlatformRegistry,
    platform: str,
    stored: dict[str, Any],
    sent: dict[str, Any] | None,
) -> dict[str, Any]:
    """Merge sent options into the stored ones (null removes), validated.

    Raises:
        HTTPException: 422 when the platform's options model refuses them.
    """
    merged = {k: v for k, v in (stored | (sent or {})).items() if v is not None}
    model = registry.named(platform).options_model
    try:
        model.model_validate(merged)
    except ValidationError as err:
        reasons = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in err.errors()
        )
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"invalid {platform} options: {reasons}",
        ) from err
    return merged


def merge_settings(stored: dict[str, Any], sent: RecordingOverrides) -> dict[str, Any]:
    """Apply a PATCH's settings to the stored ones (JSON merge patch, one level).

    Raises:
        HTTPException: 422 when the merged settings do not validate together.
    """
    merged = parse_stored_overrides(stored).stored() | sent.model_dump(
        mode="json", exclude_unset=True
    )
    try:
        return RecordingOverrides.model_validate(
            {k: v for k, v in merged.items() if v is not None}
        ).stored()
    except ValidationError as err:
        reasons = "; ".join(e["msg"] for e in err.errors())
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, f"invalid settings: {reasons}"
        ) from err


def _conflict(other: Streamer, what: str) -> ConflictError:
    assert other.id is not None
    return ConflictError(
        f'streamer {other.id} ("{other.name}") already has this {what}',
        StreamerRef(id=other.id, name=other.name),
    )


def _taken(
    db: Session, *, name: str | None, url: str | None, streamer_id: int | None
) -> ConflictError | None:
    """The 409 naming another streamer that holds `name` or `url`, if one does.

    Both are unique: a name is the streamer's folder, a URL its stream.
    """
    checks = (
        ("name", name, crud.get_streamer_by_name),
        ("URL", url, crud.get_streamer_by_url),
    )
    for what, value, lookup in checks:
        other = lookup(db, value) if value is not None else None
        if other is not None and other.id != streamer_id:
            return _conflict(other, what)
    return None


def save(
    db: Session,
    write: Callable[[], Streamer],
    *,
    name: str | None,
    url: str | None,
    streamer_id: int | None = None,
) -> Streamer:
    """Check the unique fields, then write.

    Raises:
        ConflictError: another streamer holds the name or the URL (found before
            the write, or by the database's unique index during it).
    """
    conflict = _taken(db, name=name, url=url, streamer_id=streamer_id)
    if conflict is not None:
        raise conflict
    try:
        return write()
    except crud.StreamerTakenError as err:
        raise _conflict(err.other, err.what) from err
