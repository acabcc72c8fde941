"""Merging a run branch into its target branch without touching the user's checkout (SPEC 8).

The merge happens in a temporary worktree, detached at the target's tip (or at the base
when the target does not exist yet). There the run branch is squashed (one commit) or
merged (``--no-ff``); the optional ``verify`` callback checks the merged tree; only then
does the target ref move, by compare-and-swap (``git update-ref <ref> <new> <old>``). So:

- a conflict or a failed verification leaves the target and the run branch as they were;
- the temporary worktree is always removed (and a stale one from a crash is removed first);
- a target checked out in any worktree is refused: moving it would leave that working tree
  stale and its next commit would silently revert the merge;
- nothing is ever pushed.

Idempotency: the merge commit carries the trailers ``Agentloop-Run: <run_id>`` and
``Agentloop-Head: <run branch tip>``. A repeat of the same merge (same run, same tip) finds
that commit on the target and returns it with ``already_merged=True``. When the target
already holds every change of the run branch, nothing is committed and the result is the
target's tip with ``already_merged=True`` (the target is created at the base if missing).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from agentloop.core.errors import GitError, MergeConflictError, MergeVerificationError
from agentloop.core.types import MergeStrategy
from agentloop.vcs.branches import validate_branch_name
from agentloop.vcs.git import Git, refname_arg
from agentloop.vcs.worktree import list_worktrees

RUN_TRAILER = "Agentloop-Run"
HEAD_TRAILER = "Agentloop-Head"
_SHOWN_PATHS = 20


@dataclass(frozen=True)
class VerifyOutcome:
    """What the merge verification said: ``ok``, and ``detail`` for a failure."""

    ok: bool
    detail: str = ""


Verify = Callable[[Path], VerifyOutcome]


@dataclass(frozen=True)
class MergeResult:
    """The target's new (or existing) commit holding the run's changes."""

    commit: str
    already_merged: bool
    target: str
    created_target: bool = False

    def to_json(self) -> dict[str, object]:
        return {
            "commit": self.commit,
            "already_merged": self.already_merged,
            "target": self.target,
            "created_target": self.created_target,
        }


def merge_run(
    repo_root: Path,
    run_branch: str,
    target: str,
    base: str,
    strategy: MergeStrategy | str,
    message: str,
    verify: Verify | None,
    tmp_parent: Path,
    *,
    run_id: str,
    before_move: Callable[[], None] | None = None,
) -> MergeResult:
    """Merge ``run_branch`` into ``target`` (see the module docstring for the guarantees).

    Raises :class:`MergeConflictError` (``paths``), :class:`MergeVerificationError`
    (``detail``), or :class:`GitError` (missing run branch or base, target checked out,
    target moved concurrently, any git failure). ``before_move`` is called right before the
    target moves; what it raises stops the merge with the target unchanged.
    """
    git = Git(repo_root)
    how = _strategy(strategy)
    refname_arg(run_branch)
    validate_branch_name(git, target)
    if run_branch == target:
        raise GitError(f"run branch and merge target are both {target!r}", args=[target])
    run_sha = git.try_rev_parse(f"refs/heads/{run_branch}")
    if run_sha is None:
        raise GitError(f"run branch {run_branch!r} does not exist", args=[run_branch])
    tmp = _temp_worktree(tmp_parent, run_id)
    # A crash after the target moved but before the caller recorded it leaves the temp
    # worktree behind; the replay finds the merge done and must still remove it.
    _discard_temp(repo_root, tmp)
    old = git.try_rev_parse(f"refs/heads/{target}")
    if old is not None:
        previous = find_merge_commit(git, target, run_id, run_sha)
        if previous is not None:
            return MergeResult(previous, True, target)
    _refuse_checked_out(repo_root, target)
    start = old or git.resolve_start_point(base)
    tmp.parent.mkdir(parents=True, exist_ok=True)
    try:
        git.run("worktree", "add", "--quiet", "--detach", str(tmp), start)
        full_message = _with_trailers(message, run_id, run_sha)
        new = _merge_in(Git(tmp), run_branch, target, run_sha, how, full_message)
        if new is not None and verify is not None:
            outcome = verify(tmp)
            if not outcome.ok:
                raise MergeVerificationError(
                    f"verification of {run_branch!r} merged into {target!r} failed; "
                    f"{target!r} was not changed: {outcome.detail or 'no detail'}",
                    args=["merge", run_branch],
                    detail=outcome.detail,
                )
        commit = new or start
        if new is not None or old is None:
            if before_move is not None:
                before_move()
            _move_target(git, target, commit, old, run_branch, run_id)
        return MergeResult(commit, new is None, target, created_target=old is None)
    finally:
        _discard_temp(repo_root, tmp)


def find_merge_commit(git: Git, target: str, run_id: str, run_sha: str) -> str | None:
    """The commit on ``target`` that records merging ``run_sha`` of run ``run_id``."""
    out = git.run(
        "log",
        "--format=%H%x1f%B%x1e",
        "--fixed-strings",
        f"--grep={HEAD_TRAILER}: {run_sha}",
        f"refs/heads/{target}",
        "--",
    ).stdout
    wanted = {f"{RUN_TRAILER}: {run_id}", f"{HEAD_TRAILER}: {run_sha}"}
    for record in out.split("\x1e"):
        sha, _, body = record.strip("\n").partition("\x1f")
        if sha and wanted <= {line.strip() for line in body.splitlines()}:
            return sha
    return None


def _strategy(strategy: MergeStrategy | str) -> MergeStrategy:
    how = MergeStrategy(strategy)
    if how is MergeStrategy.NONE:
        raise GitError("merge strategy 'none' does not merge", args=["merge"])
    return how


def _safe_name(run_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "-", run_id)[:80] or "run"


def _with_trailers(message: str, run_id: str, run_sha: str) -> str:
    text = message.strip() or "agentloop merge"
    return f"{text}\n\n{RUN_TRAILER}: {run_id}\n{HEAD_TRAILER}: {run_sha}\n"


def _refuse_checked_out(repo_root: Path, target: str) -> None:
    for entry in list_worktrees(repo_root):
        if entry.branch == target and not entry.prunable:
            raise GitError(
                f"merge target {target!r} is checked out in {entry.path}; agentloop does not "
                "move a branch under a working tree (it would go stale). Switch that "
                "working tree to another branch, or choose another merge target",
                args=["worktree", "list"],
            )


def _merge_in(
    wt: Git, run_branch: str, target: str, run_sha: str, how: MergeStrategy, message: str
) -> str | None:
    """Merge in the temp worktree; the new commit, or None when there was nothing to merge."""
    before = wt.rev_parse("HEAD")
    # Pin settings of the user's config that would change or break our merge:
    # merge.ff=false/only rejects --squash; rerere could "resolve" a conflict for us.
    options = [*wt.identity_args(), "-c", "rerere.enabled=false", "-c", "merge.ff=true"]
    if how is MergeStrategy.SQUASH:
        args = ["merge", "--squash", run_sha]
    else:
        args = ["merge", "--no-ff", "--no-edit", "-m", message, run_sha]
    result = wt.run(*options, *args, check=False)
    if result.returncode != 0:
        conflicted = _conflicted_paths(wt)
        wt.run("merge", "--abort", check=False)
        wt.run("reset", "--hard", "--quiet", before, check=False)
        if conflicted:
            shown = ", ".join(conflicted[:_SHOWN_PATHS])
            more = (
                f" and {len(conflicted) - _SHOWN_PATHS} more"
                if len(conflicted) > _SHOWN_PATHS
                else ""
            )
            raise MergeConflictError(
                f"merging {run_branch!r} into {target!r} conflicts in {shown}{more}; "
                f"{target!r} and {run_branch!r} are unchanged",
                args=args,
                returncode=result.returncode,
                stderr=result.stderr,
                paths=conflicted,
            )
        raise GitError(
            f"git merge of {run_branch!r} into {target!r} failed: "
            f"{(result.stderr or result.stdout).strip()}",
            args=args,
            returncode=result.returncode,
            stderr=result.stderr,
        )
    if how is MergeStrategy.SQUASH:
        if wt.run("diff", "--cached", "--quiet", check=False).returncode == 0:
            return None
        wt.run(*options, "commit", "--quiet", "--no-edit", "-F", "-", input=message)
    after = wt.rev_parse("HEAD")
    return None if after == before else after


def _conflicted_paths(wt: Git) -> list[str]:
    out = wt.run("diff", "--name-only", "--diff-filter=U", "-z", check=False).stdout
    return sorted({p for p in out.split("\0") if p})


def _move_target(
    git: Git, target: str, new: str, old: str | None, run_branch: str, run_id: str
) -> None:
    result = git.run(
        "update-ref",
        "-m",
        f"agentloop: merge {run_branch} (run {run_id})",
        f"refs/heads/{target}",
        new,
        old or "",
        check=False,
    )
    if result.returncode != 0:
        raise GitError(
            f"merge target {target!r} changed while merging (expected "
            f"{old or 'no branch'}); it was left as it is, retry the merge",
            args=["update-ref", f"refs/heads/{target}", new, old or ""],
            returncode=result.returncode,
            stderr=result.stderr,
        )


def discard_leftover(repo_root: Path, tmp_parent: Path, run_id: str) -> None:
    """Remove the temporary worktree a merge of ``run_id`` killed with its process left
    (the run's next merge removes it too, but a run may end or start over without one)."""
    _discard_temp(repo_root, _temp_worktree(tmp_parent, run_id))


def _temp_worktree(tmp_parent: Path, run_id: str) -> Path:
    return Path(tmp_parent) / f"agentloop-merge-{_safe_name(run_id)}"


def _discard_temp(repo_root: Path, tmp: Path) -> None:
    """Remove the temporary merge worktree; best effort, it is ours and disposable."""
    git = Git(repo_root)
    try:
        if any(e.path.resolve() == tmp.resolve() for e in list_worktrees(repo_root)):
            git.run("worktree", "remove", "--force", str(tmp), check=False)
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
        git.run("worktree", "prune", check=False)
    except GitError:
        pass
