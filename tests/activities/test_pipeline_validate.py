"""The validator on its own, the seeded presets, and the pipeline contracts."""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING

import pydantic
import pytest
from sqlmodel import Session
from temporalio.contrib.pydantic import pydantic_data_converter

from activities import pipeline_contracts
from activities.db import crud_pipeline, make_engine, migrate
from activities.pipeline_contracts import PipelineSpec, StepPresetBody
from activities.pipeline_validate import (
    PipelineInvalidError,
    check_pipeline,
    resolve_pipeline,
)

if TYPE_CHECKING:
    from pathlib import Path


def test_every_seeded_pipeline_preset_validates(tmp_path: Path, db_url: str) -> None:
    engine = make_engine(db_url)
    migrate(engine)
    with Session(engine) as db:
        steps = crud_pipeline.step_presets(db)
        pipelines, total = crud_pipeline.list_presets(db, "pipeline")
    engine.dispose()
    assert total >= 6
    for row in pipelines:
        spec = PipelineSpec.model_validate(row.body)
        resolved, problems = check_pipeline(spec, root=tmp_path, step_presets=steps)
        assert problems == [], row.name
        assert len(resolved) == len(spec.steps)


def test_a_step_config_merges_over_its_preset(tmp_path: Path) -> None:
    presets = {"mkv": StepPresetBody(processor="remux", config={"format": "mkv"})}
    spec = PipelineSpec.model_validate(
        {"steps": [{"id": "r", "preset": "mkv", "config": {"remove_input": False}}]}
    )
    (step,) = resolve_pipeline(spec, root=tmp_path, step_presets=presets)
    assert step.config == {"format": "mkv", "remove_input": False}


def test_errors_say_where(tmp_path: Path) -> None:
    spec = PipelineSpec.model_validate(
        {
            "steps": [
                {
                    "id": "t",
                    "processor": "thumbnail",
                    "config": {"width": 1, "nope": 1},
                },
                {"id": "o", "processor": "copy", "config": {"output_dir": "{nope}"}},
            ]
        }
    )
    with pytest.raises(PipelineInvalidError) as caught:
        resolve_pipeline(spec, root=tmp_path, step_presets={})
    fields = sorted((p.step, p.field) for p in caught.value.problems)
    assert fields == [("o", "output_dir"), ("t", "nope"), ("t", "width")]
    assert "t.width: Input should be greater than or equal to 16" in str(caught.value)


MODELS = [
    obj
    for _, obj in inspect.getmembers(pipeline_contracts, inspect.isclass)
    if issubclass(obj, pydantic.BaseModel)
    and obj.__module__ == pipeline_contracts.__name__
]
STEP: dict[str, object] = {"id": "a", "processor": "remux", "queue": "cpu"}
SAMPLES: dict[str, dict[str, object]] = {
    "StepSpec": {"id": "a", "processor": "remux", "config": {"crf": 2}},
    "PipelineSpec": {"steps": [{"id": "a", "preset": "p"}]},
    "StepPresetBody": {"processor": "remux"},
    "PipelineProblem": {"step": "a", "message": "m"},
    "ResolvedStep": STEP,
    "PipelineInput": {
        "kind": "seg",
        "steps": [STEP],
        "carried": {"a": {"files": ["/f"]}},
    },
    "PipelineGraph": {"workflow_id": "w", "steps": [{"id": "a", "processor": "x"}]},
    "StepView": {"id": "a", "processor": "x"},
    "BeginRunInput": {"workflow_id": "w", "pipeline": {"kind": "seg", "steps": [STEP]}},
    "BeginRunResult": {"run_id": 1, "job_ids": {"a": 2}},
    "RunStepInput": {"workflow_id": "w", "job_id": 1, "step": STEP},
    "StepMark": {"step_id": "a", "status": "FAILED", "error": "e"},
    "MarkStepsInput": {"run_id": 1, "marks": [{"step_id": "a", "status": "CANCELLED"}]},
    "FinishRunInput": {"run_id": 1, "status": "COMPLETED"},
}


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_contracts_survive_the_data_converter(model: type[pydantic.BaseModel]) -> None:
    value = model.model_validate(SAMPLES.get(model.__name__, {}))
    (payload,) = pydantic_data_converter.payload_converter.to_payloads([value])
    (back,) = pydantic_data_converter.payload_converter.from_payloads(
        [payload], [model]
    )
    assert back == value
