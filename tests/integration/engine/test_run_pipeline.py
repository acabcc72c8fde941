"""A real loopd carrying runs through the whole pipeline (SPEC 2), with real git."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from integration.loopd import Loopd, git, make_workspace, terminal_event

REPORT_HEADER = (
    "timestamp_ms\tkind\titeration\tduration_ms\texit_code\toutput_bytes\toutput_lines\t"
    "output_path\tmessage\ttasks_done\ttasks_total"
)


def assert_gap_free(events: list[dict]) -> None:
    seqs = [e["seq"] for e in events]
    assert seqs == list(range(1, len(seqs) + 1)), seqs


def test_multi_task_run_reviews_verifies_and_squash_merges(daemon: Loopd, workspace: Path):
    user_head = git(workspace, "rev-parse", "HEAD")
    run = daemon.create_run(
        workspace, verify_cmds="test -d tasks", merge_target_branch="agent/demo"
    )
    done = daemon.wait_status(run["id"], "COMPLETED")
    assert done["tasks_done"] == done["tasks_total"] == 3
    assert done["reason"] is None
    assert done["merge_commit"]

    events = daemon.events(run["id"])
    assert_gap_free(events)
    types = [e["event_type"] for e in events]
    assert types[0] == "RUN_CREATED" and types.count("RUN_COMPLETED") == 1
    after_end = [t for t in types[types.index("RUN_COMPLETED") + 1 :] if t != "WORKTREE_REMOVED"]
    assert after_end in ([], ["POSTMORTEM_START"], ["POSTMORTEM_START", "POSTMORTEM_END"])
    assert "MERGE_COMPLETED" in types
    phases = {(s["phase"], s["iteration"]) for s in daemon.steps(run["id"])}
    for iteration in (1, 2, 3):
        for phase in ("implementation", "review", "verification", "watchdog"):
            assert (phase, iteration) in phases

    # squashed: one commit on the target, holding every task file, the plan fully reviewed
    log = git(workspace, "log", "--format=%s", "main..agent/demo").splitlines()
    assert len(log) == 1 and log[0].startswith("agentloop:")
    files = git(workspace, "ls-tree", "-r", "--name-only", "agent/demo").splitlines()
    assert {"tasks/task-1.txt", "tasks/task-2.txt", "tasks/task-3.txt"} <= set(files)
    plan = git(workspace, "show", "agent/demo:specs/planning/demo-plan.md")
    assert plan.count("- [R]") == 3 and "- [ ]" not in plan
    # the user's checkout is untouched: same branch, same HEAD, clean tree
    assert git(workspace, "rev-parse", "HEAD") == user_head
    assert git(workspace, "branch", "--show-current") == "main"
    assert git(workspace, "status", "--porcelain", "--untracked-files=no") == ""

    run_dir = workspace / "logs" / "loop" / f"run-{run['id']}"
    for name in (
        "prompt.txt",
        "iter-01.log",
        "iter-01.tail.txt",
        "review-01.log",
        "verify-01.log",
        "runner-notes.txt",
        "report.tsv",
        "summary.json",
    ):
        assert (run_dir / name).exists(), name
    assert (run_dir / "report.tsv").read_text().splitlines()[0] == REPORT_HEADER
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["run_id"] == run["id"]
    assert summary["iterations_run"] == 3
    artifacts = daemon.request("GET", f"/runs/{run['id']}/artifacts").json()["artifacts"]
    keys = [(a["location"], a["path"]) for a in artifacts]
    assert len(keys) == len(set(keys))
    assert {"workspace", "global"} <= {a["location"] for a in artifacts}
    assert all(len(a["checksum"]) == 64 for a in artifacts)


def test_early_completion_claims_with_progress_every_iteration_complete(
    daemon: Loopd, tmp_path: Path
):
    # SPEC 6: progress decides. The agent ticks and commits a task every iteration but
    # claims completion each time; with five tasks and two rewrites it used to fail.
    workspace = make_workspace(tmp_path, tasks=5, name="early")
    run = daemon.create_run(workspace, model="early_complete=1", reviewer=False)
    done = daemon.wait_status(run["id"], "COMPLETED")
    assert done["tasks_done"] == 5
    events = daemon.events(run["id"])
    signals = [e["payload"]["signal"] for e in events if e["event_type"] == "WATCHDOG_SIGNAL"]
    assert signals.count("false_complete") == 4  # recorded at iterations 1-4 ...
    assert not [e for e in events if e["event_type"] == "WATCHDOG_REWRITE"]  # ... no more


def test_no_progress_rewrites_then_pauses_for_attention_and_resume_continues(
    daemon: Loopd, workspace: Path
):
    run = daemon.create_run(workspace, model="no_commit=1", reviewer=False, watchdog_max_rewrites=1)
    paused = daemon.wait_status(run["id"], "PAUSED", timeout=60)
    assert paused["reason"] == "needs_attention"
    events = daemon.events(run["id"])
    types = [e["event_type"] for e in events]
    assert types.count("WATCHDOG_REWRITE") == 1
    pause = [e for e in events if e["event_type"] == "RUN_PAUSED"][-1]
    assert pause["payload"]["reason"] == "needs_attention"
    assert "no_progress" in [s["signal"] for s in pause["payload"]["signals"]]
    steps = daemon.steps(run["id"])
    assert not [s for s in steps if s["status"] == "IN_PROGRESS"]

    assert daemon.request("POST", f"/runs/{run['id']}/resume").status_code == 204
    again = daemon.wait_for(
        lambda: [e for e in daemon.events(run["id"]) if e["event_type"] == "RUN_PAUSED"][1:],
        timeout=60,
        what="a second needs_attention pause",
    )
    assert again[0]["payload"]["reason"] == "needs_attention"
    events = daemon.events(run["id"])
    types = [e["event_type"] for e in events]
    assert types.count("WATCHDOG_REWRITE") == 2  # a fresh rewrite budget after the resume
    resumed_at = types.index("RUN_RESUMED")
    assert "WATCHDOG_REWRITE" in types[resumed_at:]
    assert daemon.run(run["id"])["status"] == "PAUSED"


def test_watchdog_exhausted_fail_fails_with_the_signal(daemon: Loopd, workspace: Path):
    run = daemon.create_run(
        workspace,
        model="no_commit=1",
        reviewer=False,
        watchdog_max_rewrites=0,
        watchdog_exhausted="fail",
    )
    done = daemon.wait_status(run["id"], "FAILED", timeout=60)
    assert done["reason"] == "no_progress"
    assert done["iteration"] == 3


def test_an_iteration_undoing_an_earlier_ones_commit_is_circular(daemon: Loopd, workspace: Path):
    """circular_diff from real commits (SPEC 6): iteration 1 adds a line, iteration 2
    removes it again; neither ticks a task, so with no rewrites allowed the run fails on the
    signal at iteration 2."""
    flip = (
        'if [ -s flip.txt ]; then : > flip.txt; else echo "the same line" > flip.txt; fi; '
        "git add flip.txt && git commit -qm flip && echo 'Completed nothing. 3 tasks remain.'"
    )
    run = daemon.create_run(
        workspace,
        agent="command",
        agent_cmd=flip,
        reviewer=False,
        postmortem=False,  # the flipping agent is no analyst
        watchdog_max_rewrites=0,
        watchdog_exhausted="fail",
    )
    done = daemon.wait_status(run["id"], "FAILED", timeout=60)
    assert (done["reason"], done["iteration"]) == ("circular_diff", 2)
    signals = [
        e["payload"] for e in daemon.events(run["id"]) if e["event_type"] == "WATCHDOG_SIGNAL"
    ]
    circular = [s for s in signals if s["signal"] == "circular_diff"]
    assert len(circular) == 1 and "undid 1 change" in circular[0]["detail"], signals


def test_no_progress_escalates_to_the_fallback_agent(daemon: Loopd, workspace: Path):
    run = daemon.create_run(
        workspace,
        agent="command",
        agent_cmd="echo Completed nothing. 3 tasks remain.",
        fallback_agents="scripted",
        model="scripted",
        reviewer=False,
        watchdog_max_rewrites=0,
    )
    done = daemon.wait_status(run["id"], "COMPLETED", timeout=60)
    assert done["tasks_done"] == 3
    events = daemon.events(run["id"])
    escalated = [e for e in events if e["event_type"] == "WATCHDOG_ESCALATED"]
    assert [e["payload"]["to_agent"] for e in escalated] == ["scripted"]
    assert escalated[0]["payload"]["signal"] == "no_progress"


def test_failing_verification_feeds_runner_notes_to_the_next_iteration(
    daemon: Loopd, workspace: Path, tmp_path: Path
):
    seen = tmp_path / "seen-notes.txt"
    agent_cmd = (
        f'cat "$LOOP_RUN_DIR/runner-notes.txt" >> {seen}; echo "---" >> {seen}; '
        'echo "Completed nothing. 3 tasks remain."'
    )
    run = daemon.create_run(
        workspace,
        agent="command",
        agent_cmd=agent_cmd,
        reviewer=False,
        verify_cmds="echo checking the build; exit 7",
        max_consecutive_verification_failures=2,
    )
    done = daemon.wait_status(run["id"], "FAILED")
    assert done["reason"] == "consecutive_verification_failures"
    notes = seen.read_text().split("---\n")
    assert notes[0].strip() == ""  # first iteration: nothing failed yet
    assert "exit 7" in notes[1] and "exited with code 7" in notes[1]
    assert "checking the build" in notes[1]
    failed = [e for e in daemon.events(run["id"]) if e["event_type"] == "VERIFICATION_FAILED"]
    assert [e["payload"]["exit_code"] for e in failed] == [7, 7]


def test_iteration_limit_fails_the_run(daemon: Loopd, workspace: Path):
    run = daemon.create_run(workspace, iterations=2, reviewer=False)
    done = daemon.wait_status(run["id"], "FAILED")
    assert done["reason"] == "iteration_limit"
    assert done["tasks_done"] == 2
    ending = terminal_event(daemon.events(run["id"]))
    assert ending["event_type"] == "RUN_FAILED"
    assert ending["payload"]["reason"] == "iteration_limit"


def test_dirty_primary_checkout_is_refused_with_a_reason(daemon: Loopd, workspace: Path):
    (workspace / "specs" / "demo.md").write_text("# changed but not committed\n")
    run = daemon.create_run(workspace)
    done = daemon.wait_status(run["id"], "FAILED")
    assert "specs/demo.md" in done["reason"]


ESCAPING_AGENT = """
import os, pathlib, subprocess, sys
prompt = sys.stdin.read()
log, primary_file, token = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), sys.argv[3]
with log.open("a") as out:
    out.write(prompt + "\\n=====\\n")
plan = pathlib.Path(os.environ["LOOP_PLAN_PATH"])
lines = plan.read_text().splitlines(keepends=True)
reviewing = "you are reviewing" in prompt.lower()
mark, new = ("- [x]", "- [R]") if reviewing else ("- [ ]", "- [x]")
for i, line in enumerate(lines):
    if line.startswith(mark):
        lines[i] = line.replace(mark, new, 1)
        break
plan.write_text("".join(lines))
identity = ["-c", "user.name=t", "-c", "user.email=t@example.invalid"]
subprocess.run(["git", *identity, "commit", "-qam", "step"], check=True)
if not reviewing and os.environ["LOOP_ITERATION"] == "1":
    with primary_file.open("a") as out:  # the escape: the user's checkout, not the worktree
        out.write("written by the agent\\n")
text = plan.read_text()
if "- [ ]" not in text and "- [x]" not in text:
    print(token)
elif reviewing:
    print("Reviewed a task. 0 awaiting review.")
else:
    print("Completed a task. Some tasks remain.")
"""


def test_an_agent_writing_to_the_users_checkout_is_caught_and_reminded(
    daemon: Loopd, workspace: Path, tmp_path: Path
):
    """worktree_escape (SPEC 6): the implementation step of iteration 1 edits a tracked file
    of the primary checkout; with the reviewer on, the iteration's one check (after the
    review) catches it, the run goes on, and the next implementation prompt says so."""
    from agentloop.core.completion import COMPLETION_TOKEN

    script, prompts = tmp_path / "agent.py", tmp_path / "prompts.txt"
    script.write_text(ESCAPING_AGENT)
    escaped_file = workspace / "specs" / "demo.md"
    run = daemon.create_run(
        workspace,
        agent="command",
        agent_cmd=f"{sys.executable} {script} {prompts} {escaped_file} '{COMPLETION_TOKEN}'",
        reviewer=True,
    )
    done = daemon.wait_status(run["id"], "COMPLETED")
    assert done["tasks_done"] == 3
    signals = [
        e["payload"]
        for e in daemon.events(run["id"])
        if e["event_type"] == "WATCHDOG_SIGNAL" and e["payload"]["signal"] == "worktree_escape"
    ]
    assert len(signals) == 1, signals
    assert "specs/demo.md" in signals[0]["detail"]
    implementation_prompts = [
        p for p in prompts.read_text().split("\n=====\n") if p and "reviewing" not in p.lower()
    ]
    assert "work only inside your worktree" not in implementation_prompts[0]
    assert "work only inside your worktree" in implementation_prompts[1]
    assert "specs/demo.md" in implementation_prompts[1]
