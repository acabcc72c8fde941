"""An experiment run's measurements as one document (``GET /runs/{id}/measurements``):
the metric, its goal, the baseline, the best, and every iteration's value, kept or not.
Built from the stored MEASUREMENT events, so it is the same after any restart."""

from __future__ import annotations

from typing import Any

from agentloop.core.config import Config
from agentloop.core.errors import Conflict
from agentloop.core.models import Run
from agentloop.core.types import EventType, RunMode
from agentloop.engine.runtime import Runtime

__all__ = ["measurements"]

_PAGE = 1000


def measurements(runtime: Runtime, run: Run) -> dict[str, Any]:
    config = Config.from_json(run.config)
    if config.mode is not RunMode.EXPERIMENT:
        raise Conflict("the run is not an experiment (mode=plan)", run.status.value)
    series: dict[int, dict[str, Any]] = {}
    after = 0
    while True:
        page = runtime.store.events_after(run.id, after, _PAGE)
        for event in page:
            if event.event_type is EventType.MEASUREMENT:
                point = dict(event.payload)
                series[int(point["iteration"])] = point  # a retried run measures again
        if len(page) < _PAGE:
            break
        after = page[-1].seq
    points = [series[i] for i in sorted(series)]
    baseline = points[0]["value"] if points and points[0]["iteration"] == 0 else None
    kept = [p for p in points if p["iteration"] > 0 and p["kept"]]
    best = kept[-1] if kept else None
    return {
        "metric": config.metric,
        "goal": config.metric_goal.value,
        "target": config.metric_target,
        "baseline": baseline,
        "best": best["value"] if best else baseline,
        "best_iteration": best["iteration"] if best else 0,
        "series": [
            {k: p.get(k) for k in ("iteration", "value", "kept", "reason", "commit")}
            for p in points
        ],
    }
