"""Fixtures of the real-CLI tests: ``workspace`` (a git repository with a three-task plan)
and ``loopd_factory`` (a real loopd per call, its log attached to a failed test's report;
pass the environment that points a CLI at its mock)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from integration.daemon_fixture import *  # noqa: F403  (loopd_factory, report hook)
from integration.loopd import make_workspace


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    return make_workspace(tmp_path, tasks=3)


@pytest.fixture
def small(tmp_path: Path) -> Path:
    """A one-task workspace: the failure cases need only the first step."""
    return make_workspace(tmp_path, tasks=1, name="small")
