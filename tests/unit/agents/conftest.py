"""Fixtures for the agents tests: stand-in CLIs on PATH, a real git repository with a plan,
and a check that no test leaves a live process group behind."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .support import make_repo, standin_env


@pytest.fixture
def standins() -> dict[str, str]:
    """An environment with the stand-in CLIs first on PATH."""
    return standin_env()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git repository with a spec, a 3-task plan (plus fenced, optional and manual
    tasks that do not count), one commit."""
    return make_repo(tmp_path / "repo")


@pytest.fixture(autouse=True)
def _no_leftover_groups() -> Iterator[None]:
    from agentloop.agents.process import live_groups

    yield
    deadline = time.monotonic() + 2
    while live_groups() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert live_groups() == []
