"""Verify commands get the child environment of SPEC 4 like the agents do: the daemon's
minus its secrets, plus the run's LOOP_* facts (they had only the daemon's, so a stop could
not find what they left by LOOP_RUN_ID, and a script could not tell which run it checked)."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentloop.engine.phases import guarded
from agentloop.engine.phases.verify import verification
from agentloop.engine.runtime import Runtime

from .conftest import PLAN, SPEC, MakeRun


def test_verify_commands_see_the_runs_loop_facts_and_no_secret(
    make_run: MakeRun,
    runtime: Runtime,
    workspace: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LOOPD_AUTH_TOKEN", "not for children")
    seen = tmp_path / "env.txt"
    run_id = make_run(worktree=workspace, verify_cmds=(f"env > {seen}",))

    guarded(run_id, verification, 3)

    env = dict(line.split("=", 1) for line in seen.read_text().splitlines() if "=" in line)
    assert env["LOOP_RUN_ID"] == run_id
    assert env["LOOP_ITERATION"] == "3"
    assert Path(env["LOOP_RUN_DIR"]).name == f"run-{run_id}"
    assert env["LOOP_SPEC_PATH"] == str(workspace / SPEC)
    assert env["LOOP_PLAN_PATH"] == str(workspace / PLAN)
    assert "LOOPD_AUTH_TOKEN" not in env
