from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agentloop.core.completion import COMPLETION_TOKEN
from agentloop.core.errors import PromptError
from agentloop.core.plan import parse_plan
from agentloop.core.prompts import (
    NOTES_HEADING,
    PromptInputs,
    PromptPaths,
    apply_rewrite,
    build_implementation_prompt,
    build_review_prompt,
    completion_rule,
    load_custom_instructions,
    prompt_paths,
    rewrite_note,
)
from agentloop.core.types import CompletionMode, WatchdogSignal

WS = Path("/ws")
WT = Path("/wt/shop.run-x")
RUN_NOTES = Path("/ws/logs/loop/run-1/runner-notes.txt")


def implementation_prompt(
    paths: PromptPaths,
    mode: CompletionMode,
    *,
    instructions: str | None = None,
    notes: tuple[str, ...] | list[str] = (),
) -> str:
    return build_implementation_prompt(PromptInputs(paths, mode, instructions), notes)


def review_prompt(paths: PromptPaths, mode: CompletionMode, *, task=None) -> str:  # type: ignore[no-untyped-def]
    return build_review_prompt(PromptInputs(paths, mode), task)


def paths() -> PromptPaths:
    return prompt_paths(
        WS,
        spec=WS / "specs/auth.md",
        plan=WS / "specs/planning/auth-plan.md",
        runner_notes=RUN_NOTES,
        context_files=["docs/arch.md", "/shared/style.md"],
    )


def test_prompt_paths_resolve_context_files_and_learnings_against_the_workspace() -> None:
    p = paths()
    assert p.context_files == (WS / "docs/arch.md", Path("/shared/style.md"))
    assert p.learnings == WS / "LEARNINGS.md"
    relative = prompt_paths(WS, Path("specs/a.md"), Path("./p/../plan.md"), RUN_NOTES)
    assert (relative.spec, relative.plan) == (WS / "specs/a.md", WS / "plan.md")


def test_inputs_for_a_run_point_into_the_worktree() -> None:
    inputs = PromptInputs.for_run(
        workspace=WS,
        spec_path=WS / "specs/auth.md",
        plan_path=WS / "specs/planning/auth-plan.md",
        runner_notes=RUN_NOTES,
        context_files=[Path("docs/arch.md")],
        worktree=WT,
        completion_mode=CompletionMode.EXACT,
        custom_instructions="Do SPEC_PATH.",
    )
    assert inputs.paths.spec == WT / "specs/auth.md"
    assert inputs.paths.context_files == (WT / "docs/arch.md",)
    assert inputs.paths.runner_notes == RUN_NOTES
    prompt = build_implementation_prompt(inputs)
    assert f"Do {WT}/specs/auth.md." in prompt and prompt.endswith(
        completion_rule(CompletionMode.EXACT)
    )
    in_workspace = PromptInputs.for_run(
        workspace=WS, spec_path=WS / "s.md", plan_path=WS / "p.md", runner_notes=RUN_NOTES
    )
    assert in_workspace.paths.spec == WS / "s.md"
    assert in_workspace.completion_mode is CompletionMode.TRAILING


def test_paths_move_into_the_worktree_except_runner_notes_and_outside_files() -> None:
    moved = paths().in_worktree(WS, WT)
    assert moved.spec == WT / "specs/auth.md"
    assert moved.plan == WT / "specs/planning/auth-plan.md"
    assert moved.learnings == WT / "LEARNINGS.md"
    assert moved.context_files == (WT / "docs/arch.md", Path("/shared/style.md"))
    assert moved.runner_notes == RUN_NOTES


def test_implementation_prompt_first_line_mentions_every_file_in_order() -> None:
    prompt = implementation_prompt(paths().in_worktree(WS, WT), CompletionMode.TRAILING)
    assert prompt.splitlines()[0] == (
        f"@{WT}/specs/auth.md @{WT}/specs/planning/auth-plan.md @{RUN_NOTES} "
        f"@{WT}/docs/arch.md @/shared/style.md @{WT}/LEARNINGS.md"
    )


def test_implementation_prompt_instructions() -> None:
    prompt = implementation_prompt(paths(), CompletionMode.TRAILING)
    for phrase in (
        "highest-priority open task",
        "Do only that task",
        "run the checks relevant to it",
        "`- [ ]` becomes `- [x]`",
        "Commit once",
        "`Completed <task>. <N> tasks remain.`",
        "completion token",
    ):
        assert phrase in prompt
    assert prompt.endswith(completion_rule(CompletionMode.TRAILING))


def test_completion_rule_follows_the_mode() -> None:
    trailing = implementation_prompt(paths(), CompletionMode.TRAILING)
    exact = implementation_prompt(paths(), CompletionMode.EXACT)
    assert "alone on the last line" in trailing and "alone on the last line" not in exact
    assert "whole answer must be exactly the token" in exact
    assert COMPLETION_TOKEN in trailing and COMPLETION_TOKEN in exact


def test_prompts_are_deterministic() -> None:
    first = implementation_prompt(paths(), CompletionMode.TRAILING, notes=["NOTE: a"])
    assert first == implementation_prompt(paths(), CompletionMode.TRAILING, notes=["NOTE: a"])
    task = parse_plan("- [x] Add login").tasks[0]
    assert review_prompt(paths(), CompletionMode.EXACT, task=task) == review_prompt(
        paths(), CompletionMode.EXACT, task=task
    )


def test_custom_instructions_replace_the_default_ones_with_placeholders() -> None:
    custom = "Work on SPEC_PATH following PLAN_PATH.\nKeep SPEC_PATHS and MY_PLAN_PATH as is."
    prompt = implementation_prompt(paths(), CompletionMode.EXACT, instructions=custom)
    lines = prompt.split("\n\n")
    assert lines[0] == paths().mentions()
    assert lines[1] == (
        f"Work on {WS}/specs/auth.md following {WS}/specs/planning/auth-plan.md.\n"
        "Keep SPEC_PATHS and MY_PLAN_PATH as is."
    )
    assert "highest-priority" not in prompt
    assert prompt.endswith(completion_rule(CompletionMode.EXACT))


def test_notes_are_appended_once_under_one_heading() -> None:
    prompt = implementation_prompt(paths(), CompletionMode.TRAILING, notes=["one", "two", "one"])
    assert prompt.endswith(f"{NOTES_HEADING}\n\none\n\ntwo")
    assert apply_rewrite(prompt, ["two", "three"]) == prompt + "\n\nthree"
    assert apply_rewrite(prompt, ["one", " ", ""]) == prompt
    assert apply_rewrite("base", []) == "base"


def test_review_prompt() -> None:
    plan = parse_plan("- [R] a\n- [x] Add login form\n- [ ] c")
    prompt = review_prompt(paths(), CompletionMode.TRAILING, task=plan.first_awaiting_review())
    first_line, opening = prompt.split("\n\n")[:2]
    assert first_line == paths().mentions()
    assert "REVIEWING" in opening
    assert "Task under review (plan line 2): Add login form" in prompt
    for phrase in (
        "`- [x]` becomes `- [R]`",
        "`- [x]` becomes `- [ ]`",
        "LEARNINGS.md",
        "`Reviewed <task>. <N> awaiting review.`",
        "`Review complete. Returning to implementation.`",
        "completion token",
    ):
        assert phrase in prompt
    assert "first `- [x]` task" in review_prompt(paths(), CompletionMode.TRAILING)


@pytest.mark.parametrize("signal", list(WatchdogSignal))
def test_every_signal_has_a_targeted_note(signal: WatchdogSignal) -> None:
    note = rewrite_note(signal, "iterations 4-6")
    assert note.startswith("NOTE: ") and "(iterations 4-6)" in note
    assert "()" not in rewrite_note(signal)


def test_notes_differ_per_signal_and_target_the_problem() -> None:
    notes = {signal: rewrite_note(signal) for signal in WatchdogSignal}
    assert len(set(notes.values())) == len(notes)
    assert "worktree" in notes[WatchdogSignal.WORKTREE_ESCAPE]
    assert "runner notes" in notes[WatchdogSignal.VERIFICATION_FAILED]
    assert "blocked" in notes[WatchdogSignal.REPEATED_TASK]
    assert "not complete" in notes[WatchdogSignal.FALSE_COMPLETE]


def test_detail_is_flattened_to_one_line() -> None:
    note = rewrite_note(WatchdogSignal.WORKTREE_ESCAPE, "src/a.py\n  src/b.py")
    assert "(src/a.py src/b.py)" in note and "\n" not in note


def test_rewrite_changes_the_prompt_and_keeps_the_original() -> None:
    before = implementation_prompt(paths(), CompletionMode.TRAILING)
    after = apply_rewrite(before, [rewrite_note(WatchdogSignal.NO_PROGRESS, "3 iterations")])
    assert after.startswith(before) and after != before


def test_load_custom_instructions(tmp_path: Path) -> None:
    assert load_custom_instructions(tmp_path, None) is None
    (tmp_path / ".loop").mkdir()
    (tmp_path / ".loop/prompt.txt").write_text("workspace prompt")
    assert load_custom_instructions(tmp_path, None) == "workspace prompt"
    (tmp_path / "mine.txt").write_text("configured prompt")
    assert load_custom_instructions(tmp_path, "mine.txt") == "configured prompt"
    with pytest.raises(PromptError, match="cannot read prompt file"):
        load_custom_instructions(tmp_path, "missing.txt")
    (tmp_path / "bad.txt").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(PromptError, match="not UTF-8"):
        load_custom_instructions(tmp_path, "bad.txt")


def test_multi_line_notes_become_one_paragraph() -> None:
    prompt = apply_rewrite("base", ["paths:\n\n  a.py\n\n  b.py\n"])
    assert prompt == f"base\n\n{NOTES_HEADING}\n\npaths:\n  a.py\n  b.py"


@given(st.text(), st.lists(st.text(), max_size=4), st.lists(st.text(), max_size=4))
def test_apply_rewrite_is_idempotent_and_keeps_the_prompt(
    prompt: str, notes: list[str], more: list[str]
) -> None:
    once = apply_rewrite(prompt, notes)
    assert once.startswith(prompt)
    assert apply_rewrite(once, notes) == once
    twice = apply_rewrite(once, more)
    assert apply_rewrite(twice, notes + more) == twice
