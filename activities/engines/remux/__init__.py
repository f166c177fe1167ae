"""Engines that run external programs: ffmpeg, and streamlink piped into ffmpeg.

`ffmpeg` and `streamlink` build the input side; `output` (with `run` for one ffmpeg
process and `files` for the files it writes) is the shared output side: `-c copy`
through ffmpeg's segment muxer, progress, splitting and stopping.
"""

from activities.engines.remux.ffmpeg import FfmpegEngine
from activities.engines.remux.streamlink import StreamlinkEngine

__all__ = ["FfmpegEngine", "StreamlinkEngine"]
