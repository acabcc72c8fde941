"""Admission (SPEC 2.1): validate a `POST /runs` request, resolve its config and name, then
store the run as PENDING and enqueue its workflow in one transaction.

Bad input is refused here with a reason and nothing is created: a run never fails half-way
through for something admission could have seen.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from agentloop.core.clock import new_id
from agentloop.core.config import ALIASES, KEYS, Config, LoadedConfig, load_config
from agentloop.core.errors import InvalidInput, PathEscapeError
from agentloop.core.models import Run
from agentloop.core.names import sanitize_run_name, spec_slug
from agentloop.core.run_request import RunRequest
from agentloop.core.types import NameSource, RunMode
from agentloop.core.workspace import CONFIG_FILE, PROMPT_FILE, ensure_within, resolve_run_inputs
from agentloop.engine.naming import choose_name
from agentloop.engine.runtime import Runtime
from agentloop.vcs.git import Git

CAP_KEYS = ("max_concurrency", "max_runs_per_workspace", "queue_policy")


def new_run_id() -> str:
    """A new run id (time-ordered, as every id of ours)."""
    return new_id()


def admit(runtime: Runtime, request: RunRequest) -> Run:
    """Check ``request``, then store its run as PENDING and enqueue its workflow; raise
    :class:`InvalidInput` (nothing created) for anything admission can see is wrong."""
    workspace = _workspace(request.workspace_root)
    loaded = _config(workspace, request)
    config = loaded.config
    experiment = config.mode is RunMode.EXPERIMENT
    if experiment and "reviewer" not in loaded.explicit_keys:
        config = dataclasses.replace(config, reviewer=False)  # SPEC 19: off unless set
    _check_paths(workspace, config)
    inputs = resolve_run_inputs(
        workspace,
        request.spec_path,
        request.plan_path,
        config.plans_dir,
        plan_required=not experiment,
    )
    name, source = _name(request, config, inputs.spec_path, runtime.settings.data_dir / "naming")
    run_id = new_run_id()
    merge_target = config.merge_target_branch or None
    fields: dict[str, Any] = {
        "run_id": run_id,
        "name": name,
        "name_source": source.value,
        "workspace_root": str(workspace),
        "spec_path": str(inputs.spec_path),
        "plan_path": str(inputs.plan_path),
        "agent": config.agent.value,
        "model": config.model,
        "base_branch": config.base_branch or None,
        "merge_target_branch": merge_target,
        "merge_strategy": config.merge_strategy.value,
        "config": config.to_json(),
    }
    explicit_caps = {k: config.to_json()[k] for k in CAP_KEYS if k in loaded.explicit_keys}
    with runtime.store.transaction() as conn:
        run = runtime.store.create_run(conn, **fields)
        runtime.queue.enqueue_in_transaction(conn, run_id, str(workspace))
    if explicit_caps:
        runtime.queue.apply_run_caps(explicit_caps)
    runtime.queue.wake()
    return run


def _workspace(raw: str) -> Path:
    path = Path(raw).expanduser()
    if not path.is_absolute():
        raise InvalidInput(f"workspace_root {raw!r} must be an absolute path")
    if not path.is_dir():
        raise InvalidInput(f"workspace_root {raw!r} is not a directory")
    resolved = path.resolve()
    toplevel = Git(resolved).toplevel()
    if toplevel is None:
        raise InvalidInput(f"workspace_root {raw!r} is not inside a git repository")
    if Git(resolved).try_rev_parse("HEAD") is None:
        raise InvalidInput(f"the repository at {raw!r} has no commit yet")
    return toplevel.resolve()


def _config(workspace: Path, request: RunRequest) -> LoadedConfig:
    extra = request.extra_fields
    unknown = sorted(k for k in extra if k not in KEYS and k not in ALIASES)
    if unknown:
        raise InvalidInput(f"unknown field(s) in request: {', '.join(unknown)}")
    overrides: dict[str, Any] = {**extra, **request.overrides}
    config_file = None
    if (workspace / CONFIG_FILE).exists():
        _inside(workspace, CONFIG_FILE, CONFIG_FILE)
    if request.config_path:
        given = Path(request.config_path)
        config_file = ensure_within(given if given.is_absolute() else workspace / given, workspace)
        if not config_file.is_file():
            raise InvalidInput(f"config_path {request.config_path!r} is not a file")
    return load_config(workspace, config_file=config_file, overrides=overrides, environ={})


def _check_paths(workspace: Path, config: Config) -> None:
    """SPEC 17: nothing outside the workspace is read or written for a client. The run dir
    (``log_dir``), the instructions read into the prompt (``prompt_file``, else
    ``.loop/prompt.txt``) and the files the prompt sends the agent to (``context_files``)
    must resolve inside the workspace, symlinks followed. ``global_log_dir`` may be anywhere
    (it is where the user keeps the mirrored run dirs, SPEC 13) but must be absolute: a
    relative one would land in whatever directory the daemon was started from."""
    _inside(workspace, "log_dir", config.log_dir)
    _inside(workspace, "prompt_file", config.prompt_file or PROMPT_FILE)
    for path in config.context_files:
        _inside(workspace, "context_files", path)
    mirror = config.global_log_dir
    if mirror and not Path(mirror).expanduser().is_absolute():
        raise InvalidInput(f"global_log_dir {mirror!r} must be an absolute path")


def _inside(workspace: Path, key: str, path: str) -> None:
    try:
        ensure_within(path, workspace)
    except PathEscapeError as exc:
        raise InvalidInput(f"{key} {path!r} is outside the workspace {str(workspace)!r}") from exc


def _name(
    request: RunRequest, config: Config, spec_path: Path, scratch: Path
) -> tuple[str, NameSource]:
    if request.name is not None:
        name = sanitize_run_name(request.name)
        return name, request.name_source or NameSource.USER
    if request.name_source is NameSource.SPEC_SLUG:
        return spec_slug(spec_path), NameSource.SPEC_SLUG
    return choose_name(config, spec_path, scratch)


__all__ = ["RunRequest", "admit", "new_run_id"]
