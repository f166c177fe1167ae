"""A workflow that evaluates filters, for the sandbox test of `activities.filters`.

In a module of its own: the workflow sandbox re-imports the module a workflow is
defined in. `activities.filters` is imported as the streamer workflow must import
it: passed through at module level, so the worker loads it (and croniter, RE2 and
zoneinfo) once, outside the sandbox. Imported inside the sandbox instead, zoneinfo
hands out restricted proxies that `datetime.astimezone` refuses.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel
from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities import filters
    from activities.contracts import FilterSpec


class FiltersInput(BaseModel):
    filters: list[FilterSpec]
    title: str = ""
    category: str = ""


class FiltersResult(BaseModel):
    now: datetime
    passes: bool
    reason: str | None
    opens: datetime | None
    closes: datetime | None


@workflow.defn(name="EvaluateFilters")
class EvaluateFiltersWorkflow:
    """Judges the filters at `workflow.now()`, then sleeps until they open."""

    @workflow.run
    async def run(self, inp: FiltersInput) -> list[FiltersResult]:
        results = [self._judge(inp)]
        opens = results[0].opens
        if opens is not None and opens > workflow.now():
            # the durable timer the streamer workflow will sleep on
            await workflow.sleep(opens - workflow.now())
            results.append(self._judge(inp))
        return results

    @staticmethod
    def _judge(inp: FiltersInput) -> FiltersResult:
        now = workflow.now()
        passes, reason = filters.evaluate(inp.filters, now, inp.title, inp.category)
        return FiltersResult(
            now=now,
            passes=passes,
            reason=reason,
            opens=filters.next_open(inp.filters, now),
            closes=filters.next_close(inp.filters, now),
        )
