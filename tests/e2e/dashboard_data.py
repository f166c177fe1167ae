"""What the dashboard's browser tests write and serve: a recorded session with its
danmaku (XML and the ASS the danmaku step renders), and a picture host."""

from __future__ import annotations

import struct
import threading
import zlib
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from sqlmodel import Session

from activities.danmu import DanmuMessage, MessageKind, StatisticsAccumulator
from activities.db import Streamer, crud, crud_danmu, crud_sessions
from activities.processors.danmaku import convert
from activities.processors.danmaku_render import Layout

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    import sqlalchemy as sa

DANMAKU_XML = """<?xml version="1.0" encoding="utf-8"?>
<i>
<d p="0.300,1,25,16777215,0,0,0,0" user="ann">hello danmaku</d>
<d p="0.600,1,25,16711680,0,0,0,0" user="bob">second one</d>
</i>
"""


def recorded_session(engine: sa.Engine, video: Path) -> int:
    """A finished session of one MP4 segment with its danmu file and statistics."""
    start = datetime.now(UTC)
    stats = StatisticsAccumulator(start.timestamp())
    for n, user in enumerate(["ann", "bob", "ann"]):
        stats.add(
            DanmuMessage(MessageKind.CHAT, user, user, "hi", start.timestamp() + 61 * n)
        )
    with Session(engine) as db:
        streamer = crud.create_streamer(
            db,
            Streamer(
                name="Carol", url="https://example.com/c.m3u8", platform="generic"
            ),
        )
        assert streamer.id is not None
        session = crud_sessions.open_session(
            db, streamer_id=streamer.id, title="carol live", start_time=start
        )
        session_id = session.id
        assert session_id is not None
        crud_sessions.begin_segment(
            db, session_id=session_id, index=0, file_path=str(video)
        )
        crud_sessions.complete_segment(
            db,
            session_id=session_id,
            index=0,
            size_bytes=video.stat().st_size,
            duration_secs=4.0,
        )
        xml = video.with_suffix(".xml")
        xml.write_text(DANMAKU_XML)
        # what the `danmaku` pipeline step writes beside it
        convert(xml, video.with_suffix(".ass"), Layout())
        crud_danmu.begin_file(
            db, session_id=session_id, index=0, file_path=str(xml), started_at=start
        )
        crud_danmu.close_file(db, session_id=session_id, index=0, message_count=2)
        crud_danmu.save_statistics(
            db,
            session_id,
            statistics=stats.snapshot().model_dump(mode="json"),
            state=stats.state().model_dump(mode="json"),
            complete=True,
        )
        crud_sessions.close_session(db, session_id, start + timedelta(seconds=4))
    return session_id


def red_pixel_png() -> bytes:
    """A 1x1 PNG of one red pixel."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)  # 8-bit RGB
    pixels = zlib.compress(b"\x00\xff\x00\x00")  # filter 0, then R G B
    return b"\x89PNG\r\n\x1a\n" + b"".join(
        (chunk(b"IHDR", header), chunk(b"IDAT", pixels), chunk(b"IEND", b""))
    )


@contextmanager
def serve_pictures() -> Iterator[tuple[str, list[dict[str, str]]]]:
    """A loopback picture host (`/face.png`; anything else is 404): its address,
    and the headers of every request it got."""
    asked: list[dict[str, str]] = []

    class Pictures(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append({k.lower(): v for k, v in self.headers.items()})
            found = self.path == "/face.png"
            self.send_response(200 if found else 404)
            self.send_header("Content-Type", "image/png")
            self.end_headers()
            if found:
                self.wfile.write(red_pixel_png())

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Pictures)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", asked
    finally:
        server.shutdown()
        server.server_close()
