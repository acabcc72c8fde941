"""Experiment mode's pure rules: reading a metric, comparing, ending (SPEC 19)."""

from __future__ import annotations

import pytest

from agentloop.core.experiment import ExperimentState, beats, end_of, reaches, read_metric
from agentloop.core.types import MetricGoal, RunStatus


def test_read_metric_takes_a_finite_number():
    assert read_metric('{"score": 3, "other": "x"}', "score").value == 3.0
    assert read_metric('{"score": 2.5}', "score").value == 2.5


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (None, "no metrics file"),
        ("nope", "not JSON"),
        ("[1]", "not a JSON object"),
        ('{"x": 1}', "has no 'score'"),
        ('{"score": "1"}', "not a finite number"),
        ('{"score": true}', "not a finite number"),
        ('{"score": NaN}', "not a finite number"),
    ],
)
def test_unusable_measurements_say_why(text: str | None, words: str):
    reading = read_metric(text, "score")
    assert reading.value is None and words in reading.reason


def test_strictly_better_per_goal():
    assert beats(2, 1, MetricGoal.MAX) and not beats(1, 1, MetricGoal.MAX)
    assert beats(1, 2, MetricGoal.MIN) and not beats(2, 2, MetricGoal.MIN)
    assert beats(-5, None, MetricGoal.MAX)
    assert reaches(0, 0, MetricGoal.MAX) and reaches(9, 10, MetricGoal.MIN)
    assert not reaches(None, 0, MetricGoal.MAX) and not reaches(1, None, MetricGoal.MAX)


def end(state: ExperimentState, iteration: int, **kw):
    options = {"iterations": 10, "patience": 3, "target": None, "goal": MetricGoal.MAX}
    return end_of(state, iteration, **{**options, **kw})


def test_ends():
    assert end(ExperimentState(best=5, kept=1), 2, target=5).reason == "target_reached"
    assert end(ExperimentState(best=5, kept=0), 2, target=5) is None  # the baseline is no win
    plateau = end(ExperimentState(kept=1, since_best=3), 4)
    assert (plateau.status, plateau.reason) == (RunStatus.COMPLETED, "plateau")
    limit = end(ExperimentState(kept=2), 10)
    assert (limit.status, limit.reason) == (RunStatus.COMPLETED, "iteration_limit")
    failed = end(ExperimentState(kept=0, since_best=3), 3)
    assert (failed.status, failed.reason) == (RunStatus.FAILED, "no_improvement")
    assert end(ExperimentState(kept=1, since_best=1), 2) is None


def test_state_round_trips():
    state = ExperimentState(baseline=1, best=2, series=[{"iteration": 0}])
    assert ExperimentState.from_json(state.to_json()) == state
    assert ExperimentState.from_json(None) == ExperimentState()
