"""Changes to a repository's worktrees wait for each other (fuzz seed 56145: one run's
`git worktree add` died on another run's half-written worktree entry). Real git, a real
flock held by the test as another loopd thread or host would hold it."""

from __future__ import annotations

import fcntl
import threading
from collections.abc import Callable
from pathlib import Path

from agentloop.vcs.git import Git

from .conftest import Repo

LOCK = "agentloop-worktrees.lock"


def _run_in_thread(call: Callable[[], object]) -> threading.Thread:
    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    return thread


def _held(repo: Repo) -> object:
    handle = (repo.path / ".git" / LOCK).open("a")
    fcntl.flock(handle, fcntl.LOCK_EX)
    return handle


def test_a_worktree_add_waits_for_the_repositorys_worktree_lock(
    make_repo: Callable[[], Repo], tmp_path: Path
) -> None:
    repo = make_repo()
    target = tmp_path / "wt"
    handle = _held(repo)
    adding = _run_in_thread(
        lambda: Git(repo.path).run("worktree", "add", "--quiet", "--detach", str(target))
    )
    adding.join(0.5)
    assert adding.is_alive() and not target.exists()  # it waits for the lock

    handle.close()  # releases the flock
    adding.join(10)
    assert not adding.is_alive() and (target / ".git").is_file()


def test_a_worktree_remove_from_a_linked_worktree_waits_for_the_same_lock(
    make_repo: Callable[[], Repo], tmp_path: Path
) -> None:
    repo = make_repo()
    linked, doomed = tmp_path / "linked", tmp_path / "doomed"
    repo.git("worktree", "add", "--quiet", "--detach", str(linked))
    repo.git("worktree", "add", "--quiet", "--detach", str(doomed))
    handle = _held(repo)
    removing = _run_in_thread(lambda: Git(linked).run("worktree", "remove", str(doomed)))
    removing.join(0.5)
    assert removing.is_alive() and doomed.exists()

    handle.close()
    removing.join(10)
    assert not removing.is_alive() and not doomed.exists()


def test_reads_do_not_take_the_lock(make_repo: Callable[[], Repo]) -> None:
    repo = make_repo()
    handle = _held(repo)
    try:
        assert str(repo.path) in Git(repo.path).run("worktree", "list").stdout
    finally:
        handle.close()
