"""Fixtures of the review tests: a loopd per test (with a stand-in ``gh`` first on PATH that
records its arguments), and a sample workspace."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from integration.loopd import Loopd, make_workspace
from standins import standin_env

PR_URL = "https://github.com/example/repo/pull/7"

_GH = f"""#!{sys.executable}
import json, os, sys
with open(os.environ["GH_ARGV_FILE"], "a", encoding="utf-8") as fh:
    fh.write(json.dumps({{"argv": sys.argv[1:], "cwd": os.getcwd()}}) + "\\n")
print("Creating pull request for the branch into main in example/repo")
print("")
print("{PR_URL}")
"""


@pytest.fixture
def gh_log(tmp_path: Path) -> Path:
    return tmp_path / "gh-argv.jsonl"


@pytest.fixture
def gh_dir(tmp_path: Path) -> Path:
    """A directory holding a stand-in ``gh`` that appends its argv to ``$GH_ARGV_FILE``."""
    directory = tmp_path / "gh-bin"
    directory.mkdir()
    script = directory / "gh"
    script.write_text(_GH)
    script.chmod(0o755)
    return directory


@pytest.fixture
def daemon(
    tmp_path: Path, gh_dir: Path, gh_log: Path, request: pytest.FixtureRequest
) -> Iterator[Loopd]:
    path = os.pathsep.join([str(gh_dir), os.environ["PATH"]])
    loopd = Loopd(tmp_path / "data", env=standin_env(base={"PATH": path}, GH_ARGV_FILE=str(gh_log)))
    loopd.start()
    yield loopd
    loopd.stop()
    if request.node.rep_call.failed if hasattr(request.node, "rep_call") else False:
        print(loopd.log_text())


@pytest.fixture
def bare_daemon(tmp_path: Path) -> Iterator[Loopd]:
    """A loopd whose PATH has no ``gh``."""
    loopd = Loopd(tmp_path / "data-nogh", env=standin_env(base={"PATH": os.environ["PATH"]}))
    loopd.start()
    yield loopd
    loopd.stop()


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    return make_workspace(tmp_path, tasks=3)


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    setattr(item, f"rep_{report.when}", report)
