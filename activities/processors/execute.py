"""execute: run a user command on the step's files.

The command is an argument list (a string is split like a shell would, with
`shlex`) run without a shell, so file names never become code; `shell: true` runs it
through `/bin/sh -c`, and then every placeholder value is shell-quoted. Placeholders:
`{input}` (the file; with `each_input: false`, `{inputs}` as a whole argument expands to
all of them), `{output}` (a temporary path the command writes; it is renamed to the
`output` name when the command succeeds), `{stem}`, `{dir}`, `{root}`, `{streamer}`,
`{streamer_id}`, `{platform}`, `{session_id}`, `{segment_index}`, `{title}`.

The command has its own `timeout_secs`; past it, it is stopped with the SIGINT →
SIGTERM → SIGKILL ladder and the step fails. A re-run after a crash runs the command
again: commands should be safe to repeat (write to `{output}`, which only appears
under its final name once complete).
"""

from __future__ import annotations

import asyncio
import re
import shlex
from pathlib import Path
from typing import Any

from pydantic import Field, model_validator

from activities.pipeline_contracts import Queue, StepOutput
from activities.process import ProcessGroup
from activities.processors.base import (
    PLACEHOLDERS,
    Processor,
    ProcessorConfig,
    ProcessorError,
    Progress,
    StepContext,
    check_inputs,
    output_dir,
    placeholders_in,
    template_values,
    unknown_placeholders,
    write_atomically,
)

COMMAND_PLACEHOLDERS = (
    *PLACEHOLDERS,
    "input",
    "inputs",
    "output",
    "stem",
    "dir",
    "root",
)
_KNOWN = re.compile(r"\{(" + "|".join(COMMAND_PLACEHOLDERS) + r")\}")
LOG_LINES = 50


class ExecuteConfig(ProcessorConfig):
    command: list[str] | str = Field(
        description="Program and arguments (a string is split with shlex)"
    )
    shell: bool = Field(default=False, description="Run through /bin/sh -c")
    timeout_secs: float = Field(default=3600, gt=0, le=7 * 86400)
    each_input: bool = Field(
        default=True, description="Run once per input ({input}); else once ({inputs})"
    )
    output: str | None = Field(
        default=None,
        pattern=r"^[^/\\]{1,200}$",
        description="Name of the file the command writes at {output}, e.g. "
        "{stem}.mp3; it becomes the step's output",
    )
    output_dir: str | None = Field(default=None, max_length=1024)

    @model_validator(mode="after")
    def _check(self) -> ExecuteConfig:
        parts = [self.command] if isinstance(self.command, str) else self.command
        if not parts or not any(p.strip() for p in parts):
            raise ValueError("command is empty")
        if len(parts) > 256 or any(len(p) > 4096 for p in parts):
            raise ValueError("command is too long")
        if isinstance(self.command, str) and not self.shell:
            try:
                shlex.split(self.command)
            except ValueError as err:
                raise ValueError(f"command cannot be split: {err}") from err
        if not self.shell:
            for part in parts:
                if bad := unknown_placeholders(part, COMMAND_PLACEHOLDERS):
                    raise ValueError(f"unknown placeholders in command: {bad}")
        used = {name for p in parts for name in placeholders_in(p)}
        if "output" in used and self.output is None:
            raise ValueError("the command uses {output}: name it with `output`")
        if self.each_input and "inputs" in used:
            raise ValueError("{inputs} needs each_input: false")
        if self.output is not None:
            if bad := unknown_placeholders(self.output, ("stem", *PLACEHOLDERS)):
                raise ValueError(f"unknown placeholders in output: {bad}")
        return self


def fill(text: str, values: dict[str, str], *, quote: bool) -> str:
    """Replace known placeholders; others (`${HOME}` in a shell line) stay."""
    return _KNOWN.sub(
        lambda m: shlex.quote(values[m.group(1)]) if quote else values[m.group(1)], text
    )


def build_argv(
    cfg: ExecuteConfig, values: dict[str, str], inputs: list[str]
) -> list[str]:
    """The argv to run for one invocation."""
    if cfg.shell:
        line = cfg.command if isinstance(cfg.command, str) else shlex.join(cfg.command)
        vals = values | {"inputs": " ".join(shlex.quote(i) for i in inputs)}
        return ["/bin/sh", "-c", fill(line, vals, quote=True)]
    parts = shlex.split(cfg.command) if isinstance(cfg.command, str) else cfg.command
    argv: list[str] = []
    for part in parts:
        if part == "{inputs}":
            argv.extend(inputs)
        else:
            argv.append(fill(part, values | {"inputs": " ".join(inputs)}, quote=False))
    return argv


class Execute(Processor[ExecuteConfig]):
    name = "execute"
    queue = Queue.CPU
    config_model = ExecuteConfig

    async def run(
        self,
        inputs: list[Path],
        config: ExecuteConfig,
        ctx: StepContext,
        progress: Progress,
    ) -> StepOutput:
        check_inputs(inputs)
        base = template_values(ctx.context, for_path=False) | {"root": str(ctx.root)}
        groups = [[p] for p in inputs] if config.each_input else [inputs]
        if not inputs:
            groups = [[]]
        outputs: list[str] = []
        for n, group in enumerate(groups):
            first = group[0] if group else None
            values = base | {
                "input": str(first) if first else "",
                "stem": first.stem if first else "",
                "dir": str(first.parent) if first else str(ctx.root),
                "output": "",
            }
            if config.output is None:
                await self._invoke(
                    ctx, config, build_argv(config, values, [str(p) for p in group])
                )
                outputs.extend(str(p) for p in group)
            else:
                name = fill(config.output, base | {"stem": values["stem"]}, quote=False)
                default = first.parent if first else ctx.root
                final = output_dir(ctx, config.output_dir, default) / Path(name).name

                async def produce(
                    temp: Path,
                    values: dict[str, Any] = values,
                    group: list[Path] = group,
                ) -> None:
                    argv = build_argv(
                        config, values | {"output": str(temp)}, [str(p) for p in group]
                    )
                    await self._invoke(ctx, config, argv)

                await write_atomically(final, ctx.attempt, produce)
                outputs.append(str(final))
            progress((n + 1) / len(groups), f"{n + 1} of {len(groups)} done")
        return StepOutput(files=outputs)

    async def _invoke(
        self, ctx: StepContext, cfg: ExecuteConfig, argv: list[str]
    ) -> None:
        async with ProcessGroup(ctx.stop) as group:
            child = await group.spawn("command", argv)
            lines: list[str] = []

            async def read() -> None:
                while raw := await child.stdout.readline():
                    lines.append(raw.decode(errors="replace").rstrip())
                    del lines[:-LOG_LINES]

            reader = asyncio.ensure_future(read())
            try:
                code = await asyncio.wait_for(child.exited(), cfg.timeout_secs)
            except TimeoutError as err:
                await group.stop()
                raise ProcessorError(
                    f"{Path(argv[0]).name} did not finish within {cfg.timeout_secs:g} s"
                ) from err
            finally:
                await asyncio.wait([reader], timeout=2)
                reader.cancel()
            await child.wait()
            ctx.log.extend(lines)
            ctx.log.extend(child.tail)
            if code != 0:
                raise ProcessorError(child.describe())
