"""What the fuzzer reads from outside the daemon: a run with its steps and events (over
HTTP), the processes that carry its ``LOOP_RUN_ID``, and the git state of its workspace;
plus compact renderings of them for a violation's evidence."""

from __future__ import annotations

import json
import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from integration.loopd import Loopd, process_environments

TERMINAL = frozenset({"COMPLETED", "FAILED", "CANCELED"})
SETTLED = TERMINAL | {"PAUSED"}
TERMINAL_EVENTS = {"RUN_COMPLETED": "COMPLETED", "RUN_FAILED": "FAILED", "RUN_CANCELED": "CANCELED"}


class ServerError(Exception):
    """The daemon answered 5xx, or not at all while it should be up."""


@dataclass
class RunView:
    """One poll of one run."""

    run: dict[str, Any]
    steps: list[dict[str, Any]]
    events: list[dict[str, Any]]
    pids: list[int] = field(default_factory=list)

    @property
    def status(self) -> str:
        return str(self.run["status"])

    @property
    def cleaning_up(self) -> bool:
        """Ended, its worktree cleanup (which follows the ending) not yet recorded."""
        return self.status in TERMINAL and self.run.get("worktree_cleanup_status") is None

    @property
    def open_steps(self) -> list[dict[str, Any]]:
        return [s for s in self.steps if s["status"] == "IN_PROGRESS"]

    @property
    def last_seq(self) -> int:
        return int(self.events[-1]["seq"]) if self.events else 0

    def evidence(self) -> dict[str, Any]:
        run = self.run
        return {
            "run": {
                k: run.get(k)
                for k in (
                    "id",
                    "status",
                    "reason",
                    "phase",
                    "iteration",
                    "tasks_done",
                    "worktree",
                    "worktree_cleanup_status",
                    "merge_commit",
                    "updated_at",
                )
            },
            "steps": compact_steps(self.steps),
            "events": compact_events(self.events),
            "processes": describe_pids(self.pids),
        }


class Api:
    """HTTP to the daemon over one kept-alive client (a new one after each restart)."""

    def __init__(self, daemon: Loopd) -> None:
        self.daemon = daemon
        self._client: httpx.Client | None = None

    @property
    def client(self) -> httpx.Client:
        if self._client is None:
            self._client = self.daemon.client()
        return self._client

    def reconnect(self) -> None:
        if self._client is not None:
            self._client.close()
        self._client = None

    def get_json(self, path: str) -> dict[str, Any]:
        response = self.client.get(path)
        if response.status_code >= 500:
            raise ServerError(f"GET {path} -> {response.status_code}: {response.text[:300]}")
        response.raise_for_status()
        return dict(response.json())

    def post(self, path: str) -> httpx.Response:
        return self.client.post(path)

    def events(self, run_id: str) -> list[dict[str, Any]]:
        """The stored events (the SSE replay with follow=false, which ends by itself)."""
        response = self.client.get(f"/runs/{run_id}/events", params={"follow": "false"})
        if response.status_code >= 500:
            raise ServerError(f"GET events -> {response.status_code}: {response.text[:300]}")
        response.raise_for_status()
        return [
            json.loads(line[5:])
            for line in response.text.splitlines()
            if line.startswith("data:") and line[5:].strip()
        ]

    def view(self, run_id: str, pids: list[int]) -> RunView:
        run = self.get_json(f"/runs/{run_id}")["run"]
        steps = self.get_json(f"/runs/{run_id}/steps")["steps"]
        return RunView(run=run, steps=steps, events=self.events(run_id), pids=pids)


def pids_by_run(run_ids: set[str]) -> dict[str, list[int]]:
    """Live processes whose environment has ``LOOP_RUN_ID`` = one of ``run_ids``."""
    found: dict[str, list[int]] = {}
    for pid, environ in process_environments():
        for item in environ:
            if item.startswith(b"LOOP_RUN_ID="):
                run_id = item[len(b"LOOP_RUN_ID=") :].decode(errors="replace")
                if run_id in run_ids and not _zombie(Path("/proc") / str(pid)):
                    found.setdefault(run_id, []).append(pid)
                break
    return found


CLOCK_TICK = 1 / os.sysconf("SC_CLK_TCK")


def boot_clock() -> float:
    """Now, on the clock :func:`started_at` reads (seconds since boot)."""
    return time.clock_gettime(time.CLOCK_BOOTTIME)


def started_at(pid: int) -> float | None:
    """When process ``pid`` started, in :func:`boot_clock` seconds rounded down to a clock
    tick; None when it is gone."""
    try:
        stat = (Path("/proc") / str(pid) / "stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[-1].split()[19]) * CLOCK_TICK


def _zombie(entry: Path) -> bool:
    try:
        stat = (entry / "stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] in {"Z", "X"}


def describe_pids(pids: list[int]) -> list[str]:
    described = []
    for pid in pids:
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
            described.append(f"{pid}: {cmdline.decode(errors='replace').strip()[:160]}")
        except OSError:
            described.append(f"{pid}: (gone)")
    return described


def compact_steps(steps: list[dict[str, Any]]) -> list[str]:
    return [
        f"{s['phase']} it{s['iteration']} a{s['attempt']} {s['status']}"
        f" {s.get('started_at') or '-'} -> {s.get('finished_at') or '-'}"
        f" exit={s.get('exit_code')} {str(s.get('message') or '')[:60]} [{s['id'][:8]}]"
        for s in steps
    ]


def compact_events(events: list[dict[str, Any]]) -> list[str]:
    lines = []
    for e in events:
        payload = {
            k: v
            for k, v in (e.get("payload") or {}).items()
            if k in {"phase", "iteration", "attempt", "reason", "exit_code", "step_id", "target"}
            or k in {"worktree_path", "run_branch", "commit", "status"}
        }
        if "step_id" in payload:
            payload["step_id"] = str(payload["step_id"])[:8]
        lines.append(f"{e['seq']} {e['timestamp']} {e['event_type']} {payload or ''}".rstrip())
    return lines


def log_excerpt(daemon: Loopd, offset: int, run_id: str | None, limit: int = 40) -> list[str]:
    """Lines of loopd's log since ``offset`` about ``run_id`` or at WARNING and above."""
    try:
        with daemon.log_path.open("rb") as fh:
            fh.seek(offset)
            text = fh.read().decode(errors="replace")
    except OSError:
        return []
    keep = []
    for line in text.splitlines():
        lowered = line.lower()
        if (
            (run_id and run_id in line)
            or "=====" in line
            or any(w in lowered for w in ("error", "warning", "traceback", "exception"))
        ):
            keep.append(line[:400])
    return keep[-limit:]


def log_size(daemon: Loopd) -> int:
    try:
        return daemon.log_path.stat().st_size
    except OSError:
        return 0


# -- git -------------------------------------------------------------------------------------
def git_out(cwd: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "--no-optional-locks", *args], cwd=cwd, capture_output=True, text=True
    )
    return done.stdout.strip() if done.returncode == 0 else ""


def primary_state(workspace: Path) -> dict[str, Any]:
    return {
        "head": git_out(workspace, "rev-parse", "HEAD"),
        "branch": git_out(workspace, "symbolic-ref", "--short", "HEAD"),
        "dirty": git_out(workspace, "status", "--porcelain", "--untracked-files=all"),
    }


def branch_tips(workspace: Path) -> dict[str, str]:
    """refs/heads/* -> sha (run branches and merge targets; main too)."""
    out = git_out(
        workspace, "for-each-ref", "--format=%(refname:short) %(objectname)", "refs/heads"
    )
    return dict(line.split(" ", 1) for line in out.splitlines() if " " in line)


def is_ancestor(workspace: Path, sha: str, ref: str) -> bool:
    done = subprocess.run(
        ["git", "merge-base", "--is-ancestor", sha, ref], cwd=workspace, capture_output=True
    )
    return done.returncode == 0


def worktrees(workspace: Path) -> list[dict[str, str]]:
    """Registered worktrees other than the primary checkout: path, branch, flags."""
    out = git_out(workspace, "worktree", "list", "--porcelain")
    entries: list[dict[str, str]] = []
    for block in out.split("\n\n"):
        entry: dict[str, str] = {}
        for line in block.splitlines():
            key, _, value = line.partition(" ")
            entry[key] = value or "yes"
        if entry.get("worktree"):
            entries.append(entry)
    return [e for e in entries if Path(e["worktree"]).resolve() != workspace.resolve()]
