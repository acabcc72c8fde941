"""`make demo`: a real agentloop run on a sample repository, offline.

Creates a git repository with a spec and a four-task plan, starts loopd on a free loopback
port with its own data dir, starts a run with the built-in scripted agent (review and
verification on, squash-merge into `agent/demo`), streams the agent's output live over SSE,
and ends by showing the merged target branch. Everything it made stays in one temp dir.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
from httpx_sse import connect_sse

SPEC = """# Greeting service

Build a tiny greeting module: one file per task, each committed on its own.
"""
PLAN = """# Plan: greeting service

## Tasks
- [ ] Write the greeting text
- [ ] Add the farewell text
- [ ] Add a README section
- [ ] Add the changelog entry

## Verification
- [ ] A person reads the greeting
"""


def sh(*args: str, cwd: Path) -> str:
    done = subprocess.run(args, cwd=cwd, check=True, capture_output=True, text=True)
    return done.stdout


def make_repo(root: Path) -> Path:
    repo = root / "greeting"
    (repo / "specs" / "planning").mkdir(parents=True)
    (repo / "specs" / "greeting.md").write_text(SPEC)
    (repo / "specs" / "planning" / "greeting-plan.md").write_text(PLAN)
    commit_all(repo, "Add the greeting spec and plan")
    return repo


def commit_all(repo: Path, message: str) -> None:
    """Make ``repo`` a git repository (logs ignored) with everything in one commit."""
    (repo / ".gitignore").write_text("logs/\n")
    sh("git", "init", "-q", "-b", "main", cwd=repo)
    sh("git", "config", "user.name", "Demo User", cwd=repo)
    sh("git", "config", "user.email", "demo@example.invalid", cwd=repo)
    sh("git", "add", "-A", cwd=repo)
    sh("git", "commit", "-q", "-m", message, cwd=repo)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_loopd(root: Path, port: int) -> subprocess.Popen[bytes]:
    loopd = Path(sys.executable).with_name("loopd")
    env = {k: v for k, v in os.environ.items() if k != "LOOPD_AUTH_TOKEN"}
    log = (root / "loopd.log").open("wb")
    return subprocess.Popen(
        [str(loopd), "--addr", f"http://127.0.0.1:{port}", "--data-dir", str(root / "data")],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def wait_healthy(base: str, deadline_s: float = 30.0) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        try:
            if httpx.get(f"{base}/health", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"loopd did not become healthy at {base}")


def stream_output(client: httpx.Client, run_id: str) -> None:
    header = None
    with connect_sse(client, "GET", f"/runs/{run_id}/output", timeout=None) as source:
        for sse in source.iter_sse():
            line = json.loads(sse.data)
            current = (line["phase"], line["iteration"])
            if current != header:
                header = current
                print(f"\n--- {line['phase']} · iteration {line['iteration']} ---")
            print(f"  {line['line']}")


@contextlib.contextmanager
def running_loopd(root: Path) -> Iterator[httpx.Client]:
    """A loopd on a free loopback port with its data in ``root``, stopped (SIGTERM) after."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    print(f"  loopd: {base}")
    daemon = start_loopd(root, port)
    try:
        wait_healthy(base)
        with httpx.Client(base_url=base, timeout=30.0) as client:
            yield client
    finally:
        daemon.send_signal(signal.SIGTERM)
        try:
            daemon.wait(timeout=15)
        except subprocess.TimeoutExpired:
            daemon.kill()


def create_run(client: httpx.Client, body: dict[str, object]) -> dict[str, object] | None:
    """POST /runs; the run, or None (the refusal printed)."""
    created = client.post("/runs", json=body)
    if created.status_code != 201:
        print(f"run refused: {created.json().get('error')}")
        return None
    run: dict[str, object] = created.json()["run"]
    print(f"  run {run['id']} ({run['name']}) created\n")
    return run


def main() -> int:
    root = Path(tempfile.mkdtemp(prefix="agentloop-demo-"))
    repo = make_repo(root)
    print(f"agentloop demo in {root}\n  sample repository: {repo}")
    with running_loopd(root) as client:
        run = create_run(
            client,
            {
                "spec_path": "specs/greeting.md",
                "workspace_root": str(repo),
                "merge_target_branch": "agent/demo",
                "config_override": {
                    "agent": "scripted",
                    "model": "scripted",
                    "verify_cmds": "test -d tasks",
                    "iterations": 10,
                },
            },
        )
        if run is None:
            return 1
        stream_output(client, str(run["id"]))
        run = client.get(f"/runs/{run['id']}").json()["run"]
        while run["status"] not in {"COMPLETED", "FAILED", "CANCELED"}:
            time.sleep(0.2)
            run = client.get(f"/runs/{run['id']}").json()["run"]
    print(
        f"\nrun {run['status']}: {run['tasks_done']}/{run['tasks_total']} tasks, "
        f"{run['iteration']} iterations, reason={run['reason'] or '-'}"
    )
    if run["status"] != "COMPLETED":
        return 1
    print("\nmerged target branch agent/demo:")
    print(sh("git", "log", "--oneline", "--decorate", "-n", "3", "agent/demo", cwd=repo))
    print(sh("git", "show", "--stat", "--format=%s%n", "agent/demo", cwd=repo))
    print(f"artifacts: {repo / 'logs' / 'loop' / ('run-' + str(run['id']))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
