"""Where a run's files live, and what they are called (SPEC 13).

A run dir exists in up to two places: ``<workspace>/<log_dir>/run-<id>/`` and the global
mirror ``<global_log_dir>/runs/run-<id>/``; ``artifact_mode`` picks both (``mirror``, the
default) or one. File names are functions of an iteration number (two digits, more past 99)
so that every module spells them the same way. Every path handed out is checked to stay
inside its run dir (:class:`PathEscapeError` otherwise), symlinks included.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from agentloop.core.errors import PathEscapeError
from agentloop.core.types import ArtifactLocation, ArtifactMode

DEFAULT_LOG_DIR = "logs/loop"

PROMPT = "prompt.txt"
RUNNER_NOTES = "runner-notes.txt"
REPORT = "report.tsv"
SUMMARY = "summary.json"
RUN_LOG = "run.log"
VERIFY_MERGE_LOG = "verify-merge.log"
ANALYSIS_DIR = "analysis"


def _nn(number: int) -> str:
    if number < 0:
        raise ValueError(f"iteration numbers are not negative: {number}")
    return f"{number:02d}"


def prompt_rewrite(k: int) -> str:
    return f"prompt.rewrite.{k}.txt"


def iter_log(iteration: int) -> str:
    return f"iter-{_nn(iteration)}.log"


def iter_tail(iteration: int) -> str:
    return f"iter-{_nn(iteration)}.tail.txt"


def iter_events(iteration: int) -> str:
    return f"iter-{_nn(iteration)}.events.jsonl"


def review_log(iteration: int) -> str:
    return f"review-{_nn(iteration)}.log"


def review_events(iteration: int) -> str:
    return f"review-{_nn(iteration)}.events.jsonl"


def verify_log(iteration: int) -> str:
    return f"verify-{_nn(iteration)}.log"


def analysis(name: str) -> str:
    """``analysis/<name>.md`` (the postmortem's notes); ``name`` is one plain file name."""
    stem = name.removesuffix(".md")
    if not stem or "/" in stem or "\\" in stem or stem in (".", ".."):
        raise PathEscapeError(name, ANALYSIS_DIR)
    return f"{ANALYSIS_DIR}/{stem}.md"


_KINDS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"prompt\.txt"), "prompt"),
    (re.compile(r"prompt\.rewrite\.\d+\.txt"), "prompt_rewrite"),
    (re.compile(r"iter-\d{2,}\.log"), "iteration_log"),
    (re.compile(r"iter-\d{2,}\.tail\.txt"), "iteration_tail"),
    (re.compile(r"iter-\d{2,}\.events\.jsonl"), "iteration_events"),
    (re.compile(r"review-\d{2,}\.log"), "review_log"),
    (re.compile(r"review-\d{2,}\.events\.jsonl"), "review_events"),
    (re.compile(r"verify-\d{2,}\.log"), "verify_log"),
    (re.compile(r"verify-merge\.log"), "verify_merge_log"),
    (re.compile(r"runner-notes\.txt"), "runner_notes"),
    (re.compile(r"report\.tsv"), "report"),
    (re.compile(r"summary\.json"), "summary"),
    (re.compile(r"run\.log"), "run_log"),
    (re.compile(r"analysis/[^/]+\.md"), "analysis"),
    (re.compile(r"experiment-log\.md"), "experiment_log"),
    (re.compile(r"metrics/iter-\d{2,}\.(?:json|result\.json|log)"), "metrics"),
]


def kind_of(name: str) -> str:
    """The artifact kind of a run-dir file name (``"other"`` for names outside SPEC 13)."""
    for pattern, kind in _KINDS:
        if pattern.fullmatch(name):
            return kind
    return "other"


def run_dir_name(run_id: str) -> str:
    if not run_id or not re.fullmatch(r"[A-Za-z0-9_.-]+", run_id) or run_id in (".", ".."):
        raise PathEscapeError(run_id, "run-<id>")
    return f"run-{run_id}"


def safe_join(root: Path, name: str) -> Path:
    """``root / name``, refusing absolute names, ``..`` and symlinks leading outside root."""
    relative = PurePosixPath(name.replace("\\", "/"))
    if (
        not name
        or relative.is_absolute()
        or ".." in relative.parts
        or relative == PurePosixPath(".")
    ):
        raise PathEscapeError(name, str(root))
    candidate = root.joinpath(*relative.parts)
    resolved_root = root.resolve()
    resolved = candidate.resolve()
    if resolved == resolved_root or not resolved.is_relative_to(resolved_root):
        raise PathEscapeError(name, str(root))
    return candidate


@dataclass(frozen=True)
class RunDir:
    """The directories of one run and the validated paths of its files."""

    run_id: str
    workspace_dir: Path | None
    global_dir: Path | None

    @classmethod
    def for_run(
        cls,
        run_id: str,
        *,
        workspace_root: str | Path,
        global_log_dir: str | Path,
        log_dir: str = DEFAULT_LOG_DIR,
        mode: ArtifactMode = ArtifactMode.MIRROR,
    ) -> RunDir:
        """Lay out ``run_id``'s dirs; ``global_log_dir`` defaults to ``<data_dir>/logs``."""
        name = run_dir_name(run_id)
        mode = ArtifactMode(mode)
        workspace_dir = global_dir = None
        if mode in (ArtifactMode.MIRROR, ArtifactMode.WORKSPACE):
            workspace = Path(workspace_root).absolute()
            relative = Path(log_dir)
            if relative.is_absolute():  # allowed when it is inside the workspace
                if not relative.is_relative_to(workspace):
                    raise PathEscapeError(log_dir, str(workspace))
                relative = relative.relative_to(workspace)
            workspace_dir = safe_join(workspace, f"{relative.as_posix()}/{name}")
        if mode in (ArtifactMode.MIRROR, ArtifactMode.GLOBAL):
            global_dir = Path(global_log_dir).expanduser().absolute() / "runs" / name
        return cls(run_id, workspace_dir, global_dir)

    @property
    def locations(self) -> list[tuple[ArtifactLocation, Path]]:
        """The enabled (location, dir) pairs, workspace first."""
        found = []
        if self.workspace_dir is not None:
            found.append((ArtifactLocation.WORKSPACE, self.workspace_dir))
        if self.global_dir is not None:
            found.append((ArtifactLocation.GLOBAL, self.global_dir))
        return found

    @property
    def primary(self) -> Path:
        """The dir written first (and streamed into): the workspace one when enabled."""
        return self.locations[0][1]

    def dir(self, location: ArtifactLocation) -> Path:
        for candidate, path in self.locations:
            if candidate == location:
                return path
        raise ValueError(f"run {self.run_id} has no {location} run dir")

    def safe_path(self, name: str, location: ArtifactLocation | None = None) -> Path:
        """Path of file ``name`` in the primary (or given) run dir; PathEscapeError if outside."""
        root = self.primary if location is None else self.dir(location)
        return safe_join(root, name)

    def paths(self, name: str) -> list[tuple[ArtifactLocation, Path]]:
        """The validated path of ``name`` in every enabled location."""
        return [(location, safe_join(root, name)) for location, root in self.locations]
