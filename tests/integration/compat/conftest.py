"""Fixtures of the compatibility tests: one loopd for the module (with a stand-in ``gh``
first on PATH that records its arguments), a workspace whose run config is a file the
reference loopctl would name with ``--config``, and a run of it carried to completion."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from integration.compat.reference import create_run_request
from integration.conftest import start_daemon
from integration.daemon_fixture import pytest_runtest_makereport  # noqa: F401
from integration.loopd import Loopd, git, make_workspace

PR_URL = "https://github.com/example/compat/pull/3"
CONFIG = ".loop/compat.cfg"

_GH = f"""#!{sys.executable}
import json, os, sys
with open(os.environ["GH_ARGV_FILE"], "a", encoding="utf-8") as fh:
    fh.write(json.dumps(sys.argv[1:]) + "\\n")
print("{PR_URL}")
"""


@pytest.fixture(scope="module")
def places(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("compat")
    gh_dir = root / "gh-bin"
    gh_dir.mkdir()
    (gh_dir / "gh").write_text(_GH)
    (gh_dir / "gh").chmod(0o755)
    return {"root": root, "gh_dir": gh_dir, "gh_log": root / "gh-argv.jsonl"}


@pytest.fixture(scope="module")
def daemon(places: dict[str, Path]) -> Iterator[Loopd]:
    loopd = start_daemon(
        places["root"] / "data", path_first=[places["gh_dir"]], GH_ARGV_FILE=str(places["gh_log"])
    )
    yield loopd
    loopd.stop()


def compat_workspace(root: Path, name: str, **settings: Any) -> Path:
    """A workspace with ``.loop/compat.cfg`` (the scripted agent) committed."""
    repo = make_workspace(root, tasks=3, name=name)
    lines = {"agent": "scripted", "model": "scripted", **settings}
    (repo / ".loop").mkdir(exist_ok=True)
    (repo / CONFIG).write_text("".join(f"{k}={v}\n" for k, v in lines.items()))
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "compat config")
    return repo.resolve()


def reference_request(workspace: Path, **fields: Any) -> dict[str, Any]:
    """``POST /runs`` as ``loopctl run specs/demo.md --config .loop/compat.cfg`` sends it."""
    defaults = {
        "spec_path": str(workspace / "specs" / "demo.md"),
        "plan_path": str(workspace / "specs" / "planning" / "demo-plan.md"),
        "workspace_root": str(workspace),
        "config_override": str(workspace / CONFIG),
    }
    return create_run_request(**{**defaults, **fields})


@pytest.fixture(scope="module")
def workspace(places: dict[str, Path]) -> Path:
    return compat_workspace(places["root"], "shared")


def completed_run(daemon: Loopd, workspace: Path, **fields: Any) -> dict[str, Any]:
    """A run as the reference loopctl starts it, completed and awaiting review."""
    response = daemon.request("POST", "/runs", json=reference_request(workspace, **fields))
    assert response.status_code == 201, response.text
    run_id = response.json()["run"]["id"]
    daemon.wait_status(run_id, "COMPLETED")
    return dict(
        daemon.wait_for(
            lambda: (r := daemon.run(run_id))["worktree_cleanup_status"] and r,
            what="the cleanup decision",
        )
    )


@pytest.fixture(scope="module")
def finished(daemon: Loopd, workspace: Path) -> dict[str, Any]:
    """A run of three iterations (reviewer on), completed and awaiting review."""
    return completed_run(daemon, workspace)
