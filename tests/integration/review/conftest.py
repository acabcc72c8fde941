"""Fixtures of the review tests: a loopd per test (with a stand-in ``gh`` first on PATH that
records its arguments), and a sample workspace."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from integration.conftest import start_daemon, stop_daemon
from integration.loopd import Loopd

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
    loopd = start_daemon(tmp_path / "data", path_first=[gh_dir], GH_ARGV_FILE=str(gh_log))
    yield loopd
    stop_daemon(loopd, request)


@pytest.fixture
def bare_daemon(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Loopd]:
    """A loopd whose PATH has no ``gh``."""
    loopd = start_daemon(tmp_path / "data-nogh")
    yield loopd
    stop_daemon(loopd, request)
