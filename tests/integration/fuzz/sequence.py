"""A walk of control operations, generated from a seed: the same (seed, profile) gives the
same operations, so a failing walk is replayed with ``AGENTLOOP_FUZZ_SEED=<seed>`` (and
``AGENTLOOP_FUZZ_PROFILE=<profile>``). Timing in the daemon is not replayed: a replay takes
the same steps at the same delays, and races land where they land.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

CONTROLS = ("pause", "resume", "cancel", "retry", "reset")
RESTARTS = ("kill9", "sigterm")
PHASE_ANCHORS = ("implementation", "review", "verification", "merge")

# The merged tree is verified in a temporary worktree under the daemon's data dir: slow only
# there, so the merge step has a window to be interrupted in (see test_crash_in_each_phase).
STANDIN_DELAY = 0.3  # STANDIN_WORK_MODEL=delay=0.3 in the daemon's environment (walker.py)
SLOW_IN_MERGE = 'case "$PWD" in */data-*/tmp/*) sleep 1;; esac'


@dataclass(frozen=True)
class Profile:
    name: str
    tasks: tuple[int, int]
    steps: tuple[int, int]
    max_runs: int
    delays: tuple[float, ...]
    weights: dict[str, int]


PROFILES = {
    # make test: short walks, few restarts (each costs ~3 s of daemon start).
    "fast": Profile(
        name="fast",
        tasks=(1, 2),
        steps=(6, 8),
        max_runs=2,
        delays=(0.1, 0.2),
        weights={
            "create": 8,
            "pause": 16,
            "resume": 14,
            "cancel": 12,
            "retry": 12,
            "reset": 8,
            "kill9": 2,
            "sigterm": 2,
            "wait": 4,
        },
    ),
    "long": Profile(
        name="long",
        tasks=(1, 4),
        steps=(6, 14),
        max_runs=3,
        delays=(0.1, 0.2, 0.3, 0.5),
        weights={
            "create": 8,
            "pause": 15,
            "resume": 14,
            "cancel": 11,
            "retry": 11,
            "reset": 8,
            "kill9": 5,
            "sigterm": 5,
            "wait": 6,
        },
    ),
}


@dataclass(frozen=True)
class RunSpec:
    """The knobs of one run (agent=scripted in-process, or the claude stand-in process)."""

    agent: str
    delay: float
    reviewer: bool
    verify: str | None
    merge_target: str | None
    slow_merge: bool
    postmortem: bool
    iterations: int

    def config(self) -> dict[str, Any]:
        config: dict[str, Any] = {
            "agent": self.agent,
            "run_naming_mode": "spec_slug",
            "reviewer": self.reviewer,
            "postmortem": self.postmortem,
            "iterations": self.iterations,
        }
        # the claude stand-in takes its scripted knobs from STANDIN_WORK_MODEL (the daemon's)
        config["model"] = f"delay={self.delay}" if self.agent == "scripted" else "standin:work"
        verify = [c for c in (self.verify, SLOW_IN_MERGE if self.slow_merge else None) if c]
        if verify:
            config["verify_cmds"] = "|".join(verify)
        if self.merge_target:
            config["merge_target_branch"] = self.merge_target
        return config

    def describe(self) -> str:
        parts = [self.agent, f"delay={self.delay}", f"reviewer={self.reviewer}"]
        if self.verify:
            parts.append(f"verify={self.verify!r}")
        if self.merge_target:
            parts.append(f"merge={self.merge_target}{' (slow)' if self.slow_merge else ''}")
        parts.append(f"iterations={self.iterations}")
        if self.postmortem:
            parts.append("postmortem")
        return " ".join(parts)


@dataclass(frozen=True)
class Op:
    """One step of a walk: wait ``delay_ms`` (after reaching ``anchor`` when given), then
    act on run number ``target``; ``settle`` waits for the target run to settle after."""

    kind: str
    target: int
    delay_ms: int
    anchor: str | None = None
    settle: bool = False
    spec: RunSpec | None = None

    def describe(self) -> str:
        where = f" at {self.anchor}" if self.anchor else ""
        if self.kind == "create":
            what = f"create r{self.target} ({self.spec.describe() if self.spec else ''})"
        elif self.kind in CONTROLS:
            what = f"{self.kind} r{self.target}"
        else:
            what = self.kind
        return f"+{self.delay_ms}ms{where}: {what}{' (settle)' if self.settle else ''}"


@dataclass(frozen=True)
class Sequence:
    seed: int
    profile: str
    tasks: int
    ops: tuple[Op, ...]

    def describe(self) -> list[str]:
        return [f"{i + 1:2d}. {op.describe()}" for i, op in enumerate(self.ops)]


def generate(seed: int, profile_name: str = "long") -> Sequence:
    profile = PROFILES[profile_name]
    rng = random.Random(f"agentloop-fuzz:{profile.name}:{seed}")
    tasks = rng.randint(*profile.tasks)
    specs: list[RunSpec] = [_run_spec(rng, profile, tasks, 0)]
    ops: list[Op] = [Op("create", 0, 0, spec=specs[0])]
    kinds = list(profile.weights)
    weights = [profile.weights[k] for k in kinds]
    for _ in range(rng.randint(*profile.steps)):
        kind = rng.choices(kinds, weights)[0]
        while kind == "create" and len(specs) >= profile.max_runs:
            kind = rng.choices(kinds, weights)[0]
        # a third of the operations come quickly, into whatever the last one started
        delay = rng.randint(0, 150) if rng.random() < 0.33 else rng.randint(0, 700)
        if kind == "create":
            spec = _run_spec(rng, profile, tasks, len(specs))
            ops.append(Op("create", len(specs), delay, spec=spec))
            specs.append(spec)
            continue
        target = rng.randrange(len(specs))
        anchor = _anchor(rng, specs[target]) if kind != "wait" and rng.random() < 0.35 else None
        if anchor is not None:
            delay = rng.randint(0, 120)
        ops.append(Op(kind, target, delay, anchor=anchor, settle=rng.random() < 0.4))
    return Sequence(seed=seed, profile=profile.name, tasks=tasks, ops=tuple(ops))


def _run_spec(rng: random.Random, profile: Profile, tasks: int, index: int) -> RunSpec:
    merge = rng.random() < 0.4
    agent = "claude" if rng.random() < 0.25 else "scripted"
    delay = rng.choice(profile.delays)
    return RunSpec(
        agent=agent,
        delay=STANDIN_DELAY if agent == "claude" else delay,
        reviewer=rng.random() < 0.4,
        verify=rng.choice((None, None, "true", "sleep 0.3")),
        merge_target=f"agent/fuzz-{index}" if merge else None,
        slow_merge=merge and rng.random() < 0.6,
        postmortem=rng.random() < 0.25,
        # sometimes too few iterations (with the reviewer on): a FAILED run worth a retry
        iterations=tasks if rng.random() < 0.25 else 50,
    )


def _anchor(rng: random.Random, spec: RunSpec) -> str:
    choices = ["prepare", "implementation", "implementation"]
    if spec.reviewer:
        choices.append("review")
    if spec.verify:
        choices.append("verification")
    if spec.merge_target:
        choices += ["merge", "merge"]
    return rng.choice(choices)
