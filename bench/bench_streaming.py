"""Live streaming: 50 SSE subscribers on one run whose agent prints 1000 lines/s.

The agent (``agent=command``) is a small Python program that prints ``ready``, waits until
every subscriber has seen that line live, then prints ``t=<epoch ns> i=<n>`` lines on a
fixed 1000/s schedule for 5 s, ticks the plan's one task, commits and answers the token.
Subscribers are plain sockets on ``GET /runs/{id}/output?after=0`` (one thread each) that
only stamp and keep what each ``recv`` returns; the SSE frames are parsed afterwards, so the
client adds almost nothing to what it measures. A line's latency is its receipt by a
subscriber minus the time the agent printed it; every subscriber must get every line
exactly once, in order. Target: p99 <= 50 ms.

Prints a table and ends with one JSON line (the README quotes it).
"""

from __future__ import annotations

import argparse
import bisect
import json
import shlex
import socket
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _support import CpuTimes, emit, machine_load, percentile, status_kb

from integration.loopd import Loopd, make_workspace

TARGET_P99_MS = 50.0

AGENT = """\
import os, subprocess, sys, time
from pathlib import Path
rate, seconds, go = float(sys.argv[1]), float(sys.argv[2]), Path(sys.argv[3])
out = sys.stdout
out.write("ready\\n"); out.flush()
deadline = time.monotonic() + 120
while not go.exists() and time.monotonic() < deadline:
    time.sleep(0.005)
start = time.monotonic()
for i in range(int(rate * seconds)):
    delay = start + i / rate - time.monotonic()
    if delay > 0:
        time.sleep(delay)
    out.write(f"t={time.time_ns()} i={i}\\n"); out.flush()
plan = Path(os.environ["LOOP_PLAN_PATH"])
plan.write_text(plan.read_text().replace("- [ ]", "- [x]", 1))
subprocess.run(["git", "add", "-A"], check=True)
subprocess.run(["git", "-c", "commit.gpgsign=false", "commit", "-qm", "stream", "--no-verify"],
               check=True)
out.write("<promise>COMPLETE</promise>\\n"); out.flush()
"""


@dataclass
class Subscriber:
    """One raw SSE connection: what each recv returned, stamped; parsed after the run."""

    host: str
    port: int
    path: str
    ready: threading.Event = field(default_factory=threading.Event)
    chunks: list[tuple[int, bytes]] = field(default_factory=list)
    error: str | None = None

    def run(self) -> None:
        try:
            with socket.create_connection((self.host, self.port), timeout=120) as sock:
                request = (
                    f"GET {self.path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
                    "Accept: text/event-stream\r\nConnection: close\r\n\r\n"
                )
                sock.sendall(request.encode())
                seen = b""
                buffer = bytearray(65536)
                while True:
                    size = sock.recv_into(buffer)
                    if not size:
                        return
                    data = bytes(buffer[:size])
                    self.chunks.append((time.time_ns(), data))
                    if not self.ready.is_set():
                        seen = seen[-64:] + data
                        if b'"line": "ready"' in seen:
                            self.ready.set()
        except OSError as error:
            self.error = f"{type(error).__name__}: {error}"
            self.ready.set()

    def frames(self) -> list[tuple[int, dict[str, Any]]]:
        """(receive ns, data) of each SSE frame, from the raw bytes (chunked or not)."""
        raw = b"".join(data for _, data in self.chunks)
        ends, stamps, total = [], [], 0
        for stamp, data in self.chunks:
            total += len(data)
            ends.append(total)
            stamps.append(stamp)
        head_end = raw.index(b"\r\n\r\n") + 4
        chunked = b"transfer-encoding: chunked" in raw[:head_end].lower()
        body, body_raw_pos = _dechunk(raw, head_end) if chunked else (raw[head_end:], None)
        frames = []
        start = 0
        while True:
            sep = body.find(b"\r\n\r\n", start)
            if sep < 0:
                break
            frame, last = body[start:sep], sep + 3  # the frame is complete at its last byte
            start = sep + 4
            data = [ln[5:].strip() for ln in frame.split(b"\r\n") if ln.startswith(b"data:")]
            if not data:
                continue  # a keep-alive comment
            raw_pos = head_end + last if body_raw_pos is None else body_raw_pos(last)
            stamp = stamps[bisect.bisect_right(ends, raw_pos)]
            frames.append((stamp, json.loads(b"\n".join(data))))
        return frames


def _dechunk(raw: bytes, pos: int) -> tuple[bytes, Any]:
    """The body of a chunked response, and a map from a body offset to its raw offset."""
    parts, body_starts, raw_starts, size_total = [], [], [], 0
    while pos < len(raw):
        eol = raw.index(b"\r\n", pos)
        size = int(raw[pos:eol].split(b";")[0], 16)
        if size == 0:
            break
        body_starts.append(size_total)
        raw_starts.append(eol + 2)
        parts.append(raw[eol + 2 : eol + 2 + size])
        size_total += size
        pos = eol + 2 + size + 2

    def raw_pos(offset: int) -> int:
        k = bisect.bisect_right(body_starts, offset) - 1
        return raw_starts[k] + offset - body_starts[k]

    return b"".join(parts), raw_pos


def check(
    frames: list[tuple[int, dict[str, Any]]], lines: int, read_ms: list[float] | None = None
) -> tuple[list[float], str | None]:
    """Latencies (ms) of the timed lines, and what is wrong with the stream, if anything.

    ``read_ms`` collects, per timed line, the part of the latency before the daemon read
    the line from the agent (the line's stored ``timestamp``, ms)."""
    seqs = [data["seq"] for _, data in frames]
    if not seqs:
        return [], "no output at all"
    if seqs != list(range(seqs[0], seqs[0] + len(seqs))):
        return [], "output seqs not consecutive (a line lost, repeated or out of order)"
    latencies, numbers = [], []
    for stamp, data in frames:
        line = data["line"]
        if line.startswith("t="):
            sent, number = line[2:].split(" i=")
            latencies.append((stamp - int(sent)) / 1e6)
            if read_ms is not None:
                read_ms.append(data["timestamp"] - int(sent) / 1e6)
            numbers.append(int(number))
    if numbers != list(range(lines)):
        missing = len(set(range(lines)) - set(numbers))
        return latencies, f"got {len(numbers)} timed lines ({missing} missing), wanted {lines}"
    return latencies, None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subscribers", type=int, default=50)
    parser.add_argument("--rate", type=float, default=1000.0, help="agent lines per second")
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    lines = int(args.rate * args.seconds)

    with tempfile.TemporaryDirectory(prefix="bench-stream-") as tmp:
        root = Path(tmp)
        agent, go = root / "agent.py", root / "go"
        agent.write_text(AGENT)
        daemon = Loopd(root / "data").start()
        assert daemon.proc is not None
        pid = daemon.proc.pid
        try:
            workspace = make_workspace(root, tasks=1)
            command = [sys.executable, str(agent), str(args.rate), str(args.seconds), str(go)]
            run = daemon.create_run(
                workspace,
                agent="command",
                agent_cmd=shlex.join(command),
                reviewer=False,
                postmortem=False,
                iterations=2,
            )
            subscribers = [
                Subscriber("127.0.0.1", daemon.port, f"/runs/{run['id']}/output?after=0")
                for _ in range(args.subscribers)
            ]
            threads = [threading.Thread(target=s.run, daemon=True) for s in subscribers]
            for thread in threads:
                thread.start()
            for subscriber in subscribers:
                if not subscriber.ready.wait(120):
                    raise SystemExit("a subscriber never saw the agent's first line")
            errors = [s.error for s in subscribers if s.error]
            if errors:
                raise SystemExit(f"subscribers failed: {errors[:3]}")
            cpu_before = CpuTimes.of(pid)
            go.touch()
            for thread in threads:
                thread.join(args.seconds + 120)
            cpu_after = CpuTimes.of(pid)
            done = daemon.wait_status(run["id"], "COMPLETED", timeout=60)
            peak_rss_mb = status_kb(pid, "VmHWM") / 1024
        finally:
            daemon.stop()

    all_latencies: list[float] = []
    read_ms: list[float] = []
    problems = []
    worst_p99 = 0.0
    for number, subscriber in enumerate(subscribers):
        latencies, problem = check(subscriber.frames(), lines, read_ms if number == 0 else None)
        if problem:
            problems.append(f"subscriber {number}: {problem}")
        all_latencies.extend(latencies)
        if latencies:
            worst_p99 = max(worst_p99, percentile(latencies, 99))
    cpu, _ = cpu_after.percent_since(cpu_before)
    p50, p99 = percentile(all_latencies, 50), percentile(all_latencies, 99)
    lost_free = not problems
    print(
        f"{args.subscribers} subscribers x {lines} lines at {args.rate:.0f}/s "
        f"(run {done['status']}; {machine_load()})"
    )
    print(f"{'agent line -> client':<26}{'ms':>8}")
    for label, value in (
        ("p50", p50),
        ("p90", percentile(all_latencies, 90)),
        ("p99", p99),
        ("max", max(all_latencies, default=float("nan"))),
        ("mean", statistics.fmean(all_latencies) if all_latencies else float("nan")),
        ("worst subscriber's p99", worst_p99),
    ):
        print(f"{label:<26}{value:>8.1f}")
    print(
        f"of which agent -> daemon read (stored line timestamp, ms precision): "
        f"p50 {percentile(read_ms, 50):.1f} ms, p99 {percentile(read_ms, 99):.1f} ms"
    )
    print(f"daemon CPU while streaming: {cpu:.0f}% of one core; peak RSS {peak_rss_mb:.0f} MB")
    exact = "yes" if lost_free else "NO"
    print(f"every line to every subscriber exactly once, in order: {exact}")
    for problem in problems[:5]:
        print(f"  {problem}")
    verdict = "met" if p99 <= TARGET_P99_MS and lost_free else "MISSED"
    print(f"target p99 <= {TARGET_P99_MS:.0f} ms and nothing lost: {verdict}")
    emit(
        {
            "bench": "live_streaming",
            "subscribers": args.subscribers,
            "lines_per_s": args.rate,
            "lines": lines,
            "p50_ms": round(p50, 1),
            "p99_ms": round(p99, 1),
            "max_ms": round(max(all_latencies, default=float("nan")), 1),
            "lost_or_duplicated": len(problems),
            "daemon_cpu_pct": round(cpu),
            "target_p99_ms": TARGET_P99_MS,
            "target_met": verdict == "met",
            "problems": problems[:10],
        }
    )
    return 0 if lost_free else 1


if __name__ == "__main__":
    sys.exit(main())
