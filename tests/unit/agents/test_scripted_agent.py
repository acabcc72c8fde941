"""The scripted agent in real git repositories: a plan to completion, review passes, knobs."""

from __future__ import annotations

import dataclasses
import threading
import time
from pathlib import Path

import pytest

from agentloop.agents.base import AgentRequest, AgentResult, Failure, MemorySink
from agentloop.agents.process import kill_owner
from agentloop.agents.scripted import Knobs, ScriptedAgent, is_review_prompt, parse_knobs
from agentloop.core.completion import COMPLETION_TOKEN
from agentloop.core.errors import ConfigError
from agentloop.core.plan import parse_plan

from .support import git, implementation_prompt, make_request, plan_of, review_prompt

AGENT = ScriptedAgent()


def implement(repo: Path, model: str = "scripted", **kw: object) -> AgentResult:
    return AGENT.run(
        make_request(repo, implementation_prompt(repo), model=model, **kw), MemorySink()
    )


def review(repo: Path, model: str = "scripted", **kw: object) -> AgentResult:
    return AGENT.run(make_request(repo, review_prompt(repo), model=model, **kw), MemorySink())


def commits(repo: Path) -> list[str]:
    return git(repo, "log", "--format=%s").splitlines()


def test_three_task_plan_to_completion(repo: Path) -> None:
    answers = [implement(repo).final_text for _ in range(3)]
    assert answers == [
        "Completed Write the greeting module. 2 tasks remain.",
        "Completed Add a farewell function. 1 tasks remain.",
        COMPLETION_TOKEN,
    ]
    plan = plan_of(repo).read_text()
    assert "- [ ] not a task: inside a code fence" in plan  # fenced: untouched
    assert "- [ ]? Optional polish" in plan and "- [ ] Manually say hello" in plan
    assert parse_plan(plan).tasks_done == 3
    assert (repo / "tasks" / "task-1.txt").read_text() == "Write the greeting module\n"
    assert (repo / "tasks" / "task-4.txt").read_text() == "Document both functions.\n"
    assert commits(repo) == [
        "Document both functions.",
        "Add a farewell function",
        "Write the greeting module",
        "initial",
    ]
    assert git(repo, "status", "--porcelain") == ""  # nothing left uncommitted
    assert implement(repo).final_text == COMPLETION_TOKEN  # nothing to do: still complete
    assert len(commits(repo)) == 4


def test_review_pass_after_implementation(repo: Path) -> None:
    for _ in range(3):
        implement(repo)
    answers = [review(repo).final_text for _ in range(3)]
    assert answers == [
        "Reviewed Write the greeting module. 2 awaiting review.",
        "Reviewed Add a farewell function. 1 awaiting review.",
        COMPLETION_TOKEN,
    ]
    assert parse_plan(plan_of(repo).read_text()).awaiting_review == ()
    assert commits(repo)[0] == "Review: approve Document both functions."


def test_interleaved_review_returns_to_implementation(repo: Path) -> None:
    implement(repo)
    result = review(repo)
    assert result.final_text == "Review complete. Returning to implementation."
    assert "- [R] Write the greeting module" in plan_of(repo).read_text()
    assert review(repo).final_text == "Review complete. Returning to implementation."


def test_result_fields_and_output(repo: Path) -> None:
    sink = MemorySink()
    request = make_request(repo, implementation_prompt(repo), run_id="run-s", iteration=4)
    result = AGENT.run(request, sink)
    assert result.failure is None and result.exit_code == 0 and result.agent == "scripted"
    assert result.session_id == "scripted-run-s-implementation-4"
    assert result.turns == 1 and result.tokens_in > 0 and result.cost_usd == 0.0
    assert sink.lines[-1] == result.final_text
    assert sink.lines[0] == "scripted: implementing Write the greeting module"
    assert result.output_lines == len(sink.lines)
    assert len(sink.events) == 1


def without_plan_env(request: AgentRequest) -> AgentRequest:
    env = {k: v for k, v in request.env.items() if k != "LOOP_PLAN_PATH"}
    return dataclasses.replace(request, env=env)


def test_plan_from_the_prompt_when_the_env_has_none(repo: Path) -> None:
    request = without_plan_env(make_request(repo, implementation_prompt(repo)))
    result = AGENT.run(request, MemorySink())
    assert result.final_text.startswith("Completed Write the greeting module")


def test_no_plan_anywhere_is_a_crash_not_an_exception(repo: Path) -> None:
    request = without_plan_env(make_request(repo, "just do something"))
    result = AGENT.run(request, MemorySink())
    assert result.failure == Failure.CRASH and "no plan" in result.message


def test_git_failure_is_a_crash(tmp_path: Path) -> None:
    plan = tmp_path / "plan.md"
    plan.write_text("- [ ] a task\n")
    request = make_request(tmp_path, "go")
    env = {**request.env, "LOOP_PLAN_PATH": str(plan), "GIT_CEILING_DIRECTORIES": str(tmp_path)}
    result = AGENT.run(dataclasses.replace(request, env=env), MemorySink())
    assert result.failure == Failure.CRASH and "git" in result.message


def test_is_review_prompt_reads_the_opening_paragraph(repo: Path) -> None:
    assert is_review_prompt(review_prompt(repo))
    assert not is_review_prompt(implementation_prompt(repo))
    late = implementation_prompt(repo) + "\n\nLater: you are reviewing nothing here."
    assert not is_review_prompt(late)


# -- knobs


def test_parse_knobs() -> None:
    assert parse_knobs("") == parse_knobs("scripted") == parse_knobs("opus") == Knobs()
    knobs = parse_knobs("delay=0.5;early_complete=1; lines=3;usage_limit=0;cost=0.25")
    assert knobs.delay == 0.5 and knobs.early_complete and knobs.lines == 3
    assert knobs.usage_limit == 0.0 and knobs.cost == 0.25
    with pytest.raises(ConfigError, match="model"):
        parse_knobs("warp=9")
    with pytest.raises(ConfigError):
        parse_knobs("lines=many")


def test_bad_knob_is_a_permanent_failure(repo: Path) -> None:
    result = implement(repo, "warp=9")
    assert result.failure == Failure.PERMANENT and "warp=9" in result.message


def test_early_complete_claims_the_token_with_tasks_left(repo: Path) -> None:
    assert implement(repo, "early_complete=1").final_text == COMPLETION_TOKEN
    assert len(parse_plan(plan_of(repo).read_text()).open_tasks) == 2


def test_no_commit_answers_without_doing_anything(repo: Path) -> None:
    before = plan_of(repo).read_text()
    start = time.perf_counter()
    result = implement(repo, "no_commit=1")
    elapsed = time.perf_counter() - start
    assert result.final_text == "Completed Write the greeting module. 2 tasks remain."
    assert plan_of(repo).read_text() == before and commits(repo) == ["initial"]
    assert elapsed < 0.05  # in-process and fast: benchmarks run it


def test_lines_knob_emits_extra_output(repo: Path) -> None:
    sink = MemorySink()
    AGENT.run(make_request(repo, implementation_prompt(repo), model="lines=5;no_commit=1"), sink)
    assert sink.lines[:5] == [f"scripted: line {i}/5" for i in range(1, 6)]


def test_delay_is_interrupted_by_cancel(repo: Path) -> None:
    cancel = threading.Event()
    threading.Timer(0.1, cancel.set).start()
    start = time.monotonic()
    result = implement(repo, "delay=30", cancel=cancel)
    assert result.failure == Failure.CANCELLED and time.monotonic() - start < 2
    assert commits(repo) == ["initial"]


def test_delay_then_work(repo: Path) -> None:
    start = time.monotonic()
    result = implement(repo, "delay=0.2")
    assert time.monotonic() - start >= 0.2 and result.failure is None


def test_hang_until_timeout(repo: Path) -> None:
    result = implement(repo, "hang=1", timeout_sec=0.2)
    assert result.failure == Failure.TIMEOUT and result.exit_code == 124


def test_hang_until_kill_owner(repo: Path) -> None:
    results: list[AgentResult] = []
    thread = threading.Thread(
        target=lambda: results.append(implement(repo, "hang=1", run_id="run-h"))
    )
    thread.start()
    time.sleep(0.1)
    kill_owner("run-h")
    thread.join(2)
    assert not thread.is_alive() and results[0].failure == Failure.CANCELLED


def test_usage_limit_once_per_run(repo: Path) -> None:
    first = implement(repo, "usage_limit=1795003200", run_id="run-u")
    assert first.failure == Failure.USAGE_LIMIT and first.resume_at == 1795003200
    assert commits(repo) == ["initial"]
    second = implement(repo, "usage_limit=1795003200", run_id="run-u")
    assert second.failure is None
    other_run = implement(repo, "usage_limit=0", run_id="run-v")
    assert other_run.failure == Failure.USAGE_LIMIT and other_run.resume_at is None
    assert git(repo, "status", "--porcelain") == ""  # the counters never show in the tree


def test_transient_and_crash_counts(repo: Path) -> None:
    model = "transient=2;crash=1"
    failures = [implement(repo, model, run_id="run-t").failure for _ in range(4)]
    assert failures == [Failure.TRANSIENT, Failure.TRANSIENT, Failure.CRASH, None]


def test_permanent_knob(repo: Path) -> None:
    result = implement(repo, "permanent=1")
    assert result.failure == Failure.PERMANENT
    assert result.message == "Not logged in · Please run /login"


def test_fail_review_then_review(repo: Path) -> None:
    implement(repo)
    failed = review(repo, "fail_review=1", run_id="run-r")
    assert failed.failure == Failure.CRASH and failed.exit_code == 1
    assert "- [x] Write the greeting module" in plan_of(repo).read_text()
    assert review(repo, "fail_review=1", run_id="run-r").failure is None


def test_reject_review_sends_the_task_back(repo: Path) -> None:
    implement(repo)
    result = review(repo, "reject_review=1", run_id="run-j")
    assert result.final_text == "Sent back Write the greeting module. 0 awaiting review."
    assert "- [ ] Write the greeting module" in plan_of(repo).read_text()
    assert "Write the greeting module" in (repo / "LEARNINGS.md").read_text()
    assert implement(repo, run_id="run-j").final_text.startswith(
        "Completed Write the greeting module."
    )
    assert review(repo, "reject_review=1", run_id="run-j").final_text == (
        "Review complete. Returning to implementation."
    )
