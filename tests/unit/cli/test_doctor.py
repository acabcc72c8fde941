"""loopctl doctor warns before a run does: claude refuses to skip permissions for root."""

from __future__ import annotations

from pathlib import Path

from agentloop.cli.commands.doctor import Check, DoctorResult, run_checks

TOOLS = {"git": "/usr/bin/git", "claude": "/opt/claude"}
NAME = "claude as root"


def _checks(workspace: Path, *, root: bool, **environ: str) -> dict[str, Check]:
    checks = run_checks(
        "http://127.0.0.1:1", None, workspace, TOOLS.get, environ=environ,
        euid=lambda: 0 if root else 1000,
    )  # fmt: skip
    return {check.name: check for check in checks}


def _workspace(tmp_path: Path, config: str | None = None) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    if config is not None:
        (tmp_path / ".loop").mkdir()
        (tmp_path / ".loop" / "config").write_text(config)
    return tmp_path


def test_root_without_is_sandbox_warns_for_claude(tmp_path: Path) -> None:
    workspace = _workspace(tmp_path)  # no config: agent=claude, bypassPermissions
    check = _checks(workspace, root=True)[NAME]
    assert check.state == "warn"
    assert "root" in check.detail and "--dangerously-skip-permissions" in check.detail
    assert check.fix and "IS_SANDBOX=1" in check.fix and "normal user" in check.fix
    text = DoctorResult((check,)).to_text()
    assert "warn  claude as root" in text and "fix: set IS_SANDBOX=1" in text


def test_no_warning_when_claude_would_run(tmp_path: Path) -> None:
    workspace = _workspace(tmp_path)
    assert _checks(workspace, root=False)[NAME].state == "ok"
    assert _checks(workspace, root=True, IS_SANDBOX="1")[NAME].state == "ok"
    asking = _workspace(tmp_path / "asking", "permission_mode=acceptEdits\n")
    assert _checks(asking, root=True)[NAME].state == "ok"  # no --dangerously-skip-permissions
    scripted = _workspace(tmp_path / "scripted", "agent=scripted\n")
    assert NAME not in _checks(scripted, root=True)
