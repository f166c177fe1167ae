"""The processor interface, and what every processor shares.

A processor is one kind of pipeline step. It has a `name`, a `queue` (cpu or io), a
pydantic `config_model`, and `run(inputs, config, ctx, progress) -> StepOutput`. It
receives local files, writes new ones, and returns the files the next steps get.

Re-running a step after a crash must not duplicate its effect, so every file is
written under a temporary name next to its final one and renamed when complete
(`write_atomically`); a rename is atomic, so a file under its final name is always
whole. Uploads keep a ledger row per file (`UploadLedger`) and skip what is in it.

Processors call quick file-metadata operations (stat, rename, unlink) directly on
the event loop: microseconds on a local disk. Whatever reads or writes file contents
runs in a thread or in a subprocess.

Errors (added under `RecorderError`):

    ProcessorError           the step failed; the message is the job's error
    ├── InputMissingError    an input file is not there (non-retryable)
    └── ProcessorConfigError the config cannot work here (non-retryable)
"""

from __future__ import annotations

import os
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Generic, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict

from activities.errors import RecorderError
from activities.naming import MAX_STREAMER_BYTES, sanitize_component
from activities.pipeline_contracts import (
    ERROR_INPUT_MISSING,
    ERROR_PROCESSOR_CONFIG,
    ERROR_PROCESSOR_FAILED,
    PipelineContext,
    Queue,
    StepOutput,
)
from activities.process import StopTimeouts

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterable

TEMP_MARK = ".srec-tmp"
PLACEHOLDERS = (
    "streamer",
    "streamer_id",
    "platform",
    "session_id",
    "segment_index",
    "title",
)
_PLACEHOLDER = re.compile(r"\{(\w+)\}")
_STRFTIME = re.compile(r"%(.)")


class ProcessorError(RecorderError):
    """A step failed; `str(err)` is what the job row and the API show."""

    error_type = ERROR_PROCESSOR_FAILED

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.non_retryable = not retryable


class InputMissingError(ProcessorError):
    """An input file does not exist (deleted by hand, or never written)."""

    error_type = ERROR_INPUT_MISSING


class ProcessorConfigError(ProcessorError):
    """The config names something impossible here (a folder outside the root, …)."""

    error_type = ERROR_PROCESSOR_CONFIG


class Progress(Protocol):
    """How a processor reports progress: a fraction 0..1 (None = unknown) and a note."""

    def __call__(self, fraction: float | None, detail: str = "") -> None: ...


class UploadLedger(Protocol):
    """One row per uploaded file, so a re-run skips what is already uploaded."""

    async def uploaded(self, destination: str, size_bytes: int) -> bool:
        """Whether `destination` was uploaded with this size."""
        ...

    async def record(self, destination: str, local_path: str, size_bytes: int) -> None:
        """Remember an upload that finished."""
        ...


@dataclass(frozen=True)
class Tools:
    """External programs processors run (None: not installed)."""

    ffmpeg: Path | None = None
    rclone: Path | None = None
    rclone_config: Path | None = None


@dataclass
class StepContext:
    """Everything a processor may use besides its inputs and config.

    Attributes:
        root: the recordings root; no processor writes, moves or deletes outside it.
        context: what the trigger knows (streamer, session, segment index, ...).
        step_id: the step's id in its pipeline.
        attempt: Temporal's attempt number of this step's activity (1 = first);
            temporary file names carry it.
        trigger: the pipeline's own input files.
        tools: external programs.
        ledger: upload records.
        stop: how long a stopped program gets before the next signal.
        started: when the step started, for strftime codes in templates.
        log: lines for the job's log (kept short by the caller).
    """

    root: Path
    context: PipelineContext
    step_id: str
    attempt: int
    trigger: list[Path]
    tools: Tools
    ledger: UploadLedger
    stop: StopTimeouts = field(default_factory=StopTimeouts)
    started: datetime = field(default_factory=lambda: datetime.now(UTC))
    log: list[str] = field(default_factory=list)


class ProcessorConfig(BaseModel):
    """Base of processor configs: unknown keys are errors (typos surface at once)."""

    model_config = ConfigDict(extra="forbid")

    def output_dirs(self) -> list[tuple[str, str]]:
        """(field, template) of every folder this config writes to, for validation."""
        value = getattr(self, "output_dir", None)
        return [("output_dir", value)] if isinstance(value, str) else []


C = TypeVar("C", bound=ProcessorConfig)


class Processor(ABC, Generic[C]):
    """One kind of step. Subclasses set the class attributes and `run`.

    Attributes:
        name: the processor's name in pipelines.
        queue: cpu (ffmpeg work, rendering) or io (uploads, file moves).
        config_model: the pydantic model of its config.
        accepts: file extensions it handles (lower case, no dot); others are ignored.
            None handles every file.
    """

    name: ClassVar[str]
    queue: ClassVar[Queue]
    config_model: ClassVar[type[ProcessorConfig]]
    accepts: ClassVar[frozenset[str] | None] = None

    @abstractmethod
    async def run(
        self, inputs: list[Path], config: C, ctx: StepContext, progress: Progress
    ) -> StepOutput:
        """Process `inputs` (already filtered by `accepts`); return the outputs."""

    def wanted(self, inputs: Iterable[Path]) -> list[Path]:
        """The inputs this processor handles."""
        if self.accepts is None:
            return list(inputs)
        return [p for p in inputs if p.suffix.lower().lstrip(".") in self.accepts]


def part_of(progress: Progress, index: int, count: int) -> Progress:
    """The progress callback of item `index` of `count` (each gets an equal share)."""

    def report(fraction: float | None, detail: str = "") -> None:
        progress(None if fraction is None else (index + fraction) / count, detail)

    return report


MEDIA_EXTENSIONS = frozenset(
    {"ts", "flv", "mp4", "mkv", "m4v", "mov", "webm", "m4s", "m2ts", "avi"}
)


# --- templates and paths -------------------------------------------------------------


def placeholders_in(template: str) -> list[str]:
    """The `{name}` placeholders a template uses."""
    return _PLACEHOLDER.findall(template)


def unknown_placeholders(
    template: str, known: Iterable[str] = PLACEHOLDERS
) -> list[str]:
    """Placeholders of `template` that are not in `known`."""
    allowed = set(known)
    return [name for name in placeholders_in(template) if name not in allowed]


def template_values(ctx: PipelineContext, *, for_path: bool) -> dict[str, str]:
    """Placeholder values; for paths each is sanitised into one safe component."""
    raw = {
        "streamer": ctx.streamer or "unknown",
        "streamer_id": "" if ctx.streamer_id is None else str(ctx.streamer_id),
        "platform": ctx.platform or "unknown",
        "session_id": "" if ctx.session_id is None else str(ctx.session_id),
        "segment_index": "" if ctx.segment_index is None else str(ctx.segment_index),
        "title": ctx.title,
    }
    if not for_path:
        return raw
    return {
        k: sanitize_component(v, max_bytes=MAX_STREAMER_BYTES) for k, v in raw.items()
    }


def render(template: str, values: dict[str, str], when: datetime) -> str:
    """Fill `{name}` placeholders and strftime codes (of the template's own text).

    Raises:
        ProcessorConfigError: a placeholder has no value.
    """
    local = when.astimezone()
    pieces = _PLACEHOLDER.split(template)
    out: list[str] = []
    for position, piece in enumerate(pieces):
        if position % 2:
            if piece not in values:
                raise ProcessorConfigError(f"unknown placeholder {{{piece}}}")
            out.append(values[piece])
        else:
            out.append(_STRFTIME.sub(lambda m: local.strftime("%" + m.group(1)), piece))
    return "".join(out)


def inside(root: Path, path: Path) -> Path:
    """`path` made absolute and normalised, if it lies inside `root`.

    Raises:
        ProcessorConfigError: it lies outside.
    """
    base = Path(os.path.abspath(root))
    full = Path(os.path.abspath(base / path))
    if not full.is_relative_to(base):
        raise ProcessorConfigError(f"{full} is outside the recordings root {base}")
    return full


def output_dir(ctx: StepContext, template: str | None, default: Path) -> Path:
    """The folder to write into: `template` rendered under the root, else `default`."""
    if template is None:
        return inside(ctx.root, default)
    rendered = render(
        template, template_values(ctx.context, for_path=True), ctx.started
    )
    return inside(ctx.root, Path(rendered))


def check_inputs(paths: Iterable[Path]) -> None:
    """Raise `InputMissingError` for the first input that is not a file."""
    for path in paths:
        if not path.is_file():
            raise InputMissingError(f"input file {path} does not exist")


def finished_before(src: Path, final: Path) -> bool:
    """An earlier attempt completed `final` and removed `src`, then died unreported."""
    return not src.exists() and final.is_file()


def remove_input(src: Path, final: Path) -> None:
    """Delete a processed input, unless the output replaced it under its own name."""
    if final.absolute() != src.absolute():
        src.unlink(missing_ok=True)


def temp_for(final: Path, attempt: int) -> Path:
    """The temporary name `final` is written under by attempt `attempt`."""
    return final.with_name(f"{final.stem}{TEMP_MARK}{attempt}{final.suffix}")


def clear_temps(final: Path) -> None:
    """Remove what earlier attempts left under temporary names of `final`."""
    prefix = f"{final.stem}{TEMP_MARK}"
    try:
        siblings = list(final.parent.iterdir())
    except FileNotFoundError:
        return
    for path in siblings:
        if path.name.startswith(prefix) and path.name.endswith(final.suffix):
            path.unlink(missing_ok=True)


async def write_atomically(
    final: Path, attempt: int, produce: Callable[[Path], Awaitable[None]]
) -> Path:
    """Have `produce` write a temporary file, then rename it to `final`.

    Whatever an earlier, killed attempt left is removed first; on any failure
    (cancel included) the temporary file is removed and `final` is untouched.
    """
    final.parent.mkdir(parents=True, exist_ok=True)
    clear_temps(final)
    temp = temp_for(final, attempt)
    try:
        await produce(temp)
        if not temp.is_file():
            raise ProcessorError(f"nothing was written to {temp.name}")
        os.replace(temp, final)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return final


def require(tool: Path | None, name: str, package: str) -> Path:
    """The tool's path, or a clear error saying what to install."""
    if tool is None:
        raise ProcessorError(f"{name} is not installed (pip install {package})")
    return tool
