"""Pipeline processors: one module each, behind `base.Processor`.

`PROCESSORS` maps each processor's name to an instance; the validator, the step
activity and the API read it. A new processor is a module here and a line below.
"""

from __future__ import annotations

from typing import Any

from activities.processors.archive import Archive
from activities.processors.audio import Audio
from activities.processors.base import (
    InputMissingError,
    Processor,
    ProcessorConfig,
    ProcessorConfigError,
    ProcessorError,
    Progress,
    StepContext,
    Tools,
    UploadLedger,
)
from activities.processors.burn import Burn
from activities.processors.copy import Copy
from activities.processors.danmaku import Danmaku
from activities.processors.delete import Delete
from activities.processors.execute import Execute
from activities.processors.metadata import Metadata
from activities.processors.remux import Remux
from activities.processors.thumbnail import Thumbnail
from activities.processors.upload import Upload

Registry = dict[str, Processor[Any]]

PROCESSORS: Registry = {
    p.name: p
    for p in (
        Remux(),
        Thumbnail(),
        Audio(),
        Archive(),
        Danmaku(),
        Burn(),
        Metadata(),
        Execute(),
        Upload(),
        Copy(),
        Delete(),
    )
}

__all__ = [
    "PROCESSORS",
    "InputMissingError",
    "Processor",
    "ProcessorConfig",
    "ProcessorConfigError",
    "ProcessorError",
    "Progress",
    "Registry",
    "StepContext",
    "Tools",
    "UploadLedger",
]
