"""The postmortem's status (``GET /runs/{id}/postmortem``) read while the postmortem ends."""

from __future__ import annotations

import pytest

from agentloop.core.types import EventType, RunStatus
from agentloop.engine import postmortem
from agentloop.engine.context import RunContext
from agentloop.engine.files import RunFiles
from agentloop.engine.recorder import Recorder
from agentloop.engine.runtime import Runtime

from .conftest import MakeRun

TEXT = "# Postmortem\n\nIt ended COMPLETED.\n"


def test_a_postmortem_that_ends_while_its_status_is_read_is_done_with_its_text(
    runtime: Runtime, make_run: MakeRun, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Seen under load: ``done`` with ``text: null``, the file read before the workflow
    wrote it and the end event read after it had recorded it."""
    run_id = make_run(RunStatus.COMPLETED)
    ctx = RunContext.load(runtime, run_id, step_key=0)
    workflow_id = f"{run_id}-postmortem-e0"
    recorder = Recorder(ctx)
    recorder.event(EventType.POSTMORTEM_START, "pm:start", workflow_id=workflow_id)

    def ends_now(_run_id: str) -> list[str]:
        # as run_postmortem ends: its file, then its end event, then no workflow active
        path = RunFiles(ctx).write(postmortem.POSTMORTEM_FILE, TEXT)
        recorder.event(
            EventType.POSTMORTEM_END,
            "pm:end",
            workflow_id=workflow_id,
            status="done",
            reason=None,
            path=str(path),
        )
        return []

    monkeypatch.setattr(postmortem, "_active_workflows", ends_now)
    answer = postmortem.status(runtime, runtime.store.get_run(run_id))
    assert answer["status"] == "done"
    assert answer["text"] == TEXT
    assert {"path": answer["path"], "exists": True} in answer["artifacts"]
