"""Offline FLV repair: `fix` an existing recording into new files, or `analyze` it.

Both run the recorder's own repair stage (`repair`) over the file, so a file
fixed offline gets exactly what a live recording gets. `analyze` writes nothing:
its report lists the files `fix` would write.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, BinaryIO

from pydantic import BaseModel, Field

from activities.engines.flv.repair import FixKind, FlvRepair
from activities.engines.flv.tags import FlvFormatError, FlvHeader, FlvParser
from activities.engines.flv.writer import FlvOutput, OutputFile, open_file

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from activities.engines.flv.writer import FileEvent

READ_SIZE = 1 << 20


class FlvInputError(ValueError):
    """The input is missing, unreadable or not an FLV file."""


class FlvOutputFile(BaseModel):
    """One file the repair wrote (or would write)."""

    path: str = Field(description="Path of the output file")
    tags: int = Field(description="Tags in the file, onMetaData and headers included")
    duration_ms: int = Field(description="Timestamp of the last media tag")


class FlvFixCount(BaseModel):
    """How often one kind of repair was needed."""

    type: FixKind = Field(description="The kind of repair")
    count: int = Field(description="How often it was applied")


class FlvFixReport(BaseModel):
    """What a fix or an analysis found."""

    outputs: list[FlvOutputFile] = Field(description="Files written, in order")
    fixes: list[FlvFixCount] = Field(description="Repairs applied, by kind")


class _Discard:
    """A file that swallows what is written to it (`analyze`)."""

    def write(self, data: bytes, /) -> int:
        return len(data)

    def seek(self, offset: int, _whence: int = 0, /) -> int:
        return offset

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


def _discard(_path: Path) -> OutputFile:
    return _Discard()


def output_path(source: Path, outdir: Path, index: int) -> Path:
    """Where `fix` writes output file `index` (from 0) of `source`."""
    return outdir / f"{source.stem}.fixed-{index + 1:03d}.flv"


def fix_flv(source: Path, outdir: Path) -> FlvFixReport:
    """Repair an FLV file into one or more files in `outdir`.

    Args:
        source: the FLV file to repair.
        outdir: directory for the output (created if missing).

    Returns:
        The files written and the repairs made.

    Raises:
        FlvInputError: `source` is missing or not FLV.
        OSError: an output file could not be written.
    """
    return _run(source, outdir, open_file)


def analyze_flv(source: Path) -> FlvFixReport:
    """Report what `fix_flv` would repair, writing nothing.

    Args:
        source: the FLV file to check.

    Returns:
        The files a fix into the source's own directory would write, and the
        repairs it would make.

    Raises:
        FlvInputError: `source` is missing or not FLV.
    """
    return _run(source, source.parent, _discard)


def _run(
    source: Path, outdir: Path, opener: Callable[[Path], OutputFile]
) -> FlvFixReport:
    try:
        stream: BinaryIO = source.open("rb")
    except OSError as err:
        raise FlvInputError(f"cannot read {source}: {err.strerror or err}") from err
    repair = FlvRepair()
    output = FlvOutput(
        lambda index: output_path(source, outdir, index),
        fixes=repair.fixes,
        opener=opener,
    )
    outputs: list[FlvOutputFile] = []
    parser = FlvParser()
    with stream:
        try:
            while chunk := stream.read(READ_SIZE):
                for item in parser.feed(chunk):
                    if isinstance(item, FlvHeader):
                        output.header = item
                        continue
                    for action in repair.feed(item):
                        events = output.apply(action)
                        outputs += _closed(events)
        except FlvFormatError as err:
            raise FlvInputError(f"{source} is not an FLV file: {err}") from err
    if parser.header is None:
        raise FlvInputError(f"{source} is not an FLV file: too short")
    if parser.pending:
        repair.fixes[FixKind.TRUNCATED] += 1
    for action in repair.flush():
        outputs += _closed(output.apply(action))
    outputs += _closed(output.close())
    return FlvFixReport(
        outputs=outputs,
        fixes=[
            FlvFixCount(type=kind, count=count)
            for kind, count in sorted(repair.fixes.items())
        ],
    )


def _closed(events: list[FileEvent]) -> list[FlvOutputFile]:
    return [
        FlvOutputFile(
            path=str(e.file.path), tags=e.file.tags, duration_ms=e.file.duration_ms
        )
        for e in events
        if e.kind == "closed"
    ]
