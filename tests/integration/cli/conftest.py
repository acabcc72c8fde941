"""The real ``loopctl`` (the console script, as a subprocess) against a real ``loopd`` running
the ``scripted`` agent, in real git workspaces."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from cli_support import Ctl, make_ctl, make_workspace

from integration.daemon_fixture import *  # noqa: F403
from integration.loopd import Loopd


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    return make_workspace(tmp_path)


@pytest.fixture
def ctl(loopd: Loopd, workspace: Path) -> Ctl:
    """``ctl("list")``: the real loopctl in the workspace, against the module's loopd."""
    return make_ctl(loopd.addr, workspace)
