"""archive: pack the inputs into one zip or tar.gz.

Packing runs in a thread and copies in chunks, checking between chunks whether the
step was cancelled, so a stop never waits for a whole recording to be compressed.
"""

from __future__ import annotations

import asyncio
import tarfile
import threading
import zipfile
from pathlib import Path
from typing import IO, TYPE_CHECKING, Literal

from pydantic import Field

from activities.naming import sanitize_component
from activities.pipeline_contracts import Queue, StepOutput
from activities.processors.base import (
    Processor,
    ProcessorConfig,
    ProcessorError,
    Progress,
    StepContext,
    check_inputs,
    inside,
    output_dir,
    render,
    template_values,
    write_atomically,
)

if TYPE_CHECKING:
    from collections.abc import Callable

CHUNK = 1024 * 1024
SUFFIX = {"zip": ".zip", "tar.gz": ".tar.gz"}


class ArchiveConfig(ProcessorConfig):
    format: Literal["zip", "tar.gz"] = "zip"
    name: str | None = Field(
        default=None,
        pattern=r"^[^/\\]{1,150}$",
        description="File name without extension (placeholders allowed); "
        "default: the first input's name",
    )
    level: int = Field(default=6, ge=0, le=9, description="Compression level")
    remove_inputs: bool = Field(default=False, description="Delete inputs on success")
    output_dir: str | None = Field(default=None, max_length=1024)


class _Cancelled(Exception):
    pass


class _Counter:
    """Reads a file in chunks, counting bytes and honouring a stop flag."""

    def __init__(
        self, raw: IO[bytes], tick: Callable[[int], None], stop: threading.Event
    ):
        self.raw, self.tick, self.stop = raw, tick, stop

    def read(self, size: int = CHUNK) -> bytes:
        if self.stop.is_set():
            raise _Cancelled
        data = self.raw.read(CHUNK if size is None or size < 0 else min(size, CHUNK))
        self.tick(len(data))
        return data


def pack(
    files: list[Path],
    dest: Path,
    cfg: ArchiveConfig,
    tick: Callable[[int], None],
    stop: threading.Event,
) -> None:
    """Write `files` (by their base names) into the archive `dest`."""
    if cfg.format == "zip":
        method = zipfile.ZIP_DEFLATED if cfg.level else zipfile.ZIP_STORED
        with zipfile.ZipFile(dest, "w", method, compresslevel=cfg.level or None) as zf:
            for path in files:
                with (
                    path.open("rb") as src,
                    zf.open(path.name, "w", force_zip64=True) as out,
                ):
                    reader = _Counter(src, tick, stop)
                    while chunk := reader.read():
                        out.write(chunk)
        return
    with tarfile.open(dest, "w:gz", compresslevel=cfg.level) as tf:
        for path in files:
            info = tf.gettarinfo(str(path), arcname=path.name)
            with path.open("rb") as src:
                tf.addfile(info, _Counter(src, tick, stop))


class Archive(Processor[ArchiveConfig]):
    name = "archive"
    queue = Queue.CPU
    config_model = ArchiveConfig

    async def run(
        self,
        inputs: list[Path],
        config: ArchiveConfig,
        ctx: StepContext,
        progress: Progress,
    ) -> StepOutput:
        if not inputs:
            return StepOutput()
        check_inputs(inputs)
        if config.remove_inputs:
            for path in inputs:
                inside(ctx.root, path)
        names = [p.name for p in inputs]
        if len(set(names)) != len(names):
            raise ProcessorError(
                "two inputs have the same file name; an archive keeps base names only"
            )
        stem = inputs[0].stem
        if config.name is not None:
            stem = sanitize_component(
                render(
                    config.name,
                    template_values(ctx.context, for_path=True),
                    ctx.started,
                )
            )
        final = output_dir(ctx, config.output_dir, inputs[0].parent) / (
            stem + SUFFIX[config.format]
        )
        total = sum(p.stat().st_size for p in inputs) or 1
        done = 0
        stop = threading.Event()
        loop = asyncio.get_running_loop()

        def tick(n: int) -> None:
            nonlocal done
            done += n
            loop.call_soon_threadsafe(progress, min(1.0, done / total), f"{done} bytes")

        async def produce(temp: Path) -> None:
            work = asyncio.ensure_future(
                asyncio.to_thread(pack, inputs, temp, config, tick, stop)
            )
            try:
                await asyncio.shield(work)
            except asyncio.CancelledError:
                stop.set()
                # the thread stops at its next chunk; the temp file goes after it
                try:
                    await work
                except _Cancelled:
                    pass
                raise

        await write_atomically(final, ctx.attempt, produce)
        if config.remove_inputs:
            for path in inputs:
                if path != final:
                    path.unlink(missing_ok=True)
        return StepOutput(files=[str(final)])
