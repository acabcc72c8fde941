"""The fast profile of the control fuzzer (issue "Robustness", item 1): fixed seeds, short
walks of create / pause / resume / cancel / retry / reset / kill -9 / SIGTERM against one
real loopd with stand-in agents, every invariant of :mod:`integration.fuzz.invariants`
checked as the walks go and at rest. The long profile is ``make fuzz``.

A failure lists each broken walk: its seed and the command that replays it, the operations
and what the daemon answered, and per violation the run, its steps and events, its
processes and an excerpt of loopd's log. Full reports are written beside the walks.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from integration.fuzz.sequence import generate
from integration.fuzz.walker import Session, WalkResult, run_walk

FAST_SEEDS = tuple(range(1, 9))


@pytest.mark.slow
@pytest.mark.timeout(280)
def test_control_sequences_keep_the_run_invariants(tmp_path: Path) -> None:
    session = Session(tmp_path)
    results: list[WalkResult] = []
    try:
        for seed in FAST_SEEDS:
            result = run_walk(session, generate(seed, "fast"), tmp_path)
            print(result.summary())
            results.append(result)
    finally:
        session.close()
    failed = [r for r in results if not r.ok]
    for result in failed:
        path = tmp_path / f"walk-{result.sequence.profile}-{result.sequence.seed}.txt"
        path.write_text(result.report() + "\n")
    assert not failed, "\n\n".join(
        [f"{len(failed)} of {len(results)} walks broke an invariant (reports in {tmp_path}):"]
        + [r.summary() for r in failed]
        + [r.report() for r in failed]
    )
