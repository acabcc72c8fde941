"""The one door to the git CLI (and to ``wt``): a thin, typed wrapper over subprocess.

Every external program the vcs package starts goes through :func:`run_process`. It runs the
program with an explicit environment (C locale, no pager, no terminal prompts, no editor, no
inherited ``GIT_DIR``-style variables that would point git at another repository), a timeout
that kills the whole process group, and it turns every failure into a
:class:`~agentloop.core.errors.GitError` carrying the arguments, exit code and stderr.

:class:`Git` binds a working directory and offers the typed reads the rest of the package
needs. Cheap reads that avoid spawning git live in :mod:`agentloop.vcs.head`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from agentloop.core.errors import GitError

DEFAULT_TIMEOUT = 120.0
TIMEOUT_EXIT_CODE = 124
AGENTLOOP_NAME = "agentloop"
AGENTLOOP_EMAIL = "agentloop@localhost"

# Variables that would make git act on a different repository than the cwd we pass.
_REPO_LOCATION_VARS = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_COMMON_DIR",
    "GIT_NAMESPACE",
    "GIT_PREFIX",
)
_FIXED_ENV = {
    "LC_ALL": "C",
    "LANG": "C",
    "LANGUAGE": "C",
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_PAGER": "cat",
    "PAGER": "cat",
    "GIT_EDITOR": "true",
    "GIT_MERGE_AUTOEDIT": "no",
    "GIT_ASKPASS": "",
    "SSH_ASKPASS": "",
    "GCM_INTERACTIVE": "never",
}


@dataclass(frozen=True)
class GitResult:
    """What a finished command printed and how it exited."""

    stdout: str
    stderr: str
    returncode: int


@dataclass(frozen=True)
class Commit:
    """One commit as the review views show it; ``timestamp`` is the author date, epoch s."""

    sha: str
    subject: str
    author: str
    author_email: str
    timestamp: int

    def to_json(self) -> dict[str, object]:
        return {
            "sha": self.sha,
            "subject": self.subject,
            "author": self.author,
            "author_email": self.author_email,
            "timestamp": self.timestamp,
        }


@dataclass(frozen=True)
class TrackedChange:
    """One line of ``git status``: ``xy`` is the two-letter code, ``old_path`` set on renames."""

    xy: str
    path: str
    old_path: str | None = None


def command_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment every git/wt child gets: ours, minus repo redirects, plus fixed keys."""
    env = {k: v for k, v in os.environ.items() if k not in _REPO_LOCATION_VARS}
    env.update(_FIXED_ENV)
    if extra:
        env.update(extra)
    return env


def run_process(
    argv: Sequence[str],
    cwd: Path,
    *,
    check: bool = True,
    input: str | None = None,
    timeout: float | None = DEFAULT_TIMEOUT,
    env: Mapping[str, str] | None = None,
    new_session: bool = True,
) -> GitResult:
    """Run ``argv`` in ``cwd`` and return its output; failures become :class:`GitError`.

    ``check=False`` returns non-zero exits instead of raising (a missing program, a missing
    directory and a timeout always raise). The process runs in its own session, so a timeout
    kills hooks and helpers git started, not just git itself, and nothing it starts can
    prompt on our terminal. ``new_session=False`` gives it only its own process group (the
    timeout kill works the same), for local reads that never prompt: a session costs almost
    a millisecond more to start.
    """
    args = list(argv)
    if not cwd.is_dir():
        raise GitError(f"{args[0]}: directory does not exist: {cwd}", args=args, returncode=-1)
    try:
        proc = subprocess.Popen(
            args,
            cwd=cwd,
            env=command_env(env),
            stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=new_session,
            process_group=None if new_session else 0,
        )
    except OSError as exc:
        raise GitError(
            f"cannot start {args[0]}: {exc.strerror or exc}", args=args, returncode=-1
        ) from exc
    try:
        out, err = proc.communicate(input.encode() if input is not None else None, timeout)
    except subprocess.TimeoutExpired as exc:
        _kill_group(proc)
        out, err = proc.communicate()
        raise GitError(
            f"{_show(args)} timed out after {timeout:g} s",
            args=args,
            returncode=TIMEOUT_EXIT_CODE,
            stderr=err.decode(errors="replace"),
        ) from exc
    result = GitResult(out.decode(errors="replace"), err.decode(errors="replace"), proc.returncode)
    if check and result.returncode != 0:
        raise GitError(
            f"{_show(args)} failed (exit {result.returncode}): {_last_line(result)}",
            args=args,
            returncode=result.returncode,
            stderr=result.stderr,
        )
    return result


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


def _show(args: Sequence[str]) -> str:
    shown = " ".join(args[:6])
    return shown + " ..." if len(args) > 6 else shown


def _last_line(result: GitResult) -> str:
    for text in (result.stderr, result.stdout):
        lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
        if lines:
            return lines[-1]
    return "no output"


def refname_arg(name: str) -> str:
    """Refuse a ref-ish argument that git would read as an option."""
    if not name or name.startswith("-"):
        raise GitError(f"invalid ref name {name!r}", args=[name])
    return name


class Git:
    """git bound to one working directory. ``binary`` and ``timeout`` are per instance."""

    def __init__(
        self, cwd: Path | str, *, binary: str = "git", timeout: float = DEFAULT_TIMEOUT
    ) -> None:
        self.cwd = Path(cwd)
        self.binary = binary
        self.timeout = timeout
        self._identity: list[str] | None = None

    def __repr__(self) -> str:
        return f"Git({str(self.cwd)!r})"

    def run(
        self,
        *args: str,
        check: bool = True,
        input: str | None = None,
        timeout: float | None = None,
        env: Mapping[str, str] | None = None,
        new_session: bool = True,
    ) -> GitResult:
        """Run ``git <args>`` here; see :func:`run_process`. A command that changes the
        repository's worktrees holds its worktree lock (:mod:`agentloop.vcs.worktree_lock`)."""
        from agentloop.vcs.worktree_lock import changes_worktrees, worktree_lock

        held = worktree_lock(self.cwd) if changes_worktrees(args) else contextlib.nullcontext()
        with held:
            return run_process(
                [self.binary, *args],
                self.cwd,
                check=check,
                input=input,
                timeout=self.timeout if timeout is None else timeout,
                env=env,
                new_session=new_session,
            )

    # -- repository and branches --------------------------------------------------------

    def toplevel(self) -> Path | None:
        """The root of the working tree containing ``cwd``; None when it is not in git."""
        if not self.cwd.is_dir():
            return None
        result = self.run("rev-parse", "--show-toplevel", check=False)
        if result.returncode != 0 or not result.stdout.strip():
            return None
        return Path(result.stdout.strip())

    def current_branch(self) -> str | None:
        """The checked-out branch (also when it has no commit yet); None when detached."""
        result = self.run("symbolic-ref", "--quiet", "--short", "HEAD", check=False)
        name = result.stdout.strip()
        return name if result.returncode == 0 and name else None

    def default_branch(self) -> str:
        """SPEC 8: origin's HEAD branch, else the current branch, else ``main``."""
        result = self.run("symbolic-ref", "--quiet", "refs/remotes/origin/HEAD", check=False)
        ref = result.stdout.strip()
        prefix = "refs/remotes/origin/"
        if result.returncode == 0 and ref.startswith(prefix) and len(ref) > len(prefix):
            return ref[len(prefix) :]
        return self.current_branch() or "main"

    def branch_exists(self, name: str) -> bool:
        result = self.run(
            "show-ref", "--verify", "--quiet", f"refs/heads/{refname_arg(name)}", check=False
        )
        return result.returncode == 0

    def list_branches(self, prefix: str = "") -> list[str]:
        """Local branch names starting with ``prefix`` (a plain string prefix, not a glob)."""
        out = self.run("for-each-ref", "--format=%(refname:lstrip=2)", "refs/heads/").stdout
        return sorted(name for name in out.splitlines() if name.startswith(prefix))

    def try_rev_parse(self, rev: str) -> str | None:
        """The commit ``rev`` names, or None when it names none."""
        result = self.run(
            "rev-parse", "--verify", "--quiet", f"{refname_arg(rev)}^{{commit}}", check=False
        )
        sha = result.stdout.strip()
        return sha if result.returncode == 0 and sha else None

    def rev_parse(self, rev: str) -> str:
        """The commit ``rev`` names; GitError when it names none."""
        sha = self.try_rev_parse(rev)
        if sha is None:
            raise GitError(f"unknown revision {rev!r} in {self.cwd}", args=["rev-parse", rev])
        return sha

    def resolve_start_point(self, base: str) -> str:
        """The commit to branch from: ``base`` itself, else ``origin/<base>``."""
        sha = self.try_rev_parse(base) or self.try_rev_parse(f"refs/remotes/origin/{base}")
        if sha is None:
            raise GitError(
                f"base branch {base!r} does not exist (neither locally nor as origin/{base})",
                args=["rev-parse", base],
            )
        return sha

    def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        result = self.run(
            "merge-base",
            "--is-ancestor",
            refname_arg(ancestor),
            refname_arg(descendant),
            check=False,
        )
        if result.returncode in (0, 1):
            return result.returncode == 0
        raise GitError(
            f"git merge-base --is-ancestor {ancestor} {descendant} failed: {_last_line(result)}",
            args=["merge-base", "--is-ancestor", ancestor, descendant],
            returncode=result.returncode,
            stderr=result.stderr,
        )

    def commits_between(self, base: str, head: str) -> list[Commit]:
        """Commits reachable from ``head`` but not from ``base``, newest first."""
        out = self.run(
            "log",
            "--no-color",
            "--format=%H%x1f%s%x1f%an%x1f%ae%x1f%at%x1e",
            f"{refname_arg(base)}..{refname_arg(head)}",
            "--",
        ).stdout
        commits = []
        for record in out.split("\x1e"):
            fields = record.strip("\n").split("\x1f")
            if len(fields) == 5:
                sha, subject, name, email, stamp = fields
                commits.append(Commit(sha, subject, name, email, int(stamp or 0)))
        return commits

    def tracked_changes(self, path: str | None = None) -> list[TrackedChange]:
        """Uncommitted changes to tracked files (staged or not); untracked files don't count.

        Runs without optional locks, so polling the user's checkout never rewrites its index.
        """
        args = ["--no-optional-locks", "status", "--porcelain=v1", "-z", "--untracked-files=no"]
        if path is not None:
            args += ["--", path]
        return parse_status_z(self.run(*args, new_session=False).stdout)

    # -- commits we make --------------------------------------------------------------

    def identity_args(self) -> list[str]:
        """``-c user.*`` options for commits we make, only for what the repo lacks."""
        if self._identity is None:
            result = self.run("config", "--get-regexp", r"^user\.(name|email)$", check=False)
            have = {line.split(" ", 1)[0].lower() for line in result.stdout.splitlines()}
            args: list[str] = []
            if "user.name" not in have and not os.environ.get("GIT_COMMITTER_NAME"):
                args += ["-c", f"user.name={AGENTLOOP_NAME}"]
            if "user.email" not in have and not os.environ.get("GIT_COMMITTER_EMAIL"):
                args += ["-c", f"user.email={AGENTLOOP_EMAIL}"]
            self._identity = args
        return list(self._identity)


def parse_status_z(out: str) -> list[TrackedChange]:
    """Parse ``git status --porcelain=v1 -z``: renames carry the old path as the next field."""
    fields = out.split("\0")
    changes = []
    i = 0
    while i < len(fields):
        entry = fields[i]
        i += 1
        if len(entry) < 4:
            continue
        xy, path = entry[:2], entry[3:]
        old_path = None
        if "R" in xy or "C" in xy:
            old_path = fields[i] if i < len(fields) else None
            i += 1
        changes.append(TrackedChange(xy, path, old_path))
    return changes


def toplevel(path: Path | str) -> Path | None:
    """The git working-tree root containing ``path``; None when it is not in a repository."""
    return Git(path).toplevel()
