"""`make demo-experiment`: an experiment run (SPEC 19) on a toy benchmark, offline.

The repository holds `tune.txt` (a number) and `bench.py`, whose score -(x - 7)^2 is best
at 7. The scripted agent moves the number up or down each iteration; loopd measures every
attempt, keeps what beats the best so far, reverts the rest, and stops when the score
reaches its target 0. The measurements print as they come; `loopctl inspect` ends it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx
from httpx_sse import connect_sse

sys.path.insert(0, str(Path(__file__).resolve().parent))

from demo import commit_all, create_run, running_loopd, sh

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
    commit_all(repo, "A toy benchmark to tune")
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
    print(f"agentloop experiment demo in {root}\n  repository: {repo}")
    with running_loopd(root) as client:
        run = create_run(
            client,
            {
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
        if run is None:
            return 1
        follow_measurements(client, str(run["id"]))
        run = client.get(f"/runs/{run['id']}").json()["run"]
        loopctl = Path(sys.executable).with_name("loopctl")
        print()
        addr = str(client.base_url).rstrip("/")
        subprocess.run([str(loopctl), "--addr", addr, "inspect", run["id"]], check=False)
    print(f"\nrun {run['status']} ({run['reason']}); merged agent/tuned:")
    print("  tune.txt = " + sh("git", "show", "agent/tuned:tune.txt", cwd=repo).strip())
    return 0 if run["status"] == "COMPLETED" else 1


if __name__ == "__main__":
    sys.exit(main())
