"""Segment files for the browser: a ticket behind the token, then the file by ticket.

A `<video>` element, and mpegts.js under it, fetch a URL without an
`Authorization` header, so playback cannot use the bearer token. An authenticated
`POST .../media` hands out tickets instead: short-lived JWTs (signed with the API's
key, type `media`) naming one segment's file and its kind (the video, its danmu XML,
the danmaku ASS a pipeline rendered from it, its thumbnail). `GET
/api/media/{ticket}` serves that one file, with range requests, and only from
under the recordings root: a row pointing elsewhere is a 404, never a read.
"""

from __future__ import annotations

import mimetypes
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

import jwt
from fastapi import APIRouter, HTTPException, status
from fastapi import Path as PathParam
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from activities.db import crud_danmu, crud_pipeline, crud_sessions
from api.auth import JWT_ALGORITHM
from api.deps import CurrentUser, DbDep, SettingsDep
from api.params import NOT_FOUND_RESPONSES, SessionId

router = APIRouter(tags=["media"])
public_router = APIRouter(tags=["media"])

TICKET_TTL = timedelta(hours=6)
THUMBNAIL_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")
MediaKind = Literal["video", "danmu", "ass", "thumbnail"]
SegmentIndex = Annotated[
    int, PathParam(ge=0, le=2**31 - 1, description="The segment's index")
]
# browsers play these directly; anything else goes through mpegts.js or not at all
_TYPES = {
    ".ts": "video/mp2t",
    ".flv": "video/x-flv",
    ".mp4": "video/mp4",
    ".m4v": "video/mp4",
    ".mkv": "video/x-matroska",
    ".webm": "video/webm",
    ".xml": "application/xml",
    ".ass": "text/x-ssa; charset=utf-8",
}


class MediaTickets(BaseModel):
    """URLs of one segment's files, each valid until `expires_at`."""

    video_url: str
    content_type: str = Field(description="The video file's media type")
    danmu_url: str | None = Field(description="Its danmu XML file, if recorded")
    ass_url: str | None = Field(
        default=None,
        description="Danmaku ASS subtitles of it (the `danmaku` step's output, "
        "beside the video or the XML, or where the step wrote it), if any",
    )
    thumbnail_url: str | None = Field(description="A thumbnail beside it, if any")
    expires_at: datetime


def _inside(root: Path, path: Path) -> Path | None:
    """The resolved path if it is a file under `root`, else None."""
    try:
        resolved = path.resolve(strict=True)
    except OSError:
        return None
    if not resolved.is_relative_to(root.resolve()) or not resolved.is_file():
        return None
    return resolved


def _thumbnail(video: Path) -> Path | None:
    for suffix in THUMBNAIL_SUFFIXES:
        candidate = video.with_suffix(suffix)
        if candidate.is_file():
            return candidate
    return None


def _files(db: DbDep, root: Path, session_id: int, index: int) -> dict[MediaKind, Path]:
    segment = crud_sessions.get_segment(db, session_id, index)
    if segment is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "segment not found")
    video = _inside(root, Path(segment.file_path))
    if video is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            "the segment's file is not under the recordings root",
        )
    found: dict[MediaKind, Path] = {"video": video}
    danmu = {f.index: f for f in crud_danmu.list_files(db, session_id)}.get(index)
    if danmu is not None and (xml := _inside(root, Path(danmu.file_path))):
        found["danmu"] = xml
    sources = [video, found["danmu"]] if "danmu" in found else [video]
    ass = _ass(db, root, (session_id, index), sources)
    if ass is not None:
        found["ass"] = ass
    thumb = _thumbnail(video)
    if thumb is not None and (inside := _inside(root, thumb)):
        found["thumbnail"] = inside
    return found


def _ass(
    db: DbDep, root: Path, segment: tuple[int, int], sources: list[Path]
) -> Path | None:
    """The danmaku ASS of a segment: beside its video or XML, else a step's output.

    The `danmaku` processor names its output after the XML (`<stem>.ass`) and
    writes it beside it unless its `output_dir` says elsewhere: the session's
    completed `danmaku` jobs then list it.
    """
    for source in sources:
        beside = _inside(root, source.with_suffix(".ass"))
        if beside is not None:
            return beside
    stems = {source.stem for source in sources}
    for output in crud_pipeline.segment_outputs(db, *segment, "danmaku"):
        path = Path(output)
        if path.suffix.lower() == ".ass" and path.stem in stems:
            inside = _inside(root, path)
            if inside is not None:
                return inside
    return None


def _ticket(
    key: str, user_id: int, session_id: int, index: int, kind: str, exp: datetime
) -> str:
    payload: dict[str, Any] = {
        "type": "media",
        "sub": str(user_id),
        "seg": [session_id, index],
        "kind": kind,
        "exp": exp,
    }
    return jwt.encode(payload, key, algorithm=JWT_ALGORITHM)


@router.post(
    "/sessions/{session_id}/segments/{index}/media", responses=NOT_FOUND_RESPONSES
)
def media_tickets(
    session_id: SessionId,
    index: SegmentIndex,
    db: DbDep,
    settings: SettingsDep,
    user: CurrentUser,
) -> MediaTickets:
    """Tickets to play a segment in the browser (and read its danmu, thumbnail)."""
    files = _files(db, settings.recordings_path, session_id, index)
    assert user.id is not None
    expires = datetime.now(UTC) + TICKET_TTL

    def url(kind: MediaKind) -> str | None:
        if kind not in files:
            return None
        token = _ticket(
            settings.jwt_key, user.id or 0, session_id, index, kind, expires
        )
        return f"/api/media/{token}"

    video = url("video")
    assert video is not None
    return MediaTickets(
        video_url=video,
        content_type=_TYPES.get(
            files["video"].suffix.lower(), "application/octet-stream"
        ),
        danmu_url=url("danmu"),
        ass_url=url("ass"),
        thumbnail_url=url("thumbnail"),
        expires_at=expires,
    )


@public_router.get(
    "/media/{ticket}",
    responses={
        200: {"description": "The file (range requests allowed)"},
        404: {"description": "Invalid or expired ticket, or no such file"},
    },
    response_class=FileResponse,
)
def media_file(
    ticket: Annotated[str, PathParam(max_length=2048)],
    db: DbDep,
    settings: SettingsDep,
) -> FileResponse:
    """One segment file by the ticket `POST .../media` gave."""
    try:
        claims = jwt.decode(
            ticket,
            settings.jwt_key,
            algorithms=[JWT_ALGORITHM],
            options={"require": ["exp", "sub", "type", "seg", "kind"]},
        )
        if claims["type"] != "media":
            raise ValueError("not a media ticket")
        session_id, index = (int(v) for v in claims["seg"])
        kind: MediaKind = claims["kind"]
    except (jwt.PyJWTError, ValueError, TypeError) as err:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, "invalid or expired ticket"
        ) from err
    path = _files(db, settings.recordings_path, session_id, index).get(kind)
    if path is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such file")
    media_type = _TYPES.get(path.suffix.lower()) or mimetypes.guess_type(path.name)[0]
    return FileResponse(path, media_type=media_type or "application/octet-stream")
