"""The graph functions the validator and the workflow share."""

from __future__ import annotations

import pytest

from activities import pipeline_dag as dag
from activities.pipeline_contracts import RunStatus, StepStatus

S = StepStatus
DIAMOND = {"a": [], "b": ["a"], "c": ["a"], "d": ["c", "b"], "e": []}


@pytest.mark.parametrize(
    ("deps", "cycle"),
    [
        pytest.param(DIAMOND, None, id="dag"),
        pytest.param({"a": ["a"]}, ["a", "a"], id="self"),
        pytest.param(
            {"a": ["c"], "b": ["a"], "c": ["b"]}, ["a", "c", "b", "a"], id="three"
        ),
        pytest.param(
            {"x": [], "a": ["b"], "b": ["a"]}, ["a", "b", "a"], id="beside-a-root"
        ),
        pytest.param({"a": ["missing"]}, None, id="unknown-ignored"),
        pytest.param(
            {f"s{i}": [f"s{i + 1}"] for i in range(5000)}, None, id="long-chain"
        ),
    ],
)
def test_find_cycle(deps: dict[str, list[str]], cycle: list[str] | None) -> None:
    assert dag.find_cycle(deps) == cycle


def test_ready_blocked_and_dependents() -> None:
    status = dict.fromkeys(DIAMOND, S.PENDING)
    assert dag.ready(DIAMOND, status) == ["a", "e"]
    status |= {"a": S.COMPLETED, "e": S.COMPLETED}
    assert dag.ready(DIAMOND, status) == ["b", "c"]
    status |= {"b": S.FAILED}
    assert dag.blocked(DIAMOND, status) == ["d"]
    assert dag.dependents(DIAMOND, ["a"]) == ["b", "c", "d"]
    assert dag.run_status(status) == RunStatus.FAILED


@pytest.mark.parametrize(
    ("states", "expected"),
    [
        pytest.param([S.COMPLETED, S.COMPLETED], RunStatus.COMPLETED, id="done"),
        pytest.param([S.COMPLETED, S.RUNNING], RunStatus.RUNNING, id="running"),
        pytest.param([S.CANCELLED, S.COMPLETED], RunStatus.CANCELLED, id="cancelled"),
        pytest.param([S.CANCELLED, S.FAILED], RunStatus.FAILED, id="failed-wins"),
    ],
)
def test_run_status(states: list[StepStatus], expected: RunStatus) -> None:
    assert dag.run_status(dict(enumerate(map(str, states)))) == expected  # type: ignore[arg-type]


def test_inputs_fan_in_in_dependency_order_without_repeats() -> None:
    outputs = {"b": ["/x/b", "/x/shared"], "c": ["/x/c", "/x/shared"]}
    assert dag.gather_inputs([], outputs, ["/rec/0.ts"]) == ["/rec/0.ts"]
    assert dag.gather_inputs(["c", "b"], outputs, []) == ["/x/c", "/x/shared", "/x/b"]


def test_retry_takes_failed_steps_and_what_they_cancelled() -> None:
    status = {
        "a": S.COMPLETED,
        "b": S.FAILED,
        "c": S.CANCELLED,
        "d": S.CANCELLED,
        "e": S.COMPLETED,
    }
    deps = {"a": [], "b": ["a"], "c": ["b"], "d": ["c"], "e": []}
    assert dag.to_retry(deps, status, None) == ["b", "c", "d"]
    assert dag.to_retry(deps, status, ["c"]) == ["c", "d"]
    assert dag.to_retry(deps, status, ["a"]) == []
    with pytest.raises(ValueError, match="unknown steps: zz"):
        dag.select(status, ["zz"], {S.FAILED})
