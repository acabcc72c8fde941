"""A stateful fuzzer of run control (issue "Robustness", item 1): seeded random walks of
create / pause / resume / cancel / retry / reset / kill -9 / SIGTERM against a real loopd
with stand-in agents, checking the run-lifecycle invariants of SPEC 2, 4, 8 and 10 as it
goes and at the end of every walk.

- :mod:`.sequence`: a seed (and a profile) -> the walk's operations, deterministically.
- :mod:`.observe`: what the fuzzer reads from outside: runs, steps, events, processes, git.
- :mod:`.invariants`: the checks, each with the time a condition may last before it counts.
- :mod:`.walker`: runs walks against a daemon and reports; ``make fuzz`` is its ``main``.

The fast profile is ``test_control_fuzz.py`` (part of ``make test``); the long profile is
``make fuzz`` (``AGENTLOOP_FUZZ_SEQUENCES``, default 1000; ``AGENTLOOP_FUZZ_SEED=N`` replays
one walk).
"""
