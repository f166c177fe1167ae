"""Export every configuration level and the streamers as one document, and import it.

An import is checked whole first (every field, pipeline, platform, option, URL,
template reference and duplicate), every problem collected into one 422 that names
each; only then is it written, in one transaction. Credentials are left out of an
export unless asked for; an import keeps the stored credentials it does not carry.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from fastapi import HTTPException, status

from activities.config import parse_stored
from activities.db import crud, crud_config
from activities.errors import UnsupportedUrlError
from api.config_rows import checked_options, new_settings, secrets_of, unprocessable
from api.errors import ConflictError
from api.schemas_config import ConfigDocument, ImportResult

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from pathlib import Path

    from sqlmodel import Session

    from activities.platforms import PlatformRegistry

__all__ = ["export_document", "import_document"]

P = ParamSpec("P")
R = TypeVar("R")


def _without_secrets(
    registry: PlatformRegistry, platform: str, options: Mapping[str, Any], keep: bool
) -> dict[str, Any]:
    if keep:
        return dict(options)
    secrets = secrets_of(registry, platform)
    return {k: v for k, v in options.items() if k not in secrets}


def export_document(
    db: Session, registry: PlatformRegistry, *, include_secrets: bool
) -> ConfigDocument:
    """Every level and streamer; credentials only when `include_secrets`."""
    templates, _ = crud_config.list_templates(db)
    names = {t.id: t.name for t in templates}
    streamers, _ = crud.list_streamers(db)

    def options(platform: str, stored: Mapping[str, Any]) -> dict[str, Any]:
        return _without_secrets(registry, platform, stored, include_secrets)

    document: dict[str, Any] = {
        "secrets": include_secrets,
        "global": parse_stored(crud_config.get_global(db).settings),
        "platforms": {
            name: {
                "settings": parse_stored(row.settings),
                "platform_options": options(name, row.options),
            }
            for name, row in sorted(crud_config.list_platforms(db).items())
        },
        "templates": [
            {
                "name": t.name,
                "description": t.description,
                "settings": parse_stored(t.settings),
                "platform_options": {
                    platform: options(platform, stored)
                    for platform, stored in t.platform_options.items()
                    if isinstance(stored, dict)
                },
            }
            for t in templates
        ],
        "streamers": [
            {
                "name": s.name,
                "url": s.url,
                "enabled": s.enabled,
                "template": names.get(s.template_id) if s.template_id else None,
                "settings": parse_stored(s.settings),
                "platform_options": options(s.platform, s.platform_options),
            }
            for s in streamers
        ],
    }
    return ConfigDocument.model_validate(document)


class _Problems:
    """Collects the 422 problems of a whole document."""

    def __init__(self) -> None:
        self.found: list[dict[str, Any]] = []

    def run(self, check: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R | None:
        """`check(*args, **kwargs)`; its 422 is collected (None returned)."""
        try:
            return check(*args, **kwargs)
        except HTTPException as err:
            if err.status_code != status.HTTP_422_UNPROCESSABLE_CONTENT:
                raise
            detail = err.detail
            if isinstance(detail, list):
                self.found += detail
            else:
                self.found.append(
                    {"loc": ["body"], "msg": str(detail), "type": "value"}
                )
            return None

    def add(self, loc: list[Any], msg: str, kind: str = "value_error") -> None:
        self.found.append({"loc": ["body", *loc], "msg": msg, "type": kind})


def _settings(
    db: Session, root: Path, model: Any, loc: tuple[str | int, ...]
) -> dict[str, Any]:
    return new_settings(db, root, model.model_dump(mode="json", exclude_none=True), loc)


def import_document(
    db: Session, registry: PlatformRegistry, root: Path, doc: ConfigDocument
) -> tuple[ImportResult, list[int], list[int]]:
    """Check the whole document, then write it in one transaction.

    Returns:
        What was written, the ids of the streamers created (their workflows are to
        be started) and the ids of every streamer the change reaches.

    Raises:
        HTTPException: 422 naming every problem; nothing is written.
        ConflictError: a streamer's name is another's (nothing is written).
    """
    problems = _Problems()
    known = {e.platform for e in registry.extractors}
    global_settings = problems.run(
        _settings, db, root, doc.global_settings, ("global",)
    )
    platforms: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}
    for name, level in doc.platforms.items():
        loc = ("platforms", name)
        if name not in known:
            problems.add(list(loc), f"no platform named {name!r}", "platform")
            continue
        stored = crud_config.get_platform(db, name)
        fields = problems.run(_settings, db, root, level.settings, (*loc, "settings"))
        options = problems.run(
            checked_options,
            registry,
            name,
            stored.options if stored else {},
            level.platform_options,
            replace=True,
            loc=(*loc, "platform_options"),
        )
        platforms[name] = (fields or {}, options or {})
    templates = _templates(db, registry, root, doc, problems, known)
    streamers = _streamers(db, registry, root, doc, problems, templates)
    if problems.found:
        raise unprocessable(problems.found)
    try:
        done = crud_config.apply_import(
            db,
            global_settings=global_settings or {},
            platforms=platforms,
            templates=templates,
            streamers=streamers,
        )
    except crud_config.ImportConflictError as err:
        raise ConflictError(f"the import conflicts with the database: {err}") from err
    result = ImportResult(
        platforms=len(platforms),
        templates_created=done.templates_created,
        templates_updated=done.templates_updated,
        streamers_created=len(done.streamers_created),
        streamers_updated=len(done.streamers_updated),
    )
    return result, done.streamers_created, crud_config.streamer_ids(db)


def _templates(
    db: Session,
    registry: PlatformRegistry,
    root: Path,
    doc: ConfigDocument,
    problems: _Problems,
    known: set[str],
) -> list[crud_config.ImportedTemplate]:
    out: list[crud_config.ImportedTemplate] = []
    seen: set[str] = set()
    for i, tpl in enumerate(doc.templates):
        loc = ("templates", i)
        if tpl.name in seen:
            problems.add([*loc, "name"], f"template {tpl.name!r} appears twice")
        seen.add(tpl.name)
        fields = problems.run(_settings, db, root, tpl.settings, (*loc, "settings"))
        stored = crud_config.get_template_by_name(db, tpl.name)
        options: dict[str, Any] = {}
        for platform, sent in tpl.platform_options.items():
            where = (*loc, "platform_options", platform)
            if platform not in known:
                problems.add(list(where), f"no platform named {platform!r}", "platform")
                continue
            before = stored.platform_options.get(platform) if stored else None
            options[platform] = problems.run(
                checked_options,
                registry,
                platform,
                before if isinstance(before, dict) else {},
                sent,
                replace=True,
                loc=where,
            )
        out.append(
            crud_config.ImportedTemplate(
                name=tpl.name,
                description=tpl.description,
                settings=fields or {},
                platform_options=options,
            )
        )
    return out


def _streamers(
    db: Session,
    registry: PlatformRegistry,
    root: Path,
    doc: ConfigDocument,
    problems: _Problems,
    templates: list[crud_config.ImportedTemplate],
) -> list[crud_config.ImportedStreamer]:
    out: list[crud_config.ImportedStreamer] = []
    names: set[str] = set()
    urls: set[str] = set()
    template_names = {t.name for t in templates}
    for i, s in enumerate(doc.streamers):
        loc = ("streamers", i)
        for value, seen, what in ((s.name, names, "name"), (s.url, urls, "url")):
            if value in seen:
                problems.add([*loc, what], f"two streamers have the {what} {value!r}")
            seen.add(value)
        try:
            channel = registry.channel(s.url)
        except UnsupportedUrlError as err:
            problems.add([*loc, "url"], str(err), "url")
            continue
        if s.template is not None and s.template not in template_names:
            if crud_config.get_template_by_name(db, s.template) is None:
                problems.add([*loc, "template"], f"no template named {s.template!r}")
        fields = problems.run(_settings, db, root, s.settings, (*loc, "settings"))
        existing = crud.get_streamer_by_url(db, s.url)
        before = existing.platform_options if existing is not None else {}
        if existing is not None and existing.platform != channel.platform:
            before = {}
        options = problems.run(
            checked_options,
            registry,
            channel.platform,
            before,
            s.platform_options,
            replace=True,
            loc=(*loc, "platform_options"),
        )
        out.append(
            crud_config.ImportedStreamer(
                name=s.name,
                url=s.url,
                platform=channel.platform,
                channel=channel.reference,
                enabled=s.enabled,
                template=s.template,
                settings=fields or {},
                platform_options=options or {},
            )
        )
    return out
