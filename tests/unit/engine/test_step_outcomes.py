"""What the workflow does with each step's StepOutcome (engine.workflow, engine.outcome), the
steps replaced by a script: which steps run, in which order, and how the loop ends. And
what boot and control do with a run whose workflow another WORKFLOW_VERSION recorded."""

from __future__ import annotations

import pickle
from collections.abc import Iterator

import pytest

from agentloop.core.types import EventType, RunStatus
from agentloop.engine import boot, control, workflow
from agentloop.engine.outcome import Kind, StepOutcome
from agentloop.engine.run_queue import QUEUE_NAME
from agentloop.engine.runtime import Runtime
from agentloop.engine.settings import WORKFLOW_VERSION
from agentloop.store import Store

from .conftest import FakeDbos, MakeRun, events_of

DONE = StepOutcome.done()
NEXT = StepOutcome.next_iteration()


class Script:
    """Stands in for the workflow's steps: each call takes the next scripted outcome of
    its step and is logged as ``name`` or ``name:iteration``."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, **outcomes: list[StepOutcome]) -> None:
        self.calls: list[str] = []
        self._outcomes = {name: iter(items) for name, items in outcomes.items()}
        for name in outcomes:
            monkeypatch.setattr(workflow, f"{name}_step", self._step(name))
        monkeypatch.setattr(workflow.DBOS, "recv", lambda *a, **k: self.calls.append("recv"))

    def _step(self, name: str):  # type: ignore[no-untyped-def]
        def step(run_id: str, *args: object) -> StepOutcome:
            shown = [str(a) for a in args if isinstance(a, int)]
            self.calls.append(":".join([name, *shown]))
            return next(self._outcomes[name])

        return step


def test_an_outcome_pickles_and_round_trips_through_json() -> None:
    outcome = StepOutcome.usage_limit("claude", 1700000000.5, held=True)

    assert pickle.loads(pickle.dumps(outcome)) == outcome
    assert StepOutcome.from_json(outcome.to_json()) == outcome


def test_an_iteration_decided_by_its_last_step_runs_no_watchdog_step(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    script = Script(
        monkeypatch,
        prepare=[DONE],
        implementation=[StepOutcome.done(needs_review=True, verify=True), NEXT],
        review=[StepOutcome.done(verify=True)],
        verification=[NEXT],
        watchdog=[],
    )
    with pytest.raises(StopIteration):  # the script ran out: the loop went on
        workflow._run_loop("run", 1)
    assert script.calls == [
        "prepare",
        "implementation:1",
        "review:1",
        "verification:1",
        "implementation:2",  # decided by itself: the next iteration
        "implementation:3",
    ]


def test_a_review_that_waited_out_a_usage_limit_leaves_the_decision_to_the_watchdog(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    script = Script(
        monkeypatch,
        prepare=[DONE],
        implementation=[
            StepOutcome.usage_limit("claude", None),
            StepOutcome.done(needs_review=True),
        ],
        pause_for_limit=[StepOutcome.wait(0, "codex"), StepOutcome.wait(30.0)],
        resume_after_limit=[DONE],
        review=[StepOutcome.usage_limit("codex", None)],
        watchdog=[StepOutcome.ended("COMPLETED", merge=True)],
    )

    ending = workflow._run_loop("run", 1)

    assert ending == StepOutcome.ended("COMPLETED", merge=True)
    assert script.calls == [
        "prepare",
        "implementation:1",
        "pause_for_limit",  # switched to the fallback agent: no wait
        "implementation:1",
        "review:1",
        "pause_for_limit",
        "recv",
        "resume_after_limit",
        "watchdog:1",
    ]


@pytest.mark.parametrize(
    ("step", "outcome", "ending"),
    [
        ("implementation", StepOutcome.failed("agent_error"), ("FAILED", "agent_error")),
        ("verification", StepOutcome.stopped("PAUSED"), ("PAUSED", None)),
        ("verification", StepOutcome.ended("COMPLETED"), ("COMPLETED", None)),
    ],
)
def test_a_step_that_fails_stops_or_ends_ends_the_loop(
    monkeypatch: pytest.MonkeyPatch, step: str, outcome: StepOutcome, ending: tuple[str, None]
) -> None:
    outcomes = {
        "prepare": [DONE],
        "implementation": [StepOutcome.done(verify=True)],
        "verification": [NEXT],
    }
    outcomes[step] = [outcome]
    Script(monkeypatch, **outcomes)

    last = workflow._run_loop("run", 1)

    assert last.kind in (Kind.ENDED, Kind.STOPPED)
    assert (last.status, last.reason) == ending


def test_an_experiment_ends_when_its_measurement_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    script = Script(
        monkeypatch,
        prepare=[StepOutcome.done(experiment=True)],
        baseline=[DONE],
        implementation=[DONE, DONE],
        measure=[NEXT, StepOutcome.ended("FAILED", "patience")],
    )

    assert workflow._run_loop("run", 1) == StepOutcome.ended("FAILED", "patience")
    assert script.calls == [
        "prepare",
        "baseline",
        "implementation:1",
        "measure:1",
        "implementation:2",
        "measure:2",
    ]


# -- runs recorded under another workflow version ----------------------------------------------
OLD = "loopd-wf-1"


@pytest.fixture
def outdated(fake_dbos: FakeDbos) -> Iterator[FakeDbos]:
    assert OLD != WORKFLOW_VERSION
    yield fake_dbos


def test_boot_fails_a_running_run_of_an_outdated_workflow_and_retry_starts_it_over(
    make_run: MakeRun, store: Store, runtime: Runtime, outdated: FakeDbos
) -> None:
    """DBOS would never recover it (another version), and it holds its queue slots."""
    run_id = make_run(RunStatus.RUNNING)
    outdated.statuses[run_id], outdated.versions[run_id] = "PENDING", OLD

    boot.reconcile(runtime)

    assert outdated.calls == [("cancel_workflow", run_id)]
    run = store.get_run(run_id)
    assert run.status is RunStatus.FAILED
    assert run.reason is not None and run.reason.startswith("outdated_workflow: started by")
    [failed] = events_of(store, run_id, EventType.RUN_FAILED)
    assert failed["reason"] == run.reason

    control.retry(runtime, run_id)

    assert outdated.calls[-1] == (
        "rewind_workflow",
        run_id,
        {
            "start_step": 1,
            "queue_name": QUEUE_NAME,
            "queue_partition_key": run.workspace_root,
            "application_version": WORKFLOW_VERSION,
        },
    )


def test_a_paused_run_of_an_outdated_workflow_stays_paused_and_resumes_from_the_start(
    make_run: MakeRun, store: Store, runtime: Runtime, outdated: FakeDbos
) -> None:
    run_id = make_run(RunStatus.PAUSED, reason="usage_limit")
    outdated.statuses[run_id], outdated.versions[run_id] = "PENDING", OLD  # in its wait

    boot.reconcile(runtime)

    assert outdated.calls == [("cancel_workflow", run_id)]
    assert store.get_run(run_id).status is RunStatus.PAUSED

    control.resume(runtime, run_id)

    name, _, options = outdated.calls[-1]
    assert name == "rewind_workflow"
    assert (options["start_step"], options["application_version"]) == (1, WORKFLOW_VERSION)


def test_boot_leaves_the_runs_of_this_version_to_dbos(
    make_run: MakeRun, store: Store, runtime: Runtime, outdated: FakeDbos
) -> None:
    run_id = make_run(RunStatus.RUNNING)
    outdated.statuses[run_id] = "PENDING"

    boot.reconcile(runtime)

    assert outdated.calls == []
    assert store.get_run(run_id).status is RunStatus.RUNNING
