"""The pipelines of a configuration level, checked as every writer must before saving.

`OVERRIDES` checks a pipeline's shape; whether its processors and presets exist and
its settings are sound needs the processors and the stored step presets
(`activities.pipeline_validate.check_pipeline`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from activities.config.fields import PIPELINES
from activities.pipeline_contracts import PipelineSpec
from activities.pipeline_validate import check_pipeline

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

    from activities.pipeline_contracts import StepPresetBody

__all__ = ["pipeline_problems"]


def pipeline_problems(
    settings: Mapping[str, Any],
    *,
    root: Path,
    step_presets: Mapping[str, StepPresetBody],
) -> list[dict[str, Any]]:
    """Every problem of the pipelines a level sets, in FastAPI's error shape.

    Args:
        settings: the level's validated fields.
        root: the recordings root output folders must stay inside.
        step_presets: the stored step presets by name.

    Returns:
        `{"loc": [field, step, setting], "msg": ..., "type": "pipeline"}` per
        problem; empty when every pipeline is valid.
    """
    found: list[dict[str, Any]] = []
    for name in PIPELINES:
        body = settings.get(name)
        if body is None:
            continue
        spec = PipelineSpec.model_validate(body)
        _, problems = check_pipeline(spec, root=root, step_presets=step_presets)
        found += [
            {
                "loc": [name, *(x for x in (p.step, p.field) if x)],
                "msg": p.message,
                "type": "pipeline",
            }
            for p in problems
        ]
    return found
