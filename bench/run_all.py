"""Run every benchmark in bench/ one after another and quote the results in the README.

Each ``bench_*.py`` prints its own table and ends with one JSON line; this runner collects
those lines into ``bench/results.json`` and rewrites the table between the README's
``<!-- bench:start -->`` and ``<!-- bench:end -->`` markers, with the machine it ran on.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
START, END = "<!-- bench:start -->", "<!-- bench:end -->"


def machine() -> str:
    cpus = os.cpu_count() or 0
    try:
        mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f"{mem_kb / 1024 / 1024:.0f} GiB"
    except (OSError, ValueError, IndexError):
        memory = "? GiB"
    return f"{platform.machine()}, {cpus} cores, {memory}, Python {platform.python_version()}"


def run(script: Path) -> dict[str, object]:
    print(f"\n=== {script.name}", flush=True)
    done = subprocess.run(
        [sys.executable, str(script)], cwd=ROOT, capture_output=True, text=True, check=False
    )
    sys.stdout.write(done.stdout)
    sys.stderr.write(done.stderr[-4000:])
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        return {"bench": script.stem, "error": f"exit {done.returncode}"}
    result: dict[str, object] = json.loads(lines[-1])
    return result


def headline(result: dict[str, object]) -> str:
    skip = {"bench", "results", "runs", "commands"}
    parts = [
        f"{key}={value}"
        for key, value in result.items()
        if key not in skip and not isinstance(value, (list, dict))
    ]
    return ", ".join(parts)


def load() -> str:
    """How busy the machine was: figures from a busy one are noisy (1-minute load average)."""
    return f"load {os.getloadavg()[0]:.2f} when it started"


def quote(results: list[dict[str, object]], busy: str) -> None:
    readme = ROOT / "README.md"
    text = readme.read_text()
    if START not in text or END not in text:
        return
    rows = [
        f"Measured {time.strftime('%Y-%m-%d')} on {machine()}; {busy}.",
        "",
        "| benchmark | figures |",
        "| --- | --- |",
        *(f"| {r.get('bench')} | {headline(r)} |" for r in results),
    ]
    before, rest = text.split(START, 1)
    _, after = rest.split(END, 1)
    readme.write_text(before + START + "\n" + "\n".join(rows) + "\n" + END + after)


def main() -> int:
    scripts = sorted((ROOT / "bench").glob("bench_*.py"))
    busy = load()
    results = [run(script) for script in scripts]
    (ROOT / "bench" / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    quote(results, busy)
    failed = [r for r in results if "error" in r]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
