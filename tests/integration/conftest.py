"""Fixtures shared by the integration tests: ``daemon`` (a real loopd per test, with the
stand-in agent CLIs first on PATH, its log printed when the test fails) and ``workspace``
(a sample git repository with a three-task plan). Directories override them as they need
(the review tests add a stand-in ``gh``; the CLI tests use one daemon per module)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from integration.loopd import Loopd, make_workspace
from standins import standin_env


def start_daemon(data_dir: Path, *, path_first: Sequence[Path] = (), **env: str) -> Loopd:
    """A started loopd whose PATH has ``path_first``, then the stand-ins, then ours."""
    path = os.pathsep.join([*map(str, path_first), os.environ["PATH"]])
    return Loopd(data_dir, env=standin_env(base={"PATH": path}, **env)).start()


def stop_daemon(loopd: Loopd, request: pytest.FixtureRequest) -> None:
    loopd.stop()
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        print(loopd.log_text())


@pytest.fixture
def daemon(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Loopd]:
    loopd = start_daemon(tmp_path / "data")
    yield loopd
    stop_daemon(loopd, request)


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    return make_workspace(tmp_path, tasks=3)


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    setattr(item, f"rep_{report.when}", report)
