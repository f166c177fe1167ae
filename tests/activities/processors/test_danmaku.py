"""Our danmaku renderer: BililiveRecorder XML in, ASS out (parsed with pysubs2)."""

from __future__ import annotations

import io
import itertools
import random
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import biliass
import pysubs2
import pytest

from activities.processors.danmaku_render import (
    Comment,
    Layout,
    Renderer,
    RenderStats,
    escape,
    parse,
    render,
    text_width,
)
from tests.activities.danmu.test_writer import HOSTILE, chat, paid, write
from tests.activities.processors.conftest import Runner

RESOURCES = Path(__file__).parents[2] / "resources" / "danmaku"
MOVE = re.compile(r"\\move\((-?\d+),(-?\d+),(-?\d+),(-?\d+)\)")


def rendered(xml: bytes, layout: Layout) -> tuple[pysubs2.SSAFile, RenderStats]:
    stats = RenderStats()
    out = io.StringIO()
    render(parse(io.BytesIO(xml), stats), layout, out, stats)
    return pysubs2.SSAFile.from_string(out.getvalue()), stats


def test_the_brec_sample_renders_every_comment() -> None:
    subs, stats = rendered(
        (RESOURCES / "brec_1.3.11_sample.xml").read_bytes(), Layout()
    )

    assert (stats.read, stats.rendered, stats.dropped, stats.skipped) == (5, 5, 0, 0)
    assert subs.info["PlayResX"] == "1920"
    assert [e.plaintext for e in subs] == [
        "快快快",
        "快快快快快快",
        "快快快",
        "好好好",
        "快快快快快快",
    ]
    # ASS keeps centiseconds; 10 s to cross the screen
    assert (subs[0].start, subs[0].end) == (580, 10580)
    ys = [int(MOVE.search(e.text).group(2)) for e in subs]  # type: ignore[union-attr]
    assert len(set(ys)) == 5  # all within 2 ms: five lanes
    # 16772431 = 0xFFED4F is written as BGR
    assert r"\c&H4FEDFF&" in subs[3].text
    assert r"\c&HFF3FE3&" in subs[0].text  # 14893055 = 0xE33FFF


def test_line_breaks_become_ass_newlines_and_take_more_lanes() -> None:
    subs, stats = rendered(
        (RESOURCES / "brec_multiline_d_fragment.xml").read_bytes(), Layout()
    )
    assert stats.rendered == 1
    assert subs[0].text.count(r"\N") == 9
    assert subs[0].plaintext.splitlines()[:3] == ["呵", "呵", "比"]


def test_override_blocks_in_comments_stay_text() -> None:
    assert escape(r"{\b1}big\N") == "\\{\\\u200bb1\\}big\\\u200bN"
    xml = b'<i><d p="1,1,25,16777215">{\\pos(0,0)}hi</d></i>'
    subs, _ = rendered(xml, Layout())
    # libass reads \{ and \} as braces; only our own block opens with a bare {
    assert subs[0].text.endswith("\\}hi")
    assert len(re.findall(r"(?<!\\)\{", subs[0].text)) == 1


def test_truncated_files_keep_what_was_read() -> None:
    xml = b'<i><d p="1,1,25,16777215">a</d><d p="2,5,25,16777215">b</d><d p="3,1'
    subs, stats = rendered(xml, Layout())
    assert stats.truncated
    assert [e.plaintext for e in subs] == ["a", "b"]


def test_malformed_and_unsupported_comments_are_skipped() -> None:
    xml = (
        b'<i><d p="x,1,25,1">bad time</d><d p="1,7,25,1">positioned</d>'
        b'<d p="1,1,25,1"></d><d p="1">short</d><d p="1,4,36,0">bottom</d></i>'
    )
    subs, stats = rendered(xml, Layout())
    assert (stats.read, stats.skipped, stats.rendered) == (5, 4, 1)
    bottom = subs[0].text
    assert r"\an2" in bottom
    assert r"\fs" in bottom
    assert r"\3c&HFFFFFF&" in bottom  # black text gets a white outline


def _overlaps(layout: Layout, a: Comment, b: Comment) -> bool:
    """Whether scrolling comment `b`, placed after `a` in the same lane, hits it."""
    w = layout.width
    wa, wb = (text_width(c.text, layout.font_size) for c in (a, b))
    va, vb = ((w + x) / layout.scroll_secs for x in (wa, wb))
    entered = a.time + wa / va <= b.time + 1e-6
    caught = b.time + w / vb < a.time + layout.scroll_secs - 1e-6
    return not entered or caught


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_no_two_comments_collide(seed: int) -> None:
    rnd = random.Random(seed)
    layout = Layout(width=1280, height=720, font_size=36, scroll_area=0.5)
    comments = [
        Comment(
            time=rnd.uniform(0, 20),
            mode=rnd.choice(["scroll", "scroll", "top", "bottom"]),
            size=25,
            color=0xFFFFFF,
            text="弹" * rnd.randint(1, 20),
        )
        for _ in range(400)
    ]
    renderer = Renderer(layout)
    placed: dict[tuple[str, int], list[Comment]] = {}
    dropped = 0
    for c in sorted(comments, key=lambda c: c.time):
        spot = renderer.place(c)
        if spot is None:
            dropped += 1
            continue
        placed.setdefault((c.mode, spot[0]), []).append(c)
    assert 0 < dropped < len(comments)
    lanes = {k[1] for k in placed if k[0] == "scroll"}
    assert max(lanes) < 720 * 0.5 / (36 * 1.15)  # scrolling stays in the top half
    for (mode, _), column in placed.items():
        for a, b in itertools.pairwise(column):
            if mode == "scroll":
                assert not _overlaps(layout, a, b)
            else:
                assert b.time >= a.time + layout.fixed_secs - 1e-6


def test_overlap_mode_keeps_every_comment() -> None:
    xml = (
        "<i>"
        + "".join(
            f'<d p="{i / 100},1,25,16777215">same moment {i}</d>' for i in range(100)
        )
        + "</i>"
    )
    _, dropped = rendered(xml.encode(), Layout(height=200))
    _, kept = rendered(xml.encode(), Layout(height=200, overflow="overlap"))
    assert dropped.dropped > 0
    assert (kept.rendered, kept.dropped) == (100, 0)


async def test_the_processor_writes_an_ass_beside_the_xml(
    run: Runner, root: Path
) -> None:
    xml = root / "alice-0.xml"
    xml.write_bytes((RESOURCES / "brec_1.3.11_sample.xml").read_bytes())
    log: list[str] = []
    out = await run("danmaku", [xml, root / "ignored.ts"], {"width": 1280}, log=log)
    assert out.files == [str(root / "alice-0.ass")]
    subs = pysubs2.load(out.files[0])
    assert len(subs) == 5
    assert subs.info["PlayResX"] == "1280"
    assert log == [
        "alice-0.xml: 5 comments rendered, 0 dropped (no free lane), 0 skipped"
    ]


def test_what_the_danmu_writer_writes_renders_as_biliass_renders_it(
    tmp_path: Path,
) -> None:
    # the pipeline's danmaku step on a file the danmu activity wrote (hostile text,
    # paid messages, a media start): every chat line, at its time, as biliass (GPL,
    # test-only: the reference) sees them; srec itself never imports biliass
    messages = [chat(i, t, at=1.0 + i) for i, t in enumerate(HOSTILE)] + paid()
    path = write(tmp_path / "w.xml", messages)
    chat_lines = sum(1 for _ in ET.parse(path).getroot().iter("d"))
    assert chat_lines == len(HOSTILE)
    subs, stats = rendered(path.read_bytes(), Layout(overflow="overlap"))
    assert (stats.rendered, stats.skipped, stats.dropped) == (len(HOSTILE), 0, 0)
    assert [e.start for e in subs] == [1000 * (1 + i) for i in range(len(HOSTILE))]
    reference = biliass.convert_to_ass(
        path.read_bytes(), 1920, 1080, reduce_comments=False
    )
    assert reference.count("Dialogue:") == len(subs)
