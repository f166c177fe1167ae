"""A streamer's profile: its current title, category and avatar, as checks see them.

Every clean live check (live, or offline; not a failure) carries what the platform
says of the channel. The checks write it here: the shard pollers for the streamers
they poll (`activities.poll.profile`), the workflow's own check for the others
(`activities.detect`). A value the check left empty keeps the stored one (many
platforms say no title while offline, and the last one is what a user recognises).

The write never touches `updated_at`: the pollers read that column as "the
workflow projected a change" and would tell the workflow its outcome again.
`profile_at` says when the profile last changed (the dashboard's watcher reads it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlmodel import col, select

from activities.db.tables import (
    AVATAR_URL_MAX_LENGTH,
    CATEGORY_MAX_LENGTH,
    TITLE_MAX_LENGTH,
    Streamer,
    utcnow,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

    from sqlmodel import Session

# an avatar is shown as an <img>: only web addresses, never data: or javascript:
_AVATAR_SCHEMES = ("https://", "http://")


@dataclass(frozen=True, slots=True)
class Profile:
    """What a check said of a channel ("" = it did not say)."""

    title: str = ""
    category: str = ""
    avatar_url: str = ""

    @classmethod
    def clean(cls, title: str, category: str, avatar_url: str) -> Profile:
        """A profile cut to the columns' lengths, with only a web avatar address."""
        avatar = avatar_url.strip()
        if not avatar.lower().startswith(_AVATAR_SCHEMES):
            avatar = ""
        return cls(
            title=title.strip()[:TITLE_MAX_LENGTH],
            category=category.strip()[:CATEGORY_MAX_LENGTH],
            avatar_url=avatar if len(avatar) <= AVATAR_URL_MAX_LENGTH else "",
        )

    @classmethod
    def stored(cls, row: Streamer) -> Profile:
        """The profile a streamer row holds."""
        return cls(row.title or "", row.category or "", row.avatar_url or "")

    def over(self, stored: Profile) -> Profile:
        """This check's values over the stored ones (an empty value keeps it)."""
        return Profile(
            self.title or stored.title,
            self.category or stored.category,
            self.avatar_url or stored.avatar_url,
        )

    @property
    def empty(self) -> bool:
        return not (self.title or self.category or self.avatar_url)


def save_profiles(db: Session, found: Mapping[int, Profile]) -> int:
    """Write what checks found, in one transaction; returns the rows changed.

    A streamer deleted meanwhile is skipped; one whose stored profile already
    says the same is not written.
    """
    wanted = {sid: p for sid, p in found.items() if not p.empty}
    if not wanted:
        return 0
    rows = db.exec(select(Streamer).where(col(Streamer.id).in_(list(wanted)))).all()
    now = utcnow()
    changed = 0
    for row in rows:
        assert row.id is not None
        stored = Profile.stored(row)
        merged = wanted[row.id].over(stored)
        if merged == stored:
            continue
        row.title = merged.title or None
        row.category = merged.category or None
        row.avatar_url = merged.avatar_url or None
        row.profile_at = now
        db.add(row)
        changed += 1
    if changed:
        db.commit()
    return changed
