from datetime import UTC, datetime

from agentloop.cli.render import render_text
from agentloop.cli.sheet import inspect_rich, inspect_text
from agentloop.cli.stream_views import OutputLayout, event_line, payload_summary
from agentloop.cli.views import (
    columns,
    elapsed_s,
    fmt_count,
    fmt_duration,
    runs_table,
    runs_text,
    unique_prefixes,
)

NOW = datetime(2025, 3, 1, 12, 0, 30, tzinfo=UTC)


def a_run(**fields):  # type: ignore[no-untyped-def]
    run = {
        "id": "01955b2a-1111-7000-8000-000000000001",
        "name": "fix-login",
        "name_source": "user",
        "status": "RUNNING",
        "workspace_root": "/w",
        "spec_path": "/w/specs/login.md",
        "plan_path": "/w/specs/planning/login-plan.md",
        "worktree": {
            "base_branch": "main",
            "run_branch": "run/fix-login",
            "merge_target_branch": None,
            "merge_strategy": "squash",
            "worktree_path": "/w.run-fix-login",
            "provider": "git",
        },
        "created_at": "2025-03-01T11:59:00Z",
        "updated_at": "2025-03-01T12:00:00Z",
        "started_at": "2025-03-01T11:59:05Z",
        "finished_at": None,
        "phase": "implementation",
        "iteration": 2,
        "tasks_done": 1,
        "tasks_total": 3,
        "tokens_in": 12345,
        "tokens_out": 678,
        "cost_usd": 0.4567,
        "reason": None,
        "config": {"iterations": 50},
    }
    run.update(fields)
    return run


def test_formatters() -> None:
    assert fmt_duration(None) == "-"
    assert fmt_duration(5.94) == "5.9s"
    assert fmt_duration(65) == "1m05s"
    assert fmt_duration(3 * 3600 + 120) == "3h02m"
    assert [fmt_count(n) for n in (0, 999, 1234, 12345, 2_500_000)] == [
        "0",
        "999",
        "1.2k",
        "12k",
        "2.5M",
    ]
    assert elapsed_s(a_run(), NOW) == 85.0
    assert elapsed_s(a_run(finished_at="2025-03-01T11:59:15Z"), NOW) == 10.0
    assert elapsed_s(a_run(started_at=None), NOW) is None


def test_unique_prefixes_tell_time_ordered_ids_apart() -> None:
    ids = [
        "01955b2a-1111-7000-8000-000000000001",
        "01955b2a-1112-7000-8000-000000000002",
        "01955b2b-0000-7000-8000-000000000003",
    ]
    assert unique_prefixes(ids) == {
        ids[0]: "01955b2a-1111",
        ids[1]: "01955b2a-1112",
        ids[2]: "01955b2b",
    }


def test_columns_align_and_do_not_pad_the_last_column() -> None:
    assert columns(("A", "BB"), [["xxx", "y"], ["z", ""]]) == "A    BB\nxxx  y\nz"


def test_runs_text_has_full_ids_and_every_figure() -> None:
    text = runs_text([a_run(), a_run(id="0195-x", name="other", status="COMPLETED")], NOW)
    lines = text.splitlines()
    assert lines[0].split() == [
        "ID",
        "NAME",
        "STATUS",
        "PHASE",
        "ITER",
        "TASKS",
        "ELAPSED",
        "TOKENS",
        "COST",
    ]
    assert lines[1].split() == [
        "01955b2a-1111-7000-8000-000000000001",
        "fix-login",
        "RUNNING",
        "implementation",
        "2/50",
        "1/3",
        "1m25s",
        "12k/678",
        "$0.46",
    ]
    assert lines[2].startswith("0195-x ")
    assert runs_text([], NOW) == "no runs"


def test_runs_table_at_a_fixed_width() -> None:
    text = render_text(runs_table([a_run()], NOW, title="runs in /w"), width=120)
    assert "runs in /w" in text
    assert "01955b2a " in text  # the shortest unique prefix, not the whole id
    assert "fix-login" in text and "RUNNING" in text and "$0.46" in text
    assert all(len(line) <= 120 for line in text.splitlines())


def test_inspect_text_and_rich() -> None:
    steps = [
        {
            "id": "s1",
            "phase": "implementation",
            "iteration": 1,
            "attempt": 1,
            "status": "SUCCEEDED",
            "duration_ms": 4200,
            "exit_code": 0,
            "tokens_in": 10,
            "tokens_out": 5,
            "cost_usd": 0.01,
        }
    ]
    artifacts = [{"kind": "iteration_log", "path": "/w/logs/loop/run-x/iter-01.log"}]
    run = a_run(status="FAILED", reason="iteration_limit", finished_at="2025-03-01T12:00:05Z")
    text = inspect_text(run, steps, artifacts, NOW)
    assert "status         FAILED" in text
    assert "reason         iteration_limit" in text
    assert "run branch     run/fix-login" in text
    assert "worktree       /w.run-fix-login via git" in text
    assert "merge target" not in text  # empty fields are left out
    assert "implementation  1    SUCCEEDED  4.2s" in text
    assert "iter-01.log" in text
    rich_text = render_text(inspect_rich(run, steps, artifacts, NOW), width=100)
    assert "FAILED" in rich_text and "SUCCEEDED" in rich_text and "iter-01.log" in rich_text


def test_event_lines() -> None:
    started = {
        "seq": 3,
        "event_type": "STEP_STARTED",
        "timestamp": 0,
        "payload": {"step_id": "s", "phase": "review", "iteration": 2, "attempt": 1},
    }
    assert event_line(started).split()[2:] == [
        "STEP_STARTED",
        "review",
        "iteration=2",
        "attempt=1",
    ]
    finished = payload_summary(
        "STEP_FINISHED",
        {"phase": "implementation", "exit_code": 0, "duration_ms": 1500, "tokens_in": 1200},
    )
    assert finished == "implementation exit=0 1.5s tokens=1.2k/0 cost=$0.00"
    assert payload_summary("RUN_FAILED", {"reason": "merge conflict in a.py"}) == (
        'reason="merge conflict in a.py"'
    )


def test_output_layout_puts_a_header_before_each_step() -> None:
    layout = OutputLayout()
    items = [
        {"step_id": "a", "phase": "implementation", "iteration": 1, "line": "one"},
        {"step_id": "a", "phase": "implementation", "iteration": 1, "line": "two"},
        {"step_id": "b", "phase": "review", "iteration": 1, "line": "three"},
    ]
    printed = [pair for item in items for pair in layout.lines(item)]
    assert printed == [
        ("── implementation · iteration 1 ──", True),
        ("one", False),
        ("two", False),
        ("── review · iteration 1 ──", True),
        ("three", False),
    ]
