from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from agentloop.core.postmortem_prompt import (
    PostmortemFacts,
    build_postmortem_prompt,
    is_postmortem_prompt,
)


def facts(**changes: object) -> PostmortemFacts:
    base: dict[str, object] = {
        "run_id": "01a2",
        "name": "demo",
        "status": "FAILED",
        "reason": "consecutive_verification_failures",
        "spec_path": "/ws/specs/demo.md",
        "plan_path": "/ws/specs/planning/demo-plan.md",
        "iterations": 3,
        "tasks_done": 1,
        "tasks_total": 3,
        "run_dir": "/ws/logs/loop/run-01a2",
    }
    base.update(changes)
    return PostmortemFacts(**base)  # type: ignore[arg-type]


def test_the_prompt_states_the_outcome_and_is_recognisable():
    prompt = build_postmortem_prompt(
        facts(signals=("no_progress: 3 iterations",), tail=("make: *** [test] Error 2",))
    )
    assert is_postmortem_prompt(prompt)
    for fact in ("FAILED", "consecutive_verification_failures", "1/3", "no_progress",
                 "make: *** [test] Error 2"):  # fmt: skip
        assert fact in prompt, fact


def test_an_implementation_prompt_is_not_taken_for_a_postmortem():
    assert not is_postmortem_prompt("@spec @plan\nPick the highest-priority open task.")


def test_the_prompt_is_deterministic():
    assert build_postmortem_prompt(facts()) == build_postmortem_prompt(facts())


@given(
    reason=st.one_of(st.none(), st.text(max_size=80)),
    tail=st.lists(st.text(max_size=60), max_size=20).map(tuple),
)
def test_any_facts_give_a_postmortem_prompt(reason: str | None, tail: tuple[str, ...]):
    prompt = build_postmortem_prompt(facts(reason=reason, tail=tail))
    assert is_postmortem_prompt(prompt)


def test_the_usage_line_says_when_no_cost_was_reported():
    assert "tokens out, no cost reported" in build_postmortem_prompt(facts())
    assert "tokens out, $0.1250" in build_postmortem_prompt(facts(cost_usd=0.125))
