"""Real git repositories in tmp_path, isolated from the user's and the system's git config.

``make_repo()`` builds a repository with one commit on ``main`` and a local identity;
``Repo`` drives it with plain subprocess (test scaffolding, independent of the code under
test). ``fake_wt`` puts a stand-in worktrunk ``wt`` (see ``fake_wt.py``) in a bin dir.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from gitenv import isolated_git  # noqa: F401  (autouse)


class Repo:
    """A test repository: ``git()`` runs git in it, ``commit()`` writes files and commits."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def git(self, *args: str, cwd: Path | None = None, check: bool = True) -> str:
        result = subprocess.run(
            ["git", *args],
            cwd=cwd or self.path,
            capture_output=True,
            text=True,
            env={**os.environ, "LC_ALL": "C"},
        )
        if check and result.returncode != 0:
            raise AssertionError(f"git {args} failed: {result.stderr}")
        return result.stdout.strip()

    def write(self, name: str, content: str | bytes, cwd: Path | None = None) -> Path:
        target = (cwd or self.path) / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content)
        return target

    def commit(
        self, message: str, files: dict[str, str | bytes] | None = None, cwd: Path | None = None
    ) -> str:
        where = cwd or self.path
        for name, content in (files or {}).items():
            self.write(name, content, cwd=where)
        self.git("add", "-A", cwd=where)
        self.git("commit", "-q", "--allow-empty", "-m", message, cwd=where)
        return self.git("rev-parse", "HEAD", cwd=where)

    def sha(self, rev: str = "HEAD") -> str:
        return self.git("rev-parse", "--verify", "-q", rev, check=False)

    def branch(self) -> str:
        return self.git("symbolic-ref", "--short", "-q", "HEAD", check=False)

    def status(self) -> str:
        return self.git("status", "--porcelain=v1", "--untracked-files=all")

    def worktree_paths(self) -> list[Path]:
        out = self.git("worktree", "list", "--porcelain")
        return [Path(line[9:]) for line in out.splitlines() if line.startswith("worktree ")]


MakeRepo = Callable[..., Repo]


@pytest.fixture
def make_repo(tmp_path: Path) -> MakeRepo:
    def make(name: str = "repo", identity: bool = True, branch: str = "main") -> Repo:
        path = tmp_path / name
        path.mkdir()
        repo = Repo(path)
        repo.git("init", "-q", "-b", branch)
        if identity:
            repo.git("config", "user.name", "Test User")
            repo.git("config", "user.email", "test@example.com")
            repo.commit("initial", {"README.md": "hello\n", "src/app.py": "print('hi')\n"})
        return repo

    return make


@pytest.fixture
def repo(make_repo: MakeRepo) -> Repo:
    return make_repo()


@pytest.fixture
def fake_wt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A ``wt`` on PATH that runs fake_wt.py; its calls are logged to ``<bin>/wt.log``."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = Path(__file__).with_name("fake_wt.py")
    wt = bin_dir / "wt"
    wt.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{script}" "$@"\n')
    wt.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.setenv("FAKE_WT_LOG", str(bin_dir / "wt.log"))
    yield wt
