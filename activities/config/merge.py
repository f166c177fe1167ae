"""The one merge of configuration levels: pure, so every process computes the same.

Levels apply lowest first: the built-in defaults (`RecordingPolicy`), global,
platform, template, streamer. The rules:

* a field the most specific level sets wins (a falsy value is set too; None, or
  absent, inherits);
* `selection` and `record_retry` merge field by field, and the CDN blacklists of
  every level are joined (a CDN one level bans stays banned);
* pipelines replace whole: a level's pipeline is never mixed with another's;
* platform options merge shallowly (None is ignored). The options the platform's
  model declares secret (cookies, tokens, passwords) are credentials: they resolve
  the same way (most specific level that sets one, even to "") but are kept apart,
  wrapped in `SecretStr`, never part of the policy, and shown by the level that set
  them only.

The result says, for every field (nested ones dotted: `selection.qualities`), which
level it came from; a joined blacklist names the most specific level that added to
it.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from pydantic import SecretStr

from activities.config.fields import NESTED, UNIONS
from activities.contracts import RecordingPolicy

__all__ = ["Effective", "Level", "LevelValues", "merge"]


class Level(StrEnum):
    """Where a value comes from, least specific first."""

    DEFAULT = "default"
    GLOBAL = "global"
    PLATFORM = "platform"
    TEMPLATE = "template"
    STREAMER = "streamer"


@dataclass(frozen=True)
class LevelValues:
    """What one level sets.

    Attributes:
        level: which level.
        settings: its validated fields (`fields.validate_overrides`).
        options: its platform options, as stored (JSON); the global level has none.
    """

    level: Level
    settings: Mapping[str, Any] = field(default_factory=dict)
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Effective:
    """A streamer's effective configuration.

    Attributes:
        policy: every field, merged.
        sources: field (dotted for nested ones) -> the level it came from.
        extras: the platform options that are not secret, merged.
        extra_sources: option -> level.
        credentials: the secret options, merged; `SecretStr` so they print masked.
        credential_sources: secret option -> the level that set it.
    """

    policy: RecordingPolicy
    sources: dict[str, Level]
    extras: dict[str, Any] = field(default_factory=dict)
    extra_sources: dict[str, Level] = field(default_factory=dict)
    credentials: dict[str, SecretStr] = field(default_factory=dict, repr=False)
    credential_sources: dict[str, Level] = field(default_factory=dict)

    def options(self) -> dict[str, Any]:
        """Every platform option, credentials in clear: for the options model only."""
        secrets = {k: v.get_secret_value() for k, v in self.credentials.items()}
        return self.extras | secrets


def _join(old: Sequence[Any], new: Sequence[Any]) -> list[Any]:
    return list(dict.fromkeys([*old, *new]))


def _default_sources() -> dict[str, Level]:
    sources: dict[str, Level] = {}
    for name in RecordingPolicy.model_fields:
        nested = NESTED.get(name)
        if nested is None:
            sources[name] = Level.DEFAULT
        else:
            sources |= {f"{name}.{sub}": Level.DEFAULT for sub in nested.model_fields}
    return sources


def merge(levels: Sequence[LevelValues], secrets: Collection[str] = ()) -> Effective:
    """Merge levels over the built-in defaults (see the module docstring).

    Args:
        levels: the levels in increasing precedence (global, platform, template,
            streamer; any may be missing).
        secrets: names of the platform options that are credentials.

    Returns:
        The effective configuration and where each value came from.
    """
    values: dict[str, Any] = RecordingPolicy().model_dump(mode="json")
    sources = _default_sources()
    extras: dict[str, Any] = {}
    extra_sources: dict[str, Level] = {}
    credentials: dict[str, SecretStr] = {}
    credential_sources: dict[str, Level] = {}
    for lv in levels:
        for key, value in lv.settings.items():
            if value is None or key not in values:
                continue
            if key in NESTED and isinstance(value, Mapping):
                joined = UNIONS.get(key, frozenset())
                for sub, sub_value in value.items():
                    if sub_value is None or sub not in values[key]:
                        continue
                    old = values[key][sub]
                    values[key][sub] = (
                        _join(old, sub_value) if sub in joined else sub_value
                    )
                    sources[f"{key}.{sub}"] = lv.level
            else:
                values[key] = value
                sources[key] = lv.level
        for key, value in lv.options.items():
            if value is None:
                continue
            if key in secrets:
                credentials[key] = SecretStr(str(value))
                credential_sources[key] = lv.level
            else:
                extras[key] = value
                extra_sources[key] = lv.level
    return Effective(
        policy=RecordingPolicy.model_validate(values),
        sources=sources,
        extras=extras,
        extra_sources=extra_sources,
        credentials=credentials,
        credential_sources=credential_sources,
    )
