"""Pure graph functions over a pipeline's steps: cycles, readiness, propagation.

The validator and `PipelineWorkflow` share them, so what is accepted and how it runs
cannot disagree. Deterministic (no sets are iterated into results unordered), so the
workflow may call them; only the standard library and the pipeline contracts.

`deps` maps each step id to the ids it depends on, in the order the steps were
written; dicts keep that order.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from activities.pipeline_contracts import (
    PipelineGraph,
    PipelineInput,
    ResolvedStep,
    RunStatus,
    StepMark,
    StepOutput,
    StepProgress,
    StepStatus,
    StepView,
)

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence


def find_cycle(deps: Mapping[str, Sequence[str]]) -> list[str] | None:
    """Return one cycle as a path (`a -> b -> a` is `[a, b, a]`), or None.

    Unknown dependencies are ignored here (the validator reports them apart).
    """
    white, grey, black = 0, 1, 2
    colour = dict.fromkeys(deps, white)
    for start in deps:
        if colour[start] != white:
            continue
        # iterative DFS: a long chain of steps must not hit the recursion limit
        path: list[str] = [start]
        stack: list[Iterable[str]] = [iter(deps[start])]
        colour[start] = grey
        while stack:
            advanced = False
            for nxt in stack[-1]:
                if nxt not in colour:
                    continue
                if colour[nxt] == grey:
                    return [*path[path.index(nxt) :], nxt]
                if colour[nxt] == white:
                    colour[nxt] = grey
                    path.append(nxt)
                    stack.append(iter(deps[nxt]))
                    advanced = True
                    break
            if not advanced:
                colour[path.pop()] = black
                stack.pop()
    return None


def dependents(deps: Mapping[str, Sequence[str]], ids: Iterable[str]) -> list[str]:
    """Every step that depends, directly or not, on one of `ids` (in step order)."""
    hit = set(ids)
    changed = True
    while changed:
        changed = False
        for step, needs in deps.items():
            if step not in hit and any(n in hit for n in needs):
                hit.add(step)
                changed = True
    targets = set(ids)
    return [step for step in deps if step in hit and step not in targets]


def ready(
    deps: Mapping[str, Sequence[str]], status: Mapping[str, StepStatus]
) -> list[str]:
    """Pending steps whose dependencies all completed (roots are ready at once)."""
    return [
        step
        for step, needs in deps.items()
        if status[step] == StepStatus.PENDING
        and all(status[n] == StepStatus.COMPLETED for n in needs)
    ]


def blocked(
    deps: Mapping[str, Sequence[str]], status: Mapping[str, StepStatus]
) -> list[str]:
    """Pending steps that can never run: a step they need failed or was cancelled."""
    dead = [
        s for s, st in status.items() if st in (StepStatus.FAILED, StepStatus.CANCELLED)
    ]
    return [s for s in dependents(deps, dead) if status[s] == StepStatus.PENDING]


def run_status(status: Mapping[str, StepStatus]) -> RunStatus:
    """The run's state: failed beats cancelled beats running beats completed."""
    states = set(status.values())
    if StepStatus.FAILED in states:
        return RunStatus.FAILED
    if StepStatus.CANCELLED in states:
        return RunStatus.CANCELLED
    if states & {StepStatus.PENDING, StepStatus.RUNNING}:
        return RunStatus.RUNNING
    return RunStatus.COMPLETED


def gather_inputs(
    needs: Sequence[str], outputs: Mapping[str, Sequence[str]], trigger: Sequence[str]
) -> list[str]:
    """A step's inputs: the trigger's files for a root, else its dependencies'.

    Outputs are concatenated in `depends_on` order; a file two dependencies both
    pass on comes once.
    """
    if not needs:
        return list(trigger)
    seen: dict[str, None] = {}
    for dep in needs:
        for path in outputs.get(dep, ()):
            seen.setdefault(path, None)
    return list(seen)


def select(
    status: Mapping[str, StepStatus], ids: Sequence[str] | None, states: set[StepStatus]
) -> list[str]:
    """The steps among `ids` (None: all) in one of `states`.

    Raises:
        ValueError: an id names no step.
    """
    unknown = [i for i in ids or () if i not in status]
    if unknown:
        raise ValueError(f"unknown steps: {', '.join(unknown)}")
    chosen = list(status) if ids is None else list(dict.fromkeys(ids))
    return [i for i in chosen if status[i] in states]


def to_retry(
    deps: Mapping[str, Sequence[str]],
    status: Mapping[str, StepStatus],
    ids: Sequence[str] | None,
) -> list[str]:
    """Failed/cancelled steps among `ids`, and the steps they got cancelled."""
    dead = {StepStatus.FAILED, StepStatus.CANCELLED}
    targets = select(status, ids, dead)
    later = [d for d in dependents(deps, targets) if status[d] == StepStatus.CANCELLED]
    return list(dict.fromkeys([*targets, *later]))


class RunState:
    """A run's steps as `PipelineWorkflow` keeps them: views, and marks to write.

    `marks` collects the states the workflow decided (failed by timeout, cancelled)
    until they are written to the job rows.

    Args:
        inp: the workflow's input; `carried` steps start completed.
    """

    def __init__(self, inp: PipelineInput) -> None:
        self.steps: dict[str, ResolvedStep] = {s.id: s for s in inp.steps}
        self.deps: dict[str, list[str]] = {s.id: list(s.depends_on) for s in inp.steps}
        self.view: dict[str, StepView] = {}
        self.marks: list[StepMark] = []
        for step in inp.steps:
            self.reset(step.id)
            if step.id in inp.carried:
                self.done(step.id, inp.carried[step.id])

    def status(self) -> dict[str, StepStatus]:
        return {k: v.status for k, v in self.view.items()}

    def outputs(self) -> dict[str, list[str]]:
        return {k: v.output.files for k, v in self.view.items() if v.output}

    def reset(self, sid: str) -> None:
        step = self.steps[sid]
        self.view[sid] = StepView(
            id=sid, processor=step.processor, depends_on=step.depends_on
        )

    def running(self, sid: str) -> None:
        self.view[sid].status, self.view[sid].progress = StepStatus.RUNNING, 0.0

    def done(self, sid: str, output: StepOutput) -> None:
        view = self.view[sid]
        view.status, view.output, view.progress = StepStatus.COMPLETED, output, 1.0
        view.error = None

    def set(self, sid: str, status: StepStatus, error: str | None) -> None:
        """End a step as failed or cancelled; the job row learns it from `marks`."""
        self.view[sid].status, self.view[sid].error = status, error
        self.marks.append(StepMark(step_id=sid, status=status, error=error))

    def take_marks(self) -> list[StepMark]:
        marks, self.marks = self.marks, []
        return marks

    def progress(self, inp: StepProgress) -> None:
        view = self.view.get(inp.step_id)
        if view is not None and view.status == StepStatus.RUNNING:
            view.progress, view.detail = inp.progress, inp.detail

    def graph(self, workflow_id: str, run_id: int) -> PipelineGraph:
        bad = next(
            (v for v in self.view.values() if v.status == StepStatus.FAILED), None
        )
        return PipelineGraph(
            workflow_id=workflow_id,
            run_id=run_id,
            status=run_status(self.status()),
            error=f"step {bad.id} ({bad.processor}): {bad.error}" if bad else None,
            steps=[v.model_copy() for v in self.view.values()],
        )
