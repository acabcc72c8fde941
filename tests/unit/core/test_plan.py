from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agentloop.core.errors import PlanError
from agentloop.core.plan import Plan, TaskState, mark_task, parse_plan, read_plan

PLAN = """\
# Auth plan

## Tasks
- [ ] Add login form
- [x] Add user model
- [R] Add database
- [~] Add SSO (blocked)
  - [ ] nested subtask
* [X] star bullet done
+ [ ]? optional polish

```
- [ ] inside a backtick fence
```

~~~~ text
- [ ] inside a tilde fence
```
- [ ] still inside: a shorter other fence does not close it
~~~~

## Verification
- [ ] manual: click around
### Details
- [ ] manual too: a level-3 heading stays in Verification

## Blockers Discovered
- [~] Add SSO: no credentials
"""


def test_parses_every_task_line_with_its_state() -> None:
    plan = parse_plan(PLAN)
    states = [(task.line_no, task.state, task.text) for task in plan.tasks]
    assert states == [
        (4, TaskState.OPEN, "Add login form"),
        (5, TaskState.DONE, "Add user model"),
        (6, TaskState.REVIEWED, "Add database"),
        (7, TaskState.BLOCKED, "Add SSO (blocked)"),
        (8, TaskState.OPEN, "nested subtask"),
        (9, TaskState.DONE, "star bullet done"),
        (10, TaskState.OPEN, "optional polish"),
        (23, TaskState.OPEN, "manual: click around"),
        (25, TaskState.OPEN, "manual too: a level-3 heading stays in Verification"),
        (28, TaskState.BLOCKED, "Add SSO: no credentials"),
    ]


def test_optional_manual_and_section_flags() -> None:
    plan = parse_plan(PLAN)
    by_line = {task.line_no: task for task in plan.tasks}
    assert by_line[10].optional and not by_line[4].optional
    assert by_line[23].manual and by_line[25].manual
    assert not by_line[28].manual
    assert by_line[4].section == "Tasks"
    assert by_line[25].section == "Details"
    assert by_line[28].section == "Blockers Discovered"


def test_counts() -> None:
    plan = parse_plan(PLAN)
    # Counted: lines 4, 5, 6, 7, 8, 9 and 28 (not optional 10, not Verification 23/25).
    assert plan.tasks_total == 7
    assert plan.tasks_done == 3
    assert [task.line_no for task in plan.open_tasks] == [4, 8]
    assert [task.line_no for task in plan.awaiting_review] == [5, 9]
    assert [task.line_no for task in plan.blocked_tasks] == [7, 28]
    assert plan.first_open_task() is not None and plan.first_open_task().line_no == 4
    first_review = plan.first_awaiting_review()
    assert first_review is not None and first_review.text == "Add user model"


def test_completion_needs_no_open_task_and_with_reviewer_none_awaiting_review() -> None:
    assert not parse_plan("- [ ] a\n- [x] b").is_complete(reviewer=False)
    assert parse_plan("- [x] a\n- [R] b").is_complete(reviewer=False)
    assert not parse_plan("- [x] a\n- [R] b").is_complete(reviewer=True)
    assert parse_plan("- [R] a\n- [R] b").is_complete(reviewer=True)


def test_optional_blocked_and_verification_tasks_never_block_completion() -> None:
    text = (
        "- [R] a\n- [ ]? maybe\n- [x]? optional done\n- [~] blocked\n## Verification\n- [ ] manual"
    )
    plan = parse_plan(text)
    assert plan.is_complete(reviewer=True)
    assert plan.tasks_total == 2 and plan.tasks_done == 1


def test_empty_plan_is_complete_with_zero_counts() -> None:
    plan = parse_plan("")
    assert plan == Plan(tasks=())
    assert (plan.tasks_total, plan.tasks_done) == (0, 0)
    assert plan.is_complete(reviewer=True)
    assert plan.first_open_task() is None and plan.first_awaiting_review() is None


@pytest.mark.parametrize(
    "line",
    [
        "-[ ] no space after bullet",
        "- [ ]no space after box",
        "- [y] unknown mark",
        "- [r] lowercase r is not reviewed",
        "- [  ] two spaces",
        "1. [ ] numbered",
        "text - [ ] in the middle",
        "> - [ ] quoted",
    ],
)
def test_lines_that_are_not_tasks(line: str) -> None:
    assert parse_plan(line).tasks == ()


@pytest.mark.parametrize(
    "line",
    ["- [ ] a", "  - [ ] a", "\t* [ ] a", "+ [ ] a", "- [ ]   a  ", "- [ ] a\r", "-   [ ] a"],
)
def test_lines_that_are_tasks(line: str) -> None:
    (task,) = parse_plan(line).tasks
    assert task.text == "a" and task.state is TaskState.OPEN


def test_box_without_text_is_still_an_open_task() -> None:
    (task,) = parse_plan("- [ ]").tasks
    assert task.text == "" and task.state is TaskState.OPEN


def test_verification_section_ends_at_next_level_two_heading() -> None:
    text = "## Verification\n- [ ] manual\n# Next\n- [ ] real\n## verification:\n- [ ] manual2"
    plan = parse_plan(text)
    assert [task.manual for task in plan.tasks] == [True, False, True]


def test_level_three_verification_heading_is_not_the_verification_section() -> None:
    assert not parse_plan("### Verification\n- [ ] counted").tasks[0].manual


def test_headings_need_a_space_and_fences_inside_fences_are_text() -> None:
    text = "#Verification\n- [ ] counted\n````\n```\n- [ ] fenced\n```\n````\n- [ ] after"
    plan = parse_plan(text)
    assert [task.text for task in plan.tasks] == ["counted", "after"]
    assert not plan.tasks[0].manual


def test_backtick_line_with_backtick_in_info_string_does_not_open_a_fence() -> None:
    plan = parse_plan("``` a ` b\n- [ ] real task")
    assert [task.text for task in plan.tasks] == ["real task"]


def test_unclosed_fence_hides_the_rest_of_the_file() -> None:
    assert parse_plan("- [ ] a\n```\n- [ ] b").tasks[-1].text == "a"


def test_mark_task_changes_only_that_marker() -> None:
    text = PLAN
    done = mark_task(text, 4, TaskState.DONE)
    assert done.splitlines()[3] == "- [x] Add login form"
    assert done.replace("- [x] Add login form", "- [ ] Add login form", 1) == text
    reviewed = mark_task(done, 10, TaskState.REVIEWED)
    assert reviewed.splitlines()[9] == "+ [R]? optional polish"
    back = mark_task(text, 5, TaskState.OPEN)
    assert parse_plan(back).task_at(5).state is TaskState.OPEN  # type: ignore[union-attr]


def test_mark_task_keeps_crlf_line_ends() -> None:
    assert mark_task("- [ ] a\r\n- [ ] b\r\n", 2, TaskState.BLOCKED) == "- [ ] a\r\n- [~] b\r\n"


@pytest.mark.parametrize("line_no", [0, 1, 3, 12, 99, -1])
def test_mark_task_refuses_lines_that_are_not_tasks(line_no: int) -> None:
    with pytest.raises(PlanError):
        mark_task(PLAN, line_no, TaskState.DONE)


def test_read_plan(tmp_path: Path) -> None:
    path = tmp_path / "plan.md"
    path.write_bytes(b"\xef\xbb\xbf- [ ] with a BOM\n")
    assert read_plan(path).tasks[0].text == "with a BOM"


def test_read_plan_errors(tmp_path: Path) -> None:
    with pytest.raises(PlanError, match="cannot read plan"):
        read_plan(tmp_path / "missing.md")
    with pytest.raises(PlanError, match="cannot read plan"):
        read_plan(tmp_path)
    bad = tmp_path / "latin1.md"
    bad.write_bytes(b"- [ ] caf\xe9\n")
    with pytest.raises(PlanError, match="not UTF-8"):
        read_plan(bad)


plan_lines = st.one_of(
    st.text(),
    st.builds(
        "{}{} [{}]{} {}".format,
        st.sampled_from(["", "  ", "\t"]),
        st.sampled_from("-*+"),
        st.sampled_from(" xXR~"),
        st.sampled_from(["", "?"]),
        st.text(alphabet=st.characters(blacklist_characters="\n")),
    ),
    st.sampled_from(
        ["```", "~~~", "````", "## Verification", "# Title", "## Other", "### Verification", ""]
    ),
)
plan_texts = st.lists(plan_lines).map("\n".join)


@given(plan_texts)
def test_counts_are_always_consistent(text: str) -> None:
    plan = parse_plan(text)
    assert 0 <= plan.tasks_done <= plan.tasks_total <= len(plan.tasks)
    assert set(plan.open_tasks) <= set(plan.counted_tasks)
    assert set(plan.awaiting_review) <= set(plan.counted_tasks)
    assert len(plan.open_tasks) + plan.tasks_done + len(plan.blocked_tasks) == plan.tasks_total
    assert plan.is_complete(reviewer=False) == (plan.first_open_task() is None)
    assert plan.is_complete(reviewer=True) <= plan.is_complete(reviewer=False)
    line_numbers = [task.line_no for task in plan.tasks]
    assert line_numbers == sorted(set(line_numbers))
    assert all(1 <= n <= text.count("\n") + 1 for n in line_numbers)


@given(plan_texts, st.data())
def test_mark_task_changes_one_task_and_nothing_else(text: str, data: st.DataObject) -> None:
    plan = parse_plan(text)
    if not plan.tasks:
        return
    task = data.draw(st.sampled_from(plan.tasks))
    state = data.draw(st.sampled_from(list(TaskState)))
    marked = mark_task(text, task.line_no, state)
    after = parse_plan(marked)
    assert len(marked) == len(text)
    assert after.task_at(task.line_no).state is state  # type: ignore[union-attr]
    others_before = [t for t in plan.tasks if t.line_no != task.line_no]
    others_after = [t for t in after.tasks if t.line_no != task.line_no]
    assert others_before == others_after


@given(st.binary())
def test_read_plan_raises_only_plan_error(
    tmp_path_factory: pytest.TempPathFactory, data: bytes
) -> None:
    path = tmp_path_factory.mktemp("plan") / "plan.md"
    path.write_bytes(data)
    try:
        plan = read_plan(path)
    except PlanError:
        return
    assert plan.tasks_done <= plan.tasks_total
