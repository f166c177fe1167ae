"""`srec probe URL`: what srec can tell about a URL, without adding it.

The same answer as `POST /api/parse`: the platform and the streamer reference the
URL holds, the live status with its title, streamer, category and viewers, and the
streams on offer (the one srec would record marked `*`). `--resolve` adds their
URLs, as `POST /api/parse/resolve` does; `--json` prints one JSON object.

Exit codes: 0 live, 1 not live (or the platform could not be asked), 2 a URL
nothing handles.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from activities.platforms import Probe

log = logging.getLogger("srec.probe")

EXIT_LIVE = 0
EXIT_NOT_LIVE = 1
EXIT_USAGE = 2


def add_parser(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Register `srec probe` on the `srec` command line."""
    p = subparsers.add_parser(
        "probe",
        help="show a URL's platform, live status and streams",
        description="Ask the URL's platform now: platform, reference, status, "
        "title, streams. Exit 0 when live, 1 when not, 2 for a URL nothing handles.",
    )
    p.add_argument("url", help="channel or stream URL")
    p.add_argument("--resolve", action="store_true", help="also print stream URLs")
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")
    p.add_argument(
        "--streamlink",
        action="store_true",
        help="ask streamlink's plugin even where srec has its own module",
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Handler of `srec probe`: returns the exit code."""
    return asyncio.run(_probe(args, sys.stdout))


async def _probe(args: argparse.Namespace, out: TextIO) -> int:
    from activities.contracts import ExtractorChoice
    from activities.engines.network import network_access
    from activities.errors import ExtractorError, UnsupportedUrlError
    from activities.platforms import default_registry
    from worker.http_client import HttpSettings, build_http

    registry = default_registry()
    url = args.url.strip()
    choice = ExtractorChoice.STREAMLINK if args.streamlink else None
    async with build_http(
        network_access(), host_map=HttpSettings().host_routes
    ) as http:
        try:
            found = await registry.probe(url, http, choice=choice)
        except UnsupportedUrlError as err:
            log.error("%s", err)
            return EXIT_USAGE
        except ExtractorError as err:
            log.error("could not read the platform's answer: %s", err)
            return EXIT_NOT_LIVE
    if args.json:
        out.write(json.dumps(as_json(found, resolve=args.resolve), ensure_ascii=False))
        out.write("\n")
    else:
        out.write(as_text(found, resolve=args.resolve))
    return EXIT_LIVE if found.status.is_live else EXIT_NOT_LIVE


def as_json(found: Probe, *, resolve: bool) -> dict[str, Any]:
    """The probe as `POST /api/parse` (or `/resolve`) shapes it."""
    status = found.status
    hidden = set() if resolve else {"url", "headers"}
    return {
        "channel": {
            "url": found.channel.url,
            "platform": found.channel.platform,
            "extractor": found.extractor,
            "matcher": found.channel.matcher,
            "reference": found.channel.reference,
        },
        "status": {
            "outcome": status.result.value,
            "fatal": status.result.fatal,
            **status.model_dump(
                mode="json", exclude={"is_live", "outcome", "source", "streams"}
            ),
        },
        "streams": [s.model_dump(mode="json", exclude=hidden) for s in status.streams],
    }


def as_text(found: Probe, *, resolve: bool) -> str:
    """The probe for people."""
    status = found.status
    channel = found.channel
    via = "" if found.extractor == channel.platform else f", via {found.extractor}"
    lines = [
        f"platform  {channel.platform} ({channel.matcher}, reference "
        f"{channel.reference or '-'}{via})",
        f"status    {status.result.value}"
        + (f": {status.detail}" if status.detail else ""),
    ]
    for label, value in (
        ("title", status.title),
        ("author", status.author),
        ("category", status.category),
        ("viewers", status.viewers),
        ("started", status.started_at and status.started_at.isoformat()),
    ):
        if value not in (None, ""):
            lines.append(f"{label:<9} {value}")
    if status.streams:
        lines.append("streams")
    picked = status.source.url if status.source else None
    for stream in status.streams:
        mark = "*" if stream.url == picked else " "
        parts = [stream.kind.value, stream.quality, stream.codec, stream.cdn]
        if stream.bitrate_bps:
            parts.append(f"{stream.bitrate_bps // 1000} kb/s")
        lines.append(f"  {mark} " + "  ".join(p for p in parts if p))
        if resolve:
            lines.append(f"      {stream.url}")
    return "\n".join(lines) + "\n"
