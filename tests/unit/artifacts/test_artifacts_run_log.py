"""run.log: one readable line per event, the ending last; written whole and indexed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agentloop.artifacts import ArtifactWriter, RunDir, layout, run_log_text, write_run_log
from agentloop.core.models import Event
from agentloop.core.types import EventType
from agentloop.store import Store

T0 = 1767225600000  # 2026-01-01T00:00:00Z


def _event(seq: int, event_type: EventType, of_step: str | None = None, **payload: Any) -> Event:
    if of_step:
        payload["step_id"] = of_step
    return Event(
        id=f"e{seq}", seq=seq, run_id="r", step_id=of_step, event_type=event_type,
        timestamp=T0 + seq * 1000, payload=payload,
    )  # fmt: skip


STEP_STARTED = {"phase": "implementation", "iteration": 1, "attempt": 1}
STEP_FINISHED = {
    "phase": "implementation", "exit_code": 0, "duration_ms": 1500,
    "output_path": "/r/iter-01.log", "message": "Completed a.\nsecond line",
    "tasks_done": 1, "tasks_total": 3,
}  # fmt: skip
EVENTS = [
    _event(1, EventType.RUN_CREATED, name="demo", name_source="haiku"),
    _event(2, EventType.STEP_STARTED, "s1", **STEP_STARTED),
    _event(3, EventType.AGENT_RETRY, "s1", attempt=1, reason="529 overloaded", backoff_ms=500),
    _event(4, EventType.STEP_FINISHED, "s1", **STEP_FINISHED),
]


def test_one_line_per_event_then_the_ending() -> None:
    text = run_log_text(EVENTS, ending=(T0 + 9000, "RUN_COMPLETED", {"mode": "trailing"}))
    assert text.splitlines() == [
        "2026-01-01T00:00:01.000Z  RUN_CREATED    name=demo name_source=haiku",
        "2026-01-01T00:00:02.000Z  STEP_STARTED   implementation #1  attempt=1",
        '2026-01-01T00:00:03.000Z  AGENT_RETRY    attempt=1 reason="529 overloaded" backoff_ms=500',
        "2026-01-01T00:00:04.000Z  STEP_FINISHED  implementation #1  exit_code=0 "
        'duration_ms=1500 message="Completed a. second line" tasks_done=1 tasks_total=3',
        "2026-01-01T00:00:09.000Z  RUN_COMPLETED  mode=trailing",
    ]
    assert run_log_text([]) == ""


def test_long_values_are_cut() -> None:
    failed = _event(5, EventType.RUN_FAILED, reason="x" * 500)
    (line,) = run_log_text([failed]).splitlines()
    assert len(line) < 220 and line.endswith("…")


def test_written_whole_to_both_locations_and_indexed(
    tmp_path: Path, store: Store, make_run
) -> None:
    run = make_run()
    run_dir = RunDir.for_run(run.id, workspace_root=tmp_path / "ws", global_log_dir=tmp_path / "g")
    writer = ArtifactWriter(run_dir, store)
    write_run_log(writer, run_log_text(EVENTS))
    indexed = write_run_log(writer, run_log_text(EVENTS))  # a second finish: no doubled lines
    assert {a.kind for a in indexed} == {"run_log"} and len(indexed) == 2
    for _, path in run_dir.paths(layout.RUN_LOG):
        assert path.read_text() == run_log_text(EVENTS)
        assert len(path.read_text().splitlines()) == len(EVENTS)
