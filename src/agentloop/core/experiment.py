"""Experiment mode's rules (SPEC 19), as pure functions: read a measurement, compare it with
the best so far, and decide when the experiment ends.

The engine measures (``measure_cmd`` writes ``{"<metric>": number, ...}`` to
``$LOOP_METRICS_OUT``), keeps an iteration whose value strictly beats the best, reverts the
others, and asks :func:`end_of` after each iteration whether to stop.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any

from agentloop.core.types import MetricGoal, RunStatus

__all__ = [
    "EXPERIMENT_LOG",
    "ExperimentEnd",
    "ExperimentState",
    "Reading",
    "beats",
    "end_of",
    "reaches",
    "read_metric",
]

EXPERIMENT_LOG = "experiment-log.md"
COMPLETED_REASONS = frozenset({"target_reached", "plateau", "iteration_limit"})


@dataclass(frozen=True)
class Reading:
    """A measurement: its value, or None with the reason it is not usable."""

    value: float | None
    reason: str = ""


def read_metric(text: str | None, metric: str) -> Reading:
    """The ``metric`` of a metrics JSON document (None: the file was not written)."""
    if text is None:
        return Reading(None, "measure_cmd wrote no metrics file ($LOOP_METRICS_OUT)")
    try:
        data = json.loads(text)
    except ValueError as exc:
        return Reading(None, f"the metrics file is not JSON: {exc}")
    if not isinstance(data, dict):
        return Reading(None, "the metrics file is not a JSON object")
    if metric not in data:
        return Reading(None, f"the metrics file has no {metric!r}")
    value = data[metric]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return Reading(None, f"{metric!r} is not a finite number: {value!r}")
    return Reading(float(value))


def beats(value: float, best: float | None, goal: MetricGoal) -> bool:
    """Strictly better than ``best`` (anything beats no best)."""
    if best is None:
        return True
    return value > best if goal is MetricGoal.MAX else value < best


def reaches(value: float | None, target: float | None, goal: MetricGoal) -> bool:
    if value is None or target is None:
        return False
    return value >= target if goal is MetricGoal.MAX else value <= target


@dataclass
class ExperimentState:
    """What an experiment run remembers between steps (saved in the engine state)."""

    baseline: float | None = None
    baseline_commit: str | None = None
    best: float | None = None
    best_commit: str | None = None
    best_iteration: int = 0
    kept: int = 0  # iterations kept
    since_best: int = 0  # iterations in a row without improvement
    decided: int = -1  # the last iteration whose keep-or-revert is done (0: the baseline)
    series: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> ExperimentState:
        if not data:
            return cls()
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


@dataclass(frozen=True)
class ExperimentEnd:
    status: RunStatus
    reason: str


def end_of(
    state: ExperimentState,
    iteration: int,
    *,
    iterations: int,
    patience: int,
    target: float | None,
    goal: MetricGoal,
) -> ExperimentEnd | None:
    """Whether the experiment ends after ``iteration``: the target reached, patience or
    iterations used up (COMPLETED when something was kept, else FAILED no_improvement)."""
    if state.kept and reaches(state.best, target, goal):
        return ExperimentEnd(RunStatus.COMPLETED, "target_reached")
    if state.since_best >= patience:
        reason = "plateau"
    elif iteration >= iterations:
        reason = "iteration_limit"
    else:
        return None
    if state.kept:
        return ExperimentEnd(RunStatus.COMPLETED, reason)
    return ExperimentEnd(RunStatus.FAILED, "no_improvement")
