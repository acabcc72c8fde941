"""summary.json: every field, computed from the stored run and steps; written atomically."""

from __future__ import annotations

import json
from pathlib import Path

from agentloop.artifacts import SUMMARY_FIELDS, ArtifactWriter, RunDir, build_summary, write_summary
from agentloop.core.models import Run, Step
from agentloop.core.types import NameSource, Phase, RunStatus, StepStatus
from agentloop.store import Store

RUN_ID = "01930000-0000-7000-8000-00000000abcd"


def _run(**fields) -> Run:
    base = {
        "id": RUN_ID, "name": "demo", "name_source": NameSource.USER,
        "status": RunStatus.COMPLETED, "workspace_root": "/ws", "spec_path": "s",
        "plan_path": "p", "created_at": "2026-01-01T00:00:00.000Z",
        "updated_at": "2026-01-01T00:10:00.000Z", "started_at": "2026-01-01T00:00:01.000Z",
        "finished_at": "2026-01-01T00:05:01.500Z", "iteration": 3, "tokens_in": 1000,
        "tokens_out": 200, "cost_usd": 1.2345678, "model": "opus",
        "config": {"completion_mode": "exact", "model": "sonnet"},
    }  # fmt: skip
    base.update(fields)
    return Run(**base)


def _step(iteration: int, phase: Phase, status: StepStatus, duration: int | None, code: int | None,
          attempt: int = 1, tokens: int = 0) -> Step:  # fmt: skip
    return Step(
        id=f"s{iteration}{phase}{attempt}", run_id=RUN_ID, phase=phase, iteration=iteration,
        attempt=attempt, status=status, duration_ms=duration, exit_code=code,
        tokens_in=tokens, tokens_out=tokens, cost_usd=tokens / 1000,
    )  # fmt: skip


STEPS = [
    _step(1, Phase.IMPLEMENTATION, StepStatus.SUCCEEDED, 1000, 0),
    _step(1, Phase.REVIEW, StepStatus.SUCCEEDED, 9999, 0),
    _step(2, Phase.IMPLEMENTATION, StepStatus.FAILED, 2000, 124),
    _step(2, Phase.IMPLEMENTATION, StepStatus.SUCCEEDED, 3000, 0, attempt=2),
    _step(3, Phase.IMPLEMENTATION, StepStatus.SUCCEEDED, 6000, 0),
    _step(3, Phase.VERIFICATION, StepStatus.SUCCEEDED, 500, 0),
    _step(4, Phase.IMPLEMENTATION, StepStatus.IN_PROGRESS, None, None),
]


def _run_dir(tmp_path: Path) -> RunDir:
    return RunDir.for_run(RUN_ID, workspace_root=tmp_path / "ws", global_log_dir=tmp_path / "g")


def test_summary_fields_and_values(tmp_path: Path) -> None:
    run_dir = _run_dir(tmp_path)
    summary = build_summary(_run(), STEPS, run_dir)
    assert tuple(summary) == SUMMARY_FIELDS
    primary = run_dir.primary
    assert summary == {
        "run_id": RUN_ID,
        "start_ms": 1767225601000,
        "end_ms": 1767225901500,
        "total_duration_ms": 300500,
        "iterations_run": 3,
        "completed_iteration": 3,
        "avg_duration_ms": 3000,  # (1000 + 2000 + 3000 + 6000) / 4
        "last_exit_code": 0,
        "completion_mode": "exact",
        "model": "opus",
        "exit_reason": "complete_plan",  # the reference's words (SPEC 20) ...
        "reason": None,  # ... and ours
        "tokens_in": 1000,
        "tokens_out": 200,
        "cost_usd": 1.234568,
        "run_log": str(primary / "run.log"),
        "run_report": str(primary / "report.tsv"),
        "prompt_snapshot": str(primary / "prompt.txt"),
        "last_iteration_log": str(primary / "iter-03.log"),
        "last_iteration_tail": str(primary / "iter-03.tail.txt"),
    }


def test_summary_of_a_failed_run_without_totals(tmp_path: Path) -> None:
    run = _run(
        status=RunStatus.FAILED, reason="iteration_limit", finished_at=None, tokens_in=0,
        tokens_out=0, cost_usd=0.0, model=None, config={},
    )  # fmt: skip
    steps = [
        _step(1, Phase.IMPLEMENTATION, StepStatus.SUCCEEDED, 10, 0, tokens=5),
        _step(2, Phase.IMPLEMENTATION, StepStatus.FAILED, 20, 2, tokens=7),
    ]
    summary = build_summary(run, steps, _run_dir(tmp_path), end_ms=1767225611000)
    assert summary["exit_reason"] == "iteration_limit"
    assert summary["completed_iteration"] is None
    assert summary["last_exit_code"] == 2
    assert (summary["tokens_in"], summary["tokens_out"], summary["cost_usd"]) == (12, 12, 0.012)
    assert summary["completion_mode"] == "trailing" and summary["model"] is None
    assert summary["total_duration_ms"] == 10000


def test_summary_of_a_run_completing_now_and_of_one_no_agent_priced(tmp_path: Path) -> None:
    run_dir = _run_dir(tmp_path)
    # The finish step passes the run with the status it is ending with (stored: RUNNING).
    ending = _run(reason=None, tokens_in=0, tokens_out=0, cost_usd=None)
    priced = [
        _step(1, Phase.IMPLEMENTATION, StepStatus.SUCCEEDED, 10, 0, tokens=5),
        _step(2, Phase.IMPLEMENTATION, StepStatus.SUCCEEDED, 10, 0),
    ]
    unpriced = [step.model_copy(update={"cost_usd": None}) for step in priced]
    summary = build_summary(ending, unpriced, run_dir)
    assert summary["completed_iteration"] == 2
    assert summary["exit_reason"] == "complete_plan" and summary["reason"] is None
    assert summary["cost_usd"] is None  # no agent reported a cost: not $0
    assert build_summary(ending, [priced[0], unpriced[1]], run_dir)["cost_usd"] == 0.005
    plateau = build_summary(ending.model_copy(update={"reason": "plateau"}), priced, run_dir)
    assert plateau["exit_reason"] == plateau["reason"] == "plateau"
    failed = _run(status=RunStatus.FAILED, reason="iteration_limit")
    summary = build_summary(failed, priced, run_dir)
    assert summary["completed_iteration"] is None
    assert summary["exit_reason"] == summary["reason"] == "iteration_limit"


def test_summary_before_any_iteration(tmp_path: Path) -> None:
    run = _run(status=RunStatus.CANCELED, started_at=None)
    summary = build_summary(run, [], _run_dir(tmp_path), exit_reason="canceled_by_user")
    assert summary["iterations_run"] == 0
    assert summary["avg_duration_ms"] is None and summary["last_exit_code"] is None
    assert summary["last_iteration_log"] is None and summary["last_iteration_tail"] is None
    assert summary["start_ms"] == 1767225600000
    assert summary["exit_reason"] == "canceled_by_user"


def test_write_summary_to_both_locations_and_index(tmp_path: Path, store: Store, make_run) -> None:
    stored = make_run()
    run_dir = RunDir.for_run(
        stored.id, workspace_root=tmp_path / "ws", global_log_dir=tmp_path / "g"
    )
    writer = ArtifactWriter(run_dir, store)
    summary = build_summary(stored, store.list_steps(stored.id), run_dir, end_ms=4_000_000_000_000)
    indexed = write_summary(writer, summary)
    assert len(indexed) == 2 and {a.kind for a in indexed} == {"summary"}
    for _, path in run_dir.paths("summary.json"):
        assert json.loads(path.read_text()) == summary
