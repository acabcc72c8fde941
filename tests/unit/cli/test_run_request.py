"""What ``loopctl run`` sends to ``POST /runs``, decided without a daemon; and the spec
listing of ``run --pick``."""

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from agentloop.cli.commands.run import build_request
from agentloop.cli.main import main
from agentloop.cli.specs import find_specs, pick_listing, read_spec_head
from agentloop.core.errors import ConfigError, InvalidInput


def request(cwd: Path, spec: str | None, **kw):  # type: ignore[no-untyped-def]
    args = {
        "plan": None,
        "config_file": None,
        "name": None,
        "name_source": None,
        "merge_target": None,
        "pick": False,
        "flags": {},
    }
    args.update(kw)
    return build_request(cwd, Path(spec) if spec else None, **args)


def test_minimal_body_has_absolute_paths(repo: Path) -> None:
    sent = request(repo / "specs", "auth.md")
    assert sent.body == {
        "spec_path": f"{repo}/specs/auth.md",
        "plan_path": f"{repo}/specs/planning/auth-plan.md",
        "workspace_root": str(repo),
    }
    assert sent.workspace == repo


def test_config_file_then_flags_become_overrides(repo: Path) -> None:
    (repo / "my.cfg").write_text("agent=scripted\niterations=9\nmystery=1\nclaude_retries=2\n")
    sent = request(
        repo,
        "specs/auth.md",
        config_file=Path("my.cfg"),
        name="mine",
        name_source="user",
        merge_target="",
        flags={"iterations": 4, "model": "m", "base_branch": None, "queue_policy": "fifo"},
    )
    assert sent.body["config_override"] == {
        "agent": "scripted",
        "iterations": 4,
        "claude_retries": "2",
        "model": "m",
        "queue_policy": "fifo",
        "merge_target_branch": "agent/auth",
    }
    assert sent.body["name"] == "mine" and sent.body["name_source"] == "user"
    assert any("'mystery'" in warning for warning in sent.warnings)


def test_plan_defaults_to_plans_dir_of_the_workspace_config(repo: Path) -> None:
    (repo / ".loop").mkdir()
    (repo / ".loop" / "config").write_text("plans_dir=plans\n")
    with pytest.raises(InvalidInput, match=r"plans/auth-plan\.md"):
        request(repo, "specs/auth.md")
    (repo / "plans").mkdir()
    (repo / "plans" / "auth-plan.md").write_text("- [ ] x\n")
    assert request(repo, "specs/auth.md").body["plan_path"] == f"{repo}/plans/auth-plan.md"
    explicit = request(repo, "specs/auth.md", plan=Path("specs/planning/auth-plan.md"))
    assert explicit.body["plan_path"] == f"{repo}/specs/planning/auth-plan.md"


def test_bad_values_are_refused_with_their_source(repo: Path) -> None:
    (repo / "bad.cfg").write_text("# c\nmerge_strategy=rebase\n")
    with pytest.raises(ConfigError, match=r"bad.cfg:2"):
        request(repo, "specs/auth.md", config_file=Path("bad.cfg"))
    with pytest.raises(ConfigError, match="run_branch_prefix"):
        request(repo, "specs/auth.md", flags={"run_branch_prefix": "bad prefix.."})


def test_usage_errors_exit_2_before_any_request(repo: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(main, ["run"]).exit_code == 2
    assert runner.invoke(main, ["run", "--pick", "specs/auth.md"]).exit_code == 2
    assert runner.invoke(main, ["run", "specs/auth.md", "--merge-strategy", "x"]).exit_code == 2
    assert runner.invoke(main, ["run", "specs/auth.md", "--max-concurrency", "0"]).exit_code == 2
    assert runner.invoke(main, ["list", "--status", "DONE"]).exit_code == 2
    assert runner.invoke(main, ["list", "--all", "--workspace", "."]).exit_code == 2


def test_specs_newest_first_with_status_and_last_updated(tmp_path: Path) -> None:
    specs = tmp_path / "specs"
    (specs / "planning").mkdir(parents=True)
    (specs / "a.md").write_text("# Alpha\n\n**Status:** Draft\n**Last Updated:** 2024-01-05\n")
    (specs / "b.md").write_text("# Beta\n- Status: done\n- Last updated: 2025-02-01 (x)\n")
    (specs / "c.md").write_text("no heading, no fields\n")
    os.utime(specs / "c.md", (0, 0))
    (specs / "planning" / "a-plan.md").write_text("- [ ] not a spec\n")
    entries = find_specs(tmp_path, "specs", "specs/planning")
    assert [e.path.name for e in entries] == ["b.md", "a.md", "c.md"]
    assert (entries[0].title, entries[0].status, entries[0].last_updated) == (
        "Beta",
        "done",
        "2025-02-01 (x)",
    )
    assert read_spec_head(specs / "c.md").title == "c"
    listing = pick_listing(entries, tmp_path).splitlines()
    assert listing[0].split() == ["#", "SPEC", "STATUS", "LAST", "UPDATED", "TITLE"]
    assert listing[1].split() == ["1.", "specs/b.md", "done", "2025-02-01", "(x)", "Beta"]
    assert listing[2].split() == ["2.", "specs/a.md", "Draft", "2024-01-05", "Alpha"]
    assert listing[3].split() == ["3.", "specs/c.md", "-", "-", "c"]
