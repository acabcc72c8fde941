"""``run.log``: the run's life for a person to read, one line per event (SPEC 13).

Written whole by the finish step from the stored events: first with the terminal event it
is about to record as the last line, then again (atomically) from the store through that
event once it is recorded. Nothing is appended while the run goes, so an iteration costs
nothing here, and a daemon killed at any moment leaves no doubled or lost lines: before the
terminal event the finish step runs again and rewrites the file; after it, the first copy
stands. Events recorded after the run ended (worktree removal, a merge from review) are
not in it.

    2026-12-04T10:00:01.000Z  STEP_STARTED   implementation #1  attempt=1
    2026-12-04T10:00:05.210Z  STEP_FINISHED  implementation #1  exit_code=0 duration_ms=4210 ...
    2026-12-04T10:09:12.004Z  RUN_COMPLETED  mode=trailing
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from agentloop.artifacts.layout import RUN_LOG
from agentloop.artifacts.writer import ArtifactWriter
from agentloop.core.clock import ms_to_rfc3339
from agentloop.core.models import Artifact, Event

_NOT_SHOWN = frozenset({"step_id", "output_path"})  # the step's header says enough
_VALUE_LIMIT = 160


def run_log_line(
    timestamp_ms: int, event_type: str, payload: Mapping[str, Any], iteration: int | None = None
) -> str:
    """``<time>  <EVENT_TYPE>  [<phase> #<iteration>]  key=value ...`` (one line);
    ``iteration`` is the step's, for events whose payload does not say it."""
    shown = {key: value for key, value in payload.items() if key not in _NOT_SHOWN}
    parts = [ms_to_rfc3339(timestamp_ms), f"{event_type:<13}"]
    if isinstance(shown.get("iteration"), int):
        iteration = shown["iteration"]
    phase = shown.get("phase")
    if phase and iteration is not None:
        parts.append(f"{phase} #{iteration}")
        del shown["phase"]
        shown.pop("iteration", None)
    words = [f"{key}={_short(value)}" for key, value in shown.items()]
    if words:
        parts.append(" ".join(words))
    return "  ".join(parts).rstrip()


def run_log_text(
    events: Iterable[Event], *, ending: tuple[int, str, Mapping[str, Any]] | None = None
) -> str:
    """The lines of ``events`` (in order), then ``ending``: (timestamp_ms, type, payload)."""
    iterations: dict[str, int] = {}  # step id -> iteration, from STEP_STARTED
    lines = []
    for event in events:
        iteration = event.payload.get("iteration")
        if event.step_id and isinstance(iteration, int):
            iterations.setdefault(event.step_id, iteration)
        of_step = iterations.get(event.step_id) if event.step_id else None
        lines.append(run_log_line(event.timestamp, event.event_type.value, event.payload, of_step))
    if ending is not None:
        lines.append(run_log_line(*ending))
    return "".join(f"{line}\n" for line in lines)


def write_run_log(
    writer: ArtifactWriter, text: str, *, atomic: bool = True, index: bool = True
) -> list[Artifact]:
    """Write run.log in every location (``atomic``: tmp, fsync, rename) and index it (unless
    the caller indexes it in a transaction of its own)."""
    return writer.write_text(RUN_LOG, text, atomic=atomic, index=index)


def _short(value: Any) -> str:
    """A value as one word: JSON, a string quoted only when it holds a space or ``=``."""
    if value is None or isinstance(value, bool | int | float):
        return json.dumps(value) if value is None or isinstance(value, bool) else str(value)
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    if not text or not text.isprintable() or " " in text or "=" in text:
        text = " ".join(text.split())  # one line, whatever the agent's message held
        text = json.dumps(text, ensure_ascii=False)
    return text if len(text) <= _VALUE_LIMIT else text[: _VALUE_LIMIT - 1] + "…"
