"""remux, thumbnail, audio, metadata, burn: on media made by ffmpeg, checked by PyAV."""

from __future__ import annotations

from typing import TYPE_CHECKING

import av
import pytest

from activities.processors import ProcessorConfigError, ProcessorError
from activities.processors.base import temp_for
from tests.activities.processors.conftest import top_level_boxes

if TYPE_CHECKING:
    from pathlib import Path

    from tests.activities.processors.conftest import Runner


def region_change(a: Path, b: Path, box: tuple[int, int, int, int]) -> float:
    """Mean luma difference of the first frames of `a` and `b` inside `box`."""

    def luma(path: Path) -> tuple[bytes, int]:
        with av.open(str(path)) as container:
            frame = next(container.decode(video=0)).reformat(format="gray")
            plane = frame.planes[0]
            return bytes(plane), plane.line_size

    (pa, stride), (pb, _) = luma(a), luma(b)
    x0, y0, x1, y1 = box
    diffs = [
        abs(pa[y * stride + x] - pb[y * stride + x])
        for y in range(y0, y1)
        for x in range(x0, x1)
    ]
    return sum(diffs) / len(diffs)


def streams(path: Path) -> tuple[list[str], float]:
    with av.open(str(path)) as container:
        names = [s.codec_context.name for s in container.streams]
        return names, float(container.duration or 0) / av.time_base


async def test_remux_to_mp4_with_faststart_removes_the_input(
    run: Runner, segment: Path
) -> None:
    out = await run("remux", [segment])

    mp4 = segment.with_suffix(".mp4")
    assert out.files == [str(mp4)]
    assert not segment.exists()
    names, duration = streams(mp4)
    assert names == ["h264", "aac"]
    assert duration == pytest.approx(2.0, abs=0.2)
    boxes = top_level_boxes(mp4)
    assert boxes.index("moov") < boxes.index("mdat")
    assert run.reports[-1][0] == pytest.approx(1.0)
    assert not any(".srec-tmp" in p.name for p in mp4.parent.iterdir())


async def test_remux_transcodes_and_trims_into_a_folder(
    run: Runner, segment: Path, root: Path
) -> None:
    config = {
        "format": "mkv",
        "video_codec": "libx264",
        "crf": 30,
        "preset": "ultrafast",
        "scale": "160:-2",
        "fps": 10,
        "trim_start_secs": 0.5,
        "duration_secs": 1.0,
        "remove_input": False,
        "output_dir": "{streamer}/mkv",
    }
    out = await run("remux", [segment], config)

    mkv = root / "alice" / "mkv" / "alice-0.mkv"
    assert out.files == [str(mkv)]
    assert segment.exists()
    with av.open(str(mkv)) as container:
        video = container.streams.video[0]
        assert (video.codec_context.width, video.codec_context.height) == (160, 120)
        assert float(video.average_rate or 0) == pytest.approx(10, abs=0.5)
        assert float(container.duration or 0) / av.time_base == pytest.approx(
            1.0, abs=0.25
        )


async def test_remux_rerun_after_a_crash_has_one_effect(
    run: Runner, segment: Path
) -> None:
    mp4 = segment.with_suffix(".mp4")
    temp_for(mp4, 1).write_bytes(b"half a file from a killed attempt")
    run.attempt = 2
    await run("remux", [segment])
    assert sorted(p.name for p in mp4.parent.iterdir()) == ["alice-0.mp4"]

    # the crash came after the rename and the input's removal: nothing to redo
    out = await run("remux", [segment])
    assert out.files == [str(mp4)]
    assert streams(mp4)[0] == ["h264", "aac"]


async def test_remux_refuses_an_input_outside_the_root_before_working(
    run: Runner, clip: Path
) -> None:
    with pytest.raises(ProcessorConfigError, match="outside the recordings root"):
        await run("remux", [clip])
    assert not clip.with_suffix(".mp4").exists()


async def test_ffmpeg_failure_is_the_steps_error(run: Runner, root: Path) -> None:
    bad = root / "broken.ts"
    bad.write_bytes(b"\x00" * 1000)
    with pytest.raises(ProcessorError, match="ffmpeg remux exited with status"):
        await run("remux", [bad])
    assert sorted(p.name for p in root.iterdir()) == ["broken.ts"]


async def test_thumbnail_audio_and_metadata(run: Runner, segment: Path) -> None:
    thumb = await run("thumbnail", [segment], {"width": 160, "at_secs": 1})
    with av.open(thumb.files[0]) as image:
        frame = next(image.decode(video=0))
        assert (frame.width, frame.height) == (160, 120)

    audio = await run("audio", [segment])
    assert audio.files == [str(segment.with_suffix(".m4a"))]
    assert streams(segment.with_suffix(".m4a"))[0] == ["aac"]

    tags = {"title": "{streamer} - {title}", "comment": "session {session_id}"}
    mkv = await run("remux", [segment], {"format": "mkv", "remove_input": False})
    out = await run("metadata", [segment.with_suffix(".mkv")], {"tags": tags})
    assert out.files == mkv.files
    with av.open(out.files[0]) as container:
        meta = {k.lower(): v for k, v in container.metadata.items()}
    assert meta["title"] == "alice - a title"
    assert meta["comment"] == "session 7"


async def test_burn_draws_the_subtitles_in(
    run: Runner, segment: Path, root: Path
) -> None:
    ass = segment.with_suffix(".ass")
    ass.write_text(
        "[Script Info]\nScriptType: v4.00+\nPlayResX: 320\nPlayResY: 240\n\n"
        "[V4+ Styles]\nFormat: Name, Fontname, Fontsize, PrimaryColour, "
        "SecondaryColour, OutlineColour, BackColour, Bold, Italic, Underline, "
        "StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow, "
        "Alignment, MarginL, MarginR, MarginV, Encoding\n"
        "Style: D,sans-serif,40,&H00FFFFFF,&H00FFFFFF,&H00000000,&H00000000,0,0,0,0,"
        "100,100,0,0,1,2,0,7,0,0,0,1\n\n[Events]\n"
        "Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, "
        "Text\n"
        "Dialogue: 0,0:00:00.00,0:00:02.00,D,,0,0,0,,{\\pos(10,10)}HELLO\n",
        encoding="utf-8",
    )
    out = await run("burn", [segment, ass], {"preset": "ultrafast", "crf": 35})

    burnt = root / "alice" / "alice-0-danmaku.mp4"
    assert out.files == [str(burnt)]
    names, duration = streams(burnt)
    assert names == ["h264", "aac"]
    assert duration == pytest.approx(2.0, abs=0.2)
    boxes = top_level_boxes(burnt)
    assert boxes.index("moov") < boxes.index("mdat")
    # the text sits at the top left; the bottom right only has encoding noise
    assert region_change(segment, burnt, (10, 12, 110, 45)) > 20
    assert region_change(segment, burnt, (200, 180, 300, 230)) < 10


async def test_burn_without_subtitles_says_so(run: Runner, segment: Path) -> None:
    with pytest.raises(ProcessorError, match=r"no subtitle file for alice-0\.ts"):
        await run("burn", [segment])
