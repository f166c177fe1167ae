"""What the API's schema modules share: a configuration level's model.

`ConfigOverrides` is `activities.config.OVERRIDES`, the model derived from the
configuration's field list (every field optional). It is built at run time, so
mypy sees a plain model here; FastAPI, which reads the annotations at run time,
sees every field, its bounds and description, and puts them in the OpenAPI spec.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from activities.config import OVERRIDES

__all__ = ["ConfigOverrides"]

if TYPE_CHECKING:
    from pydantic import BaseModel

    class ConfigOverrides(BaseModel):
        """The fields one configuration level sets (see the module docstring)."""

else:
    ConfigOverrides = OVERRIDES
