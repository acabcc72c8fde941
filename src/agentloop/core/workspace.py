"""Path rules of a workspace (SPEC 1, 8, 17): where the plan and the worktree are, and that
nothing a client names leaves the workspace.

Pure path logic plus ``stat``; no subprocess. Finding the workspace (``git rev-parse
--show-toplevel``) is the caller's job: :func:`workspace_root` takes its answer.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from agentloop.core.errors import InvalidInput, PathEscapeError, TemplateError
from agentloop.core.templates import render_template

LOOP_DIR = ".loop"
CONFIG_FILE = f"{LOOP_DIR}/config"
PROMPT_FILE = f"{LOOP_DIR}/prompt.txt"
LEARNINGS_FILE = "LEARNINGS.md"


def workspace_root(toplevel: str | Path | None, cwd: Path) -> Path:
    """The workspace: the git toplevel of ``cwd`` when there is one, else ``cwd`` itself."""
    return Path(toplevel) if toplevel else cwd


def resolve_path(path: str | Path, base: Path) -> Path:
    """``path`` made absolute against ``base`` and normalised, without following symlinks."""
    return Path(os.path.normpath(base / path))


def resolve_plan_path(spec_path: str | Path, plans_dir: str | Path, workspace: Path) -> Path:
    """The default plan of a spec: ``<workspace>/<plans_dir>/<spec-stem>-plan.md``."""
    return resolve_path(Path(plans_dir) / f"{Path(spec_path).stem}-plan.md", workspace)


def ensure_within(path: str | Path, root: Path) -> Path:
    """``path`` (relative ones against ``root``) with symlinks resolved; raises
    :class:`PathEscapeError` when it lies outside ``root``."""
    real_root = root.resolve()
    real = (root / path).resolve()
    if not real.is_relative_to(real_root):
        raise PathEscapeError(str(path), str(root))
    return real


def remap_path(path: Path, workspace: Path, worktree: Path) -> Path:
    """Where ``path`` of the workspace lives in ``worktree`` (the same relative path); a path
    outside the workspace is returned unchanged."""
    if not path.is_absolute():
        return worktree / path
    if path.is_relative_to(workspace):
        return worktree / path.relative_to(workspace)
    return path


@dataclass(frozen=True)
class RunInputs:
    """The files a run is admitted with, absolute and checked."""

    workspace: Path
    spec_path: Path
    plan_path: Path


def resolve_run_inputs(
    workspace: Path,
    spec: str | Path,
    plan: str | Path | None,
    plans_dir: str,
    *,
    plan_required: bool = True,
) -> RunInputs:
    """Admission check of a run's files (SPEC 2.1): the workspace is a directory, the spec
    and the plan (default: per ``plans_dir``) are files inside it. Relative paths are taken
    against the workspace. Without ``plan_required`` (experiment mode) the plan may be
    missing, but never outside the workspace. Raises :class:`InvalidInput` or
    :class:`PathEscapeError`."""
    if not workspace.is_dir():
        raise InvalidInput(f"workspace {str(workspace)!r} is not a directory", path=str(workspace))
    workspace = workspace.resolve()
    spec_path = _existing_file("spec", spec, workspace)
    wanted = plan if plan is not None else resolve_plan_path(spec, plans_dir, workspace)
    if plan_required or resolve_path(wanted, workspace).exists():
        plan_path = _existing_file("plan", wanted, workspace)
    else:
        plan_path = ensure_within(resolve_path(wanted, workspace), workspace)
    return RunInputs(workspace=workspace, spec_path=spec_path, plan_path=plan_path)


def _existing_file(what: str, path: str | Path, workspace: Path) -> Path:
    absolute = resolve_path(path, workspace)
    if not absolute.is_file():
        raise InvalidInput(f"{what} file not found: {str(absolute)!r}", path=str(absolute))
    return ensure_within(absolute, workspace)


def worktree_path(template: str, workspace: Path, variables: Mapping[str, str]) -> Path:
    """The run's worktree directory: ``template`` rendered, relative to the workspace,
    normalised. Raises :class:`TemplateError` when it renders to nothing, or to the
    workspace or one of its parents (removing such a worktree would destroy the workspace)."""
    rendered = render_template(template, variables).strip()
    if not rendered:
        raise TemplateError(
            f"worktree path template {template!r} renders to an empty path", template=template
        )
    path = resolve_path(rendered, workspace)
    if Path(os.path.normpath(workspace)).is_relative_to(path):
        raise TemplateError(
            f"worktree path {str(path)!r} from template {template!r} is the workspace "
            "or contains it",
            template=template,
        )
    return path
