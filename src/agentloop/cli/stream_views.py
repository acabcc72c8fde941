"""How streamed items look: one line per event, agent output under phase/iteration headers.

Plain functions of the items (and a small stateful :class:`OutputLayout` that remembers
which step the last line belonged to, so a header is printed when the step changes, also
across a reconnect).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from agentloop.cli.views import fmt_cost, fmt_count

EVENT_STYLE = {
    "RUN_COMPLETED": "green",
    "RUN_FAILED": "red",
    "RUN_CANCELED": "yellow",
    "RUN_PAUSED": "magenta",
    "AGENT_HOLD": "magenta",
    "VERIFICATION_FAILED": "red",
    "WATCHDOG_SIGNAL": "yellow",
    "WATCHDOG_REWRITE": "yellow",
    "AGENT_RETRY": "yellow",
}
_PAYLOAD_ORDER = ("phase", "iteration", "attempt", "exit_code", "duration_ms", "reason", "signal")


def clock_time(timestamp_ms: Any) -> str:
    if not isinstance(timestamp_ms, int | float):
        return "--:--:--"
    return datetime.fromtimestamp(timestamp_ms / 1000, UTC).astimezone().strftime("%H:%M:%S")


def payload_summary(event_type: str, payload: dict[str, Any]) -> str:
    """The payload as ``key=value`` words, the telling keys first, long values cut."""
    if event_type == "STEP_FINISHED":
        exit_code = payload.get("exit_code")
        parts = [
            str(payload.get("phase", "")),
            f"exit={exit_code}" if exit_code is not None else "",
            f"{int(payload.get('duration_ms') or 0) / 1000:.1f}s",
            f"tokens={fmt_count(payload.get('tokens_in'))}/{fmt_count(payload.get('tokens_out'))}",
            f"cost={fmt_cost(payload.get('cost_usd'))}",
        ]
        return " ".join(p for p in parts if p)
    if event_type == "STEP_STARTED":
        return (
            f"{payload.get('phase', '')} iteration={payload.get('iteration', '')} "
            f"attempt={payload.get('attempt', 1)}"
        )
    keys = sorted(
        payload, key=lambda k: (_PAYLOAD_ORDER.index(k) if k in _PAYLOAD_ORDER else 99, k)
    )
    return " ".join(f"{key}={_short(payload[key])}" for key in keys if key != "step_id")


def event_line(event: dict[str, Any]) -> str:
    event_type = str(event.get("event_type", "?"))
    summary = payload_summary(event_type, event.get("payload") or {})
    head = f"{int(event.get('seq', 0)):>4}  {clock_time(event.get('timestamp'))}  {event_type}"
    return f"{head}  {summary}".rstrip()


def output_header(phase: Any, iteration: Any) -> str:
    return f"── {phase or 'output'} · iteration {iteration if iteration is not None else '?'} ──"


@dataclass
class OutputLayout:
    """Turns output items into lines to print, a header before each new step's lines."""

    last_step: Any = field(default=None)
    started: bool = False

    def lines(self, item: dict[str, Any]) -> list[tuple[str, bool]]:
        """``(text, is_header)`` pairs for ``item``."""
        step = item.get("step_id") or (item.get("phase"), item.get("iteration"))
        out: list[tuple[str, bool]] = []
        if not self.started or step != self.last_step:
            out.append((output_header(item.get("phase"), item.get("iteration")), True))
        self.started, self.last_step = True, step
        out.append((str(item.get("line", "")), False))
        return out


def _short(value: Any, limit: int = 80) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    text = text.replace("\n", " ")
    if " " in text:
        text = json.dumps(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"
