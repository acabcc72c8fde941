"""Naming a run's branch: ``<prefix><slug>``, made unique among local branches (SPEC 8)."""

from __future__ import annotations

from agentloop.core.errors import GitError
from agentloop.vcs.git import Git

MAX_SUFFIX = 10_000


def unique_branch(git: Git, prefix: str, slug: str) -> str:
    """``<prefix><slug>``, or ``<prefix><slug>-2``, ``-3``... if a local branch has the name.

    The name is checked with ``git check-ref-format --branch``; an invalid one raises
    :class:`GitError` naming it rather than failing later inside ``git worktree add``.
    """
    wanted = f"{prefix}{slug}"
    validate_branch_name(git, wanted)
    taken = set(git.list_branches(wanted))
    for n in range(1, MAX_SUFFIX):
        candidate = wanted if n == 1 else f"{wanted}-{n}"
        if _is_free(candidate, taken):
            return candidate
    raise GitError(f"no free branch name for {wanted!r} after {MAX_SUFFIX} tries", args=[wanted])


def _is_free(name: str, taken: set[str]) -> bool:
    # A branch "run/x/y" also takes "run/x": a ref cannot be both a file and a directory.
    return name not in taken and not any(other.startswith(name + "/") for other in taken)


def validate_branch_name(git: Git, name: str) -> None:
    """Raise :class:`GitError` when git would not accept ``name`` as a branch name."""
    result = git.run("check-ref-format", "--branch", name, check=False)
    if result.returncode != 0:
        raise GitError(
            f"{name!r} is not a valid git branch name",
            args=["check-ref-format", "--branch", name],
            returncode=result.returncode,
            stderr=result.stderr,
        )
