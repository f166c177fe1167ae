"""Presets: named steps (`/api/job/presets`), named DAGs (`/api/pipeline/presets`).

A step preset is a processor with its config; a pipeline step may name it instead of
a processor. A pipeline preset is a whole DAG. Both are validated as they are saved
(422 with the problems), and a step preset that a pipeline preset uses cannot be
deleted (409 names the pipelines).
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, status
from fastapi import Path as PathParam

from activities.contracts import MAX_ID
from activities.db import PipelinePreset, crud_pipeline
from activities.pipeline_contracts import PipelineSpec, StepSpec
from api.deps import DbDep, SettingsDep
from api.params import BODY_RESPONSES, CONFLICT_RESPONSES, NOT_FOUND_RESPONSES
from api.routes.pipeline import resolve_or_422
from api.schemas import Page
from api.schemas_pipeline import (
    PipelinePresetCreate,
    PipelinePresetUpdate,
    PresetPublic,
    StepPresetCreate,
    StepPresetUpdate,
)

step_router = APIRouter(
    prefix="/job/presets",
    tags=["presets"],
    responses=BODY_RESPONSES | NOT_FOUND_RESPONSES | CONFLICT_RESPONSES,
)
pipeline_router = APIRouter(
    prefix="/pipeline/presets",
    tags=["presets"],
    responses=BODY_RESPONSES | NOT_FOUND_RESPONSES | CONFLICT_RESPONSES,
)

Id = Annotated[int, PathParam(ge=1, le=MAX_ID)]
Limit = Annotated[int, Query(ge=1, le=500)]
Offset = Annotated[int, Query(ge=0, le=MAX_ID)]
STEP, PIPELINE = "step", "pipeline"


def _public(row: PipelinePreset) -> PresetPublic:
    return PresetPublic.model_validate(row, from_attributes=True)


def _found(db: DbDep, kind: str, preset_id: int) -> PipelinePreset:
    row = crud_pipeline.get_preset(db, kind, preset_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "preset not found")
    return row


def _unique(db: DbDep, kind: str, name: str) -> None:
    if crud_pipeline.get_preset_by_name(db, kind, name) is not None:
        raise HTTPException(status.HTTP_409_CONFLICT, "a preset has this name")


def _list(db: DbDep, kind: str, limit: int, offset: int) -> Page[PresetPublic]:
    items, total = crud_pipeline.list_presets(db, kind, limit=limit, offset=offset)
    return Page(items=[_public(r) for r in items], total=total)


# --- step presets -------------------------------------------------------------------


def _presets_named(body: dict[str, Any]) -> set[str]:
    steps = body.get("steps")
    if not isinstance(steps, list):
        return set()
    return {s["preset"] for s in steps if isinstance(s, dict) and "preset" in s}


def _check_step(
    db: DbDep, settings: SettingsDep, processor: str, config: dict[str, Any]
) -> None:
    spec = PipelineSpec(steps=[StepSpec(id="step", processor=processor, config=config)])
    resolve_or_422(db, settings.recordings_path, spec)


@step_router.get("")
def list_step_presets(
    db: DbDep, limit: Limit = 100, offset: Offset = 0
) -> Page[PresetPublic]:
    """Step presets, by name."""
    return _list(db, STEP, limit, offset)


@step_router.post("", status_code=status.HTTP_201_CREATED)
def create_step_preset(
    body: StepPresetCreate, db: DbDep, settings: SettingsDep
) -> PresetPublic:
    """Save a named processor config (422 if the config does not validate)."""
    _unique(db, STEP, body.name)
    _check_step(db, settings, body.processor, body.config)
    row = PipelinePreset(
        kind=STEP,
        name=body.name,
        description=body.description,
        body={"processor": body.processor, "config": body.config},
    )
    return _public(crud_pipeline.save_preset(db, row))


@step_router.get("/{preset_id}")
def get_step_preset(preset_id: Id, db: DbDep) -> PresetPublic:
    return _public(_found(db, STEP, preset_id))


@step_router.patch("/{preset_id}")
def update_step_preset(
    preset_id: Id, body: StepPresetUpdate, db: DbDep, settings: SettingsDep
) -> PresetPublic:
    """Change a step preset; the result must validate."""
    row = _found(db, STEP, preset_id)
    processor = body.processor or str(row.body.get("processor", ""))
    config = (
        body.config if body.config is not None else dict(row.body.get("config") or {})
    )
    _check_step(db, settings, processor, config)
    row.body = {"processor": processor, "config": config}
    if body.description is not None:
        row.description = body.description
    return _public(crud_pipeline.save_preset(db, row))


@step_router.delete("/{preset_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_step_preset(preset_id: Id, db: DbDep) -> None:
    """Delete a step preset no pipeline preset uses."""

    def delete() -> None:
        row = _found(db, STEP, preset_id)
        users = [
            p.name
            for p in crud_pipeline.list_presets(db, PIPELINE, limit=10_000)[0]
            if any(
                s.get("preset") == row.name
                for s in p.body.get("steps", [])
                if isinstance(s, dict)
            )
        ]
        if users:
            raise HTTPException(
                status.HTTP_409_CONFLICT,
                f"used by pipeline presets: {', '.join(users)}",
            )
        crud_pipeline.delete_preset(db, row)

    await asyncio.to_thread(delete)


# --- pipeline presets ---------------------------------------------------------------


@pipeline_router.get("")
def list_pipeline_presets(
    db: DbDep, limit: Limit = 100, offset: Offset = 0
) -> Page[PresetPublic]:
    """Pipeline presets, by name."""
    return _list(db, PIPELINE, limit, offset)


@pipeline_router.post("", status_code=status.HTTP_201_CREATED)
def create_pipeline_preset(
    body: PipelinePresetCreate, db: DbDep, settings: SettingsDep
) -> PresetPublic:
    """Save a named DAG (422 with the problems if it does not validate)."""
    _unique(db, PIPELINE, body.name)
    resolve_or_422(db, settings.recordings_path, body.pipeline)
    row = PipelinePreset(
        kind=PIPELINE,
        name=body.name,
        description=body.description,
        body=body.pipeline.model_dump(mode="json", exclude_unset=True),
    )
    return _public(crud_pipeline.save_preset(db, row))


@pipeline_router.get("/{preset_id}")
def get_pipeline_preset(preset_id: Id, db: DbDep) -> PresetPublic:
    return _public(_found(db, PIPELINE, preset_id))


@pipeline_router.patch("/{preset_id}")
def update_pipeline_preset(
    preset_id: Id, body: PipelinePresetUpdate, db: DbDep, settings: SettingsDep
) -> PresetPublic:
    """Change a pipeline preset; a new DAG must validate."""
    row = _found(db, PIPELINE, preset_id)
    if body.pipeline is not None:
        resolve_or_422(db, settings.recordings_path, body.pipeline)
        row.body = body.pipeline.model_dump(mode="json", exclude_unset=True)
    if body.description is not None:
        row.description = body.description
    return _public(crud_pipeline.save_preset(db, row))


@pipeline_router.delete("/{preset_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_pipeline_preset(preset_id: Id, db: DbDep) -> None:
    crud_pipeline.delete_preset(db, _found(db, PIPELINE, preset_id))
