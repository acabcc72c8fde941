"""Experiment mode's steps (SPEC 19): measure the base commit, then after each iteration
measure, keep the commit when it beats the best or reset the run branch to the best.

Safe to run twice, as every step: the measurement of an iteration is written to the run
dir (``metrics/iter-NN.result.json``) as soon as it is known, and the attempt's commit to
``refs/agentloop/attempts/<run>/<NN>`` before any reset, so a step that runs again after a
crash neither measures nor reverts twice; the decision, its MEASUREMENT event and the state
are one transaction.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from agentloop.agents.process import run_command
from agentloop.core.errors import Conflict
from agentloop.core.experiment import (
    EXPERIMENT_LOG,
    ExperimentState,
    Reading,
    beats,
    end_of,
    read_metric,
)
from agentloop.core.types import EventType, Phase, RunStatus, StepStatus
from agentloop.engine.context import RunContext
from agentloop.engine.files import RunFiles
from agentloop.engine.outcome import StepOutcome
from agentloop.engine.recorder import Recorder
from agentloop.engine.run_env import run_env
from agentloop.vcs.git import Git
from agentloop.vcs.head import head_sha
from agentloop.vcs.wip import save_uncommitted

__all__ = ["ATTEMPTS_REF_PREFIX", "baseline", "measure"]

ATTEMPTS_REF_PREFIX = "refs/agentloop/attempts/"
# "experiment.after_measure:<iteration>": die right after measuring (recovery tests only)
FAULT_ENV = "AGENTLOOP_TEST_FAULT"


def baseline(ctx: RunContext) -> StepOutcome:
    """Measure the base commit (iteration 0) before the first iteration."""
    state = ExperimentState.from_json(ctx.state.experiment)
    if state.decided >= 0:
        return StepOutcome.done()
    worktree = _worktree(ctx)
    commit = head_sha(worktree)
    reading = _measure(ctx, worktree, 0)
    state.baseline = state.best = reading.value
    state.baseline_commit = state.best_commit = commit
    state.decided = 0
    reason = "baseline" if reading.value is not None else f"baseline not measured: {reading.reason}"
    _record(ctx, state, 0, reading, kept=True, reason=reason, commit=commit, summary="baseline")
    return StepOutcome.done()


def measure(ctx: RunContext, iteration: int) -> StepOutcome:
    """Measure ``iteration``, keep or revert it, and say whether the experiment ends."""
    state = ExperimentState.from_json(ctx.state.experiment)
    if state.decided >= iteration:
        return _end(ctx, state, iteration)
    worktree = _worktree(ctx)
    git = Git(worktree)
    attempt = _attempt_commit(git, ctx.run_id, iteration)
    record = ctx.state.record(iteration)
    if attempt == state.best_commit:
        reading = Reading(None, "no new commit: nothing to measure")
    elif record.verification_ok is False:
        reading = Reading(None, "verification failed")
    else:
        reading = _measure(ctx, worktree, iteration)
    kept = reading.value is not None and beats(reading.value, state.best, ctx.config.metric_goal)
    if kept:
        reason = (
            "first measurable value" if state.best is None else f"better than {_shown(state.best)}"
        )
        state.best, state.best_commit, state.best_iteration = reading.value, attempt, iteration
        state.kept += 1
        state.since_best = 0
    else:
        reason = reading.reason or f"not better than {_shown(state.best)}"
        state.since_best += 1
        _revert(git, ctx.run_id, iteration, state.best_commit)
    state.decided = iteration
    summary = _first_line(ctx, iteration)
    _record(
        ctx, state, iteration, reading, kept=kept, reason=reason, commit=attempt, summary=summary
    )
    return _end(ctx, state, iteration)


# -- measuring ---------------------------------------------------------------------------------
def _measure(ctx: RunContext, worktree: Path, iteration: int) -> Reading:
    """Run ``measure_cmd`` once per iteration: a result already recorded is reused."""
    files = RunFiles(ctx)
    marker = f"metrics/iter-{iteration:02d}.result.json"
    if files.exists(marker):
        known = json.loads(files.read(marker))
        return Reading(known.get("value"), known.get("reason", ""))
    out = files.path(f"metrics/iter-{iteration:02d}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.unlink(missing_ok=True)
    lines: list[str] = []
    timeout = ctx.config.measure_timeout_sec
    result = run_command(
        ctx.config.measure_cmd or "",
        cwd=worktree,
        env=run_env(ctx, iteration, LOOP_METRICS_OUT=str(out)),
        timeout=timeout or None,
        on_line=lines.append,
        owner=ctx.run_id,
        cancel=ctx.runtime.interrupts.cancel_event(ctx.run_id),
    )
    files.write(f"metrics/iter-{iteration:02d}.log", "\n".join(lines) + "\n")
    if result.cancelled:
        # Killed by a pause, a cancel or the daemon's shutdown: nothing was measured. Taken
        # as a reading, the kill would revert the iteration and be reused when the step
        # runs again on resume; the step stops instead, and measures then.
        raise Conflict("the measurement was stopped", ctx.store.get_run(ctx.run_id).status.value)
    if result.timed_out:
        reading = Reading(None, f"measure_cmd timed out after {timeout}s")
    elif result.exit_code != 0:
        last = next((line.strip() for line in reversed(lines) if line.strip()), "")
        reading = Reading(
            None, f"measure_cmd exited {result.exit_code}" + (f": {last}" if last else "")
        )
    else:
        text = out.read_text(errors="replace") if out.exists() else None
        if text is not None:
            files.write(f"metrics/{out.name}", text)  # mirrored and indexed
        reading = read_metric(text, ctx.config.metric or "")
    files.write(marker, json.dumps({"value": reading.value, "reason": reading.reason}))
    if os.environ.get(FAULT_ENV) == f"experiment.after_measure:{iteration}":
        os._exit(137)  # a crash between measuring and deciding
    return reading


# -- keeping or reverting ----------------------------------------------------------------------
def _attempt_commit(git: Git, run_id: str, iteration: int) -> str:
    """The iteration's commit, kept reachable under the attempts ref (written once: after a
    revert, HEAD is the best commit, no longer the attempt)."""
    ref = f"{ATTEMPTS_REF_PREFIX}{run_id}/{iteration:02d}"
    known = git.run("rev-parse", "--verify", "-q", ref, check=False).stdout.strip()
    if known:
        return known
    head = git.rev_parse("HEAD")
    git.run("update-ref", ref, head)
    return head


def _revert(git: Git, run_id: str, iteration: int, best: str | None) -> None:
    if not best:
        return
    save_uncommitted(git.cwd, f"{run_id}-{iteration:02d}")
    git.run("reset", "--hard", "--quiet", best)
    git.run("clean", "-fd", "--quiet", check=False)


def _record(
    ctx: RunContext,
    state: ExperimentState,
    iteration: int,
    reading: Reading,
    *,
    kept: bool,
    reason: str,
    commit: str | None,
    summary: str,
) -> None:
    metric = ctx.config.metric or ""
    point = {"iteration": iteration, "value": reading.value, "kept": kept, "reason": reason}
    state.series = [p for p in state.series if p.get("iteration") != iteration] + [point]
    _log_entry(ctx, iteration, reading, kept, reason, commit, summary)
    ctx.state.experiment = state.to_json()
    Recorder(ctx).event(
        EventType.MEASUREMENT,
        f"measurement:{iteration}",
        state=True,
        iteration=iteration,
        metric=metric,
        value=reading.value,
        best=state.best,
        kept=kept,
        reason=reason,
        commit=commit,
    )


def _log_entry(
    ctx: RunContext,
    iteration: int,
    reading: Reading,
    kept: bool,
    reason: str,
    commit: str | None,
    summary: str,
) -> None:
    """One entry of experiment-log.md, in the run dir and (untracked) in the worktree."""
    files = RunFiles(ctx)
    heading = f"## Iteration {iteration:02d}"
    existing = files.read(EXPERIMENT_LOG) if files.exists(EXPERIMENT_LOG) else ""
    if heading in existing:
        return
    stat = ""
    if iteration and commit and ctx.worktree is not None:
        stat = (
            Git(ctx.worktree).run("show", "--stat", "--format=", commit, check=False).stdout.strip()
        )
    verdict = "baseline" if iteration == 0 else ("kept" if kept else "reverted")
    value = _shown(reading.value)
    lines = [heading, f"- change: {summary}", f"- {ctx.config.metric}: {value}"]
    lines.append(f"- {verdict}: {reason}")
    if stat:
        lines += ["- diff stat:", "", *("    " + line for line in stat.splitlines())]
    header = "# Experiment log\n\n" if not existing else ""
    text = existing + header + "\n".join(lines) + "\n\n"
    files.write(EXPERIMENT_LOG, text)
    if ctx.worktree is not None:
        (ctx.worktree / EXPERIMENT_LOG).write_text(text)
        _exclude_from_git(ctx.worktree)


def _exclude_from_git(worktree: Path) -> None:
    """experiment-log.md stays untracked: listed in the repository's info/exclude."""
    git_dir = Git(worktree).run("rev-parse", "--git-common-dir").stdout.strip()
    exclude = (worktree / git_dir / "info" / "exclude").resolve()
    exclude.parent.mkdir(parents=True, exist_ok=True)
    current = exclude.read_text() if exclude.exists() else ""
    if f"/{EXPERIMENT_LOG}" not in current.splitlines():
        exclude.write_text(
            current
            + ("" if current.endswith("\n") or not current else "\n")
            + f"/{EXPERIMENT_LOG}\n"
        )


# -- ending ------------------------------------------------------------------------------------
def _end(ctx: RunContext, state: ExperimentState, iteration: int) -> StepOutcome:
    config = ctx.config
    ending = end_of(
        state,
        iteration,
        iterations=ctx.state.iteration_limit or config.iterations,
        patience=config.experiment_patience,
        target=config.metric_target,
        goal=config.metric_goal,
    )
    if ending is None:
        return StepOutcome.next_iteration()
    merge = False
    if ending.status is RunStatus.COMPLETED:
        info = ctx.run.worktree
        merge = bool(info.merge_target_branch) and info.merge_strategy.value != "none"
    return StepOutcome.ended(ending.status.value, ending.reason, merge=merge)


def _first_line(ctx: RunContext, iteration: int) -> str:
    """The agent's one-line summary: its implementation step's message."""
    done = (StepStatus.SUCCEEDED,)
    steps = ctx.store.steps_of(ctx.run_id, Phase.IMPLEMENTATION, iteration, done)
    message = steps[-1].message if steps else None
    return (message or "(no summary)").strip()[:200]


def _worktree(ctx: RunContext) -> Path:
    worktree = ctx.worktree
    if worktree is None:
        raise RuntimeError("the run has no worktree")
    return worktree


def _shown(value: float | None) -> str:
    return "none" if value is None else f"{value + 0.0:g}"  # no "-0"
