"""The reference's command lines (SPEC 20): ``loopd --port/-p N``, and loopctl's
``worktrees``, ``worktree-rm`` and ``analyze`` (the real console scripts)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx

from integration.cli.cli_support import make_ctl
from integration.compat.conftest import compat_workspace, completed_run
from integration.loopd import LOOPD, Loopd, free_port


def test_loopd_port_listens_on_loopback(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOOPD_")}
    data = str(tmp_path / "data")
    with (tmp_path / "loopd.log").open("wb") as log:
        proc = subprocess.Popen([str(LOOPD), "-p", str(port), "--data-dir", data], env=env,
                                stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=1.0)
                    break
                except httpx.HTTPError:
                    assert proc.poll() is None, (tmp_path / "loopd.log").read_text()
                    time.sleep(0.1)
            assert health.json()["status"] == "ok"
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=20)
    both = subprocess.run(
        [str(LOOPD), "--addr", "127.0.0.1:1", "--port", "2", "--data-dir", data],
        env=env, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert both.returncode == 2 and "--addr or --port" in both.stderr


def test_loopctl_worktrees_and_worktree_rm(daemon: Loopd, places: dict[str, Path]) -> None:
    workspace = compat_workspace(places["root"], "ctl-trees")
    ctl = make_ctl(daemon.addr, workspace / "specs")
    done = completed_run(daemon, workspace)
    tree = done["worktree"]["worktree_path"]
    listed = ctl("worktrees")
    assert listed.code == 0, listed.err
    assert tree in listed.out and done["id"] in listed.out and "COMPLETED" in listed.out
    as_json = ctl("--json", "worktrees", str(workspace)).json()["data"]
    assert [w["run_id"] for w in as_json["worktrees"]] == [done["id"]]

    Path(tree, "draft.txt").write_text("not committed\n")
    kept = ctl("worktree-rm", tree)
    assert kept.code == 1 and "uncommitted changes (draft.txt)" in kept.err
    removed = ctl("worktree-rm", tree, "--workspace", str(workspace), "-f")
    assert removed.code == 0 and removed.out.strip() == f"removed worktree {tree}"
    assert not Path(tree).exists()
    assert ctl("worktrees").out.strip() == f"no worktrees in {workspace}"


def test_loopctl_analyze(daemon: Loopd, finished: dict[str, Any], workspace: Path) -> None:
    ctl = make_ctl(daemon.addr, workspace)
    prompt = ctl("analyze", "--latest", "--prompt-only")
    assert prompt.code == 0, prompt.err
    latest = daemon.request("GET", "/runs", params={"limit": 1}).json()["runs"][0]["id"]
    assert prompt.out.startswith(f"postmortem prompt_only for run {latest}\n")
    assert Path(prompt.out.splitlines()[1].strip()).name == "postmortem-prompt.md"
    started = ctl("analyze", finished["id"][:13], "--model", "opus")
    assert started.code == 0, started.err
    assert started.out.startswith(f"postmortem running for run {finished['id']}")
    assert ctl("analyze", finished["id"], "--latest").code == 2
