"""The engine resolves every agent through the runtime's factory (``Runtime.agents``): a test
hands it a plain function and drives a real agent step with it, in-process."""

from __future__ import annotations

from pathlib import Path

from agentloop.agents import AgentRequest, AgentSink, FunctionAgent
from agentloop.core.types import EventType, StepStatus
from agentloop.engine.outcome import Kind
from agentloop.engine.phases import guarded, implementation
from agentloop.engine.runtime import Runtime
from agentloop.store import Store

from .conftest import PLAN, MakeRun, event_types, git


def test_an_agent_step_runs_the_function_agent_the_engine_was_given(
    make_run: MakeRun, store: Store, runtime: Runtime, workspace: Path, tmp_path: Path
) -> None:
    worktree = tmp_path / "wt" / "demo"
    git(workspace, "worktree", "add", "-q", "-b", "run/demo", str(worktree), "main")
    run_id = make_run(worktree=worktree, run_branch="run/demo")
    asked: list[str] = []
    requests: list[AgentRequest] = []

    def agent(request: AgentRequest, sink: AgentSink) -> str:
        requests.append(request)
        plan = worktree / PLAN
        plan.write_text(plan.read_text().replace("- [ ] second task", "- [x] second task"))
        git(worktree, "commit", "-q", "-am", "second task")
        return "Completed second task. 1 task remains."

    def agents(name: str) -> FunctionAgent:
        asked.append(name)
        return FunctionAgent(agent, name=name)

    runtime.agents = agents

    outcome = guarded(run_id, implementation, 1)

    assert outcome.kind is not Kind.FAILED, outcome
    assert asked == [store.get_run(run_id).agent]
    assert [request.cwd for request in requests] == [worktree]
    assert requests[0].run_id == run_id
    steps = store.list_steps(run_id)
    assert [step.status for step in steps] == [StepStatus.SUCCEEDED]
    run = store.get_run(run_id)
    assert run.tasks_done == 2
    assert EventType.STEP_FINISHED in event_types(store, run_id)
