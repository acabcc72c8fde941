"""The watchdog phase (SPEC 6) and completion gate (SPEC 2.4e) on a stored run: progress
decides; signals without progress escalate rewrite -> fallback agent -> needs_attention (or
fail); the gate, the budgets and the iteration limit end the loop."""

from __future__ import annotations

from pathlib import Path

from agentloop.core.types import AgentName, EventType, RunStatus, StepStatus, WatchdogExhausted
from agentloop.engine import control
from agentloop.engine.context import RunContext
from agentloop.engine.history import IterationRecord, RunState
from agentloop.engine.outcome import StepOutcome
from agentloop.engine.phases import watchdog
from agentloop.engine.runtime import Runtime, current
from agentloop.store import Store

from .conftest import PLAN, FakeDbos, MakeRun, event_types, events_of

NEXT = StepOutcome.next_iteration()

ESCALATION = {EventType.WATCHDOG_REWRITE, EventType.WATCHDOG_ESCALATED, EventType.RUN_PAUSED}


def stuck_state(iterations: int) -> RunState:
    """``iterations`` iterations that changed nothing: same head, same plan."""
    state = RunState(start_head="h0")
    for i in range(1, iterations + 1):
        add_stuck(state, i)
    return state


def add_stuck(state: RunState, iteration: int) -> IterationRecord:
    record = state.record(iteration)
    record.head, record.plan_digest, record.done_before, record.tasks_done = "h0", "p", 1, 1
    return record


def decide(run_id: str, iteration: int) -> StepOutcome:
    """The watchdog step of ``iteration``, as its own DBOS step would run it."""
    return watchdog(RunContext.load(current(), run_id, step_key=100 + iteration), iteration)


def state_of(store: Store, run_id: str) -> RunState:
    return RunState.from_json(store.get_run_state(run_id))


def save_state(store: Store, run_id: str, state: RunState) -> None:
    store.update_run(run_id, state=state.to_json())


def signals_recorded(store: Store, run_id: str) -> list[str]:
    return [p["signal"] for p in events_of(store, run_id, EventType.WATCHDOG_SIGNAL)]


def test_a_run_that_progresses_every_iteration_is_never_escalated(
    make_run: MakeRun, store: Store
) -> None:
    """It commits and ticks a task each iteration, names the same task and claims completion
    early every time: the signals are recorded, nothing is acted on (SPEC 6)."""
    run_id = make_run(watchdog_max_rewrites=0, watchdog_exhausted=WatchdogExhausted.FAIL)
    for iteration in range(1, 7):
        state = state_of(store, run_id)
        record = state.record(iteration)
        record.head, record.plan_digest = f"h{iteration}", f"p{iteration}"
        record.done_before, record.tasks_done = iteration, iteration + 1
        record.task, record.completion = "second task", "complete"
        save_state(store, run_id, state)

        assert decide(run_id, iteration) == NEXT

    recorded = signals_recorded(store, run_id)
    assert recorded.count("false_complete") == 6
    assert recorded.count("repeated_task") == 4  # from the third iteration on
    assert not ESCALATION & set(event_types(store, run_id))
    assert state_of(store, run_id).rewrites_used == 0
    assert store.get_run(run_id).status is RunStatus.RUNNING


def test_no_progress_first_rewrites_the_prompt(make_run: MakeRun, store: Store) -> None:
    run_id = make_run(state=stuck_state(3))

    assert decide(run_id, 3) == NEXT

    [rewrite] = events_of(store, run_id, EventType.WATCHDOG_REWRITE)
    assert rewrite["signal"] == "no_progress"
    after = Path(rewrite["prompt_after"])
    assert after.name == "prompt.rewrite.1.txt"
    assert "changed nothing" in after.read_text()
    assert Path(rewrite["prompt_before"]).name == "prompt.txt"
    state = state_of(store, run_id)
    assert (state.rewrites_used, state.prompt_path) == (1, "prompt.rewrite.1.txt")
    assert "no_progress" in signals_recorded(store, run_id)


def test_two_stuck_iterations_are_not_yet_no_progress(make_run: MakeRun, store: Store) -> None:
    run_id = make_run(state=stuck_state(2), watchdog_exhausted=WatchdogExhausted.FAIL)

    assert decide(run_id, 2) == NEXT

    assert "no_progress" not in signals_recorded(store, run_id)
    assert not ESCALATION & set(event_types(store, run_id))


def test_escalation_goes_rewrite_then_fallback_agent_then_needs_attention(
    make_run: MakeRun, store: Store
) -> None:
    run_id = make_run(
        state=stuck_state(3), watchdog_max_rewrites=1, fallback_agents=(AgentName.CODEX,)
    )
    assert decide(run_id, 3) == NEXT
    assert event_types(store, run_id)[-1] is EventType.STEP_FINISHED
    assert [e["signal"] for e in events_of(store, run_id, EventType.WATCHDOG_REWRITE)] == [
        "no_progress"
    ]

    state = state_of(store, run_id)
    add_stuck(state, 4)
    save_state(store, run_id, state)
    assert decide(run_id, 4) == NEXT
    [escalated] = events_of(store, run_id, EventType.WATCHDOG_ESCALATED)
    assert escalated["to_agent"] == "codex"
    assert state_of(store, run_id).agent_index == 1

    state = state_of(store, run_id)
    add_stuck(state, 5)
    save_state(store, run_id, state)
    assert decide(run_id, 5) == StepOutcome.stopped("PAUSED")
    run = store.get_run(run_id)
    assert (run.status, run.reason) == (RunStatus.PAUSED, "needs_attention")


def test_exhausted_pauses_for_attention_with_the_signal_history(
    make_run: MakeRun, store: Store
) -> None:
    run_id = make_run(state=stuck_state(3), watchdog_max_rewrites=0)

    outcome = decide(run_id, 3)

    assert outcome == StepOutcome.stopped("PAUSED")
    run = store.get_run(run_id)
    assert (run.status, run.reason, run.phase) == (RunStatus.PAUSED, "needs_attention", None)
    [paused] = events_of(store, run_id, EventType.RUN_PAUSED)
    assert paused["reason"] == "needs_attention"
    assert [s["signal"] for s in paused["signals"]] == ["no_progress"]
    state = state_of(store, run_id)
    assert state.attention_iteration == 3
    assert state.failed_step == 103  # a resume rewinds the workflow to this step
    [step] = [s for s in store.list_steps(run_id) if s.phase and s.phase.value == "watchdog"]
    assert step.status is StepStatus.SUCCEEDED


def test_exhausted_with_fail_policy_fails_with_the_signal(make_run: MakeRun, store: Store) -> None:
    run_id = make_run(
        state=stuck_state(3), watchdog_max_rewrites=0, watchdog_exhausted=WatchdogExhausted.FAIL
    )

    assert decide(run_id, 3) == StepOutcome.failed("no_progress")

    [step] = store.list_steps(run_id)
    assert step.status is StepStatus.FAILED
    assert step.message == "no_progress"
    assert EventType.RUN_PAUSED not in event_types(store, run_id)


def test_the_iteration_the_user_resumed_from_goes_on(make_run: MakeRun, store: Store) -> None:
    state = stuck_state(3)
    state.attention_iteration = 3
    run_id = make_run(state=state, watchdog_max_rewrites=0)

    assert decide(run_id, 3) == NEXT
    assert EventType.RUN_PAUSED not in event_types(store, run_id)

    state = state_of(store, run_id)
    add_stuck(state, 4)
    save_state(store, run_id, state)
    assert decide(run_id, 4) == StepOutcome.stopped("PAUSED")  # the next one pauses again


def test_a_failed_verification_alone_does_not_escalate(make_run: MakeRun, store: Store) -> None:
    state = RunState(start_head="h0")
    state.record(1).verification_ok = False
    run_id = make_run(
        state=state, watchdog_max_rewrites=0, watchdog_exhausted=WatchdogExhausted.FAIL
    )

    assert decide(run_id, 1) == NEXT
    assert signals_recorded(store, run_id) == ["verification_failed"]


def test_a_worktree_escape_is_recorded_and_never_acted_on(make_run: MakeRun, store: Store) -> None:
    state = RunState(start_head="h0")
    state.record(1).escaped_paths = ["README.md"]
    run_id = make_run(
        state=state, watchdog_max_rewrites=0, watchdog_exhausted=WatchdogExhausted.FAIL
    )

    assert decide(run_id, 1) == NEXT
    [signal] = events_of(store, run_id, EventType.WATCHDOG_SIGNAL)
    assert signal["signal"] == "worktree_escape"
    assert "README.md" in signal["detail"]


def complete_plan(workspace: Path, marks: str = "x") -> None:
    (workspace / PLAN).write_text(f"# Plan\n\n- [{marks}] first task\n- [{marks}] second task\n")


def claimed(**record: object) -> RunState:
    state = RunState(start_head="h0")
    data = {"head": "h1", "done_before": 0, "tasks_done": 2, "completion": "complete", **record}
    for key, value in data.items():
        setattr(state.record(1), key, value)
    return state


def test_the_gate_completes_with_token_done_plan_and_passing_verification(
    make_run: MakeRun, store: Store, workspace: Path
) -> None:
    complete_plan(workspace, "R")
    run_id = make_run(state=claimed())

    assert decide(run_id, 1) == StepOutcome.ended("COMPLETED", merge=False)
    assert store.list_steps(run_id)[0].message == "complete"


def test_a_completed_run_with_a_merge_target_goes_to_merge(
    make_run: MakeRun, workspace: Path
) -> None:
    complete_plan(workspace, "R")
    run_id = make_run(state=claimed(), merge_target_branch="main")

    assert decide(run_id, 1) == StepOutcome.ended("COMPLETED", merge=True)


def test_tasks_awaiting_review_keep_the_gate_shut_while_the_reviewer_is_on(
    make_run: MakeRun, store: Store, workspace: Path
) -> None:
    complete_plan(workspace, "x")
    run_id = make_run(state=claimed())

    assert decide(run_id, 1) == NEXT
    [signal] = events_of(store, run_id, EventType.WATCHDOG_SIGNAL)
    assert signal["signal"] == "false_complete"
    assert "2 task(s) await review" in signal["detail"]

    off = make_run(state=claimed(), reviewer=False)
    assert decide(off, 1) == StepOutcome.ended("COMPLETED", merge=False)


def test_verify_cmds_without_a_verification_result_keep_the_gate_shut(
    make_run: MakeRun, store: Store, workspace: Path
) -> None:
    complete_plan(workspace, "R")
    run_id = make_run(state=claimed(), verify_cmds=("make test",))

    assert decide(run_id, 1) == NEXT
    [signal] = events_of(store, run_id, EventType.WATCHDOG_SIGNAL)
    assert "the last verification failed" in signal["detail"]


def test_the_iteration_limit_fails_the_run(make_run: MakeRun, store: Store) -> None:
    state = claimed(completion="absent")
    run_id = make_run(state=state, iterations=1)
    assert decide(run_id, 1) == StepOutcome.failed("iteration_limit")

    state.iteration_limit = 3  # a retry after the limit extends it
    extended = make_run(state=state, iterations=1)
    assert decide(extended, 1) == NEXT


def test_a_cost_over_budget_fails_the_run_before_any_escalation(
    make_run: MakeRun, store: Store
) -> None:
    run_id = make_run(state=stuck_state(3), max_cost_usd=1.0)
    store.update_run(run_id, cost_usd=1.25)

    assert decide(run_id, 3) == StepOutcome.failed("budget_cost")
    assert EventType.WATCHDOG_REWRITE not in event_types(store, run_id)


def test_a_rewrite_after_a_resume_does_not_overwrite_an_earlier_rewrite(
    make_run: MakeRun, store: Store, runtime: Runtime, fake_dbos: FakeDbos
) -> None:
    """SPEC 6: each rewrite is a new prompt.rewrite.<k>.txt, and a resume from
    needs_attention gives a fresh rewrite budget. The budget is fresh, the file names must
    not be: the earlier rewrite is part of what the run did (its WATCHDOG_REWRITE event
    points at it)."""
    state = RunState(start_head="h0")
    for i in (1, 2, 3):  # commits, but no task ticked; the same task named three times
        record = state.record(i)
        record.head, record.plan_digest, record.task = f"h{i}", "p", "second task"
        record.done_before, record.tasks_done = 1, 1
    state.record(3).added_hunks = ["hunk"]
    run_id = make_run(state=state, watchdog_max_rewrites=1)
    assert decide(run_id, 3) == NEXT
    [first] = events_of(store, run_id, EventType.WATCHDOG_REWRITE)
    assert first["signal"] == "repeated_task"
    first_text = Path(first["prompt_after"]).read_text()

    state = state_of(store, run_id)
    record = state.record(4)  # undoes iteration 3's change, ticks nothing
    record.head, record.plan_digest, record.task = "h4", "p", "third task"
    record.done_before, record.tasks_done, record.removed_hunks = 1, 1, ["hunk"]
    save_state(store, run_id, state)
    assert decide(run_id, 4) == StepOutcome.stopped("PAUSED")

    fake_dbos.statuses[run_id] = "SUCCESS"  # the workflow ended after the pausing step
    control.resume(runtime, run_id)
    assert decide(run_id, 4) == NEXT  # the rewound watchdog step: a fresh budget

    rewrites = events_of(store, run_id, EventType.WATCHDOG_REWRITE)
    assert [r["signal"] for r in rewrites] == ["repeated_task", "circular_diff"]
    second = rewrites[1]
    assert Path(second["prompt_before"]) == Path(first["prompt_after"])
    assert Path(second["prompt_after"]).name == "prompt.rewrite.2.txt"
    assert Path(first["prompt_after"]).read_text() == first_text
    assert "undid" in Path(second["prompt_after"]).read_text()


def test_a_run_over_its_time_budget_fails(make_run: MakeRun, store: Store) -> None:
    run_id = make_run(state=claimed(completion="absent"), max_runtime_sec=60)
    assert decide(run_id, 1) == NEXT  # started just now

    store.update_run(run_id, started_at=store.now_ms() - 61_000)
    assert decide(run_id, 2) == StepOutcome.failed("budget_time")
