"""Our own renderer of Bilibili-style danmaku XML into ASS subtitles.

Input: `<d p="time,mode,size,color,...">text</d>` elements (BililiveRecorder's and
Bilibili's format). `time` is seconds into the video, `mode` 1-3 scroll right to
left, 4 sits at the bottom, 5 at the top, 6 scrolls left to right (7 and 8, the
positioned and scripted kinds, are skipped), `size` 25 is the normal font size and
`color` is 0xRRGGBB in decimal. Other elements (gifts, super chats) are ignored.

Layout. The screen is cut into lanes one normal line high, from the top down (the
scrolling area may be limited to the top share of the screen). A scrolling comment
crosses the screen in `scroll_secs` whatever its length, so long comments move
faster; it takes the first lanes where (1) the previous comment has wholly entered
the screen when it appears and (2) it cannot catch up with the previous comment
before that one has left. Top and bottom comments take the first lanes (from the top,
from the bottom) that are free for `fixed_secs`. A comment that fits nowhere is
dropped, or with `overflow="overlap"` put where the wait is shortest.

Widths are estimated (wide East Asian characters one em, others 0.6 em): no font
metrics are needed, at the price of a little slack.

Truncated files (a recorder stopped mid-write has no closing `</i>`) render what
was read; the count of skipped and dropped comments is returned.
"""

from __future__ import annotations

import math
import unicodedata
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator
    from pathlib import Path

SCROLL, TOP, BOTTOM, REVERSE = "scroll", "top", "bottom", "reverse"
_MODES = {1: SCROLL, 2: SCROLL, 3: SCROLL, 4: BOTTOM, 5: TOP, 6: REVERSE}
NORMAL_SIZE = 25
LINE_GAP = 1.15
WHITE = 0xFFFFFF


@dataclass(frozen=True, slots=True)
class Comment:
    time: float
    mode: str
    size: int
    color: int
    text: str


@dataclass(frozen=True)
class Layout:
    """Rendering settings (the processor's config maps onto these)."""

    width: int = 1920
    height: int = 1080
    font: str = "sans-serif"
    font_size: float = 48.0
    scroll_secs: float = 10.0
    fixed_secs: float = 5.0
    opacity: float = 0.8
    scroll_area: float = 1.0
    outline: float = 1.5
    bold: bool = False
    overflow: Literal["drop", "overlap"] = "drop"
    time_offset_secs: float = 0.0


@dataclass
class RenderStats:
    read: int = 0
    rendered: int = 0
    skipped: int = 0
    dropped: int = 0
    truncated: bool = False


def parse(source: Path | IO[bytes], stats: RenderStats) -> Iterator[Comment]:
    """Yield the `<d>` comments of a danmaku XML file, skipping malformed ones."""
    try:
        for _, elem in ET.iterparse(source, events=("end",)):
            if elem.tag != "d":
                continue
            stats.read += 1
            comment = _comment(elem.get("p", ""), elem.text or "")
            elem.clear()
            if comment is None:
                stats.skipped += 1
            else:
                yield comment
    except ET.ParseError as err:
        if stats.read == 0 and "no element found" not in str(err):
            raise
        # a recording cut off mid-file: keep what was read
        stats.truncated = True


def _comment(p: str, text: str) -> Comment | None:
    parts = p.split(",")
    try:
        time, mode, size, color = (
            float(parts[0]),
            int(parts[1]),
            int(parts[2]),
            int(parts[3]),
        )
    except (ValueError, IndexError):
        return None
    text = text.strip()
    if mode not in _MODES or not text or not math.isfinite(time) or time < 0:
        return None
    return Comment(time, _MODES[mode], max(1, min(size, 200)), color & WHITE, text)


def text_width(text: str, size: float) -> float:
    """Estimated width in pixels of the longest line of `text` at `size` pixels."""

    def line(s: str) -> float:
        return sum(1.0 if unicodedata.east_asian_width(c) in "WF" else 0.6 for c in s)

    return max(line(s) for s in text.splitlines() or [""]) * size


@dataclass
class _Placed:
    start: float
    width: float
    speed: float
    end: float


@dataclass
class _Lanes:
    """Occupancy of one kind of lane: the last comment placed in each."""

    count: int
    last: list[_Placed | None] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.last = [None] * self.count


class Renderer:
    """Places comments in lanes and writes ASS events (see the module docstring)."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self.lane_height = layout.font_size * LINE_GAP
        lanes = max(1, int(layout.height / self.lane_height))
        scroll_lanes = max(
            1, int(layout.height * layout.scroll_area / self.lane_height)
        )
        self.lanes = {
            SCROLL: _Lanes(scroll_lanes),
            REVERSE: _Lanes(scroll_lanes),
            TOP: _Lanes(lanes),
            BOTTOM: _Lanes(lanes),
        }

    def _px(self, comment: Comment) -> float:
        return self.layout.font_size * comment.size / NORMAL_SIZE

    def _fits(self, kind: str, lane: int, placed: _Placed) -> bool:
        prev = self.lanes[kind].last[lane]
        if prev is None:
            return True
        if kind in (TOP, BOTTOM):
            return prev.end <= placed.start
        width = self.layout.width
        entered = prev.start + prev.width / prev.speed <= placed.start
        # the new one reaches the far edge no sooner than the old one's tail leaves
        no_catch_up = placed.start + width / placed.speed >= prev.end
        return entered and no_catch_up

    def _free_at(self, kind: str, lane: int, placed: _Placed) -> float:
        prev = self.lanes[kind].last[lane]
        if prev is None:
            return placed.start
        if kind in (TOP, BOTTOM):
            return prev.end
        return max(
            prev.start + prev.width / prev.speed,
            prev.end - self.layout.width / placed.speed,
        )

    def place(self, comment: Comment) -> tuple[int, int] | None:
        """Pick lanes for `comment`: (first lane, lane count), or None to drop it."""
        lay = self.layout
        px = self._px(comment)
        lines = comment.text.count("\n") + 1
        need = max(1, math.ceil(px * LINE_GAP * lines / self.lane_height - 1e-9))
        width = text_width(comment.text, px)
        start = comment.time + lay.time_offset_secs
        if comment.mode in (SCROLL, REVERSE):
            placed = _Placed(
                start,
                width,
                (lay.width + width) / lay.scroll_secs,
                start + lay.scroll_secs,
            )
        else:
            placed = _Placed(start, width, 1.0, start + lay.fixed_secs)
        lanes = self.lanes[comment.mode]
        if need > lanes.count:
            return None
        blocks = range(lanes.count - need + 1)
        chosen = next(
            (
                b
                for b in blocks
                if all(self._fits(comment.mode, b + i, placed) for i in range(need))
            ),
            None,
        )
        if chosen is None:
            if lay.overflow == "drop":
                return None
            chosen = min(
                blocks,
                key=lambda b: max(
                    self._free_at(comment.mode, b + i, placed) for i in range(need)
                ),
            )
        for i in range(need):
            lanes.last[chosen + i] = placed
        return chosen, need

    def event(self, comment: Comment, lane: int) -> str:
        """The ASS `Dialogue` line of a placed comment."""
        lay = self.layout
        px = self._px(comment)
        width = text_width(comment.text, px)
        start = comment.time + lay.time_offset_secs
        tags: list[str] = []
        if comment.mode in (SCROLL, REVERSE):
            y = lane * self.lane_height
            x1, x2 = (
                (lay.width, -width) if comment.mode == SCROLL else (-width, lay.width)
            )
            tags.append(rf"\move({x1:.0f},{y:.0f},{x2:.0f},{y:.0f})")
            end = start + lay.scroll_secs
        elif comment.mode == TOP:
            tags.append(rf"\an8\pos({lay.width / 2:.0f},{lane * self.lane_height:.0f})")
            end = start + lay.fixed_secs
        else:
            y = lay.height - lane * self.lane_height
            tags.append(rf"\an2\pos({lay.width / 2:.0f},{y:.0f})")
            end = start + lay.fixed_secs
        if abs(px - lay.font_size) >= 0.5:
            tags.append(rf"\fs{px:.0f}")
        if comment.color != WHITE:
            tags.append(rf"\c&H{_bgr(comment.color)}&")
            if _luma(comment.color) < 0x30:
                # dark text on a dark outline would vanish
                tags.append(r"\3c&HFFFFFF&")
        text = escape(comment.text)
        return (
            f"Dialogue: 2,{_clock(start)},{_clock(end)},Danmaku,,0,0,0,,"
            f"{{{''.join(tags)}}}{text}"
        )

    def header(self) -> str:
        lay = self.layout
        alpha = f"{round((1 - lay.opacity) * 255):02X}"
        return "\n".join(
            [
                "[Script Info]",
                "; Danmaku rendered by srec",
                "ScriptType: v4.00+",
                f"PlayResX: {lay.width}",
                f"PlayResY: {lay.height}",
                "WrapStyle: 2",
                "ScaledBorderAndShadow: yes",
                "",
                "[V4+ Styles]",
                "Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, "
                "OutlineColour, BackColour, Bold, Italic, Underline, StrikeOut, "
                "ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow, "
                "Alignment, MarginL, MarginR, MarginV, Encoding",
                f"Style: Danmaku,{lay.font.replace(',', ' ')},{lay.font_size:.0f},"
                f"&H{alpha}FFFFFF,&H{alpha}FFFFFF,&H{alpha}000000,&H{alpha}000000,"
                f"{-1 if lay.bold else 0},0,0,0,100,100,0,0,1,{lay.outline:g},0,"
                "7,0,0,0,1",
                "",
                "[Events]",
                "Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, "
                "Effect, Text",
            ]
        )


def render(
    comments: Iterable[Comment], layout: Layout, out: IO[str], stats: RenderStats
) -> None:
    """Lay out `comments` (any order) and write the ASS file to `out`."""
    renderer = Renderer(layout)
    out.write(renderer.header() + "\n")
    for comment in sorted(comments, key=lambda c: c.time):
        spot = renderer.place(comment)
        if spot is None:
            stats.dropped += 1
            continue
        out.write(renderer.event(comment, spot[0]) + "\n")
        stats.rendered += 1


def escape(text: str) -> str:
    """Text safe in an ASS event: no override blocks, line breaks as `\\N`."""
    # a backslash followed by a zero-width space cannot start an escape
    text = text.replace("\\", "\\\u200b").replace("{", "\\{").replace("}", "\\}")
    return "\\N".join(text.replace("\r\n", "\n").replace("\r", "\n").split("\n"))


def _clock(secs: float) -> str:
    cs = max(0, round(secs * 100))
    h, rest = divmod(cs, 360000)
    m, rest = divmod(rest, 6000)
    s, c = divmod(rest, 100)
    return f"{h}:{m:02d}:{s:02d}.{c:02d}"


def _bgr(rgb: int) -> str:
    r, g, b = (rgb >> 16) & 0xFF, (rgb >> 8) & 0xFF, rgb & 0xFF
    return f"{b:02X}{g:02X}{r:02X}"


def _luma(rgb: int) -> float:
    r, g, b = (rgb >> 16) & 0xFF, (rgb >> 8) & 0xFF, rgb & 0xFF
    return 0.299 * r + 0.587 * g + 0.114 * b
