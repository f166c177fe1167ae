"""The streamer workflow's state, and the one place each of its effects happens.

`StreamerBase` holds what `workflows.streamer.StreamerWorkflow` knows about its
streamer (configuration, state, errors, the flags its signals set) and the steps
every part of the workflow shares:

* `_transition(state, reason)`: THE place a state changes. It updates the
  `SrecState` search attribute and projects state, pause, reason and last error to
  the DB (`store.project_state`), once per change. Its callers emit the
  notification events of their transitions (`workflows.streamer_notify`).
* `_check()`: the workflow's own live check (`workflows.streamer_check`), as a
  `Detected` (the shape the pollers' signal carries): both take one path.
* `store(...)`: a store activity through its typed reference, waiting out the
  refusals of another instance's workers (`workflows.store_call`).

Activities are called through their classes' methods (`execute_activity_method`),
imported passed through the sandbox: the worker loads them once, outside it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from temporalio import workflow
from temporalio.common import SearchAttributeKey

with workflow.unsafe.imports_passed_through():
    from activities import contracts as c
    from activities.store import StoreActivities

from workflows.store_call import call_store
from workflows.streamer_check import check_live
from workflows.streamer_notify import StreamerEvents

if TYPE_CHECKING:
    from collections.abc import Callable

    from workflows.streamer_session import StreamerSession

PLATFORM = SearchAttributeKey.for_keyword(c.SEARCH_ATTRIBUTE_PLATFORM)
STREAMER = SearchAttributeKey.for_keyword(c.SEARCH_ATTRIBUTE_STREAMER)
STATE = SearchAttributeKey.for_keyword(c.SEARCH_ATTRIBUTE_STATE)
INSTANCE = SearchAttributeKey.for_keyword(c.SEARCH_ATTRIBUTE_INSTANCE)

A = TypeVar("A")
R = TypeVar("R")


class StreamerBase:
    """State and shared steps of the streamer workflow (see the module docstring)."""

    def __init__(self) -> None:
        self._streamer_id = 0
        self._config: c.StreamerConfig | None = None
        self._instance: str | None = None
        self._version: str | None = None  # of the configuration loaded
        self._pollers = False  # shard pollers signal `detected`; else check oneself
        self._state = c.StreamerState.NOT_LIVE
        self._reason: str | None = None
        self._last_error: str | None = None
        self._projected: tuple[Any, ...] | None = None
        self._sessions = 0
        self._errors = 0  # transient check errors in a row
        self._backoff_level = 0
        self._backoff_until: datetime | None = None
        self._last_check: datetime | None = None
        # what the signals ask for; the loop of `StreamerWorkflow` acts on them
        self._paused = False
        self._stop = False
        self._reload = False
        self._check_now = False
        self._clear = False
        self._detected: c.Detected | None = None
        self._session: StreamerSession | None = None
        self._events = StreamerEvents()  # issue 13: `workflows.streamer_notify`

    @property
    def cfg(self) -> c.StreamerConfig:
        """The streamer's configuration as last loaded."""
        assert self._config is not None
        return self._config

    @property
    def instance_id(self) -> str | None:
        """The app database that owns this workflow."""
        return self._instance

    @property
    def interrupted(self) -> bool:
        """Stop or pause was asked for."""
        return self._stop or self._paused

    # --- the one place a state changes -----------------------------------------------

    async def _transition(
        self, state: c.StreamerState, reason: str | None = None, *, force: bool = False
    ) -> None:
        """Enter `state` (for `reason`): search attribute and DB projection.

        Projects only what changed (state, reason, pause or last error), so calling
        it again with the same arguments costs nothing. The notification event of
        a transition is emitted by its caller, which knows its cause
        (`workflows.streamer_notify`).
        """
        if state != self._state or force:
            workflow.logger.info("state %s -> %s (%s)", self._state, state, reason)
            workflow.upsert_search_attributes([STATE.value_set(state.value)])
        self._state, self._reason = state, reason
        projected = (state, reason, self._paused, self._last_error)
        if projected == self._projected and not force:
            return
        self._projected = projected
        await self.store(
            StoreActivities.project_state,
            c.ProjectStateInput(
                streamer_id=self._streamer_id,
                state=state,
                enabled=not self._paused,
                instance_id=self._instance,
                last_error=self._last_error,
                reason=reason,
            ),
        )

    # --- activities -------------------------------------------------------------------

    async def store(self, method: Callable[[Any, A], R], arg: A) -> R:
        """Run a store activity (`workflows.store_call`: refusals are waited out)."""
        return await call_store(method, arg, self._instance)

    async def _load(self) -> bool:
        """(Re)load the configuration; False (and stop) when the streamer is gone."""
        self._reload = False
        loaded = await self.store(
            StoreActivities.load_streamer,
            c.LoadStreamerInput(
                streamer_id=self._streamer_id, instance_id=self._instance
            ),
        )
        if self._instance is None and loaded.instance_id is not None:
            self._instance = loaded.instance_id
            workflow.upsert_search_attributes([INSTANCE.value_set(self._instance)])
        if loaded.config is None:
            self._stop = True
            return False
        if self._config is None or loaded.config.name != self._config.name:
            workflow.upsert_search_attributes(
                [
                    PLATFORM.value_set(loaded.config.platform),
                    STREAMER.value_set(loaded.config.name),
                ]
            )
        self._config, self._version = loaded.config, loaded.config_version
        self._pollers = loaded.pollers
        return True

    async def _check(self) -> c.Detected:
        """Ask the platform now (`workflows.streamer_check`)."""
        self._check_now = False
        self._detected = None  # this answer is fresher than any signalled one
        found = await check_live(self.cfg, self._version, self._instance)
        self._last_check = found.checked_at
        if found.config_stale:
            workflow.logger.info("configuration changed: reloading")
            await self._load()
        return found.detected

    # --- waiting ----------------------------------------------------------------------

    async def _wait(
        self, until: Callable[[], bool], within: timedelta | None = None
    ) -> bool:
        """Wait until `until()` (True) or `within` passes (False)."""
        if within is not None and within <= timedelta(0):
            return until()
        try:
            await workflow.wait_condition(until, timeout=within)
        except TimeoutError:
            return False
        return True
