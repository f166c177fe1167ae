"""Configuration in four levels: global → platform → template → streamer.

`RecordingPolicy` (`activities.contracts`) is the one list of fields; this package
derives the rest from it and merges the levels:

* `fields`: a level's model (`OVERRIDES`: every field optional), validation, the
  tolerant reading of stored levels and partial updates;
* `merge`: the one pure merge (`merge`), which also says where each value came from
  and keeps credentials apart;
* `resolve`: a streamer's levels read from the database and merged, and the version
  the streamer workflow compares to notice a change (import it from the module: the
  package itself stays free of the database, for `srec record`);
* `pipelines`: the pipelines of a level checked against the processors and presets;
* `seed`: the global level's first values, from the `SREC_*` environment;
* `follow`: a running recording follows changes of its segment limits.
"""

from activities.config.fields import (
    FIELDS,
    NESTED,
    OVERRIDES,
    PIPELINES,
    UNIONS,
    check_proxy,
    parse_stored,
    patch_overrides,
    validate_overrides,
)
from activities.config.merge import Effective, Level, LevelValues, merge

__all__ = [
    "FIELDS",
    "NESTED",
    "OVERRIDES",
    "PIPELINES",
    "UNIONS",
    "Effective",
    "Level",
    "LevelValues",
    "check_proxy",
    "merge",
    "parse_stored",
    "patch_overrides",
    "validate_overrides",
]
