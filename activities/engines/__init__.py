"""Recording engines behind one interface (see `activities.engines.base`)."""

from activities.engines.base import (
    Engine,
    OutputPlan,
    RecordingStats,
    SegmentSink,
    SegmentState,
)

__all__ = ["Engine", "OutputPlan", "RecordingStats", "SegmentSink", "SegmentState"]
