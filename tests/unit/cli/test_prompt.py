import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from agentloop.cli.main import main

LOOPCTL = Path(sys.executable).parent / "loopctl"


def invoke(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(main, list(args))


def test_prints_the_implementation_prompt(repo: Path) -> None:
    result = invoke("prompt", "specs/auth.md")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == (
        f"@{repo}/specs/auth.md @{repo}/specs/planning/auth-plan.md "
        f"@{repo}/logs/loop/run-<run-id>/runner-notes.txt @{repo}/LEARNINGS.md"
    )
    assert "`Completed <task>. <N> tasks remain.`" in result.output
    assert "alone on the last line" in result.output


def test_paths_are_relative_to_the_current_directory(repo: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(repo / "specs")
    result = invoke("prompt", "auth.md", "planning/auth-plan.md")
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"@{repo}/specs/auth.md @{repo}/specs/planning/auth-plan.md")


def test_review_prompt_names_the_first_task_awaiting_review(repo: Path) -> None:
    result = invoke("prompt", "--review", "specs/auth.md")
    assert result.exit_code == 0, result.output
    assert "REVIEWING" in result.output
    assert "Task under review (plan line 2): Add user model" in result.output


def test_config_applies_workspace_file_then_config_flag(repo: Path) -> None:
    (repo / ".loop").mkdir()
    (repo / ".loop" / "config").write_text(
        "completion_mode=exact\ncontext_files=docs/a.md\nplans_dir=plans\nmystery=1\n"
    )
    (repo / "plans").mkdir()
    (repo / "plans" / "auth-plan.md").write_text("- [ ] x\n")
    (repo / "other.cfg").write_text("context_files=docs/b.md\n")
    result = invoke("prompt", "specs/auth.md", "--config", "other.cfg")
    assert result.exit_code == 0, result.output
    assert f"@{repo}/plans/auth-plan.md" in result.output
    assert f"@{repo}/docs/b.md" in result.output and "docs/a.md" not in result.output
    assert "whole answer must be exactly the token" in result.output
    assert "warning: " in result.output and "'mystery'" in result.output


def test_custom_prompt_file_replaces_the_instructions(repo: Path) -> None:
    (repo / ".loop").mkdir()
    (repo / ".loop" / "prompt.txt").write_text("Do SPEC_PATH via PLAN_PATH.\n")
    result = invoke("prompt", "specs/auth.md")
    assert result.exit_code == 0, result.output
    assert f"Do {repo}/specs/auth.md via {repo}/specs/planning/auth-plan.md." in result.output
    assert "highest-priority" not in result.output


def test_json_output(repo: Path) -> None:
    result = invoke("--json", "prompt", "specs/auth.md")
    assert result.exit_code == 0, result.output
    envelope = json.loads(result.output)
    assert envelope["version"] == 1 and envelope["ok"] is True
    data = envelope["data"]
    assert set(data) == {"prompt", "phase", "workspace", "spec_path", "plan_path"}
    assert data["phase"] == "implementation" and data["workspace"] == str(repo)
    assert data["prompt"].startswith("@")


def test_missing_spec_or_plan_is_an_error(repo: Path) -> None:
    missing_spec = invoke("prompt", "specs/nope.md")
    assert missing_spec.exit_code == 1
    assert "error: spec file not found" in missing_spec.output
    (repo / "specs" / "lonely.md").write_text("# no plan")
    missing_plan = invoke("prompt", "specs/lonely.md")
    assert missing_plan.exit_code == 1
    assert "error: plan file not found" in missing_plan.output
    assert "lonely-plan.md" in missing_plan.output


def test_spec_outside_the_workspace_is_refused(repo: Path) -> None:
    outside = repo.parent / "outside.md"
    outside.write_text("# outside")
    result = invoke("prompt", str(outside), "specs/planning/auth-plan.md")
    assert result.exit_code == 1 and "escapes" in result.output


def test_bad_config_is_an_error_naming_key_and_line(repo: Path) -> None:
    (repo / ".loop").mkdir()
    (repo / ".loop" / "config").write_text("# x\niterations=0\n")
    result = invoke("prompt", "specs/auth.md")
    assert result.exit_code == 1
    assert f"'iterations' in {repo}/.loop/config:2" in result.output


def test_usage_errors_exit_2(repo: Path) -> None:
    assert invoke("prompt").exit_code == 2
    assert invoke("prompt", "a", "b", "c").exit_code == 2
    assert invoke("prompt", "--bogus", "specs/auth.md").exit_code == 2


def test_real_loopctl_in_a_subdirectory_with_loop_config_env(repo: Path) -> None:
    (repo / "cfg").mkdir()
    (repo / "cfg" / "x.cfg").write_text("completion_mode=exact\n")
    done = subprocess.run(
        [LOOPCTL, "prompt", "../specs/auth.md"],
        cwd=repo / "cfg",
        env={"PATH": "/usr/bin:/bin", "LOOP_CONFIG": "x.cfg"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"@{repo}/specs/auth.md ")
    assert "whole answer must be exactly the token" in done.stdout
    assert done.stderr == ""
