"""What a run changed: its branch against the merge-base with its base (SPEC 8, 14 ``diff``),
and what each of its commits changed (:func:`commit_files`, two git calls a commit).

Three git calls whatever the size of the change: ``log`` for the commits, ``diff --raw
--numstat -z`` for statuses and line counts, and one ``diff`` for all patches, split at the
``diff --git`` headers (same order as the raw records). Each patch is capped at
``max_patch_bytes`` and flagged ``truncated``. Everything is plain data with ``to_json()``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from agentloop.core.errors import GitError
from agentloop.vcs.git import Commit, Git, refname_arg

DEFAULT_MAX_PATCH_BYTES = 256 * 1024
EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
"""git's empty tree: what a root commit is compared with."""
_DIFF_OPTIONS = ("--no-color", "--no-ext-diff", "--no-textconv", "-M")


@dataclass(frozen=True)
class FileDiff:
    """One changed file. ``status`` is A, M, D or R (``old_path`` set for R)."""

    path: str
    status: str
    additions: int = 0
    deletions: int = 0
    binary: bool = False
    old_path: str | None = None
    patch: str = ""
    truncated: bool = False

    def to_json(self) -> dict[str, object]:
        return {
            "path": self.path,
            "old_path": self.old_path,
            "status": self.status,
            "additions": self.additions,
            "deletions": self.deletions,
            "binary": self.binary,
            "patch": self.patch,
            "truncated": self.truncated,
        }


@dataclass(frozen=True)
class BranchDiff:
    """Commits of ``branch`` not in ``base`` and its files against their merge-base."""

    base: str
    branch: str
    merge_base: str
    head: str
    commits: list[Commit] = field(default_factory=list)
    files: list[FileDiff] = field(default_factory=list)

    @property
    def additions(self) -> int:
        return sum(f.additions for f in self.files)

    @property
    def deletions(self) -> int:
        return sum(f.deletions for f in self.files)

    def to_json(self) -> dict[str, object]:
        return {
            "base": self.base,
            "branch": self.branch,
            "merge_base": self.merge_base,
            "head": self.head,
            "commits": [c.to_json() for c in self.commits],
            "files": [f.to_json() for f in self.files],
            "additions": self.additions,
            "deletions": self.deletions,
        }


def branch_diff(
    repo_root: Path, base: str, branch: str, max_patch_bytes: int = DEFAULT_MAX_PATCH_BYTES
) -> BranchDiff:
    """The review view of ``branch``: commits not in ``base``, files vs the merge-base."""
    git = Git(repo_root)
    head = git.rev_parse(refname_arg(branch))
    base_sha = git.rev_parse(refname_arg(base))
    found = git.run("merge-base", base_sha, head, check=False)
    merge_base = found.stdout.strip()
    if found.returncode != 0 or not merge_base:
        raise GitError(
            f"{branch!r} and {base!r} have no common history",
            args=["merge-base", base, branch],
            returncode=found.returncode,
            stderr=found.stderr,
        )
    commits = git.commits_between(base_sha, head)
    files = _files(git, merge_base, head, max_patch_bytes)
    return BranchDiff(base, branch, merge_base, head, commits, files)


def commit_files(
    repo_root: Path, sha: str, max_patch_bytes: int = DEFAULT_MAX_PATCH_BYTES
) -> list[FileDiff]:
    """The files commit ``sha`` changed against its first parent (two git calls)."""
    git = Git(repo_root)
    parent = git.try_rev_parse(f"{sha}^") or EMPTY_TREE
    return _files(git, parent, sha, max_patch_bytes)


def _files(git: Git, old: str, new: str, max_patch_bytes: int) -> list[FileDiff]:
    records = _raw_records(git, old, new)
    patches = _split_patches(git.run("diff", *_DIFF_OPTIONS, old, new).stdout)
    files = []
    for i, record in enumerate(records):
        patch = patches[i] if len(patches) == len(records) else ""
        text, truncated = _cap(patch, max_patch_bytes)
        files.append(
            FileDiff(
                path=record.path,
                status=record.status,
                additions=record.additions,
                deletions=record.deletions,
                binary=record.binary,
                old_path=record.old_path,
                patch=text,
                truncated=truncated,
            )
        )
    return files


@dataclass
class _Record:
    status: str
    path: str
    old_path: str | None = None
    additions: int = 0
    deletions: int = 0
    binary: bool = False


def _raw_records(git: Git, old: str, new: str) -> list[_Record]:
    """Parse ``diff --raw --numstat -z``: raw records first, then numstat, both in order."""
    out = git.run("diff", *_DIFF_OPTIONS, "--raw", "--numstat", "-z", old, new).stdout
    fields = out.split("\0")
    records: list[_Record] = []
    i = 0
    while i < len(fields) and fields[i].startswith(":"):
        letter = fields[i].split()[-1][:1]
        if letter in ("R", "C"):
            records.append(_Record("R" if letter == "R" else "A", fields[i + 2], fields[i + 1]))
            i += 3
        else:
            records.append(_Record(_STATUS.get(letter, "M"), fields[i + 1]))
            i += 2
    for record in records:
        if i >= len(fields):
            break
        adds, dels, rest = [*fields[i].split("\t", 2), "", ""][:3]
        # Renames: "adds\tdels\t" then old and new path as separate fields.
        i += 3 if rest == "" else 1
        record.binary = adds == "-" and dels == "-"
        record.additions = int(adds) if adds.isdigit() else 0
        record.deletions = int(dels) if dels.isdigit() else 0
    return records


_STATUS = {"A": "A", "M": "M", "D": "D", "T": "M"}


def _split_patches(text: str) -> list[str]:
    if not text:
        return []
    patches: list[str] = []
    current: list[str] = []
    for line in text.split("\n"):
        if line.startswith("diff --git ") and current:
            patches.append("".join(current))
            current = []
        current.append(line + "\n")
    if current:
        # split() gave the last line no "\n" of its own; drop the one added to it
        patches.append("".join(current)[:-1])
    return patches


def _cap(patch: str, limit: int) -> tuple[str, bool]:
    data = patch.encode()
    if len(data) <= limit:
        return patch, False
    cut = data[:limit]
    newline = cut.rfind(b"\n")
    if newline > 0:
        cut = cut[: newline + 1]
    return cut.decode(errors="ignore"), True
