"""One ffmpeg process of a recording (with its feeder, if any): start, follow, stop.

Three readers feed one loop, so sink calls never overlap: the segment list pipe (a
csv line `name,start,end` as each file closes), ffmpeg's exit, and ffmpeg's
`-progress` output (media time, noted directly). Every `TICK_SECS` the loop polls the
files (`SegmentFiles.poll`), watches for a stall and for the size limit, and asks the
process group to stop when one is reached; it ends when ffmpeg has exited and its list
pipe is drained. A cancel (or a failing sink) stops the group and drains the same way
before it propagates, so the last file is closed and reported.

With a `SourceRefresher` that can refresh, each tick also watches the URL: a 403/410
in what the programs said stops the run (`expired`), and near the URL's deadline a
refresh is asked for while the run goes on; once a fresh URL arrives the run stops
(`renewed`) so the next one reads it; a refresh that finds the broadcast over stops
it too (`over`).
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import logging
import os
import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from activities.engines.base import finish_uncancelled
from activities.engines.refresh import StreamEnded
from activities.process import ProcessGroup

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from activities.engines.refresh import SourceRefresher
    from activities.engines.remux.files import SegmentFiles
    from activities.engines.remux.output import RemuxSettings
    from activities.engines.remux.resume import EdgeClock
    from activities.process import Child

log = logging.getLogger(__name__)

TICK_SECS = 0.25
# after ffmpeg exited its list pipe reaches EOF at once; this only bounds a surprise
LIST_EOF_SECS = 2.0
STALLED = "stalled"
SIZE_CUT = "size"
# the plan's duration limit changed: the segment muxer's is fixed at start
LIMIT_CUT = "limits"
CANCELLED = "cancelled"
EXPIRED = "expired"
RENEWED = "renewed"
OVER = "over"
# how ffmpeg ("HTTP error 403 Forbidden", "Server returned 410 Gone") and streamlink
# ("403 Client Error: Forbidden") report a refused signed URL
_EXPIRED = re.compile(r"\b(?:403|410) (?:Forbidden|Gone|Client Error)")


@dataclass
class _Event:
    kind: str  # "closed", "list-eof", "exit"
    number: int = 0
    duration: float = 0.0


class FfmpegRun:
    """One ffmpeg run writing into `files`.

    Args:
        files: the recording's files, carried from run to run.
        settings: stop ladder, progress pace.
        url: the stream, for log lines.
        limits: read every tick: `(max_duration_secs, max_size_bytes)`. The open
            file reaching the size stops ffmpeg (`size`; 0 = never); a duration
            other than `duration_secs` (the one the run's segment muxer was
            started with) stops it too (`limits`), so the next run cuts by the
            new duration.
        duration_secs: the duration limit ffmpeg was started with.
        stall_timeout_secs: no new media for this long stops ffmpeg (`stalled`).
        refresher: watches the URL's deadline (see the module); None: no refresh.

    Attributes:
        stop_reason: why this side stopped ffmpeg (`stalled`, `size`, `limits`,
            `cancelled`, `expired`, `renewed`, `over`), or None when ffmpeg
            exited on its own.
        exit_code: ffmpeg's exit status.
        ffmpeg: the ffmpeg process.
        feeder: the feeder process, if any.
    """

    def __init__(
        self,
        files: SegmentFiles,
        settings: RemuxSettings,
        *,
        url: str,
        limits: Callable[[], tuple[float, int]],
        duration_secs: float,
        stall_timeout_secs: float,
        refresher: SourceRefresher | None = None,
    ) -> None:
        self.files = files
        self.settings = settings
        self.url = url
        self.limits = limits
        self.duration_secs = duration_secs
        self.stall_timeout_secs = stall_timeout_secs
        self.refresher = refresher
        self.generation = refresher.generation if refresher else 0
        self._renewal: asyncio.Task[None] | None = None
        self.group = ProcessGroup(settings.stop)
        self.events: asyncio.Queue[_Event] = asyncio.Queue()
        self.ffmpeg: Child | None = None
        self.feeder: Child | None = None
        self.stop_reason: str | None = None
        self.exit_code: int | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._transport: asyncio.ReadTransport | None = None
        self._stopper: asyncio.Task[None] | None = None
        self._list_done = False
        self._exited_at = 0.0
        self._seen_time = 0.0
        self._last_advance = 0.0
        self._speed = ""

    def failure(self) -> str:
        """What the programs said, for an error message."""
        return "; ".join(c.describe() for c in (self.feeder, self.ffmpeg) if c)

    def met_expiry(self) -> bool:
        """Whether a program said the server refused the URL with 403 or 410."""
        return any(
            _EXPIRED.search(line)
            for child in (self.feeder, self.ffmpeg)
            if child is not None
            for line in child.tail
        )

    async def start(
        self,
        argv_for: Callable[[int, str], list[str]],
        feeder: Sequence[str] | None = None,
        feeder_name: str = "feeder",
        *,
        edge: EdgeClock | None = None,
    ) -> None:
        """Start ffmpeg (and the feeder writing into its stdin).

        Args:
            argv_for: ffmpeg's argv, given the list pipe's descriptor and the
                staging pattern.
            feeder: argv of a program whose stdout becomes ffmpeg's stdin.
            feeder_name: the feeder's name in logs and messages.
            edge: where the run's media sits on the live edge, if known.

        Raises:
            RecorderProcessError: a program could not be started.
        """
        pattern = await self.files.new_run(edge)
        list_r, list_w = os.pipe()
        feed_r, feed_w = os.pipe() if feeder is not None else (None, None)
        try:
            self.ffmpeg = await self.group.spawn(
                "ffmpeg",
                argv_for(list_w, pattern),
                stdin=asyncio.subprocess.DEVNULL if feed_r is None else feed_r,
                pass_fds=(list_w,),
            )
            if feeder is not None:
                self.feeder = await self.group.spawn(feeder_name, feeder, stdout=feed_w)
        except BaseException:
            os.close(list_r)
            await finish_uncancelled(self._cleanup())
            raise
        finally:
            # only the children hold these now: ffmpeg's exit closes the list pipe
            for fd in (list_w, feed_r, feed_w):
                if fd is not None:
                    os.close(fd)
        try:
            await self._watch(list_r)
        except BaseException:
            await finish_uncancelled(self._cleanup())
            raise

    async def follow(self) -> None:
        """Report files until ffmpeg has exited; stop it on a stall or size cut.

        Raises:
            asyncio.CancelledError: after ffmpeg finished and the files were closed.
        """
        try:
            await self._consume()
            await self.files.finish_run()
        except BaseException:
            # cancelled, or a sink failed: finish the file before anything else
            await finish_uncancelled(self._abort())
            raise
        finally:
            await finish_uncancelled(self._cleanup())

    # --- readers: they only queue events or note values --------------------------

    async def _watch(self, list_fd: int) -> None:
        self._last_advance = time.monotonic()
        reader = asyncio.StreamReader()
        pipe = os.fdopen(list_fd, "rb", buffering=0)
        try:
            self._transport, _ = await asyncio.get_running_loop().connect_read_pipe(
                lambda: asyncio.StreamReaderProtocol(reader), pipe
            )
        except BaseException:
            pipe.close()
            raise
        self._tasks = [
            asyncio.create_task(self._read_list(reader)),
            asyncio.create_task(self._read_progress()),
            asyncio.create_task(self._watch_exit()),
        ]

    async def _read_list(self, reader: asyncio.StreamReader) -> None:
        try:
            async for raw in reader:
                line = raw.decode(errors="replace").strip()
                if not line:
                    continue
                try:
                    name, start, end = next(csv.reader([line]))[:3]
                    number = self.files.number_of(name)
                    duration = max(0.0, float(end) - float(start))
                except (ValueError, StopIteration):
                    log.warning("unexpected segment list line from ffmpeg: %r", line)
                    continue
                self.events.put_nowait(_Event("closed", number, duration))
        finally:
            self.events.put_nowait(_Event("list-eof"))

    async def _read_progress(self) -> None:
        assert self.ffmpeg is not None
        async for raw in self.ffmpeg.stdout:
            key, _, value = raw.decode(errors="replace").strip().partition("=")
            if key == "out_time_us":
                with contextlib.suppress(ValueError):
                    seconds = int(value) / 1_000_000
                    self.files.out_time = max(self.files.out_time, seconds)
            elif key == "speed":
                self._speed = value

    async def _watch_exit(self) -> None:
        assert self.ffmpeg is not None
        code = await self.ffmpeg.wait()
        self.events.put_nowait(_Event("exit", code))

    # --- the loop -------------------------------------------------------------------

    async def _consume(self) -> None:
        while not (self._list_done and self.exit_code is not None):
            try:
                event: _Event | None = await asyncio.wait_for(
                    self.events.get(), TICK_SECS
                )
            except TimeoutError:
                event = None
            if event is None:
                pass
            elif event.kind == "closed":
                await self.files.ended(event.number, event.duration)
                log.debug("ffmpeg closed file %d (speed %s)", event.number, self._speed)
            elif event.kind == "list-eof":
                self._list_done = True
            else:
                self.exit_code, self._exited_at = event.number, time.monotonic()
            await self._tick()

    async def _tick(self) -> None:
        now = time.monotonic()
        await self.files.poll(now)
        if self.exit_code is not None:
            if not self._list_done and now - self._exited_at > LIST_EOF_SECS:
                log.warning("ffmpeg exited but its segment list stayed open")
                self._list_done = True
            return
        if self.stop_reason is not None:
            return
        if self.files.out_time > self._seen_time:
            self._seen_time, self._last_advance = self.files.out_time, now
        elif now - self._last_advance > self.stall_timeout_secs:
            log.info(
                "no media from %s for %.0f s: stopping",
                self.url,
                now - self._last_advance,
            )
            self._stop(STALLED)
        duration, size = self.limits()
        if 0 < size <= self.files.current_size:
            self._stop(SIZE_CUT)
        elif duration != self.duration_secs:
            log.info("the duration limit is now %g s: restarting ffmpeg", duration)
            self._stop(LIMIT_CUT)
        self._watch_url()

    def _watch_url(self) -> None:
        """Stop for a refused URL, or once a refresh ahead of its deadline came."""
        refresher = self.refresher
        if refresher is None or self.stop_reason is not None:
            return
        renewal = self._renewal
        if renewal is not None and renewal.done():
            self._renewal = None
            if refresher.ended:
                self._stop(OVER)
            elif refresher.generation != self.generation:
                log.info("a fresh URL came before the deadline: restarting")
                self._stop(RENEWED)
        elif not refresher.available:
            return
        elif self.met_expiry():
            self._stop(EXPIRED)
        elif renewal is None and refresher.due():
            self._renewal = asyncio.create_task(self._renew(refresher))

    async def _renew(self, refresher: SourceRefresher) -> None:
        # the outcome is read from the refresher (`ended`, `generation`)
        with contextlib.suppress(StreamEnded):
            await refresher.renew("its deadline is near")

    def _stop(self, reason: str) -> None:
        if self.stop_reason is None:
            self.stop_reason = reason
            self._stopper = asyncio.create_task(self.group.stop())

    # --- ending ---------------------------------------------------------------------

    async def _abort(self) -> None:
        self._stop(CANCELLED)
        try:
            await self._consume()
            await self.files.finish_run()
        except Exception:
            log.exception("while finishing %s after a stop", self.url)

    async def _cleanup(self) -> None:
        renewal, self._renewal = self._renewal, None
        if renewal is not None:
            renewal.cancel()
            await asyncio.gather(renewal, return_exceptions=True)
        if self._stopper is not None:
            await self._stopper
        await self.group.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._transport is not None:
            self._transport.close()
        await self.files.remove_leftovers()
