"""What the streamer routes do to a row before it is saved, and how they show it.

Settings and platform options arrive as partial updates (JSON merge patch, one
level) and are validated whole (`api.config_rows`); a name or URL another streamer
holds is a 409 that names it, also when a concurrent request takes it between the
check and the write (the database's unique indexes decide then); options are shown
without secrets, and the priority shown is the effective one (levels merged).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import HTTPException, status

from activities.config.resolve import ConfigRows, effective
from activities.db import Streamer, crud
from activities.errors import UnsupportedUrlError
from api.config_rows import checked_options, shown_options
from api.errors import ConflictError
from api.schemas import StreamerPublic, StreamerRef

if TYPE_CHECKING:
    from collections.abc import Callable

    from sqlmodel import Session

    from activities.platforms import Channel, PlatformRegistry
    from api.deps import Platforms


def public(
    db: Session,
    streamer: Streamer,
    registry: PlatformRegistry,
    rows: ConfigRows | None = None,
) -> StreamerPublic:
    """The streamer as the API shows it: secrets (cookies, tokens) never.

    Args:
        db: the session (to read the levels above the streamer).
        streamer: the row.
        registry: the platforms (which options are secret).
        rows: the levels above the streamer, when already read (a listing).
    """
    if rows is None:
        rows = ConfigRows.read(
            db, platform=streamer.platform, template_id=streamer.template_id
        )
    priority = effective(streamer, rows).policy.priority
    shown_row = StreamerPublic.model_validate(
        {
            **streamer.model_dump(),
            "priority": priority,
            "platform_options": shown_options(
                registry, streamer.platform, streamer.platform_options
            ),
        }
    )
    return shown_row


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
        HTTPException: 422 naming the options the platform's model refuses.
    """
    return checked_options(
        registry, platform, stored, sent, replace=False, loc=("platform_options",)
    )


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
