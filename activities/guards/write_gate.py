"""The output-root write gate: one filesystem failure must not become a retry storm.

    Healthy ──(ENOENT/ENOSPC/EACCES/EROFS… at the root, before or while recording)──►
    Degraded ──(a probe: mkdir + rmdir of a unique directory under the root works)──►
    Healthy

State lives in the `output_root` table, keyed by the root's path, so every worker
shares it and the API lists degraded roots in `/api/health`. Workers that share a
path are taken to share the storage behind it (the compose file's one recordings
volume); hosts with their own disks should use distinct paths.

* Healthy: `check` ensures the root exists and is writable (as the engines would
  create it); a failure trips the gate. Engines' `OSError`s that `owns` recognises
  trip it too (`record.py` maps them).
* Tripping is a compare-and-set in one locked transaction: the one caller that moves
  the root from healthy to degraded stores the single `output_path_inaccessible`
  event of the incident (and logs it); everyone else is merely refused.
* Degraded: one caller per cooldown (30 s) claims the probe, in the same kind of
  transaction; the others fail fast with `OutputPathInaccessibleError` carrying the
  time to the next probe. Each refused workflow is remembered in
  `output_root_block` (in the transaction that refused it, so none slips between a
  refusal and a recovery). No background task probes: the next recording attempt
  after the cooldown does, and `startup` probes once when the worker starts.
* Recovery: the prober whose probe works marks the root healthy, takes the set of
  blocked workflows and signals `check_now` to all of them at once, so the whole
  fleet leaves its backoff on the same tick.
* Events: the trip and the recovery store their `output_path_inaccessible` /
  `output_path_recovered` event in the transaction that decides them (keyed by
  `output_root_event_key`); after the commit the gate hands the key to its event
  sink, which starts the delivery to notification channels.

Error classes: ENOSPC, EDQUOT, EROFS, ESTALE, ENOTCONN and EIO are the filesystem's
whatever the file; ENOENT, EACCES, EPERM and ENOTDIR count only for paths under the
root (an engine's missing binary is not the disk's fault).
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

from sqlmodel import Session
from temporalio import activity
from temporalio.service import RPCError

from activities.contracts import SIGNAL_CHECK_NOW, SignalInput
from activities.db import crud_guards
from activities.db.tables import utcnow
from activities.engines.base import finish_uncancelled
from activities.errors import OutputPathInaccessibleError
from activities.events import EventType, output_root_event_key

if TYPE_CHECKING:
    from datetime import datetime

    import sqlalchemy as sa
    from temporalio.client import Client

    from activities.db.tables import OutputRoot

log = logging.getLogger(__name__)

DEFAULT_COOLDOWN_SECS = 30.0
PROBE_PREFIX = ".srec-probe-"
SIGNAL_RPC_TIMEOUT = timedelta(seconds=10)
_FILESYSTEM_ERRNOS = frozenset(
    {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.ESTALE, errno.ENOTCONN, errno.EIO}
)
_PATH_ERRNOS = frozenset({errno.ENOENT, errno.EACCES, errno.EPERM, errno.ENOTDIR})

Signaller: TypeAlias = Callable[[Sequence[str]], Awaitable[None]]
"""Wakes workflows by id; the gate calls it with the workflows a recovery unblocks."""

EventSink: TypeAlias = Callable[[str], Awaitable[None]]
"""Starts delivering a recorded event, by key (`activities.notify.Dispatcher`)."""


def check_now_signaller(
    get_client: Callable[[], Client] = activity.client,
) -> Signaller:
    """Signal `check_now` to workflows, concurrently; failures are only logged.

    Args:
        get_client: the Temporal client (default: the running activity's).
    """

    async def signal(workflow_ids: Sequence[str]) -> None:
        if not workflow_ids:
            return
        try:
            client = get_client()
        except RuntimeError as err:  # not in an activity, and no client given
            log.warning("cannot wake %d workflow(s): %s", len(workflow_ids), err)
            return

        async def one(workflow_id: str) -> None:
            try:
                await client.get_workflow_handle(workflow_id).signal(
                    SIGNAL_CHECK_NOW,
                    SignalInput(reason="output root recovered"),
                    rpc_timeout=SIGNAL_RPC_TIMEOUT,
                )
            except (RPCError, RuntimeError, TimeoutError) as err:
                log.warning("could not wake %s: %s", workflow_id, err)

        await asyncio.gather(*(one(w) for w in workflow_ids))

    return signal


def describe(err: OSError) -> str:
    """`ENOSPC: No space left on device: '/rec/a.ts'`."""
    name = errno.errorcode.get(err.errno or 0, "OSError")
    where = f": {err.filename!r}" if err.filename else ""
    return f"{name}: {err.strerror or err}{where}"


class WriteGate:
    """The write gate of one output root (see the module docstring).

    Args:
        db: the app database engine.
        root: the output root (the recordings directory).
        cooldown_secs: while degraded, at most one probe per this many seconds.
        clock: wall clock (UTC), replaceable in tests.
        signaller: wakes blocked workflows on recovery (default: `check_now` through
            the running activity's client).
        events: starts delivering the gate's events; without one they wait for
            the notification maintenance schedule's redrive.
    """

    def __init__(
        self,
        db: sa.Engine,
        root: Path,
        *,
        cooldown_secs: float = DEFAULT_COOLDOWN_SECS,
        clock: Callable[[], datetime] = utcnow,
        signaller: Signaller | None = None,
        events: EventSink | None = None,
    ) -> None:
        self.db = db
        self.root = root
        self.path = str(root)
        self.cooldown = timedelta(seconds=cooldown_secs)
        self.clock = clock
        self.signaller = signaller or check_now_signaller()
        self.events = events

    def owns(self, err: BaseException) -> bool:
        """Whether an error is the output root's fault (see the module docstring)."""
        if not isinstance(err, OSError) or err.errno is None:
            return False
        if err.errno in _FILESYSTEM_ERRNOS:
            return True
        if err.errno not in _PATH_ERRNOS:
            return False
        if err.filename is None:
            return True
        try:
            return Path(os.fsdecode(err.filename)).is_relative_to(self.root)
        except (TypeError, ValueError):
            return False

    async def check(self, workflow_id: str | None) -> None:
        """Let a recording start, or refuse it while the root is degraded.

        Args:
            workflow_id: the workflow to wake when the root recovers.

        Raises:
            OutputPathInaccessibleError: the root is degraded (or just tripped).
        """
        root = await asyncio.to_thread(self._read)
        if root is None or root.state != crud_guards.DEGRADED:
            try:
                await asyncio.to_thread(self._ensure_root)
            except OSError as err:
                if not self.owns(err):
                    raise
                raise await self.trip(err, workflow_id) from err
            return
        wait, error = await asyncio.to_thread(self._claim_probe, workflow_id)
        if wait is not None:
            raise OutputPathInaccessibleError(
                f"output root {self.path} is degraded ({error}); "
                f"next probe in {wait:.0f} s",
                retry_after_secs=wait,
            )
        await self._probe(workflow_id)

    async def trip(
        self, err: OSError, workflow_id: str | None
    ) -> OutputPathInaccessibleError:
        """Record a write failure at the root; return the error to raise.

        Args:
            err: the failure (one that `owns`).
            workflow_id: the workflow to wake when the root recovers.
        """
        detail = describe(err)
        now = self.clock()
        opened = await finish_uncancelled(
            asyncio.to_thread(self._trip_sync, detail, workflow_id, now)
        )
        if opened:
            log.error(
                "output_path_inaccessible: output root %s is degraded: %s; "
                "recordings there wait until a probe succeeds",
                self.path,
                detail,
            )
            await self._announce(EventType.OUTPUT_PATH_INACCESSIBLE, now)
        return OutputPathInaccessibleError(
            f"output root {self.path} is inaccessible: {detail}",
            retry_after_secs=self.cooldown.total_seconds(),
        )

    async def startup(self) -> bool:
        """Probe once as the worker starts, so a broken mount shows from second zero.

        Returns:
            True when the root is usable.
        """
        try:
            await self.check(None)
        except OutputPathInaccessibleError as err:
            log.warning("%s", err)
            return False
        return True

    async def _probe(self, workflow_id: str | None) -> None:
        try:
            await asyncio.to_thread(self._probe_sync)
        except OSError as err:
            detail = describe(err)
            await finish_uncancelled(
                asyncio.to_thread(self._probe_failed_sync, detail, workflow_id)
            )
            log.warning("output root %s is still inaccessible: %s", self.path, detail)
            raise OutputPathInaccessibleError(
                f"output root {self.path} is inaccessible: {detail}",
                retry_after_secs=self.cooldown.total_seconds(),
            ) from err
        now = self.clock()
        blocked = await finish_uncancelled(
            asyncio.to_thread(self._heal_sync, workflow_id, now)
        )
        if blocked is None:
            return
        await self._announce(EventType.OUTPUT_PATH_RECOVERED, now)
        others = [w for w in blocked if w != workflow_id]
        log.warning(
            "output root %s recovered; waking %d blocked streamer(s)",
            self.path,
            len(others),
        )
        await self.signaller(others)

    async def _announce(self, kind: EventType, at: datetime) -> None:
        # a cancelled or failed hand-over is caught up by the maintenance redrive
        if self.events is not None:
            await self.events(output_root_event_key(kind, self.path, at))

    # --- blocking calls (run in threads) ----------------------------------------------

    def _ensure_root(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if not os.access(self.root, os.W_OK | os.X_OK):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), self.path)

    def _probe_sync(self) -> None:
        # the real thing: a directory create, as an engine's first file needs
        self.root.mkdir(parents=True, exist_ok=True)
        probe = self.root / f"{PROBE_PREFIX}{uuid.uuid4().hex}"
        probe.mkdir()
        probe.rmdir()

    def _read(self) -> OutputRoot | None:
        with Session(self.db) as db:
            return crud_guards.get_output_root(db, self.path)

    def _claim_probe(self, workflow_id: str | None) -> tuple[float | None, str]:
        with Session(self.db) as db:
            return crud_guards.claim_output_root_probe(
                db,
                path=self.path,
                workflow_id=workflow_id,
                now=self.clock(),
                cooldown=self.cooldown,
            )

    def _trip_sync(self, detail: str, workflow_id: str | None, now: datetime) -> bool:
        with Session(self.db) as db:
            return crud_guards.trip_output_root(
                db, path=self.path, error=detail, workflow_id=workflow_id, now=now
            )

    def _probe_failed_sync(self, detail: str, workflow_id: str | None) -> None:
        with Session(self.db) as db:
            crud_guards.fail_output_root_probe(
                db,
                path=self.path,
                error=detail,
                workflow_id=workflow_id,
                now=self.clock(),
            )

    def _heal_sync(self, workflow_id: str | None, now: datetime) -> list[str] | None:
        with Session(self.db) as db:
            return crud_guards.heal_output_root(
                db, path=self.path, now=now, healed_by=workflow_id
            )
