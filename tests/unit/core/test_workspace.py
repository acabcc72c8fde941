import os
from pathlib import Path

import pytest

from agentloop.core.errors import InvalidInput, PathEscapeError, TemplateError
from agentloop.core.templates import DEFAULT_WORKTREE_TEMPLATE
from agentloop.core.workspace import (
    ensure_within,
    remap_path,
    resolve_plan_path,
    resolve_run_inputs,
    workspace_root,
    worktree_path,
)

VARIABLES = {"repo": "shop", "run_branch": "run/x", "spec_slug": "s", "run_id": "1", "name": "x"}


def test_workspace_root_prefers_the_git_toplevel() -> None:
    assert workspace_root("/repo", Path("/repo/sub")) == Path("/repo")
    assert workspace_root(None, Path("/plain/dir")) == Path("/plain/dir")
    assert workspace_root("", Path("/plain/dir")) == Path("/plain/dir")


def test_resolve_plan_path() -> None:
    ws = Path("/ws")
    assert resolve_plan_path("specs/auth.md", "specs/planning", ws) == Path(
        "/ws/specs/planning/auth-plan.md"
    )
    assert resolve_plan_path(Path("/ws/specs/a.b.md"), "plans/", ws) == Path(
        "/ws/plans/a.b-plan.md"
    )
    assert resolve_plan_path("x.md", "/abs/plans", ws) == Path("/abs/plans/x-plan.md")


def test_ensure_within(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    assert ensure_within("a/../a/file", tmp_path) == (tmp_path / "a" / "file").resolve()
    assert ensure_within(tmp_path, tmp_path) == tmp_path.resolve()
    with pytest.raises(PathEscapeError) as caught:
        ensure_within("../outside", tmp_path)
    assert caught.value.facts == {"path": "../outside", "root": str(tmp_path)}
    with pytest.raises(PathEscapeError):
        ensure_within("/etc/passwd", tmp_path)


def test_ensure_within_follows_symlinks(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "link").symlink_to(tmp_path)
    with pytest.raises(PathEscapeError):
        ensure_within("link/secret", root)


def test_ensure_within_rejects_a_sibling_with_a_common_prefix(tmp_path: Path) -> None:
    (tmp_path / "ws").mkdir()
    with pytest.raises(PathEscapeError):
        ensure_within(tmp_path / "ws2" / "f", tmp_path / "ws")


def test_remap_path() -> None:
    ws, wt = Path("/ws"), Path("/wt")
    assert remap_path(Path("/ws/specs/a.md"), ws, wt) == Path("/wt/specs/a.md")
    assert remap_path(Path("specs/a.md"), ws, wt) == Path("/wt/specs/a.md")
    assert remap_path(Path("/elsewhere/a.md"), ws, wt) == Path("/elsewhere/a.md")
    assert remap_path(Path("/ws2/a.md"), ws, wt) == Path("/ws2/a.md")


def make_workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    (ws / "specs" / "planning").mkdir(parents=True)
    (ws / "specs" / "auth.md").write_text("# spec")
    (ws / "specs" / "planning" / "auth-plan.md").write_text("- [ ] a")
    return ws


def test_resolve_run_inputs_defaults_the_plan(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path)
    inputs = resolve_run_inputs(ws, "specs/auth.md", None, "specs/planning")
    assert inputs.workspace == ws.resolve()
    assert inputs.spec_path == (ws / "specs/auth.md").resolve()
    assert inputs.plan_path == (ws / "specs/planning/auth-plan.md").resolve()


def test_resolve_run_inputs_takes_an_explicit_plan(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path)
    (ws / "other.md").write_text("- [ ] b")
    inputs = resolve_run_inputs(ws, ws / "specs/auth.md", "other.md", "nowhere")
    assert inputs.plan_path == (ws / "other.md").resolve()


def test_resolve_run_inputs_errors(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path)
    with pytest.raises(InvalidInput, match="spec file not found"):
        resolve_run_inputs(ws, "specs/missing.md", None, "specs/planning")
    with pytest.raises(InvalidInput, match="plan file not found"):
        resolve_run_inputs(ws, "specs/auth.md", None, "elsewhere")
    with pytest.raises(InvalidInput, match="spec file not found"):
        resolve_run_inputs(ws, "specs", None, "specs/planning")
    with pytest.raises(InvalidInput, match="not a directory"):
        resolve_run_inputs(tmp_path / "nope", "specs/auth.md", None, "specs/planning")
    (tmp_path / "outside.md").write_text("x")
    with pytest.raises(PathEscapeError):
        resolve_run_inputs(ws, "../outside.md", "specs/planning/auth-plan.md", "specs/planning")


def test_worktree_path_default_is_a_sibling_of_the_workspace() -> None:
    path = worktree_path(DEFAULT_WORKTREE_TEMPLATE, Path("/src/shop"), VARIABLES)
    assert path == Path("/src/shop.run-x")


def test_worktree_path_absolute_template() -> None:
    assert worktree_path("/wt/{{ run_id }}", Path("/src/shop"), VARIABLES) == Path("/wt/1")


@pytest.mark.parametrize("template", ["", "  ", ".", "..", "../..", "/", "{{ repo }}/.."])
def test_worktree_path_refuses_the_workspace_and_its_parents(template: str) -> None:
    with pytest.raises(TemplateError):
        worktree_path(template, Path("/src/shop"), VARIABLES)


def test_worktree_path_is_normalised() -> None:
    path = worktree_path("a/../b/./{{ repo }}", Path("/src/shop"), VARIABLES)
    assert path == Path("/src/shop/b/shop")
    assert str(path) == os.path.normpath(path)
