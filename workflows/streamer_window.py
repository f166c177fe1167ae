"""The offline window: after a recording stops, the stream is checked at once. Live:
the same session records on. The platform's clean "offline" (HLS ENDLIST, an API
saying offline) is authoritative: the session ends at once. Anything else (the
stream unreachable, a failed check) is an unexplained drop: it is confirmed
`offline_check_count` more times, `offline_check_delay_secs` apart, and a return
in between continues the session. A pause stops the recording and holds the window
open: resumed inside it, the session goes on. The chat saying the broadcast ended
(`SessionChat.ended`, when the policy acts on it) ends the window at once too.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities import contracts as c
    from activities import filters

if TYPE_CHECKING:
    from collections.abc import Callable

    from workflows.streamer_base import StreamerBase
    from workflows.streamer_danmu import SessionChat


async def offline_window(
    host: StreamerBase, schedule_closed: Callable[[], bool], chat: SessionChat
) -> c.Detected | None:
    """After a recording stopped: the stream back (the same session goes on), or
    None (the session ends)."""
    policy = host.cfg.policy
    deadline = workflow.now() + timedelta(seconds=policy.grace_secs)
    confirmations = 0
    while not host._stop:
        if host._paused:
            await host._transition(c.StreamerState.DISABLED)
            left = deadline - workflow.now()
            if not await host._wait(lambda: not host.interrupted, left):
                return None  # still paused when the window closed
            continue
        if schedule_closed() or chat.ended:
            return None
        found = await host._check()
        if found.recordable:
            verdict = filters.evaluate(
                host.cfg.filters, workflow.now(), found.title, found.category
            )
            return found if verdict.passes else None
        if found.outcome is c.LiveOutcome.OFFLINE and found.error is None:
            return None  # the platform says it ended: authoritative
        if confirmations >= policy.offline_check_count:
            return None  # an unexplained drop, confirmed
        confirmations += 1
        await host._wait(
            lambda: host._check_now or host.interrupted or chat.ended,
            timedelta(seconds=policy.offline_check_delay_secs),
        )
    return None
