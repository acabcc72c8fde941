"""The JSON contract of every command's result (the ``data`` of the envelope), pinned, and
their plain text."""

import json
from datetime import UTC, datetime
from pathlib import Path

from agentloop.cli.commands.completion import completion_script
from agentloop.cli.commands.control import ControlResult
from agentloop.cli.commands.diff import DiffResult
from agentloop.cli.commands.doctor import Check, DoctorResult, parse_git_version, run_checks
from agentloop.cli.commands.inspect import InspectResult
from agentloop.cli.commands.list import RunListResult
from agentloop.cli.commands.review import ReviewResult
from agentloop.cli.commands.run import RunResult, outcome_exit_code
from agentloop.cli.commands.say import SayResult
from agentloop.cli.progress import ProgressPanel, RunProgress, progress_line
from agentloop.cli.render import ENVELOPE_VERSION, envelope, render_text

NOW = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)
RUN = {
    "id": "01955b2a-1111-7000-8000-000000000001",
    "name": "demo",
    "status": "COMPLETED",
    "started_at": "2025-03-01T11:59:00Z",
    "finished_at": "2025-03-01T11:59:30Z",
    "tasks_done": 2,
    "tasks_total": 2,
    "iteration": 2,
    "tokens_in": 10,
    "tokens_out": 5,
    "cost_usd": 0.5,
    "reason": None,
}


def test_envelope_shape() -> None:
    assert ENVELOPE_VERSION == 1
    assert envelope({"x": 1}) == {"version": 1, "ok": True, "data": {"x": 1}}


MEASURED = {
    "metric": "score", "goal": "max", "target": None, "baseline": 1.0, "best": 2.0,
    "best_iteration": 1, "series": [{"iteration": 1, "value": 2.0, "kept": True, "reason": "x"}],
}  # fmt: skip


def test_result_keys_are_pinned() -> None:
    diff = {"base": "main", "branch": "run/x", "merge_base": "abc", "commits": [], "files": []}
    pinned = [
        (RunListResult([RUN], 1, "/w", NOW), {"runs", "total", "workspace_root"}),
        (InspectResult(RUN, [], [], now=NOW), {"run", "steps", "artifacts"}),
        (InspectResult(RUN, [], [], MEASURED, now=NOW), {"run", "steps", "artifacts",
                                                        "measurements"}),
        (SayResult(RUN, {"id": "n1", "text": "hi"}), {"run_id", "note"}),
        (ControlResult("pause", RUN), {"action", "run_id", "run"}),
        (RunResult(RUN), {"run"}),
        (RunResult(RUN, followed=True), {"run", "outcome", "exit_code"}),
        (DiffResult(RUN["id"], diff), {"run_id", "base", "branch", "merge_base", "commits",
                                       "files"}),
        (ReviewResult("merge", RUN, {"merge_commit": "abc"}), {"action", "run_id", "result"}),
        (DoctorResult((Check("git", "ok", "git 2.39"),)), {"ok", "checks"}),
        (completion_script("bash"), {"shell", "script", "install"}),
    ]  # fmt: skip
    for result, keys in pinned:
        data = result.to_json()
        assert set(data) == keys, type(result).__name__
        json.dumps(data)  # serialisable
        assert isinstance(result.to_text(), str)


def test_run_result_texts_and_outcomes() -> None:
    started = RunResult({**RUN, "status": "PENDING"}).to_text()
    assert started.splitlines()[0] == f"started run demo ({RUN['id']}): PENDING"
    assert f"loopctl tail -f {RUN['id']}" in started
    failed = RunResult({**RUN, "status": "FAILED", "reason": "iteration_limit"}, followed=True)
    assert failed.to_text() == f"run demo ({RUN['id']}) FAILED: iteration_limit"
    assert [outcome_exit_code(s) for s in ("COMPLETED", "FAILED", "CANCELED")] == [0, 1, 1]


def test_review_result_text_shows_the_answer_facts() -> None:
    text = ReviewResult("merge", RUN, {"run": {"merge_commit": "abc123"}, "target": "main"})
    assert text.to_text().splitlines() == [
        f"merged demo ({RUN['id']}):",
        "  target: main",
        "  merge_commit: abc123",
    ]
    assert ReviewResult("scrap", RUN, None).to_text().startswith("scrapped")


def test_diff_text_lists_commits_files_and_patches() -> None:
    diff = {
        "base": "main",
        "branch": "run/x",
        "merge_base": "0123456789abcdef",
        "commits": [{"sha": "feedbeef00112233", "subject": "add a"}],
        "files": [
            {"path": "a.txt", "status": "A", "additions": 1, "deletions": 0,
             "patch": "diff --git a/a.txt b/a.txt\n+a\n"},
        ],
    }  # fmt: skip
    lines = DiffResult("r", diff).to_text().splitlines()
    assert lines[:5] == [
        "run/x against main (merge base 0123456789ab)",
        "1 commit:",
        "  feedbeef0011  add a",
        "1 file changed, +1 -0:",
        "  added          +1 -0  a.txt",
    ]
    assert lines[-1] == "+a"
    assert "diff --git" not in DiffResult("r", diff, stat_only=True).to_text()


def test_progress_line_and_panel() -> None:
    running = {**RUN, "status": "RUNNING", "finished_at": None, "phase": "review",
               "config": {"iterations": 10}}  # fmt: skip
    assert progress_line(running, NOW) == (
        "demo: status RUNNING  phase review  iteration 2/10  tasks 2/2  elapsed 1m00s  "
        "tokens 10/5  cost $0.50"
    )
    progress = RunProgress(running)
    progress.apply({"event_type": "STEP_STARTED", "payload": {"phase": "implementation",
                                                             "iteration": 3}})  # fmt: skip
    assert progress.run["phase"] == "implementation" and progress.run["iteration"] == 3
    progress.apply({"event_type": "RUN_FAILED", "payload": {"reason": "budget_cost"}})
    assert progress.run["status"] == "FAILED" and progress.run["reason"] == "budget_cost"
    text = render_text(ProgressPanel(progress, lambda: NOW), width=100)
    assert "demo" in text and "FAILED" in text and "implementation" in text and "$0.50" in text


def test_doctor_checks_with_a_stand_in_path(tmp_path: Path) -> None:
    tools = {"git": "/usr/bin/git", "codex": "/opt/codex"}
    checks = {c.name: c for c in run_checks("http://127.0.0.1:1", None, tmp_path, tools.get)}
    assert checks["loopd"].state == "fail" and "loopd --addr http://127.0.0.1:1" in str(
        checks["loopd"].fix
    )
    assert checks["token"].state == "skip"
    assert checks["git"].state == "ok"
    assert checks["agent claude"].state == "fail"  # the default agent, missing
    assert checks["agent codex"].state == "ok" and checks["agent gemini"].state == "warn"
    assert checks["wt"].state == "warn" and checks["gh"].state == "warn"
    result = DoctorResult(tuple(checks.values()))
    assert not result.ok
    text = result.to_text()
    assert "FAIL  loopd" in text and "fix: " in text
    assert text.splitlines()[-1] == "something a run needs is missing (see FAIL)"
    assert parse_git_version("git version 2.39.5") == (2, 39)
    assert parse_git_version("nonsense") is None
