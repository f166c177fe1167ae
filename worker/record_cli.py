"""`srec record URL`: record one stream into a directory, without Temporal.

This module is the command-line surface: options, their checks and the handler.
The recording itself is `worker.standalone.record`, imported only when the command
runs, so `srec --help` stays quick.

Exit codes: 0 recorded (stopped by a signal, or the stream ended), 1 not live,
unreachable or failed while recording, 2 bad options, an unsupported URL or an
unavailable engine.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from activities.config import Level, LevelValues, merge, validate_overrides
from activities.contracts import (
    DEFAULT_FILENAME_TEMPLATE,
    DEFAULT_OUTPUT_FOLDER,
    Container,
    EngineKind,
)
from activities.contracts.policy import split_path_template
from activities.naming import join_template, validate_template

if TYPE_CHECKING:
    from worker.standalone import RecordOptions

log = logging.getLogger("srec.record")

# the exit codes of worker.standalone, repeated to keep its imports out of --help
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
TTY_PROGRESS_SECS = 1.0
PIPE_PROGRESS_SECS = 10.0

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*$", re.IGNORECASE)
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*$", re.IGNORECASE)


class UsageError(Exception):
    """An option the command cannot use; the message says why (exit 2)."""


def parse_size(text: str) -> int:
    """`1048576`, `500M`, `1.5GiB` → bytes (binary units)."""
    found = _SIZE.match(text)
    if not found:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (e.g. 500M, 2G)")
    power = " kmgt".index(found.group(2).lower() or " ")
    return int(float(found.group(1)) * 1024**power)


def parse_duration(text: str) -> float:
    """`90`, `90s`, `15m`, `2h` → seconds."""
    found = _DURATION.match(text)
    if not found:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (e.g. 90, 15m)")
    unit = {"": 1, "s": 1, "m": 60, "h": 3600}[found.group(2).lower()]
    return float(found.group(1)) * unit


def parse_header(text: str) -> tuple[str, str]:
    """`Referer: https://x` → (`Referer`, `https://x`)."""
    name, sep, value = text.partition(":")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"not a header: {text!r} (use 'Name: value')")
    return name.strip(), value.strip()


def add_parser(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Register `srec record` on the `srec` command line."""
    p = subparsers.add_parser(
        "record",
        help="record one stream to a directory, without Temporal",
        description="Record one live stream until it ends, --duration passes or "
        "Ctrl-C/SIGTERM, each of which finalises the current file. Exit 0 when "
        "recorded, 1 when not live or failed, 2 on bad options.",
    )
    p.add_argument("url", help="channel or stream URL (any supported platform)")
    p.add_argument("--out", type=Path, default=Path(), help="output root (default .)")
    p.add_argument(
        "--engine", choices=[k.value for k in EngineKind], default=None, help="recorder"
    )
    p.add_argument(
        "--container",
        choices=[c.value for c in Container],
        default=None,
        help="output container of ffmpeg/streamlink (native keeps the source's)",
    )
    p.add_argument(
        "--duration",
        type=parse_duration,
        default=None,
        metavar="S",
        help="stop after recording this long (90, 15m, 2h), finalise and exit 0",
    )
    # "max duration" reads as "record this long"; the split names say what they do
    p.add_argument(
        "--split-duration",
        "--max-duration",
        dest="max_duration",
        type=parse_duration,
        default=None,
        metavar="S",
        help="split: start a new file after this much media (90, 15m, 2h; "
        "0 = never); the recording goes on (to stop, use --duration)",
    )
    p.add_argument(
        "--split-size",
        "--max-size",
        dest="max_size",
        type=parse_size,
        default=None,
        metavar="B",
        help="split: start a new file at this size (bytes, or 500M, 2G; "
        "0 = never); the recording goes on",
    )
    p.add_argument(
        "--min-size",
        type=parse_size,
        default=None,
        metavar="B",
        help="delete a finished file smaller than this",
    )
    p.add_argument(
        "--stream-timeout",
        type=parse_duration,
        default=None,
        metavar="S",
        help="end the recording after this long without new media; shorter stalls "
        "are recorded through (default 60)",
    )
    p.add_argument(
        "--template",
        default=join_template(DEFAULT_OUTPUT_FOLDER, DEFAULT_FILENAME_TEMPLATE),
        help="file path under --out, without extension (default: %(default)s)",
    )
    p.add_argument("--name", help="streamer name in file names (default: channel)")
    p.add_argument(
        "--header",
        type=parse_header,
        action="append",
        default=[],
        metavar="'K: V'",
        help="HTTP header for every request (repeatable)",
    )
    p.add_argument("--proxy", help="HTTP(S)/SOCKS proxy URL")
    p.add_argument(
        "--quality",
        action="append",
        default=[],
        help="preferred quality, best first (repeatable)",
    )
    p.add_argument("--json-progress", action="store_true", help="JSON lines on stdout")
    p.add_argument(
        "--progress-interval",
        type=float,
        default=None,
        metavar="S",
        help=f"seconds between progress lines (default {TTY_PROGRESS_SECS:g} on a "
        f"terminal, else {PIPE_PROGRESS_SECS:g})",
    )
    p.set_defaults(handler=run)


def _reason(err: ValidationError) -> str:
    return "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in err.errors())


def options_from(args: argparse.Namespace, *, tty: bool) -> RecordOptions:
    """Check the command line and build the options.

    Args:
        args: the parsed command line.
        tty: whether stdout is a terminal (it sets the default progress pace).

    Raises:
        UsageError: with the reason (bad template, sizes, output directory).
    """
    if args.stream_timeout is not None and args.stream_timeout <= 0:
        raise UsageError("--stream-timeout must be above 0")
    values: dict[str, Any] = {
        "engine": args.engine,
        "container": args.container,
        "max_segment_duration_secs": args.max_duration,
        "max_segment_size_bytes": args.max_size,
        "min_segment_size_bytes": args.min_size,
        "stream_timeout_secs": args.stream_timeout,
        "selection": {"qualities": args.quality} if args.quality else None,
    }
    try:
        # one path here; the configuration keeps folder and file name apart
        validate_template(args.template)
        values |= split_path_template(args.template)
        settings = validate_overrides(values)
    except ValueError as err:
        reason = _reason(err) if isinstance(err, ValidationError) else str(err)
        raise UsageError(reason) from err
    if args.progress_interval is not None and args.progress_interval <= 0:
        raise UsageError("--progress-interval must be above 0")
    if args.duration is not None and args.duration <= 0:
        raise UsageError("--duration must be above 0")
    out = args.out.expanduser()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UsageError(f"cannot create the output directory {out}: {err}") from err
    from worker.standalone import RecordOptions

    return RecordOptions(
        url=args.url.strip(),
        out=out.resolve(),
        policy=merge([LevelValues(Level.STREAMER, settings)]).policy,
        name=args.name,
        headers=dict(args.header),
        proxy=args.proxy,
        duration_secs=args.duration,
        json=args.json_progress,
        progress_secs=args.progress_interval
        or (TTY_PROGRESS_SECS if tty else PIPE_PROGRESS_SECS),
    )


def run(args: argparse.Namespace) -> int:
    """Handler of `srec record`: returns the exit code."""
    tty = sys.stdout.isatty()
    try:
        options = options_from(args, tty=tty)
    except UsageError as err:
        log.error("%s", err)
        return EXIT_USAGE
    from worker.console import Console
    from worker.standalone import record

    console = Console(sys.stdout, tty=tty, json=options.json)
    try:
        return asyncio.run(record(options, console))
    except KeyboardInterrupt:
        # Ctrl-C before the recording installed its own handlers
        log.warning("interrupted")
        return EXIT_INTERRUPTED
