"""Bilibili-style danmaku XML, as BililiveRecorder writes it, one file per segment.

The shape every downstream tool reads (DanmakuFactory, biliass, danmu2ass)::

    <?xml version="1.0" encoding="utf-8"?>
    <i>
    <chatserver>…</chatserver> … <BililiveRecorder version="…"/>
    <BililiveRecorderRecordInfo roomid="…" name="…" title="…" start_time="…"/>
    <d p="time,mode,size,color,ts_ms,pool,uid,id" user="…">text</d>
    <gift ts="…" user="…" uid="…" giftname="…" giftcount="…" price="…"/>
    <sc ts="…" user="…" uid="…" price="…" time="…">text</sc>
    <guard ts="…" user="…" uid="…" level="…" count="…"/>
    </i>

`time`/`ts` are seconds since the segment's first frame. DanmakuFactory only
recognises the file (and reads `<sc price>` in whole yuan) when `<BililiveRecorder`
is within its first 1,024 bytes, so the header stays short. Gift `price` is the unit
price in thousandths of the currency (Bilibili's gold), as DanmakuFactory reads it.

Crash safety: every element is one line, rendered whole, and written with one
`os.write` of complete lines at each `flush()`; line breaks inside text become
spaces (biliass rejects `&#10;`). A crash therefore leaves a file that is valid
XML but for the
closing `</i>` (and at worst one cut line), which `repair.close_unterminated` fixes.
"""

from __future__ import annotations

import os
import re
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from xml.sax.saxutils import escape

from activities.danmu.models import XML_KINDS, MessageKind

if TYPE_CHECKING:
    from pathlib import Path

    from activities.danmu.models import DanmuMessage

RECORDER = "srec"
CLOSING = b"</i>\n"
# XML 1.0 forbids C0 controls (but tab/LF/CR), lone surrogates and U+FFFE/U+FFFF;
# C1 controls and the BOM are legal but break players, as BililiveRecorder found
_INVALID = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufeff\ufffe\uffff\ud800-\udfff]"
)
# biliass rejects numeric character references (`&#10;`), and a message must stay
# on one line for crash repair: line breaks and tabs become spaces (a danmaku is
# drawn on one line anyway)
_LINE_BREAKS = {"\r\n": " ", "\n": " ", "\r": " "}
_ATTR_ENTITIES = {'"': "&quot;", "\r\n": " ", "\n": " ", "\r": " ", "\t": " "}


def clean(text: str) -> str:
    """Text with the characters XML cannot carry (or players choke on) removed."""
    return _INVALID.sub("", text)


def text_node(text: str) -> str:
    """Escaped element text, one line."""
    return escape(clean(text), _LINE_BREAKS)


def attr(text: str) -> str:
    """A double-quoted, escaped attribute value, one line.

    Always double quotes: DanmakuFactory finds `user` values between `"`s.
    """
    return '"' + escape(clean(text), _ATTR_ENTITIES) + '"'


def uid_number(user_id: str) -> int:
    """The numeric uid BililiveRecorder writes in `p`: the id itself, else its CRC32."""
    return int(user_id) if user_id.isdigit() else zlib.crc32(user_id.encode())


@dataclass(frozen=True)
class RoomMeta:
    """What the file header says about the recording."""

    platform: str
    room_id: str
    name: str = ""
    title: str = ""
    area_parent: str = ""
    area_child: str = ""
    recorder_version: str = "0.1.0"


def render(msg: DanmuMessage, ts: float) -> str:
    """One message as its XML line (without the newline); '' when not recorded."""
    user, uid = attr(msg.user_name), msg.user_id
    sent = msg.sent_at_ms or int(msg.received_at * 1000)
    if msg.kind is MessageKind.CHAT:
        p = f"{ts:.3f},{msg.mode},{msg.size},{msg.color},{sent},0,{uid_number(uid)},0"
        return f'<d p="{p}" user={user}>{text_node(msg.text)}</d>'
    if msg.kind is MessageKind.GIFT:
        return (
            f'<gift ts="{ts:.3f}" user={user} uid={attr(uid)} '
            f'giftname={attr(msg.gift_name)} giftcount="{msg.count}" '
            f'price="{msg.price}" />'
        )
    if msg.kind is MessageKind.SUPER_CHAT:
        return (
            f'<sc ts="{ts:.3f}" user={user} uid={attr(uid)} '
            f'price="{msg.price // 1000}" time="{msg.duration_secs}">'
            f"{text_node(msg.text)}</sc>"
        )
    if msg.kind is MessageKind.GUARD:
        return (
            f'<guard ts="{ts:.3f}" user={user} uid={attr(uid)} '
            f'level="{msg.level}" count="{msg.count}" />'
        )
    return ""


def header(meta: RoomMeta, wall_start: datetime, index: int, media_start: float) -> str:
    """The lines before the first message (ending with a newline)."""
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<i>\n'
        "<chatserver>chat.bilibili.com</chatserver><chatid>0</chatid>"
        "<mission>0</mission><maxlimit>1000</maxlimit><state>0</state>"
        "<real_name>0</real_name><source>0</source>\n"
        f"<BililiveRecorder version={attr(f'{RECORDER} {meta.recorder_version}')} />\n"
        f'<BililiveRecorderRecordInfo roomid={attr(meta.room_id)} shortid="0" '
        f"name={attr(meta.name)} title={attr(meta.title)} "
        f"areanameparent={attr(meta.area_parent)} "
        f"areanamechild={attr(meta.area_child)} "
        f'start_time="{wall_start.isoformat()}" platform={attr(meta.platform)} '
        f'segment="{index}" media_start="{media_start:.3f}" />\n'
    )


class DanmakuXmlWriter:
    """Writes one segment's file; messages wait in memory until `flush()`.

    Attributes:
        path: the file.
        index: the segment index it belongs to.
        started: the segment's first frame (time 0 of the file).
        wall_start: the same, in epoch seconds.
        count: messages written to disk so far (flushed).
        flushed_until: receipt time of the last message flushed by this writer.
    """

    def __init__(
        self,
        path: Path,
        meta: RoomMeta,
        *,
        index: int,
        wall_start: datetime,
        media_start: float = 0.0,
    ) -> None:
        """Create the file and write its header.

        Raises:
            FileExistsError: the path exists (a file is never overwritten; an
                earlier attempt's file is continued with `reopen`).
            OSError: it cannot be created.
        """
        self._setup(path, index, wall_start, 0)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd: int | None = os.open(
            path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644
        )
        self._write(
            header(meta, wall_start.astimezone(UTC), index, media_start).encode()
        )

    @classmethod
    def reopen(
        cls, path: Path, *, index: int, wall_start: datetime, count: int
    ) -> DanmakuXmlWriter:
        """Continue a closed file: its closing tag is cut off, and new messages
        follow its last one (a retried attempt continues its segment's file).

        Args:
            path: a file this writer closed, or `close_unterminated` repaired.
            index: its segment index.
            wall_start: its time 0 (its header's `start_time`).
            count: message elements already in it (`RepairResult.kept`).

        Raises:
            ValueError: the file does not end with the closing tag.
            OSError: it cannot be opened.
        """
        writer = cls.__new__(cls)
        writer._setup(path, index, wall_start, count)
        fd = os.open(path, os.O_RDWR)
        try:
            size = os.fstat(fd).st_size
            tail_at = max(0, size - 64)
            os.lseek(fd, tail_at, os.SEEK_SET)
            tail = os.read(fd, size - tail_at).rstrip()
            if not tail.endswith(CLOSING.rstrip()):
                raise ValueError(f"{path} does not end with {CLOSING!r}")
            cut = tail_at + len(tail) - len(CLOSING.rstrip())
            os.ftruncate(fd, cut)
            os.lseek(fd, cut, os.SEEK_SET)
        except BaseException:
            os.close(fd)
            raise
        writer._fd = fd
        return writer

    def _setup(self, path: Path, index: int, wall_start: datetime, count: int) -> None:
        if wall_start.tzinfo is None:
            raise ValueError("wall_start must be timezone-aware")
        self.path = path
        self.index = index
        self.started = wall_start
        self.wall_start = wall_start.timestamp()
        self.count = count
        self.flushed_until: float | None = None
        self.pending: list[DanmuMessage] = []

    @property
    def closed(self) -> bool:
        """True once `close()` ran."""
        return self._fd is None

    def add(self, msg: DanmuMessage) -> bool:
        """Queue a message for the next flush; False for kinds the XML omits."""
        if msg.kind not in XML_KINDS:
            return False
        self.pending.append(msg)
        return True

    def take_from(self, wall_start: float) -> list[DanmuMessage]:
        """Remove and return queued messages received at or after `wall_start`.

        At a segment boundary these belong to the next file: they arrived after its
        first frame but before the rotation reached us.
        """
        keep = [m for m in self.pending if m.received_at < wall_start]
        moved = [m for m in self.pending if m.received_at >= wall_start]
        self.pending = keep
        return moved

    def flush(self, before: float | None = None) -> int:
        """Write queued messages as complete lines; return how many.

        Args:
            before: write only those received before this epoch time; the rest
                wait, so a segment boundary noticed late can still move them.
        """
        if not self.pending or self._fd is None:
            return 0
        batch = self.pending
        if before is not None:
            # in receipt order: the first one too young ends the batch
            cut = next(
                (n for n, m in enumerate(batch) if m.received_at >= before), len(batch)
            )
            batch = batch[:cut]
            if not batch:
                return 0
        start = self.wall_start
        lines = [render(m, max(0.0, m.received_at - start)) for m in batch]
        self._write(("\n".join(lines) + "\n").encode("utf-8", "replace"))
        self.count += len(lines)
        self.flushed_until = batch[-1].received_at
        self.pending = self.pending[len(batch) :]
        return len(lines)

    def close(self, *, sync: bool = True) -> None:
        """Flush, write the closing tag and close (fsync first when `sync`)."""
        if self._fd is None:
            return
        try:
            self.flush()
            self._write(CLOSING)
            if sync:
                os.fsync(self._fd)
        finally:
            os.close(self._fd)
            self._fd = None

    def _write(self, data: bytes) -> None:
        assert self._fd is not None
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view) :]
