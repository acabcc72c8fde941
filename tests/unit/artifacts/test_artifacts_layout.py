"""Run-dir layout: locations per artifact_mode, file names, kinds, escapes refused."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agentloop.artifacts import RunDir, kind_of, layout
from agentloop.core.errors import PathEscapeError
from agentloop.core.types import ArtifactLocation, ArtifactMode

RUN_ID = "01930000-0000-7000-8000-000000000001"


def _run_dir(
    tmp_path: Path, mode: ArtifactMode = ArtifactMode.MIRROR, log_dir: str = "logs/loop"
) -> RunDir:
    return RunDir.for_run(
        RUN_ID, workspace_root=tmp_path / "ws", global_log_dir=tmp_path / "data" / "logs",
        log_dir=log_dir, mode=mode,
    )  # fmt: skip


def test_mirror_mode_has_both_dirs(tmp_path: Path) -> None:
    run_dir = _run_dir(tmp_path)
    assert run_dir.workspace_dir == tmp_path / "ws" / "logs" / "loop" / f"run-{RUN_ID}"
    assert run_dir.global_dir == tmp_path / "data" / "logs" / "runs" / f"run-{RUN_ID}"
    assert [location for location, _ in run_dir.locations] == [
        ArtifactLocation.WORKSPACE, ArtifactLocation.GLOBAL,
    ]  # fmt: skip
    assert run_dir.primary == run_dir.workspace_dir
    assert run_dir.safe_path("prompt.txt") == run_dir.workspace_dir / "prompt.txt"
    assert (
        run_dir.safe_path("prompt.txt", ArtifactLocation.GLOBAL)
        == run_dir.global_dir / "prompt.txt"
    )


def test_single_location_modes(tmp_path: Path) -> None:
    only_ws = _run_dir(tmp_path, ArtifactMode.WORKSPACE)
    assert only_ws.global_dir is None and only_ws.primary == only_ws.workspace_dir
    only_global = _run_dir(tmp_path, ArtifactMode.GLOBAL)
    assert only_global.workspace_dir is None and only_global.primary == only_global.global_dir
    with pytest.raises(ValueError):
        only_global.dir(ArtifactLocation.WORKSPACE)
    assert [location for location, _ in only_global.paths("report.tsv")] == [
        ArtifactLocation.GLOBAL
    ]


def test_file_names() -> None:
    assert layout.PROMPT == "prompt.txt"
    assert layout.prompt_rewrite(2) == "prompt.rewrite.2.txt"
    assert layout.iter_log(1) == "iter-01.log"
    assert layout.iter_log(99) == "iter-99.log"
    assert layout.iter_log(100) == "iter-100.log"
    assert layout.iter_tail(7) == "iter-07.tail.txt"
    assert layout.iter_events(12) == "iter-12.events.jsonl"
    assert layout.review_log(3) == "review-03.log"
    assert layout.verify_log(3) == "verify-03.log"
    assert layout.VERIFY_MERGE_LOG == "verify-merge.log"
    assert (layout.RUNNER_NOTES, layout.REPORT, layout.SUMMARY, layout.RUN_LOG) == (
        "runner-notes.txt", "report.tsv", "summary.json", "run.log",
    )  # fmt: skip
    assert layout.analysis("postmortem") == "analysis/postmortem.md"
    assert layout.analysis("postmortem.md") == "analysis/postmortem.md"
    with pytest.raises(ValueError):
        layout.iter_log(-1)
    for bad in ("", "../x", "a/b", ".."):
        with pytest.raises(PathEscapeError):
            layout.analysis(bad)


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("prompt.txt", "prompt"), ("prompt.rewrite.1.txt", "prompt_rewrite"),
        ("iter-01.log", "iteration_log"), ("iter-100.log", "iteration_log"),
        ("iter-01.tail.txt", "iteration_tail"), ("iter-01.events.jsonl", "iteration_events"),
        ("review-02.log", "review_log"), ("verify-02.log", "verify_log"),
        ("verify-merge.log", "verify_merge_log"), ("runner-notes.txt", "runner_notes"),
        ("report.tsv", "report"), ("summary.json", "summary"), ("run.log", "run_log"),
        ("analysis/postmortem.md", "analysis"), ("notes.bin", "other"),
    ],
)  # fmt: skip
def test_kind_of(name: str, kind: str) -> None:
    assert kind_of(name) == kind


@pytest.mark.parametrize(
    "name", ["", ".", "..", "../x", "a/../../x", "/etc/passwd", "sub/../../escape", "..\\x"]
)
def test_safe_path_refuses_escapes(tmp_path: Path, name: str) -> None:
    run_dir = _run_dir(tmp_path)
    with pytest.raises(PathEscapeError):
        run_dir.safe_path(name)


def test_safe_path_allows_nested_names_and_refuses_symlinks_out(tmp_path: Path) -> None:
    run_dir = _run_dir(tmp_path)
    assert run_dir.safe_path("analysis/x.md") == run_dir.primary / "analysis" / "x.md"
    run_dir.primary.mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(outside, run_dir.primary / "link")
    with pytest.raises(PathEscapeError):
        run_dir.safe_path("link/file.txt")


def test_log_dir_must_stay_in_the_workspace(tmp_path: Path) -> None:
    with pytest.raises(PathEscapeError):
        _run_dir(tmp_path, log_dir="../elsewhere")
    with pytest.raises(PathEscapeError):
        _run_dir(tmp_path, log_dir="/var/log/loop")
    inside = _run_dir(tmp_path, log_dir=str(tmp_path / "ws" / "custom"))
    assert inside.workspace_dir == tmp_path / "ws" / "custom" / f"run-{RUN_ID}"
    assert _run_dir(tmp_path, log_dir=".").workspace_dir == tmp_path / "ws" / f"run-{RUN_ID}"


@pytest.mark.parametrize("run_id", ["", "..", "a/b", "../x", "a b"])
def test_run_ids_that_are_not_plain_names_are_refused(tmp_path: Path, run_id: str) -> None:
    with pytest.raises(PathEscapeError):
        RunDir.for_run(run_id, workspace_root=tmp_path, global_log_dir=tmp_path)
