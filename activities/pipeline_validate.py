"""Validating a pipeline and resolving it into the steps a workflow runs.

`check_pipeline` is one pure function: a `PipelineSpec`, the step presets and the
recordings root in; the resolved steps and every problem found out, each saying
which step and which config field it is about. It reports duplicate ids, steps
that name both or neither of a processor and a preset, unknown processors and
presets, configs the processor rejects, output folders outside the recordings root
(after filling in placeholders), unknown or repeated `depends_on` entries and
cycles. The API answers 422 with the problems; the configuration levels that store
pipelines call it too.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from activities.pipeline_contracts import (
    PipelineContext,
    PipelineProblem,
    PipelineSpec,
    ResolvedStep,
    StepPresetBody,
    StepSpec,
)
from activities.pipeline_dag import find_cycle
from activities.processors import PROCESSORS, Registry
from activities.processors.base import (
    ProcessorConfigError,
    render,
    template_values,
    unknown_placeholders,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

# sample values that exercise every placeholder when a folder template is checked
_SAMPLE = template_values(
    PipelineContext(
        streamer_id=1,
        streamer="streamer",
        platform="platform",
        session_id=1,
        segment_index=0,
        title="title",
    ),
    for_path=True,
)
_SAMPLE_TIME = datetime(2000, 1, 1, tzinfo=UTC)


class PipelineInvalidError(ValueError):
    """A pipeline did not validate; `problems` says why."""

    def __init__(self, problems: list[PipelineProblem]) -> None:
        super().__init__("; ".join(_describe(p) for p in problems))
        self.problems = problems


def _describe(problem: PipelineProblem) -> str:
    where = ".".join(x for x in (problem.step, problem.field) if x)
    return f"{where}: {problem.message}" if where else problem.message


def check_pipeline(
    spec: PipelineSpec,
    *,
    root: Path,
    step_presets: Mapping[str, StepPresetBody],
    processors: Registry = PROCESSORS,
) -> tuple[list[ResolvedStep], list[PipelineProblem]]:
    """Validate `spec` and resolve its presets.

    Args:
        spec: the pipeline as written.
        root: the recordings root output folders must stay inside.
        step_presets: step presets by name.
        processors: the processor registry.

    Returns:
        The resolved steps (those that resolved) and the problems; the pipeline is
        valid when the problems are empty.
    """
    problems: list[PipelineProblem] = []
    resolved: list[ResolvedStep] = []
    seen: set[str] = set()
    for step in spec.steps:
        if step.id in seen:
            problems.append(PipelineProblem(step=step.id, message="duplicate step id"))
            continue
        seen.add(step.id)
        done = _resolve_step(step, root, step_presets, processors, problems)
        if done is not None:
            resolved.append(done)
    ids = [s.id for s in spec.steps]
    deps: dict[str, list[str]] = {}
    for step in spec.steps:
        for dep in step.depends_on:
            if dep == step.id:
                problems.append(
                    PipelineProblem(
                        step=step.id, message="a step cannot depend on itself"
                    )
                )
            elif dep not in ids:
                problems.append(
                    PipelineProblem(
                        step=step.id, message=f"depends on unknown step {dep!r}"
                    )
                )
        if len(set(step.depends_on)) != len(step.depends_on):
            problems.append(
                PipelineProblem(step=step.id, message="depends_on repeats a step")
            )
        deps.setdefault(
            step.id, [d for d in step.depends_on if d in ids and d != step.id]
        )
    cycle = find_cycle(deps)
    if cycle is not None:
        problems.append(
            PipelineProblem(step=cycle[0], message="cycle: " + " -> ".join(cycle))
        )
    return resolved, problems


def resolve_pipeline(
    spec: PipelineSpec,
    *,
    root: Path,
    step_presets: Mapping[str, StepPresetBody],
    processors: Registry = PROCESSORS,
) -> list[ResolvedStep]:
    """`check_pipeline`, raising `PipelineInvalidError` when there are problems."""
    resolved, problems = check_pipeline(
        spec, root=root, step_presets=step_presets, processors=processors
    )
    if problems:
        raise PipelineInvalidError(problems)
    return resolved


def _resolve_step(
    step: StepSpec,
    root: Path,
    presets: Mapping[str, StepPresetBody],
    processors: Registry,
    problems: list[PipelineProblem],
) -> ResolvedStep | None:
    def problem(message: str, field: str | None = None) -> None:
        problems.append(PipelineProblem(step=step.id, field=field, message=message))

    if (step.processor is None) == (step.preset is None):
        problem("name exactly one of `processor` and `preset`")
        return None
    config: dict[str, Any] = dict(step.config)
    name = step.processor
    if step.preset is not None:
        preset = presets.get(step.preset)
        if preset is None:
            known = ", ".join(sorted(presets)) or "none"
            problem(f"unknown step preset {step.preset!r} (known: {known})")
            return None
        name = preset.processor
        config = {**preset.config, **step.config}
    assert name is not None
    processor = processors.get(name)
    if processor is None:
        problem(f"unknown processor {name!r} (known: {', '.join(sorted(processors))})")
        return None
    try:
        parsed = processor.config_model.model_validate(config)
    except ValidationError as err:
        for error in err.errors(include_input=False, include_url=False):
            field = ".".join(str(x) for x in error["loc"]) or None
            problem(error["msg"].removeprefix("Value error, "), field)
        return None
    for field, template in parsed.output_dirs():
        message = folder_problem(root, template)
        if message is not None:
            problem(message, field)
    if any(p.step == step.id for p in problems):
        return None
    return ResolvedStep(
        id=step.id,
        processor=name,
        queue=processor.queue,
        config=parsed.model_dump(mode="json", exclude_unset=True),
        depends_on=list(step.depends_on),
    )


def folder_problem(root: Path, template: str) -> str | None:
    """Why an output folder template is not acceptable, or None when it is."""
    if bad := unknown_placeholders(template):
        return f"unknown placeholders {bad}"
    try:
        rendered = render(template, _SAMPLE, _SAMPLE_TIME)
    except ProcessorConfigError as err:
        return str(err)
    base = Path(os.path.abspath(root))
    full = Path(os.path.abspath(base / rendered))
    if not full.is_relative_to(base):
        return f"folder {template!r} is outside the recordings root {base}"
    return None
