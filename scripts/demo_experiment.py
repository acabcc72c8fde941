"""`make demo-experiment`: an experiment run (SPEC 19) on a toy benchmark, offline.

The repository holds `tune.txt` (a number) and `bench.py`, whose score -(x - 7)^2 is best
at 7. The scripted agent moves the number up or down each iteration; loopd measures every
attempt, keeps what beats the best so far, reverts the rest, and stops when the score
reaches its target 0. The measurements print as they come; `loopctl inspect` ends it.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx
from httpx_sse import connect_sse

sys.path.insert(0, str(Path(__file__).resolve().parent))

from demo import free_port, sh, start_loopd, wait_healthy

SPEC = "# Tune the benchmark\n\nRaise bench.py's score (it writes it to $LOOP_METRICS_OUT).\n"
BENCH = """\
import json, os, pathlib
x = float(pathlib.Path("tune.txt").read_text())
pathlib.Path(os.environ["LOOP_METRICS_OUT"]).write_text(json.dumps({"score": -(x - 7) ** 2}))
"""


def make_repo(root: Path) -> Path:
    repo = root / "tune"
    (repo / "specs").mkdir(parents=True)
    (repo / "specs" / "tune.md").write_text(SPEC)
    (repo / "tune.txt").write_text("3\n")
    (repo / "bench.py").write_text(BENCH)
    (repo / ".gitignore").write_text("logs/\n")
    sh("git", "init", "-q", "-b", "main", cwd=repo)
    sh("git", "config", "user.name", "Demo User", cwd=repo)
    sh("git", "config", "user.email", "demo@example.invalid", cwd=repo)
    sh("git", "add", "-A", cwd=repo)
    sh("git", "commit", "-q", "-m", "A toy benchmark to tune", cwd=repo)
    return repo


def follow_measurements(client: httpx.Client, run_id: str) -> None:
    with connect_sse(client, "GET", f"/runs/{run_id}/events", timeout=None) as source:
        for sse in source.iter_sse():
            event = json.loads(sse.data)
            if event["event_type"] != "MEASUREMENT":
                continue
            m = event["payload"]
            verdict = "baseline" if m["iteration"] == 0 else ("kept" if m["kept"] else "reverted")
            value = "none" if m["value"] is None else f"{m['value'] + 0.0:g}"
            print(f"  iteration {m['iteration']}: score {value} -> {verdict} ({m['reason']})")


def main() -> int:
    root = Path(tempfile.mkdtemp(prefix="agentloop-experiment-"))
    repo = make_repo(root)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    print(f"agentloop experiment demo in {root}\n  repository: {repo}\n  loopd: {base}")
    daemon = start_loopd(root, port)
    try:
        wait_healthy(base)
        with httpx.Client(base_url=base, timeout=30.0) as client:
            created = client.post(
                "/runs",
                json={
                    "spec_path": "specs/tune.md",
                    "workspace_root": str(repo),
                    "merge_target_branch": "agent/tuned",
                    "config_override": {
                        "agent": "scripted",
                        "mode": "experiment",
                        "measure_cmd": "python3 bench.py",
                        "metric": "score",
                        "metric_target": 0,
                        "run_naming_mode": "spec_slug",
                    },
                },
            )
            if created.status_code != 201:
                print(f"run refused: {created.json().get('error')}")
                return 1
            run = created.json()["run"]
            print(f"  run {run['id']} created\n")
            follow_measurements(client, run["id"])
            run = client.get(f"/runs/{run['id']}").json()["run"]
        loopctl = Path(sys.executable).with_name("loopctl")
        print()
        subprocess.run([str(loopctl), "--addr", base, "inspect", run["id"]], check=False)
        print(f"\nrun {run['status']} ({run['reason']}); merged agent/tuned:")
        print("  tune.txt = " + sh("git", "show", "agent/tuned:tune.txt", cwd=repo).strip())
        return 0 if run["status"] == "COMPLETED" else 1
    finally:
        daemon.send_signal(signal.SIGTERM)
        try:
            daemon.wait(timeout=15)
        except subprocess.TimeoutExpired:
            daemon.kill()


if __name__ == "__main__":
    sys.exit(main())
