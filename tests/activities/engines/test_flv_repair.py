"""The repair rules one by one, on synthetic tag streams (no files)."""

from __future__ import annotations

from collections import Counter

import pytest

from activities.engines.flv.amf import AmfEcmaArray, encode_all
from activities.engines.flv.repair import (
    DUPLICATE_HISTORY,
    MAX_GROUP_BYTES,
    DataGroup,
    EndTag,
    FileBreak,
    FixKind,
    FlvRepair,
    Prelude,
)
from activities.engines.flv.tags import TAG_AUDIO, TAG_SCRIPT, TAG_VIDEO, FlvTag

AVC = FlvTag(TAG_VIDEO, 0, b"\x17\x00\x00\x00\x00avc-config-1")
AVC_2 = FlvTag(TAG_VIDEO, 0, b"\x17\x00\x00\x00\x00avc-config-2")
AAC = FlvTag(TAG_AUDIO, 0, b"\xaf\x00\x12\x10")
END = FlvTag(TAG_VIDEO, 0, b"\x17\x02\x00\x00\x00")


def metadata(value: object) -> FlvTag:
    return FlvTag(TAG_SCRIPT, 0, encode_all(["onMetaData", value]))  # type: ignore[list-item]


def video(ts: int, *, key: bool = False, body: bytes | None = None) -> FlvTag:
    data = body if body is not None else (ts & 0xFFFFFFFF).to_bytes(4, "big")
    return FlvTag(
        TAG_VIDEO, ts, (b"\x17" if key else b"\x27") + b"\x01\x00\x00\x00" + data
    )


def audio(ts: int, body: bytes | None = None) -> FlvTag:
    data = body if body is not None else (ts & 0xFFFFFFFF).to_bytes(4, "big")
    return FlvTag(TAG_AUDIO, ts, b"\xaf\x01" + data)


def stream(start: int, gops: int, *, body: bytes | None = None) -> list[FlvTag]:
    """25 fps video, a keyframe every 10 frames, AAC every 23 ms in between."""
    tags: list[FlvTag] = []
    audio_ts = start
    for i in range(gops * 10):
        ts = start + i * 40
        tags.append(video(ts, key=i % 10 == 0, body=body))
        while audio_ts < ts + 40:
            tags.append(audio(audio_ts, body=body))
            audio_ts += 23
    return tags


def gop(start: int) -> list[FlvTag]:
    return stream(start, 1)


def split_gops(tags: list[FlvTag]) -> list[list[FlvTag]]:
    """A stream cut before each keyframe."""
    gops: list[list[FlvTag]] = []
    for tag in tags:
        if tag.is_keyframe or not gops:
            gops.append([])
        gops[-1].append(tag)
    return gops


def next_due(tags: list[FlvTag]) -> int:
    """When the frame after `tags` is due: the later of the two tracks."""
    last_video = max(t.timestamp for t in tags if t.is_video)
    last_audio = max(t.timestamp for t in tags if t.is_audio)
    return max(last_video + 40, last_audio + 23)


class Run:
    """Feeds tags through a repair and collects what it says, file by file."""

    def __init__(self, *tags: FlvTag) -> None:
        self.repair = FlvRepair()
        self.files: list[list[FlvTag]] = [[]]
        self.groups: list[DataGroup] = []
        for tag in tags:
            self._take(self.repair.feed(tag))
        self._take(self.repair.flush())
        self.files = [f for f in self.files if f]

    def _take(self, actions: list[DataGroup | EndTag | FileBreak]) -> None:
        for action in actions:
            if isinstance(action, FileBreak):
                self.files.append([])
            elif isinstance(action, EndTag):
                self.files[-1].append(action.tag)
            else:
                self.groups.append(action)
                self.files[-1].extend(action.tags)

    @property
    def fixes(self) -> dict[str, int]:
        return {k.value: n for k, n in self.repair.fixes.items()}

    def stamps(self, index: int = 0) -> list[int]:
        return [t.timestamp for t in self.files[index]]


def assert_monotonic_per_track(tags: list[FlvTag]) -> None:
    last: dict[int, int] = {}
    for tag in tags:
        assert tag.timestamp >= last.get(tag.tag_type, 0), tag
        last[tag.tag_type] = tag.timestamp


def test_a_clean_stream_passes_unchanged() -> None:
    tags = stream(0, 3)
    run = Run(metadata(AmfEcmaArray(width=1.0)), AVC, AAC, *tags)
    assert run.files == [tags]
    assert run.fixes == {}
    assert run.groups[0].prelude == Prelude(AmfEcmaArray(width=1.0), AVC, AAC)
    assert all(g.splittable for g in run.groups)
    assert [g.tags for g in run.groups] == split_gops(tags)


# --- headers ----------------------------------------------------------------------


def test_identical_headers_are_dropped() -> None:
    run = Run(AVC, AAC, AAC, *stream(0, 2), AVC, *stream(800, 1))
    assert len(run.files) == 1
    assert not any(t.is_sequence_header for t in run.files[0])
    assert run.fixes == {"duplicate_header": 2, "metadata_synthesised": 1}


def test_a_changed_header_starts_a_new_file_at_zero() -> None:
    run = Run(AVC, AAC, *stream(0, 2), AVC_2, *stream(5000, 2))
    assert len(run.files) == 2
    assert run.stamps(1)[0] == 0
    assert run.groups[-1].prelude.video_header == AVC_2
    assert run.groups[-1].prelude.audio_header == AAC
    assert run.fixes["header_changed"] == 1
    assert "timestamp_jump" not in run.fixes


def test_a_late_audio_header_starts_a_new_file() -> None:
    video_only = [t for t in stream(0, 1) if t.is_video]
    run = Run(AVC, *video_only, AAC, *stream(400, 1))
    assert len(run.files) == 2
    assert run.groups[0].prelude.audio_header is None
    assert run.groups[-1].prelude.audio_header == AAC
    assert run.fixes["header_changed"] == 1


def test_headers_replaced_before_any_media_do_not_split() -> None:
    run = Run(AVC, AAC, AVC_2, *stream(0, 1))
    assert len(run.files) == 1
    assert run.groups[0].prelude.video_header == AVC_2
    assert "header_changed" not in run.fixes


# --- script tags ------------------------------------------------------------------


@pytest.mark.parametrize(
    "script",
    [
        pytest.param(None, id="missing"),
        pytest.param(metadata(None), id="null"),
        pytest.param(metadata("not a map"), id="not-a-map"),
        pytest.param(
            FlvTag(TAG_SCRIPT, 0, b"\x02\x00\x0aonMetaData\x07"), id="corrupt"
        ),
    ],
)
def test_missing_or_unusable_metadata_is_synthesised(script: FlvTag | None) -> None:
    run = Run(*([script] if script else []), AVC, AAC, *stream(0, 1))
    assert run.fixes == {"metadata_synthesised": 1}
    prelude = run.groups[0].prelude
    assert prelude.metadata is None
    assert prelude.properties() == AmfEcmaArray(
        videocodecid=7.0,
        audiocodecid=10.0,
        audiosamplerate=44100.0,
        audiochannels=2.0,
        stereo=True,
    )


def test_an_object_is_accepted_as_metadata_and_a_null_does_not_replace_it() -> None:
    run = Run(metadata({"width": 2.0}), metadata(None), AVC, *stream(0, 1))
    assert run.groups[0].prelude.metadata == AmfEcmaArray(width=2.0)
    assert run.fixes == {}


def test_other_script_tags_are_dropped() -> None:
    cue = FlvTag(TAG_SCRIPT, 100, encode_all(["onCuePoint", {"name": "x"}]))
    run = Run(metadata({}), AVC, *stream(0, 1), cue, *stream(400, 1))
    assert not any(t.is_script for t in run.files[0])
    assert run.fixes == {"script_dropped": 1}


def test_unknown_tag_types_are_dropped() -> None:
    first, second = split_gops(stream(0, 2))
    run = Run(metadata({}), AVC, *first, FlvTag(15, 200, b"?"), *second)
    assert run.files == [first + second]
    assert run.fixes == {"unknown_tag": 1}


# --- timestamps -------------------------------------------------------------------


@pytest.mark.parametrize("start", [0, 19, 50])
def test_a_start_near_zero_is_kept(start: int) -> None:
    run = Run(metadata({}), AVC, *stream(start, 2))
    assert run.stamps()[0] == start
    assert run.fixes == {}


@pytest.mark.parametrize("start", [51, 3_600_000, 0xFFFF0000])
def test_a_start_far_from_zero_is_rebased_silently(start: int) -> None:
    run = Run(metadata({}), AVC, *stream(start, 2))
    assert run.stamps() == [t.timestamp - start for t in stream(start, 2)]
    assert run.fixes == {}


@pytest.mark.parametrize(
    ("start", "resume_at"),
    [
        pytest.param(0, 30_800, id="forward-30s"),
        pytest.param(0, 900, id="forward-100ms"),
        pytest.param(10_000, 0, id="back-to-zero"),
        pytest.param(10_000, 9_000, id="back-1s"),
    ],
)
def test_jumps_between_gops_are_closed_and_counted(start: int, resume_at: int) -> None:
    before = stream(start, 2)
    run = Run(metadata({}), AVC, *before, *stream(resume_at, 2))
    written = run.files[0]
    assert len(written) == 2 * len(before)
    assert_monotonic_per_track(written)
    # the resumed GOP's keyframe comes when the next frame was due
    resumed = written[len(before)]
    assert resumed.is_keyframe
    assert resumed.timestamp == next_due(written[: len(before)])
    assert written[-1].timestamp == pytest.approx(1600, abs=40)
    assert run.fixes == {"timestamp_jump": 1}


def test_a_jump_inside_a_gop_is_closed() -> None:
    first = gop(0)
    tags = first[:10] + [
        FlvTag(t.tag_type, t.timestamp + 20_000, t.data) for t in first[10:]
    ]
    run = Run(metadata({}), AVC, *tags)
    assert_monotonic_per_track(run.files[0])
    assert run.stamps()[-1] < 500
    assert run.fixes == {"timestamp_jump": 1}
    assert [g.splittable for g in run.groups] == [True, False]


def test_jitter_within_the_threshold_is_not_a_jump() -> None:
    tags = stream(0, 1) + stream(430, 1)  # 30 ms late: a slow encoder
    run = Run(metadata({}), AVC, *tags)
    assert run.files[0] == tags
    assert run.fixes == {}


def test_a_frame_older_than_its_track_is_clamped() -> None:
    tags = gop(0)
    late = [t for t in tags if t.is_audio][3]
    index = tags.index(late)
    tags.insert(index + 2, audio(late.timestamp - 5, b"old"))
    run = Run(metadata({}), AVC, *tags)
    assert_monotonic_per_track(run.files[0])
    assert run.fixes == {"timestamp_backstep": 1}


def test_end_of_sequence_closes_the_file_after_the_last_frame() -> None:
    tags = stream(0, 2)
    run = Run(metadata({}), AVC, AAC, *tags, END, *stream(5000, 1))
    assert len(run.files) == 2
    end = run.files[0][-1]
    assert end.is_end_of_sequence
    assert end.timestamp == next_due(tags)
    assert run.stamps(1)[0] == 0
    assert run.fixes == {}


def test_an_end_tag_before_any_media_is_dropped() -> None:
    run = Run(metadata({}), AVC, END, *stream(0, 1))
    assert run.files == [stream(0, 1)]


# --- data groups ------------------------------------------------------------------


def test_frames_before_the_first_keyframe_are_dropped() -> None:
    tail = gop(0)[5:]  # joined mid-GOP
    run = Run(metadata({}), AVC, AAC, *tail, *stream(400, 2))
    assert run.files[0][0].is_keyframe
    assert run.files[0][0].timestamp == 0
    assert len(run.files[0]) == len(stream(400, 2))
    assert run.fixes == {"frames_before_keyframe": 1}


def test_a_replayed_gop_is_dropped() -> None:
    gops = split_gops(stream(0, 4))
    # the CDN resends the second GOP, timestamps and all
    run = Run(metadata({}), AVC, *gops[0], *gops[1], *gops[2], *gops[1], *gops[3])
    assert run.files == [[t for g in gops for t in g]]
    assert run.fixes == {"repeated_data": 1}
    assert run.repair.repeats_in_a_row == 0


def shifted(tags: list[FlvTag], offset: int) -> list[FlvTag]:
    return [FlvTag(t.tag_type, t.timestamp + offset, t.data) for t in tags]


@pytest.mark.parametrize(
    "offset",
    [
        pytest.param(800, id="restamped-to-continue"),
        pytest.param(5_000, id="ahead"),
        pytest.param(-3_000, id="behind"),
    ],
)
def test_replayed_gops_are_dropped_whatever_their_timestamps(offset: int) -> None:
    gops = split_gops(stream(0, 4))
    # after GOP 3 the CDN resends GOPs 2 and 3 with their timestamps moved;
    # with +800 the copy continues the timeline exactly
    replay = shifted(gops[1] + gops[2], offset)
    run = Run(metadata({}), AVC, *gops[0], *gops[1], *gops[2], *replay, *gops[3])
    assert run.files == [[t for g in gops for t in g]]
    assert run.fixes == {"repeated_data": 2}


def test_a_replay_that_moved_the_clock_on_is_dropped_and_the_jump_closed() -> None:
    gops = split_gops(stream(0, 4))
    # the CDN replays GOPs 2-3 stamped to continue, and its clock stays ahead
    run = Run(
        metadata({}),
        AVC,
        *gops[0],
        *gops[1],
        *gops[2],
        *shifted(gops[1] + gops[2], 800),
        *shifted(gops[3], 800),
    )
    [written] = run.files
    assert [t.data for t in written] == [t.data for g in gops for t in g]
    assert_monotonic_per_track(written)
    resumed = written[-len(gops[3])]
    assert resumed.timestamp == next_due(gops[0] + gops[1] + gops[2])
    assert run.fixes == {"repeated_data": 2, "timestamp_jump": 1}


def frozen_gop(start: int) -> list[FlvTag]:
    """A still picture over digital silence: every GOP byte for byte the same."""
    tags: list[FlvTag] = []
    for i in range(10):
        ts = start + i * 40
        tags.append(video(ts, key=i == 0, body=b"still"))
        tags += [audio(ts, b"hush"), audio(ts + 20, b"hush")]
    return tags


def test_byte_identical_gops_are_repeats_even_on_time() -> None:
    # Content decides, as in BililiveRecorder: a GOP equal to a recent one is
    # dropped even if its timestamps continue (a CDN re-stamping its cache looks
    # exactly like this). The still picture is shortened to one GOP.
    frozen = [t for i in range(4) for t in frozen_gop(i * 400)]
    after = stream(1600, 2)
    run = Run(metadata({}), AVC, *frozen, *after)
    [written] = run.files
    assert written[:30] == frozen_gop(0)
    assert [t.data for t in written[30:]] == [t.data for t in after]
    assert_monotonic_per_track(written)
    assert run.fixes == {"repeated_data": 3, "timestamp_jump": 1}


def test_repeats_in_a_row_are_counted_until_new_data() -> None:
    gops = split_gops(stream(0, 3))
    repair = FlvRepair()
    for tag in [metadata({}), AVC, *gops[0], *gops[1]]:
        repair.feed(tag)
    counts = []
    for i in range(1, 4):  # the last GOP, replayed three times, re-stamped
        for tag in shifted(gops[1], 400 * i):
            repair.feed(tag)
        counts.append(repair.repeats_in_a_row)
    for tag in gops[2]:
        repair.feed(tag)
    repair.flush()
    # a group is judged when the next one starts: the third replay at gops[2]
    assert counts == [0, 1, 2]
    assert repair.repeats_in_a_row == 0
    assert repair.fixes[FixKind.REPEATED_DATA] == 3


def test_only_the_last_groups_are_remembered() -> None:
    gops = split_gops(stream(0, DUPLICATE_HISTORY + 2))
    # GOP 0 again, DUPLICATE_HISTORY + 1 distinct GOPs later: forgotten, so kept
    old = shifted(gops[0], len(gops) * 400)
    run = Run(metadata({}), AVC, *[t for g in gops for t in g], *old)
    assert len(run.files[0]) == sum(map(len, gops)) + len(old)
    assert "repeated_data" not in run.fixes


def test_gops_alike_in_size_but_not_in_content_are_kept() -> None:
    one, two = split_gops(stream(0, 2))
    # the second GOP again, on time, same sizes, its bodies' last bytes changed
    other = [FlvTag(t.tag_type, t.timestamp + 400, t.data[:-4] + b"BBBB") for t in two]
    run = Run(metadata({}), AVC, *one, *two, *other)
    assert len(run.files[0]) == len(one) + len(two) + len(other)
    assert "repeated_data" not in run.fixes


def test_audio_only_streams_form_short_splittable_groups() -> None:
    tags = [audio(i * 23) for i in range(200)]
    run = Run(metadata({}), AAC, *tags)
    assert run.files == [tags]
    assert len(run.groups) == 5
    assert all(g.splittable for g in run.groups)
    assert run.fixes == {}


def test_a_video_header_without_video_frames_keeps_the_audio() -> None:
    tags = [audio(i * 23) for i in range(100)]
    run = Run(metadata({}), AVC, AAC, *tags)
    assert run.files == [tags]


def test_an_endless_gop_is_cut_at_the_size_cap() -> None:
    big = b"x" * (MAX_GROUP_BYTES // 4)
    tags = [video(0, key=True, body=big)] + [
        video(i * 40, body=big) for i in range(1, 6)
    ]
    run = Run(metadata({}), AVC, *tags)
    assert run.files == [tags]
    assert [g.splittable for g in run.groups] == [True, False]


def test_fix_kinds_are_counted_in_one_counter() -> None:
    run = Run(AVC, AVC, *stream(0, 1))
    assert isinstance(run.repair.fixes, Counter)
    assert run.repair.fixes[FixKind.DUPLICATE_HEADER] == 1
