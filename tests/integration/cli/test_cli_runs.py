"""Starting runs and reading them back, piped and as JSON."""

from __future__ import annotations

from pathlib import Path

from cli_support import Ctl, git

from integration.loopd import Loopd

ENVELOPE_KEYS = {"version", "ok", "data"}
RUN_KEYS = {
    "id", "name", "name_source", "status", "workspace_root", "spec_path", "plan_path",
    "worktree", "created_at", "updated_at", "iteration", "tasks_done", "tasks_total",
    "tokens_in", "tokens_out", "cost_usd", "reason",
}  # fmt: skip


def started_id(ctl: Ctl, *args: str) -> str:
    result = ctl("--json", "run", "specs/demo.md", "--agent", "scripted", *args)
    assert result.code == 0, result.err
    return str(result.json()["data"]["run"]["id"])


def test_run_follow_streams_progress_and_exits_0(ctl: Ctl, workspace: Path) -> None:
    result = ctl("run", "specs/demo.md", "--agent", "scripted", "--follow")
    assert result.code == 0, result.out + result.err
    lines = result.out.splitlines()
    kinds = [line.split()[2] for line in lines if line[:4].strip().isdigit()]
    assert kinds[0] == "RUN_CREATED" and kinds[-1] == "RUN_COMPLETED"
    assert "STEP_STARTED" in kinds and "STEP_FINISHED" in kinds
    assert "status COMPLETED" in lines[-2] and "tasks 2/2" in lines[-2]
    assert lines[-1].startswith("run demo (") and lines[-1].endswith(") COMPLETED")
    assert "\x1b[" not in result.out  # piped: no colour, no live panel
    assert "Ctrl-C stops watching" in result.err


def test_run_follow_json_and_failure_exit_1(ctl: Ctl) -> None:
    done = ctl("--json", "run", "specs/demo.md", "--agent", "scripted", "--follow")
    assert done.code == 0, done.err
    envelope = done.json()
    assert set(envelope) == ENVELOPE_KEYS and envelope["version"] == 1 and envelope["ok"]
    assert set(envelope["data"]) == {"run", "outcome", "exit_code"}
    assert envelope["data"]["outcome"] == "COMPLETED" and envelope["data"]["exit_code"] == 0
    assert set(envelope["data"]["run"]) >= RUN_KEYS
    failed = ctl(
        "run", "specs/demo.md", "--agent", "scripted", "--model", "permanent=1", "--follow"
    )
    assert failed.code == 1, failed.out + failed.err
    assert "RUN_FAILED" in failed.out and " FAILED" in failed.out.splitlines()[-1]


def test_list_inspect_by_prefix_and_name(ctl: Ctl, workspace: Path, tmp_path: Path) -> None:
    run_id = started_id(ctl, "--name", "only-one-of-me", "--follow")
    listed = ctl("list")
    assert listed.code == 0, listed.err
    header, *rows = listed.out.splitlines()
    assert header.split()[:3] == ["ID", "NAME", "STATUS"]
    assert [row.split()[0] for row in rows] == [run_id]
    assert rows[0].split()[1:3] == ["only-one-of-me", "COMPLETED"]
    # --json: the versioned envelope, runs as loopd gives them
    as_json = ctl("--json", "list")
    data = as_json.json()["data"]
    assert set(data) == {"runs", "total", "workspace_root"}
    assert data["workspace_root"] == str(workspace) and data["total"] == 1
    assert set(data["runs"][0]) >= RUN_KEYS
    # filters
    assert ctl("list", "--status", "running,paused").out.strip() == "no runs"
    assert run_id in ctl("list", "--status", "COMPLETED").out
    other = tmp_path / "elsewhere"
    other.mkdir()
    assert ctl("list", where=other).out.strip() == "no runs"
    assert run_id in ctl("list", "--workspace", str(workspace), where=other).out
    assert run_id in ctl("list", "--all", where=other).out
    # inspect by a unique prefix and by name
    for ref in (run_id[:13], run_id, "only-one-of-me"):
        shown = ctl("inspect", ref)
        assert shown.code == 0, shown.err
        assert f"id             {run_id}" in shown.out
        assert "status         COMPLETED" in shown.out and "tasks          2/2" in shown.out
    detail = ctl("--json", "inspect", "only-one-of-me").json()["data"]
    assert set(detail) == {"run", "steps", "artifacts"}
    assert [s["phase"] for s in detail["steps"]][:2] == ["implementation", "review"]


def test_ambiguous_and_unknown_references(ctl: Ctl) -> None:
    first = started_id(ctl, "--name", "twin", "--follow")
    second = started_id(ctl, "--name", "twin", "--follow")
    assert first != second
    by_name = ctl("inspect", "twin")
    assert by_name.code == 1
    assert "'twin' matches 2 runs" in by_name.err
    assert first in by_name.err and second in by_name.err and "COMPLETED" in by_name.err
    common = next(i for i in range(36) if first[i] != second[i])
    by_prefix = ctl("--json", "inspect", first[:common])
    assert by_prefix.code == 1
    assert by_prefix.json()["ok"] is False and first in by_prefix.json()["error"]
    missing = ctl("inspect", "ffffffff-nope")
    assert missing.code == 1 and "no run matches 'ffffffff-nope'" in missing.err


def test_tail_and_events_of_a_finished_run(ctl: Ctl) -> None:
    run_id = started_id(ctl, "--model", "lines=3", "--follow")
    tail = ctl("tail", run_id[:13])
    assert tail.code == 0, tail.err
    lines = tail.out.splitlines()
    assert lines[0] == "── implementation · iteration 1 ──"
    assert lines[1:4] == [f"scripted: line {i}/3" for i in (1, 2, 3)]
    assert "── review · iteration 1 ──" in lines and "<promise>COMPLETE</promise>" in lines
    tail_json = [line for line in ctl("--json", "tail", run_id).out.splitlines() if line]
    import json

    items = [json.loads(line)["data"] for line in tail_json]
    assert [item["line"] for item in items] == [ln for ln in lines if not ln.startswith("── ")]
    assert [item["seq"] for item in items] == sorted({item["seq"] for item in items})
    events = ctl("events", run_id)
    kinds = [line.split()[2] for line in events.out.splitlines()]
    assert kinds[0] == "RUN_CREATED" and kinds[-1] == "RUN_COMPLETED"
    after = ctl("events", run_id, "--after", "3").out.splitlines()
    assert int(after[0].split()[0]) == 4
    event_json = [json.loads(x)["data"] for x in ctl("--json", "events", run_id).out.splitlines()]
    assert [e["event_type"] for e in event_json] == kinds
    assert {"id", "seq", "run_id", "event_type", "timestamp", "payload"} <= set(event_json[0])


def test_diff_piped_and_json(ctl: Ctl) -> None:
    run_id = started_id(ctl, "--follow")
    shown = ctl("diff", run_id)
    assert shown.code == 0, shown.err
    assert shown.out.startswith("run/demo against main")
    assert "tasks/task-1.txt" in shown.out and "+- [R] a" in shown.out
    assert ctl("diff", "--stat", run_id).out.count("diff --git") == 0
    data = ctl("--json", "diff", run_id).json()["data"]
    assert data["run_id"] == run_id and data["branch"] == "run/demo"
    assert {f["path"] for f in data["files"]} >= {"tasks/task-1.txt", "tasks/task-2.txt"}


def test_run_flags_config_file_and_plan_default(ctl: Ctl, workspace: Path) -> None:
    (workspace / "specs" / "custom.cfg").write_text("agent=scripted\niterations=7\nmodel=x\n")
    (workspace / "plans").mkdir()
    (workspace / "plans" / "demo-plan.md").write_text("- [ ] only\n")
    (workspace / "specs" / "plans.cfg").write_text("plans_dir=plans\n")
    git(workspace, "add", "-A")
    git(workspace, "commit", "-q", "-m", "more")
    result = ctl(
        "--json", "run", "demo.md", "--config", "custom.cfg", "--iterations", "5",
        "--model", "lines=1", "--merge-target", "--base-branch", "main", "--name", "flagged",
        where=workspace / "specs",
    )  # fmt: skip
    assert result.code == 0, result.err
    run = result.json()["data"]["run"]
    assert run["name"] == "flagged" and run["name_source"] == "spec_slug" and run["name_given"]
    assert run["spec_path"] == str(workspace / "specs" / "demo.md")
    assert run["plan_path"] == str(workspace / "specs" / "planning" / "demo-plan.md")
    assert run["config"]["agent"] == "scripted"
    assert run["config"]["iterations"] == 5  # the flag over the file
    assert run["config"]["model"] == "lines=1"
    assert run["worktree"] is None  # until the worktree is set up (SPEC 20)
    assert run["config"]["merge_target_branch"] == "agent/demo"
    assert run["config"]["base_branch"] == "main"
    # the plan default follows plans_dir from --config
    other = ctl(
        "--json", "run", "specs/demo.md", "--config", "specs/plans.cfg", "--agent", "scripted"
    )
    assert other.code == 0, other.err
    assert other.json()["data"]["run"]["plan_path"] == str(workspace / "plans" / "demo-plan.md")


def test_bad_input_is_refused_before_and_by_the_daemon(ctl: Ctl, workspace: Path) -> None:
    assert ctl("run", "specs/demo.md", "--iterations", "0").code == 2
    assert ctl("run", "specs/demo.md", "--agent", "nobody").code == 2
    assert ctl("run").code == 2 and "missing SPEC" in ctl("run").err
    (workspace / "specs" / "lonely.md").write_text("# no plan\n")
    no_plan = ctl("run", "specs/lonely.md")
    assert no_plan.code == 1 and "plan file not found" in no_plan.err
    assert "lonely-plan.md" in no_plan.err
    (workspace / "bad.cfg").write_text("iterations=zero\n")
    bad = ctl("--json", "run", "specs/demo.md", "--config", "bad.cfg")
    assert bad.code == 1 and "'iterations'" in bad.json()["error"]
    assert f"{workspace}/bad.cfg:1" in bad.json()["error"]


def test_run_pick_lists_specs_newest_first(ctl: Ctl, workspace: Path) -> None:
    (workspace / "specs" / "older.md").write_text(
        "# Older\n**Status:** done\n**Last Updated:** 2024-06-01\n"
    )
    (workspace / "specs" / "planning" / "older-plan.md").write_text("- [ ] x\n")
    git(workspace, "add", "-A")
    git(workspace, "commit", "-q", "-m", "older")
    result = ctl("--json", "run", "--pick", "--agent", "scripted", input="2\n")
    assert result.code == 0, result.err
    listing = result.err.splitlines()
    assert listing[0].split() == ["#", "SPEC", "STATUS", "LAST", "UPDATED", "TITLE"]
    assert listing[1].split()[:4] == ["1.", "specs/demo.md", "draft", "2025-01-02"]
    assert listing[2].split()[:4] == ["2.", "specs/older.md", "done", "2024-06-01"]
    assert result.json()["data"]["run"]["spec_path"] == str(workspace / "specs" / "older.md")
    assert ctl("run", "--pick", "specs/demo.md").code == 2


def test_list_stays_light(loopd: Loopd, workspace: Path) -> None:
    """`loopctl list` (piped) imports no pydantic, httpx or rich (its 120 ms budget)."""
    import subprocess
    import sys

    from cli_support import cli_env

    code = (
        "import sys\n"
        "sys.argv = ['loopctl', 'list']\n"
        "from agentloop.cli.main import main\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as exit:\n"
        "    assert not exit.code, exit.code\n"
        "heavy = [m for m in ('pydantic', 'httpx', 'rich', 'fastapi', 'sqlalchemy', 'dbos')"
        " if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=workspace,
        env=cli_env(loopd.addr),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "HEAVY []" in done.stdout
