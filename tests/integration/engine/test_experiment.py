"""Experiment mode (SPEC 19) end to end: a real loopd, real git, the scripted agent tuning
``tune.txt`` and a toy benchmark as ``measure_cmd``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from integration.conftest import start_daemon
from integration.loopd import Loopd, git, make_workspace

LOOPCTL = Path(sys.executable).with_name("loopctl")

# score = -(x - 7)^2: best at x = 7; LOOP_ITERATION and a count of runs are logged.
BENCH = """\
import json, os, pathlib
x = float(pathlib.Path("tune.txt").read_text() or 0) if pathlib.Path("tune.txt").exists() else 0
with open(os.environ["LOOP_RUN_DIR"] + "/bench-calls.txt", "a") as calls:
    calls.write(os.environ["LOOP_ITERATION"] + "\\n")
pathlib.Path(os.environ["LOOP_METRICS_OUT"]).write_text(json.dumps({"score": -(x - 7) ** 2}))
"""


def experiment_workspace(root: Path, start: float = 3) -> Path:
    repo = root / "exp"
    (repo / "specs").mkdir(parents=True)
    (repo / "specs" / "tune.md").write_text("# Tune\n\nMake score as high as it goes.\n")
    (repo / "tune.txt").write_text(f"{start:g}\n")
    (repo / "bench.py").write_text(BENCH)
    (repo / ".gitignore").write_text("logs/\n")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.name", "Test User")
    git(repo, "config", "user.email", "test@example.invalid")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "init")
    return repo


def start_experiment(daemon: Loopd, repo: Path, **config: Any) -> dict[str, Any]:
    body = {
        "spec_path": "specs/tune.md",
        "workspace_root": str(repo),
        "config_override": {
            "agent": "scripted",
            "model": "scripted",
            "mode": "experiment",
            "measure_cmd": "python3 bench.py",
            "metric": "score",
            "run_naming_mode": "spec_slug",
            **config,
        },
    }
    response = daemon.request("POST", "/runs", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json()["run"])


def measurements(daemon: Loopd, run_id: str) -> list[dict[str, Any]]:
    return [e["payload"] for e in daemon.stored_events(run_id) if e["event_type"] == "MEASUREMENT"]


def test_keeps_what_improves_reverts_the_rest_and_stops_at_the_target(
    daemon: Loopd, tmp_path: Path
):
    repo = experiment_workspace(tmp_path)
    run = start_experiment(daemon, repo, metric_target=0, merge_target_branch="agent/tune")
    done = daemon.wait_status(run["id"], "COMPLETED", timeout=90)
    assert done["reason"] == "target_reached"
    series = measurements(daemon, run["id"])
    assert [m["iteration"] for m in series] == list(range(8))
    assert [m["value"] for m in series] == [-16, -9, -16, -4, -9, -1, -4, 0]
    assert [m["kept"] for m in series[1:]] == [True, False, True, False, True, False, True]
    assert series[-1]["best"] == 0
    # the merged result is the best commit; reverted attempts stay reachable
    assert git(repo, "show", "agent/tune:tune.txt") == "7"
    assert git(repo, "show", f"refs/agentloop/attempts/{run['id']}/02:tune.txt") == "3"
    run_dir = repo / "logs" / "loop" / f"run-{run['id']}"
    log = (run_dir / "experiment-log.md").read_text()
    assert log.count("## Iteration") == 8 and "reverted: not better than -9" in log
    assert "Tried x=4 (was 3)." in log
    worktree = Path(done["worktree"]["worktree_path"])
    if worktree.exists():
        assert git(worktree, "status", "--porcelain") == ""  # the log stays untracked
    assert done["config"]["reviewer"] is False  # off by default in this mode

    document = daemon.request("GET", f"/runs/{run['id']}/measurements").json()
    assert (document["baseline"], document["best"], document["best_iteration"]) == (-16, 0, 7)
    shown = subprocess.run(
        [str(LOOPCTL), "--addr", daemon.addr, "inspect", run["id"]],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert "experiment: score (higher is better, target 0)" in shown
    assert "baseline  -16" in shown and "best      0 (iteration 7)" in shown
    assert "reverted" in shown and "not better than -9" in shown
    plan_run = daemon.create_run(make_workspace(tmp_path, name="plan"), reviewer=False)
    assert daemon.request("GET", f"/runs/{plan_run['id']}/measurements").status_code == 409


def test_plateau_completes_when_something_was_kept(daemon: Loopd, tmp_path: Path):
    repo = experiment_workspace(tmp_path)
    measure = (
        "python3 -c \"import json,os; x=float(open('tune.txt').read()); "
        "json.dump({'score': min(x, 4)}, open(os.environ['LOOP_METRICS_OUT'], 'w'))\""
    )
    run = start_experiment(daemon, repo, measure_cmd=measure, experiment_patience=3)
    done = daemon.wait_status(run["id"], "COMPLETED", timeout=60)
    assert done["reason"] == "plateau"
    kept = [m["kept"] for m in measurements(daemon, run["id"])[1:]]
    assert kept == [True, False, False, False]


def test_no_improvement_fails(daemon: Loopd, tmp_path: Path):
    repo = experiment_workspace(tmp_path)
    measure = 'echo \'{"score": 1}\' > "$LOOP_METRICS_OUT"'
    run = start_experiment(daemon, repo, measure_cmd=measure, experiment_patience=2)
    done = daemon.wait_status(run["id"], "FAILED", timeout=60)
    assert done["reason"] == "no_improvement"
    assert done["iteration"] == 2


def test_iteration_limit_completes_with_the_best(daemon: Loopd, tmp_path: Path):
    repo = experiment_workspace(tmp_path)
    run = start_experiment(daemon, repo, iterations=3)
    done = daemon.wait_status(run["id"], "COMPLETED", timeout=60)
    assert done["reason"] == "iteration_limit"
    assert measurements(daemon, run["id"])[-1]["best"] == -4


def test_bad_measurements_are_not_kept_and_the_run_goes_on(daemon: Loopd, tmp_path: Path):
    repo = experiment_workspace(tmp_path)
    script = repo / "measure.sh"
    script.write_text(
        'case "$LOOP_ITERATION" in\n'
        '  0) echo \'{"score": 1}\' > "$LOOP_METRICS_OUT" ;;\n'
        "  1) echo broken; exit 3 ;;\n"
        "  2) ;;\n"
        '  3) echo "not json" > "$LOOP_METRICS_OUT" ;;\n'
        '  4) echo \'{"other": 2}\' > "$LOOP_METRICS_OUT" ;;\n'
        '  5) echo \'{"score": "high"}\' > "$LOOP_METRICS_OUT" ;;\n'
        "  6) sleep 30 ;;\n"
        "esac\n"
    )
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "measure script")
    run = start_experiment(
        daemon,
        repo,
        measure_cmd="sh measure.sh",
        iterations=6,
        experiment_patience=10,
        measure_timeout_sec=1,
    )
    done = daemon.wait_status(run["id"], "FAILED", timeout=90)
    assert done["reason"] == "no_improvement"
    reasons = [m["reason"] for m in measurements(daemon, run["id"])[1:]]
    assert reasons[0] == "measure_cmd exited 3: broken"
    assert "wrote no metrics file" in reasons[1]
    assert "not JSON" in reasons[2]
    assert "has no 'score'" in reasons[3]
    assert "not a finite number" in reasons[4]
    assert "timed out after 1s" in reasons[5]
    assert not any(m["kept"] for m in measurements(daemon, run["id"])[1:])


def test_experiment_mode_needs_measure_cmd_and_metric(daemon: Loopd, tmp_path: Path):
    repo = experiment_workspace(tmp_path)
    body = {
        "spec_path": "specs/tune.md",
        "workspace_root": str(repo),
        "config_override": {"agent": "scripted", "mode": "experiment", "metric": "score"},
    }
    refused = daemon.request("POST", "/runs", json=body)
    assert refused.status_code == 400 and "measure_cmd" in refused.json()["error"]
    assert daemon.request("GET", "/runs").json()["total"] == 0


def test_a_pause_during_a_measurement_measures_again_on_resume(daemon: Loopd, tmp_path: Path):
    """The killed measurement is no reading: taken as one ("measure_cmd exited 143"), the
    pause reverted the iteration, and the resumed step reused that verdict."""
    repo = experiment_workspace(tmp_path)
    # Iteration 1's first measurement says it started, then waits for the pause.
    slow_once = (
        'if [ "$LOOP_ITERATION" = 1 ] && [ ! -e "$LOOP_RUN_DIR/paused-once" ]; then '
        'touch "$LOOP_RUN_DIR/paused-once"; sleep 30; fi; python3 bench.py'
    )
    run = start_experiment(daemon, repo, measure_cmd=slow_once, metric_target=-4)
    run_dir = repo / "logs" / "loop" / f"run-{run['id']}"
    daemon.wait_for(lambda: (run_dir / "paused-once").exists(), what="iteration 1's measure")
    assert daemon.request("POST", f"/runs/{run['id']}/pause").status_code == 204
    daemon.wait_status(run["id"], "PAUSED")
    assert daemon.request("POST", f"/runs/{run['id']}/resume").status_code == 204

    done = daemon.wait_status(run["id"], "COMPLETED", timeout=60)
    assert done["reason"] == "target_reached"
    series = measurements(daemon, run["id"])
    assert [m["iteration"] for m in series] == [0, 1, 2, 3]
    assert [m["value"] for m in series] == [-16, -9, -16, -4]
    assert [m["kept"] for m in series[1:]] == [True, False, True]


def test_a_crash_between_measuring_and_deciding_measures_and_reverts_once(tmp_path: Path):
    repo = experiment_workspace(tmp_path)
    data = tmp_path / "data"
    daemon = start_daemon(data, AGENTLOOP_TEST_FAULT="experiment.after_measure:2")
    try:
        run = start_experiment(daemon, repo, metric_target=-4)
        daemon.proc.wait(timeout=60)  # it died right after measuring iteration 2
        assert daemon.proc.returncode == 137
    finally:
        daemon.stop()
    daemon.extra_env.pop("AGENTLOOP_TEST_FAULT")
    daemon.start()
    try:
        done = daemon.wait_status(run["id"], "COMPLETED", timeout=60)
        assert done["reason"] == "target_reached"
        run_dir = repo / "logs" / "loop" / f"run-{run['id']}"
        calls = (run_dir / "bench-calls.txt").read_text().split()
        assert calls == ["0", "1", "2", "3"]  # iteration 2 was measured once
        series = measurements(daemon, run["id"])
        assert [m["iteration"] for m in series] == [0, 1, 2, 3]
        assert [m["kept"] for m in series[1:]] == [True, False, True]
        worktree = Path(done["worktree"]["worktree_path"])
        branch = done["worktree"]["run_branch"]
        assert git(repo, "show", f"{branch}:tune.txt") == "5"
        assert not worktree.exists() or git(worktree, "status", "--porcelain") == ""
    finally:
        daemon.stop()


def test_a_failing_verification_is_not_kept(daemon: Loopd, tmp_path: Path):
    repo = experiment_workspace(tmp_path)
    # x = 4 (iteration 1) fails verification: not kept although its score is better.
    verify = 'test "$(cat tune.txt)" != 4'
    run = start_experiment(daemon, repo, verify_cmds=verify, iterations=2)
    done = daemon.wait_status(run["id"], "FAILED", timeout=60)
    assert done["reason"] == "no_improvement"
    first, second = measurements(daemon, run["id"])[1:]
    assert (first["kept"], first["reason"]) == (False, "verification failed")
    assert first["value"] is None  # not even measured
    assert second["kept"] is False  # x went back to 3, then down to 2: worse
