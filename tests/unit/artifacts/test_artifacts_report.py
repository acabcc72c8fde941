"""report.tsv: the exact header, escaping, one header per file, parsing back."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentloop.artifacts import (
    REPORT_HEADER,
    ArtifactWriter,
    ReportRow,
    RunDir,
    append_report_row,
    format_row,
    layout,
    parse_report,
    report_rows,
    step_task_counts,
    write_report,
)
from agentloop.core.errors import ArtifactError
from agentloop.core.models import Event, Step
from agentloop.core.types import ArtifactLocation, EventType, Phase, StepStatus
from agentloop.store import Store


def test_header_is_exactly_the_reference_one() -> None:
    assert REPORT_HEADER == (
        "timestamp_ms\tkind\titeration\tduration_ms\texit_code\toutput_bytes\toutput_lines"
        "\toutput_path\tmessage\ttasks_done\ttasks_total"
    )


def test_row_format_escapes_text_and_leaves_none_empty() -> None:
    row = ReportRow(
        timestamp_ms=1700000000000, kind="implementation", iteration=3, duration_ms=None,
        exit_code=None, output_bytes=10, output_lines=2, output_path="/r/iter-03.log",
        message="Completed\ttask 1.\nNext line \\ backslash\r", tasks_done=1, tasks_total=4,
    )  # fmt: skip
    line = format_row(row)
    assert "\n" not in line and "\r" not in line
    fields = line.split("\t")
    assert len(fields) == 11
    assert fields[3:5] == ["", ""]
    assert fields[8] == "Completed\\ttask 1.\\nNext line \\\\ backslash\\r"
    assert parse_report(REPORT_HEADER + "\n" + line + "\n") == [row]


def test_append_report_row_writes_header_once_in_every_location(
    tmp_path: Path, store: Store, make_run
) -> None:
    run = make_run()
    run_dir = RunDir.for_run(run.id, workspace_root=tmp_path / "ws", global_log_dir=tmp_path / "g")
    writer = ArtifactWriter(run_dir, store)
    rows = [
        ReportRow(1, "implementation", 1, 1200, 0, 300, 12, "/x/iter-01.log", "Completed a.", 1, 3),
        ReportRow(2, "review", 1, 800, 0, 100, 4, "/x/review-01.log", "Reviewed a.", 1, 3),
        ReportRow(3, "verification", 1, 50, 1, 20, 2, "/x/verify-01.log", "pytest\tfailed", 1, 3),
    ]
    for row in rows:
        indexed = append_report_row(writer, row)
    assert {a.location for a in indexed} == {ArtifactLocation.WORKSPACE, ArtifactLocation.GLOBAL}
    for _, path in run_dir.paths(layout.REPORT):
        text = path.read_text()
        assert text.splitlines()[0] == REPORT_HEADER
        assert text.count(REPORT_HEADER) == 1
        assert parse_report(text) == rows
    assert {a.kind for a in store.list_artifacts(run.id)} == {"report"}


def test_parse_report_rejects_malformed_files() -> None:
    assert parse_report("") == []
    with pytest.raises(ArtifactError, match="header"):
        parse_report("timestamp kind\n")
    with pytest.raises(ArtifactError, match="fields"):
        parse_report(REPORT_HEADER + "\n1\t2\n")


def test_report_rows_from_steps_and_full_rewrite(tmp_path: Path, store: Store, make_run) -> None:
    run = make_run()
    log = tmp_path / "iter-01.log"
    log.write_text("a\nbb\nccc\n")
    steps = [
        Step(
            id="s1", run_id=run.id, phase=Phase.IMPLEMENTATION, iteration=1,
            status=StepStatus.SUCCEEDED, started_at="2026-01-01T00:00:00.000Z",
            finished_at="2026-01-01T00:00:02.000Z", duration_ms=2000, exit_code=0,
            output_path=str(log), message="Completed a.\t2 tasks remain.",
        ),
        Step(
            id="s2", run_id=run.id, phase=Phase.VERIFICATION, iteration=1,
            status=StepStatus.FAILED, started_at="2026-01-01T00:00:03.000Z", exit_code=1,
            output_path=str(tmp_path / "missing.log"),
        ),
        Step(id="s3", run_id=run.id, phase=Phase.REVIEW, iteration=2, status=StepStatus.QUEUED),
    ]  # fmt: skip
    rows = report_rows(steps, tasks_done=1, tasks_total=3)
    assert [(r.kind, r.timestamp_ms, r.output_bytes, r.output_lines) for r in rows] == [
        ("implementation", 1767225602000, 9, 3),
        ("verification", 1767225603000, 0, 0),
    ]
    assert rows[0].message == "Completed a.\t2 tasks remain." and rows[1].duration_ms is None
    run_dir = RunDir.for_run(run.id, workspace_root=tmp_path / "ws", global_log_dir=tmp_path / "g")
    writer = ArtifactWriter(run_dir, store)
    append_report_row(writer, rows[0])  # rewritten wholesale below
    indexed = write_report(writer, rows)
    assert len(indexed) == 2
    for _, path in run_dir.paths(layout.REPORT):
        assert parse_report(path.read_text()) == rows


def test_each_row_carries_the_task_counts_its_step_finished_with() -> None:
    def finished(seq: int, step_id: str, **payload: int) -> Event:
        return Event(
            id=f"e{seq}", seq=seq, run_id="r", step_id=step_id,
            event_type=EventType.STEP_FINISHED, timestamp=seq, payload=payload,
        )  # fmt: skip

    events = [
        Event(id="e1", seq=1, run_id="r", event_type=EventType.RUN_STARTED, timestamp=1),
        finished(2, "impl1", tasks_done=1, tasks_total=3),
        finished(3, "verify1", tasks_done=1, tasks_total=3),
        finished(4, "impl2", tasks_done=2, tasks_total=4),  # the agent added a task
        finished(5, "old"),  # recorded before steps kept their counts
    ]
    counts = step_task_counts(events)
    assert counts == {"impl1": (1, 3), "verify1": (1, 3), "impl2": (2, 4)}

    def step(step_id: str, phase: Phase, iteration: int) -> Step:
        return Step(
            id=step_id, run_id="r", phase=phase, iteration=iteration,
            status=StepStatus.SUCCEEDED, finished_at="2026-01-01T00:00:02.000Z",
        )  # fmt: skip

    steps = [
        step("before", Phase.IMPLEMENTATION, 1),  # no counts, none before it: the run's
        step("impl1", Phase.IMPLEMENTATION, 1),
        step("verify1", Phase.VERIFICATION, 1),
        step("impl2", Phase.IMPLEMENTATION, 2),
        step("canceled", Phase.REVIEW, 2),  # closed by a cancel: the row before's
    ]
    rows = report_rows(steps, tasks_done=3, tasks_total=4, counts=counts)
    assert [(r.tasks_done, r.tasks_total) for r in rows] == [(3, 4), (1, 3), (1, 3), (2, 4), (2, 4)]
