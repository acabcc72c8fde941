"""Fixtures of the adversarial tests, the same as the engine tests': `daemon` (a real loopd
with the stand-in agent CLIs first on PATH, its log printed when a test fails) and
`workspace` (a sample git repository with a three-task plan)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from integration.loopd import Loopd, make_workspace
from standins import standin_env


def daemon_env() -> dict[str, str]:
    return standin_env(base={"PATH": os.environ["PATH"]})


@pytest.fixture
def daemon(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Loopd]:
    loopd = Loopd(tmp_path / "data", env=daemon_env())
    loopd.start()
    yield loopd
    loopd.stop()
    if request.node.rep_call.failed if hasattr(request.node, "rep_call") else False:
        print(loopd.log_text())


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    return make_workspace(tmp_path, tasks=3)


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    setattr(item, f"rep_{report.when}", report)
