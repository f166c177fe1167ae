"""The FLV repair stage: parsed tags in, file boundaries and repaired tags out.

One set of rules, used by the live engine and by the offline `srec flv fix` alike.
The stage is pure (no I/O): `FlvRepair.feed` takes the next tag and returns what
the writer must do, `FlvRepair.fixes` counts what was repaired.

Tags are handled in groups, as BililiveRecorder does: a script tag, a run of
sequence headers, an end-of-sequence tag, or a *data group*, the media from one
video keyframe up to the next (audio-only streams: about a second of audio). A
group is judged once it is complete, so the writer lags the network by one GOP.

Rules, in order:

* script tags: the first usable onMetaData is kept for the files' headers, a null
  or missing one is synthesised when a file opens; other script tags are dropped;
* sequence headers: an identical repeat is dropped; a new or changed one while a
  file has media starts a new file (its decoder configuration changed);
* end of sequence: written after the last frame, then a new file starts;
* data groups: video before the first keyframe of a file is dropped; a keyframe
  group whose content equals one of the last 16 distinct groups is repeated data
  (a CDN re-sending its cache, with or without new timestamps) and is dropped,
  whatever its timestamps, as BililiveRecorder's duplicate-chunk rule does; then
  timestamps are placed on the file's timeline. `repeats_in_a_row` lets the live
  engine end a stream that only repeats itself.

Timestamps: each file starts near 0. For every track the stage remembers the last
upstream timestamp and the frame interval (from the first two frames of the last
group), so it knows when the next frame is due. A group whose first frame on any
track is off by more than `JUMP_THRESHOLD_MS` from that is a jump (forward or
back): the timeline is re-anchored so the group continues where the previous one
ended. Within a group a frame older than its track's previous one is clamped.
"""

from __future__ import annotations

import dataclasses
import hashlib
from array import array
from collections import Counter, deque
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, TypeAlias

from activities.engines.flv.meta import parse_metadata, synthesise_metadata
from activities.engines.flv.tags import TAG_AUDIO, TAG_VIDEO, FlvTag

if TYPE_CHECKING:
    from activities.engines.flv.amf import AmfEcmaArray

JUMP_THRESHOLD_MS = 50
# Inside a group, a forward gap this long on one track ends the group, so that
# the jump rule judges it.
GROUP_GAP_MS = 1000
# Audio-only groups are cut after this much media, so they are written promptly.
AUDIO_GROUP_MS = 1000
# A GOP is rarely more than a few MB; this bounds memory if keyframes never come.
MAX_GROUP_BYTES = 16 * 1024 * 1024
# Distinct groups remembered for the repeat rule (their digests, not their data).
DUPLICATE_HISTORY = 16
# Bytes from each end of a tag's body that go into a group's fingerprint.
REPLAY_SAMPLE_BYTES = 32
# (shortest, longest, fallback) frame interval per track, in ms: a measured
# interval outside the range is noise (a dropped frame) and the fallback is used.
_INTERVALS = {TAG_VIDEO: (5, 250, 33), TAG_AUDIO: (5, 150, 22)}


class FixKind(StrEnum):
    """What the repair stage changed in the stream."""

    TIMESTAMP_JUMP = "timestamp_jump"
    TIMESTAMP_BACKSTEP = "timestamp_backstep"
    DUPLICATE_HEADER = "duplicate_header"
    HEADER_CHANGED = "header_changed"
    METADATA_SYNTHESISED = "metadata_synthesised"
    REPEATED_DATA = "repeated_data"  # BililiveRecorder's RepeatingData
    FRAMES_BEFORE_KEYFRAME = "frames_before_keyframe"
    SCRIPT_DROPPED = "script_dropped"
    UNKNOWN_TAG = "unknown_tag"
    TRUNCATED = "truncated"


@dataclass(frozen=True)
class Prelude:
    """What opens every file: onMetaData properties and sequence headers.

    Attributes:
        metadata: the stream's onMetaData properties; None when it sent none.
        video_header: the current video sequence header (timestamp 0).
        audio_header: the current audio sequence header (timestamp 0).
    """

    metadata: AmfEcmaArray | None = None
    video_header: FlvTag | None = None
    audio_header: FlvTag | None = None

    def properties(self) -> AmfEcmaArray:
        """The onMetaData properties to write, synthesised when there are none."""
        if self.metadata is not None:
            return self.metadata
        return synthesise_metadata(self.video_header, self.audio_header)


@dataclass(frozen=True)
class DataGroup:
    """Media tags with repaired timestamps, to append to the current file.

    Attributes:
        tags: the tags, timestamps on the file's timeline.
        prelude: what a file opened for this group must start with.
        splittable: the group starts at a keyframe (or the stream has no video),
            so a new file may start with it.
    """

    tags: list[FlvTag]
    prelude: Prelude
    splittable: bool


@dataclass(frozen=True)
class EndTag:
    """An end-of-sequence tag to append to the current file (its timestamp fixed)."""

    tag: FlvTag


@dataclass(frozen=True)
class FileBreak:
    """The current file ends here; the next group opens a new one."""

    reason: str


RepairAction: TypeAlias = DataGroup | EndTag | FileBreak


class _Timeline:
    """Places one file's upstream timestamps on a continuous timeline from ~0."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.started = False
        self.offset = 0
        self.next_target = 0
        self.last_in: dict[int, int] = {}
        self.last_out: dict[int, int] = {}
        self.interval: dict[int, int] = {}

    def place(self, tags: list[FlvTag], fixes: Counter[FixKind]) -> list[FlvTag]:
        first = tags[0].timestamp
        if not self.started:
            # A file starts where the stream is, unless that is far from 0 (a live
            # stream joined late, an encoder restart): not a fix, just a new file.
            self.offset = first if not 0 <= first <= JUMP_THRESHOLD_MS else 0
            self.started = True
        elif self.jumps(tags):
            fixes[FixKind.TIMESTAMP_JUMP] += 1
            self.offset = first - self.next_target
        placed: list[FlvTag] = []
        firsts: dict[int, int] = {}
        seconds: dict[int, int] = {}
        for tag in tags:
            track = tag.tag_type
            ts = tag.timestamp - self.offset
            floor = self.last_out.get(track)
            if floor is not None and ts < floor:
                fixes[FixKind.TIMESTAMP_BACKSTEP] += 1
                ts = floor
            ts = max(ts, 0)
            self.last_out[track] = ts
            self.last_in[track] = tag.timestamp
            if track not in firsts:
                firsts[track] = tag.timestamp
            elif track not in seconds:
                seconds[track] = tag.timestamp
            placed.append(
                tag
                if ts == tag.timestamp
                else FlvTag(track, ts, tag.data, tag.stream_id)
            )
        for track, first_ts in firsts.items():
            second = seconds.get(track)
            self._set_interval(track, None if second is None else second - first_ts)
        self.next_target = max(self.last_out[t] + self.interval[t] for t in firsts)
        return placed

    def place_end(self, tag: FlvTag) -> FlvTag:
        # An end tag belongs right after the last frame; upstream stamps vary.
        ts = tag.timestamp - self.offset
        if not self.next_target <= ts <= self.next_target + JUMP_THRESHOLD_MS:
            ts = self.next_target
        return dataclasses.replace(tag, timestamp=ts)

    def _set_interval(self, track: int, measured: int | None) -> None:
        low, high, fallback = _INTERVALS.get(track, _INTERVALS[TAG_VIDEO])
        if measured is not None and low <= measured <= high:
            self.interval[track] = measured
        elif track not in self.interval:
            self.interval[track] = fallback

    def jumps(self, tags: list[FlvTag]) -> bool:
        """Whether a group does not continue where the previous one ended."""
        seen: set[int] = set()
        for tag in tags:
            track = tag.tag_type
            if track in seen:
                continue
            seen.add(track)
            if track in self.last_in:
                due = self.last_in[track] + self.interval[track]
                if abs(tag.timestamp - due) > JUMP_THRESHOLD_MS:
                    return True
        return False


class FlvRepair:
    """Applies the repair rules to a stream of tags (see the module docstring).

    Example:
        repair = FlvRepair()
        for tag in tags:
            for action in repair.feed(tag):
                ...  # DataGroup, EndTag or FileBreak
        for action in repair.flush():
            ...
    """

    def __init__(self) -> None:
        self.fixes: Counter[FixKind] = Counter()
        self._prelude = Prelude()
        self._timeline = _Timeline()
        self._group: list[FlvTag] = []
        self._group_bytes = 0
        self._group_last: dict[int, int] = {}
        self._group_has_video = False
        self._seen_video = False
        self._recent: deque[bytes] = deque(maxlen=DUPLICATE_HISTORY)
        self._repeats_in_a_row = 0

    @property
    def prelude(self) -> Prelude:
        """The current metadata and sequence headers."""
        return self._prelude

    @property
    def repeats_in_a_row(self) -> int:
        """Groups dropped as repeated data since the last new one."""
        return self._repeats_in_a_row

    def feed(self, tag: FlvTag) -> list[RepairAction]:
        """Take the next tag of the stream.

        Args:
            tag: the tag as parsed, upstream timestamp.

        Returns:
            What the writer must do now, in order (often nothing: the tag joined
            the pending group).
        """
        out: list[RepairAction] = []
        if tag.is_media:
            if self._group and self._ends_group(tag):
                self._flush_group(out)
            self._group.append(tag)
            self._group_bytes += len(tag.data)
            self._group_last[tag.tag_type] = tag.timestamp
            self._group_has_video |= tag.is_video
        elif tag.is_script:
            self._flush_group(out)
            self._script(tag)
        elif tag.is_sequence_header:
            self._flush_group(out)
            self._header(tag, out)
        elif tag.is_end_of_sequence:
            self._flush_group(out)
            if self._timeline.started:
                out.append(EndTag(self._timeline.place_end(tag)))
                self._break(out, "end of sequence")
        else:
            self.fixes[FixKind.UNKNOWN_TAG] += 1
        return out

    def flush(self) -> list[RepairAction]:
        """The stream ended: release the pending group."""
        out: list[RepairAction] = []
        self._flush_group(out)
        return out

    def _ends_group(self, tag: FlvTag) -> bool:
        if self._group_bytes >= MAX_GROUP_BYTES:
            return True
        last = self._group_last.get(tag.tag_type)
        if last is not None and not 0 <= tag.timestamp - last <= GROUP_GAP_MS:
            return True
        if tag.is_keyframe:
            return self._group_has_video
        return (
            not self._group_has_video
            and tag.timestamp - self._group[0].timestamp >= AUDIO_GROUP_MS
        )

    def drop_pending(self) -> None:
        """Forget the pending group: the stream is abandoned in the middle of it."""
        self._take_group()

    def _take_group(self) -> list[FlvTag]:
        tags, self._group = self._group, []
        self._group_bytes = 0
        self._group_last.clear()
        self._group_has_video = False
        return tags

    def _flush_group(self, out: list[RepairAction]) -> None:
        tags = self._take_group()
        if not tags:
            return
        first_video = next((t for t in tags if t.is_video), None)
        keyframe_start = first_video is not None and first_video.is_keyframe
        self._seen_video |= first_video is not None
        timeline = self._timeline
        if not timeline.started and self._seen_video and not keyframe_start:
            # A file must open on a keyframe to decode; audio-only streams excepted.
            self.fixes[FixKind.FRAMES_BEFORE_KEYFRAME] += 1
            return
        if keyframe_start and self._is_repeat(tags):
            self.fixes[FixKind.REPEATED_DATA] += 1
            self._repeats_in_a_row += 1
            return
        self._repeats_in_a_row = 0
        if not timeline.started and self._prelude.metadata is None:
            self.fixes[FixKind.METADATA_SYNTHESISED] += 1
        placed = timeline.place(tags, self.fixes)
        splittable = keyframe_start or not self._seen_video
        out.append(DataGroup(placed, self._prelude, splittable))

    def _is_repeat(self, tags: list[FlvTag]) -> bool:
        # Only groups that open with a keyframe are judged: a CDN re-sends its
        # cache from a keyframe, while 1 s of digital silence in an audio-only
        # stream repeats byte for byte and is real time.
        # Timestamps are left out: a re-sent copy may be re-stamped so that it
        # continues the stream. A frozen picture over digital silence, encoded
        # byte for byte the same, is shortened to one GOP, as upstream does; no
        # distinct media is lost.
        key = _fingerprint(tags)
        if key in self._recent:
            return True
        self._recent.append(key)
        return False

    def _script(self, tag: FlvTag) -> None:
        if not tag.is_metadata:
            self.fixes[FixKind.SCRIPT_DROPPED] += 1
            return
        properties = parse_metadata(tag)
        # A null onMetaData never replaces a usable one; with none, files open
        # with synthesised metadata.
        if properties is not None:
            self._prelude = dataclasses.replace(self._prelude, metadata=properties)

    def _header(self, tag: FlvTag, out: list[RepairAction]) -> None:
        video = tag.is_video
        current = self._prelude.video_header if video else self._prelude.audio_header
        if current is not None and current.data == tag.data:
            self.fixes[FixKind.DUPLICATE_HEADER] += 1
            return
        header = dataclasses.replace(tag, timestamp=0)
        if video:
            self._prelude = dataclasses.replace(self._prelude, video_header=header)
        else:
            self._prelude = dataclasses.replace(self._prelude, audio_header=header)
        if self._timeline.started:
            self.fixes[FixKind.HEADER_CHANGED] += 1
            self._break(out, "sequence header changed")

    def _break(self, out: list[RepairAction], reason: str) -> None:
        out.append(FileBreak(reason))
        self._timeline.reset()


def _fingerprint(tags: list[FlvTag]) -> bytes:
    """A digest of a group's content: each tag's type, size and both body ends.

    Not every byte: hashing all of a 6 Mbps stream was a fifth of the engine's
    CPU. The ends hold what differs between frames alike in size (the slice header
    at the start, the end of the entropy-coded data at the tail); two different
    GOPs with every tag's size and ends equal are not a real stream.
    """
    bodies = [tag.data for tag in tags]
    sample = REPLAY_SAMPLE_BYTES
    digest = hashlib.blake2b(bytes([tag.tag_type for tag in tags]), digest_size=16)
    # The sizes fix how many bytes each head and tail has, so the joins below
    # cannot be read two ways.
    digest.update(array("I", map(len, bodies)))
    digest.update(b"".join([body[:sample] for body in bodies]))
    digest.update(b"".join([body[-sample:] for body in bodies]))
    return digest.digest()
