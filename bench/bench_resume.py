"""What resuming the agent's own session saves (SPEC 18): the tokens and the wall time it
takes to finish an agent step that ``kill -9`` of loopd interrupted, with and without resume.

The real CLIs (claude, codex; ``scripts/install-agent-clis.sh``) against their mock model
servers (``tests/realcli``). The step's work is ``--tool-calls`` shell commands of
``--tool-sec`` each, then the plan's task and the answer. loopd is killed while the command
after ``--done`` finished ones runs, then started again on the same data dir:

- ``resume``: loopd as it is: the step resumes the CLI's session, which holds the finished
  commands' results, and the model goes on from there;
- ``restart``: the step's recorded session is cleared while loopd is down (sqlite), so the
  step starts over as with a CLI that cannot resume: every command again.

Per mode (median of ``--repeat`` runs): the model requests after the restart, the input
tokens they carried (request bytes / 4, system prompt and tool definitions included: what
the model reads; the mocks' own usage figures are synthetic), and the wall time from
starting loopd again to the step's STEP_FINISHED. Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _support import emit, machine_load

from integration.loopd import Loopd, make_workspace
from realcli.anthropic import AnthropicProtocol, claude_env
from realcli.brain import Action, Brain, ShellCall, prompt_kind
from realcli.clis import BIN_DIR
from realcli.openai_responses import ResponsesProtocol, codex_env
from realcli.server import MockServer, Protocol

MODES = ("resume", "restart")
_DONE = "bench-tool-done"


@dataclass
class ToolCallsBrain(Brain):
    """An implementation step of ``calls`` slow shell commands, then the plan's work."""

    calls: int = 6
    seconds: float = 1.0
    finished: int = 0  # the most finished commands a request carried

    def decide(self, prompt: str, tool_results: list[str]) -> Action:
        done = sum(_DONE in result for result in tool_results)
        with self.lock:
            self.finished = max(self.finished, done)
        if prompt_kind(prompt) == "implementation" and done < self.calls:
            # printf keeps the marker out of the command's own text
            return ShellCall(f"sleep {self.seconds:g}; printf 'bench-tool%s' -done-{done + 1}")
        return super().decide(prompt, [r for r in tool_results if "BRAIN|" in r])


def _claude(url: str, home: Path) -> dict[str, str]:
    return {**claude_env(url, home), "AGENTLOOP_CLAUDE_BIN": str(BIN_DIR / "claude")}


AGENTS: dict[str, tuple[Callable[[], Protocol], Callable[[str, Path], dict[str, str]]]] = {
    "claude": (AnthropicProtocol, _claude),
    "codex": (ResponsesProtocol, codex_env),
}


def one_trial(
    daemon: Loopd, server: MockServer, brain: ToolCallsBrain, workspace: Path, agent: str,
    mode: str, done: int,
) -> dict[str, float]:  # fmt: skip
    brain.finished = 0
    run = daemon.create_run(
        workspace, agent=agent, model="opus", reviewer=False, run_naming_mode="spec_slug"
    )
    daemon.wait_for(lambda: brain.finished >= done, timeout=120, what=f"{done} tool calls")
    daemon.kill9()
    if mode == "restart":
        with sqlite3.connect(daemon.data_dir / "loopd.db") as db:
            db.execute("UPDATE loopd_steps SET session_id = NULL WHERE run_id = ?", (run["id"],))
    seen = len(server.model_requests())
    restarted = time.time()
    daemon.start()
    daemon.wait_status(run["id"], "COMPLETED", timeout=300)
    finished = [
        e["timestamp"]
        for e in daemon.stored_events(run["id"])
        if e["event_type"] == "STEP_FINISHED" and e["payload"]["phase"] == "implementation"
    ]
    after = server.model_requests()[seen:]
    return {
        "requests": len(after),
        "tokens_in": sum(len(json.dumps(r.body)) for r in after) / 4,
        "wall_s": finished[0] / 1000 - restarted,
    }


def measure(root: Path, agent: str, args: argparse.Namespace) -> dict[str, dict[str, float]]:
    protocol, env_of = AGENTS[agent]
    brain = ToolCallsBrain(calls=args.tool_calls, seconds=args.tool_sec)
    server = MockServer(protocol(), brain)
    daemon = Loopd(root / f"{agent}-data", env=env_of(server.url, root / f"{agent}-home"))
    daemon.start()
    samples: dict[str, list[dict[str, float]]] = {mode: [] for mode in MODES}
    try:
        for index in range(args.repeat):
            for mode in MODES:
                workspace = make_workspace(root, tasks=1, name=f"{agent}-{mode}-{index}")
                trial = one_trial(daemon, server, brain, workspace, agent, mode, args.done)
                samples[mode].append(trial)
    finally:
        daemon.stop()
        server.close()
    return {
        mode: {key: statistics.median(s[key] for s in trials) for key in trials[0]}
        for mode, trials in samples.items()
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--agents", default="claude,codex")
    parser.add_argument("--tool-calls", type=int, default=6, help="slow commands in the step")
    parser.add_argument("--tool-sec", type=float, default=1.0, help="seconds each runs")
    parser.add_argument("--done", type=int, default=4, help="finished when loopd is killed")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    agents = [a for a in args.agents.split(",") if (BIN_DIR / a).exists()]
    if not agents:
        print(f"no agent CLI in {BIN_DIR}: run scripts/install-agent-clis.sh")
        return 1

    figures: dict[str, dict[str, dict[str, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-resume-") as tmp:
        for agent in agents:
            figures[agent] = measure(Path(tmp), agent, args)

    print(
        f"Finishing a step killed after {args.done} of {args.tool_calls} tool calls of "
        f"{args.tool_sec:g} s, median of {args.repeat} ({machine_load()})"
    )
    print(f"{'':<10}{'mode':<9}{'requests':>10}{'tokens in':>12}{'wall s':>9}")
    summary: dict[str, Any] = {
        "bench": "resume",
        "tool_calls": args.tool_calls,
        "killed_after": args.done,
        "tool_sec": args.tool_sec,
    }
    for agent, modes in figures.items():
        for mode in MODES:
            row = modes[mode]
            print(
                f"{agent:<10}{mode:<9}{row['requests']:>10.0f}{row['tokens_in']:>12.0f}"
                f"{row['wall_s']:>9.2f}"
            )
        resumed, restarted = modes["resume"], modes["restart"]
        summary[f"{agent}_resume_tokens_in"] = round(resumed["tokens_in"])
        summary[f"{agent}_restart_tokens_in"] = round(restarted["tokens_in"])
        summary[f"{agent}_resume_wall_s"] = round(resumed["wall_s"], 2)
        summary[f"{agent}_restart_wall_s"] = round(restarted["wall_s"], 2)
        summary[f"{agent}_tokens_saved_pct"] = round(
            100 * (1 - resumed["tokens_in"] / restarted["tokens_in"]), 1
        )
    summary["results"] = figures
    emit(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
