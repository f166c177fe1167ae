"""The native HTTP-FLV engine and its repair stages (also behind `srec flv fix`).

`tags` parses and encodes FLV tags, `amf` AMF0 values, `repair` the pure rule set
(timestamps, headers, file breaks), `meta` the onMetaData with its keyframe index,
`writer` one output file, `recording` one recording's repair and files across its
connections, `engine` the HTTP engine, `fix` the offline repair.
"""

from activities.engines.flv.engine import FlvEngine

__all__ = ["FlvEngine"]
