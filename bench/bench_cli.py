"""loopctl startup: wall time of whole ``loopctl`` processes, as a user runs them.

A real loopd (scripted agent) holds a workspace with a few finished runs; each command is
run ``--repeat`` times after warm-ups, piped (stdout is not a terminal, so no rich), and
the median and p90 are printed. Budget (issue 4): ``loopctl list`` median <= 120 ms.

Baselines show where the time goes: the bare interpreter, and importing httpx (which
loopctl avoids: its client is ``http.client``).

Prints a table and ends with one JSON line (the README quotes it).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "integration" / "cli"))

from cli_support import cli_env, make_workspace

from integration.loopd import Loopd

BIN = Path(sys.executable).parent
LOOPCTL = str(BIN / "loopctl")
BUDGET_LIST_MS = 120.0


def timed(
    argv: list[str], cwd: Path, env: dict[str, str], repeat: int, warmup: int = 3
) -> list[float]:
    samples = []
    for i in range(warmup + repeat):
        began = time.perf_counter()
        done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, check=False)
        elapsed = (time.perf_counter() - began) * 1000
        if done.returncode != 0:
            raise SystemExit(f"{argv} failed ({done.returncode}): {done.stderr.decode()}")
        if i >= warmup:
            samples.append(elapsed)
    return samples


def p90(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=10)[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--runs", type=int, default=6, help="finished runs in the workspace")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-cli-") as tmp:
        root = Path(tmp)
        daemon = Loopd(root / "data").start()
        try:
            workspace = make_workspace(root, tasks=("a",))
            env = cli_env(daemon.addr)
            for _ in range(args.runs):
                subprocess.run(
                    [LOOPCTL, "run", "specs/demo.md", "--agent", "scripted", "--follow"],
                    cwd=workspace, env=env, capture_output=True, check=True,
                )  # fmt: skip
            listed = json.loads(
                subprocess.run(
                    [LOOPCTL, "--json", "list"], cwd=workspace, env=env, capture_output=True,
                    check=True,
                ).stdout
            )  # fmt: skip
            run_id = listed["data"]["runs"][0]["id"]
            python = sys.executable
            cases = {
                "python -c pass": [python, "-c", "pass"],
                "python -c 'import httpx'": [python, "-c", "import httpx"],
                "loopctl --help": [LOOPCTL, "--help"],
                "loopctl list": [LOOPCTL, "list"],
                "loopctl --json list": [LOOPCTL, "--json", "list"],
                "loopctl inspect <id>": [LOOPCTL, "inspect", run_id[:13]],
            }
            results = {}
            for name, argv in cases.items():
                samples = timed(argv, workspace, {**env, **os.environ, **env}, args.repeat)
                results[name] = (statistics.median(samples), p90(samples))
        finally:
            daemon.stop()

    print(f"{'command':<28} {'median ms':>10} {'p90 ms':>8}")
    for name, (median, high) in results.items():
        print(f"{name:<28} {median:>10.1f} {high:>8.1f}")
    list_ms = results["loopctl list"][0]
    bare = results["python -c pass"][0]
    httpx_ms = results["python -c 'import httpx'"][0] - bare
    verdict = "PASS" if list_ms <= BUDGET_LIST_MS else "FAIL"
    print(
        f"\nloopctl list: {list_ms:.1f} ms median, budget {BUDGET_LIST_MS:.0f} ms: {verdict} "
        f"({list_ms / BUDGET_LIST_MS:.2f} of budget; {list_ms - bare:.1f} ms over a bare "
        f"interpreter; importing httpx alone would add {httpx_ms:.1f} ms)"
    )
    summary = {
        "bench": "cli_startup",
        "repeat": args.repeat,
        "runs_listed": args.runs,
        **{name: round(median, 1) for name, (median, _) in results.items()},
        "list_budget_ms": BUDGET_LIST_MS,
        "list_within_budget": list_ms <= BUDGET_LIST_MS,
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
