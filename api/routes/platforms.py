"""`/api/parse`: ask a URL's platform before adding it as a streamer.

`POST /api/parse` names the platform and the streamer reference the URL holds,
and asks the platform now: live status, title, streams on offer (without URLs).
`POST /api/parse/resolve` adds the playable URLs, the one `selection` ranks first
leading. Only the platform's defaults are used (no stored cookies or tokens).
A URL nothing handles is a 422; an answer srec cannot read is a 502.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, HTTPException, status

from activities.errors import ExtractorError, UnsupportedUrlError
from api.deps import Platforms, PlatformsDep
from api.params import BODY_RESPONSES, UPSTREAM_RESPONSES
from api.schemas import (
    ChannelPublic,
    ParseRequest,
    ParseResult,
    ResolveResult,
    StatusPublic,
    StreamPublic,
)

log = logging.getLogger(__name__)

router = APIRouter(prefix="/parse", tags=["platforms"])


async def _probe(platforms: Platforms, body: ParseRequest) -> ResolveResult:
    try:
        found = await platforms.registry.probe(
            body.url, platforms.http, selection=body.selection
        )
    except UnsupportedUrlError as err:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(err)) from err
    except ExtractorError as err:
        log.warning("parse %s: %s", body.url, err)
        raise HTTPException(status.HTTP_502_BAD_GATEWAY, str(err)) from err
    live = found.status
    outcome = live.result
    streams = list(live.streams)
    if live.source is not None:
        # the picked stream first; the rest in the platform's order
        picked = [s for s in streams if s.url == live.source.url][:1]
        streams = picked + [s for s in streams if s not in picked]
    return ResolveResult(
        channel=ChannelPublic(
            url=found.channel.url,
            platform=found.channel.platform,
            extractor=found.extractor,
            matcher=found.channel.matcher,
            reference=found.channel.reference,
        ),
        status=StatusPublic(
            outcome=outcome,
            fatal=outcome.fatal,
            **live.model_dump(
                include={
                    "detail",
                    "retry_after_secs",
                    "title",
                    "author",
                    "category",
                    "avatar_url",
                    "cover_url",
                    "viewers",
                    "started_at",
                }
            ),
        ),
        streams=streams,
    )


@router.post("", responses=BODY_RESPONSES | UPSTREAM_RESPONSES)
async def parse(body: ParseRequest, platforms: PlatformsDep) -> ParseResult:
    """Platform, streamer reference, live status and the streams on offer."""
    found = await _probe(platforms, body)
    return ParseResult(
        channel=found.channel,
        status=found.status,
        streams=[
            StreamPublic.model_validate(s.model_dump(exclude={"url", "headers"}))
            for s in found.streams
        ],
    )


@router.post("/resolve", responses=BODY_RESPONSES | UPSTREAM_RESPONSES)
async def resolve(body: ParseRequest, platforms: PlatformsDep) -> ResolveResult:
    """Playable URLs (with the headers they need), the best by `selection` first."""
    return await _probe(platforms, body)
