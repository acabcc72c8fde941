"""A real loopd for integration tests: a subprocess on a free loopback port with its own
data dir, plus sample git workspaces to run loops in.

    daemon = Loopd(tmp_path / "data"); daemon.start()
    run = daemon.create_run(workspace, agent="scripted")
    daemon.wait_status(run["id"], "COMPLETED")
    daemon.kill9(); daemon.start()          # same data dir, same port
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx

TERMINAL = frozenset({"COMPLETED", "FAILED", "CANCELED"})
LOOPD = Path(sys.executable).with_name("loopd")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Loopd:
    """One loopd process (and, after :meth:`restart`, its successors on the same data dir)."""

    def __init__(
        self,
        data_dir: Path,
        *,
        env: Mapping[str, str] | None = None,
        token: str | None = None,
        args: Sequence[str] | None = None,
        port: int | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.port = port or free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.token = token
        self.extra_env = dict(env or {})
        self.args = list(args or [])
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = data_dir.parent / f"loopd-{self.port}.log"
        self.starts = 0

    @property
    def addr(self) -> str:
        return self.base

    # -- process ---------------------------------------------------------------------------
    def start(self, timeout: float = 60.0) -> Loopd:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("LOOPD_")}
        env.update(self.extra_env)
        if self.token:
            env["LOOPD_AUTH_TOKEN"] = self.token
        self.starts += 1
        log = self.log_path.open("ab")
        log.write(f"\n===== start {self.starts} =====\n".encode())
        log.flush()
        self.proc = subprocess.Popen(
            [str(LOOPD), "--addr", self.base, "--data-dir", str(self.data_dir), *self.args],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"loopd exited with {self.proc.returncode}:\n{self.log_text()}")
            try:
                if httpx.get(f"{self.base}/health", timeout=1.0).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"loopd not healthy after {timeout}s:\n{self.log_text()}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int | None:
        """Stop the process (SIGTERM drains; SIGKILL is a crash) and return its exit code."""
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise

    def kill9(self) -> None:
        self.stop(signal.SIGKILL)

    def restart(self, sig: int = signal.SIGTERM) -> Loopd:
        self.stop(sig)
        return self.start()

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-20000:]
        except OSError:
            return ""

    # -- HTTP --------------------------------------------------------------------------------
    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.base, headers=self.headers, timeout=30.0, **kwargs)

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        with self.client() as client:
            return client.request(method, path, **kwargs)

    def create_run(self, workspace: Path, **config: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "spec_path": "specs/demo.md",
            "workspace_root": str(workspace),
            "config_override": {"agent": "scripted", "model": "scripted", **config},
        }
        for key in ("merge_target_branch", "name", "plan_path"):
            if key in config:
                body[key] = body["config_override"].pop(key)
        response = self.request("POST", "/runs", json=body)
        assert response.status_code == 201, response.text
        return dict(response.json()["run"])

    def run(self, run_id: str) -> dict[str, Any]:
        response = self.request("GET", f"/runs/{run_id}")
        assert response.status_code == 200, response.text
        return dict(response.json()["run"])

    def wait_status(self, run_id: str, *statuses: str, timeout: float = 60.0) -> dict[str, Any]:
        wanted = set(statuses) or set(TERMINAL)
        deadline = time.monotonic() + timeout
        run: dict[str, Any] = {}
        while time.monotonic() < deadline:
            run = self.run(run_id)
            if run["status"] in wanted:
                return run
            if run["status"] in TERMINAL:
                raise AssertionError(
                    f"run ended {run['status']} ({run['reason']}), wanted {wanted}"
                )
            time.sleep(0.1)
        raise AssertionError(f"run still {run.get('status')} after {timeout}s:\n{self.log_text()}")

    def wait_for(
        self, predicate: Any, timeout: float = 30.0, what: str = "condition", every: float = 0.1
    ) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(every)
        raise AssertionError(f"timed out waiting for {what}:\n{self.log_text()}")

    def events(self, run_id: str, after: int = 0) -> list[dict[str, Any]]:
        """Every event so far (the SSE replay, read until the stream would wait)."""
        return list(self._sse(f"/runs/{run_id}/events?after={after}"))

    def stored_events(self, run_id: str) -> list[dict[str, Any]]:
        """The events stored so far, without waiting for a busy run's stream to go quiet."""
        return list(self._sse(f"/runs/{run_id}/events?follow=false"))

    def output(self, run_id: str, after: int = 0) -> list[dict[str, Any]]:
        return list(self._sse(f"/runs/{run_id}/output?after={after}"))

    def _sse(self, path: str, idle: float = 2.5) -> Iterator[dict[str, Any]]:
        from httpx_sse import connect_sse

        timeout = httpx.Timeout(30.0, read=idle)
        with self.client() as client, connect_sse(client, "GET", path, timeout=timeout) as src:
            try:
                for sse in src.iter_sse():
                    yield json.loads(sse.data)
            except httpx.ReadTimeout:
                return

    def steps(self, run_id: str) -> list[dict[str, Any]]:
        response = self.request("GET", f"/runs/{run_id}/steps")
        assert response.status_code == 200, response.text
        return list(response.json()["steps"])


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True)
    return done.stdout.strip()


def make_workspace(root: Path, tasks: int = 3, name: str = "repo") -> Path:
    """A git repository with specs/demo.md and a plan of ``tasks`` open tasks."""
    repo = root / name
    (repo / "specs" / "planning").mkdir(parents=True)
    (repo / "specs" / "demo.md").write_text("# Demo\n\nWrite one file per task.\n")
    lines = "".join(f"- [ ] task number {i}\n" for i in range(1, tasks + 1))
    (repo / "specs" / "planning" / "demo-plan.md").write_text(f"# Plan\n\n{lines}")
    (repo / ".gitignore").write_text("logs/\n")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.name", "Test User")
    git(repo, "config", "user.email", "test@example.invalid")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "init")
    return repo


def terminal_event(events: list[dict[str, Any]]) -> dict[str, Any]:
    """The newest RUN_COMPLETED / RUN_FAILED / RUN_CANCELED (cleanup events may follow it)."""
    ends = {"RUN_COMPLETED", "RUN_FAILED", "RUN_CANCELED"}
    return [e for e in events if e["event_type"] in ends][-1]


def process_environments() -> Iterator[tuple[int, list[bytes]]]:
    """(pid, environment entries) of every process whose environment can be read."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        yield int(entry.name), environ.split(b"\0")


def processes_with_env(key: str, value: str) -> list[int]:
    """Pids whose environment carries ``key=value`` (agents get LOOP_RUN_ID)."""
    needle = f"{key}={value}".encode()
    return [pid for pid, environ in process_environments() if needle in environ]
