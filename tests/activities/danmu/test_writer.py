"""The Bilibili-style XML writer, crash repair and statistics."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

import biliass
import pytest

from activities.danmu import (
    DanmakuXmlWriter,
    DanmuMessage,
    MessageKind,
    RoomMeta,
    StatisticsAccumulator,
    close_unterminated,
)
from tests.fakes.danmu.frames import RESOURCES

START = datetime(2024, 8, 18, 12, 0, tzinfo=UTC)
T0 = START.timestamp()
META = RoomMeta(platform="bilibili", room_id="22637261", name="主播", title="标题 <&>")
HOSTILE = [
    '<d p="1">&amp;</d>]]>"\'',  # XML metacharacters
    "bad \x00\x01\x08\x0b\x1f\x7f\x85\ufeff\ufffe controls",
    "\ud800 lone surrogate",  # what invalid UTF-8 becomes via surrogateescape
    "bytes \ufffd\ufffd from invalid UTF-8",
    "مرحبا بالعالم \u202eRTL override",
    "emoji 👨‍👩‍👧‍👦🏳️‍🌈 and 𠜎",
    "line\nbreaks\r\nflattened",
    "x" * 1_000_000,
]


def chat(i: int, text: str = "", at: float = 1.0) -> DanmuMessage:
    return DanmuMessage(
        MessageKind.CHAT,
        str(1000 + i % 13),
        f"user{i % 13}",
        text or f"msg {i}",
        received_at=T0 + at,
        id=f"m{i}",
    )


def paid() -> list[DanmuMessage]:
    return [
        DanmuMessage(
            MessageKind.GIFT,
            "1",
            "g<>",
            received_at=T0 + 2,
            gift_name="小花花",
            count=3,
            price=100,
            currency="CNY",
        ),
        DanmuMessage(
            MessageKind.SUPER_CHAT,
            "2",
            "s",
            "醒目 & 留言",
            received_at=T0 + 3,
            price=30_000,
            currency="CNY",
            duration_secs=60,
        ),
        DanmuMessage(
            MessageKind.GUARD,
            "3",
            "舰长",
            received_at=T0 + 4,
            gift_name="舰长",
            level=3,
            price=198_000,
            currency="CNY",
        ),
        DanmuMessage(MessageKind.USER_JOIN, "4", "j", received_at=T0 + 5),
    ]


def write(path: Path, messages: list[DanmuMessage]) -> Path:
    writer = DanmakuXmlWriter(path, META, index=0, wall_start=START, media_start=12.5)
    for msg in messages:
        writer.add(msg)
    writer.close()
    return path


def test_shape_matches_bililiverecorder(tmp_path: Path) -> None:
    path = write(tmp_path / "a.xml", [chat(1, at=0.581), *paid()])
    data = path.read_bytes()
    assert data.index(b"<BililiveRecorder ") < 1024  # DanmakuFactory's check
    root = ET.fromstring(data)
    reference = ET.parse(RESOURCES / "danmaku" / "brec_1.3.11_sample.xml").getroot()
    assert root.tag == reference.tag == "i"
    ours_head = [e.tag for e in root][:9]
    assert (
        ours_head
        == [e.tag for e in reference if e.tag != "BililiveRecorderXmlStyle"][:9]
    )
    assert set(reference.find("BililiveRecorderRecordInfo").attrib) <= set(
        root.find("BililiveRecorderRecordInfo").attrib
    )  # type: ignore[union-attr]
    d = root.find("d")
    assert d is not None
    assert d.text == "msg 1"
    assert d.get("user") == "user1"
    p = d.get("p", "").split(",")
    assert len(p) == 8
    assert p[0] == "0.581"
    assert p[1:4] == ["1", "25", "16777215"]
    assert p[6] == "1001"
    assert reference.find("d").get("p").count(",") == 7  # type: ignore[union-attr]
    gift, sc, guard = root.find("gift"), root.find("sc"), root.find("guard")
    assert gift is not None
    assert gift.attrib | {} == gift.attrib
    assert (
        gift.get("giftname"),
        gift.get("giftcount"),
        gift.get("price"),
        gift.get("user"),
    ) == ("小花花", "3", "100", "g<>")
    assert sc is not None
    assert (sc.text, sc.get("price"), sc.get("time")) == (
        "醒目 & 留言",
        "30",
        "60",
    )
    assert guard is not None
    assert (guard.get("level"), guard.get("count")) == ("3", "1")
    assert root.find("BililiveRecorderRecordInfo").get("media_start") == "12.500"  # type: ignore[union-attr]
    assert len(root.findall("*")) == 9 + 4  # the join is statistics only


def test_hostile_text_stays_valid_xml(tmp_path: Path) -> None:
    path = write(tmp_path / "h.xml", [chat(i, t) for i, t in enumerate(HOSTILE)])
    texts = [d.text or "" for d in ET.parse(path).getroot().iter("d")]
    assert texts[0] == HOSTILE[0]
    assert texts[1] == "bad  controls"
    assert texts[2] == " lone surrogate"
    assert texts[4] == HOSTILE[4]
    assert texts[5] == HOSTILE[5]
    assert texts[6] == "line breaks flattened"
    assert len(texts[7]) == 1_000_000
    # one element per line: what makes crash repair possible
    assert sum(
        1 for line in path.read_bytes().splitlines() if line.startswith(b"<d ")
    ) == len(HOSTILE)


def test_biliass_converts_what_we_write(tmp_path: Path) -> None:
    messages = (
        [chat(i, t) for i, t in enumerate(HOSTILE[:-1])] + paid() + [chat(99, at=7.0)]
    )
    ass = biliass.convert_to_ass(
        write(tmp_path / "b.xml", messages).read_bytes(), 1920, 1080
    )
    assert ass.count("Dialogue:") == len(HOSTILE) - 1 + 1


def test_refuses_to_overwrite(tmp_path: Path) -> None:
    write(tmp_path / "x.xml", [])
    with pytest.raises(FileExistsError):
        DanmakuXmlWriter(tmp_path / "x.xml", META, index=0, wall_start=START)


def test_take_from_moves_late_messages(tmp_path: Path) -> None:
    writer = DanmakuXmlWriter(tmp_path / "t.xml", META, index=0, wall_start=START)
    for i in range(10):
        writer.add(chat(i, at=float(i)))
    moved = writer.take_from(T0 + 6)
    assert [m.id for m in moved] == ["m6", "m7", "m8", "m9"]
    writer.close()
    assert writer.count == 6


def test_repair_closes_a_crashed_file(tmp_path: Path) -> None:
    path = tmp_path / "c.xml"
    writer = DanmakuXmlWriter(path, META, index=0, wall_start=START)
    for i in range(20):
        writer.add(chat(i, HOSTILE[i % 7]))
    writer.flush()  # then the worker dies: no closing tag, and a torn last line
    with path.open("ab") as f:
        f.write(b'<d p="9.000,1,25,16777215,0,0,1,0" user="cut">half a mess')
    with pytest.raises(ET.ParseError):
        ET.parse(path)
    result = close_unterminated(path)
    assert (result.changed, result.kept, result.dropped) == (True, 20, 1)
    assert len(list(ET.parse(path).getroot().iter("d"))) == 20
    assert close_unterminated(path).changed is False
    biliass.convert_to_ass(path.read_bytes(), 1920, 1080)


def test_repair_after_a_crash_between_flushes(tmp_path: Path) -> None:
    path = tmp_path / "e.xml"
    DanmakuXmlWriter(path, META, index=3, wall_start=START)  # header only, never closed
    assert close_unterminated(path).kept == 0
    assert (
        ET.parse(path).getroot().find("BililiveRecorderRecordInfo").get("segment")
        == "3"
    )  # type: ignore[union-attr]
    foreign = tmp_path / "f.xml"
    foreign.write_text("<html>")
    with pytest.raises(ValueError, match="not a danmaku XML"):
        close_unterminated(foreign)


def test_statistics() -> None:
    stats = StatisticsAccumulator(T0, bucket_secs=60)
    for i in range(130):
        stats.add(chat(i, "好好好 hello world [热]" if i % 2 else "快快快 hello", at=i))
    for msg in paid():
        stats.add(msg)
    snap = stats.snapshot()
    assert snap.total == 134
    assert snap.by_kind == {
        "chat": 130,
        "gift": 1,
        "super_chat": 1,
        "guard": 1,
        "user_join": 1,
    }
    assert snap.unique_talkers == 13
    assert [b.count for b in snap.rate] == [64, 60, 10]  # paid ones at 2-5 s
    assert snap.peak_per_minute == 64
    assert snap.top_talkers[0].messages == 10
    top3 = {(w.word, w.count) for w in snap.top_words[:3]}
    assert top3 == {("hello", 130), ("好好好", 65), ("快快快", 65)}
    assert all(w.word != "热" for w in snap.top_words)
    assert [g.name for g in snap.top_gifts] == ["舰长", "super_chat", "小花花"]
    assert snap.gift_value == {"CNY": 228.3}
    assert type(snap).model_validate_json(snap.model_dump_json()) == snap


def test_flush_before_keeps_the_young_messages_queued(tmp_path: Path) -> None:
    writer = DanmakuXmlWriter(tmp_path / "h.xml", META, index=0, wall_start=START)
    for i in range(6):
        writer.add(chat(i, at=float(i)))
    assert writer.flush(before=T0 + 3.5) == 4
    assert (writer.count, writer.flushed_until) == (4, T0 + 3.0)
    assert writer.flush(before=T0 + 3.5) == 0  # nothing old enough is left
    # a boundary noticed late still takes what it should: nothing was written yet
    assert [m.id for m in writer.take_from(T0 + 5)] == ["m5"]
    writer.close()
    assert writer.count == 5


@pytest.mark.parametrize("crashed", [pytest.param(False), pytest.param(True)])
def test_reopen_continues_a_file_after_its_last_message(
    tmp_path: Path, crashed: bool
) -> None:
    path = tmp_path / "r.xml"
    writer = DanmakuXmlWriter(path, META, index=2, wall_start=START, media_start=1.5)
    for i in range(3):
        writer.add(chat(i, at=float(i)))
    if crashed:  # flushed, then killed mid-write: no closing tag, a torn line
        writer.flush()
        with path.open("ab") as f:
            f.write(b'<d p="9.0,1,25')
    else:
        writer.close()
    kept = close_unterminated(path).kept
    again = DanmakuXmlWriter.reopen(path, index=2, wall_start=START, count=kept)
    again.add(chat(3, "after", at=7.0))
    again.close()
    root = ET.parse(path).getroot()
    assert [d.text for d in root.iter("d")] == ["msg 0", "msg 1", "msg 2", "after"]
    assert root.find("d[4]").get("p").startswith("7.000,")  # type: ignore[union-attr]
    assert again.count == 4
    assert path.read_bytes().count(b"</i>") == 1
    assert path.read_bytes().count(b"<BililiveRecorder ") == 1


def test_reopen_refuses_a_file_without_its_closing_tag(tmp_path: Path) -> None:
    path = tmp_path / "open.xml"
    DanmakuXmlWriter(path, META, index=0, wall_start=START).flush()
    with pytest.raises(ValueError, match="does not end"):
        DanmakuXmlWriter.reopen(path, index=0, wall_start=START, count=0)
    assert path.read_bytes().startswith(b"<?xml")  # untouched


def test_statistics_continue_from_a_saved_state(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    whole = StatisticsAccumulator(T0, bucket_secs=60)
    first = StatisticsAccumulator(T0, bucket_secs=60)
    for i in range(60):
        for acc in (whole, first):
            acc.add(chat(i, "你好 hello", at=i))
    for msg in paid():
        whole.add(msg)
        first.add(msg)
    saved = type(first.state()).model_validate_json(first.state().model_dump_json())
    resumed = StatisticsAccumulator.restore(saved)
    for i in range(60, 130):
        whole.add(chat(i, "again", at=i))
        resumed.add(chat(i, "again", at=i))
    assert resumed.snapshot() == whole.snapshot()
    # past the cap only the most active talkers keep their names: all still count
    monkeypatch.setattr("activities.danmu.stats.STATE_TALKERS", 5)
    capped = StatisticsAccumulator.restore(whole.state())
    assert len(capped.talkers) == 5
    assert capped.snapshot().unique_talkers == whole.snapshot().unique_talkers == 13
    assert capped.snapshot().top_talkers[:5] == whole.snapshot().top_talkers[:5]
